//! Fuzz the streaming rpm-md readers (repodata): primary.xml, filelists.xml and other.xml,
//! chosen by the first byte. Arbitrary bytes must never panic or hang.
#![no_main]

use std::path::Path;

use repodata::{ExtraKind, ExtraReader, PrimaryReader};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&which, xml)) = data.split_first() else {
        return;
    };
    let path = Path::new("fuzz/metadata.xml");
    match which % 3 {
        0 => {
            if let Ok(reader) = PrimaryReader::new(xml, path) {
                for package in reader {
                    if package.is_err() {
                        break;
                    }
                }
            }
        }
        kind => {
            let kind = if kind == 1 {
                ExtraKind::Filelists
            } else {
                ExtraKind::Other
            };
            if let Ok(reader) = ExtraReader::new(xml, path, kind) {
                for entry in reader {
                    if entry.is_err() {
                        break;
                    }
                }
            }
        }
    }
});
