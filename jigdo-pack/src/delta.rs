//! `jigdo pack --delta-from REV`: the delta RPM from a base commit to the packed commit
//! (specs/jigdo-format.md §6).
//!
//! Every object the target reaches and the base does not is carried: dirtrees and dirmetas
//! verbatim, content objects whole or as a zstd patch (`--patch-from`) against the base
//! object at the same path, else at the most similar path (the same path once digits are
//! ignored: `libfoo.so.1.2.3` → `libfoo.so.1.2.4`, `/usr/lib/modules/6.1.1/…` →
//! `/usr/lib/modules/6.1.2/…`). When both objects are single zstd frames (an initramfs)
//! and compressing the target's decompressed bytes again with our libzstd reproduces it
//! exactly, the patch is of the decompressed bytes instead, if that is smaller (record
//! kind 3). Patches are made in parallel and spooled to disk, so memory holds at most one
//! base object, one target object (each also decompressed, for zstd frames) and one patch
//! per worker.

use std::collections::{HashMap, HashSet};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use jigdo_format::delta::{
    delta_base_provide, delta_package_name, delta_target_provide, libzstd_version,
    zstd_decompress_exact, zstd_frame_flags, zstd_frame_reader, zstd_recompress, MAX_DELTA_RAW,
    MAX_RECOMPRESS_LEVEL, OBJTYPE_DIRMETA, OBJTYPE_DIRTREE,
};
use jigdo_format::{
    DeltaHeader, DeltaObject, DeltaObjectHeader, DeltaOp, DeltaPayloadFile, DeltaWriter, ZstdParams,
};
use ostree_store::{Checksum, ObjectType, Repo};
use rayon::prelude::*;
use serde::Serialize;

use crate::tree::{Tree, TreeDir};
use crate::PackError;

/// zstd level of patches and of the delta stream.
const LEVEL: i32 = 19;
/// log2 of the delta stream's window (the client's decoder accepts up to 2^27).
const STREAM_WINDOW_LOG: u32 = 24;
/// log2 of the match-finder tables (`ChainLog`, `HashLog`) of a patch whose base and
/// object together exceed [`BIG_PATCH_SPAN`]: level 19 picks 2^24 and 2^22 entries and
/// the window grows them further. Measured on the bench corpus's initramfs (63 MB
/// decompressed, patched against the previous one): default tables 275 MB and 21.1 s
/// for a 2,072,466-byte patch; 2^20 tables 202 MB and 8.2 s for 2,150,406 bytes.
const BIG_PATCH_TABLES_LOG: u32 = 20;
/// Base plus object size from which a patch uses [`BIG_PATCH_TABLES_LOG`] (long-distance
/// matching still finds what the base shares with the object).
const BIG_PATCH_SPAN: u64 = 32 << 20;
/// Objects smaller than this are carried whole: a patch would not pay for its record.
const MIN_PATCH_SIZE: u64 = 512;
/// Objects (base + target) larger than this are carried whole (bounds memory).
const MAX_PATCH_INPUT: u64 = 1 << 29;
/// Objects at least this large are patched alone (no other patch runs meanwhile): each
/// holds itself and its base, their decompressed bytes (zstd frames) and a level-19
/// encoder sized for both, which beside other patches would raise the peak memory.
const SERIAL_PATCH_INPUT: u64 = 8 << 20;

/// What one delta RPM holds.
#[derive(Debug, Clone, Serialize)]
pub struct DeltaReport {
    /// Path of the delta RPM.
    pub rpm: PathBuf,
    /// The base commit.
    pub base: String,
    /// The target commit.
    pub target: String,
    /// Size of the delta RPM file.
    pub rpm_size: u64,
    /// Dirtrees and dirmetas carried.
    pub metadata_objects: usize,
    /// Content objects carried whole.
    pub whole_objects: usize,
    /// Bytes of the content objects carried whole (uncompressed).
    pub whole_bytes: u64,
    /// Content objects carried as patches.
    pub patched_objects: usize,
    /// Bytes of the objects carried as patches (their full size).
    pub patched_object_bytes: u64,
    /// Bytes of those patches.
    pub patch_bytes: u64,
    /// Of the patched objects, zstd objects patched decompressed (and compressed again).
    pub recompressed_objects: usize,
}

