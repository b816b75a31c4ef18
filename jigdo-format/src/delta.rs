//! Delta RPMs (specs/jigdo-format.md §6): what a client holding a *base* commit needs to
//! reach a *target* commit, carried in one ordinary RPM.
//!
//! The payload file `3-delta` is one zstd stream of records: a header, the metadata objects
//! (dirtrees, dirmetas) the target has and the base lacks, verbatim, then the content
//! objects the target has and the base lacks, each whole or as a zstd patch against a base
//! object. [`DeltaWriter`] writes the stream, [`DeltaReader`] reads it with every length
//! bounded, streaming the bytes of whole objects.

use std::io::{self, BufRead, BufReader, Read, Write};

use crate::varint::put_u;
use crate::FormatError;

/// The `Provides:` that marks a delta RPM of this format version.
pub const DELTA_PROVIDE: &str = "ostree-jigdo-delta(v1)";

/// Prefix of every delta-marking `Provides:` (`ostree-jigdo-delta(vN)`).
pub const DELTA_PROVIDE_PREFIX: &str = "ostree-jigdo-delta(v";

/// The version of the delta stream (and of [`DELTA_PROVIDE`]).
pub const DELTA_VERSION: u64 = 1;

/// Magic bytes that open the decompressed `3-delta` stream.
pub const DELTA_MAGIC: &[u8; 8] = b"OJIGDODL";

/// Largest metadata object (dirtree, dirmeta) a reader accepts.
pub const MAX_DELTA_METADATA: u64 = 64 << 20;
/// Largest patch a reader accepts (a patch is held in memory while applied).
pub const MAX_DELTA_PATCH: u64 = 1 << 30;
/// Largest zstd window (log2) a reader accepts for a patch: bounds its memory.
pub const MAX_DELTA_WINDOW_LOG: u32 = 30;
/// Largest decompressed size of either side of a recompressed patch (each is held in
/// memory while patched).
pub const MAX_DELTA_RAW: u64 = 1 << 30;
/// Largest zstd level a recompressed patch may name (higher levels need windows and
/// memory a client should not be asked for).
pub const MAX_RECOMPRESS_LEVEL: i32 = 19;
/// Largest window (log2) of a zstd object whose decompressed bytes are patched.
pub const MAX_RECOMPRESS_WINDOW_LOG: u32 = 27;

/// The `Provides:` naming the base commit of a delta RPM.
pub fn delta_base_provide(base_hex: &str) -> String {
    format!("ostree-jigdo-delta-base({base_hex})")
}

/// The `Provides:` naming the target commit of a delta RPM.
pub fn delta_target_provide(target_hex: &str) -> String {
    format!("ostree-jigdo-delta-target({target_hex})")
}

fn parse_hex_provide<'a>(provide: &'a str, prefix: &str) -> Option<&'a str> {
    provide
        .strip_prefix(prefix)?
        .strip_suffix(')')
        .filter(|c| c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Extracts the base commit from an `ostree-jigdo-delta-base(CHECKSUM)` provide name.
pub fn parse_delta_base_provide(provide: &str) -> Option<&str> {
    parse_hex_provide(provide, "ostree-jigdo-delta-base(")
}

/// Extracts the target commit from an `ostree-jigdo-delta-target(CHECKSUM)` provide name.
pub fn parse_delta_target_provide(provide: &str) -> Option<&str> {
    parse_hex_provide(provide, "ostree-jigdo-delta-target(")
}

/// The payload directory of the delta RPM from `base_hex` to `target_hex`.
pub fn delta_payload_dir(base_hex: &str, target_hex: &str) -> String {
    format!("/usr/share/ostree-jigdo/delta/{base_hex}-{target_hex}")
}

/// The package name of a delta RPM: the jigdo RPM's name, `-delta-`, and the first 12
/// hex digits of the base commit (so that the deltas of one target differ by name).
pub fn delta_package_name(jigdo_name: &str, base_hex: &str) -> String {
    format!("{jigdo_name}-delta-{}", &base_hex[..base_hex.len().min(12)])
}

/// One file of a delta RPM's payload, by its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaPayloadFile {
    /// `0-commit`: the target commit object.
    Commit,
    /// `1-commitmeta`: the target's detached metadata, if any.
    CommitMeta,
    /// `2-index`: the target's jigdo index (what its packages' files become).
    Index,
    /// `3-delta`: the zstd stream of records.
    Delta,
}

impl DeltaPayloadFile {
    /// The file name relative to [`delta_payload_dir`].
    pub fn relative_path(self) -> &'static str {
        match self {
            DeltaPayloadFile::Commit => "0-commit",
            DeltaPayloadFile::CommitMeta => "1-commitmeta",
            DeltaPayloadFile::Index => "2-index",
            DeltaPayloadFile::Delta => "3-delta",
        }
    }

    /// The absolute path inside the delta RPM.
    pub fn path(self, base_hex: &str, target_hex: &str) -> String {
        format!(
            "{}/{}",
            delta_payload_dir(base_hex, target_hex),
            self.relative_path()
        )
    }

    /// Recognises a payload path (absolute or with rpm's leading `./`).
    pub fn parse(path: &str, base_hex: &str, target_hex: &str) -> Option<DeltaPayloadFile> {
        let path = path.strip_prefix('.').unwrap_or(path);
        let rest = path
            .strip_prefix(&delta_payload_dir(base_hex, target_hex))?
            .strip_prefix('/')?;
        [
            DeltaPayloadFile::Commit,
            DeltaPayloadFile::CommitMeta,
            DeltaPayloadFile::Index,
            DeltaPayloadFile::Delta,
        ]
        .into_iter()
        .find(|f| f.relative_path() == rest)
    }
}

/// Metadata object types in a delta (OSTree's own numbering).
pub const OBJTYPE_DIRTREE: u64 = 2;
/// See [`OBJTYPE_DIRTREE`].
pub const OBJTYPE_DIRMETA: u64 = 3;

/// The header of a content object: what OSTree hashes besides the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaObjectHeader {
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Full `st_mode`.
    pub mode: u32,
    /// Extended attributes as OSTree's `a(ayay)` serialisation.
    pub xattrs: Vec<u8>,
    /// The link target, for a symlink.
    pub symlink: Option<String>,
}

