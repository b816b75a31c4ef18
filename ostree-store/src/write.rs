//! Writing objects, detached metadata and refs.
//!
//! Like libostree, objects are written inside a *transaction*: each object is
//! streamed into a temporary file inside a locked staging directory
//! `tmp/staging-<boot-id>-XXXXXX/` (lock file `…-lock`, OFD lock), linked to
//! its staged name `<checksum>.<type>` once its checksum is known, and only when the
//! transaction commits are the staged objects flushed (`syncfs`, unless `core.fsync=false`;
//! with `core.per-object-fsync=true` each object is fsynced as it is written,
//! as libostree does) and renamed into `objects/`, whose directories are then
//! made durable (an fsync each, or one more `syncfs` when there are more than a few:
//! [`SYNCFS_FROM_DIRS`]). A crash
//! therefore never leaves a half-written object in `objects/`. The
//! transaction holds the shared repository lock, as libostree's does.
//! Writing a commit object marks it partial (`state/<commit>.commitpartial`)
//! before it becomes visible; the mark is cleared at transaction commit once
//! everything the commit reaches is present. Refs are written last, by
//! temp file + rename.
//!
//! Made for a real disk as much as for tmpfs: the staging directory is flat (one
//! directory to remove at the end, not 256: on a filesystem mounted with `discard`
//! every directory removed costs a synchronous discard), except for the objects whose
//! directory `objects/XX/` does not exist when the first of them is staged: those are
//! staged in `XX/` inside the staging directory, named as in `objects/XX/`, and that
//! directory is renamed into `objects/` whole at commit (one rename instead of one per
//! object, and no directory left to remove: a fresh repository's 12,600 objects cost
//! 256 renames; the renames of one filesystem take its rename lock in turn, so more
//! threads would not make them faster), and content up to
//! [`SMALL_CONTENT`] bytes is hashed before any file is made, so that an object present
//! or staged already costs no inode. (A file made and dropped is not free: ext4 without
//! a journal skips every recently freed inode when it allocates the next one, so each
//! dropped file slows every later object of the transaction.) Files that must be as
//! durable as the objects without a flush of their own (the callers' caches) are staged
//! beside them ([`Transaction::stage_file`]) and renamed into place after the flush.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufRead, BufWriter, Read, Write};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use flate2::write::DeflateEncoder;
use flate2::Compression;
use rayon::prelude::*;

use crate::checksum::{Checksum, ObjectType};
use crate::error::{Error, IoContext, Result};
use crate::lock::{lock_file_exclusive, LockGuard, LockKind};
use crate::objects::{
    parse_metadata, validate_metadata, Commit, ContentHasher, FileHeader, S_IFMT,
};
use crate::repo::{boot_id, validate_ref_name, Repo, RepoMode};

const BUF: usize = 128 * 1024;

/// Content up to this many bytes is read into memory and hashed before a file is made
/// for it (see the module docs); bigger content is streamed.
pub const SMALL_CONTENT: usize = 1024 * 1024;

thread_local! {
    /// Each writing thread's buffer for small content (kept to avoid a fresh
    /// allocation, and its page faults, per object).
    static SMALL_BUF: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Objects at least this big have their writeback started as soon as they are written.
const WRITEBACK_MIN: u64 = 64 * 1024;

/// Set once `linkat(fd, "", …, AT_EMPTY_PATH)` was refused (kernels before 6.10 without
/// CAP_DAC_READ_SEARCH): anonymous files are then linked through `/proc/self/fd/N`, as
/// libostree does.
static EMPTY_PATH_REFUSED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Names of the symlinks made for bare-mode symlink objects inside a staging directory
/// (which belongs to one transaction, so a process-wide sequence keeps them unique).
static LINK_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The file an object is written to before it is staged.
///
/// On Linux it is anonymous (`O_TMPFILE`) and linked into its staged name once the
/// checksum is known, as libostree does: no directory entry is made for the data until
/// then, so parallel writers do not serialize on the staging directory's lock, and an
/// object that turns out to be present already is simply dropped. Where the filesystem
/// has no `O_TMPFILE`, a named temporary file is renamed instead. (Hand-written because
/// `tempfile` has no way to link its anonymous files.)
struct ObjectTmp {
    file: File,
    /// The temporary name, when the file is not anonymous.
    named: Option<tempfile::TempPath>,
    /// What errors name: the staging directory or the temporary file.
    label: PathBuf,
}

/// A directory open for the `*at` system calls (`O_PATH`), and its path (for messages
/// and the fallbacks that need one): a name resolved from it costs one lookup instead
/// of a walk from `/` (three such calls per object).
struct OpenDir {
    fd: std::os::fd::OwnedFd,
    path: PathBuf,
}

impl OpenDir {
    fn open(path: &Path) -> Result<OpenDir> {
        use rustix::fs::{Mode, OFlags};
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::Io {
            path: path.to_path_buf(),
            error: e.into(),
        })?;
        Ok(OpenDir {
            fd,
            path: path.to_path_buf(),
        })
    }
}

/// Links the anonymous `file` as `name` in `dir`: by the descriptor itself (Linux 6.10
/// and later let the opener do this without CAP_DAC_READ_SEARCH; no walk through `/proc`
/// per object), or with `via_proc` through `/proc/self/fd/N`, as libostree does.
fn link_anonymous(
    file: &File,
    dir: &OpenDir,
    name: &str,
    via_proc: bool,
) -> std::result::Result<(), rustix::io::Errno> {
    use rustix::fs::{linkat, AtFlags, CWD};
    if via_proc {
        let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
        linkat(
            CWD,
            proc_path.as_str(),
            &dir.fd,
            name,
            AtFlags::SYMLINK_FOLLOW,
        )
    } else {
        linkat(file, "", &dir.fd, name, AtFlags::EMPTY_PATH)
    }
}

impl ObjectTmp {
    fn new(dir: &OpenDir) -> Result<ObjectTmp> {
        use rustix::fs::{Mode, OFlags};
        use rustix::io::Errno;
        match rustix::fs::openat(
            &dir.fd,
            ".",
            OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        ) {
            Ok(fd) => Ok(ObjectTmp {
                file: File::from(fd),
                named: None,
                label: dir.path.clone(),
            }),
            Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL | Errno::NOENT)
                if dir.path.is_dir() =>
            {
                ObjectTmp::named(&dir.path)
            }
            Err(e) => Err(Error::Io {
                path: dir.path.clone(),
                error: e.into(),
            }),
        }
    }

    /// A named temporary file in `dir` (the fallback without `O_TMPFILE`).
    fn named(dir: &Path) -> Result<ObjectTmp> {
        let tmp = tempfile::Builder::new()
            .prefix("tmp-")
            .tempfile_in(dir)
            .at(dir)?;
        let label = tmp.path().to_path_buf();
        let (file, named) = tmp.into_parts();
        Ok(ObjectTmp {
            file,
            named: Some(named),
            label,
        })
    }

    /// Gives the file the name `name` in `dir`. `Ok(false)` when that name exists already
    /// (another writer staged the same object; the contents are equal by checksum).
    fn place(self, dir: &OpenDir, name: &str) -> Result<bool> {
        use rustix::io::Errno;
        let dest = || dir.path.join(name);
        if let Some(named) = self.named {
            named.persist(dest()).map_err(|e| Error::Io {
                path: dest(),
                error: e.error,
            })?;
            return Ok(true);
        }
        let mut linked = Err(Errno::PERM);
        if !EMPTY_PATH_REFUSED.load(std::sync::atomic::Ordering::Relaxed) {
            linked = link_anonymous(&self.file, dir, name, false);
            if matches!(linked, Err(Errno::NOENT | Errno::PERM | Errno::INVAL)) {
                EMPTY_PATH_REFUSED.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        if EMPTY_PATH_REFUSED.load(std::sync::atomic::Ordering::Relaxed) {
            linked = link_anonymous(&self.file, dir, name, true);
        }
        match linked {
            Ok(()) => Ok(true),
            Err(Errno::EXIST) => Ok(false),
            Err(e) => Err(Error::Io {
                path: dest(),
                error: e.into(),
            }),
        }
    }
}

/// Writes `bytes` to `path` atomically (temp file in the same directory,
/// optional fsync, rename, fsync of the directory), mode 0644.
pub fn write_file_atomic(path: &Path, bytes: &[u8], fsync: bool) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::Invalid(format!("{}: no parent directory", path.display())))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .at(dir)?;
    tmp.write_all(bytes).at(tmp.path().to_path_buf())?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(0o644))
        .at(tmp.path().to_path_buf())?;
    if fsync {
        tmp.as_file().sync_all().at(tmp.path().to_path_buf())?;
    }
    tmp.persist(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        error: e.error,
    })?;
    if fsync {
        fsync_dir(dir)?;
    }
    Ok(())
}

