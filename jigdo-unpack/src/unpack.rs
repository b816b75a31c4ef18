//! `jigdo unpack`: rebuild the exact commit of a jigdo RPM in an OSTree repository.
//!
//! Order of work (each step only after the previous succeeded), chosen so that a failure
//! or a `kill -9` at any point leaves the repository consistent and no ref pointing to an
//! incomplete commit, and a rerun finishes the job:
//!
//! 1. read the jigdo RPM up to its index and check it (pins, commit, index) — nothing
//!    is written yet; its new-content blobs are read once, in step 4;
//! 2. decide which packages must be read (a package whose every needed object is known
//!    from its cache and present is skipped) and locate each in the sources — a missing
//!    package fails here, before the repository is created or touched (except for
//!    files that arrive while the unpack runs: one that never comes fails step 4, which
//!    leaves the commit partial and no ref set);
//! 3. write the commit object (marked partial) and its detached metadata;
//! 4. write the new contents and import the packages, all in parallel (biggest first;
//!    when the package files arrive while this runs, [`crate::source::Arrivals`], each
//!    as soon as it is there, the biggest of those there first), each package checked
//!    against its pin before a byte of it is parsed; the jigdo RPM's blobs are checked
//!    (each against the index's SHA-256 and the header's digests, the payload against its
//!    digest) as they are written into the transaction's staging, which nothing reads:
//!    a blob that fails its check fails the unpack before the transaction commits, so no
//!    object made from it becomes visible (and step 5 checks every object against the
//!    commit all the same);
//! 5. rebuild every dirtree and dirmeta; the root checksums must equal the commit's.
//!    Steps 4 and 5 share one transaction, so the repository is flushed once (as
//!    libostree's pull does); an interruption before its commit loses that work, which
//!    a rerun redoes. The dirtrees and dirmetas are written as they are rebuilt, on a
//!    second thread. The package caches are staged in the same transaction (each as
//!    its package's import ends) and renamed into place at its commit, after the flush;
//! 6. check that everything the commit reaches is present (listed from the rebuilt
//!    tree, which step 5 found to be the commit's; when the ref held a complete commit
//!    before, by the walk beyond it instead), clear the partial mark and only then set
//!    the ref.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use jigdo_format::{Index, NewContent, Source};
use ostree_store::{Checksum, ObjectType, Repo, RepoMode};
use rayon::prelude::*;
use rpm_package::{PackageHeader, PayloadReader};
use serde::Serialize;

use crate::cache::PackageCache;
use crate::error::{IoContext, Result, UnpackError};
use crate::event::UnpackEvent;
use crate::jigdo_rpm::{BlobStream, JigdoRpm};
use crate::plan::{file_header, is_symlink_meta, object_key, Plan};
use crate::rebuild::{
    file_path, locate_difference, rebuild_tree_streaming, Difference, RebuiltTree,
};
use crate::record::PendingRecord;
use crate::source::{
    keep_package_bytes, Located, PackageContent, PackageFiles, Sources, IN_MEMORY_PACKAGE_MAX,
};

/// What to unpack, from where, into where (`jigdo unpack`).
#[derive(Debug, Clone)]
pub struct UnpackOptions {
    /// The jigdo RPM.
    pub jigdo_rpm: PathBuf,
    /// `--from` sources, tried in order.
    pub sources: Vec<String>,
    /// The target OSTree repository.
    pub repo: PathBuf,
    /// Mode of the repository if it has to be created.
    pub mode: RepoMode,
    /// Ref to set (default: the jigdo RPM's name).
    pub ref_name: Option<String>,
}

impl UnpackOptions {
    /// Where the unpack writes.
    pub fn target(&self) -> Target {
        Target {
            repo: self.repo.clone(),
            mode: self.mode,
            ref_name: self.ref_name.clone(),
        }
    }
}

/// Where an unpack writes: the repository (created with `mode` if absent) and the ref.
#[derive(Debug, Clone)]
pub struct Target {
    /// The target OSTree repository.
    pub repo: PathBuf,
    /// Mode of the repository if it has to be created.
    pub mode: RepoMode,
    /// Ref to set (default: the jigdo RPM's name).
    pub ref_name: Option<String>,
}

/// What `unpack` did, for people and scripts.
#[derive(Debug, Clone, Serialize)]
pub struct UnpackReport {
    /// The commit checksum.
    pub commit: String,
    /// The ref that now points to it.
    #[serde(rename = "ref")]
    pub ref_name: String,
    /// The repository written to.
    pub repo: PathBuf,
    /// Whether the commit was already complete in the repository (only the ref was set).
    pub already_present: bool,
    /// Packages in the pinned set.
    pub packages_total: usize,
    /// Packages that were read (the others were not needed or all their objects were
    /// already present).
    pub packages_imported: usize,
    /// NEVRAs of the packages read.
    pub imported: Vec<String>,
    /// Content, dirtree and dirmeta objects newly written.
    pub objects_written: u64,
    /// Bytes read from package files and the jigdo RPM.
    pub bytes_read: u64,
    /// Files in the tree.
    pub files: usize,
    /// Directories in the tree.
    pub directories: usize,
}

/// Checksums of a package's objects by (path in the package, metadata entry).
type PackageSums = HashMap<(String, u32), Checksum>;

/// Objects by type and checksum.
type ObjectSet = HashSet<(ObjectType, Checksum)>;

/// What a repository still needs of a jigdo RPM (step 2 of the module docs).
struct Decision {
    /// The repository, if it exists, locked (shared).
    existing: Option<(Repo, ostree_store::LockGuard)>,
    /// The commit is already complete there.
    complete: bool,
    /// Per package: the objects known from its cache and present.
    known: Vec<PackageSums>,
    /// Packages that must be read (indexes into the pinned set).
    to_import: Vec<usize>,
    /// The repository's loose objects, listed under the lock when the plan had many
    /// objects to look up (see [`LISTING_THRESHOLD`]).
    listed: Option<Arc<HashSet<(ObjectType, Checksum)>>>,
    /// The commit the ref pointed at, when it was complete (no partial mark) under the
    /// lock: the final check does not walk the subtrees the new commit shares with it.
    base: Option<Checksum>,
}

/// From this many objects to look up in an existing repository on, the plan lists the
/// repository's objects once instead of a `stat` per object: at desktop scale (131,000
/// files) the `stat`s were the plan's whole cost; a listing costs a fraction of that per
/// entry, so it wins unless the repository holds many times the tree's objects.
const LISTING_THRESHOLD: usize = 4096;

/// Whether `repo` holds the object: in `listed` (a listing taken under the lock still
/// held), else looked up.
fn is_present(
    repo: &Repo,
    listed: Option<&HashSet<(ObjectType, Checksum)>>,
    objtype: ObjectType,
    sum: &Checksum,
) -> bool {
    listed.is_some_and(|l| l.contains(&(objtype, *sum))) || repo.has_object(objtype, sum)
}