/// Resolves a `--delta-from` argument: a jigdo RPM path (its commit) or a rev in `repo`.
pub fn resolve_base(repo: &Repo, rev: &str) -> Result<Checksum, PackError> {
    let path = Path::new(rev);
    if rev.ends_with(".rpm") && path.is_file() {
        let file = std::fs::File::open(path).map_err(|e| PackError::io(path, e))?;
        let mut r = std::io::BufReader::new(file);
        let header = rpm_package::PackageHeader::read(&mut r, &path.display().to_string())?;
        let hex = header
            .provides
            .iter()
            .find_map(|p| jigdo_format::parse_commit_provide(&p.name))
            .ok_or_else(|| {
                PackError::Invalid(format!(
                    "--delta-from {rev}: not a jigdo RPM (no ostree-jigdo-commit provide)"
                ))
            })?;
        let c: Checksum = hex
            .parse()
            .map_err(|_| PackError::Invalid(format!("--delta-from {rev}: bad commit {hex}")))?;
        if !repo.has_object(ObjectType::Commit, &c) {
            return Err(PackError::Invalid(format!(
                "--delta-from {rev}: its commit {c} is not in the repository"
            )));
        }
        return Ok(c);
    }
    Ok(repo.resolve_rev(rev)?)
}

/// The base's file objects by path, by digit-free path, and every object it reaches.
struct Base {
    by_path: HashMap<String, Checksum>,
    by_stem: HashMap<String, Vec<Checksum>>,
    objects: HashSet<(ObjectType, Checksum)>,
}

fn stem(path: &str) -> String {
    path.chars().filter(|c| !c.is_ascii_digit()).collect()
}

fn load_base(repo: &Repo, base: &Checksum) -> Result<Base, PackError> {
    let t = repo.traverse_commit(base);
    if let Some((obj, err)) = t.errors.into_iter().next() {
        return Err(PackError::Invalid(format!(
            "base commit {base}: cannot read {} at {}: {err}",
            obj.objtype, obj.path
        )));
    }
    let objects: HashSet<(ObjectType, Checksum)> =
        t.objects.iter().map(|o| (o.objtype, o.checksum)).collect();
    let mut by_path = HashMap::new();
    for o in &t.objects {
        if o.objtype == ObjectType::DirTree {
            let dt = repo.read_dirtree(&o.checksum)?;
            for (name, c) in &dt.files {
                let p = if o.path == "/" {
                    format!("/{name}")
                } else {
                    format!("{}/{name}", o.path)
                };
                by_path.insert(p, *c);
            }
        }
    }
    // Note: a dirtree shared by several directories is listed once (first path); the
    // other paths only lose their same-path candidate, never correctness.
    let mut by_stem: HashMap<String, Vec<Checksum>> = HashMap::new();
    for (p, c) in &by_path {
        by_stem.entry(stem(p)).or_default().push(*c);
    }
    for v in by_stem.values_mut() {
        v.sort();
        v.dedup();
    }
    Ok(Base {
        by_path,
        by_stem,
        objects,
    })
}

fn collect_files<'a>(dir: &'a TreeDir, path: &str, out: &mut Vec<(String, &'a Checksum)>) {
    for (name, c) in &dir.files {
        out.push((format!("{path}/{name}"), c));
    }
    for (name, sub) in &dir.dirs {
        collect_files(sub, &format!("{path}/{name}"), out);
    }
}

/// How one new content object is carried, decided before the stream is written.
enum Carry {
    Whole,
    Patch {
        base: Checksum,
        spool: PathBuf,
        len: u64,
        window_log: u32,
        /// Set when the patch is of the decompressed bytes of zstd objects.
        recompressed: Option<Recompressed>,
    },
}

/// How a zstd object is rebuilt from its patched decompressed bytes.
#[derive(Clone, Copy)]
struct Recompressed {
    zstd: ZstdParams,
    base_raw_size: u64,
    raw_size: u64,
}

/// How far compressing `raw` with some [`ZstdParams`] agrees with the target frame.
#[derive(PartialEq)]
enum Reproduction {
    /// Byte for byte.
    Exact,
    /// The frame header agrees (same window and size fields), the blocks do not.
    HeaderOnly,
    /// The frame header already differs.
    No,
}

/// The length of the frame header of the single zstd frame `frame` (magic, descriptor,
/// window descriptor, content size field; no dictionary id: see `zstd_frame_flags`).
fn frame_header_len(frame: &[u8]) -> usize {
    let Some(&fhd) = frame.get(4) else {
        return frame.len();
    };
    let single_segment = fhd & 0x20 != 0;
    let fcs = match fhd >> 6 {
        0 => usize::from(single_segment),
        1 => 2,
        2 => 4,
        _ => 8,
    };
    (5 + usize::from(!single_segment) + fcs).min(frame.len())
}

