//! Cross-checks against the real `ostree` (Debian 2022.7): our reader
//! recomputes every checksum of commits `ostree commit` made in each mode, and
//! our writer rebuilds those commits bit-for-bit into fresh repositories that
//! `ostree fsck`, `ostree ls`, `ostree checkout` and `ostree pull-local` accept.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{describe_tree, make_tree, ostree, ostree_commit, ostree_status};
use ostree_store::{
    Checksum, Commit, DirMeta, DirTree, ObjectType, RefKind, Repo, RepoMode, Transaction,
};
use rayon::prelude::*;

struct Trees {
    _dir: tempfile::TempDir,
    full: PathBuf,
    restricted: PathBuf,
}

fn trees() -> &'static Trees {
    static T: OnceLock<Trees> = OnceLock::new();
    T.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let full = dir.path().join("full");
        let restricted = dir.path().join("restricted");
        make_tree(&full, true);
        make_tree(&restricted, false);
        Trees {
            _dir: dir,
            full,
            restricted,
        }
    })
}

fn tree_for(mode: &str) -> &'static Path {
    if mode == "bare-user-only" {
        &trees().restricted
    } else {
        &trees().full
    }
}

/// Our own `ostree ls -R` lines (sorted) for a commit.
fn our_ls(repo: &Repo, commit: &Checksum) -> Vec<String> {
    let t = repo.traverse_commit(commit);
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    let c = repo.read_commit(commit).unwrap();
    // Re-walk the trees to list every path (traversal lists each object once).
    let mut lines = Vec::new();
    let mut stack = vec![(c.root_tree, c.root_meta, "/".to_string())];
    while let Some((tree, meta, path)) = stack.pop() {
        let m = repo.read_dirmeta(&meta).unwrap();
        lines.push(format!(
            "d{:05o} {} {} {:>6} {}",
            m.mode & 0o7777,
            m.uid,
            m.gid,
            0,
            path
        ));
        let dt = repo.read_dirtree(&tree).unwrap();
        let join = |n: &str| {
            if path == "/" {
                format!("/{n}")
            } else {
                format!("{path}/{n}")
            }
        };
        for (name, fc) in &dt.files {
            let (h, mut r) = repo.read_file(fc).unwrap();
            let size = std::io::copy(&mut r, &mut std::io::sink()).unwrap();
            if h.is_symlink() {
                lines.push(format!(
                    "l{:05o} {} {} {:>6} {} -> {}",
                    h.mode & 0o7777,
                    h.uid,
                    h.gid,
                    0,
                    join(name),
                    h.symlink_target
                ));
            } else {
                lines.push(format!(
                    "-{:05o} {} {} {:>6} {}",
                    h.mode & 0o7777,
                    h.uid,
                    h.gid,
                    size,
                    join(name)
                ));
            }
        }
        for (name, st, sm) in &dt.dirs {
            stack.push((*st, *sm, join(name)));
        }
    }
    lines.sort();
    lines
}

fn ostree_ls(repo: &Path, rev: &str) -> Vec<String> {
    let out = ostree(&[&format!("--repo={}", repo.display()), "ls", "-R", rev]);
    let mut v: Vec<String> = out.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// All loose objects on disk, as (type, checksum).
fn loose_objects(repo: &Path) -> BTreeSet<(ObjectType, Checksum)> {
    let mut out = BTreeSet::new();
    for d in std::fs::read_dir(repo.join("objects")).unwrap() {
        let d = d.unwrap();
        let prefix = d.file_name().to_string_lossy().into_owned();
        for f in std::fs::read_dir(d.path()).unwrap() {
            let n = f.unwrap().file_name().to_string_lossy().into_owned();
            let (rest, ext) = n.split_once('.').unwrap();
            out.insert((
                ObjectType::from_extension(ext).unwrap(),
                format!("{prefix}{rest}").parse().unwrap(),
            ));
        }
    }
    out
}

/// Each loose content object's file as `ostree` would see it: name, file type and mode
/// bits, size and mtime (in archive mode neither: zlib streams of two deflate
/// implementations differ, and libostree leaves archive objects the mtime of their
/// writing, as it does real symlinks), and xattrs.
fn content_object_files(repo: &Path, mode: &str) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    for d in std::fs::read_dir(repo.join("objects")).unwrap() {
        for f in std::fs::read_dir(d.unwrap().path()).unwrap() {
            let path = f.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with(".file") && !name.ends_with(".filez") {
                continue;
            }
            let st = std::fs::symlink_metadata(&path).unwrap();
            let mtime = if st.file_type().is_symlink() || mode == "archive" {
                "-".to_string()
            } else {
                st.mtime().to_string()
            };
            let mut xattrs: Vec<String> = if st.file_type().is_symlink() {
                Vec::new()
            } else {
                xattr::list(&path)
                    .unwrap()
                    .map(|k| {
                        let v = xattr::get(&path, &k).unwrap().unwrap_or_default();
                        format!("{}={}", k.to_string_lossy(), hex::encode(v))
                    })
                    .collect()
            };
            xattrs.sort();
            let size = if mode == "archive" {
                "-".to_string()
            } else {
                st.size().to_string()
            };
            out.push(format!(
                "{name} mode {:o} size {size} mtime {mtime} xattrs {xattrs:?}",
                st.mode()
            ));
        }
    }
    out.sort();
    out
}

