//! Fuzz the jigdo index decoder (jigdo-format): arbitrary bytes must never panic, hang or
//! allocate without bound; whatever decodes must walk and re-encode.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(index) = jigdo_format::Index::decode(data) {
        let mut files = 0usize;
        index.for_each_file(|_, _| files += 1);
        assert_eq!(files, index.file_count());
        let _ = index.encode();
    }
});
