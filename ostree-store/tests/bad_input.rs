//! Bad input: truncated or corrupt objects, objects whose content does not
//! match their name, garbage refs, unknown modes, malformed GVariant. Each
//! must give a typed error naming the object or file — never a panic.

mod common;

use std::fs;
use std::path::Path;

use common::{ostree, pseudo_random};
use ostree_store::{
    Checksum, Commit, DirMeta, DirTree, Error, FileHeader, ObjectType, Repo, RepoMode,
};

/// A small repository made by `ostree` in `mode`; returns (repo, commit).
fn small_repo(dir: &Path, mode: &str) -> (Repo, Checksum) {
    let tree = dir.join("tree");
    fs::create_dir_all(tree.join("sub")).unwrap();
    fs::write(tree.join("a.txt"), b"aaaa\n").unwrap();
    fs::write(tree.join("sub/b.bin"), pseudo_random(300_000, 7)).unwrap();
    std::os::unix::fs::symlink("a.txt", tree.join("link")).unwrap();
    let repo = dir.join("repo");
    let r = format!("--repo={}", repo.display());
    ostree(&[&r, "init", &format!("--mode={mode}")]);
    let c = ostree(&[
        &r,
        "commit",
        "-b",
        "main",
        &format!("--tree=dir={}", tree.display()),
        "-s",
        "s",
    ]);
    (Repo::open(&repo).unwrap(), c.trim().parse().unwrap())
}

fn file_object(repo: &Repo, commit: &Checksum, path: &str) -> Checksum {
    repo.traverse_commit(commit)
        .objects
        .into_iter()
        .find(|o| o.path == path)
        .unwrap_or_else(|| panic!("{path} not in commit"))
        .checksum
}

fn make_writable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn truncated_and_swapped_content() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, commit) = small_repo(dir.path(), "archive");
    let b = file_object(&repo, &commit, "/sub/b.bin");
    let a = file_object(&repo, &commit, "/a.txt");

    // Truncated .filez: a corrupt/mismatch error naming b.
    let bp = repo.loose_path(ObjectType::File, &b);
    let orig = fs::read(&bp).unwrap();
    make_writable(&bp);
    // A header whose recorded size disagrees with the content.
    let mut wrong_size = orig.clone();
    wrong_size[15] ^= 1;
    fs::write(&bp, &wrong_size).unwrap();
    let e = repo.verify_file(&b).unwrap_err();
    assert!(e.to_string().contains("header says"), "{e}");
    fs::write(&bp, &orig[..orig.len() / 2]).unwrap();
    let e = repo.verify_file(&b).unwrap_err();
    assert!(
        matches!(e, Error::Corrupt { checksum, .. } | Error::ChecksumMismatch { expected: checksum, .. } if checksum == b),
        "{e}"
    );
    assert!(e.to_string().contains(&b.to_string()));
    // Truncated inside the header.
    fs::write(&bp, &orig[..5]).unwrap();
    let e = repo.verify_file(&b).unwrap_err();
    assert!(matches!(e, Error::Corrupt { .. }), "{e}");

    // Content of `a` stored under b's name.
    fs::copy(repo.loose_path(ObjectType::File, &a), &bp).unwrap();
    let e = repo.verify_file(&b).unwrap_err();
    match e {
        Error::ChecksumMismatch {
            expected, actual, ..
        } => {
            assert_eq!(expected, b);
            assert_eq!(actual, a);
        }
        e => panic!("unexpected {e}"),
    }

    // fsck reports it with its path, and a missing object as missing.
    fs::remove_file(repo.loose_path(ObjectType::File, &a)).unwrap();
    let report = ostree_store::fsck(&repo, &[commit], true);
    assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
    let pb = report.problems.iter().find(|p| p.checksum == b).unwrap();
    assert_eq!(pb.path, "/sub/b.bin");
    assert!(!pb.missing);
    let pa = report.problems.iter().find(|p| p.checksum == a).unwrap();
    assert_eq!(pa.path, "/a.txt");
    assert!(pa.missing);
    // ostree agrees that the repository is broken.
    let (ok, _) = common::ostree_status(&[&format!("--repo={}", repo.path().display()), "fsck"]);
    assert!(!ok);
}