/// Compares compressing the decompressed bytes of `target` (`raw_size` of them, decoded
/// as they are compressed: they are never held whole) as a stream with `params` against
/// `target`, stopping at the first output that differs.
fn reproduces(target: &[u8], raw_size: u64, params: ZstdParams) -> std::io::Result<Reproduction> {
    let header_len = frame_header_len(target);
    let raw = zstd_frame_reader(target)?;
    // One worker: the output is the same for any number, and each costs a context.
    let mut enc = zstd_recompress(raw, raw_size, params, 1)?;
    let mut buf = vec![0u8; 1 << 16];
    let mut at = 0usize;
    loop {
        let n = enc.read(&mut buf)?;
        if n == 0 {
            return Ok(if at == target.len() {
                Reproduction::Exact
            } else {
                Reproduction::HeaderOnly
            });
        }
        let agree = target.get(at..at + n).map_or(0, |t| {
            t.iter().zip(&buf[..n]).take_while(|(a, b)| a == b).count()
        });
        if agree < n {
            return Ok(if at + agree >= header_len {
                Reproduction::HeaderOnly
            } else {
                Reproduction::No
            });
        }
        at += n;
    }
}

/// The [`ZstdParams`] with which our libzstd reproduces the zstd frame `target` (which
/// decompresses to `raw_size` bytes) from its decompressed bytes, if any. Single-threaded
/// tries are cheap (a wrong level differs in the first block, and the frame is decoded
/// only as far as it is compressed again); a multithreaded try writes a whole job (some
/// MiB) before its first output, so it is made only at the levels whose frame header
/// agreed single-threaded.
fn find_zstd_params(
    target: &[u8],
    raw_size: u64,
    checksum: bool,
    content_size: bool,
) -> std::io::Result<Option<ZstdParams>> {
    let mut header_agrees = Vec::new();
    for level in 1..=MAX_RECOMPRESS_LEVEL {
        let params = ZstdParams {
            level,
            checksum,
            content_size,
            multithreaded: false,
            libzstd_version: libzstd_version(),
        };
        match reproduces(target, raw_size, params)? {
            Reproduction::Exact => return Ok(Some(params)),
            Reproduction::HeaderOnly => header_agrees.push(params),
            Reproduction::No => {}
        }
    }
    for params in header_agrees {
        let params = ZstdParams {
            multithreaded: true,
            ..params
        };
        if reproduces(target, raw_size, params)? == Reproduction::Exact {
            return Ok(Some(params));
        }
    }
    Ok(None)
}

/// A zstd object and its base, decompressed, and how the object is compressed again.
struct Decompressed {
    base_raw: Vec<u8>,
    raw: Vec<u8>,
    zstd: ZstdParams,
}

/// The decompressed bytes of `base` and `target` and how to compress `target` again, when
/// both are single zstd frames and compressing the decompressed bytes again reproduces
/// `target` exactly (checked here with the libzstd the client uses); `None` otherwise.
fn recompression(base: &[u8], target: &[u8]) -> std::io::Result<Option<Decompressed>> {
    let (Some(_), Some((checksum, content_size))) =
        (zstd_frame_flags(base), zstd_frame_flags(target))
    else {
        return Ok(None);
    };
    // The object is decoded as it is compressed again, and decompressed in full (and its
    // base) only once it proved reproducible: a multithreaded try holds its own job buffers
    // and compression context (~150 MiB at level 12).
    let decoded = zstd_frame_reader(target)
        .and_then(|r| std::io::copy(&mut r.take(MAX_DELTA_RAW + 1), &mut std::io::sink()));
    let raw_size = match decoded {
        Ok(n) if n <= MAX_DELTA_RAW => n,
        _ => return Ok(None),
    };
    let Some(zstd) = find_zstd_params(target, raw_size, checksum, content_size)? else {
        return Ok(None);
    };
    let Ok(raw) = zstd_decompress_exact(target, MAX_DELTA_RAW) else {
        return Ok(None);
    };
    let Ok(base_raw) = zstd_decompress_exact(base, MAX_DELTA_RAW - raw.len() as u64) else {
        return Ok(None);
    };
    Ok(Some(Decompressed {
        base_raw,
        raw,
        zstd,
    }))
}

