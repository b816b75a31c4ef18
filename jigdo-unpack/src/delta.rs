//! Applying a delta RPM (specs/jigdo-format.md §6) to a repository that holds its base
//! commit.
//!
//! Order of work, as for `unpack`, so that a failure or a `kill -9` at any point leaves no
//! ref on an incomplete commit and a rerun finishes the job:
//! 1. read the delta RPM's header and `0-commit`, `1-commitmeta`, `2-index`, and check them
//!    against each other (commit checksum, base and target provides);
//! 2. check that the repository holds the base commit, complete;
//! 3. mark the target commit partial;
//! 4. in one transaction, write every dirtree and dirmeta of the stream (each named by the
//!    SHA-256 of its bytes), then every content object, each checked against the checksum
//!    its record names before it is stored (a patch is applied to the base object, by
//!    worker threads while the stream is read on);
//!    While the longest patch (an object compressed again) is still being applied, what
//!    the target's packages became (the package caches) is worked out from the target's
//!    tree and index and staged in the same transaction, and the target commit object
//!    and its detached metadata are written (their own transaction, committed first);
//! 5. check that everything the target reaches is present, clear the partial mark, then
//!    set the ref.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use jigdo_format::delta::{
    libzstd_version, libzstd_version_name, parse_delta_base_provide, parse_delta_target_provide,
    zstd_decompress_sized, zstd_patch_exact, zstd_recompress, DrainingBytes, DELTA_PROVIDE,
    DELTA_PROVIDE_PREFIX, OBJTYPE_DIRTREE,
};
use jigdo_format::{DeltaOp, DeltaPayloadFile, DeltaReader, FormatError, Index, PayloadFile};
use ostree_store::{Checksum, FileHeader, ObjectType, Repo};
use rpm_package::PayloadReader;
use serde::Serialize;

use crate::error::{IoContext, Result, UnpackError};
use crate::jigdo_rpm::{open_rpm_header, read_payload_head, JigdoRpm, Payload};
use crate::unpack::check_commit_complete;

/// A delta RPM read and checked up to its `3-delta` stream.
#[derive(Debug)]
pub struct DeltaRpm {
    /// Package name of the delta RPM (`JIGDO-delta-BASE`).
    pub name: String,
    /// The base commit.
    pub base: Checksum,
    /// The target: its commit, detached metadata and index, as the jigdo RPM of the same
    /// version would hold them; its path, size, version, release and arch are the delta
    /// RPM's, its name the jigdo RPM's (the default ref).
    pub target: JigdoRpm,
}

/// Whether the RPM at `path` is a delta RPM (by its `ostree-jigdo-delta(vN)` provide).
pub fn is_delta_rpm(path: &Path) -> Result<bool> {
    let (header, _, _) = open_rpm_header(path)?;
    Ok(header
        .provides
        .iter()
        .any(|p| p.name.starts_with(DELTA_PROVIDE_PREFIX)))
}

impl DeltaRpm {
    /// Reads and checks the delta RPM up to (not including) its delta stream.
    pub fn open(path: impl AsRef<Path>) -> Result<DeltaRpm> {
        Ok(Self::open_with_payload(path.as_ref())?.0)
    }