/// Decides which packages of `jigdo` (with its `plan`) the repository of `target` still
/// needs: none when the commit is complete there, else those whose every needed object
/// is not known from its package cache and present.
fn decide(jigdo: &JigdoRpm, plan: &Plan, target: &Target) -> Result<Decision> {
    let index = &jigdo.index;
    let existing = if target.repo.join("config").exists() {
        let repo = Repo::open(&target.repo)?;
        let lock = repo.lock(ostree_store::LockKind::Shared)?;
        Some((repo, lock))
    } else {
        None
    };
    let commit = jigdo.commit;
    let ref_name = target.ref_name.as_deref().unwrap_or(&jigdo.name);
    let base = existing.as_ref().and_then(|(repo, _)| {
        let c = repo.resolve_rev(ref_name).ok()?;
        (repo.has_object(ObjectType::Commit, &c) && !repo.is_commit_partial(&c)).then_some(c)
    });
    let complete = existing.as_ref().is_some_and(|(repo, _)| {
        repo.has_object(ObjectType::Commit, &commit)
            && !repo.is_commit_partial(&commit)
            && repo.is_commit_complete(&commit)
    });
    let mut known = vec![HashMap::new(); index.packages.len()];
    let mut to_import = Vec::new();
    let mut listed = None;
    if !complete {
        let mode = existing.as_ref().map_or(target.mode, |(r, _)| r.mode());
        if mode == RepoMode::BareUserOnly {
            if let Some(reason) = crate::plan::bare_user_only_fault(index) {
                return Err(UnpackError::BareUserOnly {
                    commit: commit.to_hex(),
                    reason,
                });
            }
        }
        match &existing {
            Some((repo, _)) => {
                let lookups: usize = (0..index.packages.len())
                    .map(|p| plan.package_object_count(p))
                    .sum();
                // Only an optimisation: a repository that cannot be listed is looked up
                // object by object.
                listed = (lookups >= LISTING_THRESHOLD)
                    .then(|| repo.loose_objects().ok())
                    .flatten()
                    .map(Arc::new);
                let found: Vec<(PackageSums, bool)> = (0..index.packages.len())
                    .into_par_iter()
                    .map(|p| known_objects(repo, listed.as_deref(), index, plan, p))
                    .collect();
                for (p, (sums, all)) in found.into_iter().enumerate() {
                    if !all {
                        to_import.push(p);
                    }
                    known[p] = sums;
                }
            }
            None => to_import
                .extend((0..index.packages.len()).filter(|&p| !plan.package_needs[p].is_empty())),
        }
    }
    Ok(Decision {
        existing,
        complete,
        known,
        to_import,
        listed,
        base,
    })
}

/// What a repository still needs of a jigdo RPM, decided from its index alone
/// ([`UnpackJob::decide`]), e.g. from the start of a jigdo RPM read before the rest
/// downloads: handed to [`UnpackJob::open_decided`] with the whole file, whose index must
/// be the same bytes, it spares that open the plan and the decision (at desktop scale,
/// one package cache per package and a listing of the repository). Holds the
/// repository's shared lock, if the repository exists, until it is dropped or the job
/// it went into ends.
pub struct Decided {
    /// The jigdo RPM (its start) it was decided from.
    start: JigdoRpm,
    repo: PathBuf,
    mode: RepoMode,
    ref_name: Option<String>,
    plan: Plan,
    decision: Decision,
}

impl Decided {
    /// The packages the repository still needs, as indexes into the pinned set, in pin
    /// order (none when the commit is complete there).
    pub fn needed(&self) -> &[usize] {
        &self.decision.to_import
    }

    /// The jigdo RPM it was decided from.
    pub fn jigdo(&self) -> &JigdoRpm {
        &self.start
    }

    /// The jigdo RPM it was decided from, the decision dropped (and the lock with it).
    pub fn into_jigdo(self) -> JigdoRpm {
        self.start
    }

    /// Whether this decision was made for `target`.
    fn fits_target(&self, target: &Target) -> bool {
        self.repo == target.repo && self.mode == target.mode && self.ref_name == target.ref_name
    }
}

/// What a job of step 4 made.
enum Done {
    /// The new contents' checksums by (new content, metadata entry).
    NewContents(HashMap<(u32, u32), Checksum>),
    /// A package imported: its number, the checksums it gave, the file it was read
    /// from (its cache, updated, is staged in the transaction already).
    Package(usize, PackageSums, PathBuf),
}

/// Counters shared by the workers.
#[derive(Default)]
struct Stats {
    objects_written: AtomicU64,
    bytes_read: AtomicU64,
}

/// Rebuilds the commit of `opts.jigdo_rpm` in `opts.repo` from the packages in
/// `opts.sources` (see the module docs) and records it ([`crate::record`]). `progress`
/// receives typed events.
pub fn unpack(
    opts: &UnpackOptions,
    progress: &(dyn Fn(&UnpackEvent) + Sync),
) -> Result<UnpackReport> {
    let job = UnpackJob::open(&opts.jigdo_rpm, opts.target())?;
    finish_local(job, opts, None, progress)
}

/// The rest of [`unpack`] once `job` (opened from `opts`) was checked: the packages
/// read from `opts.sources`, the commit written, the install record written naming
/// `verified_by` (what authenticated the commit, if anything did).
pub fn finish_local(
    job: UnpackJob,
    opts: &UnpackOptions,
    verified_by: Option<String>,
    progress: &(dyn Fn(&UnpackEvent) + Sync),
) -> Result<UnpackReport> {
    let source = std::fs::canonicalize(&opts.jigdo_rpm).unwrap_or_else(|_| opts.jigdo_rpm.clone());
    let record = PendingRecord::new(job.jigdo(), source.display().to_string(), verified_by)?;
    let report = if job.is_complete() {
        job.finish(&Sources::new(Vec::new()), progress)?
    } else {
        let sources = Sources::from_args(&opts.sources)?;
        job.finish(&sources, progress)?
    };
    record.write(&opts.repo)?;
    Ok(report)
}

/// A jigdo RPM read and checked up to its index, and what the target repository still
/// needs from its packages: steps 1 and 2 of the module docs, done once.
/// [`UnpackJob::needed`] tells a caller which packages to fetch; [`UnpackJob::finish`]
/// writes the commit from them (reading the jigdo RPM's blobs).
/// Nothing is written before `finish`; the repository, if it exists, stays locked
/// (shared) in between, so that no prune removes what the decision counted on.
pub struct UnpackJob {
    jigdo: JigdoRpm,
    plan: Plan,
    /// The jigdo RPM's new-content blobs, not read yet: [`UnpackJob::finish`] checks
    /// them as it writes them.
    blobs: BlobStream,
    /// Per package: the objects known from its cache and present.
    known: Vec<PackageSums>,
    /// Packages that must be read (indexes into the pinned set).
    to_import: Vec<usize>,
    /// The commit is already complete in the repository.
    complete: bool,
    ref_name: String,
    target: Target,
    existing: Option<(Repo, ostree_store::LockGuard)>,
    /// The repository's loose objects listed by the plan, if it listed them (under the
    /// lock held in `existing`).
    listed: Option<Arc<HashSet<(ObjectType, Checksum)>>>,
    /// The ref's complete commit when the plan was made (see [`Decision::base`]).
    base: Option<Checksum>,
    stats: Stats,
    started: std::time::Instant,
}

