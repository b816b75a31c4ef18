//! The archive-mode content object (`.filez`): a big-endian `u32` header size and four
//! bytes of padding, the `(tuuuusa(ayay))` header (content size first), then the content
//! as raw deflate.
//!
//! Content up to [`WHOLE_INFLATE_MAX`] is inflated in one call into a buffer of exactly
//! the size the header states, with libdeflate (the `libdeflater` bindings): on the
//! objects of a Debian-based tree it takes 0.66–0.70× the CPU time of zlib-rs streaming
//! through a 256 KiB buffer, and inflating is most of what `jigdo fsck` and `jigdo pack`
//! do with an archive repository. libdeflate has no streaming interface, so larger
//! content is streamed with zlib-rs (flate2) in bounded memory.

use std::cell::RefCell;

use crate::objects::FileHeader;

/// Content up to this many bytes is inflated whole (see the module documentation); the
/// bound keeps the buffers of many reading threads small (16 threads: 16 MiB of content).
pub const WHOLE_INFLATE_MAX: u64 = 1 << 20;

/// A `.filez` up to this many bytes is read whole: [`WHOLE_INFLATE_MAX`] of content
/// compressed as badly as deflate can (stored blocks: 5 bytes per 65,535), plus room for
/// the header.
pub const WHOLE_FILE_MAX: u64 = WHOLE_INFLATE_MAX + WHOLE_INFLATE_MAX / 1024 + 64 * 1024;

/// Largest header accepted. libostree's headers are a few hundred bytes, longer with xattrs
/// (SELinux labels, ACLs, file capabilities); Linux allows many xattrs of up to 64 KiB each,
/// so the bound is generous. It exists to refuse a corrupt length before a buffer of that
/// size is allocated.
const HEADER_MAX: usize = 64 * 1024 * 1024;

/// The size of the header that follows the 8-byte prefix of a `.filez`.
pub fn header_len(prefix: [u8; 8]) -> Result<usize, String> {
    let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    if len > HEADER_MAX {
        return Err(format!("header size {len} is implausible"));
    }
    Ok(len)
}

/// Splits a whole `.filez` into its header, the content size the header states, and the
/// compressed content.
pub fn split(bytes: &[u8]) -> Result<(FileHeader, u64, &[u8]), String> {
    let prefix: [u8; 8] = bytes
        .get(..8)
        .and_then(|p| p.try_into().ok())
        .ok_or_else(|| format!("truncated header: {} bytes", bytes.len()))?;
    let len = header_len(prefix)?;
    let header = bytes
        .get(8..8 + len)
        .ok_or_else(|| format!("truncated header: {} of {len} bytes", bytes.len() - 8))?;
    let (h, size) = FileHeader::decode_archive_header(header).map_err(|e| e.to_string())?;
    Ok((h, size, &bytes[8 + len..]))
}

/// Inflates raw-deflate `compressed` that must hold exactly `size` bytes of content
/// (trailing bytes after the end of the deflate stream are ignored, as when streaming).
/// Errors on corrupt or truncated data, and when the content is longer or shorter than
/// `size`; `size` must be at most [`WHOLE_INFLATE_MAX`].
pub fn inflate_exact(compressed: &[u8], size: u64) -> Result<Vec<u8>, String> {
    if size > WHOLE_INFLATE_MAX {
        return Err(format!(
            "content of {size} bytes is too large to inflate in memory"
        ));
    }
    let size = size as usize;
    thread_local! {
        static DECOMPRESSOR: RefCell<libdeflater::Decompressor> =
            RefCell::new(libdeflater::Decompressor::new());
    }
    let mut out = vec![0u8; size];
    let produced = DECOMPRESSOR.with(|d| d.borrow_mut().deflate_decompress(compressed, &mut out));
    match produced {
        Ok(n) if n == size => Ok(out),
        Ok(n) => Err(format!("content is {n} bytes but the header says {size}")),
        Err(libdeflater::DecompressionError::InsufficientSpace) => Err(format!(
            "content is more than the {size} bytes the header says"
        )),
        Err(libdeflater::DecompressionError::BadData) => {
            Err("content is not valid deflate data (corrupt or truncated)".into())
        }
    }
}