    fn open_with_payload(path: &Path) -> Result<(DeltaRpm, Payload)> {
        let path = path.to_path_buf();
        let corrupt = |reason: String| UnpackError::Corrupt {
            path: path.clone(),
            reason,
        };
        let (header, r, file_size) = open_rpm_header(&path)?;
        let names: Vec<&str> = header.provides.iter().map(|p| p.name.as_str()).collect();
        if !names.contains(&DELTA_PROVIDE) {
            return Err(
                match names.iter().find(|n| n.starts_with(DELTA_PROVIDE_PREFIX)) {
                    Some(v) => UnpackError::UnsupportedVersion {
                        path,
                        found: v.to_string(),
                        supported: jigdo_format::delta::DELTA_VERSION,
                    },
                    None => UnpackError::NotJigdo {
                        path,
                        reason: format!("it has no `Provides: {DELTA_PROVIDE}`"),
                    },
                },
            );
        }
        let one = |what: &str, found: Vec<&str>| -> Result<Checksum> {
            match found.as_slice() {
                [c] => c
                    .to_ascii_lowercase()
                    .parse()
                    .map_err(|_| corrupt(format!("bad {what} checksum {c}"))),
                _ => Err(corrupt(format!(
                    "it must provide exactly one ostree-jigdo-delta-{what}(…)"
                ))),
            }
        };
        let base = one(
            "base",
            names
                .iter()
                .filter_map(|n| parse_delta_base_provide(n))
                .collect(),
        )?;
        let target = one(
            "target",
            names
                .iter()
                .filter_map(|n| parse_delta_target_provide(n))
                .collect(),
        )?;
        let name = header.name.clone();
        let (bh, th) = (base.to_hex(), target.to_hex());
        let mut payload = PayloadReader::new(header, r)?;
        let target = read_payload_head(
            &mut payload,
            (&path, file_size),
            jigdo_name_of(&name).to_string(),
            target,
            "ostree-jigdo-delta-target",
            |p| match DeltaPayloadFile::parse(p, &bh, &th)? {
                DeltaPayloadFile::Commit => Some(PayloadFile::Commit),
                DeltaPayloadFile::CommitMeta => Some(PayloadFile::CommitMeta),
                DeltaPayloadFile::Index => Some(PayloadFile::Index),
                DeltaPayloadFile::Delta => None,
            },
        )?;
        Ok((DeltaRpm { name, base, target }, payload))
    }

    /// The name of the jigdo RPM this delta belongs to (the package name without its
    /// `-delta-BASE` suffix): the default ref.
    pub fn jigdo_name(&self) -> &str {
        &self.target.name
    }
}

/// The jigdo RPM name of a delta RPM named `name` (without its `-delta-BASE` suffix).
fn jigdo_name_of(name: &str) -> &str {
    {
        match name.rsplit_once("-delta-") {
            Some((n, _)) if !n.is_empty() => n,
            _ => name,
        }
    }
}

/// What applying a delta did.
#[derive(Debug, Clone, Serialize)]
pub struct DeltaApplyReport {
    /// The target commit.
    pub commit: String,
    /// The base commit.
    pub base: String,
    /// The ref set.
    #[serde(rename = "ref")]
    pub ref_name: String,
    /// The repository.
    pub repo: PathBuf,
    /// Whether the target was complete already (only the ref was set).
    pub already_present: bool,
    /// Size of the delta RPM.
    pub delta_bytes: u64,
    /// Objects written (commit, dirtrees, dirmetas, content).
    pub objects_written: u64,
    /// Content objects rebuilt from patches.
    pub patched_objects: u64,
    /// Of those, zstd objects rebuilt by patching their decompressed bytes and compressing
    /// again.
    pub recompressed_objects: u64,
}

