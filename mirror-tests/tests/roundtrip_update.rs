//! Updates and bad input for `jigdo unpack`, with packages built by the real `rpmbuild`,
//! trees committed by the real `ostree` (examples/compose-tree.sh) and packed by
//! `jigdo pack`:
//! - v2 changes one package and adds another: unpacking v2 into the repository holding
//!   v1 imports exactly those 2 packages, and both commits stay valid;
//! - objects of v1 lost under a subtree v2 shares with it are rebuilt by the update;
//! - bad input (a pinned RPM missing, a pinned RPM replaced by other bytes, a truncated
//!   or corrupted jigdo RPM, an unknown format version) fails with a clear one-line error
//!   and changes nothing in the target repository (refs and `ostree fsck`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use mirror_tests::*;

jigdo_command!();

const REF: &str = "example/os";

struct World {
    dir: PathBuf,
    v1_pkgs: PathBuf,
    v2_pkgs: PathBuf,
    compose: PathBuf,
    v1_commit: String,
    v2_commit: String,
    v1_rpm: PathBuf,
    v2_rpm: PathBuf,
}

fn alpha(version: &str, lib_seed: u64) -> TestPackage {
    TestPackage::new(
        "jt-alpha",
        version,
        "",
        vec![
            TestFile::regular("/usr/bin/jt-alpha", pseudo_random(1, 40_000), 0o755),
            TestFile::Hardlink {
                path: "/usr/bin/jt-alpha-link".into(),
                to: "/usr/bin/jt-alpha".into(),
            },
            TestFile::regular(
                "/usr/lib64/libjtalpha.so.1",
                pseudo_random(lib_seed, 100_000),
                0o755,
            ),
            TestFile::Symlink {
                path: "/usr/lib64/libjtalpha.so".into(),
                target: "libjtalpha.so.1".into(),
            },
            TestFile::regular("/etc/jt-alpha.conf", b"alpha = yes\n".to_vec(), 0o644),
        ],
    )
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("roundtrip_update");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let v1_pkgs = dir.join("v1");
        let v2_pkgs = dir.join("v2");
        let beta = TestPackage::new(
            "jt-beta",
            "2.1",
            "noarch",
            vec![
                TestFile::regular(
                    "/usr/share/jt-beta/data.txt",
                    b"beta data\n".repeat(500),
                    0o644,
                ),
                TestFile::regular(
                    "/usr/share/jt-beta/big.bin",
                    pseudo_random(3, 1_500_000),
                    0o644,
                ),
                TestFile::regular("/usr/share/jt-beta/empty", Vec::new(), 0o644),
                TestFile::regular("/usr/libexec/jt-beta/helper", pseudo_random(4, 5000), 0o700),
            ],
        );
        let gamma = TestPackage::new(
            "jt-gamma",
            "0.5",
            "noarch",
            vec![TestFile::regular(
                "/usr/share/jt-gamma/readme",
                b"gamma\n".to_vec(),
                0o644,
            )],
        );
        let delta = TestPackage::new(
            "jt-delta",
            "1.0",
            "noarch",
            vec![TestFile::regular(
                "/usr/share/jt-delta/file",
                pseudo_random(6, 70_000),
                0o644,
            )],
        );
        build_rpm(&v1_pkgs, &alpha("1.0", 2));
        for p in [&beta, &gamma] {
            let rpm = build_rpm(&v1_pkgs, p);
            std::fs::create_dir_all(&v2_pkgs).expect("mkdir");
            // v2 pins the very same files of the unchanged packages.
            std::fs::copy(&rpm, v2_pkgs.join(rpm.file_name().expect("name"))).expect("copy");
        }
        build_rpm(&v2_pkgs, &alpha("1.1", 5));
        build_rpm(&v2_pkgs, &delta);

        let compose = dir.join("compose");
        let v1_commit = compose_tree(&v1_pkgs, &compose, REF, "1.0", None);
        let v1_rpm = pack(&compose, &v1_commit, &v1_pkgs, &dir.join("jigdo-v1"));
        let v2_commit = compose_tree(&v2_pkgs, &compose, REF, "2.0", Some(REF));
        let v2_rpm = pack(&compose, &v2_commit, &v2_pkgs, &dir.join("jigdo-v2"));
        World {
            dir,
            v1_pkgs,
            v2_pkgs,
            compose,
            v1_commit,
            v2_commit,
            v1_rpm,
            v2_rpm,
        }
    })
}

