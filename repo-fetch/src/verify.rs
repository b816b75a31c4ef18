//! Expected size and checksum of a download, and checking what arrived: as it streams
//! past ([`StreamCheck`], so a download is hashed once, while it is written), or a file
//! already on disk ([`Expect::check_file`]). Every whole-file check is logged at debug
//! level (`file hashed`), so that a run can be checked to hash each file once.

use std::io::Read;
use std::path::Path;

use rpm_package::digest::{Checksum, DigestAlgorithm, Hasher};

use crate::error::{AttemptError, FetchError};

/// What a download must turn out to be. Files are only renamed into place
/// when they match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expect {
    /// Expected size in bytes, if known.
    pub size: Option<u64>,
    /// Expected checksum, if known.
    pub checksum: Option<Checksum>,
}

impl Expect {
    /// No expectation (accept whatever arrives; only for unverifiable metadata).
    pub fn none() -> Expect {
        Expect::default()
    }

    /// Size and SHA-256 hex, the usual pin of a package.
    pub fn sha256(size: u64, hex: &str) -> Result<Expect, FetchError> {
        Ok(Expect {
            size: Some(size),
            checksum: Some(Checksum::new(DigestAlgorithm::Sha256, hex)?),
        })
    }

    /// Checks bytes held in memory.
    pub fn check_bytes(&self, data: &[u8]) -> Result<(), AttemptError> {
        let mut check = StreamCheck::new(self);
        check.update(data);
        check.finish()
    }

    /// Checks a file on disk (size first, then streaming hash).
    pub fn check_file(&self, path: &Path) -> Result<(), FileCheckError> {
        let mut f = std::fs::File::open(path).map_err(FileCheckError::Io)?;
        let len = f.metadata().map_err(FileCheckError::Io)?.len();
        if let Some(size) = self.size {
            if len != size {
                return Err(FileCheckError::Mismatch(AttemptError::SizeMismatch {
                    expected: size,
                    got: len,
                }));
            }
        }
        let mut check = StreamCheck::new(self);
        check.update_from(&mut f).map_err(FileCheckError::Io)?;
        if self.checksum.is_some() {
            tracing::debug!(path = %path.display(), "file hashed");
        }
        check.finish().map_err(FileCheckError::Mismatch)
    }
}

/// Why [`Expect::check_file`] failed.
#[derive(Debug)]
pub enum FileCheckError {
    /// The file could not be read.
    Io(std::io::Error),
    /// The file is not what was expected.
    Mismatch(AttemptError),
}

/// Checks a body against an [`Expect`] as it streams past: its length and (when a
/// checksum is expected) its digest.
pub(crate) struct StreamCheck {
    expect: Expect,
    hasher: Option<Hasher>,
    len: u64,
}

impl StreamCheck {
    pub(crate) fn new(expect: &Expect) -> StreamCheck {
        StreamCheck {
            expect: expect.clone(),
            hasher: expect.checksum.as_ref().map(|c| c.kind.hasher()),
            len: 0,
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        if let Some(h) = &mut self.hasher {
            h.update(data);
        }
        self.len += data.len() as u64;
    }

    /// Feeds everything `r` yields.
    pub(crate) fn update_from(&mut self, r: &mut dyn Read) -> std::io::Result<()> {
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => self.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether what passed has the expected size and checksum.
    pub(crate) fn finish(self) -> Result<(), AttemptError> {
        if let Some(size) = self.expect.size {
            if self.len != size {
                return Err(AttemptError::SizeMismatch {
                    expected: size,
                    got: self.len,
                });
            }
        }
        match (self.expect.checksum, self.hasher) {
            (Some(sum), Some(h)) => {
                let got = h.finish_checksum();
                if got.hex == sum.hex {
                    Ok(())
                } else {
                    Err(AttemptError::Checksum {
                        kind: sum.kind,
                        expected: sum.hex,
                        got: got.hex,
                        from_metalink: false,
                    })
                }
            }
            _ => Ok(()),
        }
    }
}

/// Hex digest of `data` with `kind`.
pub fn hash_hex(kind: DigestAlgorithm, data: &[u8]) -> String {
    Checksum::of(kind, data).hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            hash_hex(DigestAlgorithm::Sha256, b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hash_hex(DigestAlgorithm::Md5, b"abc"),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            hash_hex(DigestAlgorithm::Sha1, b"abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert!(hash_hex(DigestAlgorithm::Sha512, b"abc").starts_with("ddaf35a193617aba"));
    }

    #[test]
    fn expect_checks_size_and_hash() {
        let e = Expect::sha256(
            3,
            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
        )
        .unwrap();
        assert!(e.check_bytes(b"abc").is_ok());
        assert!(matches!(
            e.check_bytes(b"abd"),
            Err(AttemptError::Checksum { .. })
        ));
        assert!(matches!(
            e.check_bytes(b"abcd"),
            Err(AttemptError::SizeMismatch {
                expected: 3,
                got: 4
            })
        ));
        assert!(Checksum::new(DigestAlgorithm::Sha256, "xyz").is_err());
        assert!(Checksum::new(DigestAlgorithm::Md5, &"0".repeat(64)).is_err());
    }
}