/// How a content object's bytes are carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeltaOp {
    /// The bytes follow (`size` of them); also used for symlinks (size 0).
    Whole {
        /// Bytes that follow.
        size: u64,
    },
    /// A zstd frame made with the base object's bytes as reference prefix
    /// (`zstd --patch-from`) follows; it decompresses to `size` bytes.
    Patch {
        /// The base content object whose bytes are the prefix.
        base: [u8; 32],
        /// Size of the object.
        size: u64,
        /// Bytes of the zstd frame that follow.
        patch_len: u64,
        /// log2 of the window needed to decompress it.
        window_log: u32,
    },
    /// The object and its base are single zstd frames: a zstd patch of the decompressed
    /// target against the decompressed base follows; the object is that, compressed again
    /// with `zstd` ([`zstd_recompress`]).
    RecompressedPatch {
        /// The base content object (a zstd frame) whose decompressed bytes are the prefix.
        base: [u8; 32],
        /// Size of the object (compressed).
        size: u64,
        /// What recompresses the patched bytes into the object.
        zstd: ZstdParams,
        /// Decompressed size of the base object.
        base_raw_size: u64,
        /// Decompressed size of the object.
        raw_size: u64,
        /// Bytes of the zstd patch that follow.
        patch_len: u64,
        /// log2 of the window needed to decompress the patch.
        window_log: u32,
    },
}

/// What reproduces a zstd frame exactly: streaming compression (no size known up front
/// unless `content_size`) with this crate's libzstd at `level`, with the given frame flags,
/// single-threaded or through libzstd's multithreaded compressor (whose output is the same
/// for any number of worker threads, and differs from the single-threaded one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZstdParams {
    /// Compression level (1 to [`MAX_RECOMPRESS_LEVEL`]).
    pub level: i32,
    /// The frame carries a content checksum.
    pub checksum: bool,
    /// The frame carries its content size (the size is pledged before compressing).
    pub content_size: bool,
    /// Compressed by libzstd's multithreaded compressor (`zstd -T1`, `-T0`: the zstd CLI's
    /// default, dracut's and initramfs-tools' way).
    pub multithreaded: bool,
    /// The libzstd release that reproduced the frame at pack time (`ZSTD_versionNumber`,
    /// e.g. 10504 for 1.5.4); 0 when not recorded. A client linked with another release
    /// may compress differently; the object's checksum then tells, and the error names
    /// both releases.
    pub libzstd_version: u32,
}

/// Flag bits of a recompressed record (spec §6).
const RECOMPRESS_CHECKSUM: u64 = 1;
const RECOMPRESS_CONTENT_SIZE: u64 = 2;
const RECOMPRESS_MULTITHREADED: u64 = 4;
const RECOMPRESS_VERSION_FOLLOWS: u64 = 8;

impl ZstdParams {
    fn flags(self) -> u64 {
        let bit = |on: bool, b: u64| if on { b } else { 0 };
        bit(self.checksum, RECOMPRESS_CHECKSUM)
            | bit(self.content_size, RECOMPRESS_CONTENT_SIZE)
            | bit(self.multithreaded, RECOMPRESS_MULTITHREADED)
            | bit(self.libzstd_version != 0, RECOMPRESS_VERSION_FOLLOWS)
    }
}

/// The release of the libzstd this build is linked with (`ZSTD_versionNumber`, e.g. 10504).
pub fn libzstd_version() -> u32 {
    zstd::zstd_safe::version_number()
}

/// A libzstd release number (10504) as people write it (1.5.4).
pub fn libzstd_version_name(v: u32) -> String {
    format!("{}.{}.{}", v / 10000, v / 100 % 100, v % 100)
}

/// The frame flags (checksum, content size) of `bytes` if they are exactly one zstd frame
/// without a dictionary; `None` for anything else.
pub fn zstd_frame_flags(bytes: &[u8]) -> Option<(bool, bool)> {
    if bytes.len() < 6 || bytes[..4] != [0x28, 0xb5, 0x2f, 0xfd] {
        return None;
    }
    match zstd::zstd_safe::find_frame_compressed_size(bytes) {
        Ok(n) if n == bytes.len() => {}
        _ => return None,
    }
    let fhd = bytes[4];
    if fhd & 0x03 != 0 || fhd & 0x08 != 0 {
        return None; // dictionary id, reserved bit
    }
    Some((fhd & 0x04 != 0, fhd >> 6 != 0 || fhd & 0x20 != 0))
}

/// A reader of the decompressed bytes of one zstd frame held in memory (window at most
/// 2^[`MAX_RECOMPRESS_WINDOW_LOG`]), decoding only as far as it is read.
pub fn zstd_frame_reader(frame: &[u8]) -> io::Result<impl Read + '_> {
    let mut dec = zstd::stream::read::Decoder::with_buffer(frame)?.single_frame();
    dec.window_log_max(MAX_RECOMPRESS_WINDOW_LOG)?;
    Ok(dec)
}

/// Decompresses one zstd frame in memory (window at most 2^[`MAX_RECOMPRESS_WINDOW_LOG`])
/// into a buffer of exactly its size (a first pass counts the bytes: a growing buffer
/// would take up to twice the memory); fails if it holds more than `limit` bytes.
pub fn zstd_decompress_exact(frame: &[u8], limit: u64) -> io::Result<Vec<u8>> {
    let size = io::copy(
        &mut zstd_frame_reader(frame)?.take(limit.saturating_add(1)),
        &mut io::sink(),
    )?;
    let capacity = usize::try_from(size.min(limit))
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "zstd object too large"))?;
    zstd_decompress_into(frame, limit, Vec::with_capacity(capacity))
}

/// Decompresses one zstd frame from `r` that must hold exactly `size` bytes (a size a
/// delta record gives), into a buffer of that size; any other size fails.
pub fn zstd_decompress_sized(r: impl Read, size: u64) -> io::Result<Vec<u8>> {
    let out = zstd_decompress_into(r, size, Vec::with_capacity(raw_capacity(size)?))?;
    if out.len() as u64 != size {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "zstd object decompresses to {} bytes, not {size}",
                out.len()
            ),
        ));
    }
    Ok(out)
}