fn delta_err(path: &Path, e: FormatError) -> UnpackError {
    UnpackError::Format {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Applies the delta RPM at `path` to the repository `repo_path` (which must hold the
/// base commit) and sets `ref_name` (default: the jigdo RPM's name) to the target.
pub fn apply_delta(
    path: &Path,
    repo_path: &Path,
    ref_name: Option<&str>,
) -> Result<DeltaApplyReport> {
    DeltaJob::open(path)?.apply(repo_path, ref_name)
}

/// A delta RPM opened once: its checked metadata (for the trust step) and its stream,
/// applied by [`DeltaJob::apply`].
pub struct DeltaJob {
    delta: DeltaRpm,
    payload: Payload,
    /// When the delta RPM was opened (the debug log's step times count from it).
    started: std::time::Instant,
}

impl DeltaJob {
    /// Reads and checks the delta RPM up to its stream.
    pub fn open(path: &Path) -> Result<DeltaJob> {
        let started = std::time::Instant::now();
        let (delta, payload) = DeltaRpm::open_with_payload(path)?;
        tracing::debug!(elapsed = ?started.elapsed(), "delta: RPM read and checked");
        Ok(DeltaJob {
            delta,
            payload,
            started,
        })
    }

    /// The delta RPM's checked metadata.
    pub fn delta(&self) -> &DeltaRpm {
        &self.delta
    }

    /// Applies the delta (see the module docs) and sets `ref_name` (default: the jigdo
    /// RPM's name).
    pub fn apply(self, repo_path: &Path, ref_name: Option<&str>) -> Result<DeltaApplyReport> {
        let DeltaJob {
            delta,
            mut payload,
            started,
        } = self;
        let step = |what: &str| tracing::debug!(elapsed = ?started.elapsed(), "delta: {what}");
        let path = delta.target.path.clone();
        let path = path.as_path();
        let ref_name = ref_name.unwrap_or(delta.jigdo_name()).to_string();
        crate::unpack::check_ref(&ref_name)?;
        let corrupt = |reason: String| UnpackError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        let base = delta.base;
        let commit = delta.target.commit;
        let missing_base = || UnpackError::DeltaBaseMissing {
            path: path.to_path_buf(),
            base: base.to_hex(),
            repo: repo_path.to_path_buf(),
        };
        if !repo_path.join("config").exists() {
            return Err(missing_base());
        }
        let repo = Repo::open(repo_path)?;
        let _lock = repo.lock(ostree_store::LockKind::Shared)?;
        if !repo.has_object(ObjectType::Commit, &base) || repo.is_commit_partial(&base) {
            return Err(missing_base());
        }
        let mut report = DeltaApplyReport {
            commit: commit.to_hex(),
            base: base.to_hex(),
            ref_name: ref_name.clone(),
            repo: repo_path.to_path_buf(),
            already_present: false,
            delta_bytes: delta.target.file_size,
            objects_written: 0,
            patched_objects: 0,
            recompressed_objects: 0,
        };
        if repo.has_object(ObjectType::Commit, &commit)
            && !repo.is_commit_partial(&commit)
            && repo.is_commit_complete(&commit)
        {
            if let (Some(m), Ok(None)) = (
                &delta.target.commitmeta,
                repo.read_commit_detached_metadata(&commit),
            ) {
                repo.write_commit_detached_metadata(&commit, Some(m))?;
            }
            repo.set_ref(&ref_name, Some(&commit))?;
            report.already_present = true;
            return Ok(report);
        }

        // 3. The commit is partial until the end; the commit object and its detached
        // metadata are written (in their own transaction) once the stream is read, while
        // the longest patch is being applied: it starts without waiting for a flush.
        repo.mark_commit_partial(&commit, true)?;
        step("commit marked partial");
        // 4. The stream.
        let (bh, th) = (base.to_hex(), commit.to_hex());
        let tx = repo.transaction()?;
        // The objects of the stream: each is present (found, or written and checked) once
        // the transaction committed, so the final check does not look them up again.
        let mut present: std::collections::HashSet<(ObjectType, Checksum)> =
            std::collections::HashSet::new();
        {
            let mut entry = loop {
                let Some(entry) = payload.next_entry()? else {
                    return Err(corrupt("the payload lacks 3-delta".into()));
                };
                if entry.file().is_dir() {
                    continue;
                }
                if DeltaPayloadFile::parse(&entry.info().path, &bh, &th)
                    != Some(DeltaPayloadFile::Delta)
                {
                    return Err(corrupt(format!(
                        "unexpected payload file {} (3-delta expected)",
                        entry.info().path
                    )));
                }
                break entry;
            };
            let mut r = DeltaReader::new(&mut entry).map_err(|e| delta_err(path, e))?;
            if r.header.base != base.0 || r.header.target != commit.0 {
                return Err(corrupt(
                    "the delta stream names other commits than the RPM's provides".into(),
                ));
            }
            // The dirtrees and dirmetas are written once the recompressed records (first
            // in the stream) are handed to the workers: their compression, the longest
            // job, starts without waiting for a file per directory.
            let mut metadata = Vec::new();
            // The stream's dirtrees, by checksum: with the base's, the target's tree, read
            // to record its packages before the transaction commits.
            let mut stream_trees: HashMap<Checksum, Vec<u8>> = HashMap::new();
            while let Some((code, bytes)) = r.next_metadata().map_err(|e| delta_err(path, e))? {
                let t = if code == OBJTYPE_DIRTREE {
                    stream_trees.insert(Checksum::of_bytes(&bytes), bytes.clone());
                    ObjectType::DirTree
                } else {
                    ObjectType::DirMeta
                };
                metadata.push((t, bytes));
            }
            step("metadata records read");
            // Patches are applied by worker threads while this thread reads the stream
            // on (a recompressed object alone takes seconds of zstd); the first failure
            // stops the dispatch and is returned.
            let failure: std::sync::Mutex<Option<UnpackError>> = std::sync::Mutex::new(None);
            let failed = std::sync::atomic::AtomicBool::new(false);
            let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
            let (repo_ref, tx_ref) = (&repo, &tx);
            let (send, receive) = std::sync::mpsc::sync_channel::<PatchJob>(workers);
            let receive = std::sync::Mutex::new(receive);
            std::thread::scope(|scope| -> Result<()> {
                // Dropped when this closure ends, which stops the workers.
                let send = send;
                for _ in 0..workers {
                    let (receive, failure, failed) = (&receive, &failure, &failed);
                    scope.spawn(move || loop {
                        let job = match receive.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        if failed.load(std::sync::atomic::Ordering::Relaxed) {
                            continue; // drain: the apply already failed
                        }
                        if let Err(e) = job.apply(repo_ref, tx_ref, path) {
                            failed.store(true, std::sync::atomic::Ordering::Relaxed);
                            if let Ok(mut f) = failure.lock() {
                                f.get_or_insert(e);
                            }
                        }
                    });
                }
                while let Some(obj) = r.next_content().map_err(|e| delta_err(path, e))? {
                    if failed.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    if !matches!(obj.op, DeltaOp::RecompressedPatch { .. }) {
                        write_metadata(repo_ref, tx_ref, &mut metadata, &mut present, &mut report)?;
                    }
                    let c = Checksum(obj.checksum);
                    let h = &obj.header;
                    let xattrs = ostree_store::gvariant::read_xattrs(&h.xattrs)
                        .map_err(|e| corrupt(format!("object {c}: bad xattrs: {e}")))?;
                    let header = match &h.symlink {
                        Some(t) => {
                            let mut fh = FileHeader::symlink(h.uid, h.gid, t);
                            fh.mode = h.mode;
                            fh.xattrs = xattrs;
                            fh
                        }
                        None => {
                            let mut fh = FileHeader::regular(h.uid, h.gid, h.mode);
                            fh.xattrs = xattrs;
                            fh
                        }
                    };
                    present.insert((ObjectType::File, c));
                    if repo.has_object(ObjectType::File, &c) {
                        continue; // next_content skips the unread bytes
                    }
                    report.objects_written += 1;
                    let patch = match obj.op {
                        DeltaOp::Whole { .. } => {
                            tx.write_content_with_checksum(&c, &header, r.data())
                                .map_err(|e| {
                                    UnpackError::content_from(e, None, || {
                                        format!("a whole-object record of {}", path.display())
                                    })
                                })?;
                            continue;
                        }
                        DeltaOp::Patch {
                            base,
                            size,
                            window_log,
                            ..
                        } => Patch::Plain {
                            base: Checksum(base),
                            size,
                            window_log,
                        },
                        DeltaOp::RecompressedPatch {
                            base,
                            size,
                            zstd,
                            base_raw_size,
                            raw_size,
                            ..
                        } => {
                            report.recompressed_objects += 1;
                            Patch::Recompressed {
                                base: Checksum(base),
                                size,
                                zstd,
                                base_raw_size,
                                raw_size,
                            }
                        }
                    };
                    report.patched_objects += 1;
                    let mut bytes = Vec::new();
                    r.data().read_to_end(&mut bytes).at(path)?;
                    let job = PatchJob {
                        checksum: c,
                        header,
                        patch,
                        bytes,
                    };
                    if send.send(job).is_err() {
                        break; // every worker stopped
                    }
                }
                write_metadata(repo_ref, tx_ref, &mut metadata, &mut present, &mut report)?;
                step("stream read");
                // While the workers apply the last patches (an object compressed again
                // takes seconds): what the target's packages became, staged in this
                // transaction (as unpack does).
                if failed.load(std::sync::atomic::Ordering::Relaxed) {
                    return Ok(()); // the failure is returned below
                }
                stage_package_caches(repo_ref, tx_ref, &delta, &stream_trees)?;
                drop(stream_trees);
                step("packages recorded (staged)");
                // The commit object, before the stream's objects (its transaction commits
                // first; its flush writes out what the stream staged so far too).
                let ctx = repo_ref.transaction()?;
                ctx.write_metadata(ObjectType::Commit, &delta.target.commit_bytes)?;
                ctx.commit()?;
                report.objects_written += 1;
                if let Some(m) = &delta.target.commitmeta {
                    repo_ref.write_commit_detached_metadata(&commit, Some(m))?;
                }
                step("commit written");
                Ok(())
            })?;
            step("patches applied");
            if let Some(e) = failure.into_inner().ok().flatten() {
                return Err(e);
            }
            drop(r);
            // Read to the end, so that the payload's digests are checked.
            std::io::copy(&mut entry, &mut std::io::sink()).at(path)?;
        }
        // Nothing may follow, and the payload must end properly (a truncated RPM does not).
        if let Some(entry) = payload.next_entry()? {
            return Err(corrupt(format!(
                "unexpected payload file {} after 3-delta",
                entry.info().path
            )));
        }
        tx.commit()?;
        step("transaction committed");

        // 5. Complete: clear the mark, set the ref.
        // The base is complete (checked under the lock still held): the subtrees the
        // target shares with it are not walked.
        check_commit_complete(&repo, &commit, &present, Some(&base))?;
        step("commit checked complete");
        repo.mark_commit_partial(&commit, false)?;
        repo.set_ref(&ref_name, Some(&commit))?;
        step("ref set");
        Ok(report)
    }
}

/// Writes the dirtrees and dirmetas of `metadata` that `repo` lacks through `tx` (and
/// empties it), counting them in `report`; each is added to `present`.
fn write_metadata(
    repo: &Repo,
    tx: &ostree_store::Transaction<'_>,
    metadata: &mut Vec<(ObjectType, Vec<u8>)>,
    present: &mut std::collections::HashSet<(ObjectType, Checksum)>,
    report: &mut DeltaApplyReport,
) -> Result<()> {
    for (t, bytes) in metadata.drain(..) {
        let c = Checksum::of_bytes(&bytes);
        if !repo.has_object(t, &c) {
            tx.write_metadata(t, &bytes)?;
            report.objects_written += 1;
        }
        present.insert((t, c));
    }
    Ok(())
}

/// Threads that compress a multithreaded zstd object again (at most; no more than the
/// machine's processors): its bytes do not depend on the number, each thread holds a
/// compression context (about 50 MiB at level 12: heaptrack, session 9).
const RECOMPRESS_WORKERS: usize = 2;

/// How a patched object is rebuilt from its base object.
enum Patch {
    /// The patch applies to the base object's bytes.
    Plain {
        base: Checksum,
        size: u64,
        window_log: u32,
    },
    /// The patch applies to the decompressed base; the result is compressed again.
    Recompressed {
        base: Checksum,
        size: u64,
        zstd: jigdo_format::delta::ZstdParams,
        base_raw_size: u64,
        raw_size: u64,
    },
}

/// One patched object of the stream, handed to a worker of [`DeltaJob::apply`].
struct PatchJob {
    checksum: Checksum,
    header: FileHeader,
    patch: Patch,
    /// The patch's bytes.
    bytes: Vec<u8>,
}

impl PatchJob {
    /// Rebuilds the object from its base in `repo` and stores it through `tx`, checked
    /// against its checksum. `path` (the delta RPM) names the source in errors.
    fn apply(self, repo: &Repo, tx: &ostree_store::Transaction<'_>, path: &Path) -> Result<()> {
        let c = self.checksum;
        let corrupt = |reason: String| UnpackError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        let base = match &self.patch {
            Patch::Plain { base, .. } | Patch::Recompressed { base, .. } => *base,
        };
        let (bhdr, mut br) = repo.read_file(&base)?;
        if !bhdr.is_regular() {
            return Err(corrupt(format!(
                "object {c}: patch base {base} is not a regular file"
            )));
        }
        match self.patch {
            Patch::Plain {
                size, window_log, ..
            } => {
                let mut base_bytes = Vec::new();
                br.read_to_end(&mut base_bytes)
                    .at(repo.loose_path(ObjectType::File, &base))?;
                let mut dec =
                    zstd::stream::read::Decoder::with_ref_prefix(&self.bytes[..], &base_bytes)
                        .at(path)?;
                dec.window_log_max(window_log).at(path)?;
                let mut patched = KeepReadError::new(dec.take(size));
                let written = tx.write_content_with_checksum(&c, &self.header, &mut patched);
                if let Some(e) = patched.error {
                    return Err(corrupt(format!(
                        "object {c}: its patch against base object {base} cannot be applied \
                         ({e}): the delta RPM is damaged; fetch it again"
                    )));
                }
                written.map_err(|e| {
                    UnpackError::content_from(e, None, || {
                        format!(
                            "a record of {} patched against base object {base}",
                            path.display()
                        )
                    })
                })?;
            }
            Patch::Recompressed {
                size,
                zstd: params,
                base_raw_size,
                raw_size,
                ..
            } => {
                // The decompressed object is rebuilt in one buffer of its exact size, and
                // the decompressed base dropped before compressing: beside the
                // compressor's own memory only the object is held.
                let t0 = std::time::Instant::now();
                let base_raw = zstd_decompress_sized(br, base_raw_size)
                    .map_err(|e| corrupt(format!("object {c}: base {base}: {e}")))?;
                let raw = zstd_patch_exact(&self.bytes, &base_raw, raw_size).map_err(|e| {
                    corrupt(format!(
                        "object {c}: its patch against the decompressed base object {base} \
                         cannot be applied ({e}): the delta RPM is damaged; fetch it again"
                    ))
                })?;
                drop((base_raw, self.bytes));
                tracing::debug!(object = %c, took = ?t0.elapsed(), "delta: patched decompressed");
                // The object's memory is given back as the compressor takes it in.
                let workers = std::thread::available_parallelism()
                    .map_or(1, |n| n.get().min(RECOMPRESS_WORKERS));
                let rebuilt =
                    zstd_recompress(DrainingBytes::new(raw), raw_size, params, workers as u32)
                        .at(path)?;
                tx.write_content_with_checksum(&c, &self.header, rebuilt.take(size))
                    .map_err(|e| {
                        UnpackError::content_from(e, None, || {
                            let ours = libzstd_version();
                            let release =
                                if params.libzstd_version != 0 && params.libzstd_version != ours {
                                    format!(
                                        " (by libzstd {}; the delta was made with libzstd {}, \
                                     which compresses differently)",
                                        libzstd_version_name(ours),
                                        libzstd_version_name(params.libzstd_version)
                                    )
                                } else {
                                    String::new()
                                };
                            format!(
                                "a record of {} patched decompressed against base object \
                                 {base} and compressed again{release}",
                                path.display()
                            )
                        })
                    })?;
                tracing::debug!(object = %c, took = ?t0.elapsed(), "delta: compressed again");
            }
        }
        Ok(())
    }
}

/// A reader that keeps the first error of the reader it wraps, so that a failed write can
/// tell bad input (a patch that does not decode) from a failure of the repository.
struct KeepReadError<R> {
    inner: R,
    error: Option<std::io::Error>,
}

impl<R> KeepReadError<R> {
    fn new(inner: R) -> Self {
        KeepReadError { inner, error: None }
    }
}

impl<R: Read> Read for KeepReadError<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            if self.error.is_none() && e.kind() != std::io::ErrorKind::Interrupted {
                self.error = Some(std::io::Error::new(e.kind(), e.to_string()));
            }
        })
    }
}

