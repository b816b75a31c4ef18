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

/// A finished spool: the file, the hex SHA-256 and the size of what it holds.
pub(crate) type Spooled = (Spool, String, u64);

/// A compressor writing into a hashed spool.
pub(crate) enum Compressor {
    None(HashingWriter<Spool>),
    Zstd(ZstdFrames<HashingWriter<Spool>>),
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
            C::Zstd(level) => Compressor::Zstd(ZstdFrames::new(out, level)?),
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
    pub(crate) fn finish(self) -> io::Result<Spooled> {
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

/// Bytes handed to the compressing thread at a time by [`compress_on_thread`].
const HANDOFF: usize = 1 << 20;

/// Chunks of [`HANDOFF`] bytes that may wait for the compressing thread.
const HANDOFF_QUEUE: usize = 4;

/// Runs `write` with a writer whose bytes `compressor` compresses on a second thread, so
/// that making the archive (reading the contents, hashing them) and compressing it
/// overlap. The writer passes [`HANDOFF`] bytes at a time (at most [`HANDOFF_QUEUE`]
/// chunks wait; the chunks are recycled between the threads). Returns what `write`
/// returned and what [`Compressor::finish`] returned: when the compressor fails, the
/// writer fails too (it can no longer hand bytes over), and the compressor's error is the
/// one to report.
pub(crate) fn compress_on_thread<T, E>(
    compressor: Compressor,
    write: impl FnOnce(&mut Handoff) -> Result<T, E>,
) -> (Result<T, E>, io::Result<Spooled>) {
    use std::sync::mpsc;
    std::thread::scope(|s| {
        let (full_tx, full_rx) = mpsc::sync_channel::<Vec<u8>>(HANDOFF_QUEUE);
        let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
        let compressing = s.spawn(move || -> io::Result<Spooled> {
            let mut compressor = compressor;
            for mut chunk in full_rx {
                compressor.write_all(&chunk)?;
                chunk.clear();
                // The writer may be done: then the chunk is dropped.
                let _ = empty_tx.send(chunk);
            }
            compressor.finish()
        });
        let mut handoff = Handoff {
            chunk: Vec::with_capacity(HANDOFF),
            full: Some(full_tx),
            empty: empty_rx,
        };
        let written = write(&mut handoff);
        // Sends the last chunk (unless `write` failed) and ends the compressing thread's
        // input.
        let closed = match &written {
            Ok(_) => handoff.close(),
            Err(_) => Ok(()),
        };
        drop(handoff);
        let compressed = compressing
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the payload compressor panicked")));
        let compressed = match (closed, compressed) {
            (Err(e), Ok(_)) => Err(e),
            (_, c) => c,
        };
        (written, compressed)
    })
}

/// The writer of [`compress_on_thread`]: passes what is written to the compressing
/// thread in chunks of [`HANDOFF`] bytes.
pub(crate) struct Handoff {
    chunk: Vec<u8>,
    /// `None` once closed.
    full: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    empty: std::sync::mpsc::Receiver<Vec<u8>>,
}

impl Handoff {
    /// Sends the chunk being filled and takes an empty one (a recycled one if any).
    fn send(&mut self) -> io::Result<()> {
        let next = self
            .empty
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(HANDOFF));
        let full = std::mem::replace(&mut self.chunk, next);
        let stopped = || io::Error::other("the payload compressor stopped");
        self.full
            .as_ref()
            .ok_or_else(stopped)?
            .send(full)
            .map_err(|_| stopped())
    }

    /// Sends what is left; nothing can be written after.
    fn close(&mut self) -> io::Result<()> {
        if !self.chunk.is_empty() {
            self.send()?;
        }
        self.full = None;
        Ok(())
    }
}

impl Write for Handoff {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(HANDOFF - self.chunk.len());
        self.chunk.extend_from_slice(&buf[..n]);
        if self.chunk.len() == HANDOFF {
            self.send()?;
        }
        Ok(n)
    }

