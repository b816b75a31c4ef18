//! Real-world OSTree repositories from ../shared/fixtures/real-world/ostree
//! (made by ostree's own test suite) and osbuild-composer commit archives.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{fixtures, ostree, ostree_status};
use ostree_store::{Checksum, CommitArchive, Error, ObjectType, Repo, RepoMode};

/// Copies a fixture directory into a temp dir (fixtures are read-only).
fn copy_dir(src: &Path, dst: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(src)
        .arg(dst)
        .status()
        .expect("cp");
    assert!(st.success());
}

/// Extracts a fixture tarball (`.tar.gz` / `.tar.xz`) with GNU tar.
fn extract(tarball: &Path, into: &Path) {
    fs::create_dir_all(into).unwrap();
    let st = Command::new("tar")
        .arg("-xf")
        .arg(tarball)
        .arg("-C")
        .arg(into)
        .status()
        .expect("tar (GNU tar with xz-utils) is needed");
    assert!(st.success(), "extracting {}", tarball.display());
}

/// Finds the directory holding `config` + `objects/` under `root`.
fn find_repo(root: &Path) -> PathBuf {
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        if d.join("config").is_file() && d.join("objects").is_dir() {
            return d;
        }
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
    panic!("no repository under {}", root.display());
}

#[test]
fn pre_signed_pull_data() {
    let repo_path = fixtures().join("ostree/unpacked/pre-signed-pull-data/repo");
    let repo = Repo::open(&repo_path).unwrap();
    assert_eq!(repo.mode(), RepoMode::Archive);
    let c = repo.resolve_rev("testref").unwrap();
    let expected = ostree(&[
        &format!("--repo={}", repo_path.display()),
        "rev-parse",
        "testref",
    ]);
    assert_eq!(c.to_string(), expected.trim());
    let commit = repo.read_commit(&c).unwrap();
    let raw = repo.read_metadata(ObjectType::Commit, &c).unwrap();
    assert_eq!(commit.encode(), raw, "commit re-encodes byte for byte");
    // Detached metadata holds the ed25519 signature.
    let meta = repo.read_commit_detached_metadata(&c).unwrap().unwrap();
    let entries = ostree_store::parse_metadata(&meta).unwrap();
    assert!(
        entries.iter().any(|e| e.key == "ostree.sign.ed25519"),
        "{entries:?}"
    );
    let report = ostree_store::fsck(&repo, &[c], true);
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.objects_checked, 4);
    // Also via the tarball.
    let dir = tempfile::tempdir().unwrap();
    extract(
        &fixtures().join("ostree/ostreedev/pre-signed-pull-data.tar.gz"),
        dir.path(),
    );
    let r2 = Repo::open(find_repo(dir.path())).unwrap();
    assert_eq!(r2.resolve_rev("testref").unwrap(), c);
}

#[test]
fn path_traversal_repo_is_rejected_safely() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &fixtures().join("ostree/unpacked/ostree-path-traverse"),
        &dir.path().join("copy"),
    );
    let repo_path = find_repo(&dir.path().join("copy"));
    let before = common::describe_tree(dir.path());
    let repo = Repo::open(&repo_path).unwrap();
    let c = repo.resolve_rev("pathtraverse-test").unwrap();
    let t = repo.traverse_commit(&c);
    assert!(!t.errors.is_empty(), "the unsafe dirtree must be refused");
    let (r, e) = &t.errors[0];
    assert_eq!(r.objtype, ObjectType::DirTree);
    assert!(
        matches!(e, Error::Corrupt { checksum, .. } if checksum == &r.checksum),
        "{e}"
    );
    assert!(e.to_string().contains("invalid file name"), "{e}");
    let report = ostree_store::fsck(&repo, &[c], true);
    assert!(!report.is_clean());
    // Rebuilding it elsewhere cannot get past the bad dirtree, and nothing
    // is written outside the target repository.
    let dst = Repo::init(dir.path().join("dst"), RepoMode::BareUser).unwrap();
    let tx = dst.transaction().unwrap();
    for o in &t.objects {
        if o.objtype == ObjectType::File {
            let (h, rd) = repo.read_file(&o.checksum).unwrap();
            tx.write_content_with_checksum(&o.checksum, &h, rd).unwrap();
        }
    }
    tx.commit().unwrap();
    let mut after = common::describe_tree(dir.path());
    after.retain(|l| !l.starts_with("dst"));
    assert_eq!(before, after);
}

