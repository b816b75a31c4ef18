//! Walking a commit: every object it reaches, partial-commit markers.

use super::*;

/// An object reached from a commit, with the first path it serves.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Reachable {
    /// Object type.
    pub objtype: ObjectType,
    /// Object name.
    pub checksum: Checksum,
    /// Path in the commit's tree (`/` for the root; empty for the commit).
    pub path: String,
}

/// Result of walking a commit: everything found, and what could not be read.
#[derive(Debug, Default)]
pub struct Traversal {
    /// Each distinct object reached (commit, dirtrees, dirmetas, files).
    /// Dirtrees and the commit were read and verified during the walk.
    pub objects: Vec<Reachable>,
    /// Objects that could not be read (missing, corrupt) while walking.
    pub errors: Vec<(Reachable, Error)>,
}

impl Repo {
    /// Path of the partial-commit marker (`state/<checksum>.commitpartial`).
    pub fn commitpartial_path(&self, commit: &Checksum) -> PathBuf {
        self.path
            .join("state")
            .join(format!("{commit}.commitpartial"))
    }

    /// Whether the commit is marked partial.
    pub fn is_commit_partial(&self, commit: &Checksum) -> bool {
        self.path_exists(&self.commitpartial_path(commit))
    }

    /// Walks everything `commit` reaches (commit, dirtrees, dirmetas, files).
    /// Dirtrees are read (and verified) level by level in parallel. Each
    /// distinct object appears once, with the first path found. Errors while
    /// walking (missing/corrupt dirtrees) are collected, not fatal.
    pub fn traverse_commit(&self, commit: &Checksum) -> Traversal {
        let mut t = Traversal::default();
        let commit_ref = Reachable {
            objtype: ObjectType::Commit,
            checksum: *commit,
            path: String::new(),
        };
        let c = match self.read_commit(commit) {
            Ok(c) => c,
            Err(e) => {
                t.errors.push((commit_ref, e));
                return t;
            }
        };
        t.objects.push(commit_ref);
        let mut seen: HashSet<(ObjectType, Checksum)> = HashSet::new();
        seen.insert((ObjectType::Commit, *commit));
        let mut level: Vec<(Checksum, Checksum, String)> =
            vec![(c.root_tree, c.root_meta, "/".to_string())];
        while !level.is_empty() {
            // Record dirmetas, and keep only trees not yet seen.
            let mut todo = Vec::new();
            for (tree, meta, path) in level.drain(..) {
                if seen.insert((ObjectType::DirMeta, meta)) {
                    t.objects.push(Reachable {
                        objtype: ObjectType::DirMeta,
                        checksum: meta,
                        path: path.clone(),
                    });
                }
                if seen.insert((ObjectType::DirTree, tree)) {
                    todo.push((tree, path));
                }
            }
            let read: Vec<(Checksum, String, Result<DirTree>)> = todo
                .into_par_iter()
                .map(|(tree, path)| {
                    let r = self.read_dirtree(&tree);
                    (tree, path, r)
                })
                .collect();
            for (tree, path, r) in read {
                let me = Reachable {
                    objtype: ObjectType::DirTree,
                    checksum: tree,
                    path: path.clone(),
                };
                let dt = match r {
                    Ok(dt) => dt,
                    Err(e) => {
                        t.errors.push((me, e));
                        continue;
                    }
                };
                t.objects.push(me);
                let join = |name: &str| {
                    if path == "/" {
                        format!("/{name}")
                    } else {
                        format!("{path}/{name}")
                    }
                };
                for (name, fc) in &dt.files {
                    if seen.insert((ObjectType::File, *fc)) {
                        t.objects.push(Reachable {
                            objtype: ObjectType::File,
                            checksum: *fc,
                            path: join(name),
                        });
                    }
                }
                for (name, st, sm) in &dt.dirs {
                    level.push((*st, *sm, join(name)));
                }
            }
        }
        t
    }

