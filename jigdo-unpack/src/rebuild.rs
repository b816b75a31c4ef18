//! Rebuilding every dirtree and dirmeta of the tree, bottom-up, from the index and the
//! content checksums of its files.

use std::collections::{HashMap, HashSet};

use jigdo_format::{Directory, FileEntry, Index};
use ostree_store::{Checksum, DirTree, ObjectType};

use crate::error::{Result, UnpackError};
use crate::plan::dir_meta;

/// The rebuilt metadata objects of a tree.
#[derive(Debug)]
pub struct RebuiltTree {
    /// Checksum of the root dirtree.
    pub root_tree: Checksum,
    /// Checksum of the root dirmeta.
    pub root_meta: Checksum,
    /// Every distinct dirtree and dirmeta object, by type and checksum, children before
    /// parents (their encodings went to [`rebuild_tree_streaming`]'s `made`).
    pub objects: Vec<(ObjectType, Checksum)>,
    /// The (dirtree, dirmeta) of every directory by its path (`""` for the root, else
    /// `usr/`, `usr/bin/`, …), to find where a rebuilt tree differs from the commit's.
    pub dirs: HashMap<String, (Checksum, Checksum)>,
    /// The content object of every file of the tree, in the order of a depth-first walk
    /// of the index (a directory's files, then its subdirectories, each in index order):
    /// [`file_path`] names the file at a position.
    pub files: Vec<Checksum>,
}

/// The path in the tree (`usr/bin/bash`) of the file at position `pos` of
/// [`RebuiltTree::files`] for a tree rebuilt from `index`.
pub fn file_path(index: &Index, pos: usize) -> Option<String> {
    /// Walks `dir` (at `prefix`) in the order of [`rebuild_tree`]; `left` counts down
    /// the files to pass over.
    fn walk(dir: &Directory, prefix: &mut String, left: &mut usize) -> bool {
        if let Some(f) = dir.files.get(*left) {
            prefix.push_str(&f.name);
            return true;
        }
        *left -= dir.files.len();
        let base = prefix.len();
        for (name, sub) in &dir.dirs {
            prefix.push_str(name);
            prefix.push('/');
            if walk(sub, prefix, left) {
                return true;
            }
            prefix.truncate(base);
        }
        false
    }
    let mut prefix = String::new();
    let mut left = pos;
    walk(&index.root, &mut prefix, &mut left).then_some(prefix)
}

/// Rebuilds the dirtrees and dirmetas of `index`'s tree. `resolve` gives the content
/// checksum of a file from its tree path (`usr/bin/bash`) and entry; a file it cannot
/// resolve is an error naming the path.
pub fn rebuild_tree(
    index: &Index,
    resolve: &dyn Fn(&str, &FileEntry) -> Option<Checksum>,
) -> Result<RebuiltTree> {
    rebuild_tree_streaming(index, resolve, &mut |_, _, _| {})
}

/// [`rebuild_tree`], handing each distinct dirtree and dirmeta to `made` (type,
/// checksum, encoding) as soon as it is made, in the order of
/// [`RebuiltTree::objects`]: e.g. to write them while the rest of the tree is rebuilt.
/// The encoding is `made`'s (the tree keeps none).
/// Nothing tells yet whether the tree is the commit's.
pub fn rebuild_tree_streaming(
    index: &Index,
    resolve: &dyn Fn(&str, &FileEntry) -> Option<Checksum>,
    made: &mut dyn FnMut(ObjectType, &Checksum, Vec<u8>),
) -> Result<RebuiltTree> {
    let mut state = State {
        index,
        resolve,
        made,
        metas: HashMap::new(),
        seen: HashSet::new(),
        objects: Vec::new(),
        dirs: HashMap::new(),
        files: Vec::with_capacity(index.file_count()),
    };
    let mut prefix = String::new();
    let (root_tree, root_meta) = state.dir(&index.root, &mut prefix)?;
    Ok(RebuiltTree {
        root_tree,
        root_meta,
        objects: state.objects,
        dirs: state.dirs,
        files: state.files,
    })
}

struct State<'a> {
    index: &'a Index,
    resolve: &'a dyn Fn(&str, &FileEntry) -> Option<Checksum>,
    made: &'a mut dyn FnMut(ObjectType, &Checksum, Vec<u8>),
    metas: HashMap<u32, Checksum>,
    seen: HashSet<Checksum>,
    objects: Vec<(ObjectType, Checksum)>,
    dirs: HashMap<String, (Checksum, Checksum)>,
    files: Vec<Checksum>,
}