fn read_mode(mode: &str) {
    let dir = tempfile::tempdir().unwrap();
    let repo_path = dir.path().join("repo");
    let commit_hex = ostree_commit(&repo_path, mode, tree_for(mode));
    let commit: Checksum = commit_hex.parse().unwrap();
    let repo = Repo::open(&repo_path).unwrap();
    assert_eq!(repo.mode(), RepoMode::parse(mode).unwrap());

    // Refs and rev-parse agree with ostree.
    let refs = repo.list_refs().unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].kind, RefKind::Head);
    assert_eq!(refs[0].name, "main");
    assert_eq!(refs[0].checksum, commit);
    assert_eq!(repo.resolve_rev("main").unwrap(), commit);
    assert_eq!(repo.resolve_rev(&commit_hex[..10]).unwrap(), commit);
    let parent_hex = ostree(&[
        &format!("--repo={}", repo_path.display()),
        "rev-parse",
        "main^",
    ]);
    let parent: Checksum = parent_hex.trim().parse().unwrap();
    assert_eq!(repo.resolve_rev("main^").unwrap(), parent);

    // Commit decoding: fields, metadata, exact re-encoding.
    let c = repo.read_commit(&commit).unwrap();
    assert_eq!(c.parent, Some(parent));
    assert_eq!(c.subject, "second commit");
    assert_eq!(c.body, "body text\nline 2");
    assert_eq!(c.timestamp, 1622550896);
    assert_eq!(c.version().as_deref(), Some("1.2.3"));
    assert_eq!(c.checksum(), commit);

    // Every object reachable from both commits, recomputed; together they
    // are exactly the loose objects ostree wrote.
    let mut reached = BTreeSet::new();
    for cc in [commit, parent] {
        let t = repo.traverse_commit(&cc);
        assert!(t.errors.is_empty(), "{:?}", t.errors);
        t.objects.par_iter().for_each(|o| {
            repo.verify_object(o.objtype, &o.checksum)
                .unwrap_or_else(|e| panic!("{} {}: {e}", o.path, o.checksum));
        });
        for o in &t.objects {
            reached.insert((o.objtype, o.checksum));
        }
    }
    assert_eq!(reached, loose_objects(&repo_path), "mode {mode}");

    // Decoded dirtrees/dirmetas re-encode to their own names.
    let t = repo.traverse_commit(&commit);
    for o in &t.objects {
        match o.objtype {
            ObjectType::DirTree => {
                assert_eq!(
                    repo.read_dirtree(&o.checksum).unwrap().checksum(),
                    o.checksum
                )
            }
            ObjectType::DirMeta => {
                assert_eq!(
                    repo.read_dirmeta(&o.checksum).unwrap().checksum(),
                    o.checksum
                )
            }
            _ => {}
        }
    }

    // File headers (mode, owner, size, symlink targets) match `ostree ls -R`.
    assert_eq!(
        our_ls(&repo, &commit),
        ostree_ls(&repo_path, "main"),
        "mode {mode}"
    );

    let report = ostree_store::fsck(&repo, &[commit], true);
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.commits.len(), 2);
}

#[test]
fn read_archive() {
    read_mode("archive");
}

#[test]
fn read_bare() {
    read_mode("bare");
}

#[test]
fn read_bare_user() {
    read_mode("bare-user");
}

#[test]
fn read_bare_user_only() {
    read_mode("bare-user-only");
}

/// Rebuilds `commit` (and its parent chain) from `src` into `tx` object by
/// object, re-encoding every metadata object from its decoded fields.
fn rebuild(src: &Repo, tx: &Transaction<'_>, commit: &Checksum) {
    let c = src.read_commit(commit).unwrap();
    if let Some(p) = c.parent {
        if src.has_object(ObjectType::Commit, &p) {
            rebuild(src, tx, &p);
        }
    }
    let t = src.traverse_commit(commit);
    assert!(t.errors.is_empty());
    t.objects.par_iter().for_each(|o| match o.objtype {
        ObjectType::File => {
            let (h, r) = src.read_file(&o.checksum).unwrap();
            let got = tx.write_content_with_checksum(&o.checksum, &h, r).unwrap();
            assert_eq!(got, o.checksum, "{}", o.path);
        }
        ObjectType::DirMeta => {
            let m = src.read_dirmeta(&o.checksum).unwrap();
            let again = DirMeta {
                uid: m.uid,
                gid: m.gid,
                mode: m.mode,
                xattrs: m.xattrs.clone(),
            };
            let got = tx
                .write_metadata(ObjectType::DirMeta, &again.encode())
                .unwrap();
            assert_eq!(got, o.checksum, "{}", o.path);
        }
        ObjectType::DirTree => {
            let d = src.read_dirtree(&o.checksum).unwrap();
            // Feed entries in reverse order: encode must sort them.
            let again = DirTree {
                files: d.files.iter().rev().cloned().collect(),
                dirs: d.dirs.iter().rev().cloned().collect(),
            };
            let got = tx
                .write_metadata(ObjectType::DirTree, &again.encode())
                .unwrap();
            assert_eq!(got, o.checksum, "{}", o.path);
        }
        _ => {}
    });
    let again = Commit {
        metadata: c.metadata.clone(),
        parent: c.parent,
        related: c.related.clone(),
        subject: c.subject.clone(),
        body: c.body.clone(),
        timestamp: c.timestamp,
        root_tree: c.root_tree,
        root_meta: c.root_meta,
    };
    let got = tx
        .write_metadata(ObjectType::Commit, &again.encode())
        .unwrap();
    assert_eq!(got, *commit);
    // Marked partial until the transaction commits.
    assert!(tx.repo().is_commit_partial(commit));
}

