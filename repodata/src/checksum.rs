//! Hashing while reading or writing: every byte is hashed and counted as it
//! passes, so a file is read once.

use crate::model::{Checksum, ChecksumType};
use digest::DynDigest;
use std::io::{self, BufRead, Read, Write};

/// An incremental hasher for any [`ChecksumType`].
pub struct Hasher {
    kind: ChecksumType,
    inner: Box<dyn DynDigest + Send>,
}

impl Hasher {
    /// A new hasher.
    pub fn new(kind: ChecksumType) -> Self {
        let inner: Box<dyn DynDigest + Send> = match kind {
            ChecksumType::Md5 => Box::new(md5::Md5::default()),
            ChecksumType::Sha1 => Box::new(sha1::Sha1::default()),
            ChecksumType::Sha224 => Box::new(sha2::Sha224::default()),
            ChecksumType::Sha256 => Box::new(sha2::Sha256::default()),
            ChecksumType::Sha384 => Box::new(sha2::Sha384::default()),
            ChecksumType::Sha512 => Box::new(sha2::Sha512::default()),
        };
        Hasher { kind, inner }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    /// The final checksum.
    pub fn finish(self) -> Checksum {
        Checksum {
            kind: self.kind,
            hex: hex::encode(self.inner.finalize()),
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
    pub fn new(inner: R, kind: ChecksumType) -> Self {
        HashingReader {
            inner,
            hasher: Hasher::new(kind),
            count: 0,
        }
    }

    /// Checksum and byte count of what was read.
    pub fn finish(self) -> (Checksum, u64) {
        (self.hasher.finish(), self.count)
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
    pub fn new(inner: W, kind: ChecksumType) -> Self {
        HashingWriter {
            inner,
            hasher: Hasher::new(kind),
            count: 0,
        }
    }

    /// Inner writer, checksum and byte count.
    pub fn finish(self) -> (W, Checksum, u64) {
        (self.inner, self.hasher.finish(), self.count)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        let mut r = HashingReader::new(&b"abc"[..], ChecksumType::Sha256);
        let mut s = Vec::new();
        r.read_to_end(&mut s).unwrap();
        let (c, n) = r.finish();
        assert_eq!(n, 3);
        assert_eq!(
            c.hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut h = Hasher::new(ChecksumType::Sha1);
        h.update(b"abc");
        assert_eq!(h.finish().hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    }
}
