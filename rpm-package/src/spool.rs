//! Writing a package's payload to a file as a stream: the cpio archive ("new ASCII"
//! format, as rpm writes v4 payloads) through the compressor, with the SHA-256 of the
//! compressed and of the uncompressed bytes computed on the way.
//!
//! Written by hand because the `rpm` crate (0.30) compresses the whole payload into a
//! `Vec<u8>` before writing a package and keeps its cpio writer private; a jigdo RPM's
//! payload (a commit's rpmdb and initramfs) is tens of MB and a builder must not hold it.

use std::fs::File;
use std::io::{self, Read, Write};

use crate::digest::{DigestAlgorithm, HashingWriter};

/// The file the compressed payload is spooled to.
pub(crate) type Spool = io::BufWriter<File>;

/// A compressor writing into a hashed spool.
pub(crate) enum Compressor {
    None(HashingWriter<Spool>),
    Zstd(zstd::stream::Encoder<'static, HashingWriter<Spool>>),
    Xz(liblzma::write::XzEncoder<HashingWriter<Spool>>),
    Gzip(flate2::write::GzEncoder<HashingWriter<Spool>>),
    Bzip2(bzip2::write::BzEncoder<HashingWriter<Spool>>),
}

impl Compressor {
    /// A compressor as the `rpm` crate configures it for `c` (so that a package is the
    /// same whichever writes its payload), writing into `out`.
    pub(crate) fn new(c: rpm::CompressionWithLevel, out: Spool) -> io::Result<Compressor> {
        use rpm::CompressionWithLevel as C;
        let out = HashingWriter::new(out, DigestAlgorithm::Sha256);
        Ok(match c {
            C::None => Compressor::None(out),
            C::Zstd(level) => Compressor::Zstd(zstd::stream::Encoder::new(out, level)?),
            C::Xz(level) => Compressor::Xz(liblzma::write::XzEncoder::new(out, level)),
            C::Gzip(level) => Compressor::Gzip(flate2::write::GzEncoder::new(
                out,
                flate2::Compression::new(level),
            )),
            C::Bzip2(level) => Compressor::Bzip2(bzip2::write::BzEncoder::new(
                out,
                bzip2::Compression::new(level),
            )),
        })
    }

    /// Ends the stream; returns the spool, the hex SHA-256 and the size of what it holds.
    pub(crate) fn finish(self) -> io::Result<(Spool, String, u64)> {
        let hashed = match self {
            Compressor::None(w) => w,
            Compressor::Zstd(e) => e.finish()?,
            Compressor::Xz(e) => e.finish()?,
            Compressor::Gzip(e) => e.finish()?,
            Compressor::Bzip2(e) => e.finish()?,
        };
        let (mut file, sha, len) = hashed.finish();
        file.flush()?;
        Ok((file, sha.hex, len))
    }
}

impl Write for Compressor {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::None(w) => w.write(buf),
            Compressor::Zstd(e) => e.write(buf),
            Compressor::Xz(e) => e.write(buf),
            Compressor::Gzip(e) => e.write(buf),
            Compressor::Bzip2(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressor::None(w) => w.flush(),
            Compressor::Zstd(e) => e.flush(),
            Compressor::Xz(e) => e.flush(),
            Compressor::Gzip(e) => e.flush(),
            Compressor::Bzip2(e) => e.flush(),
        }
    }
}

/// One cpio entry's fields (besides its name and size).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CpioFields {
    pub ino: u32,
    pub mode: u32,
    pub nlink: u32,
    pub mtime: u32,
    pub rdev_major: u32,
    pub rdev_minor: u32,
}

/// The magic of the "new ASCII" cpio format.
const NEWC_MAGIC: &[u8] = b"070701";
/// The name of the entry that ends a cpio archive.
const TRAILER: &str = "TRAILER!!!";

/// Writes one "new ASCII" cpio entry: the header and name (padded to 4 bytes), then
/// `size` bytes from `content` (an error if it holds fewer or more), padded to 4 bytes.
/// Returns the SHA-256 of the content (hex).
pub(crate) fn write_entry(
    w: &mut impl Write,
    name: &str,
    fields: CpioFields,
    size: u32,
    content: &mut impl Read,
) -> io::Result<String> {
    let name_len = name.len() + 1;
    let mut header = Vec::with_capacity(110 + name_len + 3);
    header.extend_from_slice(NEWC_MAGIC);
    for v in [
        fields.ino,
        fields.mode,
        0, // uid
        0, // gid
        fields.nlink,
        fields.mtime,
        size,
        0, // dev major
        0, // dev minor
        fields.rdev_major,
        fields.rdev_minor,
        name_len as u32,
        0, // check
    ] {
        header.extend_from_slice(format!("{v:08x}").as_bytes());
    }
    header.extend_from_slice(name.as_bytes());
    header.push(0);
    header.resize(header.len().next_multiple_of(4), 0);
    w.write_all(&header)?;
    let mut hashing = HashingWriter::new(&mut *w, DigestAlgorithm::Sha256);
    let copied = io::copy(&mut content.take(u64::from(size)), &mut hashing)?;
    let (_, sha, _) = hashing.finish();
    let sha = sha.hex;
    let mut probe = [0u8; 1];
    if copied != u64::from(size) || content.read(&mut probe)? != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{name}: the content changed size while the package was written"),
        ));
    }
    let pad = (size as usize).next_multiple_of(4) - size as usize;
    w.write_all(&[0u8; 3][..pad])?;
    Ok(sha)
}

/// Writes the entry that ends the archive.
pub(crate) fn write_trailer(w: &mut impl Write) -> io::Result<()> {
    let fields = CpioFields {
        nlink: 1,
        ..CpioFields::default()
    };
    write_entry(w, TRAILER, fields, 0, &mut io::empty()).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_padded_and_checked_against_its_size() {
        let mut out = Vec::new();
        let fields = CpioFields {
            ino: 1,
            mode: 0o100644,
            nlink: 1,
            ..CpioFields::default()
        };
        let sha = write_entry(&mut out, "./a", fields, 5, &mut &b"hello"[..]).unwrap();
        assert_eq!(
            sha,
            crate::digest::Checksum::of(DigestAlgorithm::Sha256, b"hello").hex
        );
        // 110 header bytes + "./a\0" = 114, padded to 116; 5 content bytes padded to 8.
        assert_eq!(out.len(), 116 + 8);
        assert_eq!(&out[..6], b"070701");
        assert_eq!(&out[110..114], b"./a\0");
        assert!(write_entry(&mut Vec::new(), "./a", fields, 6, &mut &b"hello"[..]).is_err());
        assert!(write_entry(&mut Vec::new(), "./a", fields, 4, &mut &b"hello"[..]).is_err());
    }
}
