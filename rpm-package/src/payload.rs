//! Streaming payload reader: decompression, cpio parsing, per-file digest checks.
//!
//! Written by hand rather than using `rpm::PackageReader` (rpm crate 0.30) because that
//! reader has no legacy-lzma decoder, does not check file digests or payload digests while
//! streaming, does not bound the decompressed size, does not reject escaping names and sits
//! on the crate's header parser (see `raw.rs` for why we do not use it).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::digest::Hasher;
use crate::error::{io_kind, Error, ErrorKind, Result};
use crate::header::{Compression, FileEntry, PackageHeader};
use crate::verify::{self, PayloadDigests};

/// Most memory an xz or lzma decoder may take for one stream: rpm's own presets need at
/// most 65 MiB (`-9`), so this leaves room for any package rpm builds and none for a
/// crafted header that asks for gigabytes. Also used for rpm-md metadata (`repodata`).
pub const MAX_DECODER_MEMORY: u64 = 512 << 20;
/// Largest zstd window accepted, as a power of two: 128 MiB, zstd's own default limit
/// (what `zstd -d` and rpm's reader accept without `--long`); rpm's `w19.zstdio` writes
/// 8 MiB windows. A frame asking for more is refused before anything is allocated.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 27;

/// Longest cpio name accepted (rpm's own limit is PATH_MAX = 4096).
const MAX_NAME: u64 = 4096 * 2;
const TRAILER: &[u8] = b"TRAILER!!!";

/// Hashes the compressed bytes as they are read from the file. The first bytes, read
/// ahead to detect the compression, are replayed from `prefix` (already hashed).
struct RawTap<R> {
    inner: R,
    prefix: [u8; 16],
    prefix_len: usize,
    prefix_pos: usize,
    state: Arc<Mutex<PayloadDigests>>,
}

impl<R: Read> Read for RawTap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.prefix_pos < self.prefix_len {
            let n = buf.len().min(self.prefix_len - self.prefix_pos);
            buf[..n].copy_from_slice(&self.prefix[self.prefix_pos..self.prefix_pos + n]);
            self.prefix_pos += n;
            return Ok(n);
        }
        let n = self.inner.read(buf)?;
        if n > 0 {
            if let Ok(mut s) = self.state.lock() {
                s.update(&buf[..n]);
            }
        }
        Ok(n)
    }
}

/// The decompressor, as an enum so the raw reader can be reached again at the end.
pub(crate) enum Decoder<R: Read> {
    None(R),
    Gzip(flate2::read::MultiGzDecoder<R>),
    Bzip2(bzip2::read::MultiBzDecoder<R>),
    Xz(liblzma::read::XzDecoder<R>),
    Zstd(zstd::stream::zio::Reader<ZstdInput<R>, PooledZstd>),
}

/// The zstd decoder's input: the compressed bytes, read in [`AHEAD_CHUNK`] pieces into a
/// buffer of the read-ahead pool (kept for the next payload, as the decoder's context is:
/// a fresh buffer per package faulted its pages in anew each time). As big as the package
/// readers' own buffer (256 KiB), so that theirs is bypassed: the file is read straight
/// into this one, not copied from theirs. And zstd decodes a block straight from its
/// input only when the input holds it whole (it copies one cut by the input's end into a
/// buffer of its own first): twice zstd's suggested input size cuts half as many.
pub(crate) struct ZstdInput<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
}

impl<R: Read> ZstdInput<R> {
    fn new(inner: R) -> ZstdInput<R> {
        ZstdInput {
            inner,
            buf: ahead_chunk(),
            pos: 0,
            filled: 0,
        }
    }

    fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

impl<R: Read> Read for ZstdInput<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        read_through_buffer(self, out)
    }
}

/// `Read::read` for a reader whose [`BufRead`] is the primary interface: copies what its
/// buffer holds (filling it first if empty) and consumes it.
fn read_through_buffer(r: &mut impl BufRead, out: &mut [u8]) -> io::Result<usize> {
    let avail = r.fill_buf()?;
    let n = out.len().min(avail.len());
    out[..n].copy_from_slice(&avail[..n]);
    r.consume(n);
    Ok(n)
}

impl<R: Read> BufRead for ZstdInput<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.filled {
            self.pos = 0;
            self.filled = 0;
            self.filled = self.inner.read(&mut self.buf)?;
        }
        Ok(self.buf.get(self.pos..self.filled).unwrap_or(&[]))
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.filled);
    }
}

impl<R> Drop for ZstdInput<R> {
    fn drop(&mut self) {
        keep_ahead_chunk(std::mem::take(&mut self.buf));
    }
}

/// zstd decompression contexts kept for the next payload (see [`PooledZstd`]).
static ZSTD_CONTEXTS: Mutex<Vec<zstd::zstd_safe::DCtx<'static>>> = Mutex::new(Vec::new());
/// Most contexts kept: more than the payloads decompressed at once on any machine we
/// run on (one per core) need not be kept.
const ZSTD_CONTEXTS_KEPT: usize = 8;
/// A context bigger than this (its window buffer: a frame with a window over 8 MiB) is
/// freed, not kept.
const ZSTD_CONTEXT_MAX_KEPT: usize = 16 << 20;

/// A zstd decompression context taken from a process-wide pool and given back when the
/// payload is done. A fresh context allocates its window buffer (8 MiB for rpm's
/// `w19.zstdio`) anew, and every page of it faults in zeroed as the first frame fills it:
/// with a package after another, that was 7-9% of `jigdo unpack`'s CPU time (perf). A
/// reused one has its buffer in place. Hand-written because the `zstd` crate's decoders
/// own their context for good (or only borrow one); this delegates to `zstd_safe`
/// exactly as its `raw::Decoder` does.
pub(crate) struct PooledZstd(Option<zstd::zstd_safe::DCtx<'static>>);

fn zstd_error(code: usize) -> io::Error {
    io::Error::other(zstd::zstd_safe::get_error_name(code).to_string())
}

impl PooledZstd {
    /// A context from the pool (reset) or a new one, accepting windows up to
    /// 2^[`ZSTD_WINDOW_LOG_MAX`] bytes.
    fn take() -> io::Result<PooledZstd> {
        use zstd::zstd_safe::{DCtx, DParameter, ResetDirective};
        let kept = ZSTD_CONTEXTS.lock().ok().and_then(|mut p| p.pop());
        let mut ctx = match kept {
            Some(mut ctx) => {
                ctx.reset(ResetDirective::SessionOnly).map_err(zstd_error)?;
                ctx
            }
            None => {
                let mut ctx = DCtx::try_create().ok_or_else(|| {
                    io::Error::other("zstd could not allocate a decompression context")
                })?;
                ctx.init().map_err(zstd_error)?;
                ctx
            }
        };
        ctx.set_parameter(DParameter::WindowLogMax(ZSTD_WINDOW_LOG_MAX))
            .map_err(zstd_error)?;
        Ok(PooledZstd(Some(ctx)))
    }

    fn ctx(&mut self) -> io::Result<&mut zstd::zstd_safe::DCtx<'static>> {
        self.0
            .as_mut()
            .ok_or_else(|| io::Error::other("zstd context already given back"))
    }
}