#[test]
fn corrupt_metadata_objects() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, commit) = small_repo(dir.path(), "bare-user");
    let c = repo.read_commit(&commit).unwrap();

    // A flipped byte in a dirtree: checksum mismatch naming the dirtree,
    // and traversal/fsck report it at its path.
    let sub = repo.read_dirtree(&c.root_tree).unwrap().dirs[0].clone();
    let p = repo.loose_path(ObjectType::DirTree, &sub.1);
    let mut bytes = fs::read(&p).unwrap();
    bytes[0] ^= 0xff;
    make_writable(&p);
    fs::write(&p, &bytes).unwrap();
    let e = repo.read_dirtree(&sub.1).unwrap_err();
    assert!(
        matches!(e, Error::ChecksumMismatch { expected, objtype: ObjectType::DirTree, .. } if expected == sub.1)
    );
    let report = ostree_store::fsck(&repo, &[commit], true);
    assert!(report
        .problems
        .iter()
        .any(|p| p.checksum == sub.1 && p.path == "/sub" && p.objtype == ObjectType::DirTree));

    // Malformed GVariant whose name matches its bytes: a shape error.
    let garbage = b"\x01\x02\x03garbage\xff".to_vec();
    let gc = Checksum::of_bytes(&garbage);
    for t in [ObjectType::DirTree, ObjectType::DirMeta, ObjectType::Commit] {
        let gp = repo.loose_path(t, &gc);
        fs::create_dir_all(gp.parent().unwrap()).unwrap();
        fs::write(&gp, &garbage).unwrap();
        let e = repo.read_metadata(t, &gc).unwrap_err();
        assert!(
            matches!(e, Error::Corrupt { checksum, .. } if checksum == gc),
            "{t}: {e}"
        );
    }
    assert!(repo.read_commit(&gc).is_err());

    // bare-user file without its user.ostreemeta xattr.
    let a = file_object(&repo, &commit, "/a.txt");
    let ap = repo.loose_path(ObjectType::File, &a);
    xattr::remove(&ap, "user.ostreemeta").unwrap();
    let e = repo.read_file(&a).unwrap_err();
    assert!(
        matches!(e, Error::Corrupt { checksum, .. } if checksum == a),
        "{e}"
    );
    // Garbage in the xattr.
    xattr::set(&ap, "user.ostreemeta", b"\xff\xff").unwrap();
    assert!(matches!(
        repo.read_file(&a).unwrap_err(),
        Error::Corrupt { .. }
    ));
}

#[test]
fn garbage_refs_and_config() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, commit) = small_repo(dir.path(), "archive");
    let heads = repo.path().join("refs/heads");
    fs::write(heads.join("garbage"), b"not a checksum\n").unwrap();
    let e = repo.list_refs().unwrap_err();
    assert!(
        matches!(&e, Error::BadRef { path, .. } if path.ends_with("refs/heads/garbage")),
        "{e}"
    );
    assert!(matches!(
        repo.resolve_rev("garbage"),
        Err(Error::BadRef { .. })
    ));
    fs::remove_file(heads.join("garbage")).unwrap();
    assert!(matches!(
        repo.resolve_rev("nosuchref"),
        Err(Error::RevNotFound(_))
    ));
    assert!(matches!(
        repo.resolve_rev("../../config"),
        Err(Error::RevNotFound(_))
    ));
    assert!(repo.set_ref("../evil", Some(&commit)).is_err());
    assert!(!dir.path().join("repo/refs/evil").exists());
    // Remote refs and prefixes.
    repo.set_ref("origin:os/stable", Some(&commit)).unwrap();
    assert_eq!(repo.resolve_rev("origin:os/stable").unwrap(), commit);
    assert_eq!(repo.list_refs().unwrap().len(), 2);
    assert!(repo
        .list_refs()
        .unwrap()
        .iter()
        .any(|r| r.display_name() == "origin:os/stable"));
    assert_eq!(repo.resolve_rev(&commit.to_string()[..6]).unwrap(), commit);
    // Mirror refs (refs/mirrors/COLLECTION-ID/REF).
    let m = repo.path().join("refs/mirrors/org.example.Os");
    fs::create_dir_all(m.join("os")).unwrap();
    fs::write(m.join("os/stable"), format!("{commit}\n")).unwrap();
    let refs = repo.list_refs().unwrap();
    let mirror = refs
        .iter()
        .find(|r| r.kind == ostree_store::RefKind::Mirror("org.example.Os".into()))
        .unwrap();
    assert_eq!(mirror.name, "os/stable");
    assert_eq!(mirror.display_name(), "org.example.Os:os/stable");
    assert_eq!(
        repo.resolve_rev("org.example.Os:os/stable").unwrap(),
        commit
    );

    // Unknown mode / broken config / missing config.
    let cfg = repo.path().join("config");
    fs::write(&cfg, "[core]\nrepo_version=1\nmode=weird\n").unwrap();
    let e = Repo::open(repo.path()).unwrap_err();
    assert!(
        matches!(&e, Error::UnknownMode { mode, path } if mode == "weird" && path == &cfg),
        "{e}"
    );
    fs::write(&cfg, "mode=bare\n").unwrap();
    assert!(matches!(Repo::open(repo.path()), Err(Error::Config { .. })));
    fs::remove_file(&cfg).unwrap();
    let e = Repo::open(repo.path()).unwrap_err();
    assert!(e.to_string().contains("config"), "{e}");
    assert!(Repo::open(dir.path().join("nope")).is_err());
}