/// Applies `patch` (a zstd frame that uses `base` as its prefix) in one call, into a
/// buffer of exactly `size` bytes (at most [`MAX_DELTA_RAW`]): the output is the
/// decoder's window, so no window is allocated beside it and the frame's window size
/// does not matter. Any other size fails.
pub fn zstd_patch_exact(patch: &[u8], base: &[u8], size: u64) -> io::Result<Vec<u8>> {
    use zstd::zstd_safe::DCtx;
    let zstd_err = |code: usize| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("zstd patch: {}", zstd::zstd_safe::get_error_name(code)),
        )
    };
    let mut out = Vec::with_capacity(raw_capacity(size)?);
    let mut dctx = DCtx::create();
    dctx.ref_prefix(base).map_err(zstd_err)?;
    dctx.decompress(&mut out, patch).map_err(zstd_err)?;
    if out.len() as u64 != size {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("zstd patch gives {} bytes, not {size}", out.len()),
        ));
    }
    Ok(out)
}

/// A buffer capacity for `size` decompressed bytes, at most [`MAX_DELTA_RAW`].
fn raw_capacity(size: u64) -> io::Result<usize> {
    if size > MAX_DELTA_RAW {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{size} decompressed bytes is over the limit of {MAX_DELTA_RAW}"),
        ));
    }
    usize::try_from(size)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "zstd object too large"))
}

fn zstd_decompress_into(r: impl Read, limit: u64, mut out: Vec<u8>) -> io::Result<Vec<u8>> {
    let mut dec = zstd::stream::read::Decoder::new(r)?.single_frame();
    dec.window_log_max(MAX_RECOMPRESS_WINDOW_LOG)?;
    dec.take(limit.saturating_add(1)).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("zstd object decompresses to more than {limit} bytes"),
        ));
    }
    Ok(out)
}

/// The zstd frame of `raw` (`raw_size` bytes) compressed as a stream with `params`: the one
/// recompression that `jigdo pack` checks and a client runs, so both get the same bytes.
/// The compressor is always driven the same way (input in full chunks of 128 KiB, output
/// into a buffer of `ZSTD_CStreamOutSize`), whatever the source's and the caller's read
/// sizes: libzstd's output may depend on how it is called. A multithreaded frame is
/// compressed by `workers` threads (at least 1): libzstd's multithreaded output is the
/// same for any number of them (each job of the frame is compressed alone), and each one
/// holds a compression context of its own (about 50 MiB at level 12: heaptrack, session 9).
pub fn zstd_recompress<R: Read>(
    raw: R,
    raw_size: u64,
    params: ZstdParams,
    workers: u32,
) -> io::Result<impl Read> {
    use zstd::zstd_safe::CParameter;
    let mut enc = zstd::stream::raw::Encoder::new(params.level)?;
    enc.set_parameter(CParameter::ChecksumFlag(params.checksum))?;
    enc.set_parameter(CParameter::ContentSizeFlag(params.content_size))?;
    if params.multithreaded {
        enc.set_parameter(CParameter::NbWorkers(workers.max(1)))?;
    }
    if params.content_size {
        enc.set_pledged_src_size(Some(raw_size))?;
    }
    Ok(Recompress {
        raw,
        enc,
        input: Vec::with_capacity(RECOMPRESS_CHUNK),
        output: vec![0; zstd::zstd_safe::CCtx::out_size()],
        out_start: 0,
        out_end: 0,
        state: RecompressState::Compressing,
    })
}

/// Input chunk of [`zstd_recompress`].
const RECOMPRESS_CHUNK: usize = 128 << 10;

/// Bytes read once, front to back, whose memory is given back as they are read: they are
/// held in pieces, each dropped once read. Made to feed [`zstd_recompress`] a decompressed
/// object, which libzstd's multithreaded compressor copies into buffers of its own at
/// once: the object is then not held twice.
pub struct DrainingBytes {
    /// The pieces, the last one read first (the front of the bytes).
    pieces: Vec<Vec<u8>>,
    /// How much of the last piece was read.
    at: usize,
}

/// Size of the pieces of [`DrainingBytes`].
const DRAINING_PIECE: usize = 4 << 20;

impl DrainingBytes {
    /// Takes `bytes`, cut into pieces of 4 MiB from the back (each copied out, then the
    /// buffer shrunk: glibc gives a large block's tail back to the system), so that at
    /// no time more than one piece is held twice.
    pub fn new(mut bytes: Vec<u8>) -> DrainingBytes {
        let mut pieces = Vec::with_capacity(bytes.len() / DRAINING_PIECE + 1);
        while bytes.len() > DRAINING_PIECE {
            let cut = (bytes.len() - 1) / DRAINING_PIECE * DRAINING_PIECE;
            pieces.push(bytes[cut..].to_vec());
            bytes.truncate(cut);
            bytes.shrink_to_fit();
        }
        pieces.push(bytes);
        DrainingBytes { pieces, at: 0 }
    }
}

impl Read for DrainingBytes {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while let Some(piece) = self.pieces.last() {
            if self.at < piece.len() {
                let n = (piece.len() - self.at).min(buf.len());
                buf[..n].copy_from_slice(&piece[self.at..self.at + n]);
                self.at += n;
                return Ok(n);
            }
            self.pieces.pop();
            self.at = 0;
        }
        Ok(0)
    }
}

#[derive(PartialEq)]
enum RecompressState {
    Compressing,
    Ending,
    Done,
}

struct Recompress<R> {
    raw: R,
    enc: zstd::stream::raw::Encoder<'static>,
    input: Vec<u8>,
    output: Vec<u8>,
    out_start: usize,
    out_end: usize,
    state: RecompressState,
}