/// Renames `from` in `from_dir` to `to` in `to_dir` unless that exists; `Ok(false)` if
/// it does.
fn rename_noreplace_at(from_dir: &OpenDir, from: &str, to_dir: &OpenDir, to: &str) -> Result<bool> {
    use rustix::fs::{renameat_with, RenameFlags};
    use rustix::io::Errno;
    match renameat_with(&from_dir.fd, from, &to_dir.fd, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(true),
        Err(Errno::EXIST) => Ok(false),
        // Filesystems without RENAME_NOREPLACE.
        Err(Errno::INVAL | Errno::NOSYS) => {
            rename_noreplace(&from_dir.path.join(from), &to_dir.path.join(to))
        }
        Err(e) => Err(Error::Io {
            path: to_dir.path.join(to),
            error: e.into(),
        }),
    }
}

/// Renames `from` to `to` unless `to` exists; `Ok(false)` if it does.
fn rename_noreplace(from: &Path, to: &Path) -> Result<bool> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    use rustix::io::Errno;
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(true),
        Err(Errno::EXIST) => Ok(false),
        // Filesystems without RENAME_NOREPLACE: check, then rename.
        Err(Errno::INVAL | Errno::NOSYS) => {
            if fs::symlink_metadata(to).is_ok() {
                return Ok(false);
            }
            fs::rename(from, to).at(to.to_path_buf())?;
            Ok(true)
        }
        Err(e) => Err(Error::Io {
            path: to.to_path_buf(),
            error: e.into(),
        }),
    }
}

fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).at(dir)
}

/// From this many directories to make durable at once, [`sync_dirs`] flushes the whole
/// filesystem with one `syncfs` instead of an fsync per directory. Each fsync is a
/// device flush of its own (and, on ext4 without a journal, synchronous writes of the
/// directory's blocks and inode, one after the other); one `syncfs` writes every dirty
/// block together and flushes once. Measured on this project's bench disk (ext4 without
/// a journal, virtio): 256 directories of 20 renamed files each 570-730 ms of fsyncs
/// against 3-6 ms for the `syncfs`; 4 directories 6-19 ms against 0.2-3 ms. Below
/// this count the fsyncs stay: their cost is bounded by this transaction's own
/// directories, while a `syncfs` also writes whatever other processes dirtied on the
/// filesystem since the transaction's first flush.
pub const SYNCFS_FROM_DIRS: usize = 4;

/// How [`sync_dirs`] makes `n` directories durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DirSync {
    /// Nothing to sync.
    Nothing,
    /// An fsync per directory.
    EachDir,
    /// One `syncfs` of their filesystem.
    Filesystem,
}

impl DirSync {
    fn of(n: usize) -> DirSync {
        match n {
            0 => DirSync::Nothing,
            n if n < SYNCFS_FROM_DIRS => DirSync::EachDir,
            _ => DirSync::Filesystem,
        }
    }
}

/// Flushes the filesystem `dir` is on (`syncfs`): every dirty block and inode of it,
/// then the device's cache.
fn syncfs(dir: &Path) -> Result<()> {
    let d = File::open(dir).at(dir)?;
    // SAFETY: syncfs on an open directory fd.
    if unsafe { libc::syncfs(d.as_raw_fd()) } != 0 {
        return Err(Error::Io {
            path: dir.to_path_buf(),
            error: io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// Makes the entries of `dirs` (all on one filesystem) durable: an fsync each
/// (in parallel), or one `syncfs` when there are [`SYNCFS_FROM_DIRS`] or more.
fn sync_dirs(dirs: Vec<PathBuf>) -> Result<()> {
    match (DirSync::of(dirs.len()), dirs.first()) {
        (DirSync::Filesystem, Some(dir)) => syncfs(dir),
        (DirSync::EachDir, _) => dirs.into_par_iter().try_for_each(|d| fsync_dir(&d)),
        _ => Ok(()),
    }
}

fn set_mtime_zero(f: &File) -> io::Result<()> {
    let times = [
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
    ];
    // SAFETY: valid fd and a valid two-element timespec array.
    if unsafe { libc::futimens(f.as_raw_fd(), times.as_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn xattr_name(raw: &[u8]) -> &std::ffi::OsStr {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(raw.strip_suffix(&[0]).unwrap_or(raw))
}

/// An open write transaction (see the module docs). Methods take `&self`
/// so that many threads (rayon) can write objects at once.
pub struct Transaction<'r> {
    repo: &'r Repo,
    _repo_lock: LockGuard,
    _staging_lock: Option<LockGuard>,
    staging: PathBuf,
    /// The staging directory, open.
    staging_dir: OpenDir,
    /// Per object directory `objects/XX/` (by its first checksum byte), once an object
    /// of it was staged: the subdirectory `XX/` of the staging directory its objects are
    /// staged in, when `objects/XX/` did not exist then (renamed into `objects/` whole at
    /// commit), or `None`: staged flat as `<checksum>.<extension>`.
    shards: Mutex<HashMap<u8, Option<Arc<OpenDir>>>>,
    staging_lock_path: PathBuf,
    /// The objects staged (in the staging directory as `<checksum>.<extension>`).
    staged: Mutex<HashSet<(ObjectType, Checksum)>>,
    /// The repository's objects as the caller listed them, if it did
    /// ([`Transaction::set_known_objects`]): looked up instead of the disk.
    known: Option<Arc<HashSet<(ObjectType, Checksum)>>>,
    /// Files to rename into place at commit, after the flush: (temporary, destination).
    files: Mutex<Vec<(PathBuf, PathBuf)>>,
    commits: Mutex<Vec<Checksum>>,
    fsync: bool,
    per_object_fsync: bool,
    finished: bool,
}

/// What [`Transaction::write_content_counted`] (or
/// [`Transaction::write_metadata_counted`]) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrittenContent {
    /// The object's checksum.
    pub checksum: Checksum,
    /// Whether this call staged it: false when it was in the repository, or staged in
    /// the transaction, already.
    pub staged: bool,
}

impl WrittenContent {
    fn present(checksum: Checksum) -> WrittenContent {
        WrittenContent {
            checksum,
            staged: false,
        }
    }
}

/// What a content object was written to before it is staged.
enum Made {
    /// A (possibly anonymous) temporary file.
    File(ObjectTmp),
    /// A symlink beside it (bare and bare-user-only symlink objects).
    Link(PathBuf),
}

impl Made {
    /// Drops what was made (an object found present already, or refused).
    fn discard(self) {
        if let Made::Link(l) = self {
            let _ = fs::remove_file(l);
        }
    }
}

fn poisoned<T>(_: T) -> Error {
    Error::Invalid("transaction state poisoned".into())
}

impl Repo {
    /// Starts a write transaction (takes the shared repository lock).
    pub fn transaction(&self) -> Result<Transaction<'_>> {
        self.refuse_tar()?;
        let repo_lock = self.lock(LockKind::Shared)?;
        let tmp = self.path().join("tmp");
        fs::create_dir_all(&tmp).at(&tmp)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("staging-{}-", boot_id()))
            .rand_bytes(6)
            .tempdir_in(&tmp)
            .at(&tmp)?
            .keep();
        let mut lock_name = dir.file_name().unwrap_or_default().to_os_string();
        lock_name.push("-lock");
        let staging_lock_path = tmp.join(lock_name);
        let staging_lock = lock_file_exclusive(&staging_lock_path)?;
        let fsync = !matches!(self.config().get("core", "fsync"), Some("false"));
        let staging_dir = OpenDir::open(&dir)?;
        Ok(Transaction {
            repo: self,
            _repo_lock: repo_lock,
            _staging_lock: Some(staging_lock),
            staging: dir,
            staging_dir,
            shards: Mutex::new(HashMap::new()),
            staging_lock_path,
            staged: Mutex::new(HashSet::new()),
            known: None,
            files: Mutex::new(Vec::new()),
            commits: Mutex::new(Vec::new()),
            fsync,
            per_object_fsync: fsync
                && matches!(self.config().get("core", "per-object-fsync"), Some("true")),
            finished: false,
        })
    }

    /// Writes one content object in its own transaction (see
    /// [`Transaction::write_content`] for bulk writes).
    pub fn write_content(&self, header: &FileHeader, content: impl Read) -> Result<Checksum> {
        self.in_one_transaction(|tx| tx.write_content(header, content))
    }

    /// Like [`Repo::write_content`] but fails (writing nothing) unless the
    /// content hashes to `checksum`.
    pub fn write_content_with_checksum(
        &self,
        checksum: &Checksum,
        header: &FileHeader,
        content: impl Read,
    ) -> Result<Checksum> {
        self.in_one_transaction(|tx| tx.write_content_with_checksum(checksum, header, content))
    }

    /// Writes one metadata object in its own transaction.
    pub fn write_metadata(&self, objtype: ObjectType, bytes: &[u8]) -> Result<Checksum> {
        self.in_one_transaction(|tx| tx.write_metadata(objtype, bytes))
    }

    /// Runs `write` in a transaction of its own and commits it.
    fn in_one_transaction<T>(
        &self,
        write: impl FnOnce(&Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let tx = self.transaction()?;
        let out = write(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Sets (or with `None` removes) a commit's detached metadata (`a{sv}`).
    pub fn write_commit_detached_metadata(
        &self,
        commit: &Checksum,
        metadata: Option<&[u8]>,
    ) -> Result<()> {
        self.refuse_tar()?;
        let _lock = self.lock(LockKind::Shared)?;
        let path = self.loose_path(ObjectType::CommitMeta, commit);
        match metadata {
            Some(b) => {
                parse_metadata(b).map_err(|error| Error::Malformed {
                    what: format!("detached metadata for {commit}"),
                    error,
                })?;
                let dir = path.parent().unwrap_or(self.path());
                fs::create_dir_all(dir).at(dir)?;
                write_file_atomic(&path, b, self.fsync_enabled())
            }
            None => match fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::Io { path, error: e }),
            },
        }
    }

    fn fsync_enabled(&self) -> bool {
        !matches!(self.config().get("core", "fsync"), Some("false"))
    }

    /// Sets or clears the partial marker `state/<commit>.commitpartial`.
    pub fn mark_commit_partial(&self, commit: &Checksum, partial: bool) -> Result<()> {
        self.refuse_tar()?;
        let p = self.commitpartial_path(commit);
        if partial {
            let state = self.path().join("state");
            fs::create_dir_all(&state).at(&state)?;
            match fs::OpenOptions::new().write(true).create_new(true).open(&p) {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
                Err(e) => Err(Error::Io { path: p, error: e }),
            }
        } else {
            match fs::remove_file(&p) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::Io { path: p, error: e }),
            }
        }
    }

    /// Whether every object `commit` reaches is present (file objects are
    /// checked for presence only).
    pub fn is_commit_complete(&self, commit: &Checksum) -> bool {
        let t = self.traverse_commit(commit);
        t.errors.is_empty()
            && t.objects
                .iter()
                .all(|o| self.has_object(o.objtype, &o.checksum))
    }

    /// Points ref `refspec` (`NAME` under refs/heads, or `REMOTE:NAME` under
    /// refs/remotes) at `target`, or deletes it with `None`. Atomic (temp
    /// file + rename).
    pub fn set_ref(&self, refspec: &str, target: Option<&Checksum>) -> Result<()> {
        self.refuse_tar()?;
        let (base, name) = match refspec.split_once(':') {
            Some((remote, name)) => {
                validate_ref_name(remote)?;
                (self.path().join("refs/remotes").join(remote), name)
            }
            None => (self.path().join("refs/heads"), refspec),
        };
        validate_ref_name(name)?;
        let path = base.join(name);
        let _lock = self.lock(LockKind::Shared)?;
        match target {
            Some(c) => {
                let dir = path.parent().unwrap_or(&base);
                fs::create_dir_all(dir).at(dir)?;
                write_file_atomic(&path, format!("{c}\n").as_bytes(), self.fsync_enabled())
            }
            None => match fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::Io { path, error: e }),
            },
        }
    }
}

