//! osbuild-composer commit archives: a tar holding `repo/` (an archive-mode
//! OSTree repository) and `compose.json`.
//!
//! [`CommitArchive::open`] reads the repository straight out of the tar
//! (uncompressed, as osbuild-composer ships it): one pass indexes where each
//! member's data lies, and objects are then read with positioned reads; nothing
//! is written to disk. [`CommitArchive::open_in`] instead unpacks `repo/` into
//! a temporary directory that is removed when the [`CommitArchive`] is dropped
//! (also on errors and panics). Either way, entries with absolute paths or
//! `..` components, and links or special files under `repo/`, are refused, so
//! nothing is ever written outside the temporary directory.

use std::fs::File;
use std::io::Read;
use std::path::Path;

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

/// An opened commit archive (read in place, or unpacked into a temporary
/// directory that lives as long as this value).
pub struct CommitArchive {
    dir: Option<tempfile::TempDir>,
    repo: Repo,
    compose: Option<ComposeInfo>,
}

use crate::tarstore::{safe_relative, TarIndex};

fn json_string(v: &serde_json::Value, key: &str) -> Option<String> {
    v.get(key)?.as_str().map(str::to_string)
}

fn parse_compose(text: Option<String>, tar_path: &Path) -> Result<Option<ComposeInfo>> {
    let Some(raw) = text else {
        return Ok(None);
    };
    let v: serde_json::Value = serde_json::from_str(&raw).map_err(|e| {
        Error::Invalid(format!(
            "{}: compose.json is not JSON: {e}",
            tar_path.display()
        ))
    })?;
    Ok(Some(ComposeInfo {
        ref_name: json_string(&v, "ref"),
        commit: json_string(&v, "ostree-commit").and_then(|s| s.parse().ok()),
        version: json_string(&v, "ostree-version"),
        raw,
    }))
}

impl CommitArchive {
    /// Opens the repository inside an uncompressed tar without unpacking it
    /// (read-only; [`CommitArchive::dir`] is `None`). [`Repo::path`] of the
    /// result is the tar's path.
    pub fn open(tar_path: impl AsRef<Path>) -> Result<Self> {
        let tar_path = tar_path.as_ref();
        let f = File::open(tar_path).at(tar_path)?;
        let bad = |reason: String| Error::Invalid(format!("{}: {reason}", tar_path.display()));
        let scanned = TarIndex::scan(f).map_err(bad)?;
        if !scanned.index.exists(Path::new("config")) {
            return Err(bad(
                "no repo/config inside; not an osbuild commit archive".into()
            ));
        }
        let repo = Repo::open_tar(tar_path.to_path_buf(), scanned.index)?;
        let compose = parse_compose(scanned.compose_json, tar_path)?;
        Ok(CommitArchive {
            dir: None,
            repo,
            compose,
        })
    }

    /// Unpacks `repo/` of the tar into a new temporary directory under
    /// `parent` (removed on drop) and opens it; works for any tar stream.
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
        let compose = parse_compose(compose_text, tar_path)?;
        Ok(CommitArchive {
            dir: Some(dir),
            repo,
            compose,
        })
    }

    /// The repository inside the archive.
    pub fn repo(&self) -> &Repo {
        &self.repo
    }

    /// What `compose.json` says, if the archive has one.
    pub fn compose(&self) -> Option<&ComposeInfo> {
        self.compose.as_ref()
    }

    /// The temporary directory (removed on drop), if the archive was unpacked.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(|d| d.path())
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
    use std::path::PathBuf;

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