impl<R: Read> Recompress<R> {
    /// Produces the next output (none only when the frame is complete).
    fn step(&mut self) -> io::Result<()> {
        use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
        self.out_start = 0;
        self.out_end = 0;
        while self.out_end == 0 && self.state != RecompressState::Done {
            if self.state == RecompressState::Ending {
                let mut out = OutBuffer::around(&mut self.output[..]);
                let left = self.enc.finish(&mut out, true)?;
                self.out_end = out.pos();
                if left == 0 {
                    self.state = RecompressState::Done;
                }
                continue;
            }
            if self.input.is_empty() {
                // A full chunk, or what is left at the end of the source.
                let mut filled = 0;
                self.input.resize(RECOMPRESS_CHUNK, 0);
                while filled < RECOMPRESS_CHUNK {
                    match self.raw.read(&mut self.input[filled..]) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                self.input.truncate(filled);
                if filled == 0 {
                    self.state = RecompressState::Ending;
                    continue;
                }
            }
            let mut inb = InBuffer::around(&self.input[..]);
            let mut out = OutBuffer::around(&mut self.output[..]);
            self.enc.run(&mut inb, &mut out)?;
            let consumed = inb.pos();
            self.out_end = out.pos();
            self.input.drain(..consumed);
        }
        Ok(())
    }
}

impl<R: Read> Read for Recompress<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.out_start == self.out_end {
            self.step()?;
        }
        let n = (self.out_end - self.out_start).min(buf.len());
        buf[..n].copy_from_slice(&self.output[self.out_start..self.out_start + n]);
        self.out_start += n;
        Ok(n)
    }
}

/// One content object record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaObject {
    /// The content object's checksum.
    pub checksum: [u8; 32],
    /// Its header.
    pub header: DeltaObjectHeader,
    /// Where its bytes come from.
    pub op: DeltaOp,
}

/// The header of a delta stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaHeader {
    /// The base commit.
    pub base: [u8; 32],
    /// The target commit.
    pub target: [u8; 32],
    /// Number of metadata object records.
    pub metadata_count: u64,
    /// Number of content object records.
    pub content_count: u64,
}

/// Writes a `3-delta` stream (records in order: header, metadata, content).
pub struct DeltaWriter<W: Write> {
    out: zstd::stream::write::Encoder<'static, W>,
}

impl<W: Write> DeltaWriter<W> {
    /// Starts the stream, compressed at `level` with a window of 2^`window_log` bytes and
    /// long-distance matching.
    pub fn new(out: W, level: i32, window_log: u32, header: &DeltaHeader) -> io::Result<Self> {
        let mut enc = zstd::stream::write::Encoder::new(out, level)?;
        enc.window_log(window_log)?;
        enc.long_distance_matching(true)?;
        let mut w = DeltaWriter { out: enc };
        let mut buf = Vec::with_capacity(96);
        buf.extend_from_slice(DELTA_MAGIC);
        put_u(&mut buf, DELTA_VERSION);
        buf.extend_from_slice(&header.base);
        buf.extend_from_slice(&header.target);
        put_u(&mut buf, header.metadata_count);
        put_u(&mut buf, header.content_count);
        w.out.write_all(&buf)?;
        Ok(w)
    }

    /// Writes one metadata object record.
    pub fn metadata(&mut self, objtype: u64, bytes: &[u8]) -> io::Result<()> {
        let mut buf = Vec::with_capacity(12);
        put_u(&mut buf, objtype);
        put_u(&mut buf, bytes.len() as u64);
        self.out.write_all(&buf)?;
        self.out.write_all(bytes)
    }

    /// Writes one content object record; `data` must hold exactly the bytes `op` announces
    /// (the object's bytes, or the patch).
    pub fn content(&mut self, object: &DeltaObject, data: &mut dyn Read) -> io::Result<()> {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&object.checksum);
        let h = &object.header;
        put_u(&mut buf, h.uid.into());
        put_u(&mut buf, h.gid.into());
        put_u(&mut buf, h.mode.into());
        put_u(&mut buf, h.xattrs.len() as u64);
        buf.extend_from_slice(&h.xattrs);
        let expect = match (&h.symlink, &object.op) {
            (Some(target), _) => {
                put_u(&mut buf, 2);
                put_u(&mut buf, target.len() as u64);
                buf.extend_from_slice(target.as_bytes());
                0
            }
            (None, DeltaOp::Whole { size }) => {
                put_u(&mut buf, 0);
                put_u(&mut buf, *size);
                *size
            }
            (
                None,
                DeltaOp::Patch {
                    base,
                    size,
                    patch_len,
                    window_log,
                },
            ) => {
                put_u(&mut buf, 1);
                buf.extend_from_slice(base);
                put_u(&mut buf, *size);
                put_u(&mut buf, (*window_log).into());
                put_u(&mut buf, *patch_len);
                *patch_len
            }
            (
                None,
                DeltaOp::RecompressedPatch {
                    base,
                    size,
                    zstd,
                    base_raw_size,
                    raw_size,
                    patch_len,
                    window_log,
                },
            ) => {
                if !(1..=MAX_RECOMPRESS_LEVEL).contains(&zstd.level) {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("recompression level {} out of range", zstd.level),
                    ));
                }
                put_u(&mut buf, 3);
                buf.extend_from_slice(base);
                put_u(&mut buf, *size);
                put_u(&mut buf, zstd.level as u64);
                put_u(&mut buf, zstd.flags());
                if zstd.libzstd_version != 0 {
                    put_u(&mut buf, zstd.libzstd_version.into());
                }
                put_u(&mut buf, *base_raw_size);
                put_u(&mut buf, *raw_size);
                put_u(&mut buf, (*window_log).into());
                put_u(&mut buf, *patch_len);
                *patch_len
            }
        };
        self.out.write_all(&buf)?;
        let copied = io::copy(&mut data.take(expect), &mut self.out)?;
        if copied != expect {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("delta record: {copied} of {expect} bytes available"),
            ));
        }
        Ok(())
    }

    /// Ends the stream and returns the writer.
    pub fn finish(self) -> io::Result<W> {
        self.out.finish()
    }
}

/// Reads a `3-delta` stream; every length is bounded and the stream must end exactly after
/// the announced records.
pub struct DeltaReader<R: Read> {
    input: BufReader<zstd::stream::read::Decoder<'static, BufReader<R>>>,
    /// The stream's header.
    pub header: DeltaHeader,
    metadata_left: u64,
    content_left: u64,
    /// Bytes of the current record not yet read by the caller.
    pending: u64,
}

fn truncated(what: &'static str) -> FormatError {
    FormatError::Truncated(what)
}

