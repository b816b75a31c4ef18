//! Expected size and checksum of a download, and hashing of what arrived.

use std::fmt;
use std::io::Read;
use std::path::Path;

use digest::Digest;

use super::error::{AttemptError, FetchError};

/// A checksum algorithm used by rpm-md repositories and metalinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashKind {
    /// MD5 (metalinks only; weak).
    Md5,
    /// SHA-1 (old repositories call it "sha").
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl HashKind {
    /// Parses the names used in repomd.xml, primary.xml and metalinks.
    pub fn parse(name: &str) -> Option<HashKind> {
        match name.to_ascii_lowercase().as_str() {
            "md5" => Some(HashKind::Md5),
            "sha" | "sha1" | "sha-1" => Some(HashKind::Sha1),
            "sha256" | "sha-256" => Some(HashKind::Sha256),
            "sha512" | "sha-512" => Some(HashKind::Sha512),
            _ => None,
        }
    }

    /// The canonical lower-case name ("sha256").
    pub fn name(self) -> &'static str {
        match self {
            HashKind::Md5 => "md5",
            HashKind::Sha1 => "sha1",
            HashKind::Sha256 => "sha256",
            HashKind::Sha512 => "sha512",
        }
    }

    /// Length of the hex digest.
    pub fn hex_len(self) -> usize {
        match self {
            HashKind::Md5 => 32,
            HashKind::Sha1 => 40,
            HashKind::Sha256 => 64,
            HashKind::Sha512 => 128,
        }
    }
}

impl fmt::Display for HashKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A checksum of a given kind, as lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checksum {
    kind: HashKind,
    hex: String,
}

impl Checksum {
    /// Builds a checksum, checking that `hex` is hex of the right length.
    pub fn new(kind: HashKind, hex: &str) -> Result<Checksum, FetchError> {
        let hex = hex.trim().to_ascii_lowercase();
        if hex.len() != kind.hex_len() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(FetchError::BadPath {
                path: hex,
                reason: format!("not a {kind} hex digest"),
            });
        }
        Ok(Checksum { kind, hex })
    }

    /// A SHA-256 checksum from its 32 bytes.
    pub fn from_sha256(digest: [u8; 32]) -> Checksum {
        Checksum {
            kind: HashKind::Sha256,
            hex: hex::encode(digest),
        }
    }

    /// A SHA-256 checksum from hex.
    pub fn sha256(hex: &str) -> Result<Checksum, FetchError> {
        Checksum::new(HashKind::Sha256, hex)
    }

    /// The algorithm.
    pub fn kind(&self) -> HashKind {
        self.kind
    }

    /// The lower-case hex digest.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.hex)
    }
}

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
            checksum: Some(Checksum::sha256(hex)?),
        })
    }

    /// Checks bytes held in memory.
    pub fn check_bytes(&self, data: &[u8]) -> Result<(), AttemptError> {
        if let Some(size) = self.size {
            if data.len() as u64 != size {
                return Err(AttemptError::SizeMismatch {
                    expected: size,
                    got: data.len() as u64,
                });
            }
        }
        if let Some(sum) = &self.checksum {
            let mut h = Hasher::new(sum.kind);
            h.update(data);
            compare(sum, h.finish_hex())?;
        }
        Ok(())
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
        if let Some(sum) = &self.checksum {
            let mut h = Hasher::new(sum.kind);
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = f.read(&mut buf).map_err(FileCheckError::Io)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            compare(sum, h.finish_hex()).map_err(FileCheckError::Mismatch)?;
        }
        Ok(())
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

fn compare(sum: &Checksum, got: String) -> Result<(), AttemptError> {
    if got == sum.hex {
        Ok(())
    } else {
        Err(AttemptError::Checksum {
            kind: sum.kind.name().to_string(),
            expected: sum.hex.clone(),
            got,
        })
    }
}

/// An incremental hasher for any [`HashKind`].
pub(crate) enum Hasher {
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub(crate) fn new(kind: HashKind) -> Hasher {
        match kind {
            HashKind::Md5 => Hasher::Md5(md5::Md5::new()),
            HashKind::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            HashKind::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            HashKind::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    pub(crate) fn finish_hex(self) -> String {
        match self {
            Hasher::Md5(h) => hex::encode(h.finalize()),
            Hasher::Sha1(h) => hex::encode(h.finalize()),
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
        }
    }
}

/// Hex digest of `data` with `kind`.
pub fn hash_hex(kind: HashKind, data: &[u8]) -> String {
    let mut h = Hasher::new(kind);
    h.update(data);
    h.finish_hex()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            hash_hex(HashKind::Sha256, b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hash_hex(HashKind::Md5, b"abc"),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            hash_hex(HashKind::Sha1, b"abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert!(hash_hex(HashKind::Sha512, b"abc").starts_with("ddaf35a193617aba"));
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
        assert!(Checksum::sha256("xyz").is_err());
        assert!(Checksum::new(HashKind::Md5, &"0".repeat(64)).is_err());
    }
}
