//! Compression formats of rpm-md files: detection, decoding readers and
//! encoding writers.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

/// A compression format of a metadata file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Compression {
    /// Not compressed.
    None,
    /// gzip (`.gz`).
    Gz,
    /// xz (`.xz`).
    Xz,
    /// zstd (`.zst`).
    Zstd,
    /// bzip2 (`.bz2`).
    Bz2,
}

impl Compression {
    /// The file name suffix (with dot; empty for none).
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gz => ".gz",
            Compression::Xz => ".xz",
            Compression::Zstd => ".zst",
            Compression::Bz2 => ".bz2",
        }
    }

    /// Parses a user-facing name (`zstd`, `zst`, `gz`, `gzip`, `xz`, `bz2`, `none`).
    pub fn from_name(s: &str) -> Option<Compression> {
        Some(match s {
            "zstd" | "zst" => Compression::Zstd,
            "gz" | "gzip" => Compression::Gz,
            "xz" => Compression::Xz,
            "bz2" | "bzip2" => Compression::Bz2,
            "none" | "plain" => Compression::None,
            _ => return None,
        })
    }

    /// Guesses from the file name suffix.
    pub fn from_path(path: &Path) -> Compression {
        match path.extension().and_then(|e| e.to_str()) {
            Some("gz") => Compression::Gz,
            Some("xz") => Compression::Xz,
            Some("zst") | Some("zstd") => Compression::Zstd,
            Some("bz2") => Compression::Bz2,
            _ => Compression::None,
        }
    }

    /// Detects the format from the first bytes (magic numbers), if known.
    pub fn from_magic(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gz)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Compression::Xz)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if head.starts_with(b"BZh") {
            Some(Compression::Bz2)
        } else {
            None
        }
    }
}

/// Most bytes a metadata file may decompress to (primary.xml of a large distribution is
/// well under 1 GiB): past it, reading fails rather than running on for ever.
pub const MAX_DECOMPRESSED: u64 = 4 << 30;

/// Wraps `inner` in a decoder chosen by its magic bytes (plain if none matches), which
/// fails past [`MAX_DECOMPRESSED`] bytes.
pub fn decoder<'a, R: Read + 'a>(inner: R) -> io::Result<Box<dyn BufRead + 'a>> {
    decoder_limited(inner, MAX_DECOMPRESSED)
}

/// Like [`decoder`], failing once the output exceeds `limit` bytes.
pub fn decoder_limited<'a, R: Read + 'a>(
    inner: R,
    limit: u64,
) -> io::Result<Box<dyn BufRead + 'a>> {
    let mut inner = BufReader::with_capacity(64 * 1024, inner);
    let head = inner.fill_buf()?;
    let comp = Compression::from_magic(head).unwrap_or(Compression::None);
    let decoded = decoder_for(inner, comp)?;
    Ok(Box::new(BufReader::with_capacity(
        64 * 1024,
        Capped {
            inner: decoded,
            left: limit,
            limit,
        },
    )))
}

/// A reader that fails once more than `limit` bytes came through.
struct Capped<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // One byte past the limit is asked for, so an overrun is seen.
        let want = buf
            .len()
            .min(usize::try_from(self.left.saturating_add(1)).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("decompresses to more than {} bytes", self.limit),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Wraps `inner` in a decoder for `comp`. xz takes at most
/// [`rpm_package::MAX_DECODER_MEMORY`], zstd windows up to
/// 2^[`rpm_package::ZSTD_WINDOW_LOG_MAX`] bytes.
pub fn decoder_for<'a, R: BufRead + 'a>(
    inner: R,
    comp: Compression,
) -> io::Result<Box<dyn BufRead + 'a>> {
    const CAP: usize = 64 * 1024;
    Ok(match comp {
        Compression::None => Box::new(inner),
        Compression::Gz => Box::new(BufReader::with_capacity(
            CAP,
            flate2::bufread::MultiGzDecoder::new(inner),
        )),
        Compression::Xz => {
            let stream = liblzma::stream::Stream::new_stream_decoder(
                rpm_package::MAX_DECODER_MEMORY,
                liblzma::stream::CONCATENATED,
            )
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            Box::new(BufReader::with_capacity(
                CAP,
                liblzma::bufread::XzDecoder::new_stream(inner, stream),
            ))
        }
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::with_buffer(inner)?;
            d.window_log_max(rpm_package::ZSTD_WINDOW_LOG_MAX)?;
            Box::new(BufReader::with_capacity(CAP, d))
        }
        Compression::Bz2 => Box::new(BufReader::with_capacity(
            CAP,
            bzip2::bufread::MultiBzDecoder::new(inner),
        )),
    })
}