fn pack(repo: &Path, rev: &str, pkgs: &Path, out: &Path) -> PathBuf {
    let printed = run(jigdo()
        .args(["pack", "--repo"])
        .arg(repo)
        .args(["--rev", rev, "--from"])
        .arg(pkgs)
        .arg("--output")
        .arg(out)
        .args(["--name", "example-os"]));
    PathBuf::from(printed.trim())
}

fn unpack(jigdo_rpm: &Path, from: &Path, repo: &Path, json: bool) -> Output {
    let mut cmd = jigdo();
    cmd.arg("unpack")
        .arg(jigdo_rpm)
        .arg("--from")
        .arg(from)
        .arg("--repo")
        .arg(repo)
        .args(["--ref", REF]);
    if json {
        cmd.arg("--json");
    }
    run_raw(&mut cmd)
}

/// A fresh repository holding v1 (unpacked from its jigdo RPM).
fn repo_with_v1(name: &str) -> PathBuf {
    let w = world();
    let repo = w.dir.join(name);
    let _ = std::fs::remove_dir_all(&repo);
    let out = ok(unpack(&w.v1_rpm, &w.v1_pkgs, &repo, false));
    assert_eq!(out.trim(), w.v1_commit);
    repo
}

#[test]
fn update_imports_exactly_the_changed_packages() {
    let w = world();
    let repo = repo_with_v1("client-update");
    let json = ok(unpack(&w.v2_rpm, &w.v2_pkgs, &repo, true));
    assert!(
        json.contains(&format!("\"commit\": \"{}\"", w.v2_commit)),
        "{json}"
    );
    assert!(json.contains("\"packages_total\": 4"), "{json}");
    assert!(json.contains("\"packages_imported\": 2"), "{json}");
    let arch = run(Command::new("rpm").args(["--eval", "%{_arch}"]));
    assert!(
        json.contains(&format!("\"jt-alpha-1.1-1.{}\"", arch.trim())),
        "{json}"
    );
    assert!(json.contains("\"jt-delta-1.0-1.noarch\""), "{json}");
    // Both commits are complete and valid; the tree equals the original's.
    assert_eq!(
        run(ostree(&repo).args(["rev-parse", REF])).trim(),
        w.v2_commit
    );
    assert_fsck_clean(&repo);
    for c in [&w.v1_commit, &w.v2_commit] {
        assert_eq!(ostree_listing(&repo, c), ostree_listing(&w.compose, c));
    }
    // The human output says how many packages it imported, of how many.
    let again = w.dir.join("client-update-human");
    let _ = std::fs::remove_dir_all(&again);
    ok(unpack(&w.v1_rpm, &w.v1_pkgs, &again, false));
    let out = unpack(&w.v2_rpm, &w.v2_pkgs, &again, false);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(ok(out).trim(), w.v2_commit);
    assert!(stderr.contains("2/4 packages to import"), "{stderr}");
}

/// The loose object file of `checksum` (hex) of type `ext` in the bare-user `repo`.
fn object_file(repo: &Path, checksum: &str, ext: &str) -> PathBuf {
    repo.join(format!(
        "objects/{}/{}.{ext}",
        &checksum[..2],
        &checksum[2..]
    ))
}