    /// Every loose object of the repository, by listing its `objects/` directories once
    /// (no `stat` per object). For checking the presence of many objects at once: one
    /// listing costs far less than a [`Repo::has_object`] per object. A snapshot: an
    /// object it holds stays present only while a lock keeps prunes away.
    pub fn loose_objects(&self) -> Result<HashSet<(ObjectType, Checksum)>> {
        let objects = self.path.join("objects");
        let prefixes: Vec<String> = self
            .list_dir(&objects)?
            .into_iter()
            .filter(|(prefix, is_dir)| prefix.len() == 2 && *is_dir)
            .map(|(prefix, _)| prefix)
            .collect();
        // The prefix directories side by side: each is a `getdents` walk of its own.
        let lists: Vec<Vec<(ObjectType, Checksum)>> = prefixes
            .par_iter()
            .map(|prefix| {
                let mut found = Vec::new();
                let mut name = String::with_capacity(64);
                for (n, is_dir) in self.list_dir(&objects.join(prefix))? {
                    let Some((rest, ext)) = n.split_once('.') else {
                        continue;
                    };
                    let Some(objtype) = ObjectType::from_extension(ext) else {
                        continue;
                    };
                    if is_dir || objtype.extension(self.mode.is_archive()) != ext {
                        continue;
                    }
                    name.clear();
                    name.push_str(prefix);
                    name.push_str(rest);
                    if let Ok(c) = name.parse() {
                        found.push((objtype, c));
                    }
                }
                Ok(found)
            })
            .collect::<Result<_>>()?;
        let mut out = HashSet::with_capacity(lists.iter().map(Vec::len).sum());
        out.extend(lists.into_iter().flatten());
        Ok(out)
    }

    /// All commit checksums stored as loose `.commit` objects.
    pub fn list_commit_objects(&self) -> Result<Vec<Checksum>> {
        let objects = self.path.join("objects");
        let mut out = Vec::new();
        for (prefix, is_dir) in self.list_dir(&objects)? {
            if prefix.len() != 2 || !is_dir {
                continue;
            }
            for (n, _) in self.list_dir(&objects.join(&prefix))? {
                if let Some(rest) = n.strip_suffix(".commit") {
                    if let Ok(c) = format!("{prefix}{rest}").parse() {
                        out.push(c);
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DirMeta, FileHeader};

    #[test]
    fn loose_objects_lists_every_object_of_the_mode_and_nothing_else() {
        for mode in [RepoMode::BareUser, RepoMode::Archive] {
            let dir = tempfile::tempdir().unwrap();
            let repo = Repo::init(dir.path().join("repo"), mode).unwrap();
            assert!(repo.loose_objects().unwrap().is_empty());
            let f = repo
                .write_content(&FileHeader::regular(0, 0, 0o644), &b"x"[..])
                .unwrap();
            let meta = DirMeta {
                uid: 0,
                gid: 0,
                mode: crate::S_IFDIR | 0o755,
                xattrs: vec![],
            };
            let m = repo
                .write_metadata(ObjectType::DirMeta, &meta.encode())
                .unwrap();
            // Not objects: a name without a checksum, a foreign extension, the other
            // modes' content extension, a directory, a file outside a prefix directory.
            let objects = dir.path().join("repo/objects");
            let hex = f.to_hex();
            let other_ext = if mode.is_archive() { "file" } else { "filez" };
            let stray = format!("{:0>64}", "1");
            fs::create_dir_all(objects.join(&stray[..2])).unwrap();
            fs::write(
                objects
                    .join(&stray[..2])
                    .join(format!("{}.{other_ext}", &stray[2..])),
                b"",
            )
            .unwrap();
            fs::write(objects.join(&hex[..2]).join("junk.file"), b"").unwrap();
            fs::write(
                objects.join(&hex[..2]).join(format!("{}.tmp", &hex[2..])),
                b"",
            )
            .unwrap();
            fs::create_dir_all(
                objects
                    .join(&stray[..2])
                    .join(format!("{}.dirtree", &stray[2..])),
            )
            .unwrap();
            fs::write(objects.join(format!("{}.file", &hex[2..])), b"").unwrap();
            let listed = repo.loose_objects().unwrap();
            let expected: HashSet<(ObjectType, Checksum)> =
                [(ObjectType::File, f), (ObjectType::DirMeta, m)].into();
            assert_eq!(listed, expected, "{mode:?}");
            for (t, c) in &listed {
                assert!(repo.has_object(*t, c));
            }
        }
    }
}
