//! Delta RPMs (issue 14, specs/jigdo-format.md §6), with packages built by the real
//! `rpmbuild`, trees committed by the real `ostree` (examples/compose-tree.sh), checked
//! with the real `ostree fsck`:
//! - `jigdo pack --delta-from` writes an ordinary RPM (`rpm -qp --provides` reads it)
//!   naming base and target; a library renamed with its version
//!   (`libjtalpha.so.1.0.0` → `libjtalpha.so.1.0.1`) and a big file changed in a few
//!   places travel as patches, and the delta is much smaller than the changed packages;
//! - `jigdo unpack DELTA --repo` on a repository holding the base rebuilds the exact
//!   target (same checksum, same `ostree ls -R`, `ostree fsck` clean), without any
//!   package source; without the base it fails and changes nothing;
//! - a damaged delta (truncated, bytes flipped) fails cleanly: no ref moves, fsck clean;
//! - `kill -9` while a delta is being applied leaves no ref on an incomplete commit, and a
//!   rerun completes the exact target;
//! - `jigdo info` describes a delta;
//! - `jigdo repo prune` keeps a delta RPM while it keeps the delta's target, and removes
//!   it with its target; `jigdo mirror` copies the delta RPMs to the commits it copies;
//! - a zstd-compressed file (an initramfs image) that changes a little travels as a patch
//!   of its decompressed bytes, compressed again by the client to the exact object.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use mirror_tests::*;

jigdo_command!();

const REF: &str = "example/os";

struct World {
    dir: PathBuf,
    v1_pkgs: PathBuf,
    compose: PathBuf,
    v1_commit: String,
    v2_commit: String,
    v1_rpm: PathBuf,
    v2_rpm: PathBuf,
    delta_rpm: PathBuf,
    v2_pkgs_bytes: u64,
    v3_pkgs: PathBuf,
    v3_rpm: PathBuf,
}

/// v1 and v2 of a library package: v2 renames the library with its version and changes
/// a few bytes of it and of a big data file.
fn alpha(version: &str, lib_name: &str, edits: &[(usize, u8)]) -> TestPackage {
    let mut lib = pseudo_random(2, 300_000);
    let mut data = pseudo_random(9, 1_200_000);
    for &(at, b) in edits {
        lib[at] = b;
        data[at * 3] = b;
    }
    TestPackage::new(
        "jt-alpha",
        version,
        "",
        vec![
            TestFile::regular(&format!("/usr/lib64/{lib_name}"), lib, 0o755),
            TestFile::Symlink {
                path: "/usr/lib64/libjtalpha.so".into(),
                target: lib_name.into(),
            },
            TestFile::regular("/usr/share/jt-alpha/data.bin", data, 0o644),
            TestFile::regular("/etc/jt-alpha.conf", b"alpha = yes\n".to_vec(), 0o644),
        ],
    )
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("delta_rpm");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let v1_pkgs = dir.join("v1");
        let v2_pkgs = dir.join("v2");
        let beta = TestPackage::new(
            "jt-beta",
            "2.1",
            "noarch",
            vec![TestFile::regular(
                "/usr/share/jt-beta/data.txt",
                b"beta data\n".repeat(500),
                0o644,
            )],
        );
        build_rpm(&v1_pkgs, &alpha("1.0", "libjtalpha.so.1.0.0", &[]));
        let rpm = build_rpm(&v1_pkgs, &beta);
        std::fs::create_dir_all(&v2_pkgs).expect("mkdir");
        std::fs::copy(&rpm, v2_pkgs.join(rpm.file_name().expect("name"))).expect("copy");
        let alpha2 = build_rpm(
            &v2_pkgs,
            &alpha(
                "1.1",
                "libjtalpha.so.1.0.1",
                &[(100, 1), (50_000, 2), (250_000, 3)],
            ),
        );
        let v2_pkgs_bytes = std::fs::metadata(&alpha2).expect("stat").len();

        let compose = dir.join("compose");
        let v1_commit = compose_tree(&v1_pkgs, &compose, REF, "1.0", None);
        let v1_rpm = pack(&compose, &v1_commit, &v1_pkgs, &dir.join("jigdo-v1"), &[]);
        let v2_commit = compose_tree(&v2_pkgs, &compose, REF, "2.0", Some(REF));
        let out = dir.join("jigdo-v2");
        let printed = run(&mut pack_cmd(
            &compose,
            &v2_commit,
            &v2_pkgs,
            &out,
            &[&v1_commit],
        ));
        let lines: Vec<&str> = printed.lines().collect();
        assert_eq!(lines.len(), 2, "jigdo RPM and one delta RPM: {printed}");
        // v3: v2's packages plus a new one.
        let v3_pkgs = dir.join("v3");
        std::fs::create_dir_all(&v3_pkgs).expect("mkdir");
        for e in std::fs::read_dir(&v2_pkgs).expect("readdir") {
            let p = e.expect("entry").path();
            std::fs::copy(&p, v3_pkgs.join(p.file_name().expect("name"))).expect("copy");
        }
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
        build_rpm(&v3_pkgs, &gamma);
        let v3_commit = compose_tree(&v3_pkgs, &compose, REF, "3.0", Some(REF));
        let v3_rpm = pack(&compose, &v3_commit, &v3_pkgs, &dir.join("jigdo-v3"), &[]);
        World {
            dir,
            v1_pkgs,
            compose,
            v1_commit,
            v2_commit,
            v1_rpm,
            v2_rpm: PathBuf::from(lines[0]),
            delta_rpm: PathBuf::from(lines[1]),
            v2_pkgs_bytes,
            v3_pkgs,
            v3_rpm,
        }
    })
}