impl State<'_> {
    fn meta(&mut self, meta: u32) -> Checksum {
        if let Some(c) = self.metas.get(&meta) {
            return *c;
        }
        let bytes = dir_meta(self.index, meta).encode();
        let c = Checksum::of_bytes(&bytes);
        if self.seen.insert(c) {
            (self.made)(ObjectType::DirMeta, &c, bytes);
            self.objects.push((ObjectType::DirMeta, c));
        }
        self.metas.insert(meta, c);
        c
    }

    /// Returns (dirtree, dirmeta) of `dir`, whose path relative to the root is `prefix`
    /// (empty, or ending in `/`).
    fn dir(&mut self, dir: &Directory, prefix: &mut String) -> Result<(Checksum, Checksum)> {
        let base = prefix.len();
        let mut tree = DirTree::default();
        for f in &dir.files {
            prefix.push_str(&f.name);
            let sum = (self.resolve)(prefix, f).ok_or_else(|| UnpackError::NoObject {
                path: prefix.clone(),
            })?;
            prefix.truncate(base);
            self.files.push(sum);
            tree.files.push((f.name.clone(), sum));
        }
        for (name, sub) in &dir.dirs {
            prefix.push_str(name);
            prefix.push('/');
            let (t, m) = self.dir(sub, prefix)?;
            prefix.truncate(base);
            tree.dirs.push((name.clone(), t, m));
        }
        let bytes = tree.encode();
        let c = Checksum::of_bytes(&bytes);
        if self.seen.insert(c) {
            (self.made)(ObjectType::DirTree, &c, bytes);
            self.objects.push((ObjectType::DirTree, c));
        }
        let m = self.meta(dir.meta);
        self.dirs.insert(prefix.clone(), (c, m));
        Ok((c, m))
    }
}

/// Where a rebuilt tree first differs from the commit's, found by walking down the
/// commit's dirtrees as far as a repository holds them ([`locate_difference`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// A file's rebuilt content object is not the commit's (`expected` is `None` when
    /// the commit has no file of that name).
    File {
        /// Its path in the tree (`usr/bin/x`).
        path: String,
        /// Its entry in the index.
        entry: FileEntry,
        /// The object the commit has there.
        expected: Option<Checksum>,
        /// The object rebuilt.
        rebuilt: Checksum,
    },
    /// A directory's rebuilt dirmeta is not the commit's (`""` is the root).
    DirMeta {
        /// Its path in the tree (`usr/bin/`).
        path: String,
        /// The dirmeta the commit names.
        expected: Checksum,
        /// The dirmeta rebuilt.
        rebuilt: Checksum,
    },
    /// The commit has a file or directory (`NAME/`) that the index lacks, or the index
    /// a directory that the commit lacks.
    Entry {
        /// Its path in the tree.
        path: String,
        /// Whether the commit (true) or the index (false) has it.
        in_commit: bool,
    },
    /// The repository does not hold the commit's dirtree of this directory (`""`: the
    /// root), so the walk stops there.
    NotHeld {
        /// The directory's path in the tree.
        dir: String,
    },
}

