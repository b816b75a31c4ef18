//! The repository lock libostree takes: an open-file-description (OFD) lock on
//! `<repo>/.lock` (whole file; read lock = shared, write lock = exclusive),
//! falling back to `flock(2)` where OFD locks are unavailable (`EINVAL`), as
//! libostree's `do_repo_lock` does. Using the same primitive matters: OFD locks
//! and flock locks do not see each other on Linux.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

use crate::error::{IoContext, Result};

/// Kind of repository lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    /// Taken while writing or reading objects (many holders).
    Shared,
    /// Taken while deleting objects (single holder).
    Exclusive,
}

/// A held lock; released when dropped (closing the file releases it).
#[derive(Debug)]
pub struct LockGuard {
    _file: File,
}

/// Locks `file` (blocking) with an OFD lock, or flock on kernels without OFD locks.
pub(crate) fn lock_fd(file: &File, kind: LockKind, blocking: bool) -> std::io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: zeroed `flock` is a valid value; all fields are then set.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = match kind {
        LockKind::Shared => libc::F_RDLCK,
        LockKind::Exclusive => libc::F_WRLCK,
    } as _;
    fl.l_whence = libc::SEEK_SET as _;
    fl.l_start = 0;
    fl.l_len = 0;
    let cmd = if blocking {
        libc::F_OFD_SETLKW
    } else {
        libc::F_OFD_SETLK
    };
    loop {
        // SAFETY: fd is open for the lifetime of `file`; `fl` is a valid flock.
        let r = unsafe { libc::fcntl(fd, cmd, &fl) };
        if r == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EINVAL) => break,
            _ => return Err(e),
        }
    }
    let mut op = match kind {
        LockKind::Shared => libc::LOCK_SH,
        LockKind::Exclusive => libc::LOCK_EX,
    };
    if !blocking {
        op |= libc::LOCK_NB;
    }
    loop {
        // SAFETY: plain syscall on an open fd.
        let r = unsafe { libc::flock(fd, op) };
        if r == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// Takes the repository lock of the repository at `repo` (blocking).
pub fn lock_repo(repo: &Path, kind: LockKind) -> Result<LockGuard> {
    let path = repo.join(".lock");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .custom_flags(libc::O_CLOEXEC)
        .open(&path)
        .at(&path)?;
    lock_fd(&file, kind, true).at(&path)?;
    Ok(LockGuard { _file: file })
}

/// Takes an exclusive lock on a staging directory's `<dir>-lock` file
/// (non-blocking), as libostree does for its `tmp/staging-*` directories.
pub(crate) fn lock_file_exclusive(path: &Path) -> Result<LockGuard> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .at(path)?;
    lock_fd(&file, LockKind::Exclusive, false).at(path)?;
    Ok(LockGuard { _file: file })
}