    /// Does nothing: the chunks go on when full, the rest when the writing ends.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Bytes of input classified at a time by [`ZstdFrames`].
const CHUNK: usize = 1 << 20;

/// A chunk shorter than this (the end of the stream) goes into the open frame, whatever
/// it holds: too few bytes to judge, and not worth a frame of their own.
const MIN_JUDGED: usize = 64 * 1024;

/// Order-0 entropy (bits per byte) from which a chunk counts as incompressible. Measured
/// on 1 MiB chunks: zstd and xz output 7.994–7.9999, gzip output 7.986–7.999, an
/// executable 4.4–7.1, an rpmdb 5.3–5.8; on zstd output level 9 and level 1 give the same
/// bytes (the blocks are stored raw), on gzip output level 9 saves 0.35% over level 1.
const INCOMPRESSIBLE_BITS: f64 = 7.99;

/// The level of frames of incompressible chunks: libzstd's fastest regular level (1.2
/// GB/s on an initramfs that level 9 takes at 63 MB/s, both storing it raw).
const FAST_LEVEL: i32 = 1;

/// Order-0 (byte frequency) entropy of `data`, in bits per byte; 0 for no data.
pub(crate) fn entropy_bits(data: &[u8]) -> f64 {
    // Four tables, so that runs of one byte value do not serialise the counting.
    let mut counts = [[0u32; 256]; 4];
    let mut quads = data.chunks_exact(4);
    for q in &mut quads {
        counts[0][usize::from(q[0])] += 1;
        counts[1][usize::from(q[1])] += 1;
        counts[2][usize::from(q[2])] += 1;
        counts[3][usize::from(q[3])] += 1;
    }
    for &b in quads.remainder() {
        counts[0][usize::from(b)] += 1;
    }
    let n = data.len() as f64;
    (0..256)
        .map(|v| counts.iter().map(|t| f64::from(t[v])).sum::<f64>())
        .filter(|&c| c > 0.0)
        .map(|c| {
            let p = c / n;
            -p * p.log2()
        })
        .sum()
}

/// A zstd stream at the package's level, except that input which cannot be compressed
/// (already compressed content: an initramfs, a delta stream) goes into frames of its
/// own at [`FAST_LEVEL`]. Input is judged [`CHUNK`] bytes at a time by its byte entropy
/// (as btrfs judges what to compress); consecutive chunks of one kind share a frame, so a
/// stream with nothing incompressible is one frame as before. Level 9 spent 0.27 s of one
/// core storing a 17 MB zstd initramfs raw, which level 1 stores the same way in 0.014 s.
/// The frames are concatenated, which every zstd decoder reads as one stream (rpm's
/// `ZSTD_decompressStream` loop, `zstd -d`, this crate's [`crate::PayloadReader`]).
pub(crate) struct ZstdFrames<W: Write> {
    cctx: zstd::zstd_safe::CCtx<'static>,
    out: W,
    /// The level asked for.
    level: i32,
    /// Input not compressed yet (less than [`CHUNK`] bytes).
    pending: Vec<u8>,
    /// Compressed output on its way to `out`.
    buf: Vec<u8>,
    /// The level of the open frame, if one has input.
    open: Option<i32>,
}

fn zstd_error(code: usize) -> io::Error {
    io::Error::other(format!("zstd: {}", zstd::zstd_safe::get_error_name(code)))
}

impl<W: Write> ZstdFrames<W> {
    /// A stream at `level` into `out`.
    pub(crate) fn new(out: W, level: i32) -> io::Result<ZstdFrames<W>> {
        Ok(ZstdFrames {
            cctx: zstd::zstd_safe::CCtx::try_create()
                .ok_or_else(|| io::Error::other("zstd could not allocate a context"))?,
            out,
            level,
            pending: Vec::with_capacity(CHUNK),
            buf: Vec::with_capacity(zstd::zstd_safe::CCtx::out_size()),
            open: None,
        })
    }