/// Walks the commit's tree (root dirtree `expected_root`) and the rebuilt `tree` of
/// `index` side by side, as far as `repo` holds the commit's dirtrees, to the first
/// file or directory that differs. `resolve` is the one given to [`rebuild_tree`].
pub fn locate_difference(
    repo: &ostree_store::Repo,
    index: &Index,
    tree: &RebuiltTree,
    expected_root: (Checksum, Checksum),
    resolve: &dyn Fn(&str, &FileEntry) -> Option<Checksum>,
) -> Difference {
    if expected_root.1 != tree.root_meta {
        return Difference::DirMeta {
            path: String::new(),
            expected: expected_root.1,
            rebuilt: tree.root_meta,
        };
    }
    let mut dir = &index.root;
    let mut prefix = String::new();
    let mut expected_tree = expected_root.0;
    'descend: loop {
        if !repo.has_object(ObjectType::DirTree, &expected_tree) {
            return Difference::NotHeld { dir: prefix };
        }
        let Ok(exp) = repo.read_dirtree(&expected_tree) else {
            return Difference::NotHeld { dir: prefix };
        };
        for f in &dir.files {
            let path = format!("{prefix}{}", f.name);
            let Some(rebuilt) = resolve(&path, f) else {
                continue;
            };
            let expected = exp.files.iter().find(|(n, _)| *n == f.name).map(|e| e.1);
            if expected != Some(rebuilt) {
                return Difference::File {
                    path,
                    entry: f.clone(),
                    expected,
                    rebuilt,
                };
            }
        }
        for (name, _) in &exp.files {
            if !dir.files.iter().any(|f| f.name == *name) {
                return Difference::Entry {
                    path: format!("{prefix}{name}"),
                    in_commit: true,
                };
            }
        }
        for (name, _, _) in &exp.dirs {
            if !dir.dirs.iter().any(|(n, _)| n == name) {
                return Difference::Entry {
                    path: format!("{prefix}{name}/"),
                    in_commit: true,
                };
            }
        }
        for (name, sub) in &dir.dirs {
            let path = format!("{prefix}{name}/");
            let Some(&(rt, rm)) = tree.dirs.get(&path) else {
                continue;
            };
            let Some(&(_, et, em)) = exp.dirs.iter().find(|(n, _, _)| n == name) else {
                return Difference::Entry {
                    path,
                    in_commit: false,
                };
            };
            if em != rm {
                return Difference::DirMeta {
                    path,
                    expected: em,
                    rebuilt: rm,
                };
            }
            if et != rt {
                dir = sub;
                prefix = path;
                expected_tree = et;
                continue 'descend;
            }
        }
        // Every entry agrees, yet the dirtree differs (e.g. in the order of entries).
        return Difference::NotHeld { dir: prefix };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jigdo_format::IndexBuilder;
    use ostree_store::{S_IFDIR, S_IFREG};

    #[test]
    fn files_are_listed_in_walk_order_and_file_path_names_each() {
        let mut b = IndexBuilder::new();
        let p = b.add_package(crate::test_support::pin("a", "1", [7; 32], 1));
        let dm = b.meta(0, 0, S_IFDIR | 0o755, &vec![]);
        let m = b.meta(0, 0, S_IFREG | 0o644, &vec![]);
        let file = |name: &str| crate::test_support::package_file(name, p, m);
        let dir = |files: Vec<FileEntry>, dirs: Vec<(&str, Directory)>| Directory {
            meta: dm,
            files,
            dirs: dirs.into_iter().map(|(n, d)| (n.to_string(), d)).collect(),
        };
        let root = dir(
            vec![file("a"), file("b")],
            vec![
                ("empty", dir(vec![], vec![])),
                (
                    "usr",
                    dir(
                        vec![file("c")],
                        vec![("bin", dir(vec![file("d"), file("e")], vec![]))],
                    ),
                ),
                ("var", dir(vec![file("f")], vec![])),
            ],
        );
        let index = b.finish([0; 32], root);
        // Each path its own object, and one object twice (`usr/bin/e` is `a`).
        let resolve = |path: &str, _: &FileEntry| {
            Some(Checksum::of_bytes(
                if path == "usr/bin/e" { "a" } else { path }.as_bytes(),
            ))
        };
        let mut made = Vec::new();
        let tree = rebuild_tree_streaming(&index, &resolve, &mut |t, c, bytes| {
            made.push((t, *c, bytes))
        })
        .unwrap();
        let paths: Vec<String> = (0..tree.files.len())
            .map(|i| file_path(&index, i).unwrap())
            .collect();
        assert_eq!(
            paths,
            ["a", "b", "usr/c", "usr/bin/d", "usr/bin/e", "var/f"]
        );
        for (path, sum) in paths.iter().zip(&tree.files) {
            assert_eq!(Some(*sum), resolve(path, &index.root.files[0]));
        }
        assert_eq!(file_path(&index, tree.files.len()), None);
        // Every object once, with its checksum, handed over in the tree's order;
        // children before parents.
        for (_, sum, bytes) in &made {
            assert_eq!(Checksum::of_bytes(bytes), *sum);
        }
        let listed: Vec<(ObjectType, Checksum)> = made.iter().map(|(t, c, _)| (*t, *c)).collect();
        assert_eq!(listed, tree.objects);
        let last = tree
            .objects
            .iter()
            .rposition(|o| o.0 == ObjectType::DirTree);
        assert_eq!(last.map(|i| tree.objects[i].1), Some(tree.root_tree));
        assert_eq!(tree.dirs[""], (tree.root_tree, tree.root_meta));
    }
}
