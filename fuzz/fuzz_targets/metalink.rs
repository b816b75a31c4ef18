//! Fuzz the metalink reader (repo-fetch, built without its HTTP client): arbitrary bytes
//! must never panic; whatever parses must answer every question a download asks of it.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(metalink) = repo_fetch::Metalink::parse(data) {
        let _ = metalink.file("repomd.xml");
        for file in &metalink.files {
            let _ = file.urls_by_preference();
            let _ = file.has_checks();
            let _ = file.check(data);
            let _ = file.current.strongest_hash();
            for version in &file.alternates {
                let _ = version.strongest_hash();
            }
        }
    }
});