/// Stages through `tx` (the transaction that writes the objects) the package caches that
/// record what the target's package files became (as an unpack does), so that a later
/// update through the jigdo RPM path does not fetch a package whose objects the delta
/// delivered. The target's tree is read from `stream_trees` (the dirtrees of the
/// delta's stream, by checksum) and `repo` (the rest: the base's). The index is checked
/// against that tree first (it must rebuild the commit's root exactly); if it does not,
/// nothing is recorded (the caches are an optimisation, never trusted for correctness).
fn stage_package_caches(
    repo: &Repo,
    tx: &ostree_store::Transaction<'_>,
    delta: &DeltaRpm,
    stream_trees: &HashMap<Checksum, Vec<u8>>,
) -> Result<()> {
    use std::cell::RefCell;
    let index = &delta.target.index;
    // The stored tree's files by path ("usr/bin/bash").
    let mut files: HashMap<String, Checksum> = HashMap::new();
    let mut stack = vec![(delta.target.commit_object.root_tree, String::new())];
    while let Some((tree, prefix)) = stack.pop() {
        let dt = match stream_trees.get(&tree) {
            Some(bytes) => {
                ostree_store::DirTree::decode(bytes).map_err(|e| UnpackError::Corrupt {
                    path: delta.target.path.clone(),
                    reason: format!("dirtree {tree}: {e}"),
                })?
            }
            None => repo.read_dirtree(&tree)?,
        };
        for (name, c) in &dt.files {
            files.insert(format!("{prefix}{name}"), *c);
        }
        for (name, t, _) in &dt.dirs {
            stack.push((*t, format!("{prefix}{name}/")));
        }
    }
    let sums: RefCell<Vec<(u32, String, u32, Checksum)>> = RefCell::new(Vec::new());
    let resolve = |tree_path: &str, entry: &jigdo_format::FileEntry| -> Option<Checksum> {
        let c = files.get(tree_path).copied()?;
        if let jigdo_format::Source::Package { package, .. } = &entry.source {
            let ppath = Index::package_path(tree_path, entry)?;
            sums.borrow_mut().push((*package, ppath, entry.meta, c));
        }
        Some(c)
    };
    let rebuilt = match crate::rebuild::rebuild_tree(index, &resolve) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(
                "delta {}: index does not match the tree ({e}); package caches not updated",
                delta.target.path.display()
            );
            return Ok(());
        }
    };
    if rebuilt.root_tree != delta.target.commit_object.root_tree
        || rebuilt.root_meta != delta.target.commit_object.root_meta
    {
        tracing::warn!(
            "delta {}: index does not rebuild the commit; package caches not updated",
            delta.target.path.display()
        );
        return Ok(());
    }
    // Held while the object compressed again still is: given back before the caches.
    drop((rebuilt, files));
    let mut by_package: HashMap<u32, Vec<(String, u32, Checksum)>> = HashMap::new();
    for (p, path, meta, c) in sums.into_inner() {
        by_package.entry(p).or_default().push((path, meta, c));
    }
    for (p, entries) in by_package {
        let Some(pin) = index.packages.get(p as usize) else {
            continue;
        };
        let mut cache = crate::cache::PackageCache::load(repo.path(), &pin.id);
        for (path, meta, c) in entries {
            cache.insert(crate::plan::object_key(index, &path, meta), c);
        }
        cache.stage(tx)?;
    }
    Ok(())
}

