//! osbuild-composer commit archives: a tar holding `repo/` (an archive-mode
//! OSTree repository) and `compose.json`.
//!
//! The tar is unpacked into a temporary directory that is removed when the
//! [`CommitArchive`] is dropped (also on errors and panics). Reading objects
//! straight from the tar is not done: OSTree reads objects by name in any
//! order, which a sequential tar stream cannot serve without unpacking or
//! indexing it. Only `repo/…` and `compose.json` entries are unpacked; entries
//! with absolute paths or `..` components, and links, are refused, so nothing
//! is ever written outside the temporary directory.

use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::checksum::Checksum;
use crate::error::{Error, IoContext, Result};
use crate::repo::Repo;

/// The parts of `compose.json` we use.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ComposeInfo {
    /// `ref`: the branch the commit was made on.
    pub ref_name: Option<String>,
    /// `ostree-commit`: the commit checksum.
    pub commit: Option<Checksum>,
    /// `ostree-version`, if set.
    pub version: Option<String>,
    /// The whole document as text.
    pub raw: String,
}

/// An unpacked commit archive; the temporary directory lives as long as this.
pub struct CommitArchive {
    dir: tempfile::TempDir,
    repo: Repo,
    compose: Option<ComposeInfo>,
}

fn safe_relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

fn json_string(v: &serde_json::Value, key: &str) -> Option<String> {
    v.get(key)?.as_str().map(str::to_string)
}

impl CommitArchive {
    /// Unpacks `tar_path` into a new temporary directory under the system
    /// temporary directory and opens its `repo/`.
    pub fn open(tar_path: impl AsRef<Path>) -> Result<Self> {
        Self::open_in(tar_path, std::env::temp_dir())
    }

    /// Like [`CommitArchive::open`] with the temporary directory under `parent`.
    pub fn open_in(tar_path: impl AsRef<Path>, parent: impl AsRef<Path>) -> Result<Self> {
        let tar_path = tar_path.as_ref();
        let f = File::open(tar_path).at(tar_path)?;
        Self::from_reader(f, tar_path, parent.as_ref())
    }

    fn from_reader(r: impl Read, tar_path: &Path, parent: &Path) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("jigdo-commit-archive-")
            .tempdir_in(parent)
            .at(parent)?;
        let bad = |reason: String| Error::Invalid(format!("{}: {reason}", tar_path.display()));
        let mut ar = tar::Archive::new(r);
        ar.set_preserve_permissions(false);
        ar.set_unpack_xattrs(false);
        let mut compose_text = None;
        for entry in ar
            .entries()
            .map_err(|e| bad(format!("not a tar archive: {e}")))?
        {
            let mut entry = entry.map_err(|e| bad(format!("reading tar: {e}")))?;
            let raw_path = entry
                .path()
                .map_err(|e| bad(format!("bad entry name: {e}")))?
                .into_owned();
            let rel = safe_relative(&raw_path)
                .ok_or_else(|| bad(format!("unsafe entry name {}", raw_path.display())))?;
            let top = rel.components().next().map(|c| c.as_os_str().to_owned());
            let is_compose = rel == Path::new("compose.json");
            if !(is_compose || top.as_deref() == Some(std::ffi::OsStr::new("repo"))) {
                continue;
            }
            let kind = entry.header().entry_type();
            if is_compose {
                let mut s = String::new();
                entry
                    .take(16 * 1024 * 1024)
                    .read_to_string(&mut s)
                    .map_err(|e| bad(format!("compose.json: {e}")))?;
                compose_text = Some(s);
                continue;
            }
            if !(kind.is_file() || kind.is_dir()) {
                return Err(bad(format!(
                    "entry {} is a link or special file; refused",
                    raw_path.display()
                )));
            }
            let dest = dir.path().join(&rel);
            if kind.is_dir() {
                std::fs::create_dir_all(&dest).at(&dest)?;
                continue;
            }
            if let Some(p) = dest.parent() {
                std::fs::create_dir_all(p).at(p)?;
            }
            let mut out = File::create(&dest).at(&dest)?;
            std::io::copy(&mut entry, &mut out).at(&dest)?;
        }
        let repo_dir = dir.path().join("repo");
        if !repo_dir.join("config").is_file() {
            return Err(bad(
                "no repo/config inside; not an osbuild commit archive".into()
            ));
        }
        let repo = Repo::open(&repo_dir)?;
        let compose = match compose_text {
            None => None,
            Some(raw) => {
                let v: serde_json::Value = serde_json::from_str(&raw)
                    .map_err(|e| bad(format!("compose.json is not JSON: {e}")))?;
                Some(ComposeInfo {
                    ref_name: json_string(&v, "ref"),
                    commit: json_string(&v, "ostree-commit").and_then(|s| s.parse().ok()),
                    version: json_string(&v, "ostree-version"),
                    raw,
                })
            }
        };
        Ok(CommitArchive { dir, repo, compose })
    }

    /// The repository inside the archive.
    pub fn repo(&self) -> &Repo {
        &self.repo
    }

    /// What `compose.json` says, if the archive has one.
    pub fn compose(&self) -> Option<&ComposeInfo> {
        self.compose.as_ref()
    }

    /// The temporary directory (removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The commit the archive carries: `compose.json`'s `ostree-commit`, else
    /// its `ref`, else the only ref in the repository.
    pub fn commit(&self) -> Result<Checksum> {
        if let Some(c) = self.compose.as_ref().and_then(|c| c.commit) {
            return Ok(c);
        }
        if let Some(r) = self.compose.as_ref().and_then(|c| c.ref_name.as_deref()) {
            return self.repo.resolve_rev(r);
        }
        let refs = self.repo.list_refs()?;
        match refs.as_slice() {
            [one] => Ok(one.checksum),
            _ => Err(Error::Invalid(format!(
                "commit archive has {} refs and no compose.json to choose one",
                refs.len()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names() {
        assert!(safe_relative(Path::new("../x")).is_none());
        assert!(safe_relative(Path::new("/etc/passwd")).is_none());
        assert_eq!(
            safe_relative(Path::new("./repo/config")),
            Some(PathBuf::from("repo/config"))
        );
    }
}