fn pack_cmd(repo: &Path, rev: &str, pkgs: &Path, out: &Path, bases: &[&str]) -> Command {
    let mut cmd = jigdo();
    cmd.args(["pack", "--repo"])
        .arg(repo)
        .args(["--rev", rev, "--from"])
        .arg(pkgs)
        .arg("--output")
        .arg(out)
        .args(["--name", "example-os"]);
    for b in bases {
        cmd.args(["--delta-from", b]);
    }
    cmd
}

fn pack(repo: &Path, rev: &str, pkgs: &Path, out: &Path, bases: &[&str]) -> PathBuf {
    let printed = run(&mut pack_cmd(repo, rev, pkgs, out, bases));
    PathBuf::from(printed.lines().next().expect("jigdo RPM path"))
}

/// v2 packed again with `--delta-from` v1 and signed with `secret`, into `w.dir/out_name`:
/// the signed jigdo RPM and the signed delta RPM.
fn pack_v2_signed(w: &World, out_name: &str, secret: &Path) -> (PathBuf, PathBuf) {
    let printed = run(pack_cmd(
        &w.compose,
        &w.v2_commit,
        &w.dir.join("v2"),
        &w.dir.join(out_name),
        &[&w.v1_commit],
    )
    .arg("--sign-key")
    .arg(secret));
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 2, "jigdo RPM and one delta RPM: {printed}");
    (PathBuf::from(lines[0]), PathBuf::from(lines[1]))
}

fn apply(delta: &Path, repo: &Path, json: bool) -> Output {
    let mut cmd = jigdo();
    cmd.arg("unpack")
        .arg(delta)
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
    let out = ok(run_raw(
        jigdo()
            .arg("unpack")
            .arg(&w.v1_rpm)
            .arg("--from")
            .arg(&w.v1_pkgs)
            .arg("--repo")
            .arg(&repo)
            .args(["--ref", REF]),
    ));
    assert_eq!(out.trim(), w.v1_commit);
    repo
}

#[test]
fn delta_is_an_ordinary_rpm_naming_base_and_target() {
    let w = world();
    let provides = run(Command::new("rpm")
        .args(["-qp", "--provides", "--nosignature"])
        .arg(&w.delta_rpm));
    assert!(provides.contains("ostree-jigdo-delta(v1)"), "{provides}");
    assert!(
        provides.contains(&format!("ostree-jigdo-delta-base({})", w.v1_commit)),
        "{provides}"
    );
    assert!(
        provides.contains(&format!("ostree-jigdo-delta-target({})", w.v2_commit)),
        "{provides}"
    );
    let name = w.delta_rpm.file_name().expect("name").to_string_lossy();
    assert!(
        name.starts_with(&format!("example-os-delta-{}-2.0-1.", &w.v1_commit[..12])),
        "{name}"
    );
    // Both carry the new random vmlinuz of the compose; the changed package costs the
    // delta less than a quarter of its size (patches).
    let size = std::fs::metadata(&w.delta_rpm).expect("stat").len();
    let jigdo_size = std::fs::metadata(&w.v2_rpm).expect("stat").len();
    assert!(
        size < jigdo_size + w.v2_pkgs_bytes / 4,
        "delta {size} bytes vs jigdo RPM {jigdo_size} + changed package {} bytes",
        w.v2_pkgs_bytes
    );
    let info = ok(run_raw(jigdo().args(["info", "--json"]).arg(&w.delta_rpm)));
    assert!(
        info.contains(&format!("\"base\": \"{}\"", w.v1_commit)),
        "{info}"
    );
    assert!(
        info.contains(&format!("\"commit\": \"{}\"", w.v2_commit)),
        "{info}"
    );
    assert!(info.contains("\"jigdo_name\": \"example-os\""), "{info}");
    // The library (renamed) and the data file (same path) are patches.
    let patched: u64 = info
        .split("\"patched_objects\": ")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse().ok())
        .expect("patched_objects");
    assert!(patched >= 2, "{info}");
    let human = ok(run_raw(jigdo().arg("info").arg(&w.delta_rpm)));
    assert!(human.contains("delta RPM:"), "{human}");
}

#[test]
fn delta_rebuilds_the_exact_target_without_packages() {
    let w = world();
    let repo = repo_with_v1("client-delta");
    let json = ok(apply(&w.delta_rpm, &repo, true));
    assert!(
        json.contains(&format!("\"commit\": \"{}\"", w.v2_commit)),
        "{json}"
    );
    assert_eq!(
        run(ostree(&repo).args(["rev-parse", REF])).trim(),
        w.v2_commit
    );
    assert_fsck_clean(&repo);
    for c in [&w.v1_commit, &w.v2_commit] {
        assert_eq!(ostree_listing(&repo, c), ostree_listing(&w.compose, c));
    }
    // Again: already complete, only the ref.
    let again = ok(apply(&w.delta_rpm, &repo, true));
    assert!(again.contains("\"already_present\": true"), "{again}");
}

#[test]
fn full_update_after_a_delta_reads_only_packages_the_delta_did_not_deliver() {
    let w = world();
    let repo = repo_with_v1("client-delta-then-full");
    ok(apply(&w.delta_rpm, &repo, false));
    let json = ok(run_raw(
        jigdo()
            .arg("unpack")
            .arg(&w.v3_rpm)
            .arg("--from")
            .arg(&w.v3_pkgs)
            .arg("--repo")
            .arg(&repo)
            .args(["--ref", REF, "--json"]),
    ));
    // jt-alpha 1.1 came with the delta, jt-beta with v1: only jt-gamma is read.
    assert!(json.contains("\"packages_imported\": 1"), "{json}");
    assert!(json.contains("\"jt-gamma-0.5-1.noarch\""), "{json}");
    assert_fsck_clean(&repo);
}