/// What `jigdo info` reports of a delta RPM.
#[derive(Debug, Clone, Serialize)]
pub struct DeltaInfo {
    /// The delta RPM.
    pub path: PathBuf,
    /// Its `name-version-release.arch`.
    pub nevra: String,
    /// The jigdo RPM name it belongs to (the default ref).
    pub jigdo_name: String,
    /// The base commit.
    pub base: String,
    /// The target commit.
    pub commit: String,
    /// The target commit's `version` metadata.
    pub version: Option<String>,
    /// Dirtrees and dirmetas carried.
    pub metadata_objects: u64,
    /// Content objects carried.
    pub content_objects: u64,
    /// Content objects carried whole.
    pub whole_objects: u64,
    /// Their bytes.
    pub whole_bytes: u64,
    /// Content objects carried as patches.
    pub patched_objects: u64,
    /// Bytes of the patches.
    pub patch_bytes: u64,
    /// Of the patched objects, zstd objects patched decompressed (and compressed again).
    pub recompressed_objects: u64,
    /// Bytes of their patches (counted in `patch_bytes` too).
    pub recompressed_patch_bytes: u64,
    /// Each of those objects and how the client compresses it again.
    pub recompressed: Vec<RecompressedInfo>,
    /// Size of the delta RPM file.
    pub rpm_size: u64,
}