/// Decodes a whole `.filez`: its header and, for a regular file, its content (empty for a
/// symlink). Errors as [`split`] and [`inflate_exact`] do; content over
/// [`WHOLE_INFLATE_MAX`] is an error here (a repository streams it instead).
pub fn decode(bytes: &[u8]) -> Result<(FileHeader, Vec<u8>), String> {
    let (h, size, compressed) = split(bytes)?;
    if h.is_symlink() {
        return Ok((h, Vec::new()));
    }
    let content = inflate_exact(compressed, size)?;
    Ok((h, content))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn deflate(data: &[u8], level: u32) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(level));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn stream(compressed: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        flate2::bufread::DeflateDecoder::new(compressed).read_to_end(&mut out)?;
        Ok(out)
    }

    fn sample(n: usize) -> Vec<u8> {
        (0..n as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 27) as u8)
            .collect()
    }

    #[test]
    fn inflates_what_streaming_inflates() {
        for n in [
            0,
            1,
            100,
            65_535,
            65_536,
            300_001,
            WHOLE_INFLATE_MAX as usize,
        ] {
            let data = sample(n);
            for level in [0, 1, 6, 9] {
                let c = deflate(&data, level);
                assert_eq!(inflate_exact(&c, n as u64).unwrap(), data, "{n} {level}");
                assert_eq!(stream(&c).unwrap(), data);
                // Stored blocks stay within the bound of a whole read.
                assert!((c.len() as u64) < WHOLE_FILE_MAX);
            }
        }
        // Trailing bytes after the stream are ignored, as the streaming reader does.
        let mut c = deflate(b"hello", 6);
        c.extend_from_slice(b"trailing");
        assert_eq!(inflate_exact(&c, 5).unwrap(), b"hello");
        // No deflate stream at all is an error either way (libostree writes an empty
        // stream for empty content).
        assert!(inflate_exact(&[], 0).is_err());
        assert!(stream(&[]).is_err());
    }

    #[test]
    fn rejects_wrong_sizes_and_corrupt_data() {
        let data = sample(100_000);
        let c = deflate(&data, 6);
        let e = inflate_exact(&c, 100_001).unwrap_err();
        assert!(e.contains("100000 bytes but the header says 100001"), "{e}");
        let e = inflate_exact(&c, 99_999).unwrap_err();
        assert!(
            e.contains("more than the 99999 bytes the header says"),
            "{e}"
        );
        assert!(inflate_exact(&c[..c.len() / 2], 100_000)
            .unwrap_err()
            .contains("not valid deflate"));
        let mut flipped = c.clone();
        flipped[10] ^= 0x55;
        // A flipped bit either breaks the stream or changes the content (the checksum
        // catches that); it never panics.
        if let Ok(out) = inflate_exact(&flipped, 100_000) {
            assert_ne!(out, data);
        }
        assert!(inflate_exact(b"\xff\xff\xff", 10).is_err());
        assert!(inflate_exact(&[], 1).is_err());
        assert!(inflate_exact(&c, WHOLE_INFLATE_MAX + 1)
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn decodes_a_whole_object() {
        let h = FileHeader::regular(0, 0, 0o644);
        let data = sample(5000);
        // The size prefix and the header.
        let mut obj = h.encode_archive_header(data.len() as u64);
        let header_end = obj.len();
        obj.extend_from_slice(&deflate(&data, 6));
        let (h2, content) = decode(&obj).unwrap();
        assert_eq!(h2, h);
        assert_eq!(content, data);
        for cut in [0, 5, 8, header_end - 1] {
            assert!(
                decode(&obj[..cut]).unwrap_err().contains("truncated"),
                "{cut}"
            );
        }
        assert!(decode(&obj[..obj.len() - 20]).is_err());
        let mut huge = obj.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(decode(&huge).unwrap_err().contains("implausible"));
    }
}