impl<R: Read> DeltaReader<R> {
    /// Opens the stream and reads its header.
    pub fn new(input: R) -> Result<Self, FormatError> {
        let mut dec = zstd::stream::read::Decoder::new(input).map_err(FormatError::Compression)?;
        dec.window_log_max(27).map_err(FormatError::Compression)?;
        let mut input = BufReader::new(dec);
        let mut magic = [0u8; 8];
        read_exact(&mut input, &mut magic, "delta magic")?;
        if &magic != DELTA_MAGIC {
            return Err(FormatError::BadMagic);
        }
        let version = read_u(&mut input, "delta version")?;
        if version != DELTA_VERSION {
            return Err(FormatError::UnsupportedVersion {
                found: version,
                supported: DELTA_VERSION,
            });
        }
        let mut base = [0u8; 32];
        let mut target = [0u8; 32];
        read_exact(&mut input, &mut base, "delta base commit")?;
        read_exact(&mut input, &mut target, "delta target commit")?;
        let metadata_count = read_u(&mut input, "delta metadata count")?;
        let content_count = read_u(&mut input, "delta content count")?;
        Ok(DeltaReader {
            input,
            header: DeltaHeader {
                base,
                target,
                metadata_count,
                content_count,
            },
            metadata_left: metadata_count,
            content_left: content_count,
            pending: 0,
        })
    }

    /// The next metadata object record (type and bytes), or `None` after the last.
    pub fn next_metadata(&mut self) -> Result<Option<(u64, Vec<u8>)>, FormatError> {
        if self.metadata_left == 0 {
            return Ok(None);
        }
        self.metadata_left -= 1;
        let objtype = read_u(&mut self.input, "metadata object type")?;
        if objtype != OBJTYPE_DIRTREE && objtype != OBJTYPE_DIRMETA {
            return Err(FormatError::Invalid(format!(
                "delta metadata object type {objtype} (only dirtree 2 and dirmeta 3 are allowed)"
            )));
        }
        let len = read_bounded(&mut self.input, "metadata object size", MAX_DELTA_METADATA)?;
        let mut bytes = Vec::new();
        (&mut self.input)
            .take(len)
            .read_to_end(&mut bytes)
            .map_err(FormatError::Compression)?;
        if bytes.len() as u64 != len {
            return Err(truncated("metadata object"));
        }
        Ok(Some((objtype, bytes)))
    }

    /// The next content object record, or `None` after the last; its bytes (the whole
    /// object, or the patch) must then be read with [`DeltaReader::data`] before the next
    /// call. Call only after every metadata record was read.
    pub fn next_content(&mut self) -> Result<Option<DeltaObject>, FormatError> {
        if self.metadata_left != 0 {
            return Err(FormatError::Invalid(
                "content records read before the metadata records".into(),
            ));
        }
        if self.pending != 0 {
            io::copy(&mut (&mut self.input).take(self.pending), &mut io::sink())
                .map_err(FormatError::Compression)?;
            self.pending = 0;
        }
        if self.content_left == 0 {
            // The stream must end here.
            let rest = self.input.fill_buf().map_err(FormatError::Compression)?;
            if !rest.is_empty() {
                return Err(FormatError::Invalid(
                    "delta stream has data after its last record".into(),
                ));
            }
            return Ok(None);
        }
        self.content_left -= 1;
        let mut checksum = [0u8; 32];
        read_exact(&mut self.input, &mut checksum, "content checksum")?;
        let uid = read_u32(&mut self.input, "uid")?;
        let gid = read_u32(&mut self.input, "gid")?;
        let mode = read_u32(&mut self.input, "mode")?;
        let xlen = read_bounded(&mut self.input, "xattrs size", MAX_DELTA_METADATA)?;
        let mut xattrs = vec![0u8; xlen as usize];
        read_exact(&mut self.input, &mut xattrs, "xattrs")?;
        let kind = read_u(&mut self.input, "record kind")?;
        let (symlink, op) = match kind {
            0 => {
                let size = read_u(&mut self.input, "object size")?;
                self.pending = size;
                (None, DeltaOp::Whole { size })
            }
            1 => {
                let mut base = [0u8; 32];
                read_exact(&mut self.input, &mut base, "patch base")?;
                let size = read_u(&mut self.input, "object size")?;
                let (window_log, patch_len) = self.patch_window_and_len()?;
                let patch = DeltaOp::Patch {
                    base,
                    size,
                    patch_len,
                    window_log,
                };
                (None, patch)
            }
            2 => {
                let len = read_bounded(&mut self.input, "symlink target size", 4096)?;
                let mut t = vec![0u8; len as usize];
                read_exact(&mut self.input, &mut t, "symlink target")?;
                let t = String::from_utf8(t)
                    .map_err(|_| FormatError::Invalid("symlink target is not UTF-8".into()))?;
                (Some(t), DeltaOp::Whole { size: 0 })
            }
            3 => {
                let mut base = [0u8; 32];
                read_exact(&mut self.input, &mut base, "patch base")?;
                let size = read_u(&mut self.input, "object size")?;
                let level = read_bounded(
                    &mut self.input,
                    "recompression level",
                    MAX_RECOMPRESS_LEVEL as u64,
                )?;
                if level == 0 {
                    return Err(FormatError::Invalid("recompression level 0".into()));
                }
                let flags = read_bounded(&mut self.input, "recompression flags", 15)?;
                let libzstd_version = if flags & RECOMPRESS_VERSION_FOLLOWS != 0 {
                    // Releases are numbered major*10000 + minor*100 + patch.
                    read_bounded(&mut self.input, "libzstd release", 99_99_99)? as u32
                } else {
                    0
                };
                let base_raw_size =
                    read_bounded(&mut self.input, "decompressed base size", MAX_DELTA_RAW)?;
                let raw_size =
                    read_bounded(&mut self.input, "decompressed object size", MAX_DELTA_RAW)?;
                let (window_log, patch_len) = self.patch_window_and_len()?;
                let op = DeltaOp::RecompressedPatch {
                    base,
                    size,
                    zstd: ZstdParams {
                        level: level as i32,
                        checksum: flags & RECOMPRESS_CHECKSUM != 0,
                        content_size: flags & RECOMPRESS_CONTENT_SIZE != 0,
                        multithreaded: flags & RECOMPRESS_MULTITHREADED != 0,
                        libzstd_version,
                    },
                    base_raw_size,
                    raw_size,
                    patch_len,
                    window_log,
                };
                (None, op)
            }
            k => {
                return Err(FormatError::Invalid(format!(
                    "delta record kind {k} (known: 0 whole, 1 patch, 2 symlink, \
                     3 recompressed zstd patch)"
                )))
            }
        };
        Ok(Some(DeltaObject {
            checksum,
            header: DeltaObjectHeader {
                uid,
                gid,
                mode,
                xattrs,
                symlink,
            },
            op,
        }))
    }