    /// Runs the compressor over `input` (all of it) with `op`, writing what it makes;
    /// with `End`, until the frame is complete.
    fn run(
        &mut self,
        input: &[u8],
        op: zstd::zstd_safe::zstd_sys::ZSTD_EndDirective,
    ) -> io::Result<()> {
        use zstd::zstd_safe::zstd_sys::ZSTD_EndDirective;
        let mut inb = zstd::zstd_safe::InBuffer::around(input);
        loop {
            self.buf.clear();
            let mut outb = zstd::zstd_safe::OutBuffer::around(&mut self.buf);
            let left = self
                .cctx
                .compress_stream2(&mut outb, &mut inb, op)
                .map_err(zstd_error)?;
            self.out.write_all(&self.buf)?;
            let done = match op {
                ZSTD_EndDirective::ZSTD_e_continue => inb.pos() == input.len(),
                _ => left == 0 && inb.pos() == input.len(),
            };
            if done {
                return Ok(());
            }
        }
    }

    /// Ends the open frame, if any.
    fn end_frame(&mut self) -> io::Result<()> {
        if self.open.take().is_some() {
            self.run(
                &[],
                zstd::zstd_safe::zstd_sys::ZSTD_EndDirective::ZSTD_e_end,
            )?;
        }
        Ok(())
    }

    /// Opens a frame at `level` unless one at that level is open.
    fn frame_at(&mut self, level: i32) -> io::Result<()> {
        if self.open == Some(level) {
            return Ok(());
        }
        self.end_frame()?;
        self.cctx
            .reset(zstd::zstd_safe::ResetDirective::SessionOnly)
            .map_err(zstd_error)?;
        self.cctx
            .set_parameter(zstd::zstd_safe::CParameter::CompressionLevel(level))
            .map_err(zstd_error)?;
        self.open = Some(level);
        Ok(())
    }

    /// Compresses the pending input in a frame of the level it calls for.
    fn compress_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let level = match self.open {
            Some(open) if self.pending.len() < MIN_JUDGED => open,
            _ if self.level > FAST_LEVEL
                && self.pending.len() >= MIN_JUDGED
                && entropy_bits(&self.pending) >= INCOMPRESSIBLE_BITS =>
            {
                FAST_LEVEL
            }
            _ => self.level,
        };
        self.frame_at(level)?;
        let pending = std::mem::take(&mut self.pending);
        let r = self.run(
            &pending,
            zstd::zstd_safe::zstd_sys::ZSTD_EndDirective::ZSTD_e_continue,
        );
        self.pending = pending;
        self.pending.clear();
        r
    }

    /// Ends the stream (an empty frame if nothing was written) and returns the output.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.compress_pending()?;
        if self.open.is_none() {
            self.frame_at(self.level)?;
        }
        self.end_frame()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for ZstdFrames<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(CHUNK - self.pending.len());
        self.pending.extend_from_slice(&buf[..n]);
        if self.pending.len() == CHUNK {
            self.compress_pending()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.compress_pending()?;
        if self.open.is_some() {
            self.run(
                &[],
                zstd::zstd_safe::zstd_sys::ZSTD_EndDirective::ZSTD_e_flush,
            )?;
        }
        self.out.flush()
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

    /// The frames of a zstd stream: (compressed size, decompressed size) each.
    fn frames(mut stream: &[u8]) -> Vec<(usize, u64)> {
        let mut out = Vec::new();
        while !stream.is_empty() {
            let n = zstd::zstd_safe::find_frame_compressed_size(stream).unwrap();
            let size = zstd::zstd_safe::get_frame_content_size(&stream[..n])
                .ok()
                .flatten();
            let raw = zstd::stream::decode_all(&stream[..n]).unwrap();
            if let Some(size) = size {
                assert_eq!(size, raw.len() as u64);
            }
            out.push((n, raw.len() as u64));
            stream = &stream[n..];
        }
        out
    }

    /// Bytes that look random.
    fn noise(n: usize, seed: u64) -> Vec<u8> {
        dev_support::pseudo_random(seed, n)
    }

    /// Compressible bytes (text with repeats).
    fn text(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| b"the quick brown fox jumps over the lazy dog, again and "[(i * 7 / 5) % 55])
            .collect()
    }