impl Drop for PooledZstd {
    fn drop(&mut self) {
        if let Some(ctx) = self.0.take() {
            if ctx.sizeof() <= ZSTD_CONTEXT_MAX_KEPT {
                if let Ok(mut pool) = ZSTD_CONTEXTS.lock() {
                    if pool.len() < ZSTD_CONTEXTS_KEPT {
                        pool.push(ctx);
                    }
                }
            }
        }
    }
}

impl zstd::stream::raw::Operation for PooledZstd {
    fn run<C: zstd::stream::raw::WriteBuf + ?Sized>(
        &mut self,
        input: &mut zstd::stream::raw::InBuffer<'_>,
        output: &mut zstd::stream::raw::OutBuffer<'_, C>,
    ) -> io::Result<usize> {
        self.ctx()?
            .decompress_stream(output, input)
            .map_err(zstd_error)
    }

    fn flush<C: zstd::stream::raw::WriteBuf + ?Sized>(
        &mut self,
        output: &mut zstd::stream::raw::OutBuffer<'_, C>,
    ) -> io::Result<usize> {
        // As `raw::Decoder`: no more input; all is flushed unless the output is full.
        self.run(&mut zstd::stream::raw::InBuffer::around(&[]), output)?;
        Ok(usize::from(output.pos() >= output.capacity()))
    }

    fn reinit(&mut self) -> io::Result<()> {
        self.ctx()?
            .reset(zstd::zstd_safe::ResetDirective::SessionOnly)
            .map_err(zstd_error)?;
        Ok(())
    }

    fn finish<C: zstd::stream::raw::WriteBuf + ?Sized>(
        &mut self,
        _output: &mut zstd::stream::raw::OutBuffer<'_, C>,
        finished_frame: bool,
    ) -> io::Result<usize> {
        if finished_frame {
            Ok(0)
        } else {
            Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "incomplete frame",
            ))
        }
    }
}

impl<R: Read> Decoder<R> {
    pub(crate) fn new(c: Compression, r: R) -> io::Result<Decoder<R>> {
        Ok(match c {
            Compression::None => Decoder::None(r),
            Compression::Gzip => Decoder::Gzip(flate2::read::MultiGzDecoder::new(r)),
            Compression::Bzip2 => Decoder::Bzip2(bzip2::read::MultiBzDecoder::new(r)),
            Compression::Xz => {
                // Multi-threaded when the payload has several blocks (rpm writes xz
                // payloads with threads, w6T2 and the like), within 128 MiB of buffers;
                // one thread otherwise.
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
                match liblzma::stream::MtStreamBuilder::new()
                    .threads(u32::try_from(threads).unwrap_or(1))
                    .memlimit_threading(128 << 20)
                    .memlimit_stop(MAX_DECODER_MEMORY)
                    .decoder()
                {
                    Ok(stream) => Decoder::Xz(liblzma::read::XzDecoder::new_stream(r, stream)),
                    Err(_) => {
                        let stream = liblzma::stream::Stream::new_stream_decoder(
                            MAX_DECODER_MEMORY,
                            liblzma::stream::CONCATENATED,
                        )
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                        Decoder::Xz(liblzma::read::XzDecoder::new_stream(r, stream))
                    }
                }
            }
            Compression::Lzma => {
                let stream = liblzma::stream::Stream::new_lzma_decoder(MAX_DECODER_MEMORY)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                Decoder::Xz(liblzma::read::XzDecoder::new_stream(r, stream))
            }
            Compression::Zstd => Decoder::Zstd(zstd::stream::zio::Reader::new(
                ZstdInput::new(r),
                PooledZstd::take()?,
            )),
        })
    }

    fn raw(&mut self) -> &mut R {
        match self {
            Decoder::None(r) => r,
            Decoder::Gzip(d) => d.get_mut(),
            Decoder::Bzip2(d) => d.get_mut(),
            Decoder::Xz(d) => d.get_mut(),
            Decoder::Zstd(d) => d.reader_mut().get_mut(),
        }
    }
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::None(r) => r.read(buf),
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Bzip2(d) => d.read(buf),
            Decoder::Xz(d) => d.read(buf),
            Decoder::Zstd(d) => d.read(buf),
        }
    }
}

/// Counts decompressed bytes and refuses to go past the limit (decompression bombs).
struct Limited<R: Read> {
    inner: Decoder<R>,
    count: u64,
    limit: u64,
    alt: Option<(Hasher, Vec<u8>)>,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Ask for at most one byte more than allowed so an overrun is detected without
        // decompressing much past the limit.
        let allowed = (self.limit - self.count.min(self.limit)).saturating_add(1);
        let want = buf
            .len()
            .min(usize::try_from(allowed).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.count += n as u64;
        if self.count > self.limit {
            return Err(io::Error::new(io::ErrorKind::InvalidData, TooLarge));
        }
        if let Some((h, _)) = &mut self.alt {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

#[derive(Debug)]
struct TooLarge;
impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("decompressed payload too large")
    }
}
impl std::error::Error for TooLarge {}

/// After the decompressed stream has ended: reads the compressed bytes the decoder did
/// not need (so the payload digest covers them) and checks the uncompressed-payload
/// digest, if the package records one.
fn finish_stream<R: Read>(src: &mut Limited<RawTap<R>>) -> Result<(), ErrorKind> {
    let mut buf = vec![0u8; 64 * 1024];
    let raw = src.inner.raw();
    loop {
        let n = raw
            .read(&mut buf)
            .map_err(|e| map_io("reading the end of the payload", e))?;
        if n == 0 {
            break;
        }
    }
    if let Some((h, expected)) = src.alt.take() {
        let actual = h.finish();
        if actual != expected {
            return Err(ErrorKind::DigestMismatch {
                what: "uncompressed payload".into(),
                expected: hex::encode(expected),
                actual: hex::encode(actual),
            });
        }
    }
    Ok(())
}

/// Where the decompressed payload comes from.
enum Src<R: Read> {
    /// Read and decompressed on the calling thread.
    Inline(Box<BufReader<Limited<RawTap<R>>>>),
    /// Read and decompressed ahead by a helper thread (see [`PayloadReader::read_ahead`]).
    Ahead(Ahead),
    /// Decompressed whole, in one call (see [`PayloadReader::new_verified_in_memory`]).
    Whole(Whole),
    /// Only while switching from one to the other.
    Switching,
}

impl<R: Read> Read for Src<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Src::Inline(r) => r.read(buf),
            Src::Ahead(r) => r.read(buf),
            Src::Whole(r) => r.read(buf),
            Src::Switching => Ok(0),
        }
    }
}

