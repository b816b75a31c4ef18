//! The local per-package cache: which content objects a package's files became.
//!
//! Stored as `REPO/extensions/jigdo/packages/<package-id-hex>`, one text file per package
//! (staged in the transaction that writes the objects, renamed into place at its commit
//! after the flush, [`ostree_store::Transaction::stage_file`]). Each line maps (path in the package, uid,
//! gid, mode, xattrs) to the content checksum computed when the package was imported:
//!
//! ```text
//! jigdo-unpack package cache v1
//! <checksum-hex> <uid> <gid> <mode-octal> <xattrs: hex of the a(ayay) GVariant, or -> <path>
//! ```
//!
//! This is local state, not part of the format (specs/jigdo-format.md §4): a missing or
//! damaged cache only costs a re-read of the package. Every checksum taken from it is
//! used only if the object is present in the repository, and the rebuilt commit's
//! checksum covers the whole tree, so a wrong entry cannot produce a wrong commit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ostree_store::{gvariant, Checksum, Transaction};

use crate::error::{IoContext, Result};

const MAGIC_LINE: &str = "jigdo-unpack package cache v1";

/// A content object made from one package file: the file's path in the package and the
/// object's uid, gid, mode and xattrs (names NUL-terminated, as OSTree stores them).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    /// Path of the file in the package (`/usr/bin/bash`).
    pub path: String,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Full `st_mode`.
    pub mode: u32,
    /// Extended attributes (name with trailing NUL, value).
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The cache of one package (see the module docs).
#[derive(Debug, Default)]
pub struct PackageCache {
    file: PathBuf,
    /// By path in the package: the objects made from that file (usually one), so that a
    /// lookup needs no [`ObjectKey`] built (a path and xattrs allocated) per file.
    entries: HashMap<String, Vec<Cached>>,
    len: usize,
    dirty: bool,
}

/// One object of a [`PackageCache`]: the metadata it was made with and its checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cached {
    uid: u32,
    gid: u32,
    mode: u32,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    sum: Checksum,
}

/// The directory holding every package cache of the repository at `repo`.
pub fn cache_dir(repo: &Path) -> PathBuf {
    repo.join("extensions/jigdo/packages")
}

impl PackageCache {
    /// Loads the cache of package `id` in the repository at `repo`; a missing cache is
    /// empty, and unreadable lines are ignored (they only cost a re-read).
    pub fn load(repo: &Path, id: &[u8; 32]) -> Self {
        let file = cache_dir(repo).join(hex::encode(id));
        let mut cache = PackageCache {
            file,
            ..Default::default()
        };
        let Ok(text) = std::fs::read_to_string(&cache.file) else {
            return cache;
        };
        let mut lines = text.lines();
        if lines.next() != Some(MAGIC_LINE) {
            return cache;
        }
        for line in lines {
            if let Some((path, c)) = parse_line(line) {
                cache.put(path, c);
            }
        }
        cache.dirty = false;
        cache
    }

    /// The checksum recorded for `key`.
    pub fn get(&self, key: &ObjectKey) -> Option<Checksum> {
        self.get_parts(&key.path, key.uid, key.gid, key.mode, &key.xattrs)
    }

    /// The checksum recorded for the [`ObjectKey`] of these parts (nothing allocated).
    pub fn get_parts(
        &self,
        path: &str,
        uid: u32,
        gid: u32,
        mode: u32,
        xattrs: &[(Vec<u8>, Vec<u8>)],
    ) -> Option<Checksum> {
        self.entries
            .get(path)?
            .iter()
            .find(|c| c.uid == uid && c.gid == gid && c.mode == mode && c.xattrs == xattrs)
            .map(|c| c.sum)
    }

    /// Records that `key` became the content object `sum`.
    pub fn insert(&mut self, key: ObjectKey, sum: Checksum) {
        if key.path.contains('\n') {
            return; // not representable in the line format; costs a re-read only
        }
        let c = Cached {
            uid: key.uid,
            gid: key.gid,
            mode: key.mode,
            xattrs: key.xattrs,
            sum,
        };
        self.put(key.path, c);
    }