    fn compress(input: &[u8], level: i32, write_size: usize) -> Vec<u8> {
        let mut z = ZstdFrames::new(Vec::new(), level).unwrap();
        for piece in input.chunks(write_size.max(1)) {
            z.write_all(piece).unwrap();
        }
        z.finish().unwrap()
    }

    #[test]
    fn entropy_tells_noise_from_text() {
        assert_eq!(entropy_bits(&[]), 0.0);
        assert_eq!(entropy_bits(&[7; 1000]), 0.0);
        let two: Vec<u8> = (0..1000).map(|i| (i % 2) as u8).collect();
        assert!((entropy_bits(&two) - 1.0).abs() < 1e-9);
        let all: Vec<u8> = (0..=255u8).cycle().take(4096 + 3).collect();
        assert!((entropy_bits(&all) - 8.0).abs() < 1e-3);
        assert!(entropy_bits(&noise(CHUNK, 1)) >= INCOMPRESSIBLE_BITS);
        assert!(entropy_bits(&text(CHUNK)) < 5.0);
        // Compressed output counts as incompressible.
        let packed = zstd::stream::encode_all(&text(8 * CHUNK)[..], 19).unwrap();
        let packed = zstd::stream::encode_all(&noise(CHUNK, 2)[..], 3)
            .unwrap()
            .into_iter()
            .chain(packed)
            .collect::<Vec<u8>>();
        assert!(entropy_bits(&packed[..CHUNK]) >= INCOMPRESSIBLE_BITS);
    }

    #[test]
    fn compressible_input_is_one_frame_at_the_level_asked() {
        let input = text(3 * CHUNK + 12_345);
        for write_size in [1000, CHUNK, 5 * CHUNK] {
            let out = compress(&input, 9, write_size);
            assert_eq!(frames(&out), vec![(out.len(), input.len() as u64)]);
            assert_eq!(zstd::stream::decode_all(&out[..]).unwrap(), input);
            // As small as one level-9 stream of it.
            let plain = zstd::stream::encode_all(&input[..], 9).unwrap();
            assert!(
                out.len() <= plain.len() + 16,
                "{} {}",
                out.len(),
                plain.len()
            );
        }
        // Nothing at all is one empty frame, as zstd writes it.
        let out = compress(&[], 9, 1);
        assert_eq!(out, zstd::stream::encode_all(&[][..], 9).unwrap());
        assert_eq!(frames(&out), vec![(out.len(), 0)]);
    }

    #[test]
    fn incompressible_input_gets_frames_of_its_own_at_the_fast_level() {
        // text, noise, text: three frames, the same bytes back.
        let mut input = text(2 * CHUNK);
        input.extend(noise(3 * CHUNK, 3));
        input.extend(text(CHUNK + 100));
        for write_size in [4096, 3 * CHUNK] {
            let out = compress(&input, 9, write_size);
            assert_eq!(zstd::stream::decode_all(&out[..]).unwrap(), input);
            let f = frames(&out);
            assert_eq!(
                f.iter().map(|(_, raw)| *raw).collect::<Vec<_>>(),
                vec![2 * CHUNK as u64, 3 * CHUNK as u64, CHUNK as u64 + 100],
                "{f:?}"
            );
            // The noise is stored (raw blocks), the text compressed.
            assert!(f[1].0 >= 3 * CHUNK && f[1].0 < 3 * CHUNK + 1024, "{f:?}");
            assert!(f[0].0 < CHUNK / 10 && f[2].0 < CHUNK / 10, "{f:?}");
            // rpm-package's own payload reader reads the frames as one payload.
            let mut back = Vec::new();
            let mut r =
                crate::payload::Decoder::new(crate::header::Compression::Zstd, &out[..]).unwrap();
            std::io::Read::read_to_end(&mut r, &mut back).unwrap();
            assert_eq!(back, input);
        }
        // A short tail of noise stays in the open frame; at level 1 nothing is split.
        let mut input = text(CHUNK);
        input.extend(noise(1000, 4));
        assert_eq!(frames(&compress(&input, 9, CHUNK)).len(), 1);
        let mut input = text(CHUNK);
        input.extend(noise(2 * CHUNK, 5));
        assert_eq!(frames(&compress(&input, 1, CHUNK)).len(), 1);
    }

