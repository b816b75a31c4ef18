//! Digest algorithms and checksums: the one definition for the workspace — rpm's file,
//! header and payload digests, rpm-md's `checksum type`s (repodata), metalink hashes and
//! download verification (repo-fetch) all use [`DigestAlgorithm`], [`Hasher`] and
//! [`Checksum`]; [`HashingReader`] and [`HashingWriter`] hash and count bytes as they pass
//! (a package's payload as it is written, repodata files as they are read or written), so
//! that a file is read once.

use std::io::{self, BufRead, Read, Write};

use digest::Digest;

/// A digest algorithm, numbered as rpm numbers them (OpenPGP hash algorithm ids).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum DigestAlgorithm {
    /// MD5 (id 1; rpm's default for file digests when FILEDIGESTALGO is absent).
    Md5,
    /// SHA-1 (id 2).
    Sha1,
    /// SHA-224 (id 11).
    Sha224,
    /// SHA-256 (id 8).
    Sha256,
    /// SHA-384 (id 9).
    Sha384,
    /// SHA-512 (id 10).
    Sha512,
    /// SHA3-256 (id 12).
    Sha3_256,
}

impl DigestAlgorithm {
    /// The algorithm for rpm's numeric id, if known.
    pub fn from_rpm_id(id: u64) -> Option<Self> {
        Some(match id {
            1 => Self::Md5,
            2 => Self::Sha1,
            8 => Self::Sha256,
            9 => Self::Sha384,
            10 => Self::Sha512,
            11 => Self::Sha224,
            12 => Self::Sha3_256,
            _ => return None,
        })
    }

    /// rpm's numeric id.
    pub fn rpm_id(self) -> u32 {
        match self {
            Self::Md5 => 1,
            Self::Sha1 => 2,
            Self::Sha256 => 8,
            Self::Sha384 => 9,
            Self::Sha512 => 10,
            Self::Sha224 => 11,
            Self::Sha3_256 => 12,
        }
    }

    /// Parses the names rpm-md, metalinks and rpm use, in any case: `md5`, `sha` and
    /// `sha1` (SHA-1), `sha224`, `sha256`, `sha384`, `sha512` (also with a dash:
    /// `sha-256`), `sha3-256`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "md5" => Self::Md5,
            "sha" | "sha1" | "sha-1" => Self::Sha1,
            "sha224" | "sha-224" => Self::Sha224,
            "sha256" | "sha-256" => Self::Sha256,
            "sha384" | "sha-384" => Self::Sha384,
            "sha512" | "sha-512" => Self::Sha512,
            "sha3-256" => Self::Sha3_256,
            _ => return None,
        })
    }

    /// Name as used in rpm-md (`sha256`, `md5`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha224 => "sha224",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
            Self::Sha3_256 => "sha3-256",
        }
    }

    /// Digest length in bytes.
    pub fn len(self) -> usize {
        match self {
            Self::Md5 => 16,
            Self::Sha1 => 20,
            Self::Sha224 => 28,
            Self::Sha256 | Self::Sha3_256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// Always false (present for clippy's `len_without_is_empty`).
    pub fn is_empty(self) -> bool {
        false
    }

    /// A fresh incremental hasher.
    pub fn hasher(self) -> Hasher {
        match self {
            Self::Md5 => Hasher::Md5(md5::Md5::new()),
            Self::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            Self::Sha224 => Hasher::Sha224(sha2::Sha224::new()),
            Self::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Self::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            Self::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
            Self::Sha3_256 => Hasher::Sha3_256(sha3::Sha3_256::new()),
        }
    }
}

impl std::fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A digest of a given algorithm as lowercase hex, as rpm-md, metalinks and rpm write
/// one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Checksum {
    /// Algorithm.
    pub kind: DigestAlgorithm,
    /// Lowercase hex digest.
    pub hex: String,
}

/// Text that is not a hex digest of the algorithm it is given for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{hex:?} is not a {kind} hex digest")]
pub struct BadDigest {
    /// The algorithm.
    pub kind: DigestAlgorithm,
    /// The text.
    pub hex: String,
}

impl Checksum {
    /// `hex` (any case, surrounding blanks ignored) checked to be a digest of `kind`.
    pub fn new(kind: DigestAlgorithm, hex: &str) -> Result<Checksum, BadDigest> {
        let hex = hex.trim().to_ascii_lowercase();
        if hex.len() != 2 * kind.len() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BadDigest { kind, hex });
        }
        Ok(Checksum { kind, hex })
    }

    /// The SHA-256 checksum with these 32 bytes.
    pub fn sha256(digest: [u8; 32]) -> Checksum {
        Checksum {
            kind: DigestAlgorithm::Sha256,
            hex: hex::encode(digest),
        }
    }

    /// The checksum of `data`.
    pub fn of(kind: DigestAlgorithm, data: &[u8]) -> Checksum {
        let mut h = kind.hasher();
        h.update(data);
        h.finish_checksum()
    }
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind, self.hex)
    }
}

/// An incremental hasher for one [`DigestAlgorithm`].
#[derive(Clone)]
#[allow(missing_docs)]
pub enum Hasher {
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
    Sha3_256(sha3::Sha3_256),
}

impl Hasher {
    /// Feed bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha224(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
            Hasher::Sha3_256(h) => h.update(data),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> DigestAlgorithm {
        match self {
            Hasher::Md5(_) => DigestAlgorithm::Md5,
            Hasher::Sha1(_) => DigestAlgorithm::Sha1,
            Hasher::Sha224(_) => DigestAlgorithm::Sha224,
            Hasher::Sha256(_) => DigestAlgorithm::Sha256,
            Hasher::Sha384(_) => DigestAlgorithm::Sha384,
            Hasher::Sha512(_) => DigestAlgorithm::Sha512,
            Hasher::Sha3_256(_) => DigestAlgorithm::Sha3_256,
        }
    }

    /// Finish and return the [`Checksum`].
    pub fn finish_checksum(self) -> Checksum {
        Checksum {
            kind: self.algorithm(),
            hex: hex::encode(self.finish()),
        }
    }

    /// Finish and return the digest bytes.
    pub fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Md5(h) => h.finalize().to_vec(),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha224(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
            Hasher::Sha3_256(h) => h.finalize().to_vec(),
        }
    }
}

/// A reader that hashes and counts what is read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    count: u64,
}

impl<R> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R, kind: DigestAlgorithm) -> Self {
        HashingReader {
            inner,
            hasher: kind.hasher(),
            count: 0,
        }
    }

    /// Checksum and byte count of what was read.
    pub fn finish(self) -> (Checksum, u64) {
        (self.hasher.finish_checksum(), self.count)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for HashingReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            let n = amt.min(buf.len());
            self.hasher.update(&buf[..n]);
        }
        self.count += amt as u64;
        self.inner.consume(amt);
    }
}

/// A writer that hashes and counts what is written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
    count: u64,
}

impl<W> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W, kind: DigestAlgorithm) -> Self {
        HashingWriter {
            inner,
            hasher: kind.hasher(),
            count: 0,
        }
    }

    /// Inner writer, checksum and byte count.
    pub fn finish(self) -> (W, Checksum, u64) {
        (self.inner, self.hasher.finish_checksum(), self.count)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
