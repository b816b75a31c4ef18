//! Fuzz the dnf `.repo` file and mirrorlist readers (repo-fetch, built without its HTTP
//! client): arbitrary text must never panic.
#![no_main]

use std::path::Path;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let vars = repo_fetch::Vars::new()
        .with("basearch", "x86_64")
        .with("releasever", "40");
    if let Ok(repos) = repo_fetch::parse_repo_text(text, Path::new("fuzz.repo"), &vars) {
        for repo in &repos {
            let _ = repo.base_mirrors();
        }
    }
    let _ = repo_fetch::parse_mirrorlist(text);
});