    /// A compressor into a spool file in `dir` (a fresh file, or `read_only`: every
    /// write fails).
    fn spooled(dir: &std::path::Path, c: rpm::CompressionWithLevel, read_only: bool) -> Compressor {
        let path = dir.join("spool");
        std::fs::write(&path, b"").unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(!read_only)
            .open(&path)
            .unwrap();
        Compressor::new(c, io::BufWriter::new(file)).unwrap()
    }

    #[test]
    fn compressing_on_a_thread_keeps_the_stream_and_its_digest() {
        use std::io::{Read as _, Seek as _};
        let dir = tempfile::tempdir().unwrap();
        // More chunks than may wait, written in pieces that straddle the chunks.
        let mut input = text(HANDOFF * (HANDOFF_QUEUE + 3) + 777);
        input.extend(noise(2 * CHUNK, 7));
        for c in [
            rpm::CompressionWithLevel::Zstd(3),
            rpm::CompressionWithLevel::None,
        ] {
            let (written, compressed) = compress_on_thread(spooled(dir.path(), c, false), |w| {
                for piece in input.chunks(300_001) {
                    w.write_all(piece)?;
                }
                Ok::<_, io::Error>(input.len())
            });
            assert_eq!(written.unwrap(), input.len());
            let (spool, sha, len) = compressed.unwrap();
            let mut file = spool.into_inner().unwrap();
            file.rewind().unwrap();
            let mut stored = Vec::new();
            file.read_to_end(&mut stored).unwrap();
            assert_eq!(stored.len() as u64, len);
            assert_eq!(
                sha,
                crate::digest::Checksum::of(DigestAlgorithm::Sha256, &stored).hex
            );
            let back = match c {
                rpm::CompressionWithLevel::None => stored,
                _ => zstd::stream::decode_all(&stored[..]).unwrap(),
            };
            assert!(back == input, "{c:?}: the bytes differ");
        }
    }

    #[test]
    fn compressing_on_a_thread_reports_either_side_failing() {
        let dir = tempfile::tempdir().unwrap();
        let zstd = rpm::CompressionWithLevel::Zstd(3);
        // The compressor cannot write: its error is reported, the writer stops.
        let (written, compressed) = compress_on_thread(spooled(dir.path(), zstd, true), |w| {
            for _ in 0..64 {
                w.write_all(&noise(HANDOFF, 8))?;
            }
            Ok::<_, io::Error>(())
        });
        assert!(compressed.is_err());
        assert!(written.is_err());
        // The writer fails: its error comes back, the compressor ends cleanly.
        let (written, compressed) = compress_on_thread(spooled(dir.path(), zstd, false), |w| {
            w.write_all(&text(3 * HANDOFF))?;
            Err::<(), _>(io::Error::other("the content changed"))
        });
        assert_eq!(written.unwrap_err().to_string(), "the content changed");
        assert!(compressed.is_ok());
    }

    #[test]
    fn a_flush_keeps_the_stream_whole() {
        let mut input = noise(CHUNK + 10, 6);
        input.extend(text(1000));
        let mut z = ZstdFrames::new(Vec::new(), 9).unwrap();
        z.write_all(&input[..CHUNK + 500]).unwrap();
        z.flush().unwrap();
        z.write_all(&input[CHUNK + 500..]).unwrap();
        let out = z.finish().unwrap();
        assert_eq!(zstd::stream::decode_all(&out[..]).unwrap(), input);
    }

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
