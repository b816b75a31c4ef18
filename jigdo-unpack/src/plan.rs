//! What the tree needs: for each package, which of its files with which metadata; for
//! each new content, which metadata. Also the conversions from index metadata to OSTree
//! headers.

use std::collections::BTreeMap;

use jigdo_format::{Index, NewContent, Source, XattrSet};
use ostree_store::{FileHeader, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};

use crate::cache::ObjectKey;

/// Why an index cannot be planned: it refers to a package, new content or metadata
/// entry it does not have, or a metadata entry does not fit where it is used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InconsistentIndex(pub String);

/// The needs of one tree, grouped by where the bytes come from.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Per package number: path in the package → the metadata entries it is needed with
    /// (sorted, distinct).
    pub package_needs: Vec<BTreeMap<String, Vec<u32>>>,
    /// Per new-content number: the metadata entries it is needed with (sorted, distinct).
    pub new_needs: Vec<Vec<u32>>,
}

impl Plan {
    /// Groups every file of `index` by its source. Fails (with a description) if the
    /// index refers to a package, new content or metadata entry it does not have, or if a
    /// metadata entry's file type does not fit where it is used.
    pub fn new(index: &Index) -> Result<Plan, InconsistentIndex> {
        let mut plan = Plan {
            package_needs: vec![BTreeMap::new(); index.packages.len()],
            new_needs: vec![Vec::new(); index.new_contents.len()],
        };
        let mut fault: Option<String> = None;
        check_dir_metas(index, &index.root, "/").map_err(InconsistentIndex)?;
        index.for_each_file(|path, entry| {
            if fault.is_some() {
                return;
            }
            let Some(meta) = index.metas.get(entry.meta as usize) else {
                fault = Some(format!(
                    "/{path}: metadata entry {} does not exist",
                    entry.meta
                ));
                return;
            };
            let ftype = meta.mode & S_IFMT;
            if ftype != S_IFREG && ftype != S_IFLNK {
                fault = Some(format!(
                    "/{path}: mode {:o} is neither a regular file nor a symlink",
                    meta.mode
                ));
                return;
            }
            if index.xattr_sets.get(meta.xattrs as usize).is_none() {
                fault = Some(format!("/{path}: xattr set {} does not exist", meta.xattrs));
                return;
            }
            let metas = match &entry.source {
                Source::New(n) => match (index.new_contents.get(*n as usize), ftype) {
                    (Some(NewContent::Blob { .. }), S_IFREG)
                    | (Some(NewContent::Symlink { .. }), S_IFLNK) => {
                        &mut plan.new_needs[*n as usize]
                    }
                    (Some(_), _) => {
                        fault = Some(format!(
                            "/{path}: new content {n} is not of the file's type (mode {:o})",
                            meta.mode
                        ));
                        return;
                    }
                    (None, _) => {
                        fault = Some(format!("/{path}: new content {n} does not exist"));
                        return;
                    }
                },
                Source::Package { package, .. } => {
                    let Some(needs) = plan.package_needs.get_mut(*package as usize) else {
                        fault = Some(format!("/{path}: package {package} does not exist"));
                        return;
                    };
                    let ppath = Index::package_path(path, entry).unwrap_or_default();
                    needs.entry(ppath).or_default()
                }
            };
            if let Err(pos) = metas.binary_search(&entry.meta) {
                metas.insert(pos, entry.meta);
            }
        });
        match fault {
            Some(f) => Err(InconsistentIndex(f)),
            None => Ok(plan),
        }
    }

    /// Number of (file, metadata) objects needed from package `p`.
    pub fn package_object_count(&self, p: usize) -> usize {
        self.package_needs
            .get(p)
            .map(|n| n.values().map(Vec::len).sum())
            .unwrap_or(0)
    }
}

fn check_dir_metas(index: &Index, dir: &jigdo_format::Directory, path: &str) -> Result<(), String> {
    match index.metas.get(dir.meta as usize) {
        Some(m) if m.mode & S_IFMT == S_IFDIR && (m.xattrs as usize) < index.xattr_sets.len() => {}
        Some(m) => {
            return Err(format!(
                "directory {path}: metadata entry {} (mode {:o}) is not a directory's",
                dir.meta, m.mode
            ))
        }
        None => {
            return Err(format!(
                "directory {path}: metadata entry {} does not exist",
                dir.meta
            ))
        }
    }
    for (name, sub) in &dir.dirs {
        check_dir_metas(index, sub, &format!("{path}{name}/"))?;
    }
    Ok(())
}

/// Why the tree cannot be stored in a bare-user-only repository, if it cannot: such a
/// repository keeps neither owners nor xattrs of files (libostree's `fsck` then finds
/// the objects corrupt), and no setuid/setgid/sticky or group/other-write bits.
pub fn bare_user_only_fault(index: &Index) -> Option<String> {
    let mut fault = None;
    index.for_each_file(|path, entry| {
        if fault.is_some() {
            return;
        }
        let Some(m) = index.metas.get(entry.meta as usize) else {
            return;
        };
        let has_xattrs = index
            .xattr_sets
            .get(m.xattrs as usize)
            .is_some_and(|x| !x.is_empty());
        if m.uid != 0 || m.gid != 0 {
            fault = Some(format!("/{path} is owned by {}:{}", m.uid, m.gid));
        } else if has_xattrs {
            fault = Some(format!("/{path} has extended attributes"));
        } else if m.mode & S_IFMT == S_IFREG && m.mode & 0o7777 & !0o775 != 0 {
            fault = Some(format!("/{path} has mode {:04o}", m.mode & 0o7777));
        }
    });
    fault
}

