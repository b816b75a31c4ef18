//! Writing objects, detached metadata and refs.
//!
//! Like libostree, objects are written inside a *transaction*: each object is
//! streamed into a temporary file inside a locked staging directory
//! `tmp/staging-<boot-id>-XXXXXX/` (lock file `…-lock`, OFD lock), renamed to
//! its staged name once its checksum is known, and only when the transaction
//! commits are the staged objects flushed (`syncfs`, unless `core.fsync=false`;
//! with `core.per-object-fsync=true` each object is fsynced as it is written,
//! as libostree does) and renamed into `objects/`, whose directories are then
//! fsynced. A crash
//! therefore never leaves a half-written object in `objects/`. The
//! transaction holds the shared repository lock, as libostree's does.
//! Writing a commit object marks it partial (`state/<commit>.commitpartial`)
//! before it becomes visible; the mark is cleared at transaction commit once
//! everything the commit reaches is present. Refs are written last, by
//! temp file + rename.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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

/// Objects at least this big have their writeback started as soon as they are written.
const WRITEBACK_MIN: u64 = 64 * 1024;

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

impl ObjectTmp {
    fn new(dir: &Path) -> Result<ObjectTmp> {
        use std::os::unix::fs::OpenOptionsExt;
        match fs::OpenOptions::new()
            .read(true)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_TMPFILE | libc::O_CLOEXEC)
            .open(dir)
        {
            Ok(file) => Ok(ObjectTmp {
                file,
                named: None,
                label: dir.to_path_buf(),
            }),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL | libc::ENOENT)
                ) && dir.is_dir() =>
            {
                ObjectTmp::named(dir)
            }
            Err(e) => Err(Error::Io {
                path: dir.to_path_buf(),
                error: e,
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

    /// Gives the file the name `dest`. `Ok(false)` when `dest` already exists (another
    /// writer staged the same object; the contents are equal by checksum).
    fn place(self, dest: &Path) -> Result<bool> {
        match self.named {
            Some(named) => {
                named.persist(dest).map_err(|e| Error::Io {
                    path: dest.to_path_buf(),
                    error: e.error,
                })?;
                Ok(true)
            }
            None => {
                let proc_path = format!("/proc/self/fd/{}\0", self.file.as_raw_fd());
                let dest_c = std::ffi::CString::new(dest.as_os_str().as_encoded_bytes())
                    .map_err(|_| Error::Invalid(format!("{} contains NUL", dest.display())))?;
                // SAFETY: both paths are NUL-terminated and live across the call.
                let rc = unsafe {
                    libc::linkat(
                        libc::AT_FDCWD,
                        proc_path.as_ptr().cast(),
                        libc::AT_FDCWD,
                        dest_c.as_ptr(),
                        libc::AT_SYMLINK_FOLLOW,
                    )
                };
                if rc == 0 {
                    return Ok(true);
                }
                let error = io::Error::last_os_error();
                if error.raw_os_error() == Some(libc::EEXIST) {
                    return Ok(false);
                }
                Err(Error::Io {
                    path: dest.to_path_buf(),
                    error,
                })
            }
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
    staging_lock_path: PathBuf,
    staged: Mutex<Vec<(PathBuf, PathBuf)>>,
    /// Which `staging/XX` subdirectories exist already (by first checksum byte).
    staging_dirs: [std::sync::atomic::AtomicBool; 256],
    commits: Mutex<Vec<Checksum>>,
    fsync: bool,
    per_object_fsync: bool,
    finished: bool,
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
        Ok(Transaction {
            repo: self,
            _repo_lock: repo_lock,
            _staging_lock: Some(staging_lock),
            staging: dir,
            staging_lock_path,
            staged: Mutex::new(Vec::new()),
            staging_dirs: std::array::from_fn(|_| std::sync::atomic::AtomicBool::new(false)),
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

    /// `staging/XX` for checksum `c`, created on first use.
    fn staging_subdir(&self, c: &Checksum) -> Result<PathBuf> {
        let hex = c.to_hex();
        let sub = self.staging.join(&hex[..2]);
        let flag = &self.staging_dirs[c.0[0] as usize];
        if flag.load(std::sync::atomic::Ordering::Acquire) {
            return Ok(sub);
        }
        match fs::create_dir(&sub) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(Error::Io {
                    path: sub,
                    error: e,
                })
            }
        }
        flag.store(true, std::sync::atomic::Ordering::Release);
        Ok(sub)
    }

    fn stage(&self, tmp: ObjectTmp, objtype: ObjectType, c: &Checksum) -> Result<()> {
        let hex = c.to_hex();
        let ext = objtype.extension(self.repo.mode().is_archive());
        let sub = self.staging_subdir(c)?;
        let staged = sub.join(format!("{}.{ext}", &hex[2..]));
        if !tmp.place(&staged)? {
            return Ok(());
        }
        let dest = self.repo.loose_path(objtype, c);
        self.staged
            .lock()
            .map_err(|_| Error::Invalid("transaction state poisoned".into()))?
            .push((staged, dest));
        Ok(())
    }

    /// Streams a content object into the repository and returns its checksum.
    /// `content` is ignored for symlinks. Memory use is bounded by a buffer.
    pub fn write_content(&self, header: &FileHeader, content: impl Read) -> Result<Checksum> {
        self.write_content_impl(None, header, content)
    }

    /// Like [`Transaction::write_content`], but fails without storing
    /// anything unless the object's checksum is `expected`.
    pub fn write_content_with_checksum(
        &self,
        expected: &Checksum,
        header: &FileHeader,
        content: impl Read,
    ) -> Result<Checksum> {
        self.write_content_impl(Some(expected), header, content)
    }

    fn write_content_impl(
        &self,
        expected: Option<&Checksum>,
        header: &FileHeader,
        mut content: impl Read,
    ) -> Result<Checksum> {
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
        let mut hasher = ContentHasher::new(header);
        let ObjectTmp { file, named, label } = ObjectTmp::new(&self.staging)?;
        let tmp_path = label.clone();
        let io_err = |e: io::Error| Error::Io {
            path: tmp_path.clone(),
            error: e,
        };
        let mut symlink_tmp: Option<PathBuf> = None;

        if header.is_symlink() {
            match mode {
                RepoMode::Archive => {
                    (&file)
                        .write_all(&header.encode_archive_header(0))
                        .map_err(io_err)?;
                }
                RepoMode::BareUser => {
                    // Target plus terminating NUL, as libostree writes it.
                    (&file)
                        .write_all(header.symlink_target.as_bytes())
                        .and_then(|_| (&file).write_all(&[0]))
                        .map_err(io_err)?;
                    xattr::FileExt::set_xattr(
                        &file,
                        "user.ostreemeta",
                        &header.encode_bareuser_meta(),
                    )
                    .map_err(io_err)?;
                    file.set_permissions(fs::Permissions::from_mode(0o644))
                        .map_err(io_err)?;
                }
                RepoMode::Bare | RepoMode::BareUserOnly => {
                    // A real symlink, created beside the temp file.
                    let seq = LINK_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let link = self
                        .staging
                        .join(format!("link-{}-{seq}", std::process::id()));
                    std::os::unix::fs::symlink(&header.symlink_target, &link).at(link.clone())?;
                    if mode == RepoMode::Bare {
                        std::os::unix::fs::lchown(&link, Some(header.uid), Some(header.gid))
                            .at(link.clone())?;
                        for (k, v) in &header.xattrs {
                            xattr::set(&link, xattr_name(k), v).at(link.clone())?;
                        }
                    }
                    symlink_tmp = Some(link);
                }
                RepoMode::BareSplitXattrs => {
                    return Err(Error::Unsupported(
                        "writing to bare-split-xattrs repositories is not supported".into(),
                    ))
                }
            }
        } else if mode == RepoMode::Archive {
            (&file)
                .write_all(&header.encode_archive_header(0))
                .map_err(io_err)?;
            let mut enc =
                DeflateEncoder::new(BufWriter::with_capacity(BUF, &file), Compression::new(6));
            copy_hashed(&mut content, &mut hasher, &mut enc).map_err(|e| e.at(io_err))?;
            enc.finish().and_then(|mut w| w.flush()).map_err(io_err)?;
            // Patch the uncompressed size into the header (`t` at offset 8).
            file.write_all_at(&hasher.content_len().to_be_bytes(), 8)
                .map_err(io_err)?;
            file.set_permissions(fs::Permissions::from_mode(0o644))
                .map_err(io_err)?;
        } else {
            let mut w = BufWriter::with_capacity(BUF, &file);
            copy_hashed(&mut content, &mut hasher, &mut w).map_err(|e| e.at(io_err))?;
            w.flush().map_err(io_err)?;
            drop(w);
            match mode {
                RepoMode::Bare => {
                    std::os::unix::fs::fchown(&file, Some(header.uid), Some(header.gid))
                        .map_err(io_err)?;
                    file.set_permissions(fs::Permissions::from_mode(header.mode & 0o7777))
                        .map_err(io_err)?;
                    for (k, v) in &header.xattrs {
                        xattr::FileExt::set_xattr(&file, xattr_name(k), v).map_err(io_err)?;
                    }
                }
                RepoMode::BareUser => {
                    xattr::FileExt::set_xattr(
                        &file,
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
            set_mtime_zero(&file).map_err(io_err)?;
        }
        if self.per_object_fsync && symlink_tmp.is_none() {
            file.sync_all().map_err(io_err)?;
        } else if self.fsync && symlink_tmp.is_none() && hasher.content_len() >= WRITEBACK_MIN {
            // Start writing the data back now, without waiting, so that the syncfs at
            // commit finds most of it on disk already (I/O overlaps the CPU work).
            // SAFETY: plain syscall on an open descriptor.
            unsafe {
                libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
            }
        }
        let actual = hasher.finish();
        let cleanup = |l: &Option<PathBuf>| {
            if let Some(l) = l {
                let _ = fs::remove_file(l);
            }
        };
        if let Some(exp) = expected {
            if *exp != actual {
                cleanup(&symlink_tmp);
                return Err(Error::WrongContent {
                    expected: *exp,
                    actual,
                });
            }
        }
        if self.repo.has_object(ObjectType::File, &actual) {
            cleanup(&symlink_tmp);
            return Ok(actual);
        }
        match symlink_tmp {
            Some(link) => {
                // Stage the symlink itself: rename it over the staged name.
                let hex = actual.to_hex();
                let sub = self.staging_subdir(&actual)?;
                let staged = sub.join(format!("{}.file", &hex[2..]));
                if !rename_noreplace(&link, &staged)? {
                    // Staged already by another writer.
                    let _ = fs::remove_file(&link);
                    return Ok(actual);
                }
                self.staged
                    .lock()
                    .map_err(|_| Error::Invalid("transaction state poisoned".into()))?
                    .push((staged, self.repo.loose_path(ObjectType::File, &actual)));
            }
            None => self.stage(ObjectTmp { file, named, label }, ObjectType::File, &actual)?,
        }
        Ok(actual)
    }

    /// Writes a metadata object (validated) and returns its checksum.
    /// Writing a commit marks it partial until [`Transaction::commit`]
    /// finds everything it reaches present.
    pub fn write_metadata(&self, objtype: ObjectType, bytes: &[u8]) -> Result<Checksum> {
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
            self.commits
                .lock()
                .map_err(|_| Error::Invalid("transaction state poisoned".into()))?
                .push(c);
        }
        if self.repo.has_object(objtype, &c) {
            return Ok(c);
        }
        let tmp = ObjectTmp::new(&self.staging)?;
        (&tmp.file).write_all(bytes).at(tmp.label.clone())?;
        tmp.file
            .set_permissions(fs::Permissions::from_mode(0o644))
            .at(tmp.label.clone())?;
        if self.per_object_fsync {
            tmp.file.sync_all().at(tmp.label.clone())?;
        }
        self.stage(tmp, objtype, &c)?;
        Ok(c)
    }

    /// Makes all staged objects durable and visible in `objects/`, then
    /// clears the partial mark of each commit written whose objects are all
    /// present. Refs are not touched: set them afterwards.
    pub fn commit(mut self) -> Result<()> {
        let staged = std::mem::take(
            &mut *self
                .staged
                .lock()
                .map_err(|_| Error::Invalid("transaction state poisoned".into()))?,
        );
        if self.fsync && !staged.is_empty() {
            let d = File::open(&self.staging).at(&self.staging)?;
            // SAFETY: syncfs on an open directory fd.
            if unsafe { libc::syncfs(d.as_raw_fd()) } != 0 {
                return Err(Error::Io {
                    path: self.staging.clone(),
                    error: io::Error::last_os_error(),
                });
            }
        }
        // Renamed into place directory by directory, directories in parallel (a rename
        // locks both directories, so different ones do not wait for each other).
        let mut by_dir: std::collections::BTreeMap<PathBuf, Vec<(PathBuf, PathBuf)>> =
            std::collections::BTreeMap::new();
        for (from, to) in staged {
            let dir = to.parent().unwrap_or(self.repo.path()).to_path_buf();
            by_dir.entry(dir).or_default().push((from, to));
        }
        let fsync = self.fsync;
        by_dir
            .into_par_iter()
            .try_for_each(|(dir, moves)| -> Result<()> {
                match fs::create_dir(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => {
                        return Err(Error::Io {
                            path: dir.to_path_buf(),
                            error: e,
                        })
                    }
                }
                for (from, to) in &moves {
                    if !rename_noreplace(from, to)? {
                        // Present already (written meanwhile by another writer).
                        let _ = fs::remove_file(from);
                    }
                }
                if fsync {
                    fsync_dir(&dir)?;
                }
                Ok(())
            })?;
        if self.fsync {
            fsync_dir(&self.repo.path().join("objects"))?;
        }
        let commits = std::mem::take(
            &mut *self
                .commits
                .lock()
                .map_err(|_| Error::Invalid("transaction state poisoned".into()))?,
        );
        for c in commits {
            if self.repo.is_commit_complete(&c) {
                self.repo.mark_commit_partial(&c, false)?;
            }
        }
        self.cleanup();
        self.finished = true;
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

/// Why [`copy_hashed`] failed: reading the content, or writing the object.
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

/// Copies `content` to `out`, feeding every byte to `hasher` on the way.
fn copy_hashed(
    content: &mut dyn Read,
    hasher: &mut ContentHasher,
    out: &mut dyn Write,
) -> std::result::Result<(), CopyError> {
    let mut buf = vec![0u8; BUF];
    loop {
        let n = match content.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(CopyError::Write)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_tmp_places_anonymous_and_named_files() {
        let dir = tempfile::tempdir().unwrap();
        for (i, make) in [ObjectTmp::new, ObjectTmp::named].into_iter().enumerate() {
            let dest = dir.path().join(format!("obj-{i}"));
            let t = make(dir.path()).unwrap();
            (&t.file).write_all(b"first").unwrap();
            assert!(t.place(&dest).unwrap());
            assert_eq!(fs::read(&dest).unwrap(), b"first");
            // A second writer of the same object: the anonymous file reports the name
            // as taken and leaves it alone; a named one replaces it (same checksum).
            let t = make(dir.path()).unwrap();
            (&t.file).write_all(b"first").unwrap();
            let placed = t.place(&dest).unwrap();
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
}
