//! Fuzz the metalink reader (repo-fetch, built without its HTTP client): arbitrary bytes
//! must never panic; whatever parses must answer every question a download asks of it.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(metalink) = repo_fetch::Metalink::parse(data) {
        let _ = metalink.urls_by_preference();
        let _ = metalink.strongest_hash();
        let _ = metalink.has_checks();
        let _ = metalink.check(data);
        let _ = metalink.file("repomd.xml");
    }
});