#[test]
fn delta_without_its_base_fails_and_changes_nothing() {
    let w = world();
    let empty = w.dir.join("client-no-base");
    let _ = std::fs::remove_dir_all(&empty);
    let out = apply(&w.delta_rpm, &empty, false);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("base commit"), "{stderr}");
    assert!(!empty.exists(), "no repository may be created");
}

/// `kill -9` while the delta is being applied: the child is killed as soon as the target
/// commit is marked partial in the repository (the apply has begun writing), several
/// times, each on a fresh repository holding v1. After each kill that landed (the child
/// died by SIGKILL), every ref points at v1, or at a complete v2, and `ostree fsck` is
/// clean; a rerun then completes the exact target.
#[test]
fn kill_9_mid_delta_then_rerun_completes() {
    let w = world();
    let mut landed = 0;
    let mut attempts = 0;
    while landed < 3 && attempts < 30 {
        attempts += 1;
        let repo = repo_with_v1(&format!("killed-{attempts}"));
        let partial = repo.join(format!("state/{}.commitpartial", w.v2_commit));
        let mut child = jigdo()
            .arg("unpack")
            .arg(&w.delta_rpm)
            .arg("--repo")
            .arg(&repo)
            .args(["--ref", REF])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn jigdo");
        loop {
            if partial.exists() {
                let _ = child.kill(); // SIGKILL
                break;
            }
            if child.try_wait().expect("try_wait").is_some() {
                break;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        let status = child.wait().expect("wait");
        if status.signal() != Some(9) {
            continue; // finished before the kill: not a kill mid-apply
        }
        landed += 1;
        for (r, c) in refs_state(&repo) {
            assert!(
                c == w.v1_commit || (c == w.v2_commit && !partial.exists()),
                "after a kill mid-apply, ref {r} points at {c}"
            );
        }
        assert_fsck_clean(&repo);
        ok(apply(&w.delta_rpm, &repo, false));
        assert_fsck_clean(&repo);
        assert!(!partial.exists(), "the rerun left v2 marked partial");
        assert_eq!(
            ostree_listing(&repo, REF),
            ostree_listing(&w.compose, &w.v2_commit)
        );
    }
    assert!(
        landed > 0,
        "no kill landed mid-apply in {attempts} attempts: the test proves nothing"
    );
    eprintln!("kills mid-apply: {landed} of {attempts} attempts");
}

/// Applies a damaged delta to a v1 repository: it must fail, leave the ref on v1, keep
/// fsck clean and leave the v2 commit absent or partial.
fn damaged_fails_cleanly(name: &str, bytes: &[u8]) {
    let w = world();
    let repo = repo_with_v1(name);
    let bad = w.dir.join(format!("{name}.rpm"));
    std::fs::write(&bad, bytes).expect("write");
    let before = refs_state(&repo);
    let out = apply(&bad, &repo, false);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "a damaged delta was accepted: {stderr}"
    );
    assert!(
        stderr
            .lines()
            .last()
            .unwrap_or_default()
            .starts_with("error: "),
        "{stderr}"
    );
    assert_eq!(refs_state(&repo), before, "refs changed");
    assert_fsck_clean(&repo);
    let commit = repo.join(format!(
        "objects/{}/{}.commit",
        &w.v2_commit[..2],
        &w.v2_commit[2..]
    ));
    assert!(
        !commit.exists()
            || repo
                .join(format!("state/{}.commitpartial", w.v2_commit))
                .exists(),
        "the v2 commit must not look complete"
    );
    // The good delta still completes the job afterwards.
    ok(apply(&w.delta_rpm, &repo, false));
    assert_fsck_clean(&repo);
    assert_eq!(
        ostree_listing(&repo, &w.v2_commit),
        ostree_listing(&w.compose, &w.v2_commit)
    );
}

#[test]
fn truncated_delta_fails_cleanly() {
    let w = world();
    let bytes = std::fs::read(&w.delta_rpm).expect("read");
    for (i, len) in [300usize, bytes.len() / 2, bytes.len() - 100]
        .into_iter()
        .enumerate()
    {
        damaged_fails_cleanly(&format!("client-truncated-{i}"), &bytes[..len]);
    }
}

#[test]
fn flipped_bytes_in_a_delta_fail_cleanly() {
    let w = world();
    let bytes = std::fs::read(&w.delta_rpm).expect("read");
    for (i, at) in [bytes.len() * 2 / 3, bytes.len() - 200]
        .into_iter()
        .enumerate()
    {
        let mut bad = bytes.clone();
        bad[at] ^= 0x55;
        damaged_fails_cleanly(&format!("client-flipped-{i}"), &bad);
    }
}

/// A published rpm-md repository (v2's jigdo RPM, the v1→v2 delta, v2's packages),
/// damaged by `damage` after (or before, `before_create`) `jigdo repo create`.
fn published(name: &str, before_create: bool, damage: &dyn Fn(&Path)) -> PathBuf {
    let w = world();
    published_with(name, [&w.v2_rpm, &w.delta_rpm], before_create, damage)
}

/// [`published`] with another jigdo RPM and delta RPM of v2 (e.g. signed ones).
fn published_with(
    name: &str,
    [jigdo_rpm, delta_rpm]: [&Path; 2],
    before_create: bool,
    damage: &dyn Fn(&Path),
) -> PathBuf {
    let w = world();
    let dir = w.dir.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("Packages")).expect("mkdir");
    for p in [jigdo_rpm, delta_rpm] {
        std::fs::copy(p, dir.join(p.file_name().expect("name"))).expect("copy");
    }
    for e in std::fs::read_dir(w.dir.join("v2")).expect("readdir") {
        let p = e.expect("entry").path();
        std::fs::copy(&p, dir.join("Packages").join(p.file_name().expect("name"))).expect("copy");
    }
    let delta = dir.join(delta_rpm.file_name().expect("name"));
    if before_create {
        damage(&delta);
    }
    run(jigdo().args(["repo", "create"]).arg(&dir));
    if !before_create {
        damage(&delta);
    }
    dir
}

