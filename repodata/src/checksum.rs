//! Hashing while reading or writing: every byte is hashed and counted as it
//! passes, so a file is read once.

use crate::model::{Checksum, ChecksumType};
use rpm_package::digest::Hasher;
use std::io::{self, BufRead, Read, Write};

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
    pub fn new(inner: W, kind: ChecksumType) -> Self {
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
        let mut h = ChecksumType::Sha1.hasher();
        h.update(b"abc");
        assert_eq!(
            h.finish_checksum().hex,
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }
}