#[test]
fn tarball_repos() {
    let dir = tempfile::tempdir().unwrap();
    // Static-delta repos (big- and little-endian writers): plain archive repos.
    for name in [
        "pre-endian-deltas-repo-big",
        "pre-endian-deltas-repo-little",
    ] {
        let d = dir.path().join(name);
        extract(
            &fixtures().join(format!("ostree/ostreedev/{name}.tar.xz")),
            &d,
        );
        let path = find_repo(&d);
        let repo = Repo::open(&path).unwrap();
        let refs = repo.list_refs().unwrap();
        assert!(!refs.is_empty());
        let commits: Vec<Checksum> = refs.iter().map(|r| r.checksum).collect();
        let report = ostree_store::fsck(&repo, &commits, true);
        assert!(report.is_clean(), "{name}: {:?}", report.problems);
        let (ok, out) = ostree_status(&[&format!("--repo={}", path.display()), "fsck"]);
        assert!(ok, "{out}");
    }
    // bare-split-xattrs: content xattrs come from `.file-xattrs-link` objects;
    // every object verifies, and writing is refused.
    let d = dir.path().join("split");
    extract(
        &fixtures().join("ostree/ostreedev/bare-split-xattrs-basic.tar.xz"),
        &d,
    );
    let repo = Repo::open(find_repo(&d)).unwrap();
    assert_eq!(repo.mode(), RepoMode::BareSplitXattrs);
    let commits = repo.list_commit_objects().unwrap();
    assert_eq!(commits.len(), 1);
    let report = ostree_store::fsck(&repo, &commits, true);
    assert!(report.is_clean(), "{:?}", report.problems);
    let t = repo.traverse_commit(&commits[0]);
    let with_xattrs = t
        .objects
        .iter()
        .filter(|o| o.objtype == ObjectType::File)
        .filter(|o| !repo.read_file(&o.checksum).unwrap().0.xattrs.is_empty())
        .count();
    assert_eq!(with_xattrs, 1);
    let e = repo
        .write_content(&ostree_store::FileHeader::regular(0, 0, 0o644), &b"x"[..])
        .unwrap_err();
    assert!(matches!(e, Error::Unsupported(_)), "{e}");
}