fn write_mode(src_mode: &str, dst_mode: &str) {
    let dir = tempfile::tempdir().unwrap();
    let src_path = dir.path().join("src");
    let commit_hex = ostree_commit(&src_path, src_mode, tree_for(dst_mode));
    let commit: Checksum = commit_hex.parse().unwrap();
    let src = Repo::open(&src_path).unwrap();

    let dst_path = dir.path().join("dst");
    let dst = Repo::init(&dst_path, RepoMode::parse(dst_mode).unwrap()).unwrap();
    let tx = dst.transaction().unwrap();
    rebuild(&src, &tx, &commit);
    tx.commit().unwrap();
    assert!(!dst.is_commit_partial(&commit));
    dst.set_ref("main", Some(&commit)).unwrap();
    // Staging directories are gone.
    let leftovers: Vec<_> = std::fs::read_dir(dst_path.join("tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with("staging-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let d = format!("--repo={}", dst_path.display());
    let s = format!("--repo={}", src_path.display());
    assert_eq!(ostree(&[&d, "rev-parse", "main"]).trim(), commit_hex);
    let (ok, out) = ostree_status(&[&d, "fsck"]);
    assert!(ok, "ostree fsck on our {dst_mode} repo: {out}");
    assert_eq!(ostree_ls(&dst_path, "main"), ostree_ls(&src_path, "main"));
    let lsc = |r: &str| ostree(&[r, "ls", "-R", "-C", "main"]);
    assert_eq!(lsc(&d), lsc(&s));

    // Checkouts from ostree's repo and ours are identical.
    let co_src = dir.path().join("co-src");
    let co_dst = dir.path().join("co-dst");
    let user = if dst_mode == "bare-user-only" || src_mode == "bare-user-only" {
        vec!["-U"]
    } else {
        vec![]
    };
    let mut a = vec![s.as_str(), "checkout"];
    a.extend(&user);
    let co_src_s = co_src.display().to_string();
    a.extend(["main", co_src_s.as_str()]);
    ostree(&a);
    let mut a = vec![d.as_str(), "checkout"];
    a.extend(&user);
    let co_dst_s = co_dst.display().to_string();
    a.extend(["main", co_dst_s.as_str()]);
    ostree(&a);
    assert_eq!(describe_tree(&co_src), describe_tree(&co_dst));

    // ostree can pull from our repository.
    let pulled = dir.path().join("pulled");
    let p = format!("--repo={}", pulled.display());
    ostree(&[&p, "init", "--mode=archive"]);
    ostree(&[&p, "pull-local", &dst_path.display().to_string(), "main"]);
    assert_eq!(ostree(&[&p, "rev-parse", "main"]).trim(), commit_hex);
    let (ok, out) = ostree_status(&[&p, "fsck"]);
    assert!(ok, "ostree fsck after pull-local: {out}");

    // Each content object's file is the one libostree makes: `ostree pull-local` of the
    // same commit into a repository of the same mode.
    let theirs = dir.path().join("theirs");
    let t = format!("--repo={}", theirs.display());
    ostree(&[&t, "init", &format!("--mode={dst_mode}")]);
    ostree(&[
        &t,
        "pull-local",
        &src_path.display().to_string(),
        &commit_hex,
    ]);
    let (ours, libostree) = (
        content_object_files(&dst_path, dst_mode),
        content_object_files(&theirs, dst_mode),
    );
    let only = |a: &Vec<String>, b: &Vec<String>| -> Vec<String> {
        a.iter()
            .filter(|l| !b.contains(l))
            .take(5)
            .cloned()
            .collect()
    };
    assert!(
        ours == libostree,
        "{dst_mode} content objects differ: ours {:#?}, libostree's {:#?}",
        only(&ours, &libostree),
        only(&libostree, &ours)
    );

    // And our own fsck agrees.
    let report = ostree_store::fsck(&dst, &[commit], true);
    assert!(report.is_clean(), "{:?}", report.problems);
}

#[test]
fn write_archive() {
    write_mode("bare-user", "archive");
}

#[test]
fn write_bare() {
    write_mode("archive", "bare");
}

#[test]
fn write_bare_user() {
    write_mode("archive", "bare-user");
}

#[test]
fn write_bare_user_only() {
    write_mode("bare-user-only", "bare-user-only");
}