/// An encoder writing compressed data into `W`; call [`Encoder::finish`].
pub enum Encoder<W: Write> {
    /// Plain.
    None(W),
    /// gzip.
    Gz(flate2::write::GzEncoder<W>),
    /// xz.
    Xz(liblzma::write::XzEncoder<W>),
    /// zstd, streaming (once more than [`ZSTD_ONE_SHOT_MAX`] bytes came).
    Zstd(zstd::stream::write::Encoder<'static, W>),
    /// zstd, while the content is still held: it is compressed in one call when
    /// finished, with its size known.
    ZstdHeld(Option<W>, Vec<u8>),
    /// bzip2.
    Bz2(bzip2::write::BzEncoder<W>),
}

impl<W: Write> Encoder<W> {
    /// Starts an encoder for `comp` at a sensible level for metadata.
    pub fn new(inner: W, comp: Compression) -> io::Result<Self> {
        Ok(match comp {
            Compression::None => Encoder::None(inner),
            Compression::Gz => Encoder::Gz(flate2::write::GzEncoder::new(
                inner,
                flate2::Compression::new(6),
            )),
            Compression::Xz => Encoder::Xz(liblzma::write::XzEncoder::new(inner, 6)),
            Compression::Zstd => Encoder::ZstdHeld(Some(inner), Vec::new()),
            Compression::Bz2 => Encoder::Bz2(bzip2::write::BzEncoder::new(
                inner,
                bzip2::Compression::best(),
            )),
        })
    }

    /// Finishes the stream and returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Encoder::None(w) => Ok(w),
            Encoder::Gz(e) => e.finish(),
            Encoder::Xz(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
            Encoder::ZstdHeld(w, held) => {
                let mut w =
                    w.ok_or_else(|| io::Error::other("zstd encoder used after a failure"))?;
                let mut c = zstd::bulk::Compressor::new(ZSTD_LEVEL)?;
                c.set_parameter(zstd::zstd_safe::CParameter::HashLog(
                    ZSTD_ONE_SHOT_TABLE_LOG,
                ))?;
                c.set_parameter(zstd::zstd_safe::CParameter::ChainLog(
                    ZSTD_ONE_SHOT_TABLE_LOG,
                ))?;
                let frame = c.compress(&held)?;
                w.write_all(&frame)?;
                Ok(w)
            }
            Encoder::Bz2(e) => e.finish(),
        }
    }
}

/// zstd level of the metadata files.
const ZSTD_LEVEL: i32 = 10;

/// Up to this many bytes, zstd content is held and compressed in one call when
/// finished, with its size known and smaller match tables (below). A streaming encoder
/// at level 10 sets up tables for a 4 MiB window: tens of MiB touched per file, which
/// for the bench corpus's 210 packages was 76 MiB of `jigdo repo create`'s peak and
/// about a fifth of its CPU time. Bigger content is streamed, so memory stays bounded.
pub const ZSTD_ONE_SHOT_MAX: usize = 8 << 20;

