//! Fuzz the repomd.xml reader (repodata): arbitrary bytes must never panic; whatever parses
//! must write back out.
#![no_main]

use std::path::Path;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(repomd) = repodata::Repomd::parse(data, Path::new("fuzz/repomd.xml")) {
        let _ = repomd.record("primary");
        let mut out = Vec::new();
        let _ = repomd.write(&mut out);
    }
});