/// `jigdo install example-os` over nginx into a repository holding v1.
fn install_over_nginx(name: &str, published: &Path) -> (String, String, Vec<String>) {
    let w = world();
    let repo = repo_with_v1(name);
    let tmp = w.dir.join(format!("{name}-nginx"));
    let _ = std::fs::remove_dir_all(&tmp);
    let nginx = mirror_tests::nginx::Nginx::start(published, &tmp);
    let out = run_raw(
        jigdo()
            .args(["install", "example-os", "--from", &nginx.url(), "--repo"])
            .arg(&repo)
            // Unsigned test commits: accepted on purpose (the trust rule is the jigdo
            // RPM path's, tested in trust.rs).
            .args(["--ref", REF, "--json", "--nogpgcheck"]),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = ok(out);
    assert!(
        json.contains(&format!("\"commit\": \"{}\"", w.v2_commit)),
        "{json}"
    );
    assert_eq!(
        run(ostree(&repo).args(["rev-parse", REF])).trim(),
        w.v2_commit
    );
    assert_fsck_clean(&repo);
    assert_eq!(
        ostree_listing(&repo, &w.v2_commit),
        ostree_listing(&w.compose, &w.v2_commit)
    );
    (json, stderr, nginx.requests())
}

#[test]
fn install_takes_the_delta_when_the_repository_holds_its_base() {
    let w = world();
    let dir = published("published-good", false, &|_| {});
    let (json, _, requests) = install_over_nginx("client-install-delta", &dir);
    assert!(json.contains("\"path\": \"delta\""), "{json}");
    let delta_name = w.delta_rpm.file_name().expect("name").to_string_lossy();
    assert!(
        requests.iter().any(|r| r.ends_with(&*delta_name)),
        "{requests:?}"
    );
    // Neither the jigdo RPM nor any package was fetched.
    let jigdo_name = w.v2_rpm.file_name().expect("name").to_string_lossy();
    assert!(
        !requests
            .iter()
            .any(|r| r.ends_with(&*jigdo_name) || r.contains("Packages/")),
        "{requests:?}"
    );
    // The jigdo record lists the delta: no primary metadata was needed to find it.
    assert!(
        !requests.iter().any(|r| r.contains("primary")),
        "primary was read although the jigdo record lists the delta: {requests:?}"
    );
    assert!(
        requests.iter().any(|r| r.contains("-jigdo.xml")),
        "{requests:?}"
    );
}

/// Each damage: install falls back to the jigdo RPM path with a warning and still
/// installs exactly v2.
fn falls_back(name: &str, before_create: bool, damage: &dyn Fn(&Path)) {
    let dir = published(&format!("published-{name}"), before_create, damage);
    let (json, stderr, requests) = install_over_nginx(&format!("client-{name}"), &dir);
    assert!(json.contains("\"path\": \"jigdo\""), "{json}");
    assert!(
        stderr.contains("warning: delta RPM") && stderr.contains("taking the jigdo RPM path"),
        "{stderr}"
    );
    assert!(
        requests.iter().any(|r| r.contains("Packages/jt-alpha-1.1")),
        "{requests:?}"
    );
}

#[test]
fn install_falls_back_when_the_delta_is_missing() {
    falls_back("missing", false, &|p| std::fs::remove_file(p).expect("rm"));
}

#[test]
fn install_falls_back_when_the_delta_is_truncated() {
    falls_back("truncated", false, &|p| {
        let b = std::fs::read(p).expect("read");
        std::fs::write(p, &b[..b.len() / 2]).expect("write");
    });
}

#[test]
fn install_falls_back_when_the_delta_has_wrong_bytes() {
    // After repo create: the download check (repodata checksum) catches it.
    falls_back("wrong-bytes", false, &|p| {
        let mut b = std::fs::read(p).expect("read");
        let at = b.len() * 2 / 3;
        b[at] ^= 0x55;
        std::fs::write(p, &b).expect("write");
    });
    // Before repo create (the repodata agrees with the bad file): applying it fails.
    falls_back("wrong-bytes-published", true, &|p| {
        let mut b = std::fs::read(p).expect("read");
        let at = b.len() * 2 / 3;
        b[at] ^= 0x55;
        std::fs::write(p, &b).expect("write");
    });
}

/// `jigdo repo prune` keeps the delta RPMs whose target commit it keeps (no jigdo RPM pins
/// a delta, yet clients holding the base need it), and removes those whose target goes.
#[test]
fn prune_keeps_a_delta_while_it_keeps_its_target() {
    let w = world();
    let repo = w.dir.join("prune-repo");
    remove_tree(&repo);
    let packages = repo.join("Packages");
    std::fs::create_dir_all(&packages).expect("mkdir");
    let copy_into = |file: &Path, dir: &Path| {
        std::fs::copy(file, dir.join(file.file_name().expect("name"))).expect("copy");
    };
    for f in [&w.v1_rpm, &w.v2_rpm, &w.v3_rpm, &w.delta_rpm] {
        copy_into(f, &repo);
    }
    for dir in [&w.v1_pkgs, &w.dir.join("v2"), &w.v3_pkgs] {
        for e in std::fs::read_dir(dir).expect("readdir") {
            let p = e.expect("entry").path();
            if p.extension().is_some_and(|x| x == "rpm") {
                copy_into(&p, &packages);
            }
        }
    }
    run(jigdo().args(["repo", "create"]).arg(&repo));
    let delta_file = w
        .delta_rpm
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let prune = |keep: &str| -> serde_json::Value {
        let out = run(jigdo()
            .args(["repo", "prune", "--keep", keep, "--json"])
            .arg(&repo));
        serde_json::from_str(&out).expect("prune --json")
    };
    let locations = |report: &serde_json::Value, key: &str| -> Vec<String> {
        report[key]
            .as_array()
            .unwrap_or_else(|| panic!("no {key} in {report}"))
            .iter()
            .map(|p| p["location"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    // Keep 2: v2 and v3 stay, so the v1 -> v2 delta stays (and v1 goes).
    let report = prune("2");
    assert!(
        locations(&report, "kept_deltas").contains(&delta_file),
        "the delta to a kept commit was not kept: {report}"
    );
    assert!(
        repo.join(&delta_file).is_file(),
        "the delta file was deleted"
    );
    let v1_file = w
        .v1_rpm
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(locations(&report, "removed").contains(&v1_file), "{report}");
    let dnf_tmp = w.dir.join("prune-dnf");
    remove_tree(&dnf_tmp);
    std::fs::create_dir_all(&dnf_tmp).expect("mkdir");
    let listed = run(dnf(&dnf_tmp, &repo).args([
        "repoquery",
        "-q",
        "--whatprovides",
        &format!("ostree-jigdo-delta-target({})", w.v2_commit),
    ]));
    assert!(
        !listed.trim().is_empty(),
        "the republished metadata lacks the delta"
    );
    // Keep 1: only v3 stays; the delta's target is gone, so the delta goes too.
    let report = prune("1");
    assert!(
        locations(&report, "removed").contains(&delta_file),
        "the delta to a removed commit was kept: {report}"
    );
    assert!(!repo.join(&delta_file).exists());
}

/// `jigdo unpack` of a delta RPM runs the same trust step as of a jigdo RPM: a delta RPM
/// signed by `jigdo pack --sign-key` verifies with `--gpgkey` (the line names the key);
/// an unsigned one with a key given is refused before anything is written (refs stay
/// on v1), and with no key it is applied with one warning line (`trust` in `--json`).
#[test]
fn unpack_of_a_delta_runs_the_trust_step() {
    let w = world();
    let (secret, public) = gen_signing_key(&w.dir.join("gk"), "Delta <delta@example.org>");
    let (_, signed_delta) = pack_v2_signed(w, "jigdo-v2-signed", &secret);
    let with = |delta: &Path, repo: &Path, extra: &[&str]| {
        run_raw(
            jigdo()
                .arg("unpack")
                .arg(delta)
                .arg("--repo")
                .arg(repo)
                .args(["--ref", REF])
                .args(extra),
        )
    };
    let key = public.to_str().expect("utf-8");

    let repo = repo_with_v1("client-delta-signed");
    let out = with(&signed_delta, &repo, &["--gpgkey", key]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(ok(out).trim(), w.v2_commit);
    assert!(
        err.lines()
            .any(|l| l.starts_with("verified: ") && l.contains("jigdo RPM signature")),
        "{err}"
    );

    let repo = repo_with_v1("client-delta-unsigned-key");
    let before = refs_state(&repo);
    let out = with(&w.delta_rpm, &repo, &["--gpgkey", key]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "an unverified delta was applied: {err}"
    );
    assert!(err.contains("--nogpgcheck"), "{err}");
    assert_eq!(refs_state(&repo), before, "refs changed");

    let repo = repo_with_v1("client-delta-nokey");
    let out = with(&w.delta_rpm, &repo, &["--json"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = ok(out);
    assert!(json.contains("\"trust\""), "{json}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning: ")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("not verified"), "{err}");
}

/// A delta RPM whose content record carries other bytes than its checksum names (its
/// `3-delta` rewritten with one byte of one whole object flipped, re-packed as `jigdo
/// pack` packs it): applying it fails with an error that names the object, the delta
/// RPM it came from and what to do; the refs stay on v1.
#[test]
fn a_delta_record_with_wrong_bytes_names_the_object_and_the_delta_rpm() {
    use jigdo_format::DeltaOp;
    wrong_record_bytes("whole", &|op| matches!(op, DeltaOp::Whole { .. }));
    // A patch is applied by a worker thread: its failure must come back the same way.
    wrong_record_bytes("patch", &|op| matches!(op, DeltaOp::Patch { .. }));
}

/// Flips a byte in the middle of the first record whose operation `pick` accepts (a
/// regular file's), repacks the delta RPM and checks that unpacking it fails naming the
/// object, the delta RPM and what to do, with the refs unchanged.
fn wrong_record_bytes(what: &str, pick: &dyn Fn(&jigdo_format::DeltaOp) -> bool) {
    use jigdo_format::{DeltaPayloadFile, DeltaReader, DeltaWriter};
    let w = world();
    let x = tempfile::tempdir().expect("tmp");
    run(Command::new("sh")
        .arg("-c")
        .arg("rpm2cpio \"$1\" | cpio -idm --quiet")
        .arg("sh")
        .arg(&w.delta_rpm)
        .current_dir(x.path()));
    let (base, target) = (&w.v1_commit, &w.v2_commit);
    let file = |f: DeltaPayloadFile| x.path().join(f.path(base, target).trim_start_matches('/'));
    let mut r = DeltaReader::new(std::fs::File::open(file(DeltaPayloadFile::Delta)).expect("open"))
        .expect("delta stream");
    let header = r.header.clone();
    let mut metadata = Vec::new();
    while let Some(m) = r.next_metadata().expect("metadata") {
        metadata.push(m);
    }
    let mut contents = Vec::new();
    while let Some(o) = r.next_content().expect("content") {
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut r.data(), &mut data).expect("data");
        contents.push((o, data));
    }
    let (victim, data) = contents
        .iter_mut()
        .find(|(o, d)| pick(&o.op) && o.header.symlink.is_none() && !d.is_empty())
        .unwrap_or_else(|| panic!("no {what} record"));
    let middle = data.len() / 2;
    data[middle] ^= 0x55;
    let victim_hex: String = victim.checksum.iter().map(|b| format!("{b:02x}")).collect();
    let stream = x.path().join("bad-3-delta");
    let mut dw = DeltaWriter::new(
        std::fs::File::create(&stream).expect("create"),
        3,
        27,
        &header,
    )
    .expect("writer");
    for (t, bytes) in &metadata {
        dw.metadata(*t, bytes).expect("metadata");
    }
    for (o, d) in &contents {
        dw.content(o, &mut &d[..]).expect("content");
    }
    dw.finish().expect("finish");

    let q = run(Command::new("rpm")
        .args(["-qp", "--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH}"])
        .arg(&w.delta_rpm));
    let nvra: Vec<&str> = q.split_whitespace().collect();
    let mut b = rpm_package::PackageBuilder::new(nvra[0], nvra[1], nvra[2], nvra[3]);
    b.compression("none", None).expect("compression");
    b.provides(jigdo_format::delta::DELTA_PROVIDE, None);
    b.provides(&jigdo_format::delta::delta_base_provide(base), None);
    b.provides(&jigdo_format::delta::delta_target_provide(target), None);
    for f in [
        DeltaPayloadFile::Commit,
        DeltaPayloadFile::CommitMeta,
        DeltaPayloadFile::Index,
    ] {
        if file(f).exists() {
            b.add_file_bytes(
                &f.path(base, target),
                std::fs::read(file(f)).expect("read"),
                0o644,
            );
        }
    }
    b.add_file_path(&DeltaPayloadFile::Delta.path(base, target), &stream, 0o644);
    let bad = w
        .dir
        .join(format!("bad-{what}-record"))
        .join(w.delta_rpm.file_name().expect("name"));
    std::fs::create_dir_all(bad.parent().expect("parent")).expect("mkdir");
    b.write_to(&bad, None).expect("write the crafted delta RPM");

    let repo = repo_with_v1(&format!("client-delta-bad-{what}-record"));
    let before = refs_state(&repo);
    let out = apply(&bad, &repo, false);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "a wrong {what} record was accepted: {err}"
    );
    let last = err.lines().last().unwrap_or_default();
    for (named, needle) in [
        ("the object", victim_hex.as_str()),
        ("the delta RPM", bad.to_str().expect("utf-8")),
        ("what to do", "fetch it again"),
    ] {
        assert!(
            last.contains(needle),
            "{what} record: does not name {named}: {err}"
        );
    }
    assert_eq!(refs_state(&repo), before, "refs changed");
}

/// `jigdo mirror` copies, beside the jigdo RPM and its packages, the delta RPMs whose
/// target is that jigdo RPM's commit; an install from the mirror then takes the delta.
#[test]
fn mirror_carries_the_deltas_to_the_commits_it_copies() {
    let w = world();
    let published = published("published-for-mirror", false, &|_| {});
    let tmp = w.dir.join("mirror-nginx");
    remove_tree(&tmp);
    let nginx = mirror_tests::nginx::Nginx::start(&published, &tmp);
    let to = w.dir.join("mirrored");
    remove_tree(&to);
    let out = run(jigdo()
        .args(["mirror", "example-os", "--from", &nginx.url(), "--to"])
        .arg(&to)
        .args(["--nogpgcheck", "--json"]));
    let report: serde_json::Value = serde_json::from_str(&out).expect("mirror --json");
    let copied = report["delta_rpms"].as_array().expect("delta_rpms");
    assert_eq!(copied.len(), 1, "{report}");
    let delta_name = w.delta_rpm.file_name().expect("name");
    assert_eq!(
        std::fs::read(to.join(delta_name)).expect("the delta RPM in the mirror"),
        std::fs::read(&w.delta_rpm).expect("the delta RPM")
    );
    drop(nginx);
    let (json, _, requests) = install_over_nginx("client-from-mirror", &to);
    assert!(json.contains("\"path\": \"delta\""), "{json}");
    assert!(
        requests
            .iter()
            .any(|r| r.ends_with(&*delta_name.to_string_lossy())),
        "{requests:?}"
    );
}

/// Text-like bytes that compress well but not trivially (an initramfs's mix of text and
/// repeated structure).
fn texty(seed: u64, len: usize) -> Vec<u8> {
    const WORDS: [&str; 12] = [
        "usr",
        "lib",
        "modules",
        "kernel",
        "drivers",
        "firmware",
        "systemd",
        "udev",
        "rules",
        "libc.so.6",
        "/etc/fstab",
        "initrd",
    ];
    let noise = pseudo_random(seed, len);
    let mut out = Vec::with_capacity(len + 64);
    let mut i = 0;
    while out.len() < len {
        let n = noise[i % noise.len()];
        out.extend_from_slice(WORDS[usize::from(n) % WORDS.len()].as_bytes());
        out.push(if n.is_multiple_of(7) { b'\n' } else { b' ' });
        if n.is_multiple_of(5) {
            out.extend_from_slice(format!("{:x}", noise[(i * 7) % noise.len()]).as_bytes());
        }
        i += 1;
    }
    out.truncate(len);
    out
}

/// `raw` compressed by the real `zstd` CLI the way initramfs tools run it: from a pipe (a
/// stream without content size), multithreaded (`-T0`), with its default checksum; at
/// level 1, whose 2 MiB jobs split these megabytes into several.
fn zstd_cli_stream(raw: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("zstd")
        .args(["-q", "-c", "-1", "-T0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("zstd CLI (.ci/deps.sh installs it)");
    let mut stdin = child.stdin.take().expect("stdin");
    let feed = raw.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&feed).expect("feed zstd"));
    let out = child.wait_with_output().expect("zstd");
    writer.join().expect("writer");
    assert!(out.status.success(), "zstd failed");
    out.stdout
}

/// The size of a plain patch (as `jigdo pack` makes for other objects) of `target`
/// against `base`.
fn plain_patch_len(base: &[u8], target: &[u8]) -> usize {
    use std::io::Write;
    let mut enc =
        zstd::stream::write::Encoder::with_ref_prefix(Vec::new(), 19, base).expect("zstd");
    enc.window_log(24).expect("zstd");
    enc.long_distance_matching(true).expect("zstd");
    enc.write_all(target).expect("zstd");
    enc.finish().expect("zstd").len()
}

fn json_number(json: &str, field: &str) -> u64 {
    json.split(&format!("\"{field}\": "))
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{field} in {json}"))
}

#[test]
fn zstd_object_travels_as_a_recompressed_patch() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("delta_rpm_zstd");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let raw1 = texty(21, 5_000_000);
    // v2: a few bytes inserted near the start (everything after shifts) and some changed.
    let mut raw2 = raw1[..1000].to_vec();
    raw2.extend_from_slice(b"new module added here ");
    raw2.extend_from_slice(&raw1[1000..]);
    raw2[1_500_000..1_500_040].copy_from_slice(&[b'x'; 40]);
    let (z1, z2) = (zstd_cli_stream(&raw1), zstd_cli_stream(&raw2));
    let pkg = |version: &str, image: &[u8]| {
        TestPackage::new(
            "jt-initrd",
            version,
            "noarch",
            vec![TestFile::regular(
                "/usr/lib/jt-initrd/initrd.img",
                image.to_vec(),
                0o644,
            )],
        )
    };
    let (v1_pkgs, v2_pkgs) = (dir.join("v1"), dir.join("v2"));
    build_rpm(&v1_pkgs, &pkg("1.0", &z1));
    build_rpm(&v2_pkgs, &pkg("1.1", &z2));
    let compose = dir.join("compose");
    let v1_commit = compose_tree(&v1_pkgs, &compose, REF, "1.0", None);
    let v1_rpm = pack(&compose, &v1_commit, &v1_pkgs, &dir.join("jigdo-v1"), &[]);
    let v2_commit = compose_tree(&v2_pkgs, &compose, REF, "2.0", Some(REF));
    let printed = run(&mut pack_cmd(
        &compose,
        &v2_commit,
        &v2_pkgs,
        &dir.join("jigdo-v2"),
        &[&v1_commit],
    ));
    let delta = PathBuf::from(printed.lines().nth(1).expect("delta RPM path"));

    let info = ok(run_raw(jigdo().args(["info", "--json"]).arg(&delta)));
    assert_eq!(json_number(&info, "recompressed_objects"), 1, "{info}");
    // How the object is compressed again: the zstd CLI's frame (level 1, multithreaded,
    // from a pipe: no content size, a checksum), named by its checksum.
    assert_eq!(json_number(&info, "level"), 1, "{info}");
    assert!(info.contains("\"multithreaded\": true"), "{info}");
    assert!(info.contains("\"content_size\": false"), "{info}");
    assert!(info.contains("\"checksum\": true"), "{info}");
    assert_eq!(json_number(&info, "raw_size"), raw2.len() as u64, "{info}");
    let patch = json_number(&info, "recompressed_patch_bytes");
    let plain = plain_patch_len(&z1, &z2) as u64;
    assert!(
        patch * 20 < plain,
        "patch of the decompressed bytes {patch} vs plain patch {plain} bytes"
    );
    let human = ok(run_raw(jigdo().arg("info").arg(&delta)));
    assert!(
        human.contains("1 zstd objects patched decompressed"),
        "{human}"
    );

    // A client holding v1 rebuilds the exact v2.
    let repo = dir.join("client");
    let out = ok(run_raw(
        jigdo()
            .arg("unpack")
            .arg(&v1_rpm)
            .arg("--from")
            .arg(&v1_pkgs)
            .arg("--repo")
            .arg(&repo)
            .args(["--ref", REF]),
    ));
    assert_eq!(out.trim(), v1_commit);
    let json = ok(apply(&delta, &repo, true));
    assert_eq!(json_number(&json, "recompressed_objects"), 1, "{json}");
    assert_eq!(
        run(ostree(&repo).args(["rev-parse", REF])).trim(),
        v2_commit
    );
    assert_fsck_clean(&repo);
    assert_eq!(
        ostree_listing(&repo, &v2_commit),
        ostree_listing(&compose, &v2_commit)
    );
}

/// `jigdo install --check` in a repository holding the delta's base says the update would
/// take the delta RPM (`path` in `--json`, "by the delta path" in the text) and counts
/// its size as the bytes to download, without reading the jigdo RPM at all, whatever
/// authenticates the delta: `--nogpgcheck` and a signed `repomd.xml` (`jigdo repo create
/// --sign-key`, `--gpgkey`) need nothing but the metadata; a delta RPM signed by `jigdo
/// pack --sign-key` beside an unsigned `repomd.xml` costs one range request of its
/// header. Each check costs at most 4 requests and 16 KB at nginx, and writes nothing.
#[test]
fn check_counts_the_delta_when_the_repository_holds_its_base() {
    let w = world();
    let (secret, public) = gen_signing_key(&w.dir.join("gk-check"), "Check <check@example.org>");
    let key = public.to_str().expect("utf-8");

    // --nogpgcheck, unsigned metadata: repomd.xml and the jigdo record.
    let plain = published("published-for-check", false, &|_| {});
    let (report, asked) = check_delta("check", &plain, &["--nogpgcheck"]);
    assert_eq!(report["trust"]["nogpgcheck"], true, "{report}");
    assert!(!asked.iter().any(|r| r.path.ends_with(".rpm")), "{asked:?}");

    // A signed repomd.xml pins the delta's SHA-256 through the jigdo record: the
    // metadata alone (repomd.xml, its .asc, the record) authenticates it.
    let signed_md = published("published-for-check-signed-repomd", false, &|_| {});
    run(jigdo()
        .args(["repo", "create"])
        .arg(&signed_md)
        .arg("--sign-key")
        .arg(&secret));
    let (report, asked) = check_delta("check-signed-repomd", &signed_md, &["--gpgkey", key]);
    assert_eq!(
        report["trust"]["verified"][0]["link"], "repomd-signature",
        "{report}"
    );
    assert!(!asked.iter().any(|r| r.path.ends_with(".rpm")), "{asked:?}");

    // A signed delta RPM (and jigdo RPM) beside an unsigned repomd.xml: the delta's
    // header signature, read with one range request.
    let (signed_v2, signed_delta) = pack_v2_signed(w, "jigdo-v2-signed-for-check", &secret);
    let signed_rpms = published_with(
        "published-for-check-signed-delta",
        [signed_v2.as_path(), signed_delta.as_path()],
        false,
        &|_| {},
    );
    let (report, asked) = check_delta("check-signed-delta", &signed_rpms, &["--gpgkey", key]);
    assert_eq!(
        report["trust"]["verified"][0]["link"], "jigdo-rpm-signature",
        "{report}"
    );
    let delta_name = format!("/{}", file_name(&signed_delta));
    let rpms: Vec<_> = asked.iter().filter(|r| r.path.ends_with(".rpm")).collect();
    assert!(
        rpms.len() == 1 && rpms[0].path == delta_name && rpms[0].status == 206,
        "one range request of the delta RPM expected: {asked:?}"
    );
}

fn file_name(p: &Path) -> String {
    p.file_name().expect("name").to_string_lossy().into_owned()
}

/// Runs `jigdo install --check` (`extra`: the trust arguments) over nginx serving
/// `published` for a fresh repository holding v1, once with `--json` and once without,
/// and checks what every such check must say: an update by the delta path of the
/// published delta RPM, the jigdo RPM never asked for, at most 4 requests and 16 KB on
/// the wire each, no ref moved. Returns the JSON report and the `--json` run's requests.
fn check_delta(
    name: &str,
    published: &Path,
    extra: &[&str],
) -> (serde_json::Value, Vec<mirror_tests::nginx::LoggedRequest>) {
    let w = world();
    let tmp = w.dir.join(format!("{name}-nginx"));
    remove_tree(&tmp);
    let nginx = mirror_tests::nginx::Nginx::start(published, &tmp);
    let repo = repo_with_v1(&format!("client-{name}"));
    let before = refs_state(&repo);
    let delta = std::fs::read_dir(published)
        .expect("readdir")
        .map(|e| e.expect("entry").path())
        .find(|p| file_name(p).starts_with("example-os-delta-"))
        .expect("the published delta RPM");
    let delta_size = std::fs::metadata(&delta).expect("stat").len();
    let jigdo_name = format!("/{}", file_name(&w.v2_rpm));
    let mut report = serde_json::Value::Null;
    let mut json_requests = Vec::new();
    for json in [true, false] {
        let start = nginx.settled_log_len();
        let mut cmd = jigdo();
        cmd.args(["install", "example-os", "--check", "--from", &nginx.url()])
            .arg("--repo")
            .arg(&repo)
            .args(["--ref", REF])
            .args(extra);
        if json {
            cmd.arg("--json");
        }
        let out = run_raw(&mut cmd);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(100), "{name}: {stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let log = nginx.settled_log_len();
        let asked = nginx.log()[start..log].to_vec();
        assert!(
            !asked.iter().any(|r| r.path == jigdo_name),
            "{name}: the check read the jigdo RPM although the install takes the delta: \
             {asked:?}"
        );
        let wire: u64 = asked.iter().map(|r| r.wire_bytes()).sum();
        assert!(
            asked.len() <= 4 && wire <= 16 * 1024,
            "{name}: {} requests, {wire} bytes: {asked:?}",
            asked.len()
        );
        if json {
            report = serde_json::from_str(&stdout).expect("install --check --json");
            json_requests = asked;
        } else {
            assert!(
                stdout.contains("by the delta path")
                    && stdout.contains(&format!("{delta_size} bytes to download")),
                "{name}: {stdout}"
            );
        }
    }
    assert_eq!(report["path"], "delta", "{name}: {report}");
    assert_eq!(report["commit"], w.v2_commit.as_str(), "{name}: {report}");
    assert_eq!(report["delta_bytes"], delta_size, "{name}: {report}");
    assert_eq!(report["update_bytes"], delta_size, "{name}: {report}");
    assert_eq!(report["jigdo_rpm_bytes"], 0, "{name}: {report}");
    assert!(
        report["delta_rpm"]
            .as_str()
            .is_some_and(|n| n.starts_with("example-os-delta-")),
        "{name}: {report}"
    );
    assert!(
        report["bytes_downloaded"]
            .as_u64()
            .is_some_and(|b| b > 0 && b <= 16 * 1024),
        "{name}: {report}"
    );
    assert_eq!(refs_state(&repo), before, "{name}: --check moved a ref");
    (report, json_requests)
}