    /// Puts `c` in for `path`, replacing the entry of the same metadata; marks the
    /// cache changed if it was not there as it is.
    fn put(&mut self, path: String, c: Cached) {
        let list = self.entries.entry(path).or_default();
        match list
            .iter_mut()
            .find(|o| o.uid == c.uid && o.gid == c.gid && o.mode == c.mode && o.xattrs == c.xattrs)
        {
            Some(o) if o.sum == c.sum => {}
            Some(o) => {
                o.sum = c.sum;
                self.dirty = true;
            }
            None => {
                list.push(c);
                self.len += 1;
                self.dirty = true;
            }
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the cache has no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stages the cache in `tx` if it changed since it was loaded: it replaces the
    /// stored one when `tx` commits, after the flush that makes `tx`'s objects durable
    /// (no flush of its own, and never torn by a crash).
    pub fn stage(&mut self, tx: &Transaction<'_>) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let mut lines: Vec<String> = self
            .entries
            .iter()
            .flat_map(|(path, list)| list.iter().map(move |k| (path, k)))
            .map(|(path, k)| {
                let x = if k.xattrs.is_empty() {
                    "-".to_string()
                } else {
                    hex::encode(gvariant::write_xattrs(&k.xattrs))
                };
                format!("{} {} {} {:o} {x} {path}", k.sum, k.uid, k.gid, k.mode)
            })
            .collect();
        lines.sort();
        let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum::<usize>() + 40);
        text.push_str(MAGIC_LINE);
        text.push('\n');
        for l in lines {
            text.push_str(&l);
            text.push('\n');
        }
        if let Some(dir) = self.file.parent() {
            std::fs::create_dir_all(dir).at(dir)?;
        }
        tx.stage_file(&self.file, text.as_bytes())?;
        self.dirty = false;
        Ok(())
    }
}

fn parse_line(line: &str) -> Option<(String, Cached)> {
    let mut it = line.splitn(6, ' ');
    let sum: Checksum = it.next()?.parse().ok()?;
    let uid = it.next()?.parse().ok()?;
    let gid = it.next()?.parse().ok()?;
    let mode = u32::from_str_radix(it.next()?, 8).ok()?;
    let xattrs = match it.next()? {
        "-" => Vec::new(),
        h => gvariant::read_xattrs(&hex::decode(h).ok()?).ok()?,
    };
    let path = it.next()?.to_string();
    Some((
        path,
        Cached {
            uid,
            gid,
            mode,
            xattrs,
            sum,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let repo = ostree_store::Repo::init(dir.path(), ostree_store::RepoMode::BareUser).unwrap();
        let id = [3u8; 32];
        let mut c = PackageCache::load(repo.path(), &id);
        assert!(c.is_empty());
        let k1 = ObjectKey {
            path: "/usr/share/doc/a file with spaces".into(),
            uid: 0,
            gid: 0,
            mode: 0o100644,
            xattrs: vec![],
        };
        let k2 = ObjectKey {
            path: "/usr/bin/ping".into(),
            uid: 0,
            gid: 0,
            mode: 0o100755,
            xattrs: vec![(b"security.capability\0".to_vec(), vec![1, 0, 0, 2, 0x20])],
        };
        let s1 = Checksum([1; 32]);
        let s2 = Checksum([2; 32]);
        c.insert(k1.clone(), s1);
        c.insert(k2.clone(), s2);
        let tx = repo.transaction().unwrap();
        c.stage(&tx).unwrap();
        // Not in place before the transaction commits.
        assert!(PackageCache::load(repo.path(), &id).is_empty());
        tx.commit().unwrap();
        let c = PackageCache::load(repo.path(), &id);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(&k1), Some(s1));
        assert_eq!(c.get(&k2), Some(s2));
        let mut k3 = k2.clone();
        k3.mode = 0o100700;
        assert_eq!(c.get(&k3), None);
        // Another object of the same path (other metadata) is kept beside the first.
        let mut c = c;
        c.insert(k3.clone(), s1);
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(&k3), Some(s1));
        assert_eq!(c.get(&k2), Some(s2));
        assert_eq!(
            c.get_parts(&k2.path, k2.uid, k2.gid, k2.mode, &k2.xattrs),
            Some(s2)
        );
        // The same again changes nothing; a new checksum replaces the old.
        c.insert(k3.clone(), s1);
        assert_eq!(c.len(), 3);
        c.insert(k3.clone(), s2);
        assert_eq!((c.len(), c.get(&k3)), (3, Some(s2)));
        let tx = repo.transaction().unwrap();
        c.stage(&tx).unwrap();
        tx.commit().unwrap();
        let c = PackageCache::load(repo.path(), &id);
        assert_eq!((c.len(), c.get(&k3), c.get(&k1)), (3, Some(s2), Some(s1)));
    }

    #[test]
    fn damaged_cache_is_ignored_line_by_line() {
        let repo = tempfile::tempdir().unwrap();
        let id = [4u8; 32];
        let dir = cache_dir(repo.path());
        std::fs::create_dir_all(&dir).unwrap();
        let good = format!("{} 0 0 100644 - /etc/ok", Checksum([9; 32]));
        std::fs::write(
            dir.join(hex::encode(id)),
            format!("{MAGIC_LINE}\ngarbage line\n{good}\nzz 1 2\n"),
        )
        .unwrap();
        let c = PackageCache::load(repo.path(), &id);
        assert_eq!(c.len(), 1);
        std::fs::write(dir.join(hex::encode(id)), "other format\n").unwrap();
        assert!(PackageCache::load(repo.path(), &id).is_empty());
    }
}