impl UnpackJob {
    /// Reads and checks the jigdo RPM at `jigdo_rpm` up to its index (pins, commit,
    /// index; nothing is written) and decides which packages `target` still needs: none
    /// when the commit is complete there, else those whose every needed object is not
    /// known from its package cache and present. The new-content blobs that follow are
    /// read (and checked) once, by [`UnpackJob::finish`], from the file opened here.
    pub fn open(jigdo_rpm: &Path, target: Target) -> Result<UnpackJob> {
        Self::open_decided(jigdo_rpm, target, None)
    }

    /// [`UnpackJob::open`], with the plan and the decision of `decided` when it was made
    /// for the same index and target (else they are made again, as `open` makes them):
    /// the file is read and checked as by `open` all the same.
    pub fn open_decided(
        jigdo_rpm: &Path,
        target: Target,
        decided: Option<Decided>,
    ) -> Result<UnpackJob> {
        let started = std::time::Instant::now();
        // 1. The jigdo RPM up to its index, before anything is written (the blobs are
        // read once, checked as they are written, in `finish`). The plan and the
        // decision made from its start fit when its index is the same bytes (then
        // decoded once, by the start).
        let (start, kept) = match decided.filter(|d| d.fits_target(&target)) {
            Some(d) => (Some(d.start), Some((d.plan, d.decision))),
            None => (None, None),
        };
        let (jigdo, blobs, same_index) = JigdoRpm::open_with_blobs_after(jigdo_rpm, start)?;
        let index = &jigdo.index;
        let (plan, decision) = match kept.filter(|_| same_index) {
            Some((plan, decision)) => {
                tracing::debug!(
                    "unpack: the index, plan and decision made from the jigdo RPM's start fit"
                );
                (plan, Some(decision))
            }
            None => {
                let plan = Plan::new(index).map_err(|e| UnpackError::Corrupt {
                    path: jigdo.path.clone(),
                    reason: e.to_string(),
                })?;
                (plan, None)
            }
        };
        let ref_name = target
            .ref_name
            .clone()
            .unwrap_or_else(|| jigdo.name.clone());
        check_ref(&ref_name)?;
        let stats = Stats::default();
        stats
            .bytes_read
            .fetch_add(jigdo.file_size, Ordering::Relaxed);
        tracing::debug!(elapsed = ?started.elapsed(), "unpack: jigdo RPM's head read and checked");

        // 2. What must be read.
        let decision = match decision {
            Some(d) => d,
            None => decide(&jigdo, &plan, &target)?,
        };
        let Decision {
            existing,
            complete,
            known,
            to_import,
            listed,
            base,
        } = decision;
        tracing::debug!(elapsed = ?started.elapsed(), "unpack: plan made");
        Ok(UnpackJob {
            jigdo,
            plan,
            blobs,
            known,
            to_import,
            complete,
            ref_name,
            target,
            existing,
            listed,
            base,
            stats,
            started,
        })
    }

    /// What [`UnpackJob::needed`] would be for `jigdo` (read with
    /// [`JigdoRpm::read_head`] or [`JigdoRpm::open`]) and `target`, without reading its
    /// blobs: the packages the repository still needs, as indexes into the pinned set,
    /// in pin order (none when the commit is complete there). Writes nothing.
    pub fn needed_for(jigdo: &JigdoRpm, target: &Target) -> Result<Vec<usize>> {
        let plan = Plan::new(&jigdo.index).map_err(|e| UnpackError::Corrupt {
            path: jigdo.path.clone(),
            reason: e.to_string(),
        })?;
        Ok(decide(jigdo, &plan, target)?.to_import)
    }

    /// The plan and the decision of [`UnpackJob::needed_for`], kept with `jigdo` for
    /// [`UnpackJob::open_decided`] (with the repository's shared lock). Writes nothing.
    pub fn decide(jigdo: JigdoRpm, target: &Target) -> Result<Decided> {
        let plan = Plan::new(&jigdo.index).map_err(|e| UnpackError::Corrupt {
            path: jigdo.path.clone(),
            reason: e.to_string(),
        })?;
        let decision = decide(&jigdo, &plan, target)?;
        Ok(Decided {
            start: jigdo,
            repo: target.repo.clone(),
            mode: target.mode,
            ref_name: target.ref_name.clone(),
            plan,
            decision,
        })
    }

    /// The jigdo RPM.
    pub fn jigdo(&self) -> &JigdoRpm {
        &self.jigdo
    }

    /// Whether the commit is already complete in the repository (`finish` only sets the
    /// ref).
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// The packages that must be read, as indexes into the pinned set
    /// (`jigdo().index.packages`), in pin order.
    pub fn needed(&self) -> &[usize] {
        &self.to_import
    }

    /// The ref `finish` sets.
    pub fn ref_name(&self) -> &str {
        &self.ref_name
    }

