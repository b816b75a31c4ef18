//! Bounded memory for big content objects, and lock compatibility with the
//! real `ostree` (it must see our lock and we must see its).

mod common;

use std::io::Read;

use common::{ostree, ostree_status};
use ostree_store::{FileHeader, LockKind, ObjectType, Repo, RepoMode};

fn peak_rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap()
}

/// A reader producing `len` bytes: a 16 KiB pseudo-random block, repeated.
struct Pattern {
    left: u64,
    pos: usize,
    block: Vec<u8>,
}

impl Pattern {
    fn new(len: u64) -> Self {
        Pattern {
            left: len,
            pos: 0,
            block: common::pseudo_random(16 * 1024, 99),
        }
    }
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = (buf.len() as u64)
            .min(self.left)
            .min((self.block.len() - self.pos) as u64) as usize;
        buf[..k].copy_from_slice(&self.block[self.pos..self.pos + k]);
        self.pos = (self.pos + k) % self.block.len();
        self.left -= k as u64;
        Ok(k)
    }
}

#[test]
fn one_gib_object_streams_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::init(dir.path().join("repo"), RepoMode::Archive).unwrap();
    let before = peak_rss_kib();
    let len = 1u64 << 30;
    let h = FileHeader::regular(0, 0, 0o644);
    let expected = ostree_store::content_checksum(&h, Pattern::new(len)).unwrap();
    let c = repo
        .write_content_with_checksum(&expected, &h, Pattern::new(len))
        .unwrap();
    assert_eq!(c, expected);
    repo.verify_file(&c).unwrap();
    let (_, mut r) = repo.read_file(&c).unwrap();
    assert_eq!(std::io::copy(&mut r, &mut std::io::sink()).unwrap(), len);
    let grown = peak_rss_kib().saturating_sub(before);
    assert!(
        grown < 64 * 1024,
        "peak RSS grew by {grown} KiB for a 1 GiB object"
    );
    assert!(repo.has_object(ObjectType::File, &c));
}

#[test]
fn ostree_sees_our_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("repo");
    let r = format!("--repo={}", path.display());
    ostree(&[&r, "init", "--mode=archive"]);
    // Make ostree give up quickly instead of waiting 30 s for the lock.
    let cfg = path.join("config");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace("[core]\n", "[core]\nlock-timeout-secs=1\n"),
    )
    .unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("f"), b"x").unwrap();
    let t = format!("--tree=dir={}", tree.display());
    let repo = Repo::open(&path).unwrap();

    // Our exclusive lock blocks ostree's commit (it takes a shared lock).
    let guard = repo.lock(LockKind::Exclusive).unwrap();
    let (ok, out) = ostree_status(&[&r, "commit", "-b", "x", &t]);
    assert!(
        !ok,
        "ostree committed while we held the exclusive lock: {out}"
    );
    assert!(out.to_lowercase().contains("lock"), "{out}");
    drop(guard);

    // Our shared lock (a transaction) lets ostree commit alongside.
    let tx = repo.transaction().unwrap();
    let (ok, out) = ostree_status(&[&r, "commit", "-b", "x", &t]);
    assert!(ok, "{out}");
    // …but blocks ostree's exclusive operations (prune).
    let (ok, out) = ostree_status(&[&r, "prune", "--refs-only"]);
    assert!(
        !ok,
        "ostree prune ran while our transaction was open: {out}"
    );
    tx.commit().unwrap();
    let (ok, out) = ostree_status(&[&r, "prune", "--refs-only"]);
    assert!(ok, "{out}");
}