/// An update into a repository that lost objects of the base commit under a subtree
/// the update does not change (a dirtree and a file's content object of jt-beta, which
/// v1 and v2 share): `ostree fsck` finds the damage; the update does not take the
/// base's word for them but rebuilds both (the plan lists the repository's objects: it
/// imports jt-beta again and writes the dirtree), so both commits are whole afterwards.
#[test]
fn update_restores_base_objects_that_vanished_under_an_unchanged_subtree() {
    let w = world();
    let repo = repo_with_v1("client-vanished");
    // `ostree ls -C -d`: "d00755 0 0 0 DIRTREE DIRMETA PATH" / "-00644 0 0 SIZE CONTENT PATH".
    let field = |path: &str, dir: bool, n: usize| -> String {
        let mut cmd = ostree(&repo);
        cmd.args(["ls", "-C"]);
        if dir {
            cmd.arg("-d");
        }
        let line = run(cmd.args([REF, path]));
        line.split_whitespace()
            .nth(n)
            .expect("ls field")
            .to_string()
    };
    let dirtree = field("/usr/share/jt-beta", true, 4);
    let content = field("/usr/share/jt-beta/data.txt", false, 4);
    // v2 has the same subtree.
    assert!(ostree_listing(&w.compose, &w.v2_commit)
        .lines()
        .any(|l| l.contains(&dirtree) && l.ends_with("/usr/share/jt-beta")));
    std::fs::remove_file(object_file(&repo, &dirtree, "dirtree")).expect("rm dirtree");
    std::fs::remove_file(object_file(&repo, &content, "file")).expect("rm file");
    let fsck = run_raw(ostree(&repo).arg("fsck"));
    assert!(!fsck.status.success(), "ostree fsck must find the damage");

    let json = ok(unpack(&w.v2_rpm, &w.v2_pkgs, &repo, true));
    assert!(
        json.contains(&format!("\"commit\": \"{}\"", w.v2_commit)),
        "{json}"
    );
    // jt-alpha and jt-delta changed; jt-beta is read again for its lost file.
    assert!(json.contains("\"packages_imported\": 3"), "{json}");
    assert!(json.contains("\"jt-beta-2.1-1.noarch\""), "{json}");
    assert!(object_file(&repo, &dirtree, "dirtree").exists());
    assert!(object_file(&repo, &content, "file").exists());
    assert_fsck_clean(&repo);
    for c in [&w.v1_commit, &w.v2_commit] {
        assert_eq!(ostree_listing(&repo, c), ostree_listing(&w.compose, c));
    }
}

/// Runs a failing unpack of v2 into a repository holding v1 and checks the error and
/// that the repository did not change.
fn fails_without_change(name: &str, jigdo_rpm: &Path, from: &Path, expect: &[&str]) {
    let w = world();
    let repo = repo_with_v1(name);
    let refs_before = refs_state(&repo);
    let out = unpack(jigdo_rpm, from, &repo, false);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "unpack should fail: {stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout on failure");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{stderr}");
    for e in expect {
        assert!(last.contains(e), "error should mention {e:?}: {last}");
    }
    assert_eq!(refs_state(&repo), refs_before, "refs changed");
    assert_fsck_clean(&repo);
    assert_eq!(
        ostree_listing(&repo, REF),
        ostree_listing(&w.compose, &w.v1_commit)
    );
    assert!(
        !repo
            .join(format!(
                "objects/{}/{}.commit",
                &w.v2_commit[..2],
                &w.v2_commit[2..]
            ))
            .exists()
            || repo
                .join(format!("state/{}.commitpartial", w.v2_commit))
                .exists(),
        "the v2 commit must not look complete"
    );
}

#[test]
fn missing_pinned_package_is_named() {
    let w = world();
    let from = w.dir.join("v2-without-delta");
    let _ = std::fs::remove_dir_all(&from);
    std::fs::create_dir_all(&from).expect("mkdir");
    for e in std::fs::read_dir(&w.v2_pkgs).expect("readdir") {
        let p = e.expect("entry").path();
        let name = p.file_name().expect("name").to_string_lossy().into_owned();
        if !name.starts_with("jt-delta") {
            std::fs::copy(&p, from.join(name)).expect("copy");
        }
    }
    fails_without_change(
        "client-missing",
        &w.v2_rpm,
        &from,
        &["jt-delta-1.0-1.noarch", "not in any source"],
    );
    // Into a repository that does not exist yet: it is not even created.
    let fresh = w.dir.join("client-missing-fresh");
    let _ = std::fs::remove_dir_all(&fresh);
    let out = unpack(&w.v2_rpm, &from, &fresh, false);
    assert!(!out.status.success());
    assert!(
        !fresh.exists(),
        "a failed unpack must not create the repository"
    );
}