impl Transaction<'_> {
    /// The repository written to.
    pub fn repo(&self) -> &Repo {
        self.repo
    }

    /// The directory object `c` is staged in (the staging directory, or its shard for
    /// `c`'s object directory, made and chosen when the first object of that directory
    /// is staged: see [`Transaction::shards`]) and its name there.
    fn staged_at(
        &self,
        objtype: ObjectType,
        c: &Checksum,
    ) -> Result<(Option<Arc<OpenDir>>, String)> {
        let ext = objtype.extension(self.repo.mode().is_archive());
        let hex = c.to_hex();
        let mut shards = self.shards.lock().map_err(poisoned)?;
        let shard = match shards.get(&c.0[0]) {
            Some(s) => s.clone(),
            None => {
                let objdir = self.repo.path().join("objects").join(&hex[..2]);
                let shard = match fs::symlink_metadata(&objdir) {
                    Ok(_) => None,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        let dir = self.staging.join(&hex[..2]);
                        fs::create_dir(&dir).at(&dir)?;
                        Some(Arc::new(OpenDir::open(&dir)?))
                    }
                    Err(e) => {
                        return Err(Error::Io {
                            path: objdir,
                            error: e,
                        })
                    }
                };
                shards.insert(c.0[0], shard.clone());
                shard
            }
        };
        Ok(match shard {
            Some(dir) => (Some(dir), format!("{}.{ext}", &hex[2..])),
            None => (None, format!("{hex}.{ext}")),
        })
    }

    /// Whether the object is in the repository or staged in this transaction already.
    fn present_or_staged(&self, objtype: ObjectType, c: &Checksum) -> Result<bool> {
        if self
            .staged
            .lock()
            .map_err(poisoned)?
            .contains(&(objtype, *c))
        {
            return Ok(true);
        }
        Ok(match &self.known {
            Some(known) => known.contains(&(objtype, *c)),
            None => self.repo.has_object(objtype, c),
        })
    }

    /// Tells the transaction which objects the repository holds: `known`, listed under a
    /// lock the caller holds until the transaction ends, so that none of them goes away
    /// ([`Repo::loose_objects`]; an empty set for a repository the caller made just now).
    /// From then on an object is looked up in `known` instead of on disk (a `stat` per
    /// object less). One that another writer added since is written again, and its
    /// staged copy dropped at commit (the rename into `objects/` never replaces).
    pub fn set_known_objects(&mut self, known: Arc<HashSet<(ObjectType, Checksum)>>) {
        self.known = Some(known);
    }

    /// Stages `tmp` as object `c`; whether it was staged by this call (false: another
    /// writer staged it first).
    fn stage(&self, tmp: ObjectTmp, objtype: ObjectType, c: &Checksum) -> Result<bool> {
        let (shard, name) = self.staged_at(objtype, c)?;
        let placed = tmp.place(shard.as_deref().unwrap_or(&self.staging_dir), &name)?;
        if placed {
            self.staged.lock().map_err(poisoned)?.insert((objtype, *c));
        }
        Ok(placed)
    }

    /// Stages the content object `made` as `c`; whether it was staged by this call.
    fn stage_content(&self, made: Made, c: &Checksum) -> Result<bool> {
        match made {
            Made::File(tmp) => self.stage(tmp, ObjectType::File, c),
            Made::Link(link) => {
                // Stage the symlink itself: rename it to the staged name.
                let (shard, name) = self.staged_at(ObjectType::File, c)?;
                let dir = shard.as_deref().unwrap_or(&self.staging_dir);
                if rename_noreplace(&link, &dir.path.join(name))? {
                    self.staged
                        .lock()
                        .map_err(poisoned)?
                        .insert((ObjectType::File, *c));
                    Ok(true)
                } else {
                    // Staged already by another writer.
                    let _ = fs::remove_file(&link);
                    Ok(false)
                }
            }
        }
    }

    /// Writes `bytes` to a temporary file in the staging directory now, and renames it
    /// to `dest` (replacing it) when the transaction commits, after the flush that makes
    /// the objects durable, and with the objects' directories synced: the file is then as
    /// durable as the objects, at no flush of its own. `dest` must be inside the
    /// repository (a rename cannot cross filesystems) and its directory must exist at
    /// commit. Nothing is renamed if the transaction is dropped uncommitted.
    pub fn stage_file(&self, dest: &Path, bytes: &[u8]) -> Result<()> {
        let mut tmp = tempfile::Builder::new()
            .prefix("file-")
            .tempfile_in(&self.staging)
            .at(&self.staging)?;
        tmp.write_all(bytes).at(tmp.path().to_path_buf())?;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))
            .at(tmp.path().to_path_buf())?;
        let path = tmp.into_temp_path().keep().map_err(|e| Error::Io {
            path: dest.to_path_buf(),
            error: e.error,
        })?;
        self.files
            .lock()
            .map_err(poisoned)?
            .push((path, dest.to_path_buf()));
        Ok(())
    }

    /// Streams a content object into the repository and returns its checksum.
    /// `content` is ignored for symlinks. Memory use is bounded by a buffer
    /// ([`SMALL_CONTENT`] bytes per writing thread). Writing an object present or staged
    /// already stores nothing; below [`SMALL_CONTENT`] bytes it makes no file either.
    pub fn write_content(&self, header: &FileHeader, content: impl Read) -> Result<Checksum> {
        Ok(self.write_content_impl(None, header, content)?.checksum)
    }

    /// Like [`Transaction::write_content`], but fails without storing
    /// anything unless the object's checksum is `expected`.
    pub fn write_content_with_checksum(
        &self,
        expected: &Checksum,
        header: &FileHeader,
        content: impl Read,
    ) -> Result<Checksum> {
        Ok(self
            .write_content_impl(Some(expected), header, content)?
            .checksum)
    }

    /// Like [`Transaction::write_content`] (with `expected`, like
    /// [`Transaction::write_content_with_checksum`]), also telling whether this call
    /// staged the object: counting what a transaction adds needs no lookup of its own.
    pub fn write_content_counted(
        &self,
        expected: Option<&Checksum>,
        header: &FileHeader,
        content: impl Read,
    ) -> Result<WrittenContent> {
        self.write_content_impl(expected, header, content)
    }

    /// Like [`Transaction::write_content_counted`], for content of exactly `len` bytes
    /// from a buffered reader: the bytes are hashed and written from the reader's own
    /// buffer (no copy in between), and content of up to [`SMALL_CONTENT`] bytes that the
    /// buffer holds whole is hashed and written in one piece. Reads exactly `len` bytes,
    /// never past them; content that ends before fails the call, storing nothing. For a
    /// symlink, `content` is not read. Each buffer the reader gives is written as it is
    /// (one `write` each): give it a reader with big buffers.
    pub fn write_content_sized(
        &self,
        expected: Option<&Checksum>,
        header: &FileHeader,
        content: &mut dyn BufRead,
        len: u64,
    ) -> Result<WrittenContent> {
        self.check_content_header(header)?;
        if header.is_symlink() {
            return self.write_small(expected, header, &[]);
        }
        let short = |got: u64| ends_early(got, len);
        let reading = |e: io::Error| Error::Invalid(format!("reading content: {e}"));
        if let Some(small) = usize::try_from(len).ok().filter(|&n| n <= SMALL_CONTENT) {
            let avail = content.fill_buf().map_err(reading)?;
            if avail.len() >= small {
                let out = self.write_small(expected, header, &avail[..small]);
                content.consume(small);
                return out;
            }
            // Spread over several of the reader's buffers: gathered in the thread's.
            let mut buf = take_small_buf();
            let got = fill(&mut Read::take(&mut *content, len), &mut buf[..small]);
            let out = match got {
                Ok(got) if got == small => self.write_small(expected, header, &buf[..small]),
                Ok(got) => Err(short(got as u64)),
                Err(e) => Err(reading(e)),
            };
            give_small_buf(buf);
            return out;
        }
        let mut limited = Read::take(&mut *content, len);
        self.write_stream(expected, header, &mut limited, Some(len))
    }

    /// Refuses what no content object of this repository's mode can be.
    fn check_content_header(&self, header: &FileHeader) -> Result<()> {
        let mode = self.repo.mode();
        if !(header.is_regular() || header.is_symlink()) {
            return Err(Error::Invalid(format!(
                "content object mode {:o} is neither a regular file nor a symlink",
                header.mode
            )));
        }
        if mode == RepoMode::BareSplitXattrs {
            return Err(Error::Unsupported(
                "writing to bare-split-xattrs repositories is not supported".into(),
            ));
        }
        if mode == RepoMode::BareUserOnly && header.is_regular() {
            let bad = (header.mode & !S_IFMT) & !0o775;
            if bad != 0 {
                return Err(Error::Invalid(format!(
                    "bare-user-only repository: invalid mode {:04o} with bits {bad:04o}",
                    header.mode & !S_IFMT
                )));
            }
        }
        Ok(())
    }

    fn write_content_impl(
        &self,
        expected: Option<&Checksum>,
        header: &FileHeader,
        mut content: impl Read,
    ) -> Result<WrittenContent> {
        self.check_content_header(header)?;
        if header.is_symlink() {
            return self.write_small(expected, header, &[]);
        }
        // The thread's small-content buffer, taken for this object and given back after;
        // made (and its pages touched) once per thread, then read into as it is.
        let mut buf = take_small_buf();
        let filled = fill(&mut content, &mut buf)
            .map_err(|e| Error::Invalid(format!("reading content: {e}")));
        let out = match filled {
            Ok(n) if n <= SMALL_CONTENT => self.write_small(expected, header, &buf[..n]),
            Ok(n) => {
                let head: &[u8] = &buf[..n];
                let mut stream = io::BufReader::with_capacity(BUF, head.chain(&mut content));
                self.write_stream(expected, header, &mut stream, None)
            }
            Err(e) => Err(e),
        };
        give_small_buf(buf);
        out
    }

    /// Writes content held whole in memory (a symlink's: empty). It is hashed before
    /// anything is made: nothing is made for an object present or staged already.
    fn write_small(
        &self,
        expected: Option<&Checksum>,
        header: &FileHeader,
        bytes: &[u8],
    ) -> Result<WrittenContent> {
        let mut hasher = ContentHasher::new(header);
        hasher.update(bytes);
        let actual = hasher.finish();
        if let Some(e) = wrong_content(expected, actual) {
            return Err(e);
        }
        if self.present_or_staged(ObjectType::File, &actual)? {
            return Ok(WrittenContent::present(actual));
        }
        let (made, _) = self.make_content(header, Content::Bytes(bytes))?;
        let staged = self.stage_content(made, &actual)?;
        Ok(WrittenContent {
            checksum: actual,
            staged,
        })
    }

    /// Writes content streamed from `content`, hashed on the way, and stages it unless
    /// it is present or staged already; with `len`, content of another length is
    /// refused.
    fn write_stream(
        &self,
        expected: Option<&Checksum>,
        header: &FileHeader,
        content: &mut dyn BufRead,
        len: Option<u64>,
    ) -> Result<WrittenContent> {
        let mut hasher = ContentHasher::new(header);
        let (made, got) = self.make_content(header, Content::Stream(content, &mut hasher))?;
        if let Some(len) = len.filter(|&l| l != got) {
            made.discard();
            return Err(ends_early(got, len));
        }
        let actual = hasher.finish();
        if let Some(e) = wrong_content(expected, actual) {
            made.discard();
            return Err(e);
        }
        if self.present_or_staged(ObjectType::File, &actual)? {
            made.discard();
            return Ok(WrittenContent::present(actual));
        }
        let staged = self.stage_content(made, &actual)?;
        Ok(WrittenContent {
            checksum: actual,
            staged,
        })
    }

    /// Writes a content object's file as the repository's mode stores it; returns it and
    /// the content's length.
    fn make_content(&self, header: &FileHeader, content: Content<'_>) -> Result<(Made, u64)> {
        let mode = self.repo.mode();
        if header.is_symlink() && matches!(mode, RepoMode::Bare | RepoMode::BareUserOnly) {
            // A real symlink, created beside the temp files.
            let seq = LINK_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let link = self
                .staging
                .join(format!("link-{}-{seq}", std::process::id()));
            std::os::unix::fs::symlink(&header.symlink_target, &link).at(link.clone())?;
            if mode == RepoMode::Bare {
                let set = std::os::unix::fs::lchown(&link, Some(header.uid), Some(header.gid))
                    .and_then(|()| {
                        header
                            .xattrs
                            .iter()
                            .try_for_each(|(k, v)| xattr::set(&link, xattr_name(k), v))
                    });
                if let Err(error) = set {
                    let _ = fs::remove_file(&link);
                    return Err(Error::Io { path: link, error });
                }
            }
            return Ok((Made::Link(link), 0));
        }
        let tmp = ObjectTmp::new(&self.staging_dir)?;
        let file = &tmp.file;
        let tmp_path = tmp.label.clone();
        let io_err = |e: io::Error| Error::Io {
            path: tmp_path.clone(),
            error: e,
        };
        let mut content_len = 0;
        if header.is_symlink() {
            match mode {
                RepoMode::Archive => {
                    (&tmp.file)
                        .write_all(&header.encode_archive_header(0))
                        .map_err(io_err)?;
                    // Readable by all, as every archive object: a web server serves them.
                    file.set_permissions(fs::Permissions::from_mode(0o644))
                        .map_err(io_err)?;
                }
                RepoMode::BareUser => {
                    // Target plus terminating NUL, as libostree writes it.
                    (&tmp.file)
                        .write_all(header.symlink_target.as_bytes())
                        .and_then(|_| (&tmp.file).write_all(&[0]))
                        .map_err(io_err)?;
                    xattr::FileExt::set_xattr(
                        file,
                        "user.ostreemeta",
                        &header.encode_bareuser_meta(),
                    )
                    .map_err(io_err)?;
                    file.set_permissions(fs::Permissions::from_mode(0o644))
                        .map_err(io_err)?;
                    // As libostree leaves every bare-user content object, symlinks too.
                    set_mtime_zero(file).map_err(io_err)?;
                }
                RepoMode::Bare | RepoMode::BareUserOnly => {
                    // Made as real symlinks above.
                    return Err(Error::Invalid("symlink object mode mismatch".into()));
                }
                RepoMode::BareSplitXattrs => {
                    return Err(Error::Unsupported(
                        "writing to bare-split-xattrs repositories is not supported".into(),
                    ))
                }
            }
        } else if mode == RepoMode::Archive {
            (&tmp.file)
                .write_all(&header.encode_archive_header(0))
                .map_err(io_err)?;
            let mut enc =
                DeflateEncoder::new(BufWriter::with_capacity(BUF, file), Compression::new(6));
            content_len = copy_content(content, &mut enc).map_err(|e| e.at(io_err))?;
            enc.finish().and_then(|mut w| w.flush()).map_err(io_err)?;
            // Patch the uncompressed size into the header (`t` at offset 8).
            file.write_all_at(&content_len.to_be_bytes(), 8)
                .map_err(io_err)?;
            file.set_permissions(fs::Permissions::from_mode(0o644))
                .map_err(io_err)?;
        } else {
            content_len = match content {
                // One write, no buffer to allocate.
                Content::Bytes(b) => {
                    (&tmp.file).write_all(b).map_err(io_err)?;
                    b.len() as u64
                }
                // Each of the reader's buffers written as it is: no copy into one of ours.
                stream => copy_content(stream, &mut &tmp.file).map_err(|e| e.at(io_err))?,
            };
            match mode {
                RepoMode::Bare => {
                    std::os::unix::fs::fchown(file, Some(header.uid), Some(header.gid))
                        .map_err(io_err)?;
                    file.set_permissions(fs::Permissions::from_mode(header.mode & 0o7777))
                        .map_err(io_err)?;
                    for (k, v) in &header.xattrs {
                        xattr::FileExt::set_xattr(file, xattr_name(k), v).map_err(io_err)?;
                    }
                }
                RepoMode::BareUser => {
                    xattr::FileExt::set_xattr(
                        file,
                        "user.ostreemeta",
                        &header.encode_bareuser_meta(),
                    )
                    .map_err(io_err)?;
                    let m = (header.mode & 0o775) | 0o400;
                    file.set_permissions(fs::Permissions::from_mode(m))
                        .map_err(io_err)?;
                }
                RepoMode::BareUserOnly => {
                    file.set_permissions(fs::Permissions::from_mode(header.mode & 0o7777))
                        .map_err(io_err)?;
                }
                _ => {}
            }
            set_mtime_zero(file).map_err(io_err)?;
        }
        if self.per_object_fsync {
            file.sync_all().map_err(io_err)?;
        } else if self.fsync && content_len >= WRITEBACK_MIN {
            // Start writing the data back now, without waiting, so that the syncfs at
            // commit finds most of it on disk already (I/O overlaps the CPU work).
            // SAFETY: plain syscall on an open descriptor.
            unsafe {
                libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
            }
        }
        Ok((Made::File(tmp), content_len))
    }

    /// Writes a metadata object (validated) and returns its checksum.
    /// Writing a commit marks it partial until [`Transaction::commit`]
    /// finds everything it reaches present.
    pub fn write_metadata(&self, objtype: ObjectType, bytes: &[u8]) -> Result<Checksum> {
        Ok(self.write_metadata_counted(objtype, bytes)?.checksum)
    }

    /// Like [`Transaction::write_metadata`], also telling whether this call staged the
    /// object (false: it was in the repository, or staged in the transaction, already):
    /// counting what a transaction adds needs no lookup of its own.
    pub fn write_metadata_counted(
        &self,
        objtype: ObjectType,
        bytes: &[u8],
    ) -> Result<WrittenContent> {
        if objtype == ObjectType::File || objtype == ObjectType::CommitMeta {
            return Err(Error::Invalid(format!(
                "write_metadata cannot write {objtype} objects"
            )));
        }
        let c = Checksum::of_bytes(bytes);
        validate_metadata(objtype, bytes).map_err(|error| Error::Malformed {
            what: format!("{objtype} object {c}"),
            error,
        })?;
        if objtype == ObjectType::Commit {
            Commit::decode(bytes).map_err(|error| Error::Malformed {
                what: format!("commit {c}"),
                error,
            })?;
            if !self.repo.has_object(objtype, &c) {
                self.repo.mark_commit_partial(&c, true)?;
            }
            self.commits.lock().map_err(poisoned)?.push(c);
        }
        if self.present_or_staged(objtype, &c)? {
            return Ok(WrittenContent::present(c));
        }
        let tmp = ObjectTmp::new(&self.staging_dir)?;
        (&tmp.file).write_all(bytes).at(tmp.label.clone())?;
        tmp.file
            .set_permissions(fs::Permissions::from_mode(0o644))
            .at(tmp.label.clone())?;
        if self.per_object_fsync {
            tmp.file.sync_all().at(tmp.label.clone())?;
        }
        let staged = self.stage(tmp, objtype, &c)?;
        Ok(WrittenContent {
            checksum: c,
            staged,
        })
    }

    /// Makes all staged objects durable and visible in `objects/`, then the files
    /// staged with [`Transaction::stage_file`], then clears the partial mark of each
    /// commit written whose objects are all present. Refs are not touched: set them
    /// afterwards.
    pub fn commit(mut self) -> Result<()> {
        let started = std::time::Instant::now();
        let staged = std::mem::take(&mut *self.staged.lock().map_err(poisoned)?);
        let files = std::mem::take(&mut *self.files.lock().map_err(poisoned)?);
        let (n_staged, n_files) = (staged.len(), files.len());
        if self.fsync && !(staged.is_empty() && files.is_empty()) {
            syncfs(&self.staging)?;
        }
        let step = |what: &str| {
            let elapsed = started.elapsed();
            tracing::debug!(
                ?elapsed,
                objects = n_staged,
                files = n_files,
                "commit: {what}"
            );
        };
        step("staged data flushed");
        // Renamed into place directory by directory, in one thread (a rename between two
        // directories takes the filesystem's rename lock: more threads would only wait
        // for it), then the directories are synced (`sync_dirs`: in parallel, or with one
        // `syncfs` when there are many; the objects' data was flushed above, before any
        // of them was renamed). A shard (the objects of
        // a directory `objects/` lacked) is renamed whole, unless another writer made
        // that directory meanwhile: then its objects are renamed one by one.
        let shards = std::mem::take(&mut *self.shards.lock().map_err(poisoned)?);
        let objects = self.repo.path().join("objects");
        let objects_dir = OpenDir::open(&objects)?;
        let mut moved_whole = BTreeSet::new();
        for (byte, shard) in &shards {
            if shard.is_none() {
                continue;
            }
            let xx = format!("{byte:02x}");
            if rename_noreplace_at(&self.staging_dir, &xx, &objects_dir, &xx)? {
                moved_whole.insert(*byte);
            }
        }
        // (shard staged in or none: flat, staged name, name in its directory) by
        // directory of `objects/`.
        type Move = (Option<Arc<OpenDir>>, String, String);
        let mut by_dir: BTreeMap<PathBuf, Vec<Move>> = BTreeMap::new();
        let mut objects_moved = !moved_whole.is_empty();
        // The directories of the shards moved whole, to sync below: nothing to rename
        // in them, so their objects' paths are not even made (at desktop scale, 100,000
        // objects in a fresh repository).
        for byte in &moved_whole {
            by_dir
                .entry(objects.join(format!("{byte:02x}")))
                .or_default();
        }
        for (objtype, c) in staged {
            objects_moved = true;
            if moved_whole.contains(&c.0[0]) {
                continue;
            }
            let to = self.repo.loose_path(objtype, &c);
            let dir = to.parent().unwrap_or(self.repo.path()).to_path_buf();
            let name = to
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (from_dir, from) = match shards.get(&c.0[0]) {
                Some(Some(shard)) => (Some(shard.clone()), name.clone()),
                _ => {
                    let ext = objtype.extension(self.repo.mode().is_archive());
                    (None, format!("{}.{ext}", c.to_hex()))
                }
            };
            by_dir.entry(dir).or_default().push((from_dir, from, name));
        }
        for (dir, moves) in &by_dir {
            if moves.is_empty() {
                continue;
            }
            match fs::create_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(Error::Io {
                        path: dir.to_path_buf(),
                        error: e,
                    })
                }
            }
            let to_dir = OpenDir::open(dir)?;
            for (from_dir, from, to) in moves {
                let from_dir = from_dir.as_deref().unwrap_or(&self.staging_dir);
                if !rename_noreplace_at(from_dir, from, &to_dir, to)? {
                    // Present already (written meanwhile by another writer).
                    let _ = rustix::fs::unlinkat(
                        &from_dir.fd,
                        from.as_str(),
                        rustix::fs::AtFlags::empty(),
                    );
                }
            }
        }
        step("objects renamed");
        let n_dirs = by_dir.len();
        if self.fsync {
            let mut dirs: Vec<PathBuf> = by_dir.into_keys().collect();
            if objects_moved {
                dirs.push(objects);
            }
            sync_dirs(dirs)?;
        }
        let elapsed = started.elapsed();
        tracing::debug!(?elapsed, directories = n_dirs, "commit: renames durable");
        // The staged files, replacing what their names held.
        let mut file_dirs = BTreeSet::new();
        for (from, to) in files {
            fs::rename(&from, &to).at(to.clone())?;
            if let Some(dir) = to.parent() {
                file_dirs.insert(dir.to_path_buf());
            }
        }
        if self.fsync {
            sync_dirs(file_dirs.into_iter().collect())?;
        }
        step("files in place");
        let commits = std::mem::take(&mut *self.commits.lock().map_err(poisoned)?);
        for c in commits {
            if self.repo.is_commit_complete(&c) {
                self.repo.mark_commit_partial(&c, false)?;
            }
        }
        step("commits checked");
        self.cleanup();
        self.finished = true;
        step("staging removed");
        Ok(())
    }

    fn cleanup(&mut self) {
        let _ = fs::remove_dir_all(&self.staging);
        let _ = fs::remove_file(&self.staging_lock_path);
        self._staging_lock = None;
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.cleanup();
        }
    }
}