fn read_object(repo: &Repo, c: &Checksum) -> Result<Vec<u8>, PackError> {
    let (_, mut r) = repo.read_file(c)?;
    let mut v = Vec::new();
    r.read_to_end(&mut v)
        .map_err(|e| PackError::Invalid(format!("reading object {c}: {e}")))?;
    Ok(v)
}

/// The zstd patch of `target` against `base`, and the window it needs.
fn make_patch(base: &[u8], target: &[u8]) -> std::io::Result<(Vec<u8>, u32)> {
    use zstd::zstd_safe::{compress_bound, get_error_name, CCtx, CParameter};
    let span = (base.len() + target.len()).max(1 << 10) as u64;
    let window_log = (64 - (span - 1).leading_zeros()).clamp(10, 30);
    let err = |code: usize| std::io::Error::other(get_error_name(code));
    // One shot: a streaming encoder would also buffer up to a window of the target.
    let mut cctx = CCtx::try_create().ok_or_else(|| std::io::Error::other("zstd context"))?;
    cctx.set_parameter(CParameter::CompressionLevel(LEVEL))
        .map_err(err)?;
    cctx.set_parameter(CParameter::WindowLog(window_log))
        .map_err(err)?;
    cctx.set_parameter(CParameter::EnableLongDistanceMatching(true))
        .map_err(err)?;
    if span > BIG_PATCH_SPAN {
        cctx.set_parameter(CParameter::ChainLog(BIG_PATCH_TABLES_LOG))
            .map_err(err)?;
        cctx.set_parameter(CParameter::HashLog(BIG_PATCH_TABLES_LOG))
            .map_err(err)?;
    }
    cctx.set_parameter(CParameter::ContentSizeFlag(true))
        .map_err(err)?;
    cctx.ref_prefix(base).map_err(err)?;
    // Only the pages written count: the patch is usually far smaller than the bound.
    let mut out = Vec::with_capacity(compress_bound(target.len()));
    cctx.compress2(&mut out, target).map_err(err)?;
    out.shrink_to_fit();
    Ok((out, window_log))
}