    /// Writes the commit (steps 3 to 6 of the module docs), reading the needed packages
    /// through `files`: every one is located before anything is written (files arriving
    /// over time are imported as they arrive instead), and opened checked against its
    /// pin. `progress` receives typed events.
    pub fn finish(
        self,
        files: &dyn PackageFiles,
        progress: &(dyn Fn(&UnpackEvent) + Sync),
    ) -> Result<UnpackReport> {
        let step =
            |what: &str| tracing::debug!(elapsed = ?self.started.elapsed(), "unpack: {what}");
        let index = &self.jigdo.index;
        let commit = self.jigdo.commit;
        let mut report = UnpackReport {
            commit: commit.to_hex(),
            ref_name: self.ref_name.clone(),
            repo: self.target.repo.clone(),
            already_present: false,
            packages_total: index.packages.len(),
            packages_imported: 0,
            imported: Vec::new(),
            objects_written: 0,
            bytes_read: 0,
            files: index.file_count(),
            directories: index.dir_count(),
        };
        if let (true, Some((repo, _lock))) = (self.complete, &self.existing) {
            progress(&UnpackEvent::AlreadyComplete { commit: &commit });
            if let (Some(m), Ok(None)) = (
                &self.jigdo.commitmeta,
                repo.read_commit_detached_metadata(&commit),
            ) {
                repo.write_commit_detached_metadata(&commit, Some(m))?;
            }
            repo.set_ref(&self.ref_name, Some(&commit))?;
            report.already_present = true;
            report.bytes_read = self.stats.bytes_read.load(Ordering::Relaxed);
            return Ok(report);
        }
        progress(&UnpackEvent::Importing {
            needed: self.to_import.len(),
            total: index.packages.len(),
        });
        // Where each package is: a missing one fails here, before anything is written.
        let located: Vec<Located> = self
            .to_import
            .iter()
            .map(|&p| files.locate(&index.packages[p]))
            .collect::<Result<_>>()?;
        step("packages located");

        // 3. The commit object, partial, and its detached metadata.
        let made_here = self.existing.is_none();
        let (repo, _lock) = match self.existing {
            Some(r) => r,
            None => {
                let repo = Repo::init(&self.target.repo, self.target.mode)?;
                let lock = repo.lock(ostree_store::LockKind::Shared)?;
                (repo, lock)
            }
        };
        repo.mark_commit_partial(&commit, true)?;
        {
            let tx = repo.transaction()?;
            if !repo.has_object(ObjectType::Commit, &commit) {
                self.stats.objects_written.fetch_add(1, Ordering::Relaxed);
            }
            tx.write_metadata(ObjectType::Commit, &self.jigdo.commit_bytes)?;
            tx.commit()?;
        }
        if let Some(m) = &self.jigdo.commitmeta {
            repo.write_commit_detached_metadata(&commit, Some(m))?;
        }
        step("commit written");

        // 4. New contents and the packages, side by side, all in one transaction (one
        // flush). The biggest packages start first, so that no big one is left running
        // alone at the end.
        let mut tx = repo.transaction()?;
        // What the repository holds, known without a lookup per object: the plan's
        // listing (under the lock held since), or only the commit in a repository made
        // by this unpack (under the lock held since it was made).
        match (&self.listed, made_here) {
            (Some(listed), _) => tx.set_known_objects(listed.clone()),
            (None, true) => {
                tx.set_known_objects(Arc::new(HashSet::from([(ObjectType::Commit, commit)])))
            }
            (None, false) => {}
        }
        let mut work: Vec<(usize, &Located)> =
            self.to_import.iter().copied().zip(&located).collect();
        work.sort_by_key(|&(p, _)| std::cmp::Reverse(index.packages[p].size));
        let jobs = work.len() + 1;
        // The packages not started yet, biggest first; `files` says which one can be
        // opened next (the first, unless they arrive over time: then the biggest there).
        let pending = std::sync::Mutex::new(work);
        let next_package = || -> Result<(usize, &Located)> {
            let mut pending = pending.lock().unwrap_or_else(|e| e.into_inner());
            let pins: Vec<&jigdo_format::PinnedPackage> =
                pending.iter().map(|&(p, _)| &index.packages[p]).collect();
            if pins.is_empty() {
                return Err(UnpackError::Internal("more import jobs than packages"));
            }
            let k = files.next_ready(&pins).min(pins.len() - 1);
            Ok(pending.remove(k))
        };
        // Job 0 reads the jigdo RPM's blobs and writes the new contents (usually the
        // biggest job: initramfs, rpmdb), job k > 0 imports the next package.
        let blobs = std::sync::Mutex::new(Some(self.blobs));
        let done = run_in_order(jobs, |job| {
            if job == 0 {
                let blobs = blobs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
                    .ok_or(UnpackError::Internal("the blobs were read twice"))?;
                let sums =
                    write_new_contents(&repo, &tx, &self.jigdo, &self.plan, blobs, &self.stats)?;
                return Ok(Done::NewContents(sums));
            }
            let (p, loc) = next_package()?;
            let pkg = &index.packages[p];
            let (file, path) = files.open(pkg, loc)?;
            let read_from = path.clone();
            let (sums, mut cache) = import_package(
                &repo,
                &tx,
                index,
                &self.plan,
                p,
                (file, path),
                &self.known[p],
                &self.stats,
            )?;
            // The cache goes in with the objects it names, as durable as they are
            // (renamed into place when `tx` commits, after its flush).
            cache.stage(&tx)?;
            tracing::debug!(package = %pkg.nevra(), "package imported");
            progress(&UnpackEvent::Imported { package: pkg });
            Ok(Done::Package(p, sums, read_from))
        })?;
        step("packages imported");
        // Per package: the objects its import made (the others are known from its cache,
        // `self.known`), kept apart rather than merged (at desktop scale, 100,000
        // entries hashed again).
        let mut imported: Vec<PackageSums> = vec![HashMap::new(); index.packages.len()];
        // The objects the imports made.
        let mut imported_sums: Vec<Checksum> = Vec::new();
        // The package files read, for messages.
        let mut read_from: HashMap<usize, PathBuf> = HashMap::new();
        let mut new_sums = HashMap::new();
        for d in done {
            match d {
                Done::NewContents(sums) => new_sums = sums,
                Done::Package(p, sums, path) => {
                    imported_sums.extend(sums.values());
                    if let Some(slot) = imported.get_mut(p) {
                        *slot = sums;
                    }
                    read_from.insert(p, path);
                }
            }
        }
        report.packages_imported = self.to_import.len();
        report.imported = self
            .to_import
            .iter()
            .map(|&p| index.packages[p].nevra())
            .collect();
        step("contents written");

        // 5. The tree.
        let cached = &self.known;
        // The key of a package file's object, made in one buffer (not allocated per file).
        let key = std::cell::RefCell::new((String::new(), 0));
        let resolve = |tree_path: &str, entry: &jigdo_format::FileEntry| -> Option<Checksum> {
            match &entry.source {
                Source::New(n) => new_sums.get(&(*n, entry.meta)).copied(),
                Source::Package { package, .. } => {
                    let p = *package as usize;
                    let mut key = key.borrow_mut();
                    key.0.clear();
                    if !Index::write_package_path(tree_path, entry, &mut key.0) {
                        return None;
                    }
                    key.1 = entry.meta;
                    let key = &*key;
                    imported
                        .get(p)
                        .and_then(|sums| sums.get(key))
                        .or_else(|| cached.get(p)?.get(key))
                        .copied()
                }
            }
        };
        // The dirtrees and dirmetas are written on a second thread as the rebuild makes
        // them (the writes are system calls, the rebuild hashing). Nothing staged is
        // visible before `tx` commits, below, and nothing at all if this fails first.
        let (tree, present, written) = std::thread::scope(|s| {
            let (send, objects) = std::sync::mpsc::channel();
            let (tx_ref, stats) = (&tx, &self.stats);
            let writer = s.spawn(move || write_tree_metadata(tx_ref, objects, stats));
            let rebuilt = rebuild_tree_streaming(index, &resolve, &mut |objtype, sum, bytes| {
                // A writer that stopped failed: its error is returned below.
                let _ = send.send((objtype, *sum, bytes));
            });
            drop(send);
            let checked = rebuilt.and_then(|tree| {
                let c = &self.jigdo.commit_object;
                for (what, expected, actual) in [
                    ("the root dirtree", c.root_tree, tree.root_tree),
                    ("the root dirmeta", c.root_meta, tree.root_meta),
                ] {
                    if expected != actual {
                        let difference = locate_difference(
                            &repo,
                            index,
                            &tree,
                            (c.root_tree, c.root_meta),
                            &resolve,
                        );
                        return Err(UnpackError::TreeMismatch {
                            jigdo: self.jigdo.path.clone(),
                            commit: commit.to_hex(),
                            mismatch: format!("{what} is {actual}, the commit names {expected}"),
                            difference: describe_difference(index, &difference, &read_from),
                            state: if repo.is_commit_partial(&commit) {
                                "the commit stays partial and no ref was set"
                            } else {
                                "no ref was set (the repository held the commit's whole tree \
                                 already, from another commit, so the commit object is complete)"
                            },
                        });
                    }
                }
                step("tree rebuilt");
                Ok(tree)
            });
            let written = writer
                .join()
                .unwrap_or(Err(UnpackError::Internal("writing the tree panicked")));
            let tree = checked?;
            // Every object the tree reaches, known present: in the plan's listing (under
            // the shared lock held since, so no prune removed it; the objects known from
            // the package caches were found there), or in `present`: the tree's dirtrees
            // and dirmetas, the new contents and the objects the imports made (written in
            // `tx`, or found present by it). Neither set is built over the whole tree
            // again.
            let (mut present, written) = written?;
            present.extend(
                (new_sums.values().chain(imported_sums.iter())).map(|sum| (ObjectType::File, *sum)),
            );
            Ok::<_, UnpackError>((tree, present, written))
        })?;
        step("tree written");
        // Files that arrived while this ran: all came and their provider is content.
        files.settled()?;
        tx.commit()?;
        step("transaction committed");

        // 6. Complete: clear the mark, then set the ref.
        let listed = self.listed.as_deref();
        let known = |objtype: ObjectType, sum: &Checksum| {
            present.contains(&(objtype, *sum))
                || listed.is_some_and(|l| l.contains(&(objtype, *sum)))
        };
        match &self.base {
            // An update of the ref's complete commit: the walk beyond it reads only the
            // dirtrees on the paths that changed (reading back the rest of the tree's
            // dirtrees, which the base's complete commit holds, would cost more).
            Some(base) => check_commit_complete_with(&repo, &commit, &known, Some(base))?,
            None => check_rebuilt_complete(&repo, &commit, index, &tree, &written, &known)?,
        }
        step("commit checked complete");
        repo.mark_commit_partial(&commit, false)?;
        repo.set_ref(&self.ref_name, Some(&commit))?;
        report.objects_written = self.stats.objects_written.load(Ordering::Relaxed);
        report.bytes_read = self.stats.bytes_read.load(Ordering::Relaxed);
        Ok(report)
    }
}