impl<R: Read> Src<R> {
    /// The decompressed bytes buffered now (what `fill_buf` last returned, less what was
    /// consumed since), without reading.
    fn buffer(&self) -> &[u8] {
        match self {
            Src::Inline(r) => r.buffer(),
            Src::Ahead(r) => r.cur.get(r.pos..r.len).unwrap_or(&[]),
            Src::Whole(r) => r.buf.get(r.pos..r.len).unwrap_or(&[]),
            Src::Switching => &[],
        }
    }
}

impl<R: Read> BufRead for Src<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self {
            Src::Inline(r) => r.fill_buf(),
            Src::Ahead(r) => r.fill_buf(),
            Src::Whole(r) => r.fill_buf(),
            Src::Switching => Ok(&[]),
        }
    }
    fn consume(&mut self, n: usize) {
        match self {
            Src::Inline(r) => r.consume(n),
            Src::Ahead(r) => r.consume(n),
            Src::Whole(r) => r.consume(n),
            Src::Switching => {}
        }
    }
}

/// Decompressed bytes (or the end) sent by the read-ahead thread.
enum Chunk {
    /// A buffer and how many of its bytes are data.
    Data(Vec<u8>, usize),
    Failed(io::Error),
    /// The stream ended; the result of [`finish_stream`].
    End(Result<(), ErrorKind>),
}

/// Chunks in flight per read-ahead thread: bounds its memory to 4 × 256 KiB.
const AHEAD_CHUNKS: usize = 4;
const AHEAD_CHUNK: usize = 256 * 1024;

/// Read-ahead chunks kept for reuse, by every reader of the process.
static AHEAD_POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// Most chunks kept (8 MiB): enough for the readers of several packages at once.
const AHEAD_POOL_KEPT: usize = 32;

/// A read-ahead chunk: a kept one, else a new one.
fn ahead_chunk() -> Vec<u8> {
    AHEAD_POOL
        .lock()
        .ok()
        .and_then(|mut p| p.pop())
        .unwrap_or_else(|| vec![0u8; AHEAD_CHUNK])
}

/// Gives a read-ahead chunk back for reuse.
fn keep_ahead_chunk(chunk: Vec<u8>) {
    if chunk.len() == AHEAD_CHUNK {
        if let Ok(mut p) = AHEAD_POOL.lock() {
            if p.len() < AHEAD_POOL_KEPT {
                p.push(chunk);
            }
        }
    }
}

/// The receiving end of the read-ahead thread. It is its own buffer ([`BufRead`]): the
/// caller reads straight from the chunks received, which are kept for reuse once read
/// (no copy into a buffer of its own; no allocation, zeroing and fresh pages per chunk).
struct Ahead {
    rx: std::sync::mpsc::Receiver<Chunk>,
    cur: Vec<u8>,
    /// Bytes of `cur` that are data.
    len: usize,
    pos: usize,
    /// Set once the thread reported the end.
    end: Option<Result<(), ErrorKind>>,
}

impl Ahead {
    fn start<R: Read + Send + 'static>(
        buffered: Vec<u8>,
        mut src: Limited<RawTap<R>>,
    ) -> io::Result<Ahead> {
        let (tx, rx) = std::sync::mpsc::sync_channel(AHEAD_CHUNKS);
        std::thread::Builder::new()
            .name("rpm-payload".into())
            .spawn(move || loop {
                let mut buf = ahead_chunk();
                let msg = match src.read(&mut buf) {
                    Ok(0) => {
                        keep_ahead_chunk(buf);
                        Chunk::End(finish_stream(&mut src))
                    }
                    Ok(n) => Chunk::Data(buf, n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                        keep_ahead_chunk(buf);
                        continue;
                    }
                    Err(e) => Chunk::Failed(e),
                };
                let last = !matches!(msg, Chunk::Data(..));
                // A closed channel means the reader was dropped: stop.
                if tx.send(msg).is_err() || last {
                    break;
                }
            })?;
        let len = buffered.len();
        Ok(Ahead {
            rx,
            cur: buffered,
            len,
            pos: 0,
            end: None,
        })
    }
}

impl BufRead for Ahead {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.len {
            if self.end.is_some() {
                return Ok(&[]);
            }
            match self.rx.recv() {
                Ok(Chunk::Data(d, n)) => {
                    keep_ahead_chunk(std::mem::replace(&mut self.cur, d));
                    self.len = n;
                    self.pos = 0;
                }
                Ok(Chunk::Failed(e)) => {
                    self.end = Some(Ok(()));
                    return Err(e);
                }
                Ok(Chunk::End(r)) => self.end = Some(r),
                Err(_) => {
                    return Err(io::Error::other("the payload read-ahead thread stopped"));
                }
            }
        }
        Ok(&self.cur[self.pos..self.len])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.len);
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        keep_ahead_chunk(std::mem::take(&mut self.cur));
    }
}

impl Read for Ahead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_through_buffer(self, buf)
    }
}

/// Largest payload (by the bound [`payload_limit`] takes from the header) that
/// [`PayloadReader::new_verified_in_memory`] decompresses whole, in one call, into a kept
/// buffer: zstd then decodes straight into it (streaming, it decodes into its window
/// buffer and copies out of it), and no read-ahead thread is started for the package.
pub const WHOLE_PAYLOAD_MAX: u64 = 8 << 20;

/// Buffers for whole payloads ([`WHOLE_PAYLOAD_MAX`] + 1 bytes), kept for the next one
/// (a fresh one would fault its pages in anew each time).
static WHOLE_POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// Most whole-payload buffers kept: one per core of the machines we run on.
const WHOLE_POOL_KEPT: usize = 4;