#[test]
fn writer_rejects_wrong_content() {
    let dir = tempfile::tempdir().unwrap();
    for mode in [
        RepoMode::Archive,
        RepoMode::Bare,
        RepoMode::BareUser,
        RepoMode::BareUserOnly,
    ] {
        let path = dir.path().join(mode.config_name());
        let repo = Repo::init(&path, mode).unwrap();
        let h = FileHeader::regular(0, 0, 0o644);
        let good = repo.write_content(&h, &b"data"[..]).unwrap();
        let wrong = Checksum([9; 32]);
        let e = repo
            .write_content_with_checksum(&wrong, &h, &b"other"[..])
            .unwrap_err();
        assert!(matches!(e, Error::WrongContent { expected, .. } if expected == wrong));
        // Only the good object is stored; staging is cleaned up.
        let n: usize = fs::read_dir(path.join("objects"))
            .unwrap()
            .map(|d| fs::read_dir(d.unwrap().path()).unwrap().count())
            .sum();
        assert_eq!(n, 1, "{mode:?}");
        assert!(repo.has_object(ObjectType::File, &good));
        assert_eq!(fs::read_dir(path.join("tmp")).unwrap().count(), 1); // tmp/cache
                                                                        // Invalid metadata is refused.
        assert!(repo
            .write_metadata(ObjectType::DirTree, b"\x05junk")
            .is_err());
        // Re-init with another mode is refused; same mode reopens.
        assert!(Repo::init(&path, RepoMode::Bare).is_err() || mode == RepoMode::Bare);
        assert!(Repo::init(&path, mode).is_ok());
    }
    // bare-user-only refuses setuid content, as libostree does.
    let r = Repo::open(dir.path().join("bare-user-only")).unwrap();
    assert!(r
        .write_content(&FileHeader::regular(0, 0, 0o4755), &b"x"[..])
        .is_err());
}

