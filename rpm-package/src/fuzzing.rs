//! Entry point shared by the cargo-fuzz target (`fuzz/`) and the mutation test: parse a
//! header and stream the whole payload from arbitrary bytes. Must never panic, whatever
//! the input; errors are expected and ignored.

use std::io::Read;

/// Parse `data` as an RPM file: header, digests, every payload entry.
pub fn parse_and_stream(data: &[u8]) {
    let mut cursor = data;
    let Ok(h) = crate::PackageHeader::read(&mut cursor, "fuzz-input") else {
        return;
    };
    let _ = h.nevra();
    let _ = h.hardlink_sets();
    let _ = crate::verify::verify_digests_of(&h, &mut { cursor });
    let Ok(mut r) = crate::PayloadReader::new(h, cursor) else {
        return;
    };
    let mut buf = [0u8; 8192];
    // bounded: every entry consumes input or fails, and output is bounded by the header
    while let Ok(Some(mut e)) = r.next_entry() {
        while let Ok(n) = e.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    }
}