/// Reads from `content` until `buf` is full or the content ends; the number of bytes
/// read. (Unlike `read_to_end`, reads into the bytes as they are: no zeroing first.)
fn fill(content: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match content.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Why [`copy_content`] failed: reading the content, or writing the object.
enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

impl CopyError {
    /// The crate error, with `write_err` for a failed write.
    fn at(self, write_err: impl Fn(io::Error) -> Error) -> Error {
        match self {
            CopyError::Read(e) => Error::Invalid(format!("reading content: {e}")),
            CopyError::Write(e) => write_err(e),
        }
    }
}

/// The content of an object being made.
enum Content<'a> {
    /// All of it, hashed already.
    Bytes(&'a [u8]),
    /// A stream, to feed to the hasher on the way.
    Stream(&'a mut dyn BufRead, &'a mut ContentHasher),
}

/// Copies `content` to `out` (feeding a stream to its hasher on the way, each of the
/// stream's buffers hashed and written where it is); returns the number of bytes.
fn copy_content(content: Content<'_>, out: &mut dyn Write) -> std::result::Result<u64, CopyError> {
    let (content, hasher) = match content {
        Content::Bytes(b) => {
            out.write_all(b).map_err(CopyError::Write)?;
            return Ok(b.len() as u64);
        }
        Content::Stream(content, hasher) => (content, hasher),
    };
    let mut total = 0;
    loop {
        let buf = match content.fill_buf() {
            Ok([]) => return Ok(total),
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        hasher.update(buf);
        out.write_all(buf).map_err(CopyError::Write)?;
        let n = buf.len();
        content.consume(n);
        total += n as u64;
    }
}

/// The calling thread's buffer of [`SMALL_CONTENT`] + 1 bytes for small content (made
/// once per thread); give it back with [`give_small_buf`].
fn take_small_buf() -> Vec<u8> {
    let buf = SMALL_BUF.with(|b| b.take());
    if buf.len() == SMALL_CONTENT + 1 {
        buf
    } else {
        vec![0; SMALL_CONTENT + 1]
    }
}

/// Keeps `buf` (from [`take_small_buf`]) for the thread's next object.
fn give_small_buf(buf: Vec<u8>) {
    SMALL_BUF.with(|b| b.set(buf));
}

/// The error for content of `len` bytes whose reader gave `got` of them.
fn ends_early(got: u64, len: u64) -> Error {
    Error::Invalid(format!(
        "reading content: it ends after {got} of its {len} bytes"
    ))
}

/// The error for content whose checksum is `actual` when `expected` was asked for.
fn wrong_content(expected: Option<&Checksum>, actual: Checksum) -> Option<Error> {
    match expected {
        Some(exp) if *exp != actual => Some(Error::WrongContent {
            expected: *exp,
            actual,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The repository modes the writes support, for tests that run in each.
    const EVERY_MODE: [RepoMode; 3] = [
        RepoMode::BareUser,
        RepoMode::Archive,
        RepoMode::BareUserOnly,
    ];

    #[test]
    fn object_tmp_places_anonymous_and_named_files() {
        let dir = tempfile::tempdir().unwrap();
        let open = OpenDir::open(dir.path()).unwrap();
        fn anonymous(d: &Path) -> Result<ObjectTmp> {
            ObjectTmp::new(&OpenDir::open(d)?)
        }
        let makers: [fn(&Path) -> Result<ObjectTmp>; 2] = [anonymous, ObjectTmp::named];
        for (i, make) in makers.into_iter().enumerate() {
            let name = format!("obj-{i}");
            let dest = dir.path().join(&name);
            let t = make(dir.path()).unwrap();
            assert_eq!(t.named.is_none(), i == 0);
            (&t.file).write_all(b"first").unwrap();
            assert!(t.place(&open, &name).unwrap());
            assert_eq!(fs::read(&dest).unwrap(), b"first");
            // A second writer of the same object: the anonymous file reports the name
            // as taken and leaves it alone; a named one replaces it (same checksum).
            let t = make(dir.path()).unwrap();
            (&t.file).write_all(b"first").unwrap();
            let placed = t.place(&open, &name).unwrap();
            assert_eq!(placed, i == 1);
            assert_eq!(fs::read(&dest).unwrap(), b"first");
        }
        // Nothing else is left in the directory.
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["obj-0", "obj-1"]);
    }

    #[test]
    fn anonymous_files_link_by_descriptor_and_through_proc() {
        let dir = tempfile::tempdir().unwrap();
        let open = OpenDir::open(dir.path()).unwrap();
        for via_proc in [false, true] {
            let t = ObjectTmp::new(&open).unwrap();
            if t.named.is_some() {
                return; // a filesystem without O_TMPFILE: nothing to link
            }
            (&t.file).write_all(b"bytes").unwrap();
            let name = format!("via-proc-{via_proc}");
            link_anonymous(&t.file, &open, &name, via_proc).unwrap();
            assert_eq!(fs::read(dir.path().join(&name)).unwrap(), b"bytes");
            let again = link_anonymous(&t.file, &open, &name, via_proc).unwrap_err();
            assert_eq!(again, rustix::io::Errno::EXIST);
        }
    }

    /// What the transaction's staging directory holds now: its files, and those of its
    /// shards named `XX` + name (a staged object's checksum and extension, wherever it is
    /// staged).
    fn staging_entries(tx: &Transaction<'_>) -> Vec<String> {
        let mut names = Vec::new();
        for e in fs::read_dir(&tx.staging).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().unwrap().is_dir() {
                for f in fs::read_dir(e.path()).unwrap() {
                    names.push(format!(
                        "{name}{}",
                        f.unwrap().file_name().to_string_lossy()
                    ));
                }
            } else {
                names.push(name);
            }
        }
        names.sort();
        names
    }

    #[test]
    fn objects_of_a_missing_directory_are_staged_apart_and_moved_whole() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::BareUser).unwrap();
        let h = FileHeader::regular(0, 0, 0o100644);
        // Contents whose objects fall in three directories, two of them twice.
        let mut by_dir: BTreeMap<u8, Vec<(Vec<u8>, Checksum)>> = BTreeMap::new();
        for i in 0u32.. {
            let content = i.to_le_bytes().to_vec();
            let mut hasher = ContentHasher::new(&h);
            hasher.update(&content);
            let c = hasher.finish();
            let list = by_dir.entry(c.0[0]).or_default();
            if list.len() < 2 {
                list.push((content, c));
            }
            if by_dir.values().filter(|l| l.len() == 2).count() >= 3 {
                break;
            }
        }
        let dirs: Vec<u8> = by_dir
            .iter()
            .filter(|(_, l)| l.len() == 2)
            .map(|(d, _)| *d)
            .take(3)
            .collect();
        let (present_dir, raced_dir, fresh_dir) = (dirs[0], dirs[1], dirs[2]);
        // One directory exists before the transaction: its objects are staged flat.
        let (content, in_repo) = by_dir[&present_dir][0].clone();
        repo.write_content(&h, &content[..]).unwrap();
        let tx = repo.transaction().unwrap();
        for d in [present_dir, raced_dir, fresh_dir] {
            for (content, c) in &by_dir[&d] {
                assert_eq!(tx.write_content(&h, &content[..]).unwrap(), *c);
            }
        }
        let staged = |d: u8| tx.staging.join(format!("{d:02x}")).is_dir();
        assert!(!staged(present_dir) && staged(raced_dir) && staged(fresh_dir));
        let mut want: Vec<String> = [present_dir, raced_dir, fresh_dir]
            .iter()
            .flat_map(|d| &by_dir[d])
            .filter(|(_, c)| *c != in_repo)
            .map(|(_, c)| format!("{}.file", c.to_hex()))
            .collect();
        want.sort();
        assert_eq!(staging_entries(&tx), want);
        // Another writer makes one of the missing directories, with one of the objects,
        // before the commit: that shard is moved object by object, the object on disk
        // kept as it is.
        let (content, raced) = by_dir[&raced_dir][0].clone();
        repo.write_content(&h, &content[..]).unwrap();
        let raced_path = repo.loose_path(ObjectType::File, &raced);
        let inode = std::os::unix::fs::MetadataExt::ino(&fs::metadata(&raced_path).unwrap());
        tx.commit().unwrap();
        assert_eq!(
            std::os::unix::fs::MetadataExt::ino(&fs::metadata(&raced_path).unwrap()),
            inode
        );
        for d in [present_dir, raced_dir, fresh_dir] {
            for (content, c) in &by_dir[&d] {
                // Bare-user: the object's file holds the content as it is.
                let got = fs::read(repo.loose_path(ObjectType::File, c)).unwrap();
                assert_eq!(&got, content);
            }
            // Nothing else in the directory: no staging names, no leftovers.
            let mut names: Vec<String> = fs::read_dir(repo.path().join(format!("objects/{d:02x}")))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            let mut want: Vec<String> = by_dir[&d]
                .iter()
                .map(|(_, c)| format!("{}.file", &c.to_hex()[2..]))
                .collect();
            want.sort();
            assert_eq!(names, want);
        }
        let mode = fs::metadata(repo.path().join(format!("objects/{fresh_dir:02x}")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o700, 0o700);
        assert!(fs::read_dir(repo.path().join("tmp")).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("staging-")));
    }

    #[test]
    fn duplicate_content_is_staged_once_small_or_big() {
        for mode in EVERY_MODE {
            let dir = tempfile::tempdir().unwrap();
            let repo = Repo::init(dir.path(), mode).unwrap();
            let tx = repo.transaction().unwrap();
            let h = FileHeader::regular(0, 0, 0o100644);
            let small = b"small content".to_vec();
            let big = vec![7u8; SMALL_CONTENT + 10];
            let a = tx.write_content(&h, &small[..]).unwrap();
            let b = tx.write_content(&h, &big[..]).unwrap();
            assert_eq!(tx.write_content(&h, &small[..]).unwrap(), a);
            assert_eq!(tx.write_content(&h, &big[..]).unwrap(), b);
            let l = FileHeader::symlink(0, 0, "target");
            let c = tx.write_content(&l, std::io::empty()).unwrap();
            assert_eq!(tx.write_content(&l, std::io::empty()).unwrap(), c);
            // One staged file per object, nothing else (no symlink left beside them).
            let ext = ObjectType::File.extension(mode.is_archive());
            let mut want: Vec<String> = [a, b, c]
                .iter()
                .map(|c| format!("{}.{ext}", c.to_hex()))
                .collect();
            want.sort();
            assert_eq!(staging_entries(&tx), want, "{mode:?}");
            tx.commit().unwrap();
            for sum in [a, b, c] {
                assert!(repo.has_object(ObjectType::File, &sum), "{mode:?}");
            }
            // In the repository now: written again, nothing is staged.
            let tx = repo.transaction().unwrap();
            tx.write_content(&h, &small[..]).unwrap();
            tx.write_content(&h, &big[..]).unwrap();
            assert!(staging_entries(&tx).is_empty(), "{mode:?}");
        }
    }

    #[test]
    fn write_content_counted_tells_what_this_call_staged() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::BareUser).unwrap();
        let h = FileHeader::regular(0, 0, 0o100644);
        let present = repo.write_content(&h, &b"in the repository"[..]).unwrap();
        let tx = repo.transaction().unwrap();
        let big = vec![3u8; SMALL_CONTENT + 1];
        for content in [&b"small"[..], &big[..]] {
            let first = tx.write_content_counted(None, &h, content).unwrap();
            assert!(first.staged);
            let again = tx.write_content_counted(None, &h, content).unwrap();
            assert_eq!(again.checksum, first.checksum);
            assert!(!again.staged, "staged already in this transaction");
        }
        let w = tx
            .write_content_counted(Some(&present), &h, &b"in the repository"[..])
            .unwrap();
        assert_eq!((w.checksum, w.staged), (present, false));
        // A link object too.
        let l = FileHeader::symlink(0, 0, "target");
        assert!(
            tx.write_content_counted(None, &l, std::io::empty())
                .unwrap()
                .staged
        );
        assert!(
            !tx.write_content_counted(None, &l, std::io::empty())
                .unwrap()
                .staged
        );
    }

    #[test]
    fn write_metadata_counted_tells_what_this_call_staged() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::BareUser).unwrap();
        let meta = |mode: u32| {
            crate::DirMeta {
                uid: 0,
                gid: 0,
                mode: crate::S_IFDIR | mode,
                xattrs: vec![],
            }
            .encode()
        };
        let present = repo
            .write_metadata(ObjectType::DirMeta, &meta(0o755))
            .unwrap();
        let tx = repo.transaction().unwrap();
        let w = tx
            .write_metadata_counted(ObjectType::DirMeta, &meta(0o755))
            .unwrap();
        assert_eq!((w.checksum, w.staged), (present, false));
        let first = tx
            .write_metadata_counted(ObjectType::DirMeta, &meta(0o700))
            .unwrap();
        assert!(first.staged);
        assert_eq!(first.checksum, Checksum::of_bytes(&meta(0o700)));
        let again = tx
            .write_metadata_counted(ObjectType::DirMeta, &meta(0o700))
            .unwrap();
        assert_eq!((again.checksum, again.staged), (first.checksum, false));
        tx.commit().unwrap();
        assert!(repo.has_object(ObjectType::DirMeta, &first.checksum));
    }

    #[test]
    fn known_objects_replace_the_lookups_and_an_object_found_on_disk_at_commit_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::BareUser).unwrap();
        let h = FileHeader::regular(0, 0, 0o100644);
        let listed = repo.write_content(&h, &b"listed"[..]).unwrap();
        let unlisted = repo.write_content(&h, &b"not listed"[..]).unwrap();
        let mut tx = repo.transaction().unwrap();
        tx.set_known_objects(Arc::new(HashSet::from([(ObjectType::File, listed)])));
        // In the set: present, nothing staged.
        let w = tx.write_content_counted(None, &h, &b"listed"[..]).unwrap();
        assert_eq!((w.checksum, w.staged), (listed, false));
        // On disk but not in the set (another writer's): written again, and the copy
        // on disk stays when the transaction commits.
        let w = tx
            .write_content_counted(None, &h, &b"not listed"[..])
            .unwrap();
        assert_eq!((w.checksum, w.staged), (unlisted, true));
        let path = repo.loose_path(ObjectType::File, &unlisted);
        let inode = std::os::unix::fs::MetadataExt::ino(&fs::metadata(&path).unwrap());
        tx.commit().unwrap();
        assert_eq!(
            std::os::unix::fs::MetadataExt::ino(&fs::metadata(&path).unwrap()),
            inode
        );
        assert!(fs::read_dir(repo.path().join("tmp")).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("staging-")));
    }

    #[test]
    fn wrong_content_stores_nothing_small_or_big() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::BareUser).unwrap();
        let tx = repo.transaction().unwrap();
        let h = FileHeader::regular(0, 0, 0o100644);
        let other = Checksum([9; 32]);
        for content in [b"abc".to_vec(), vec![1u8; SMALL_CONTENT + 1]] {
            let e = tx
                .write_content_with_checksum(&other, &h, &content[..])
                .unwrap_err();
            assert!(matches!(e, Error::WrongContent { .. }), "{e}");
        }
        assert!(staging_entries(&tx).is_empty());
    }

    /// A reader over `data` whose buffers hold `step` bytes each.
    fn pieces(data: &[u8], step: usize) -> io::BufReader<&[u8]> {
        io::BufReader::with_capacity(step, data)
    }

    #[test]
    fn sized_content_from_a_buffered_reader_equals_the_streamed_write() {
        let varied = |n: usize| -> Vec<u8> { (0..n).map(|i| (i * 7 % 251) as u8).collect() };
        for mode in EVERY_MODE {
            let dir = tempfile::tempdir().unwrap();
            let repo = Repo::init(dir.path(), mode).unwrap();
            let h = FileHeader::regular(0, 0, 0o100644);
            // In one buffer, spread over buffers (small), and big (streamed buffer by buffer).
            for (len, step) in [(100, 4096), (3000, 1000), (SMALL_CONTENT + 5000, 65536)] {
                let mut data = varied(len);
                let plain = repo.write_content(&h, &data[..]).unwrap();
                data.extend_from_slice(b"the next entry");
                let other = Repo::init(dir.path().join(format!("o{len}")), mode).unwrap();
                let tx = other.transaction().unwrap();
                let mut r = pieces(&data, step);
                let w = tx
                    .write_content_sized(Some(&plain), &h, &mut r, len as u64)
                    .unwrap();
                assert_eq!((w.checksum, w.staged), (plain, true), "{mode:?} {len}");
                // Exactly `len` bytes were taken: the rest is left to the caller.
                let mut rest = Vec::new();
                r.read_to_end(&mut rest).unwrap();
                assert_eq!(rest, b"the next entry");
                tx.commit().unwrap();
                let mut back = Vec::new();
                other
                    .read_file(&plain)
                    .unwrap()
                    .1
                    .read_to_end(&mut back)
                    .unwrap();
                assert_eq!(back, data[..len], "{mode:?} {len}");
            }
            let l = FileHeader::symlink(0, 0, "target");
            let link = repo.write_content(&l, io::empty()).unwrap();
            let tx = repo.transaction().unwrap();
            let w = tx
                .write_content_sized(None, &l, &mut &b"unread"[..], 6)
                .unwrap();
            assert_eq!((w.checksum, w.staged), (link, false));
        }
    }

    #[test]
    fn sized_content_that_ends_early_fails_and_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::BareUser).unwrap();
        let tx = repo.transaction().unwrap();
        let h = FileHeader::regular(0, 0, 0o100644);
        for (have, step) in [(10, 4096), (3000, 1000), (SMALL_CONTENT + 100, 65536)] {
            let data = vec![3u8; have];
            let want = have as u64 + 1;
            let e = tx
                .write_content_sized(None, &h, &mut pieces(&data, step), want)
                .unwrap_err();
            assert!(
                e.to_string()
                    .contains(&format!("ends after {have} of its {want} bytes")),
                "{e}"
            );
        }
        assert!(staging_entries(&tx).is_empty());
    }

    #[test]
    fn directories_are_fsynced_each_below_the_threshold_and_flushed_together_from_it() {
        assert_eq!(DirSync::of(0), DirSync::Nothing);
        for n in 1..SYNCFS_FROM_DIRS {
            assert_eq!(DirSync::of(n), DirSync::EachDir, "{n}");
        }
        for n in [SYNCFS_FROM_DIRS, 257] {
            assert_eq!(DirSync::of(n), DirSync::Filesystem, "{n}");
        }
        let dir = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = (0..SYNCFS_FROM_DIRS)
            .map(|i| {
                let d = dir.path().join(format!("{i:02x}"));
                fs::create_dir(&d).unwrap();
                d
            })
            .collect();
        sync_dirs(Vec::new()).unwrap();
        sync_dirs(dirs[..1].to_vec()).unwrap();
        sync_dirs(dirs.clone()).unwrap();
        // Each way reports a directory it cannot open.
        let missing = dir.path().join("missing");
        let few = vec![dirs[0].clone(), missing.clone()];
        let many: Vec<PathBuf> = std::iter::once(missing.clone()).chain(dirs).collect();
        for (what, dirs) in [("each", few), ("syncfs", many)] {
            match sync_dirs(dirs) {
                Err(Error::Io { path, .. }) => assert_eq!(path, missing, "{what}"),
                other => panic!("{what}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_commit_over_many_directories_moves_every_object_and_file_into_place() {
        // Objects in more directories than SYNCFS_FROM_DIRS, some of them existing
        // already (objects renamed one by one) and some new (shards renamed whole), and
        // files staged in two directories.
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::BareUser).unwrap();
        let h = FileHeader::regular(0, 0, 0o644);
        let first: Vec<Checksum> = (0..8)
            .map(|i| {
                repo.write_content(&h, format!("first {i}").as_bytes())
                    .unwrap()
            })
            .collect();
        let tx = repo.transaction().unwrap();
        let second: Vec<Checksum> = (0..64)
            .map(|i| {
                tx.write_content(&h, format!("second {i}").as_bytes())
                    .unwrap()
            })
            .collect();
        let dests = [repo.path().join("a-file"), repo.path().join("state/b-file")];
        for d in &dests {
            tx.stage_file(d, b"staged").unwrap();
        }
        tx.commit().unwrap();
        for c in first.iter().chain(&second) {
            repo.verify_file(c).unwrap();
        }
        for d in &dests {
            assert_eq!(fs::read(d).unwrap(), b"staged");
        }
        let dirs: HashSet<u8> = second.iter().map(|c| c.0[0]).collect();
        assert!(dirs.len() > SYNCFS_FROM_DIRS, "{}", dirs.len());
    }

    #[test]
    fn staged_files_move_into_place_only_at_commit() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::BareUser).unwrap();
        let dest = repo.path().join("extensions/cache-file");
        fs::write(&dest, b"old").unwrap();
        // Dropped uncommitted: the old file stays, nothing is left behind.
        let tx = repo.transaction().unwrap();
        tx.stage_file(&dest, b"new").unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"old");
        drop(tx);
        assert_eq!(fs::read(&dest).unwrap(), b"old");
        let tx = repo.transaction().unwrap();
        tx.stage_file(&dest, b"new").unwrap();
        tx.commit().unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"new");
        let mode = fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        let tmp: Vec<_> = fs::read_dir(repo.path().join("tmp"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().starts_with("staging-"))
            .collect();
        assert!(tmp.is_empty(), "{tmp:?}");
    }
}