/// Writes the delta RPM from `base` to the packed commit into `out_dir`.
#[allow(clippy::too_many_arguments)]
pub fn write_delta(
    repo: &Repo,
    target_id: &Checksum,
    tree: &Tree,
    base_id: &Checksum,
    index_bytes: &[u8],
    jigdo: &crate::PackReport,
    sign_key: Option<&Path>,
    progress: &dyn Fn(&str),
) -> Result<DeltaReport, PackError> {
    let base = load_base(repo, base_id)?;
    let target_t = repo.traverse_commit(target_id);
    if let Some((obj, err)) = target_t.errors.into_iter().next() {
        return Err(PackError::Invalid(format!(
            "commit {target_id}: cannot read {} at {}: {err}",
            obj.objtype, obj.path
        )));
    }
    let new_meta: Vec<(ObjectType, Checksum)> = target_t
        .objects
        .iter()
        .filter(|o| matches!(o.objtype, ObjectType::DirTree | ObjectType::DirMeta))
        .map(|o| (o.objtype, o.checksum))
        .filter(|k| !base.objects.contains(k))
        .collect();
    // New content objects, each with the first path that uses it (sorted by checksum for
    // a deterministic stream).
    let mut files = Vec::new();
    collect_files(&tree.root, "", &mut files);
    let mut first_path: HashMap<Checksum, String> = HashMap::new();
    for (p, c) in files {
        if !base.objects.contains(&(ObjectType::File, *c)) {
            first_path.entry(*c).or_insert(p);
        }
    }
    let mut new_content: Vec<(Checksum, String)> = first_path.into_iter().collect();
    new_content.sort();
    progress(&format!(
        "delta from {base_id}: {} metadata and {} content objects the base lacks",
        new_meta.len(),
        new_content.len()
    ));

    let out_dir = jigdo.rpm.parent().unwrap_or(Path::new(".")).to_path_buf();
    let spool = tempfile::Builder::new()
        .prefix(".jigdo-delta-")
        .tempdir_in(&out_dir)
        .map_err(|e| PackError::io(&out_dir, e))?;

    // Patches, in parallel, spooled to disk; biggest objects first.
    let mut order: Vec<usize> = (0..new_content.len()).collect();
    order.sort_by_key(|&i| {
        std::cmp::Reverse(tree.objects.get(&new_content[i].0).map_or(0, |o| o.size))
    });
    // Large objects take it exclusively, the others shared (see SERIAL_PATCH_INPUT).
    let patching = std::sync::RwLock::new(());
    let carried: Vec<(usize, Carry)> = order
        .par_iter()
        .map(|&i| -> Result<(usize, Carry), PackError> {
            let (c, path) = &new_content[i];
            let Some(info) = tree.objects.get(c) else {
                return Ok((i, Carry::Whole));
            };
            if info.header.is_symlink() || info.size < MIN_PATCH_SIZE {
                return Ok((i, Carry::Whole));
            }
            let candidate = base.by_path.get(path).copied().or_else(|| {
                base.by_stem
                    .get(&stem(path))
                    .and_then(|v| v.first().copied())
            });
            let Some(b) = candidate else {
                return Ok((i, Carry::Whole));
            };
            let (_alone, _shared) = if info.size >= SERIAL_PATCH_INPUT {
                let lock = patching.write().unwrap_or_else(|e| e.into_inner());
                (Some(lock), None)
            } else {
                let lock = patching.read().unwrap_or_else(|e| e.into_inner());
                (None, Some(lock))
            };
            let (bh, _) = repo.read_file(&b)?;
            if !bh.is_regular() {
                return Ok((i, Carry::Whole));
            }
            let base_bytes = read_object(repo, &b)?;
            if base_bytes.len() as u64 + info.size > MAX_PATCH_INPUT {
                return Ok((i, Carry::Whole));
            }
            let target_bytes = read_object(repo, c)?;
            let patch_err = |e: std::io::Error| PackError::Invalid(format!("patching {path}: {e}"));
            // A zstd object that our libzstd reproduces is patched decompressed only: the
            // patch of its compressed bytes is almost as big as the object, and making it
            // too would double the memory and time this object takes.
            let (patch, window_log, recompressed) =
                match recompression(&base_bytes, &target_bytes).map_err(patch_err)? {
                    Some(Decompressed {
                        base_raw,
                        raw,
                        zstd,
                    }) => {
                        drop((base_bytes, target_bytes));
                        let (p, w) = make_patch(&base_raw, &raw).map_err(patch_err)?;
                        let r = Recompressed {
                            zstd,
                            base_raw_size: base_raw.len() as u64,
                            raw_size: raw.len() as u64,
                        };
                        (p, w, Some(r))
                    }
                    None => {
                        let (p, w) = make_patch(&base_bytes, &target_bytes).map_err(patch_err)?;
                        (p, w, None)
                    }
                };
            if patch.len() as u64 >= info.size {
                return Ok((i, Carry::Whole));
            }
            let spool_path = spool.path().join(format!("{i:08}"));
            std::fs::write(&spool_path, &patch).map_err(|e| PackError::io(&spool_path, e))?;
            Ok((
                i,
                Carry::Patch {
                    base: b,
                    spool: spool_path,
                    len: patch.len() as u64,
                    window_log,
                    recompressed,
                },
            ))
        })
        .collect::<Result<_, _>>()?;
    let mut carry: Vec<Option<Carry>> = (0..new_content.len()).map(|_| None).collect();
    for (i, c) in carried {
        carry[i] = Some(c);
    }

    // The stream.
    let base_hex = base_id.to_hex();
    let target_hex = target_id.to_hex();
    let stream_path = spool.path().join("3-delta");
    let out = std::fs::File::create(&stream_path).map_err(|e| PackError::io(&stream_path, e))?;
    let header = DeltaHeader {
        base: base_id.0,
        target: target_id.0,
        metadata_count: new_meta.len() as u64,
        content_count: new_content.len() as u64,
    };
    let io_err = |e: std::io::Error| PackError::io(&stream_path, e);
    let mut w =
        DeltaWriter::new(BufWriter::new(out), LEVEL, STREAM_WINDOW_LOG, &header).map_err(io_err)?;
    for (t, c) in &new_meta {
        let bytes = repo.read_metadata(*t, c)?;
        let code = if *t == ObjectType::DirTree {
            OBJTYPE_DIRTREE
        } else {
            OBJTYPE_DIRMETA
        };
        w.metadata(code, &bytes).map_err(io_err)?;
    }
    let mut report = DeltaReport {
        rpm: PathBuf::new(),
        base: base_hex.clone(),
        target: target_hex.clone(),
        rpm_size: 0,
        metadata_objects: new_meta.len(),
        whole_objects: 0,
        whole_bytes: 0,
        patched_objects: 0,
        patched_object_bytes: 0,
        patch_bytes: 0,
        recompressed_objects: 0,
    };
    // Recompressed records first (then checksum order): each costs the client seconds of
    // compression, which its other workers overlap with the rest of the stream only if
    // it starts early.
    let mut stream_order: Vec<usize> = (0..new_content.len()).collect();
    stream_order.sort_by_key(|&i| {
        !matches!(
            &carry[i],
            Some(Carry::Patch {
                recompressed: Some(_),
                ..
            })
        )
    });
    for i in stream_order {
        let (c, how) = (&new_content[i].0, carry[i].take());
        let (h, mut content) = repo.read_file(c)?;
        let header = DeltaObjectHeader {
            uid: h.uid,
            gid: h.gid,
            mode: h.mode,
            xattrs: ostree_store::gvariant::write_xattrs(&h.xattrs),
            symlink: h.is_symlink().then(|| h.symlink_target.clone()),
        };
        let size = tree.objects.get(c).map_or(0, |o| o.size);
        match how.unwrap_or(Carry::Whole) {
            Carry::Whole => {
                let size = if h.is_symlink() { 0 } else { size };
                report.whole_objects += 1;
                report.whole_bytes += size;
                let object = DeltaObject {
                    checksum: c.0,
                    header,
                    op: DeltaOp::Whole { size },
                };
                w.content(&object, &mut content).map_err(io_err)?;
            }
            Carry::Patch {
                base,
                spool,
                len,
                window_log,
                recompressed,
            } => {
                report.patched_objects += 1;
                report.patched_object_bytes += size;
                report.patch_bytes += len;
                let op = match recompressed {
                    None => DeltaOp::Patch {
                        base: base.0,
                        size,
                        patch_len: len,
                        window_log,
                    },
                    Some(r) => {
                        report.recompressed_objects += 1;
                        DeltaOp::RecompressedPatch {
                            base: base.0,
                            size,
                            zstd: r.zstd,
                            base_raw_size: r.base_raw_size,
                            raw_size: r.raw_size,
                            patch_len: len,
                            window_log,
                        }
                    }
                };
                let object = DeltaObject {
                    checksum: c.0,
                    header,
                    op,
                };
                let mut f = std::fs::File::open(&spool).map_err(|e| PackError::io(&spool, e))?;
                w.content(&object, &mut f).map_err(io_err)?;
                let _ = std::fs::remove_file(&spool);
            }
        }
    }
    let mut out = w.finish().map_err(io_err)?;
    out.flush().map_err(io_err)?;
    drop(out);

    // The RPM: uncompressed payload (the stream is compressed already).
    let name = delta_package_name(&jigdo.name, &base_hex);
    let mut b =
        rpm_package::PackageBuilder::new(&name, &jigdo.version, &jigdo.release, &jigdo.arch);
    b.summary(&format!(
        "ostree-jigdo delta from {} to {} ({})",
        &base_hex[..12],
        &target_hex[..12],
        jigdo.name
    ));
    b.license("MIT OR Apache-2.0");
    b.description(&format!(
        "What an OSTree repository holding commit {base_hex} needs to reach commit {target_hex}."
    ));
    b.compression("none", None)?;
    b.provides(jigdo_format::delta::DELTA_PROVIDE, None);
    b.provides(&delta_base_provide(&base_hex), None);
    b.provides(&delta_target_provide(&target_hex), None);
    let commit_bytes = repo.read_metadata(ObjectType::Commit, target_id)?;
    b.add_file_bytes(
        &DeltaPayloadFile::Commit.path(&base_hex, &target_hex),
        commit_bytes,
        0o644,
    );
    if let Some(d) = repo.read_commit_detached_metadata(target_id)? {
        b.add_file_bytes(
            &DeltaPayloadFile::CommitMeta.path(&base_hex, &target_hex),
            d,
            0o644,
        );
    }
    b.add_file_bytes(
        &DeltaPayloadFile::Index.path(&base_hex, &target_hex),
        index_bytes.to_vec(),
        0o644,
    );
    b.add_file_path(
        &DeltaPayloadFile::Delta.path(&base_hex, &target_hex),
        &stream_path,
        0o644,
    );
    let file_name = format!(
        "{name}-{}-{}.{}.rpm",
        jigdo.version, jigdo.release, jigdo.arch
    );
    let out_path = out_dir.join(file_name);
    b.write_to(&out_path, sign_key)?;
    report.rpm_size = std::fs::metadata(&out_path)
        .map_err(|e| PackError::io(&out_path, e))?
        .len();
    report.rpm = out_path;
    Ok(report)
}