    /// The `window u` and `len u` that end a patch record, bounded; the patch's bytes are
    /// then pending.
    fn patch_window_and_len(&mut self) -> Result<(u32, u64), FormatError> {
        let window_log = read_u32(&mut self.input, "patch window")?;
        if window_log > MAX_DELTA_WINDOW_LOG {
            return Err(FormatError::Invalid(format!(
                "patch window 2^{window_log} (limit 2^{MAX_DELTA_WINDOW_LOG})"
            )));
        }
        let patch_len = read_bounded(&mut self.input, "patch size", MAX_DELTA_PATCH)?;
        self.pending = patch_len;
        Ok((window_log, patch_len))
    }

    /// The bytes of the current record (whole object or patch), as a bounded reader.
    /// A short stream shows as an `UnexpectedEof` error when read to its end.
    pub fn data(&mut self) -> impl Read + '_ {
        let n = std::mem::take(&mut self.pending);
        Exact {
            inner: (&mut self.input).take(n),
            left: n,
        }
    }
}

/// A reader that fails with `UnexpectedEof` if its source ends before `left` bytes.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "delta stream ends inside a record",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn read_exact(r: &mut impl Read, buf: &mut [u8], what: &'static str) -> Result<(), FormatError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => truncated(what),
        _ => FormatError::Compression(e),
    })
}

/// A size field ([`read_u`]) that may not exceed `limit`: every size read from the stream
/// is bounded before anything is allocated for it.
fn read_bounded(r: &mut impl Read, what: &'static str, limit: u64) -> Result<u64, FormatError> {
    let value = read_u(r, what)?;
    if value > limit {
        return Err(FormatError::Invalid(format!(
            "delta {what} {value} exceeds the limit {limit}"
        )));
    }
    Ok(value)
}