/// Random and truncated inputs to every decoder: errors, never panics.
#[test]
fn decoders_never_panic() {
    let valid_commit = Commit {
        metadata: ostree_store::encode_metadata(&[ostree_store::MetaEntry::string("version", "1")]),
        parent: None,
        related: vec![],
        subject: "x".into(),
        body: "y".into(),
        timestamp: 5,
        root_tree: Checksum([1; 32]),
        root_meta: Checksum([2; 32]),
    }
    .encode();
    let valid_tree = DirTree {
        files: vec![("f".into(), Checksum([3; 32]))],
        dirs: vec![("d".into(), Checksum([4; 32]), Checksum([5; 32]))],
    }
    .encode();
    let valid_meta = DirMeta {
        uid: 1,
        gid: 2,
        mode: 0o40755,
        xattrs: vec![(b"user.x\0".to_vec(), b"v".to_vec())],
    }
    .encode();
    let header = FileHeader::regular(1, 2, 0o644).encode_archive_header(10);
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for v in [
        &valid_commit,
        &valid_tree,
        &valid_meta,
        &header[8..].to_vec(),
    ] {
        for n in 0..v.len() {
            inputs.push(v[..n].to_vec());
            let mut flipped = v.clone();
            flipped[n] ^= 0xa5;
            inputs.push(flipped);
        }
    }
    for seed in 1..400u64 {
        inputs.push(pseudo_random((seed as usize * 7) % 200, seed));
    }
    for i in &inputs {
        let _ = Commit::decode(i);
        let _ = DirTree::decode(i);
        let _ = DirMeta::decode(i);
        let _ = FileHeader::decode_archive_header(i);
        let _ = FileHeader::decode_bareuser_meta(i);
        let _ = ostree_store::parse_metadata(i);
    }
    // The valid ones decode.
    assert!(Commit::decode(&valid_commit).is_ok());
    assert!(DirTree::decode(&valid_tree).is_ok());
    assert!(DirMeta::decode(&valid_meta).is_ok());
}