/// A payload decompressed whole, read from where it lies (its own [`BufRead`]).
pub(crate) struct Whole {
    buf: Vec<u8>,
    /// Bytes of `buf` that are data.
    len: usize,
    pos: usize,
}

impl Whole {
    /// Decompresses the zstd frames of `payload` in one call, refusing more than `limit`
    /// bytes (at most [`WHOLE_PAYLOAD_MAX`]).
    fn zstd(payload: &[u8], limit: u64) -> io::Result<Whole> {
        let cap = usize::try_from(limit.min(WHOLE_PAYLOAD_MAX)).unwrap_or(0) + 1;
        let buf = WHOLE_POOL
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_else(|| vec![0u8; WHOLE_PAYLOAD_MAX as usize + 1]);
        // Given back to the pool if decompressing fails.
        let mut whole = Whole {
            buf,
            len: 0,
            pos: 0,
        };
        let mut ctx = PooledZstd::take()?;
        let out = whole
            .buf
            .get_mut(..cap)
            .ok_or_else(|| io::Error::other("whole-payload buffer too small"))?;
        let n = ctx.ctx()?.decompress(out, payload).map_err(|code| {
            // zstd's error codes are its enum's values negated.
            let too_small = zstd::zstd_safe::zstd_sys::ZSTD_ErrorCode::ZSTD_error_dstSize_tooSmall;
            if code == (too_small as usize).wrapping_neg() {
                io::Error::new(io::ErrorKind::InvalidData, TooLarge)
            } else {
                zstd_error(code)
            }
        })?;
        if n as u64 > limit {
            return Err(io::Error::new(io::ErrorKind::InvalidData, TooLarge));
        }
        whole.len = n;
        Ok(whole)
    }
}

impl BufRead for Whole {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Ok(self.buf.get(self.pos..self.len).unwrap_or(&[]))
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.len);
    }
}

impl Read for Whole {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_through_buffer(self, buf)
    }
}

impl Drop for Whole {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        if buf.len() == WHOLE_PAYLOAD_MAX as usize + 1 {
            if let Ok(mut p) = WHOLE_POOL.lock() {
                if p.len() < WHOLE_POOL_KEPT {
                    p.push(buf);
                }
            }
        }
    }
}

/// What a payload entry is, as seen while streaming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    /// Index into [`PackageHeader::files`].
    pub index: usize,
    /// Absolute path as recorded in the header.
    pub path: String,
    /// Mode (type and permission bits) from the header.
    pub mode: u32,
    /// Number of content bytes this entry yields when read.
    pub size: u64,
    /// Size recorded in the header for the file.
    pub file_size: u64,
    /// For hardlinked files: every file index of the set (header order, this one included).
    /// Empty otherwise.
    pub hardlinks: Vec<usize>,
    /// Whether this entry carries the file's content. False for hardlink members whose
    /// content is stored with another member of the set (rpm stores it once, with the
    /// last one written), and for ghost records.
    pub has_content: bool,
}

struct Current {
    index: usize,
    remaining: u64,
    pad: usize,
    hasher: Option<Hasher>,
    link_data: Option<Vec<u8>>,
    done: bool,
}

/// Streams a package's payload file by file in constant memory.
///
/// Every regular file's content is checked against the digest in the header as it is read
/// (the error surfaces when the entry's end is reached, or at the next `next_entry`); the
/// header digest is checked when the reader is created and the payload digest (or the
/// legacy MD5) when the archive ends.
pub struct PayloadReader<R: Read> {
    header: PackageHeader,
    src: Src<R>,
    /// The decompression bound (see [`payload_limit`]).
    limit: u64,
    digests: Arc<Mutex<PayloadDigests>>,
    path_index: HashMap<String, usize>,
    hardlinks: Vec<Vec<usize>>,
    seen: Vec<bool>,
    compression: Compression,
    cur: Option<Current>,
    finished: bool,
    failed: bool,
    /// Whether the digests recorded in the package are computed and checked.
    check_digests: bool,
}

impl PayloadReader<BufReader<File>> {
    /// Open the package at `path`, read and verify its header, and position at the payload
    /// (reading ahead on a helper thread, see [`PayloadReader::read_ahead`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let label = path.display().to_string();
        let f = File::open(path).map_err(|e| Error::new(&label, io_kind("opening", e)))?;
        let mut r = BufReader::with_capacity(256 * 1024, f);
        let header = PackageHeader::read(&mut r, &label)?;
        Self::new(header, r)?.read_ahead()
    }
}

/// Whether [`PayloadReader::new_verified_whole`] takes the payload `payload` of a package
/// with `header`: zstd, of at most [`WHOLE_PAYLOAD_MAX`] bytes by the header's bound.
pub fn fits_whole(header: &PackageHeader, payload: &[u8]) -> bool {
    payload_limit(header) <= WHOLE_PAYLOAD_MAX
        && Compression::detect(payload) == Some(Compression::Zstd)
}

impl PayloadReader<io::Empty> {
    /// Like [`PayloadReader::new_verified`], for the payload of a package held whole in
    /// memory and already verified whole against a trusted SHA-256, when [`fits_whole`]:
    /// it is decompressed whole, at once, into a kept buffer the reader then reads from
    /// (`payload` is not needed afterwards). Structure, sizes, names, the size the
    /// signature header records and the decompression bound are checked exactly as by
    /// [`PayloadReader::new`]; a payload that does not fit fails.
    pub fn new_verified_whole(header: PackageHeader, payload: &[u8]) -> Result<Self> {
        Self::whole(header, payload)
    }
}

impl PayloadReader<io::Cursor<Vec<u8>>> {
    /// Like [`PayloadReader::new_verified`], for a package file held whole in memory
    /// (`file`, its payload from `payload_start` on, as [`PackageHeader::read`] left a
    /// reader of it) and already verified whole against a trusted SHA-256: decompressed
    /// whole at once when [`fits_whole`] (see [`PayloadReader::new_verified_whole`]),
    /// else streamed from memory, on the calling thread.
    pub fn new_verified_in_memory(
        header: PackageHeader,
        file: Vec<u8>,
        payload_start: usize,
    ) -> Result<Self> {
        let payload = file.get(payload_start..).unwrap_or(&[]);
        if fits_whole(&header, payload) {
            return Self::whole(header, payload);
        }
        let mut cursor = io::Cursor::new(file);
        cursor.set_position(payload_start as u64);
        Self::build(header, cursor, false)
    }
}