fn read_u(r: &mut impl Read, what: &'static str) -> Result<u64, FormatError> {
    let mut value: u64 = 0;
    for shift in (0..70).step_by(7) {
        let mut b = [0u8; 1];
        read_exact(r, &mut b, what)?;
        let bits = u64::from(b[0] & 0x7f);
        if shift == 63 && bits > 1 {
            break;
        }
        value |= bits << shift;
        if b[0] & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(FormatError::Invalid(format!("{what}: integer too large")))
}

fn read_u32(r: &mut impl Read, what: &'static str) -> Result<u32, FormatError> {
    let v = read_u(r, what)?;
    u32::try_from(v).map_err(|_| FormatError::Invalid(format!("{what} {v} does not fit 32 bits")))
}

#[cfg(test)]
mod tests {
    /// A patch of `target` against `base` as a zstd frame with `base` as its prefix.
    fn prefix_patch(base: &[u8], target: &[u8]) -> Vec<u8> {
        use zstd::zstd_safe::{CCtx, CParameter};
        let mut cctx = CCtx::create();
        cctx.set_parameter(CParameter::WindowLog(21)).unwrap();
        cctx.ref_prefix(base).unwrap();
        let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(target.len()));
        cctx.compress2(&mut out, target).unwrap();
        out
    }

    #[test]
    fn a_patch_is_applied_into_exactly_its_size() {
        let base: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut target = base.clone();
        target[1000..1100].fill(7);
        target.extend_from_slice(b"tail");
        let patch = prefix_patch(&base, &target);
        assert!(patch.len() < target.len() / 10);
        let n = target.len() as u64;
        assert_eq!(zstd_patch_exact(&patch, &base, n).unwrap(), target);
        // Any other size, or a window over the limit given, fails.
        assert!(zstd_patch_exact(&patch, &base, n - 1).is_err());
        assert!(zstd_patch_exact(&patch, &base, n + 1).is_err());
        assert!(zstd_patch_exact(&patch, &base, MAX_DELTA_RAW + 1).is_err());
        // Against another base the bytes cannot come out right.
        let other = vec![0u8; base.len()];
        assert_ne!(zstd_patch_exact(&patch, &other, n).ok(), Some(target));
    }

    #[test]
    fn a_sized_frame_must_hold_exactly_its_size() {
        let raw = b"0123456789".repeat(1000);
        let frame = zstd::bulk::compress(&raw, 3).unwrap();
        assert_eq!(
            zstd_decompress_sized(&frame[..], raw.len() as u64).unwrap(),
            raw
        );
        for wrong in [0, raw.len() as u64 - 1, raw.len() as u64 + 1] {
            assert!(zstd_decompress_sized(&frame[..], wrong).is_err(), "{wrong}");
        }
    }

    use super::*;

    /// A writer of a delta from `[1; 32]` to `[2; 32]` with the given record counts.
    fn writer(metadata_count: u64, content_count: u64) -> DeltaWriter<Vec<u8>> {
        let header = DeltaHeader {
            base: [1; 32],
            target: [2; 32],
            metadata_count,
            content_count,
        };
        DeltaWriter::new(Vec::new(), 3, 20, &header).unwrap()
    }

    /// An object header owned by root with mode `mode` and no xattrs.
    fn root_owned(mode: u32, symlink: Option<String>) -> DeltaObjectHeader {
        DeltaObjectHeader {
            uid: 0,
            gid: 0,
            mode,
            xattrs: vec![],
            symlink,
        }
    }

    fn sample() -> Vec<u8> {
        let mut w = writer(1, 2);
        w.metadata(OBJTYPE_DIRMETA, b"meta").unwrap();
        let obj = DeltaObject {
            checksum: [3; 32],
            header: root_owned(0o100644, None),
            op: DeltaOp::Whole { size: 5 },
        };
        w.content(&obj, &mut &b"hello"[..]).unwrap();
        let link = DeltaObject {
            checksum: [4; 32],
            header: root_owned(0o120777, Some("target".into())),
            op: DeltaOp::Whole { size: 0 },
        };
        w.content(&link, &mut io::empty()).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn records_round_trip() {
        let data = sample();
        let mut r = DeltaReader::new(&data[..]).unwrap();
        assert_eq!(r.header.base, [1; 32]);
        assert_eq!(
            r.next_metadata().unwrap(),
            Some((OBJTYPE_DIRMETA, b"meta".to_vec()))
        );
        assert_eq!(r.next_metadata().unwrap(), None);
        let o = r.next_content().unwrap().unwrap();
        assert_eq!(o.checksum, [3; 32]);
        let mut bytes = Vec::new();
        r.data().read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes, b"hello");
        let l = r.next_content().unwrap().unwrap();
        assert_eq!(l.header.symlink.as_deref(), Some("target"));
        assert_eq!(r.next_content().unwrap(), None);
    }

    #[test]
    fn truncated_stream_is_an_error_not_a_panic() {
        let data = sample();
        let plain = zstd::decode_all(&data[..]).unwrap();
        for cut in 0..plain.len() {
            let short = zstd::encode_all(&plain[..cut], 1).unwrap();
            let result = (|| -> Result<(), FormatError> {
                let mut r = DeltaReader::new(&short[..])?;
                while r.next_metadata()?.is_some() {}
                while r.next_content()?.is_some() {
                    let mut sink = Vec::new();
                    r.data()
                        .read_to_end(&mut sink)
                        .map_err(FormatError::Compression)?;
                }
                Ok(())
            })();
            assert!(result.is_err(), "cut at {cut} of {} accepted", plain.len());
        }
    }

    fn recompressed(level: i32, base_raw_size: u64) -> DeltaObject {
        DeltaObject {
            checksum: [5; 32],
            header: DeltaObjectHeader {
                uid: 0,
                gid: 0,
                mode: 0o100644,
                xattrs: vec![],
                symlink: None,
            },
            op: DeltaOp::RecompressedPatch {
                base: [6; 32],
                size: 1000,
                zstd: ZstdParams {
                    level,
                    checksum: true,
                    content_size: false,
                    multithreaded: false,
                    libzstd_version: 0,
                },
                base_raw_size,
                raw_size: 4000,
                patch_len: 3,
                window_log: 23,
            },
        }
    }

    /// The decompressed stream of one record whose data is `abc`.
    fn one_record(obj: &DeltaObject) -> Vec<u8> {
        let mut w = writer(0, 1);
        w.content(obj, &mut &b"abc"[..]).unwrap();
        zstd::decode_all(&w.finish().unwrap()[..]).unwrap()
    }

    fn read_one(plain: &[u8]) -> Result<DeltaObject, FormatError> {
        let compressed = zstd::encode_all(plain, 1).unwrap();
        let mut r = DeltaReader::new(&compressed[..])?;
        let o = r.next_content()?.expect("one record");
        let mut patch = Vec::new();
        r.data()
            .read_to_end(&mut patch)
            .map_err(FormatError::Compression)?;
        assert_eq!(patch, b"abc");
        assert_eq!(r.next_content()?, None);
        Ok(o)
    }

    #[test]
    fn recompressed_patch_round_trips() {
        let obj = recompressed(12, 5000);
        assert_eq!(read_one(&one_record(&obj)).unwrap(), obj);
    }

    #[test]
    fn recompressed_patch_fields_are_bounded() {
        // The writer refuses a level out of range.
        for level in [0, -1, MAX_RECOMPRESS_LEVEL + 1] {
            let mut w = writer(0, 1);
            assert!(w
                .content(&recompressed(level, 5000), &mut &b"abc"[..])
                .is_err());
        }
        // The reader refuses each field past its bound: edit one varint of a valid record.
        let plain = one_record(&recompressed(12, 5000));
        let at = |needle: &[u8]| {
            plain
                .windows(needle.len())
                .position(|w| w == needle)
                .expect("field")
        };
        // kind 3, base [6;32], size 1000 (e8 07), level 12, flags 1, base raw 5000 (88 27),
        // raw 4000 (a0 1f), window 23, patch 3.
        let mut fields = vec![3u8];
        fields.extend_from_slice(&[6; 32]);
        fields.extend_from_slice(&[0xe8, 0x07, 12, 1, 0x88, 0x27, 0xa0, 0x1f, 23, 3]);
        let start = at(&fields) + 33;
        let rewrite = |offset: usize, old_len: usize, new: &[u8]| {
            let mut p = plain[..start + offset].to_vec();
            p.extend_from_slice(new);
            p.extend_from_slice(&plain[start + offset + old_len..]);
            p
        };
        let mut big = Vec::new();
        put_u(&mut big, MAX_DELTA_RAW + 1);
        let mut huge_patch = Vec::new();
        put_u(&mut huge_patch, MAX_DELTA_PATCH + 1);
        for (what, bad) in [
            ("level 20", rewrite(2, 1, &[20])),
            ("level 0", rewrite(2, 1, &[0])),
            ("flags 16", rewrite(3, 1, &[16])),
            ("base raw size", rewrite(4, 2, &big)),
            ("raw size", rewrite(6, 2, &big)),
            ("window 31", rewrite(8, 1, &[31])),
            ("patch size", rewrite(9, 1, &huge_patch)),
        ] {
            assert!(
                matches!(read_one(&bad), Err(FormatError::Invalid(_))),
                "{what} accepted"
            );
        }
        // The unedited record still reads (the edits, not the helper, fail).
        assert!(read_one(&rewrite(2, 1, &[19])).is_ok());
    }

    /// Frames made by the real zstd CLI, single-threaded and multithreaded, from a pipe
    /// (no content size) and from a file (content size), are reproduced exactly: the CLI
    /// and jigdo link the same libzstd release (jigdo-format/Cargo.toml).
    #[test]
    fn the_zstd_cli_frames_are_reproduced() {
        use std::process::{Command, Stdio};
        let cli = Command::new("zstd").arg("--version").output().unwrap();
        let cli = String::from_utf8_lossy(&cli.stdout).into_owned();
        let ours = libzstd_version_name(libzstd_version());
        assert!(
            cli.contains(&format!("v{ours}")),
            "zstd CLI {cli:?}, libzstd {ours}"
        );
        // Over two multithreaded jobs at level 1 (a job is 4 windows of 512 KiB).
        let raw: Vec<u8> = (0..400_000u32)
            .flat_map(|i| {
                format!("{} {}\n", i % 7919, i.wrapping_mul(2654435761) >> 20).into_bytes()
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("raw");
        std::fs::write(&file, &raw).unwrap();
        for (level, threads) in [
            (1, "-T1"),
            (1, "--single-thread"),
            (1, "-T2"),
            (6, "--single-thread"),
        ] {
            for from_pipe in [true, false] {
                let mut cmd = Command::new("zstd");
                cmd.args(["-q", "-c", &format!("-{level}"), threads]);
                let frame = if from_pipe {
                    let mut child = cmd
                        .stdin(Stdio::piped())
                        .stdout(Stdio::piped())
                        .spawn()
                        .unwrap();
                    let mut stdin = child.stdin.take().unwrap();
                    let feed = raw.clone();
                    let writer = std::thread::spawn(move || stdin.write_all(&feed).unwrap());
                    let out = child.wait_with_output().unwrap();
                    writer.join().unwrap();
                    out.stdout
                } else {
                    cmd.arg(&file).output().unwrap().stdout
                };
                let (checksum, content_size) = zstd_frame_flags(&frame).unwrap();
                assert_eq!(content_size, !from_pipe);
                let params = ZstdParams {
                    level,
                    checksum,
                    content_size,
                    multithreaded: threads != "--single-thread",
                    libzstd_version: libzstd_version(),
                };
                let what = format!(
                    "zstd -{level} {threads} from a {}",
                    if from_pipe { "pipe" } else { "file" }
                );
                // A multithreaded frame by any number of workers, fed from a buffer or
                // from pieces dropped as they are read.
                let workers: &[u32] = if params.multithreaded {
                    &[1, 2, 3]
                } else {
                    &[1]
                };
                for &n in workers {
                    let mut again = Vec::new();
                    zstd_recompress(&raw[..], raw.len() as u64, params, n)
                        .unwrap()
                        .read_to_end(&mut again)
                        .unwrap();
                    assert!(again == frame, "{what}, {n} workers: not reproduced");
                }
                let mut again = Vec::new();
                zstd_recompress(DrainingBytes::new(raw.clone()), raw.len() as u64, params, 2)
                    .unwrap()
                    .read_to_end(&mut again)
                    .unwrap();
                assert!(again == frame, "{what}, from DrainingBytes: not reproduced");
                // The other threading mode gives other bytes (so the flag matters).
                if level != 1 {
                    continue;
                }
                let other = ZstdParams {
                    multithreaded: !params.multithreaded,
                    ..params
                };
                let mut differ = Vec::new();
                zstd_recompress(&raw[..], raw.len() as u64, other, 1)
                    .unwrap()
                    .read_to_end(&mut differ)
                    .unwrap();
                assert!(
                    differ != frame,
                    "{what}: the other threading mode gives the same bytes"
                );
            }
        }
    }

    #[test]
    fn zstd_frames_are_recognised_and_reproduced() {
        let raw: Vec<u8> = (0..300_000u32)
            .flat_map(|i| format!("line {} {}\n", i % 977, i / 13).into_bytes())
            .collect();
        let params = ZstdParams {
            level: 7,
            checksum: true,
            content_size: false,
            multithreaded: false,
            libzstd_version: 0,
        };
        let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 7).unwrap();
        enc.include_checksum(true).unwrap();
        for chunk in raw.chunks(10_000) {
            enc.write_all(chunk).unwrap();
        }
        let frame = enc.finish().unwrap();
        assert_eq!(zstd_frame_flags(&frame), Some((true, false)));
        let mut again = Vec::new();
        zstd_recompress(&raw[..], raw.len() as u64, params, 1)
            .unwrap()
            .read_to_end(&mut again)
            .unwrap();
        assert_eq!(again, frame);
        // The same bytes whatever the source's and the caller's read sizes.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(999);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut enc = zstd_recompress(Trickle(&raw), raw.len() as u64, params, 1).unwrap();
        let mut small = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = enc.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            small.extend_from_slice(&buf[..n]);
        }
        assert_eq!(small, frame);
        assert_eq!(
            zstd_decompress_exact(&frame[..], raw.len() as u64).unwrap(),
            raw
        );
        assert!(zstd_decompress_exact(&frame[..], raw.len() as u64 - 1).is_err());
        // Not one frame: two frames, trailing bytes, a truncated frame, not zstd.
        let mut two = frame.clone();
        two.extend_from_slice(&frame);
        assert_eq!(zstd_frame_flags(&two), None);
        assert_eq!(zstd_frame_flags(&frame[..frame.len() - 1]), None);
        assert_eq!(zstd_frame_flags(b"plain text, not zstd"), None);
    }

    #[test]
    fn draining_bytes_reads_back_what_it_was_given() {
        for len in [
            0,
            1,
            DRAINING_PIECE - 1,
            DRAINING_PIECE,
            DRAINING_PIECE + 1,
            3 * DRAINING_PIECE + 12_345,
        ] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut d = DrainingBytes::new(bytes.clone());
            assert_eq!(d.pieces.len(), len.div_ceil(DRAINING_PIECE).max(1), "{len}");
            assert!(d.pieces.iter().all(|p| p.len() <= DRAINING_PIECE));
            let mut back = Vec::new();
            let mut buf = vec![0u8; 1_000_003];
            loop {
                let n = d.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                back.extend_from_slice(&buf[..n]);
                // A piece is dropped once read through.
                assert!(d.pieces.len() <= (len - back.len()).div_ceil(DRAINING_PIECE) + 1);
            }
            assert!(back == bytes, "{len} bytes not read back");
            assert_eq!(d.read(&mut buf).unwrap(), 0);
        }
    }

    #[test]
    fn provides_and_paths_round_trip() {
        let b = "ab".repeat(32);
        let t = "cd".repeat(32);
        assert_eq!(
            parse_delta_base_provide(&delta_base_provide(&b)),
            Some(b.as_str())
        );
        assert_eq!(
            parse_delta_target_provide(&delta_target_provide(&t)),
            Some(t.as_str())
        );
        for f in [
            DeltaPayloadFile::Commit,
            DeltaPayloadFile::CommitMeta,
            DeltaPayloadFile::Index,
            DeltaPayloadFile::Delta,
        ] {
            assert_eq!(DeltaPayloadFile::parse(&f.path(&b, &t), &b, &t), Some(f));
        }
        assert_eq!(delta_package_name("os", &b), "os-delta-abababababab");
    }
}
