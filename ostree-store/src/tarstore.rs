//! Read-only access to an archive-mode repository stored inside an
//! uncompressed tar file, without unpacking it: one pass records where each
//! member's data lies, then reads use positioned reads (`pread`) on the tar,
//! so many threads can read objects at once.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// Index of the regular files under one directory (`prefix`) of a tar.
#[derive(Debug)]
pub(crate) struct TarIndex {
    file: Arc<File>,
    /// Path relative to the repository root (`objects/ab/….commit`) →
    /// (offset of the data in the tar, size).
    entries: HashMap<String, (u64, u64)>,
}

/// Normalizes a tar member name: relative, no `..`, no absolute parts.
pub(crate) fn safe_relative(path: &Path) -> Option<PathBuf> {
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

/// What one pass over a commit tar found.
pub(crate) struct Scanned {
    pub index: TarIndex,
    pub compose_json: Option<String>,
}

impl TarIndex {
    /// Scans `file` (an uncompressed tar), indexing regular files under
    /// `repo/` and reading `compose.json`. Unsafe names, links and special
    /// files under `repo/` are refused.
    pub(crate) fn scan(file: File) -> Result<Scanned, String> {
        let file = Arc::new(file);
        let mut entries = HashMap::new();
        let mut compose_json = None;
        let mut ar = tar::Archive::new(&*file);
        for entry in ar
            .entries()
            .map_err(|e| format!("not a tar archive: {e}"))?
        {
            let mut entry = entry.map_err(|e| format!("reading tar: {e}"))?;
            let raw = entry
                .path()
                .map_err(|e| format!("bad entry name: {e}"))?
                .into_owned();
            let rel = safe_relative(&raw)
                .ok_or_else(|| format!("unsafe entry name {}", raw.display()))?;
            if rel == Path::new("compose.json") {
                let mut s = String::new();
                (&mut entry)
                    .take(16 * 1024 * 1024)
                    .read_to_string(&mut s)
                    .map_err(|e| format!("compose.json: {e}"))?;
                compose_json = Some(s);
                continue;
            }
            let Ok(inner) = rel.strip_prefix("repo") else {
                continue;
            };
            let kind = entry.header().entry_type();
            if kind.is_dir() {
                continue;
            }
            if !kind.is_file() {
                return Err(format!(
                    "entry {} is a link or special file; refused",
                    raw.display()
                ));
            }
            let name = inner
                .to_str()
                .ok_or_else(|| format!("entry name {} is not UTF-8", raw.display()))?
                .to_string();
            entries.insert(name, (entry.raw_file_position(), entry.size()));
        }
        Ok(Scanned {
            index: TarIndex { file, entries },
            compose_json,
        })
    }

    fn key(rel: &Path) -> Option<&str> {
        rel.to_str()
    }

    /// Whether a regular file exists at `rel`.
    pub(crate) fn exists(&self, rel: &Path) -> bool {
        Self::key(rel).is_some_and(|k| self.entries.contains_key(k))
    }

    /// Opens the member at `rel` as a stream.
    pub(crate) fn open(&self, rel: &Path) -> io::Result<TarMember> {
        let (offset, size) = Self::key(rel)
            .and_then(|k| self.entries.get(k))
            .copied()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "not in the tar"))?;
        Ok(TarMember {
            file: self.file.clone(),
            pos: offset,
            end: offset + size,
        })
    }

    /// Reads the whole member at `rel` (for small files).
    pub(crate) fn read(&self, rel: &Path) -> io::Result<Vec<u8>> {
        let mut m = self.open(rel)?;
        let mut v = Vec::with_capacity((m.end - m.pos) as usize);
        m.read_to_end(&mut v)?;
        Ok(v)
    }

    /// Immediate children of directory `rel`: (name, is_dir), sorted.
    pub(crate) fn list_dir(&self, rel: &Path) -> Vec<(String, bool)> {
        let mut prefix = Self::key(rel).unwrap_or("").to_string();
        if !prefix.is_empty() {
            prefix.push('/');
        }
        let mut out: Vec<(String, bool)> = self
            .entries
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .map(|rest| match rest.split_once('/') {
                Some((dir, _)) => (dir.to_string(), true),
                None => (rest.to_string(), false),
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// A stream over one tar member's data.
pub struct TarMember {
    file: Arc<File>,
    pos: u64,
    end: u64,
}

impl TarMember {
    /// The number of bytes left to read.
    pub fn len(&self) -> u64 {
        self.end - self.pos
    }

    /// Whether nothing is left to read.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Read for TarMember {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (buf.len() as u64).min(self.end - self.pos) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "tar file ends inside a member",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}