impl<R: Read> PayloadReader<R> {
    /// The reader of a verified package's `payload`, decompressed whole ([`fits_whole`]).
    fn whole(header: PackageHeader, payload: &[u8]) -> Result<Self> {
        let limit = payload_limit(&header);
        if !fits_whole(&header, payload) {
            return Err(Error::new(
                &header.label,
                ErrorKind::Payload("not a zstd payload small enough to decompress whole".into()),
            ));
        }
        let whole = Whole::zstd(payload, limit).map_err(|e| {
            let k = match map_io("decompressing the payload", e) {
                ErrorKind::TooLarge { .. } => ErrorKind::TooLarge { limit },
                k => k,
            };
            Error::new(&header.label, k)
        })?;
        // No digest to compute (the package was verified whole), but its size is still
        // checked against the signature header's, as when streaming.
        let mut counted = PayloadDigests::default();
        counted.update(payload);
        let digests = Arc::new(Mutex::new(counted));
        Ok(Self::assemble(
            header,
            Src::Whole(whole),
            limit,
            digests,
            Compression::Zstd,
            false,
        ))
    }
}

impl<R: Read> PayloadReader<R> {
    /// Start streaming the payload from `reader`, which must be positioned right after the
    /// main header (as [`PackageHeader::read`] leaves it). Verifies the header digest.
    pub fn new(header: PackageHeader, reader: R) -> Result<Self> {
        Self::build(header, reader, true)
    }

    /// Like [`PayloadReader::new`], for a package file already verified whole against a
    /// trusted SHA-256 (a pin, or a repodata checksum): that checksum covers every byte,
    /// so the header, payload and per-file digests recorded inside the package are not
    /// computed a second time. Structure, sizes, names and the decompression bound are
    /// still checked exactly as by [`PayloadReader::new`].
    pub fn new_verified(header: PackageHeader, reader: R) -> Result<Self> {
        Self::build(header, reader, false)
    }