/// What a tree mismatch is, in words: the file (its path, the object the commit has
/// there, the one rebuilt, where its bytes came from) or directory that differs, or how
/// far the commit's listings could be followed.
fn describe_difference(
    index: &Index,
    difference: &Difference,
    read_from: &HashMap<usize, PathBuf>,
) -> String {
    match difference {
        Difference::File {
            path,
            entry,
            expected,
            rebuilt,
        } => {
            let from = match &entry.source {
                Source::New(n) => format!("new content {n} of the jigdo RPM"),
                Source::Package { package, .. } => {
                    let p = *package as usize;
                    let in_pkg = Index::package_path(path, entry).unwrap_or_default();
                    let nevra = index.packages.get(p).map_or_else(
                        || format!("package number {p}"),
                        |pin| format!("package {}", pin.nevra()),
                    );
                    let file = read_from.get(&p).map_or_else(
                        || "known from its package cache".to_string(),
                        |f| f.display().to_string(),
                    );
                    format!("file {in_pkg} of {nevra} ({file})")
                }
            };
            match expected {
                Some(e) => format!(
                    "content does not match at /{path}: the commit has object {e} there, the \
                     rebuilt object {rebuilt} was made from {from}"
                ),
                None => format!(
                    "the index has a file /{path} (object {rebuilt}, made from {from}) that \
                     the commit does not have"
                ),
            }
        }
        Difference::DirMeta {
            path,
            expected,
            rebuilt,
        } => format!(
            "the owner, mode or xattrs of directory /{path} differ: the commit has dirmeta \
             {expected}, the rebuilt one is {rebuilt}"
        ),
        Difference::Entry {
            path,
            in_commit: true,
        } => format!("the commit has /{path}, which the index lacks"),
        Difference::Entry {
            path,
            in_commit: false,
        } => format!("the index has /{path}, which the commit lacks"),
        Difference::NotHeld { dir } => format!(
            "the repository does not hold the commit's listing of /{dir}, so the file that \
             differs cannot be named"
        ),
    }
}

pub(crate) fn check_ref(ref_name: &str) -> Result<()> {
    let name = match ref_name.split_once(':') {
        Some((remote, name)) => {
            ostree_store::validate_ref_name(remote)?;
            name
        }
        None => ref_name,
    };
    ostree_store::validate_ref_name(name)?;
    Ok(())
}

/// Writes the new contents of `jigdo` into `tx`: its symlinks, and its blobs read from
/// `blobs` once, each checked against the index's SHA-256 and the header's digests as it
/// is read (see [`BlobStream::for_each_blob`]): an object is staged only as its bytes are
/// read, and a blob that then fails its check fails this call, which fails the unpack
/// before `tx` commits (staged objects are never visible). Objects present already are
/// not staged again. Returns the content checksum of every (new content, metadata)
/// object the tree needs.
fn write_new_contents(
    repo: &Repo,
    tx: &ostree_store::Transaction<'_>,
    jigdo: &JigdoRpm,
    plan: &Plan,
    blobs: BlobStream,
    stats: &Stats,
) -> Result<HashMap<(u32, u32), Checksum>> {
    let index = &jigdo.index;
    let mut sums = HashMap::new();
    for (n, content) in index.new_contents.iter().enumerate() {
        if let NewContent::Symlink { target } = content {
            for &m in &plan.new_needs[n] {
                let sum = write_counted(
                    tx,
                    &file_header(index, m, target),
                    (&mut std::io::empty(), 0),
                    stats,
                )?;
                sums.insert((n as u32, m), sum);
            }
        }
    }
    blobs.for_each_blob(
        |_, entry_no, reader, size| {
            let write = |m: u32, r: &mut dyn BufRead| -> Result<Checksum> {
                write_counted(tx, &file_header(index, m, ""), (r, size), stats)
            };
            match plan.new_needs[entry_no as usize].as_slice() {
                // Not in the tree: read through all the same (checked by the caller).
                [] => Ok(()),
                [m] => {
                    let sum = write(*m, reader)?;
                    sums.insert((entry_no, *m), sum);
                    Ok(())
                }
                many => {
                    let mut spool = spool(repo, reader)?;
                    for &m in many {
                        spool.seek(SeekFrom::Start(0)).at(repo.path().join("tmp"))?;
                        let sum = write(m, &mut BufReader::with_capacity(SPOOL_BUF, &mut spool))?;
                        sums.insert((entry_no, m), sum);
                    }
                    Ok(())
                }
            }
        },
        index,
    )?;
    Ok(sums)
}