/// Hash and chain table size (log2 entries) of one-shot zstd: level 10 would use 2^20
/// and more; 2^17 compresses a 1.4 MB filelists.xml 0.2% worse with a fifth of the
/// memory (zstd CLI: 80,789 vs 80,659 bytes, 5.9 vs 29.4 MB).
const ZSTD_ONE_SHOT_TABLE_LOG: u32 = 17;

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::None(w) => w.write(buf),
            Encoder::Gz(e) => e.write(buf),
            Encoder::Xz(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
            Encoder::ZstdHeld(_, held) if held.len() + buf.len() <= ZSTD_ONE_SHOT_MAX => {
                held.extend_from_slice(buf);
                Ok(buf.len())
            }
            Encoder::ZstdHeld(w, held) => {
                // Too big to hold: stream what is held, then the rest.
                let held = std::mem::take(held);
                let inner = w
                    .take()
                    .ok_or_else(|| io::Error::other("zstd encoder used after a failure"))?;
                let mut enc = zstd::stream::write::Encoder::new(inner, ZSTD_LEVEL)?;
                enc.write_all(&held)?;
                *self = Encoder::Zstd(enc);
                self.write(buf)
            }
            Encoder::Bz2(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::None(w) => w.flush(),
            Encoder::Gz(e) => e.flush(),
            Encoder::Xz(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
            // Nothing is written before `finish`.
            Encoder::ZstdHeld(..) => Ok(()),
            Encoder::Bz2(e) => e.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_xz_stream_demanding_a_1_gib_dictionary_is_refused() {
        let text = b"<metadata>hello</metadata>\n".repeat(100);
        let mut enc = Encoder::new(Vec::new(), Compression::Xz).unwrap();
        enc.write_all(&text).unwrap();
        let mut xz = enc.finish().unwrap();
        // The block header after the 12-byte stream header: size, flags (no sizes, one
        // filter), LZMA2 filter id 0x21, properties size 1, the dictionary byte; CRC32.
        let len = (usize::from(xz[12]) + 1) * 4;
        assert_eq!(&xz[13..16], &[0x00, 0x21, 0x01], "block header");
        xz[16] = 36; // a 1 GiB dictionary
        let mut crc = flate2::Crc::new();
        crc.update(&xz[12..12 + len - 4]);
        xz[12 + len - 4..12 + len].copy_from_slice(&crc.sum().to_le_bytes());
        let mut out = Vec::new();
        let r = decoder(&xz[..]).and_then(|mut d| d.read_to_end(&mut out));
        assert!(r.is_err(), "decoded {} bytes", out.len());
    }

    #[test]
    fn decompressed_size_is_capped() {
        let text = vec![b'x'; 100_000];
        let mut enc = Encoder::new(Vec::new(), Compression::Zstd).unwrap();
        enc.write_all(&text).unwrap();
        let bytes = enc.finish().unwrap();
        let mut out = Vec::new();
        let mut d = decoder_limited(&bytes[..], 99_999).unwrap();
        let e = d.read_to_end(&mut out).unwrap_err();
        assert!(e.to_string().contains("more than 99999 bytes"), "{e}");
        let mut d = decoder_limited(&bytes[..], 100_000).unwrap();
        out.clear();
        d.read_to_end(&mut out).unwrap();
        assert_eq!(out, text);
    }

    #[test]
    fn zstd_content_past_the_one_shot_size_is_streamed_and_roundtrips() {
        // Written in pieces that cross the held size; the frame of held content names
        // its size, the streamed one does not.
        let piece: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for total in [ZSTD_ONE_SHOT_MAX / 2, ZSTD_ONE_SHOT_MAX + 3 * piece.len()] {
            let mut text = Vec::new();
            let mut enc = Encoder::new(Vec::new(), Compression::Zstd).unwrap();
            while text.len() < total {
                enc.write_all(&piece).unwrap();
                text.extend_from_slice(&piece);
            }
            let streamed = matches!(enc, Encoder::Zstd(_));
            assert_eq!(streamed, text.len() > ZSTD_ONE_SHOT_MAX, "{}", text.len());
            let bytes = enc.finish().unwrap();
            let known = zstd::zstd_safe::get_frame_content_size(&bytes).unwrap();
            assert_eq!(known, (!streamed).then_some(text.len() as u64));
            let mut out = Vec::new();
            decoder(&bytes[..]).unwrap().read_to_end(&mut out).unwrap();
            assert!(out == text, "{} bytes back of {}", out.len(), text.len());
        }
    }

    #[test]
    fn roundtrip_every_format() {
        let text = b"<metadata>hello</metadata>\n".repeat(100);
        for comp in [
            Compression::None,
            Compression::Gz,
            Compression::Xz,
            Compression::Zstd,
            Compression::Bz2,
        ] {
            let mut enc = Encoder::new(Vec::new(), comp).unwrap();
            enc.write_all(&text).unwrap();
            let bytes = enc.finish().unwrap();
            let mut out = Vec::new();
            decoder(&bytes[..]).unwrap().read_to_end(&mut out).unwrap();
            assert_eq!(out, text, "{comp:?}");
        }
    }
}