    fn build(header: PackageHeader, reader: R, check_digests: bool) -> Result<Self> {
        let err = |k| Error::new(&header.label, k);
        let digests = if check_digests {
            verify::check_header_digests(&header).map_err(err)?;
            PayloadDigests::for_header(&header)
        } else {
            PayloadDigests::default()
        };
        let digests = Arc::new(Mutex::new(digests));
        let mut tap = RawTap {
            inner: reader,
            prefix: [0u8; 16],
            prefix_len: 0,
            prefix_pos: 0,
            state: digests.clone(),
        };
        // Detect the compression from the first bytes; the tag is only a fallback (the
        // real-world fixtures include packages whose tag and data disagree).
        let mut magic = [0u8; 16];
        let mut got = 0;
        while got < magic.len() {
            match tap.read(&mut magic[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(err(io_kind("reading the payload", e))),
            }
        }
        if got == 0 {
            return Err(err(ErrorKind::Truncated(
                "the file ends where the payload should start".into(),
            )));
        }
        tap.prefix = magic;
        tap.prefix_len = got;
        let compression = match Compression::detect(&magic[..got]) {
            Some(c) => c,
            None => header.declared_compression()?,
        };
        let decoder = Decoder::new(compression, tap)
            .map_err(|e| err(io_kind("starting the decompressor", e)))?;
        let limited = Limited {
            inner: decoder,
            count: 0,
            limit: payload_limit(&header),
            alt: if check_digests {
                verify::alt_digest(&header)
            } else {
                None
            },
        };
        let limit = limited.limit;
        let src = Src::Inline(Box::new(BufReader::with_capacity(256 * 1024, limited)));
        Ok(Self::assemble(
            header,
            src,
            limit,
            digests,
            compression,
            check_digests,
        ))
    }

    /// The reader of `header`'s payload from `src`.
    fn assemble(
        header: PackageHeader,
        src: Src<R>,
        limit: u64,
        digests: Arc<Mutex<PayloadDigests>>,
        compression: Compression,
        check_digests: bool,
    ) -> Self {
        let hardlinks = header.hardlink_sets();
        let path_index = header
            .files
            .iter()
            .enumerate()
            // source packages record bare names ("foo.spec"); the cpio names are the same
            .map(|(i, f)| (format!("/{}", f.path.trim_start_matches('/')), i))
            .collect();
        let n = header.files.len();
        PayloadReader {
            header,
            src,
            limit,
            digests,
            compression,
            path_index,
            hardlinks,
            seen: vec![false; n],
            cur: None,
            finished: false,
            failed: false,
            check_digests,
        }
    }
}

/// Upper bound for the decompressed payload: the larger of the archive size the header
/// records and what a cpio archive of the header's files can at most occupy (some
/// builders record a wrong archive size: rpm 4.11.90 betas, nfpm). Either way the bound
/// comes from the header, so a small package cannot expand to more than its header allows.
fn payload_limit(h: &PackageHeader) -> u64 {
    let mut total: u64 = 512;
    for f in &h.files {
        let name = f.path.len() as u64 + 8;
        total = total
            .saturating_add(110 + name + 4)
            .saturating_add(f.size.max(f.link_target.len() as u64) + 4);
    }
    total.max(h.archive_size.unwrap_or(0))
}

fn parse_hex(field: &[u8], what: &str) -> Result<u64, ErrorKind> {
    let s = std::str::from_utf8(field)
        .ok()
        .filter(|s| s.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| ErrorKind::Payload(format!("cpio {what} field is not hex: {field:?}")))?;
    u64::from_str_radix(s, 16)
        .map_err(|_| ErrorKind::Payload(format!("cpio {what} field is not hex: {s:?}")))
}

/// Turn a cpio name into the header path it stands for, rejecting `..` components.
///
/// rpm writes `./usr/bin/foo`; some builders (nfpm) write `/usr/bin/foo`, and rpm installs
/// those below the root like any other (it looks every name up in the header's file list).
/// We do the same: the name only selects a header entry, the path used is the header's,
/// and a name that matches none is an error. `..` is refused outright.
pub fn normalize_cpio_name(name: &str) -> Result<String, ErrorKind> {
    let rel = name.strip_prefix("./").unwrap_or(name);
    let mut out = String::with_capacity(rel.len() + 1);
    for comp in rel.split('/') {
        match comp {
            "" | "." => {}
            ".." => return Err(ErrorKind::UnsafePath(name.to_string())),
            c => {
                out.push('/');
                out.push_str(c);
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

fn map_io(context: &str, e: io::Error) -> ErrorKind {
    if e.get_ref().is_some_and(|i| i.is::<TooLarge>()) {
        // replaced by the caller with the real limit
        return ErrorKind::TooLarge { limit: 0 };
    }
    if e.kind() == io::ErrorKind::UnexpectedEof {
        return ErrorKind::Truncated(format!("payload ends while {context}"));
    }
    io_kind(context.to_string(), e)
}

impl<R: Read + Send + 'static> PayloadReader<R> {
    /// Moves reading and decompressing (and the payload digests) to a helper thread that
    /// stays at most 1 MiB ahead, so that they overlap with what the caller does with the
    /// files (the per-file digests, writing): on two cores the payload streams about as
    /// fast as it decompresses. The thread ends with the stream or when the reader is
    /// dropped. Errors are the same as without it.
    pub fn read_ahead(mut self) -> Result<Self> {
        let src = std::mem::replace(&mut self.src, Src::Switching);
        self.src = match src {
            Src::Inline(b) => {
                let buffered = b.buffer().to_vec();
                let ahead = Ahead::start(buffered, (*b).into_inner()).map_err(|e| {
                    Error::new(
                        &self.header.label,
                        io_kind("starting the read-ahead thread", e),
                    )
                })?;
                Src::Ahead(ahead)
            }
            ahead => ahead,
        };
        Ok(self)
    }
}

impl<R: Read> PayloadReader<R> {
    /// The package header.
    pub fn header(&self) -> &PackageHeader {
        &self.header
    }

    /// The compression detected from the payload's first bytes.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Give back the header, dropping the reader.
    pub fn into_header(self) -> PackageHeader {
        self.header
    }

    fn error(&mut self, k: ErrorKind) -> Error {
        self.failed = true;
        let k = match k {
            ErrorKind::TooLarge { .. } => ErrorKind::TooLarge { limit: self.limit },
            k => k,
        };
        Error::new(&self.header.label, k)
    }

    fn read_exact_src(&mut self, buf: &mut [u8], context: &str) -> Result<(), ErrorKind> {
        self.src.read_exact(buf).map_err(|e| map_io(context, e))
    }

    fn skip(&mut self, mut n: u64, context: &str) -> Result<(), ErrorKind> {
        while n > 0 {
            let avail = self.src.fill_buf().map_err(|e| map_io(context, e))?;
            if avail.is_empty() {
                return Err(ErrorKind::Truncated(format!(
                    "payload ends while {context}"
                )));
            }
            let k = avail.len().min(usize::try_from(n).unwrap_or(usize::MAX));
            self.src.consume(k);
            n -= k as u64;
        }
        Ok(())
    }

    /// Read content bytes of the current entry into `buf`, updating its digest.
    fn read_current(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let n = buf.len().min(self.fill_current()?);
        buf[..n].copy_from_slice(&self.src.buffer()[..n]);
        self.consume_current(n);
        Ok(n)
    }

    /// Makes the current entry's next content bytes available where the decompressed
    /// stream holds them (reading more from the file when it holds none) and returns how
    /// many there are, at most what is left of the entry: the caller reads them from
    /// `self.src.buffer()`, then [`PayloadReader::consume_current`]s them. Zero at the
    /// entry's end, which is then finished (padding skipped, digest checked).
    fn fill_current(&mut self) -> Result<usize, ErrorKind> {
        let Some(cur) = self.cur.as_ref() else {
            return Ok(0);
        };
        if cur.remaining == 0 {
            self.finish_current()?;
            return Ok(0);
        }
        let (index, remaining) = (cur.index, cur.remaining);
        let avail = self
            .src
            .fill_buf()
            .map_err(|e| map_io("reading file content", e))?
            .len();
        if avail == 0 {
            let path = &self.header.files[index].path;
            return Err(ErrorKind::Truncated(format!(
                "payload ends inside the content of {path}"
            )));
        }
        Ok(avail.min(usize::try_from(remaining).unwrap_or(usize::MAX)))
    }

    /// Marks the first `n` of the bytes [`PayloadReader::fill_current`] made available as
    /// read, updating the entry's digest (and a symlink's target) with them.
    fn consume_current(&mut self, n: usize) {
        let Some(cur) = self.cur.as_mut() else {
            return;
        };
        let bytes = self.src.buffer();
        let n = n
            .min(bytes.len())
            .min(usize::try_from(cur.remaining).unwrap_or(usize::MAX));
        if let Some(h) = &mut cur.hasher {
            h.update(&bytes[..n]);
        }
        if let Some(l) = &mut cur.link_data {
            l.extend_from_slice(&bytes[..n]);
        }
        self.src.consume(n);
        cur.remaining -= n as u64;
    }

    /// Drain the rest of the current entry, skip its padding and check its digest.
    fn finish_current(&mut self) -> Result<(), ErrorKind> {
        let Some(cur) = self.cur.as_ref() else {
            return Ok(());
        };
        if cur.done {
            return Ok(());
        }
        if cur.remaining > 0 {
            // Hashed where the bytes are: no buffer, no copy.
            loop {
                let n = self.fill_current()?;
                if n == 0 {
                    // fill_current called finish_current at the end of the data
                    return Ok(());
                }
                self.consume_current(n);
            }
        }
        let Some(cur) = self.cur.as_mut() else {
            return Ok(());
        };
        cur.done = true;
        let pad = cur.pad as u64;
        let index = cur.index;
        let hasher = cur.hasher.take();
        let link = cur.link_data.take();
        self.skip(pad, "skipping padding")?;
        let f = &self.header.files[index];
        if let Some(h) = hasher {
            let actual = h.finish();
            if actual != f.digest {
                return Err(ErrorKind::DigestMismatch {
                    what: format!("file {} {}", f.path, f.digest_algorithm),
                    expected: f.digest_hex(),
                    actual: hex::encode(actual),
                });
            }
        }
        if let Some(l) = link {
            if l != f.link_target.as_bytes() {
                return Err(ErrorKind::Payload(format!(
                    "symlink {} points to {:?} in the payload but {:?} in the header",
                    f.path,
                    String::from_utf8_lossy(&l),
                    f.link_target
                )));
            }
        }
        Ok(())
    }

    /// The next payload entry, or `None` after the trailer (when the payload digest has
    /// been verified). Any unread content of the previous entry is drained and checked.
    pub fn next_entry(&mut self) -> Result<Option<Entry<'_, R>>> {
        if self.failed {
            return Err(Error::new(
                &self.header.label,
                ErrorKind::Payload("reader already failed".into()),
            ));
        }
        if self.finished {
            return Ok(None);
        }
        match self.next_inner() {
            Ok(Some(info)) => Ok(Some(Entry { reader: self, info })),
            Ok(None) => {
                self.finished = true;
                Ok(None)
            }
            Err(k) => Err(self.error(k)),
        }
    }

    fn next_inner(&mut self) -> Result<Option<EntryInfo>, ErrorKind> {
        self.finish_current()?;
        self.cur = None;
        let mut magic = [0u8; 6];
        self.read_exact_src(&mut magic, "reading a cpio header")?;
        let (index, cpio_size, cpio_mode) = match &magic {
            b"070701" | b"070702" => {
                let mut h = [0u8; 104];
                self.read_exact_src(&mut h, "reading a cpio header")?;
                let field = |i: usize| &h[i * 8..i * 8 + 8];
                let mode = parse_hex(field(1), "mode")?;
                let filesize = parse_hex(field(6), "filesize")?;
                let namesize = parse_hex(field(11), "namesize")?;
                if namesize == 0 || namesize > MAX_NAME {
                    return Err(ErrorKind::Payload(format!(
                        "cpio name size {namesize} out of range"
                    )));
                }
                let mut name = vec![0u8; namesize as usize];
                self.read_exact_src(&mut name, "reading a cpio name")?;
                if name.pop() != Some(0) {
                    return Err(ErrorKind::Payload("cpio name not NUL-terminated".into()));
                }
                self.skip((4 - (110 + namesize) % 4) % 4, "skipping name padding")?;
                if name == TRAILER {
                    self.finish_archive()?;
                    return Ok(None);
                }
                let name = String::from_utf8_lossy(&name).into_owned();
                let path = normalize_cpio_name(&name)?;
                let index = *self.path_index.get(&path).ok_or_else(|| {
                    ErrorKind::Payload(format!(
                        "payload entry {name:?} is not in the header's file list"
                    ))
                })?;
                (index, Some(filesize), Some(mode as u32))
            }
            b"07070X" => {
                let mut h = [0u8; 8];
                self.read_exact_src(&mut h, "reading a stripped cpio header")?;
                let index = parse_hex(&h, "file index")?;
                self.skip(2, "skipping header padding")?;
                let index = usize::try_from(index)
                    .ok()
                    .filter(|&i| i < self.header.files.len())
                    .ok_or_else(|| {
                        ErrorKind::Payload(format!(
                            "stripped cpio file index {index} out of range ({} files)",
                            self.header.files.len()
                        ))
                    })?;
                (index, None, None)
            }
            m => {
                return Err(ErrorKind::BadMagic(format!(
                    "cpio entry starts with {:?} instead of 070701/07070X",
                    String::from_utf8_lossy(m)
                )))
            }
        };
        if self.seen[index] {
            return Err(ErrorKind::Payload(format!(
                "{} appears twice in the payload",
                self.header.files[index].path
            )));
        }
        self.seen[index] = true;
        let f = &self.header.files[index];
        let set = &self.hardlinks[index];
        if let Some(m) = cpio_mode {
            if m & 0o170000 != f.mode & 0o170000 {
                return Err(ErrorKind::Payload(format!(
                    "{}: file type {:o} in the payload but {:o} in the header",
                    f.path,
                    m & 0o170000,
                    f.mode & 0o170000
                )));
            }
        }
        let (size, has_content) = if f.flags.is_ghost() {
            // Legacy packages may carry ghost records: drain, don't expose.
            let s = cpio_size.unwrap_or(0);
            if s != 0 && s != f.size {
                return Err(ErrorKind::SizeMismatch {
                    path: f.path.clone(),
                    header: f.size,
                    payload: s,
                });
            }
            (s, false)
        } else if f.is_regular() {
            match cpio_size {
                Some(s) if s == f.size => (s, true),
                Some(0) if !set.is_empty() => (0, false),
                Some(s) => {
                    return Err(ErrorKind::SizeMismatch {
                        path: f.path.clone(),
                        header: f.size,
                        payload: s,
                    })
                }
                // stripped: the last member of a hardlink set (header order) carries it
                None if set.last().is_some_and(|&l| l != index) => (0, false),
                None => (f.size, true),
            }
        } else if f.is_symlink() {
            let want = f.link_target.len() as u64;
            match cpio_size {
                Some(s) if s != want => {
                    return Err(ErrorKind::SizeMismatch {
                        path: f.path.clone(),
                        header: want,
                        payload: s,
                    })
                }
                _ => (want, true),
            }
        } else {
            match cpio_size {
                Some(s) if s != 0 => {
                    return Err(ErrorKind::SizeMismatch {
                        path: f.path.clone(),
                        header: 0,
                        payload: s,
                    })
                }
                _ => (0, true),
            }
        };
        let check_digest =
            self.check_digests && has_content && f.is_regular() && !f.digest.is_empty();
        self.cur = Some(Current {
            index,
            remaining: size,
            pad: ((4 - size % 4) % 4) as usize,
            hasher: check_digest.then(|| f.digest_algorithm.hasher()),
            link_data: (f.is_symlink() && !f.flags.is_ghost()).then(Vec::new),
            done: false,
        });
        Ok(Some(EntryInfo {
            index,
            path: f.path.clone(),
            mode: f.mode,
            size,
            file_size: f.size,
            hardlinks: set.clone(),
            has_content,
        }))
    }

    /// After the trailer: drain the rest of the stream, check every non-ghost file was
    /// present, and verify the payload digest.
    fn finish_archive(&mut self) -> Result<(), ErrorKind> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = self
                .src
                .read(&mut buf)
                .map_err(|e| map_io("reading past the cpio trailer", e))?;
            if n == 0 {
                break;
            }
        }
        if let Some((i, f)) = self
            .header
            .files
            .iter()
            .enumerate()
            .find(|(i, f)| !self.seen[*i] && !f.flags.is_ghost())
        {
            return Err(ErrorKind::Payload(format!(
                "file {} (index {i}) is missing from the payload",
                f.path
            )));
        }
        // The compressed bytes the decoder did not need (for the digest), and the
        // uncompressed-payload digest: here, or reported by the read-ahead thread.
        match &mut self.src {
            Src::Inline(r) => finish_stream(r.get_mut())?,
            Src::Ahead(r) => r
                .end
                .take()
                .unwrap_or_else(|| Err(ErrorKind::Payload("the payload did not end".into())))?,
            // Only made for a verified package: no digest to check.
            Src::Whole(_) | Src::Switching => {}
        }
        let state = std::mem::take(
            &mut *self
                .digests
                .lock()
                .map_err(|_| ErrorKind::Payload("digest state poisoned".into()))?,
        );
        state.verify(&self.header)
    }
}

/// One payload entry; reading it yields the file's content (symlinks: the target).
pub struct Entry<'a, R: Read> {
    reader: &'a mut PayloadReader<R>,
    info: EntryInfo,
}