/// Copies `reader` into memory, or into an anonymous temporary file in the repository's
/// `tmp/` past [`ostree_store::SMALL_CONTENT`] bytes (a file made and dropped for
/// nothing slows the inode allocation of every later object on ext4; see
/// `ostree_store::write`).
fn spool(repo: &Repo, reader: &mut dyn Read) -> Result<tempfile::SpooledTempFile> {
    let dir = repo.path().join("tmp");
    std::fs::create_dir_all(&dir).at(&dir)?;
    let mut f = tempfile::spooled_tempfile_in(ostree_store::SMALL_CONTENT, &dir);
    std::io::copy(reader, &mut f).at(&dir)?;
    Ok(f)
}

/// The objects of package `p` known from its cache and present in the repository (in
/// `listed`, the repository's objects listed under the lock, else looked up), and
/// whether that is every object the tree needs from it.
pub(crate) fn known_objects(
    repo: &Repo,
    listed: Option<&HashSet<(ObjectType, Checksum)>>,
    index: &Index,
    plan: &Plan,
    p: usize,
) -> (HashMap<(String, u32), Checksum>, bool) {
    let needs = &plan.package_needs[p];
    let mut known = HashMap::new();
    if needs.is_empty() {
        return (known, true);
    }
    let cache = PackageCache::load(repo.path(), &index.packages[p].id);
    let mut complete = true;
    // The header of each metadata entry, made once (not once per file).
    let mut headers: HashMap<u32, ostree_store::FileHeader> = HashMap::new();
    for (path, metas) in needs {
        for &m in metas {
            let h = headers
                .entry(m)
                .or_insert_with(|| file_header(index, m, ""));
            match cache.get_parts(path, h.uid, h.gid, h.mode, &h.xattrs) {
                Some(sum) if is_present(repo, listed, ObjectType::File, &sum) => {
                    known.insert((path.clone(), m), sum);
                }
                _ => complete = false,
            }
        }
    }
    (known, complete)
}

/// Reads package `p` from `file` (opened checked against its pin) and writes every object the tree needs
/// from it that is not in `known` into `tx`. Returns the checksums it computed and the
/// package's cache updated with them (to save once `tx` is committed).
#[allow(clippy::too_many_arguments)]
fn import_package(
    repo: &Repo,
    tx: &ostree_store::Transaction<'_>,
    index: &Index,
    plan: &Plan,
    p: usize,
    (content, path): (PackageContent, PathBuf),
    known: &HashMap<(String, u32), Checksum>,
    stats: &Stats,
) -> Result<(PackageSums, PackageCache)> {
    let pkg = &index.packages[p];
    stats.bytes_read.fetch_add(pkg.size, Ordering::Relaxed);
    let content_err = |reason: String| UnpackError::PackageContent {
        path: path.clone(),
        nevra: pkg.nevra(),
        reason,
    };
    let label = path.display().to_string();
    // The pin (SHA-256 of the whole file) was checked above: the package's own digests
    // need not be computed again.
    let bytes = match content {
        PackageContent::Bytes(bytes) => bytes,
        PackageContent::File(file) if pkg.size <= IN_MEMORY_PACKAGE_MAX => {
            // Read whole, in one call; never more than the pin's size, whatever the file
            // has grown to since its size was checked.
            let mut bytes = Vec::with_capacity(usize::try_from(pkg.size).unwrap_or(0) + 1);
            (&file).take(pkg.size).read_to_end(&mut bytes).at(&path)?;
            bytes
        }
        PackageContent::File(file) => {
            let mut r = BufReader::with_capacity(256 * 1024, file);
            let header = PackageHeader::read(&mut r, &label)?;
            let payload = PayloadReader::new_verified(header, r)?.read_ahead()?;
            return import_entries(
                repo,
                tx,
                index,
                plan,
                p,
                payload,
                known,
                stats,
                &content_err,
            );
        }
    };
    let mut rest: &[u8] = &bytes;
    let header = PackageHeader::read(&mut rest, &label)?;
    if rpm_package::payload::fits_whole(&header, rest) {
        // Decompressed whole: the bytes are not needed afterwards, and are kept for the
        // next package.
        let payload = PayloadReader::new_verified_whole(header, rest);
        keep_package_bytes(bytes);
        return import_entries(
            repo,
            tx,
            index,
            plan,
            p,
            payload?,
            known,
            stats,
            &content_err,
        );
    }
    let start = bytes.len() - rest.len();
    let payload = PayloadReader::new_verified_in_memory(header, bytes, start)?.read_ahead()?;
    import_entries(
        repo,
        tx,
        index,
        plan,
        p,
        payload,
        known,
        stats,
        &content_err,
    )
}

