//! Helpers shared by the cross-tool tests: building trees, running `ostree`.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `ostree ARGS…`, failing the test with its stderr if it fails.
pub fn ostree(args: &[&str]) -> String {
    let out = Command::new("ostree")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `ostree` ({e}); install the Debian package `ostree`")
        });
    assert!(
        out.status.success(),
        "ostree {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `ostree ARGS…` and returns (success, stdout+stderr).
pub fn ostree_status(args: &[&str]) -> (bool, String) {
    let out = Command::new("ostree")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `ostree` ({e}); install the Debian package `ostree`")
        });
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The shared real-world fixtures directory (env JIGDO_SHARED_DIR overrides).
pub fn fixtures() -> PathBuf {
    let base = std::env::var_os("JIGDO_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    let d = base.join("fixtures/real-world");
    assert!(
        d.is_dir(),
        "shared fixtures not found at {} (set JIGDO_SHARED_DIR)",
        d.display()
    );
    d
}

/// Deterministic pseudo-random bytes (xorshift), for large test files.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

fn chown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).expect("lchown (tests run as root)");
}

fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Builds a test tree at `root`. `full` adds what bare-user-only cannot
/// hold: setuid/setgid/sticky bits, foreign owners and user xattrs.
pub fn make_tree(root: &Path, full: bool) {
    fs::create_dir_all(root).unwrap();
    chmod(root, 0o755);
    fs::write(root.join("regular.txt"), b"hello world\n").unwrap();
    fs::write(root.join("empty"), b"").unwrap();
    // Large file: 20 MiB, 4 MiB random then zeros (streams through many
    // buffers; mostly-zero content keeps deflate in the tools fast).
    let mut big = pseudo_random(4 << 20, 42);
    big.extend(std::iter::repeat_n(0u8, 16 << 20));
    fs::write(root.join("large.bin"), &big).unwrap();
    symlink("regular.txt", root.join("link")).unwrap();
    symlink("does/not/exist", root.join("dangling")).unwrap();
    symlink("/abs/target", root.join("abs-link")).unwrap();
    fs::hard_link(root.join("regular.txt"), root.join("hardlink.txt")).unwrap();
    fs::write(root.join("exec.sh"), b"#!/bin/sh\necho hi\n").unwrap();
    chmod(&root.join("exec.sh"), 0o755);
    fs::write(root.join("odd-mode"), b"odd").unwrap();
    chmod(&root.join("odd-mode"), 0o640);
    fs::write(root.join("group-w"), b"gw").unwrap();
    chmod(&root.join("group-w"), 0o664);
    // Non-ASCII names.
    fs::write(root.join("ünïcødé-文件-😀.txt"), b"unicode\n").unwrap();
    fs::create_dir(root.join("répertoire")).unwrap();
    fs::write(root.join("répertoire/fichier"), b"x").unwrap();
    // Deep directories.
    let mut d = root.join("deep");
    for i in 0..40 {
        d = d.join(format!("level{i}"));
    }
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join("bottom"), b"bottom\n").unwrap();
    // Wide directory (files and subdirectories, some identical).
    let w = root.join("wide");
    fs::create_dir(&w).unwrap();
    for i in 0..400 {
        fs::write(w.join(format!("f{i:04}")), format!("file {i}\n")).unwrap();
    }
    for i in 0..60 {
        fs::create_dir(w.join(format!("d{i:03}"))).unwrap();
        if i % 2 == 0 {
            fs::write(w.join(format!("d{i:03}/same")), b"same\n").unwrap();
        }
    }
    fs::create_dir(root.join("empty-dir")).unwrap();
    fs::create_dir(root.join("private-dir")).unwrap();
    chmod(&root.join("private-dir"), 0o700);
    if full {
        fs::write(root.join("setuid"), b"suid").unwrap();
        chmod(&root.join("setuid"), 0o4755);
        fs::write(root.join("setgid"), b"sgid").unwrap();
        chmod(&root.join("setgid"), 0o2711);
        fs::write(root.join("no-perms"), b"none").unwrap();
        chmod(&root.join("no-perms"), 0o000);
        fs::create_dir(root.join("sticky")).unwrap();
        chmod(&root.join("sticky"), 0o1777);
        fs::write(root.join("owned"), b"owned by 1000").unwrap();
        chown(&root.join("owned"), 1000, 1001);
        fs::create_dir(root.join("owned-dir")).unwrap();
        chown(&root.join("owned-dir"), 4242, 4243);
        chown(&root.join("link"), 7, 8);
        fs::write(root.join("xattr-file"), b"with xattrs").unwrap();
        xattr::set(root.join("xattr-file"), "user.one", b"1").unwrap();
        xattr::set(root.join("xattr-file"), "user.two", b"second value").unwrap();
        fs::create_dir(root.join("xattr-dir")).unwrap();
        xattr::set(root.join("xattr-dir"), "user.dir", b"d").unwrap();
    }
}

/// `ostree init` + `ostree commit` of `tree` twice (second commit has a
/// parent and metadata); returns the second commit's checksum. ostree's own
/// fsync is skipped to keep the suite fast on a busy disk (our writer's is not).
pub fn ostree_commit(repo: &Path, mode: &str, tree: &Path) -> String {
    let r = format!("--repo={}", repo.display());
    ostree(&[&r, "init", &format!("--mode={mode}")]);
    let t = format!("--tree=dir={}", tree.display());
    ostree(&[
        &r,
        "commit",
        "--fsync=false",
        "-b",
        "main",
        &t,
        "-s",
        "first",
        "--timestamp=2020-01-01T00:00:00Z",
    ]);
    ostree(&[
        &r,
        "commit",
        "--fsync=false",
        "-b",
        "main",
        &t,
        "-s",
        "second commit",
        "-m",
        "body text\nline 2",
        "--add-metadata-string=version=1.2.3",
        "--add-metadata-string=ostree.ref-binding=main",
        "--timestamp=2021-06-01T12:34:56Z",
    ])
    .trim()
    .to_string()
}

/// Listing of a checked-out tree: path, type/mode, owner, size, link target,
/// user xattrs, content digest — for comparing two checkouts.
pub fn describe_tree(root: &Path) -> Vec<String> {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let md = fs::symlink_metadata(&d).unwrap();
        let rel = d.strip_prefix(root).unwrap().display().to_string();
        let mut xa: Vec<String> = xattr::list(&d)
            .map(|l| l.map(|n| n.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        xa.sort();
        let extra = if md.file_type().is_symlink() {
            fs::read_link(&d).unwrap().display().to_string()
        } else if md.is_file() {
            hex::encode(Sha256::digest(fs::read(&d).unwrap()))
        } else {
            String::new()
        };
        out.push(format!(
            "{rel} {:o} {} {} {extra} {xa:?}",
            md.mode(),
            md.uid(),
            md.gid()
        ));
        if md.is_dir() {
            for e in fs::read_dir(&d).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    out.sort();
    out
}
