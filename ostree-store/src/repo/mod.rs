//! OSTree repositories on disk: open/init and locking here; the `config` file and
//! modes ([`config`](self::config)), refs ([`refs`](self::refs)), rev-parse
//! ([`revparse`](self::revparse)), reading objects (verified) and streaming file content
//! ([`read`](self::read)), traversal ([`traverse`](self::traverse)).

mod config;
mod read;
mod refs;
mod revparse;
mod traverse;

pub use config::{Config, ConfigSyntax, RepoMode, UnknownMode};
pub use read::{ArchiveContent, ContentReader};
pub use refs::{read_ref_file, validate_ref_name, RefEntry, RefKind};
pub use traverse::{Reachable, Traversal};

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use flate2::bufread::DeflateDecoder;
use rayon::prelude::*;

use crate::checksum::{Checksum, ObjectType};
use crate::error::{Error, IoContext, Result};
use crate::lock::{lock_repo, LockGuard, LockKind};
use crate::objects::{validate_metadata, Commit, DirMeta, DirTree, FileHeader};
use crate::tarstore::TarIndex;
use std::sync::Arc;

/// An OSTree repository.
#[derive(Debug)]
pub struct Repo {
    path: PathBuf,
    mode: RepoMode,
    config: Config,
    /// Set when the repository is read straight out of a tar file.
    tar: Option<Arc<TarIndex>>,
}

/// Reads the boot id, as used in libostree's staging directory names.
pub(crate) fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "noboot".to_string())
}

impl Repo {
    /// Opens an existing repository (reads `config` and checks the mode).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let cfg_path = path.join("config");
        let text = fs::read_to_string(&cfg_path).at(&cfg_path)?;
        let repo = Self::from_config(path, &text, None)?;
        let objects = repo.path.join("objects");
        if !objects.is_dir() {
            return Err(Error::Io {
                path: objects,
                error: io::Error::new(io::ErrorKind::NotFound, "not a repository: no objects/"),
            });
        }
        Ok(repo)
    }

    /// A read-only archive-mode repository inside an uncompressed tar
    /// (`path` names the tar; `index` covers its `repo/` directory).
    pub(crate) fn open_tar(path: PathBuf, index: TarIndex) -> Result<Self> {
        let cfg = path.join("repo/config");
        let text = index.read(Path::new("config")).at(&cfg)?;
        let text = String::from_utf8(text).map_err(|_| Error::Config {
            path: cfg.clone(),
            reason: "not UTF-8".into(),
        })?;
        let repo = Self::from_config(path, &text, Some(Arc::new(index)))?;
        if repo.mode != RepoMode::Archive {
            return Err(Error::Unsupported(format!(
                "{}: only archive-mode repositories can be read from a tar, not {}",
                repo.path.display(),
                repo.mode
            )));
        }
        Ok(repo)
    }

    fn from_config(path: PathBuf, text: &str, tar: Option<Arc<TarIndex>>) -> Result<Self> {
        let cfg_path = path.join("config");
        let config = Config::parse(text).map_err(|e| Error::Config {
            path: cfg_path.clone(),
            reason: e.to_string(),
        })?;
        let mode_str = config.get("core", "mode").unwrap_or("bare");
        let mode = RepoMode::parse(mode_str).ok_or_else(|| Error::UnknownMode {
            path: cfg_path.clone(),
            mode: mode_str.to_string(),
        })?;
        if let Some(v) = config.get("core", "repo_version") {
            if v != "1" {
                return Err(Error::Config {
                    path: cfg_path,
                    reason: format!("unsupported repo_version {v}"),
                });
            }
        }
        Ok(Repo {
            path,
            mode,
            config,
            tar,
        })
    }

    /// Whether this repository is read straight from a tar (read-only).
    pub fn is_in_tar(&self) -> bool {
        self.tar.is_some()
    }

    fn rel<'a>(&self, p: &'a Path) -> &'a Path {
        p.strip_prefix(&self.path).unwrap_or(p)
    }

    fn read_small(&self, p: &Path) -> io::Result<Vec<u8>> {
        match &self.tar {
            Some(t) => t.read(self.rel(p)),
            None => fs::read(p),
        }
    }

    fn path_exists(&self, p: &Path) -> bool {
        match &self.tar {
            Some(t) => t.exists(self.rel(p)),
            None => fs::symlink_metadata(p).is_ok(),
        }
    }

    /// Children of a directory: (name, is_dir); empty if it does not exist.
    fn list_dir(&self, dir: &Path) -> Result<Vec<(String, bool)>> {
        if let Some(t) = &self.tar {
            return Ok(t.list_dir(self.rel(dir)));
        }
        let rd = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::Io {
                    path: dir.to_path_buf(),
                    error: e,
                })
            }
        };
        let mut out = Vec::new();
        for ent in rd {
            let ent = ent.at(dir)?;
            let ft = ent.file_type().at(ent.path())?;
            if ft.is_dir() || ft.is_file() {
                out.push((ent.file_name().to_string_lossy().into_owned(), ft.is_dir()));
            }
        }
        out.sort();
        Ok(out)
    }

    pub(crate) fn refuse_tar(&self) -> Result<()> {
        if self.tar.is_some() {
            return Err(Error::Unsupported(format!(
                "{}: repositories inside a tar are read-only",
                self.path.display()
            )));
        }
        Ok(())
    }

    /// Creates a repository in `mode` at `path` (creating the directory), like
    /// `ostree init`. Opening it instead if it already exists with that mode.
    pub fn init(path: impl AsRef<Path>, mode: RepoMode) -> Result<Self> {
        let path = path.as_ref();
        if path.join("config").exists() {
            let repo = Repo::open(path)?;
            if repo.mode != mode {
                return Err(Error::Invalid(format!(
                    "{}: repository exists with mode {}, not {}",
                    path.display(),
                    repo.mode.config_name(),
                    mode.config_name()
                )));
            }
            return Ok(repo);
        }
        if mode == RepoMode::BareSplitXattrs {
            return Err(Error::Unsupported(
                "creating bare-split-xattrs repositories is not supported".into(),
            ));
        }
        for d in [
            "",
            "objects",
            "tmp",
            "tmp/cache",
            "extensions",
            "state",
            "refs",
            "refs/heads",
            "refs/mirrors",
            "refs/remotes",
        ] {
            let p = path.join(d);
            match fs::create_dir(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::Io { path: p, error: e }),
            }
        }
        let text = format!("[core]\nrepo_version=1\nmode={}\n", mode.config_name());
        crate::write::write_file_atomic(&path.join("config"), text.as_bytes(), true)?;
        Repo::open(path)
    }

    /// The repository directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The storage mode.
    pub fn mode(&self) -> RepoMode {
        self.mode
    }

    /// The parsed `config`.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Takes libostree's repository lock (see [`crate::lock`]).
    pub fn lock(&self, kind: LockKind) -> Result<LockGuard> {
        lock_repo(&self.path, kind)
    }
}