impl<R: Read> Entry<'_, R> {
    /// What this entry is.
    pub fn info(&self) -> &EntryInfo {
        &self.info
    }

    /// The header's record for this file.
    pub fn file(&self) -> &FileEntry {
        &self.reader.header.files[self.info.index]
    }

    /// Read to the end of the content and check its digest, discarding the bytes.
    pub fn finish(&mut self) -> Result<()> {
        let r = &mut *self.reader;
        match r.finish_current() {
            Ok(()) => Ok(()),
            Err(k) => Err(r.error(k)),
        }
    }
}

/// The entry's content where the payload reader holds it (no copy): what
/// [`Read::read`] would give, for a caller that hashes or writes the bytes in place.
/// Reading it to its end (an empty `fill_buf`) checks the file's digest, as `read` does.
impl<R: Read> BufRead for Entry<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let r = &mut *self.reader;
        match r.fill_current() {
            Ok(n) => Ok(&r.src.buffer()[..n]),
            Err(k) => {
                let e = r.error(k);
                Err(io::Error::new(io::ErrorKind::InvalidData, e))
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.reader.consume_current(n);
    }
}

impl<R: Read> Read for Entry<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = &mut *self.reader;
        match r.read_current(buf) {
            Ok(n) => Ok(n),
            Err(k) => {
                let e = r.error(k);
                Err(io::Error::new(io::ErrorKind::InvalidData, e))
            }
        }
    }
}

