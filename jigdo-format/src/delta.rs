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
                let window_log = read_u32(&mut self.input, "patch window")?;
                if window_log > MAX_DELTA_WINDOW_LOG {
                    return Err(FormatError::Invalid(format!(
                        "patch window 2^{window_log} (limit 2^{MAX_DELTA_WINDOW_LOG})"
                    )));
                }
                let patch_len = read_bounded(&mut self.input, "patch size", MAX_DELTA_PATCH)?;
                self.pending = patch_len;
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
            k => {
                return Err(FormatError::Invalid(format!(
                    "delta record kind {k} (known: 0 whole, 1 patch, 2 symlink)"
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
    use super::*;

    fn sample() -> Vec<u8> {
        let header = DeltaHeader {
            base: [1; 32],
            target: [2; 32],
            metadata_count: 1,
            content_count: 2,
        };
        let mut w = DeltaWriter::new(Vec::new(), 3, 20, &header).unwrap();
        w.metadata(OBJTYPE_DIRMETA, b"meta").unwrap();
        let obj = DeltaObject {
            checksum: [3; 32],
            header: DeltaObjectHeader {
                uid: 0,
                gid: 0,
                mode: 0o100644,
                xattrs: vec![],
                symlink: None,
            },
            op: DeltaOp::Whole { size: 5 },
        };
        w.content(&obj, &mut &b"hello"[..]).unwrap();
        let link = DeltaObject {
            checksum: [4; 32],
            header: DeltaObjectHeader {
                uid: 0,
                gid: 0,
                mode: 0o120777,
                xattrs: vec![],
                symlink: Some("target".into()),
            },
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
