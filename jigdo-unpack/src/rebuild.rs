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
    /// Every distinct dirtree and dirmeta object, encoded, children before parents.
    pub objects: Vec<(ObjectType, Vec<u8>)>,
}

/// Rebuilds the dirtrees and dirmetas of `index`'s tree. `resolve` gives the content
/// checksum of a file from its tree path (`usr/bin/bash`) and entry; a file it cannot
/// resolve is an error naming the path.
pub fn rebuild_tree(
    index: &Index,
    resolve: &dyn Fn(&str, &FileEntry) -> Option<Checksum>,
) -> Result<RebuiltTree> {
    let mut state = State {
        index,
        resolve,
        metas: HashMap::new(),
        seen: HashSet::new(),
        objects: Vec::new(),
    };
    let mut prefix = String::new();
    let (root_tree, root_meta) = state.dir(&index.root, &mut prefix)?;
    Ok(RebuiltTree {
        root_tree,
        root_meta,
        objects: state.objects,
    })
}

struct State<'a> {
    index: &'a Index,
    resolve: &'a dyn Fn(&str, &FileEntry) -> Option<Checksum>,
    metas: HashMap<u32, Checksum>,
    seen: HashSet<Checksum>,
    objects: Vec<(ObjectType, Vec<u8>)>,
}

impl State<'_> {
    fn meta(&mut self, meta: u32) -> Checksum {
        if let Some(c) = self.metas.get(&meta) {
            return *c;
        }
        let bytes = dir_meta(self.index, meta).encode();
        let c = Checksum::of_bytes(&bytes);
        if self.seen.insert(c) {
            self.objects.push((ObjectType::DirMeta, bytes));
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
            self.objects.push((ObjectType::DirTree, bytes));
        }
        Ok((c, self.meta(dir.meta)))
    }
}