/// A zstd object of a delta RPM patched decompressed, and the parameters its record gives
/// for compressing it again (what [`DeltaJob::apply`] reproduces).
#[derive(Debug, Clone, Serialize)]
pub struct RecompressedInfo {
    /// The object's checksum.
    pub object: String,
    /// Its size (compressed).
    pub size: u64,
    /// Its decompressed size.
    pub raw_size: u64,
    /// zstd level.
    pub level: i32,
    /// The frame carries a content checksum.
    pub checksum: bool,
    /// The frame carries its content size.
    pub content_size: bool,
    /// Made by libzstd's multithreaded compressor (`zstd -T1` and up).
    pub multithreaded: bool,
    /// The libzstd release that reproduced it at pack time (e.g. 10504), 0 if unrecorded.
    pub libzstd_version: u32,
}

/// Describes the delta RPM at `path` (reads its whole stream, writes nothing).
pub fn delta_info(path: &Path) -> Result<DeltaInfo> {
    let (delta, mut payload) = DeltaRpm::open_with_payload(path)?;
    let mut info = DeltaInfo {
        path: path.to_path_buf(),
        nevra: format!(
            "{}-{}-{}.{}",
            delta.name, delta.target.version, delta.target.release, delta.target.arch
        ),
        jigdo_name: delta.jigdo_name().to_string(),
        base: delta.base.to_hex(),
        commit: delta.target.commit.to_hex(),
        version: delta.target.commit_object.version(),
        metadata_objects: 0,
        content_objects: 0,
        whole_objects: 0,
        whole_bytes: 0,
        patched_objects: 0,
        patch_bytes: 0,
        recompressed_objects: 0,
        recompressed_patch_bytes: 0,
        recompressed: Vec::new(),
        rpm_size: delta.target.file_size,
    };
    let (bh, th) = (delta.base.to_hex(), delta.target.commit.to_hex());
    while let Some(mut entry) = payload.next_entry()? {
        if DeltaPayloadFile::parse(&entry.info().path, &bh, &th) != Some(DeltaPayloadFile::Delta) {
            continue;
        }
        let mut r = DeltaReader::new(&mut entry).map_err(|e| delta_err(path, e))?;
        while r.next_metadata().map_err(|e| delta_err(path, e))?.is_some() {
            info.metadata_objects += 1;
        }
        while let Some(o) = r.next_content().map_err(|e| delta_err(path, e))? {
            info.content_objects += 1;
            match o.op {
                DeltaOp::Whole { size } => {
                    info.whole_objects += 1;
                    info.whole_bytes += size;
                }
                DeltaOp::Patch { patch_len, .. } => {
                    info.patched_objects += 1;
                    info.patch_bytes += patch_len;
                }
                DeltaOp::RecompressedPatch {
                    patch_len,
                    size,
                    raw_size,
                    zstd,
                    ..
                } => {
                    info.patched_objects += 1;
                    info.patch_bytes += patch_len;
                    info.recompressed_objects += 1;
                    info.recompressed_patch_bytes += patch_len;
                    info.recompressed.push(RecompressedInfo {
                        object: Checksum(o.checksum).to_hex(),
                        size,
                        raw_size,
                        level: zstd.level,
                        checksum: zstd.checksum,
                        content_size: zstd.content_size,
                        multithreaded: zstd.multithreaded,
                        libzstd_version: zstd.libzstd_version,
                    });
                }
            }
        }
        break;
    }
    Ok(info)
}