/// Builds an osbuild-style commit tarball: `repo/` + `compose.json`.
fn make_commit_archive(dir: &Path) -> (PathBuf, String) {
    let tree = dir.join("tree");
    fs::create_dir_all(tree.join("usr/bin")).unwrap();
    fs::write(tree.join("usr/bin/tool"), b"#!/bin/sh\n").unwrap();
    let repo = dir.join("stage/repo");
    fs::create_dir_all(dir.join("stage")).unwrap();
    let r = format!("--repo={}", repo.display());
    ostree(&[&r, "init", "--mode=archive"]);
    let c = ostree(&[
        &r,
        "commit",
        "-b",
        "rhel/8/x86_64/edge",
        &format!("--tree=dir={}", tree.display()),
        "--add-metadata-string=version=8.5",
        "--add-metadata-string=rpmostree.inputhash=abc",
    ])
    .trim()
    .to_string();
    // compose.json with the keys of the real one in the fixtures.
    let real =
        fs::read_to_string(fixtures().join("osbuild/edge-commit/compose.rhel8-edge.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&real).unwrap();
    v["ostree-commit"] = serde_json::Value::String(c.clone());
    v["ostree-version"] = serde_json::Value::String("8.5".into());
    fs::write(dir.join("stage/compose.json"), v.to_string()).unwrap();
    let tar = dir.join("commit.tar");
    let st = Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(dir.join("stage"))
        .arg("compose.json")
        .arg("repo")
        .status()
        .unwrap();
    assert!(st.success());
    (tar, c)
}

fn check_archive(ar: &CommitArchive, c: &str) {
    let compose = ar.compose().unwrap();
    assert_eq!(compose.ref_name.as_deref(), Some("rhel/8/x86_64/edge"));
    assert_eq!(compose.version.as_deref(), Some("8.5"));
    assert_eq!(ar.commit().unwrap().to_string(), c);
    let repo = ar.repo();
    assert_eq!(
        repo.resolve_rev("rhel/8/x86_64/edge").unwrap().to_string(),
        c
    );
    assert_eq!(repo.resolve_rev(&c[..8]).unwrap().to_string(), c);
    assert_eq!(repo.list_refs().unwrap().len(), 1);
    assert_eq!(repo.list_commit_objects().unwrap().len(), 1);
    let commit = repo.read_commit(&ar.commit().unwrap()).unwrap();
    assert_eq!(commit.version().as_deref(), Some("8.5"));
    assert_eq!(
        commit.metadata_string("rpmostree.inputhash").as_deref(),
        Some("abc")
    );
    let report = ostree_store::fsck(repo, &[commit.checksum()], true);
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.objects_checked, 6);
}

#[test]
fn osbuild_commit_archive() {
    let dir = tempfile::tempdir().unwrap();
    let (tar, c) = make_commit_archive(dir.path());
    // Read in place: nothing is unpacked, writes are refused.
    {
        let ar = CommitArchive::open(&tar).unwrap();
        assert!(ar.dir().is_none());
        assert!(ar.repo().is_in_tar());
        check_archive(&ar, &c);
        let e = ar.repo().transaction().err().unwrap();
        assert!(matches!(e, Error::Unsupported(_)), "{e}");
        assert!(ar.repo().set_ref("x", None).is_err());
    }
    // Unpacked into a temporary directory that is removed on drop.
    let scratch = dir.path().join("scratch");
    fs::create_dir(&scratch).unwrap();
    let tmp_dir;
    {
        let ar = CommitArchive::open_in(&tar, &scratch).unwrap();
        tmp_dir = ar.dir().unwrap().to_path_buf();
        assert!(tmp_dir.starts_with(&scratch));
        check_archive(&ar, &c);
    }
    assert!(!tmp_dir.exists(), "temporary directory removed on drop");
    assert_eq!(fs::read_dir(&scratch).unwrap().count(), 0);
    // A corrupt object inside the tar is reported by fsck when read in place.
    let mut bytes = fs::read(&tar).unwrap();
    let ar = CommitArchive::open(&tar).unwrap();
    let t = ar.repo().traverse_commit(&ar.commit().unwrap());
    let f = t
        .objects
        .iter()
        .find(|o| o.objtype == ObjectType::File && o.path == "/usr/bin/tool")
        .unwrap()
        .clone();
    drop(ar);
    let name = format!("{}.filez", &f.checksum.to_string()[2..]);
    let at = bytes
        .windows(name.len())
        .position(|w| w == name.as_bytes())
        .unwrap();
    // Data starts at the next 512-byte block after the header; flip a byte of
    // the compressed payload near its end.
    let data = (at / 512 + 1) * 512;
    let size = usize::from_str_radix(
        std::str::from_utf8(&bytes[at - at % 512 + 124..at - at % 512 + 135]).unwrap(),
        8,
    )
    .unwrap();
    bytes[data + size - 2] ^= 0xff;
    let bad_tar = dir.path().join("bad.tar");
    fs::write(&bad_tar, &bytes).unwrap();
    let ar = CommitArchive::open(&bad_tar).unwrap();
    let report = ostree_store::fsck(ar.repo(), &[ar.commit().unwrap()], true);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].path, "/usr/bin/tool");
}

/// Writes a raw ustar header+data with an arbitrary (unsafe) name.
fn raw_tar_entry(out: &mut Vec<u8>, name: &str, typeflag: u8, data: &[u8], link: &str) {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = typeflag;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

#[test]
fn malicious_commit_archives_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path().join("a/b");
    fs::create_dir_all(&scratch).unwrap();
    for (name, typeflag, link) in [
        ("repo/../../escape", b'0', ""),
        ("/abs-escape", b'0', ""),
        ("repo/objects/evil-link", b'2', "/etc"),
        ("repo/hard", b'1', "/etc/passwd"),
    ] {
        let mut t = Vec::new();
        raw_tar_entry(
            &mut t,
            "repo/config",
            b'0',
            b"[core]\nmode=archive-z2\n",
            "",
        );
        raw_tar_entry(&mut t, name, typeflag, b"evil", link);
        t.extend_from_slice(&[0u8; 1024]);
        let tar = dir.path().join("evil.tar");
        fs::write(&tar, &t).unwrap();
        let e = CommitArchive::open_in(&tar, &scratch).err().unwrap();
        assert!(e.to_string().contains("evil.tar"), "{name}: {e}");
        let e = CommitArchive::open(&tar).err().unwrap();
        assert!(e.to_string().contains("evil.tar"), "{name}: {e}");
        assert_eq!(fs::read_dir(&scratch).unwrap().count(), 0, "{name}");
    }
    assert!(!dir.path().join("escape").exists());
    assert!(!dir.path().join("a/escape").exists());
    // Not a tar at all / no repo inside.
    let junk = dir.path().join("junk.tar");
    fs::write(&junk, vec![7u8; 3000]).unwrap();
    assert!(CommitArchive::open_in(&junk, &scratch).is_err());
    assert!(CommitArchive::open(&junk).is_err());
    assert_eq!(fs::read_dir(&scratch).unwrap().count(), 0);
}