/// The loop of [`import_package`] over the entries of its payload.
#[allow(clippy::too_many_arguments)]
fn import_entries<R: Read>(
    repo: &Repo,
    tx: &ostree_store::Transaction<'_>,
    index: &Index,
    plan: &Plan,
    p: usize,
    mut payload: PayloadReader<R>,
    known: &HashMap<(String, u32), Checksum>,
    stats: &Stats,
    content_err: &dyn Fn(String) -> UnpackError,
) -> Result<(PackageSums, PackageCache)> {
    let pkg = &index.packages[p];
    let needs = &plan.package_needs[p];
    let paths: Vec<String> = payload
        .header()
        .files
        .iter()
        .map(|f| f.path.clone())
        .collect();

    // Paths with at least one object still to make.
    let mut pending: BTreeSet<&str> = needs
        .iter()
        .filter(|(path, metas)| {
            metas
                .iter()
                .any(|&m| !known.contains_key(&((*path).clone(), m)))
        })
        .map(|(path, _)| path.as_str())
        .collect();
    let mut cache = PackageCache::load(repo.path(), &pkg.id);
    let mut sums = HashMap::new();
    while !pending.is_empty() {
        let Some(mut entry) = payload.next_entry()? else {
            break;
        };
        let info = entry.info().clone();
        if !info.has_content {
            continue;
        }
        let members: Vec<&str> = if info.hardlinks.is_empty() {
            vec![info.path.as_str()]
        } else {
            info.hardlinks
                .iter()
                .filter_map(|&i| paths.get(i).map(String::as_str))
                .collect()
        };
        // (path, meta) objects to make from this entry's bytes, and the distinct metas.
        let mut todo: Vec<(&str, u32)> = Vec::new();
        for m in &members {
            if let Some(metas) = needs.get(*m) {
                pending.remove::<str>(m);
                for &meta in metas {
                    if !known.contains_key(&(m.to_string(), meta)) {
                        todo.push((m, meta));
                    }
                }
            }
        }
        if todo.is_empty() {
            continue;
        }
        let is_link = entry.file().is_symlink();
        if let Some((m, _)) = todo.iter().find(|(_, meta)| {
            is_symlink_meta(index, *meta) != is_link || !(is_link || entry.file().is_regular())
        }) {
            return Err(content_err(format!(
                "{m} is a {} in the package but the tree needs a {}",
                if is_link { "symlink" } else { "non-symlink" },
                if is_link { "regular file" } else { "symlink" },
            )));
        }
        let mut metas: Vec<u32> = todo.iter().map(|(_, m)| *m).collect();
        metas.sort_unstable();
        metas.dedup();
        let mut made: HashMap<u32, Checksum> = HashMap::new();
        if is_link {
            let target = entry.file().link_target.clone();
            for &m in &metas {
                let h = file_header(index, m, &target);
                let sum = write_counted(tx, &h, (&mut std::io::empty(), 0), stats)?;
                made.insert(m, sum);
            }
        } else if let [m] = metas.as_slice() {
            // Written from the payload reader's buffers as they are (no copy).
            let sum = write_counted(
                tx,
                &file_header(index, *m, ""),
                (&mut entry, info.size),
                stats,
            )?;
            entry.finish()?;
            made.insert(*m, sum);
        } else {
            let mut spooled = spool(repo, &mut entry)?;
            entry.finish()?;
            for &m in &metas {
                spooled
                    .seek(SeekFrom::Start(0))
                    .at(repo.path().join("tmp"))?;
                let mut r = BufReader::with_capacity(SPOOL_BUF, &mut spooled);
                let sum =
                    write_counted(tx, &file_header(index, m, ""), (&mut r, info.size), stats)?;
                made.insert(m, sum);
            }
        }
        for (path_in_pkg, meta) in todo {
            let sum = made[&meta];
            cache.insert(object_key(index, path_in_pkg, meta), sum);
            sums.insert((path_in_pkg.to_string(), meta), sum);
        }
    }
    if let Some(missing) = pending.first() {
        return Err(content_err(format!(
            "it has no file {missing} with content, which the tree needs"
        )));
    }
    Ok((sums, cache))
}