#[test]
fn replaced_pinned_package_is_rejected_by_its_pin() {
    let w = world();
    let from = w.dir.join("v2-replaced");
    let _ = std::fs::remove_dir_all(&from);
    std::fs::create_dir_all(&from).expect("mkdir");
    for e in std::fs::read_dir(&w.v2_pkgs).expect("readdir") {
        let p = e.expect("entry").path();
        std::fs::copy(&p, from.join(p.file_name().expect("name"))).expect("copy");
    }
    // Same name, other bytes: rebuild jt-delta with different content.
    let evil = TestPackage::new(
        "jt-delta",
        "1.0",
        "noarch",
        vec![TestFile::regular(
            "/usr/share/jt-delta/file",
            pseudo_random(66, 70_000),
            0o644,
        )],
    );
    let scratch = w.dir.join("evil");
    let built = build_rpm(&scratch, &evil);
    std::fs::copy(&built, from.join("jt-delta-1.0-1.noarch.rpm")).expect("copy");
    fails_without_change(
        "client-replaced",
        &w.v2_rpm,
        &from,
        &["jt-delta-1.0-1.noarch", "the pin says"],
    );
}

#[test]
fn truncated_jigdo_rpm_is_rejected() {
    let w = world();
    let bytes = std::fs::read(&w.v2_rpm).expect("read");
    for (i, len) in [200usize, bytes.len() / 2, bytes.len() - 10]
        .into_iter()
        .enumerate()
    {
        let bad = w.dir.join(format!("truncated-{i}.rpm"));
        std::fs::write(&bad, &bytes[..len]).expect("write");
        fails_without_change(&format!("client-truncated-{i}"), &bad, &w.v2_pkgs, &[]);
    }
}

#[test]
fn corrupted_jigdo_rpm_is_rejected() {
    let w = world();
    let mut bytes = std::fs::read(&w.v2_rpm).expect("read");
    let at = bytes.len() * 4 / 5;
    bytes[at] ^= 0x55;
    let bad = w.dir.join("corrupted.rpm");
    std::fs::write(&bad, &bytes).expect("write");
    fails_without_change("client-corrupted", &bad, &w.v2_pkgs, &["corrupted.rpm"]);
    // `jigdo info` reads only the start and may still work, but never panics: it
    // either describes the commit or fails with one error naming the file.
    let out = run_raw(jigdo().arg("info").arg(&bad));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"));
    if out.status.success() {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&w.v2_commit), "{text}");
    } else {
        let last = stderr.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("error: ") && last.contains("corrupted.rpm"),
            "{stderr}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn unknown_format_version_is_rejected_naming_both_versions() {
    let w = world();
    let mut future = TestPackage::new(
        "example-os",
        "3.0",
        "noarch",
        vec![TestFile::regular(
            "/usr/share/ostree-jigdo/future/0-commit",
            b"x".to_vec(),
            0o644,
        )],
    );
    future.preamble = vec![
        "Provides: ostree-jigdo(v3)".into(),
        format!("Provides: ostree-jigdo-commit({})", "ab".repeat(32)),
    ];
    let rpm = build_rpm(&w.dir.join("future"), &future);
    fails_without_change(
        "client-future",
        &rpm,
        &w.v2_pkgs,
        &["ostree-jigdo(v3)", "v2"],
    );
    let out = run_raw(jigdo().arg("info").arg(&rpm));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ostree-jigdo(v3)"));
}