/// Stream the whole payload of the package at `path`, checking every digest, and return
/// the number of entries read.
pub fn verify_payload(path: impl AsRef<Path>) -> Result<usize> {
    let mut r = PayloadReader::open(path)?;
    let mut n = 0;
    while let Some(mut e) = r.next_entry()? {
        e.finish()?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compresses `data` as one xz stream and rewrites the LZMA2 dictionary size in its
    /// block header to 1 GiB (fixing the header's CRC32): a few bytes that demand a 1 GiB
    /// dictionary from the decoder.
    pub(crate) fn xz_demanding_1_gib(data: &[u8]) -> Vec<u8> {
        let mut enc = liblzma::write::XzEncoder::new(Vec::new(), 1);
        std::io::Write::write_all(&mut enc, data).unwrap();
        let mut xz = enc.finish().unwrap();
        // Stream header (12 bytes), then the block header: size, flags (no sizes, one
        // filter), LZMA2 filter id 0x21, properties size 1, the dictionary byte.
        let start = 12;
        let len = (usize::from(xz[start]) + 1) * 4;
        assert_eq!(
            &xz[start + 1..start + 4],
            &[0x00, 0x21, 0x01],
            "block header"
        );
        xz[start + 4] = 36; // (2 | 0) << (36 / 2 + 11) = 1 GiB
        let mut crc = flate2::Crc::new();
        crc.update(&xz[start..start + len - 4]);
        xz[start + len - 4..start + len].copy_from_slice(&crc.sum().to_le_bytes());
        xz
    }

    fn decode_all(c: Compression, data: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Decoder::new(c, data)?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn decoders_refuse_to_allocate_what_a_few_crafted_bytes_demand() {
        let text = b"0123456789".repeat(100);
        // zstd: a frame that declares a 2 GiB window (zstd's own default limit is 128 MiB).
        let mut enc = zstd::stream::Encoder::new(Vec::new(), 1).unwrap();
        std::io::Write::write_all(&mut enc, &text).unwrap();
        let mut zst = enc.finish().unwrap();
        assert_eq!(decode_all(Compression::Zstd, &zst).unwrap(), text);
        assert_eq!(zst[4] & 0x20, 0, "the frame has a window descriptor");
        zst[5] = (31 - 10) << 3;
        assert!(decode_all(Compression::Zstd, &zst).is_err(), "2 GiB window");

        // xz: a block whose LZMA2 dictionary is 1 GiB.
        let xz = xz_demanding_1_gib(&text);
        assert!(
            decode_all(Compression::Xz, &xz).is_err(),
            "1 GiB dictionary"
        );

        // legacy lzma: the header's dictionary size, 1 GiB.
        let opts = liblzma::stream::LzmaOptions::new_preset(1).unwrap();
        let stream = liblzma::stream::Stream::new_lzma_encoder(&opts).unwrap();
        let mut enc = liblzma::write::XzEncoder::new_stream(Vec::new(), stream);
        std::io::Write::write_all(&mut enc, &text).unwrap();
        let mut lzma = enc.finish().unwrap();
        assert_eq!(decode_all(Compression::Lzma, &lzma).unwrap(), text);
        lzma[1..5].copy_from_slice(&(1u32 << 30).to_le_bytes());
        assert!(
            decode_all(Compression::Lzma, &lzma).is_err(),
            "1 GiB dictionary"
        );
    }

    #[test]
    fn zstd_input_spanning_many_pooled_buffers_decodes_whole_and_truncated_fails() {
        // Hardly compressible: the frame is several times the input buffer.
        let data = dev_support::pseudo_random(1, 3 * AHEAD_CHUNK);
        let zst = zstd::stream::encode_all(&data[..], 3).unwrap();
        assert!(zst.len() > 2 * AHEAD_CHUNK, "{}", zst.len());
        assert!(decode_all(Compression::Zstd, &zst).unwrap() == data);
        // Read in odd pieces, through the input's own `Read` too.
        let mut input = ZstdInput::new(&zst[..]);
        let mut back = Vec::new();
        let mut piece = [0u8; 1000];
        loop {
            let n = input.read(&mut piece).unwrap();
            if n == 0 {
                break;
            }
            back.extend_from_slice(&piece[..n]);
        }
        assert!(back == zst);
        let cut = &zst[..zst.len() - 10];
        let e = decode_all(Compression::Zstd, cut).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
    }

    #[test]
    fn cpio_names() {
        assert_eq!(normalize_cpio_name("./usr/bin/x").unwrap(), "/usr/bin/x");
        assert_eq!(normalize_cpio_name("usr/./bin//x").unwrap(), "/usr/bin/x");
        assert!(normalize_cpio_name("./../etc/passwd").is_err());
        assert_eq!(normalize_cpio_name("/etc/passwd").unwrap(), "/etc/passwd");
        assert!(normalize_cpio_name("./usr/../../x").is_err());
    }
}