/// Runs `job(0)`, `job(1)`, … `job(n - 1)` on every thread of the rayon pool, each thread
/// taking the next number when it is free, so jobs start in order: with jobs sorted
/// biggest first, no big job is left running alone at the end (rayon's parallel
/// iterators split ranges in halves instead). Stops starting jobs after the first error,
/// which is returned. Results are in job order.
fn run_in_order<T: Send>(n: usize, job: impl Fn(usize) -> Result<T> + Sync) -> Result<Vec<T>> {
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
    let first_error: Mutex<Option<UnpackError>> = Mutex::new(None);
    rayon::scope(|scope| {
        for _ in 0..rayon::current_num_threads().min(n) {
            scope.spawn(|_| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || failed.load(Ordering::Relaxed) {
                    break;
                }
                match job(i) {
                    Ok(v) => {
                        if let Ok(mut r) = results.lock() {
                            r[i] = Some(v);
                        }
                    }
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        if let Ok(mut slot) = first_error.lock() {
                            slot.get_or_insert(e);
                        }
                        break;
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.ok_or(UnpackError::Internal("a job did not run")))
        .collect()
}

/// Buffer for reading spooled content back (each buffer is one `write` of the object).
const SPOOL_BUF: usize = 128 * 1024;

/// Writes one content object of the given length, from its reader's buffers as they are
/// ([`ostree_store::Transaction::write_content_sized`]), and counts it if this write
/// staged it (it was neither in the repository nor written by this unpack before).
fn write_counted(
    tx: &ostree_store::Transaction<'_>,
    header: &ostree_store::FileHeader,
    (content, len): (&mut dyn BufRead, u64),
    stats: &Stats,
) -> Result<Checksum> {
    let written = tx.write_content_sized(None, header, content, len)?;
    if written.staged {
        stats.objects_written.fetch_add(1, Ordering::Relaxed);
    }
    Ok(written.checksum)
}

/// Writes the dirtrees and dirmetas received from `objects` (type, checksum, encoding)
/// into `tx` (those the repository or `tx` lacks), counting them in `stats`, until the
/// sender is dropped. Returns them all, as known present once `tx` commits, and in the
/// order received whether this call staged each.
fn write_tree_metadata(
    tx: &ostree_store::Transaction<'_>,
    objects: std::sync::mpsc::Receiver<(ObjectType, Checksum, Vec<u8>)>,
    stats: &Stats,
) -> Result<(ObjectSet, Vec<bool>)> {
    let mut present = HashSet::new();
    let mut written = Vec::new();
    for (objtype, sum, bytes) in objects {
        let w = tx.write_metadata_counted(objtype, &bytes)?;
        if w.checksum != sum {
            return Err(UnpackError::Internal(
                "a rebuilt object's checksum changed on the way to the repository",
            ));
        }
        if w.staged {
            stats.objects_written.fetch_add(1, Ordering::Relaxed);
        }
        written.push(w.staged);
        present.insert((objtype, sum));
    }
    Ok((present, written))
}

/// [`check_commit_complete`] for a commit whose whole tree this unpack rebuilt: `tree`,
/// rebuilt from `index`, has the commit's root dirtree and dirmeta, so (objects being
/// named by their SHA-256) its dirtrees and dirmetas are exactly those the commit
/// reaches, and `tree.files` the content objects; nothing needs to be read back to list
/// them. The commit object is read back and verified, and so is each dirtree this
/// unpack did not stage itself (`written`, by position in `tree.objects`), as the walk
/// of [`check_commit_complete`] reads them; every other object must be known present
/// (`known`, as there) or found in the repository. The path of an object is computed
/// only when it fails.
fn check_rebuilt_complete(
    repo: &Repo,
    commit: &Checksum,
    index: &Index,
    tree: &RebuiltTree,
    written: &[bool],
    known: &dyn Fn(ObjectType, &Checksum) -> bool,
) -> Result<()> {
    let unreadable = |path: String, error: ostree_store::Error| UnpackError::Unreadable {
        commit: commit.to_hex(),
        path,
        error: Box::new(error),
    };
    let missing = |objtype: ObjectType, sum: &Checksum, path: String| UnpackError::Missing {
        commit: commit.to_hex(),
        object: format!("{sum}.{objtype}"),
        path,
    };
    // The path of a directory whose dirtree (or dirmeta) is `sum`, as the walk names it.
    let dir_path = |objtype: ObjectType, sum: &Checksum| {
        tree.dirs
            .iter()
            .filter(|(_, (t, m))| if objtype == ObjectType::DirTree { t } else { m } == sum)
            .map(|(p, _)| format!("/{}", p.trim_end_matches('/')))
            .min()
            .unwrap_or_default()
    };
    let c = repo
        .read_commit(commit)
        .map_err(|e| unreadable(String::new(), e))?;
    if (c.root_tree, c.root_meta) != (tree.root_tree, tree.root_meta) {
        return Err(UnpackError::Internal(
            "the commit read back does not name the rebuilt tree",
        ));
    }
    if written.len() != tree.objects.len() {
        return Err(UnpackError::Internal(
            "the tree's objects were not all written",
        ));
    }
    for ((objtype, sum), &staged) in tree.objects.iter().zip(written) {
        if *objtype == ObjectType::DirTree && !staged {
            repo.read_dirtree(sum)
                .map_err(|e| unreadable(dir_path(*objtype, sum), e))?;
        } else if !known(*objtype, sum) && !repo.has_object(*objtype, sum) {
            return Err(missing(*objtype, sum, dir_path(*objtype, sum)));
        }
    }
    let absent =
        |sum: &Checksum| !known(ObjectType::File, sum) && !repo.has_object(ObjectType::File, sum);
    if let Some(pos) = tree.files.iter().position(absent) {
        let path = file_path(index, pos)
            .map(|p| format!("/{p}"))
            .unwrap_or_default();
        return Err(missing(ObjectType::File, &tree.files[pos], path));
    }
    Ok(())
}

/// Default repository mode for `jigdo unpack`.
pub const DEFAULT_MODE: RepoMode = RepoMode::BareUser;

/// The path of a repository's jigdo state (`REPO/extensions/jigdo`).
pub fn state_dir(repo: &Path) -> PathBuf {
    repo.join("extensions/jigdo")
}

/// Checks that every object `commit` reaches is present and readable in `repo`: the last
/// check before the partial mark is cleared and the ref set. The walk reads every dirtree
/// from the repository, except in the subtrees `commit` shares with `base`, a commit that
/// was complete (not partial) when the caller's lock, still held, was taken, so that no
/// prune removed any of its objects since ([`Repo::traverse_commit_beyond`]; libostree's
/// pull does not scan such dirtrees either); an object in `present` (known present
/// under that lock) is not looked up again.
pub(crate) fn check_commit_complete(
    repo: &Repo,
    commit: &Checksum,
    present: &HashSet<(ObjectType, Checksum)>,
    base: Option<&Checksum>,
) -> Result<()> {
    check_commit_complete_with(repo, commit, &|t, s| present.contains(&(t, *s)), base)
}

/// [`check_commit_complete`], with the objects known present under the caller's lock
/// told by `known` (an object it does not know is looked up).
fn check_commit_complete_with(
    repo: &Repo,
    commit: &Checksum,
    known: &dyn Fn(ObjectType, &Checksum) -> bool,
    base: Option<&Checksum>,
) -> Result<()> {
    let t = match base {
        Some(b) => repo.traverse_commit_beyond(commit, b),
        None => repo.traverse_commit(commit),
    };
    if let Some((obj, err)) = t.errors.into_iter().next() {
        return Err(UnpackError::Unreadable {
            commit: commit.to_hex(),
            path: obj.path,
            error: Box::new(err),
        });
    }
    if let Some(o) = t
        .objects
        .iter()
        .find(|o| !known(o.objtype, &o.checksum) && !repo.has_object(o.objtype, &o.checksum))
    {
        return Err(UnpackError::Missing {
            commit: commit.to_hex(),
            object: format!("{}.{}", o.checksum, o.objtype),
            path: o.path.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ostree_store::ContentHasher;

    #[test]
    fn known_objects_trusts_a_listing_for_presence_only_and_looks_up_the_rest() {
        use jigdo_format::{Directory, IndexBuilder};
        use ostree_store::{FileHeader, S_IFDIR, S_IFREG};
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path().join("repo"), RepoMode::BareUser).unwrap();
        let mut b = IndexBuilder::new();
        let p = b.add_package(crate::test_support::pin("a", "1", [7; 32], 1));
        let dm = b.meta(0, 0, S_IFDIR | 0o755, &vec![]);
        let m = b.meta(0, 0, S_IFREG | 0o644, &vec![]);
        let file = |name: &str| crate::test_support::package_file(name, p, m);
        let root = Directory {
            meta: dm,
            files: vec![file("a"), file("b")],
            dirs: vec![],
        };
        let index = b.finish([0; 32], root);
        let plan = Plan::new(&index).unwrap();
        let header = FileHeader::regular(0, 0, S_IFREG | 0o644);
        let present = repo.write_content(&header, &b"a"[..]).unwrap();
        let mut absent_hasher = ContentHasher::new(&header);
        absent_hasher.update(b"b");
        let absent = absent_hasher.finish();
        let mut cache = PackageCache::load(repo.path(), &[7; 32]);
        let paths: Vec<&String> = plan.package_needs[0].keys().collect();
        assert_eq!(paths.len(), 2);
        cache.insert(object_key(&index, paths[0], m), present);
        cache.insert(object_key(&index, paths[1], m), absent);
        let tx = repo.transaction().unwrap();
        cache.stage(&tx).unwrap();
        tx.commit().unwrap();

        let listing = repo.loose_objects().unwrap();
        let (with, all_with) = known_objects(&repo, Some(&listing), &index, &plan, 0);
        let (without, all_without) = known_objects(&repo, None, &index, &plan, 0);
        assert_eq!(with, without);
        assert!(!all_with && !all_without);
        assert_eq!(with.len(), 1);
        assert_eq!(with[&(paths[0].clone(), m)], present);
        // Written after the listing: not in it, found by looking it up.
        assert_eq!(repo.write_content(&header, &b"b"[..]).unwrap(), absent);
        let (later, all) = known_objects(&repo, Some(&listing), &index, &plan, 0);
        assert!(all);
        assert_eq!(later[&(paths[1].clone(), m)], absent);
    }

    #[test]
    fn run_in_order_runs_every_job_once_and_keeps_job_order() {
        let started = std::sync::Mutex::new(Vec::new());
        let out = run_in_order(50, |i| {
            started.lock().unwrap().push(i);
            Ok(i * 2)
        })
        .unwrap();
        assert_eq!(out, (0..50).map(|i| i * 2).collect::<Vec<_>>());
        let mut s = started.into_inner().unwrap();
        // Each thread takes the next number: starts are in order up to thread timing.
        assert!(s[0] <= 1, "{s:?}");
        s.sort_unstable();
        assert_eq!(s, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn run_in_order_returns_the_first_error_and_starts_nothing_after_it() {
        let ran = AtomicU64::new(0);
        let err = run_in_order(1000, |i| {
            ran.fetch_add(1, Ordering::Relaxed);
            if i == 3 {
                Err(UnpackError::Internal("job 3 failed"))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert!(err.to_string().contains("job 3 failed"), "{err}");
        assert!(ran.load(Ordering::Relaxed) < 1000);
    }
}