/// The xattrs of an index set as OSTree stores them (names NUL-terminated).
pub fn ostree_xattrs(set: &XattrSet) -> Vec<(Vec<u8>, Vec<u8>)> {
    set.iter()
        .map(|(name, value)| {
            let mut n = name.clone();
            if n.last() != Some(&0) {
                n.push(0);
            }
            (n, value.clone())
        })
        .collect()
}

/// The xattrs of metadata entry `meta` (which [`Plan::new`] has checked to exist).
fn meta_xattrs(index: &Index, meta: u32) -> Vec<(Vec<u8>, Vec<u8>)> {
    index
        .metas
        .get(meta as usize)
        .and_then(|m| index.xattr_sets.get(m.xattrs as usize))
        .map(ostree_xattrs)
        .unwrap_or_default()
}

/// The content object header for metadata entry `meta`; `symlink_target` is used when
/// the entry is a symlink.
pub fn file_header(index: &Index, meta: u32, symlink_target: &str) -> FileHeader {
    let m = index
        .metas
        .get(meta as usize)
        .copied()
        .unwrap_or(jigdo_format::ObjectMeta {
            uid: 0,
            gid: 0,
            mode: 0,
            xattrs: 0,
        });
    let is_link = m.mode & S_IFMT == S_IFLNK;
    FileHeader {
        uid: m.uid,
        gid: m.gid,
        mode: m.mode,
        rdev: 0,
        symlink_target: if is_link {
            symlink_target.to_string()
        } else {
            String::new()
        },
        xattrs: meta_xattrs(index, meta),
    }
}

/// The dirmeta object of metadata entry `meta`.
pub fn dir_meta(index: &Index, meta: u32) -> ostree_store::DirMeta {
    let m = index.metas.get(meta as usize);
    ostree_store::DirMeta {
        uid: m.map_or(0, |m| m.uid),
        gid: m.map_or(0, |m| m.gid),
        mode: m.map_or(0, |m| m.mode),
        xattrs: meta_xattrs(index, meta),
    }
}

/// The cache key of package file `path` used with metadata entry `meta`.
pub fn object_key(index: &Index, path: &str, meta: u32) -> ObjectKey {
    let h = file_header(index, meta, "");
    ObjectKey {
        path: path.to_string(),
        uid: h.uid,
        gid: h.gid,
        mode: h.mode,
        xattrs: h.xattrs,
    }
}

/// Whether metadata entry `meta` is a symlink's.
pub fn is_symlink_meta(index: &Index, meta: u32) -> bool {
    index
        .metas
        .get(meta as usize)
        .is_some_and(|m| m.mode & S_IFMT == S_IFLNK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jigdo_format::{Directory, FileEntry, IndexBuilder};

    #[test]
    fn groups_needs_by_package_path_and_meta() {
        let mut b = IndexBuilder::new();
        let p = b.add_package(crate::test_support::pin("a", "1", [0; 32], 1));
        let dm = b.meta(0, 0, S_IFDIR | 0o755, &vec![]);
        let m1 = b.meta(0, 0, S_IFREG | 0o644, &vec![]);
        let m2 = b.meta(
            0,
            0,
            S_IFREG | 0o600,
            &vec![(b"user.x".to_vec(), b"1".to_vec())],
        );
        let (n, _) = b.new_content(NewContent::Symlink { target: "x".into() });
        let ml = b.meta(0, 0, S_IFLNK | 0o777, &vec![]);
        let pkgfile = |name: &str, meta, path: Option<&str>| FileEntry {
            name: name.into(),
            source: Source::Package {
                package: p,
                path: path.map(str::to_string),
            },
            meta,
        };
        let root = Directory {
            meta: dm,
            files: vec![
                pkgfile("a", m1, None),
                pkgfile("b", m2, Some("/a")),
                pkgfile("c", m1, Some("/a")),
                FileEntry {
                    name: "l".into(),
                    source: Source::New(n),
                    meta: ml,
                },
            ],
            dirs: vec![],
        };
        let index = b.finish([0; 32], root);
        let plan = Plan::new(&index).unwrap();
        assert_eq!(plan.package_needs[0].len(), 1);
        assert_eq!(plan.package_needs[0]["/a"], vec![m1.min(m2), m1.max(m2)]);
        assert_eq!(plan.package_object_count(0), 2);
        assert_eq!(plan.new_needs[n as usize], vec![ml]);
        let h = file_header(&index, m2, "ignored");
        assert_eq!(h.xattrs, vec![(b"user.x\0".to_vec(), b"1".to_vec())]);
        assert!(h.symlink_target.is_empty());
        assert_eq!(file_header(&index, ml, "t").symlink_target, "t");
    }

    #[test]
    fn rejects_a_new_content_of_the_wrong_type() {
        let mut b = IndexBuilder::new();
        let dm = b.meta(0, 0, S_IFDIR | 0o755, &vec![]);
        let m1 = b.meta(0, 0, S_IFREG | 0o644, &vec![]);
        let (n, _) = b.new_content(NewContent::Symlink { target: "x".into() });
        let root = Directory {
            meta: dm,
            files: vec![FileEntry {
                name: "f".into(),
                source: Source::New(n),
                meta: m1,
            }],
            dirs: vec![],
        };
        let err = Plan::new(&b.finish([0; 32], root)).unwrap_err().to_string();
        assert!(err.contains("/f"), "{err}");
    }
}