/// `core.per-object-fsync=true` and `core.fsync=false` are honoured paths too, and the
/// default flushes the objects' data once before they are renamed into place, then
/// makes the renames durable with an fsync per directory when few directories were
/// touched, or with one more `syncfs` when many were.
#[test]
fn fsync_policies() {
    // The writing runs in a child (this test again, told by the environment) under the
    // real strace, which counts what it syncs: per-object-fsync=true fsyncs every
    // non-symlink object as it is written, fsync=false syncs nothing at all.
    // (extra config line, regular files written: 0 for write_three_objects)
    let policies = [
        ("per-object-fsync=true", 0),
        ("fsync=false", 0),
        ("", 1),
        ("", 64),
    ];
    if let Ok(path) = std::env::var("OSTREE_STORE_FSYNC_CHILD") {
        match std::env::var("OSTREE_STORE_FSYNC_FILES").map(|n| n.parse::<usize>()) {
            Ok(Ok(n)) if n > 0 => write_regular_files(Path::new(&path), n),
            _ => write_three_objects(Path::new(&path)),
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (i, (extra, files)) in policies.iter().enumerate() {
        let path = dir.path().join(format!("r{i}"));
        Repo::init(&path, RepoMode::BareUser).unwrap();
        let cfg = path.join("config");
        let text = fs::read_to_string(&cfg).unwrap();
        fs::write(&cfg, format!("{text}{extra}\n")).unwrap();
        let log = dir.path().join(format!("strace-{i}"));
        let out = std::process::Command::new("strace")
            .args(["-f", "-qq", "-e", "trace=fsync,fdatasync,syncfs,sync", "-o"])
            .arg(&log)
            .arg(std::env::current_exe().unwrap())
            .args(["--exact", "fsync_policies", "--test-threads=1"])
            .env("OSTREE_STORE_FSYNC_CHILD", &path)
            .env("OSTREE_STORE_FSYNC_FILES", files.to_string())
            .output()
            .expect("running strace (apt-get install strace)");
        assert!(
            out.status.success(),
            "{extra}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let calls = fs::read_to_string(&log).unwrap();
        let count = |name: &str| {
            calls
                .lines()
                .filter(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .is_some_and(|c| c.starts_with(&format!("{name}(")))
                })
                .count()
        };
        let (fsyncs, syncfs) = (
            count("fsync") + count("fdatasync"),
            count("syncfs") + count("sync"),
        );
        match (*extra, files) {
            ("per-object-fsync=true", _) => assert!(fsyncs >= 2, "{extra}: {calls}"),
            ("fsync=false", _) => assert_eq!(fsyncs + syncfs, 0, "{extra}: {calls}"),
            // One object: its new directory objects/XX/ and objects/ fsynced after the
            // flush.
            (_, 1) => assert_eq!((syncfs, fsyncs), (1, 2), "{files} files: {calls}"),
            // Objects in dozens of directories: a second flush instead of an fsync each.
            _ => assert_eq!((syncfs, fsyncs), (2, 0), "{files} files: {calls}"),
        }
    }
}

/// The writing half of [`fsync_policies`] for the default policy: `n` regular files
/// of different contents in one transaction of the repository at `path`.
fn write_regular_files(path: &Path, n: usize) {
    let repo = Repo::open(path).unwrap();
    let tx = repo.transaction().unwrap();
    let h = FileHeader::regular(0, 0, 0o644);
    let sums: Vec<_> = (0..n)
        .map(|i| {
            tx.write_content(&h, format!("file {i}\n").as_bytes())
                .unwrap()
        })
        .collect();
    tx.commit().unwrap();
    for c in &sums {
        repo.verify_file(c).unwrap();
    }
}

/// The writing half of [`fsync_policies`]: a regular file, a symlink and a dirmeta in
/// one transaction of the repository at `path`, then read back.
fn write_three_objects(path: &Path) {
    let repo = Repo::open(path).unwrap();
    let tx = repo.transaction().unwrap();
    let f = tx
        .write_content(&FileHeader::regular(0, 0, 0o755), &b"#!/bin/sh\n"[..])
        .unwrap();
    let l = tx
        .write_content(&FileHeader::symlink(0, 0, "target"), &b""[..])
        .unwrap();
    let m = tx
        .write_metadata(ObjectType::DirMeta, &DirMeta::default().encode())
        .unwrap();
    tx.commit().unwrap();
    repo.verify_file(&f).unwrap();
    repo.verify_file(&l).unwrap();
    assert!(repo.has_object(ObjectType::DirMeta, &m));
}

#[test]
fn archive_content_of_every_size_read_and_checked() {
    use ostree_store::filez::{WHOLE_FILE_MAX, WHOLE_INFLATE_MAX};
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::init(dir.path().join("repo"), RepoMode::Archive).unwrap();
    let h = FileHeader::regular(0, 0, 0o644);
    let max = WHOLE_INFLATE_MAX as usize;
    // Inflated whole (empty, small, exactly the bound); streamed from the bytes read
    // (just over the bound, and very compressible content); streamed from the file.
    let cases = [
        Vec::new(),
        b"aaaa\n".to_vec(),
        pseudo_random(max, 1),
        pseudo_random(max + 1, 2),
        vec![0u8; 4 * max],
        pseudo_random(3 * max, 3),
    ];
    for data in &cases {
        let c = repo.write_content(&h, &data[..]).unwrap();
        let p = repo.loose_path(ObjectType::File, &c);
        let file_len = fs::metadata(&p).unwrap().len();
        if data.len() == 3 * max {
            assert!(file_len > WHOLE_FILE_MAX);
        } else {
            assert!(file_len <= WHOLE_FILE_MAX);
        }
        let (h2, mut r) = repo.read_file(&c).unwrap();
        assert_eq!(h2, h);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert!(out == *data, "content of {} bytes differs", data.len());
        repo.verify_file(&c).unwrap();

        // The recorded size one off (the last byte of the big-endian u64 that leads the
        // header, after the 8-byte prefix): an error naming the object, never a panic.
        let orig = fs::read(&p).unwrap();
        make_writable(&p);
        let mut wrong_size = orig.clone();
        wrong_size[15] ^= 1;
        fs::write(&p, &wrong_size).unwrap();
        let e = repo.verify_file(&c).unwrap_err();
        assert!(e.to_string().contains("header says"), "{}: {e}", data.len());
        assert!(e.to_string().contains(&c.to_string()), "{e}");
        // Truncated content.
        fs::write(&p, &orig[..orig.len() - 1]).unwrap();
        let e = repo.verify_file(&c).unwrap_err();
        assert!(
            matches!(&e, Error::Corrupt { checksum, .. } | Error::ChecksumMismatch { expected: checksum, .. } if *checksum == c),
            "{}: {e}",
            data.len()
        );
        // Garbage instead of deflate data.
        let mut garbage = orig.clone();
        let start = garbage.len() - (garbage.len() - 8).min(64);
        for b in &mut garbage[start..] {
            *b = 0xff;
        }
        fs::write(&p, &garbage).unwrap();
        assert!(repo.verify_file(&c).is_err(), "{}", data.len());
        fs::write(&p, &orig).unwrap();
        repo.verify_file(&c).unwrap();
    }
}
