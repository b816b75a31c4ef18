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
        self.traverse(commit, None)
    }

    /// Walks what `commit` reaches outside the subtrees it shares with `base`, a commit
    /// the caller knows complete (not partial, and held so by a lock that keeps prunes
    /// away): each directory is paired with the directory of the same path in `base`,
    /// and one whose dirtree and dirmeta both equal the base's is not walked (neither it
    /// nor anything below it is listed), so the walk reads only the dirtrees on the
    /// paths that changed, and the base's dirtrees beside them. This is libostree
    /// pull's rule too: a stored dirtree of a commit that is not partial is not scanned
    /// again. A base that cannot be read pairs nothing (the whole commit is walked, as
    /// [`Repo::traverse_commit`] does); a base dirtree that cannot be read pairs nothing
    /// below it.
    pub fn traverse_commit_beyond(&self, commit: &Checksum, base: &Checksum) -> Traversal {
        let base_root = self
            .read_commit(base)
            .ok()
            .map(|b| (b.root_tree, b.root_meta));
        self.traverse(commit, base_root)
    }

    /// [`Repo::traverse_commit`], skipping the directories equal to those of the tree
    /// whose root is `base_root` at the same path (see [`Repo::traverse_commit_beyond`]).
    fn traverse(&self, commit: &Checksum, base_root: Option<(Checksum, Checksum)>) -> Traversal {
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
        // (dirtree, dirmeta, path, the base's (dirtree, dirmeta) at that path).
        type Dir = (Checksum, Checksum, String, Option<(Checksum, Checksum)>);
        let mut level: Vec<Dir> = vec![(c.root_tree, c.root_meta, "/".to_string(), base_root)];
        while !level.is_empty() {
            // Record dirmetas, and keep only trees not yet seen nor shared with the base.
            let mut todo = Vec::new();
            for (tree, meta, path, base) in level.drain(..) {
                if base == Some((tree, meta)) {
                    continue;
                }
                if seen.insert((ObjectType::DirMeta, meta)) {
                    t.objects.push(Reachable {
                        objtype: ObjectType::DirMeta,
                        checksum: meta,
                        path: path.clone(),
                    });
                }
                if seen.insert((ObjectType::DirTree, tree)) {
                    todo.push((tree, path, base.map(|b| b.0).filter(|b| *b != tree)));
                }
            }
            let read: Vec<(Checksum, String, Result<DirTree>, Option<DirTree>)> = todo
                .into_par_iter()
                .map(|(tree, path, base)| {
                    let r = self.read_dirtree(&tree);
                    let b = base.and_then(|b| self.read_dirtree(&b).ok());
                    (tree, path, r, b)
                })
                .collect();
            for (tree, path, r, base) in read {
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
                // The base's subdirectories by name (both lists are sorted by name).
                let base_dirs = base.map(|b| b.dirs).unwrap_or_default();
                for (name, st, sm) in &dt.dirs {
                    let in_base = base_dirs
                        .binary_search_by(|(n, _, _)| n.as_str().cmp(name))
                        .ok()
                        .map(|i| (base_dirs[i].1, base_dirs[i].2));
                    level.push((*st, *sm, join(name), in_base));
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
    use crate::{Commit, DirMeta, FileHeader};

    /// Writes a commit of root `(tree, meta)` and returns it.
    fn commit_of(repo: &Repo, root: (Checksum, Checksum), subject: &str) -> Checksum {
        let c = Commit {
            metadata: crate::encode_metadata(&[]),
            parent: None,
            related: Vec::new(),
            subject: subject.into(),
            body: String::new(),
            timestamp: 1,
            root_tree: root.0,
            root_meta: root.1,
        };
        repo.write_metadata(ObjectType::Commit, &c.encode())
            .unwrap()
    }

    #[test]
    fn traverse_beyond_a_base_skips_only_the_shared_subtrees() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path().join("repo"), RepoMode::BareUser).unwrap();
        let file = |data: &[u8]| {
            repo.write_content(&FileHeader::regular(0, 0, crate::S_IFREG | 0o644), data)
                .unwrap()
        };
        let meta = DirMeta {
            uid: 0,
            gid: 0,
            mode: crate::S_IFDIR | 0o755,
            xattrs: vec![],
        };
        let m = repo
            .write_metadata(ObjectType::DirMeta, &meta.encode())
            .unwrap();
        let tree = |files: Vec<(&str, Checksum)>, dirs: Vec<(&str, Checksum)>| {
            let t = DirTree {
                files: files.into_iter().map(|(n, c)| (n.to_string(), c)).collect(),
                dirs: dirs
                    .into_iter()
                    .map(|(n, c)| (n.to_string(), c, m))
                    .collect(),
            };
            repo.write_metadata(ObjectType::DirTree, &t.encode())
                .unwrap()
        };
        let (a, b, b2) = (file(b"a"), file(b"b"), file(b"b2"));
        // usr/share (unchanged) holds `a`; usr/lib changes from `b` to `b2`.
        let share = tree(vec![("a", a)], vec![]);
        let lib1 = tree(vec![("b", b)], vec![]);
        let lib2 = tree(vec![("b", b2)], vec![]);
        let usr1 = tree(vec![], vec![("lib", lib1), ("share", share)]);
        let usr2 = tree(vec![], vec![("lib", lib2), ("share", share)]);
        let base = commit_of(&repo, (tree(vec![], vec![("usr", usr1)]), m), "base");
        let new = commit_of(&repo, (tree(vec![], vec![("usr", usr2)]), m), "new");

        let all = repo.traverse_commit(&new);
        let beyond = repo.traverse_commit_beyond(&new, &base);
        assert!(all.errors.is_empty() && beyond.errors.is_empty());
        let names = |t: &Traversal| -> Vec<String> {
            let mut v: Vec<String> = t
                .objects
                .iter()
                .map(|o| format!("{}:{}", o.path, o.objtype.extension(false)))
                .collect();
            v.sort();
            v
        };
        assert!(names(&all).contains(&"/usr/share:dirtree".to_string()));
        assert!(names(&all).contains(&"/usr/share/a:file".to_string()));
        // The shared usr/share is not walked; the changed path is, down to its file.
        assert_eq!(
            names(&beyond),
            [
                "/:dirmeta",
                "/:dirtree",
                "/usr/lib/b:file",
                "/usr/lib:dirtree",
                "/usr:dirtree",
                ":commit",
            ]
        );
        // A commit against itself: only the commit object.
        assert_eq!(names(&repo.traverse_commit_beyond(&new, &new)), [":commit"]);

        // A base that cannot be read pairs nothing: the whole commit is walked.
        let absent = Checksum([9; 32]);
        assert_eq!(
            names(&repo.traverse_commit_beyond(&new, &absent)),
            names(&all)
        );

        // A missing object under the changed path is reported; one under the shared
        // subtree is the base's (complete by the caller's word), so only the full walk
        // (fsck's) finds it.
        fs::remove_file(repo.loose_path(ObjectType::DirTree, &share)).unwrap();
        fs::remove_file(repo.loose_path(ObjectType::DirTree, &lib2)).unwrap();
        let beyond = repo.traverse_commit_beyond(&new, &base);
        let errs: Vec<&str> = beyond.errors.iter().map(|(o, _)| o.path.as_str()).collect();
        assert_eq!(errs, ["/usr/lib"]);
        let all = repo.traverse_commit(&new);
        let mut errs: Vec<&str> = all.errors.iter().map(|(o, _)| o.path.as_str()).collect();
        errs.sort();
        assert_eq!(errs, ["/usr/lib", "/usr/share"]);
    }

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
