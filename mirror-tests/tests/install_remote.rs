//! `jigdo install` and `jigdo mirror` against loopback mirrors: real nginx serving a
//! repository published by `jigdo repo create`, and the fault-injecting server of
//! `mirror_tests::fault_server`. Packages are built by the real `rpmbuild`, trees
//! committed by the real `ostree` (examples/compose-tree.sh), commits packed by
//! `jigdo pack`; the real `ostree` (fsck, refs, admin status), `createrepo_c` and `dnf`
//! are the oracles.
//!
//! Every scenario runs with the built-in downloader (`--backend http`) and, when this
//! crate is built with its `librepo` feature (and the jigdo binary with its own), again
//! with `--backend librepo`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mirror_tests::fault_server::{Fault, FaultServer, PathMatch};
use mirror_tests::nginx::Nginx;
use mirror_tests::*;

jigdo_command!();

const REF: &str = "example/os";

/// `mod NAME { fn http(); fn librepo() }` running the scenario `fn NAME(backend)`.
macro_rules! with_each_backend {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn http() {
                super::$name("http")
            }
            #[cfg(feature = "librepo")]
            #[test]
            fn librepo() {
                super::$name("librepo")
            }
        }
    )*};
}

with_each_backend!(
    nginx_install_v1_then_v2_downloads_only_changes_then_deploys,
    faults_fail_over_or_fail_clearly,
    tampered_package_is_never_imported,
    kill_during_install_then_rerun_redownloads_nothing_verified,
    two_installs_at_once_do_not_corrupt,
    mirror_then_air_gapped_install_gives_the_same_commit,
    each_file_is_hashed_once,
    repo_files_with_gpgcheck_install_only_signed_jigdo_rpms,
    repomd_is_asked_conditionally,
    packages_are_imported_while_others_download,
    a_failed_download_midway_leaves_no_ref_and_a_clean_repository,
    check_reads_only_the_start_of_the_jigdo_rpm,
    check_rejects_a_tampered_index_in_the_start,
    pins_download_while_the_jigdo_rpm_downloads,
    mirror_again_with_nothing_new_is_a_304,
);

struct World {
    dir: PathBuf,
    /// The published repository: jigdo RPMs of v1 and v2 and every pinned RPM.
    published: PathBuf,
    v1_commit: String,
    v2_commit: String,
    /// Relative paths of v1's pinned packages in `published`.
    v1_pkg_paths: Vec<String>,
}

fn alpha(version: &str, seed: u64) -> TestPackage {
    TestPackage::new(
        "jt-alpha",
        version,
        "noarch",
        vec![
            TestFile::regular("/usr/bin/jt-alpha", pseudo_random(seed, 40_000), 0o755),
            TestFile::regular("/etc/jt-alpha.conf", b"alpha = yes\n".to_vec(), 0o644),
        ],
    )
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("install_remote");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let v1 = dir.join("v1");
        let v2 = dir.join("v2");
        std::fs::create_dir_all(&v2).expect("mkdir");
        let beta = TestPackage::new(
            "jt-beta",
            "2.1",
            "noarch",
            vec![TestFile::regular(
                "/usr/share/jt-beta/big.bin",
                pseudo_random(3, 600_000),
                0o644,
            )],
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
        build_rpm(&v1, &alpha("1.0", 2));
        for p in [&beta, &gamma] {
            let rpm = build_rpm(&v1, p);
            std::fs::copy(&rpm, v2.join(rpm.file_name().expect("name"))).expect("copy");
        }
        build_rpm(&v2, &alpha("1.1", 5));
        build_rpm(&v2, &delta);

        let compose = dir.join("compose");
        // Bootable commits keep /etc as /usr/etc; `ostree admin deploy` needs it. This test
        // binary composes only here, so the process-wide setting reaches nothing else.
        std::env::set_var("COMPOSE_USR_ETC", "1");
        let v1_commit = compose_tree(&v1, &compose, REF, "1.0", None);
        let published = dir.join("published");
        let pkgs = published.join("Packages");
        std::fs::create_dir_all(&pkgs).expect("mkdir");
        pack(&compose, &v1_commit, &v1, &published);
        let v2_commit = compose_tree(&v2, &compose, REF, "2.0", Some(REF));
        pack(&compose, &v2_commit, &v2, &published);
        let mut v1_pkg_paths = Vec::new();
        for d in [&v1, &v2] {
            for e in std::fs::read_dir(d).expect("readdir") {
                let p = e.expect("entry").path();
                let name = p.file_name().expect("name").to_string_lossy().into_owned();
                if d == &v1 {
                    v1_pkg_paths.push(format!("Packages/{name}"));
                }
                std::fs::copy(&p, pkgs.join(&name)).expect("copy");
            }
        }
        run(jigdo().args(["repo", "create"]).arg(&published));
        World {
            dir,
            published,
            v1_commit,
            v2_commit,
            v1_pkg_paths,
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

fn fresh(name: &str) -> PathBuf {
    let p = world().dir.join(name);
    let _ = std::fs::remove_dir_all(&p);
    p
}

fn install(backend: &str, spec: &str, from: &[String], repo: &Path, extra: &[&str]) -> Output {
    let mut cmd = jigdo();
    cmd.arg("install").arg(spec).args(["--backend", backend]);
    for f in from {
        cmd.arg("--from").arg(f);
    }
    // Nothing here is signed: these scenarios accept that deliberately (tests/trust.rs
    // covers the keys).
    cmd.arg("--repo")
        .arg(repo)
        .args(["--ref", REF, "--nogpgcheck"])
        .args(extra);
    run_raw(&mut cmd)
}

fn json_u64(json: &str, key: &str) -> u64 {
    // The report is pretty-printed JSON: one `"key": value` per line.
    let pat = format!("\"{key}\": ");
    json.lines()
        .find_map(|l| l.trim().strip_prefix(&pat))
        .and_then(|v| v.trim_end_matches(',').parse().ok())
        .unwrap_or_else(|| panic!("{key} missing in {json}"))
}

fn rpm_requests(n: &Nginx) -> Vec<String> {
    let mut v: Vec<String> = n
        .requests()
        .into_iter()
        .filter(|p| p.ends_with(".rpm"))
        .collect();
    v.sort();
    v
}

fn nginx_install_v1_then_v2_downloads_only_changes_then_deploys(backend: &str) {
    let w = world();
    let tmp = tempfile::tempdir().expect("tmp");
    let nginx = Nginx::start(&w.published, tmp.path());
    let repo = fresh(&format!("{backend}-nginx-client"));
    let from = vec![nginx.url()];

    let out = ok(install(
        backend,
        "example-os-1.0",
        &from,
        &repo,
        &["--json"],
    ));
    assert!(
        out.contains(&format!("\"commit\": \"{}\"", w.v1_commit)),
        "{out}"
    );
    let first = rpm_requests(&nginx);
    // The v1 jigdo RPM and v1's three packages.
    assert_eq!(first.len(), 4, "{first:?}");
    assert_eq!(json_u64(&out, "packages_downloaded"), 3, "{out}");

    let out = ok(install(backend, "example-os", &from, &repo, &["--json"]));
    assert!(out.contains(&w.v2_commit), "{out}");
    let all = rpm_requests(&nginx);
    let mut second: Vec<&String> = all.iter().filter(|p| !first.contains(p)).collect();
    // The v2 jigdo RPM is asked for twice: its start (headers and index, read before the
    // packages start downloading), then the rest.
    second.dedup();
    // Only the v2 jigdo RPM and the two changed packages (alpha 1.1, delta).
    assert_eq!(second.len(), 3, "{second:?}");
    assert!(
        second.iter().any(|p| p.contains("jt-alpha-1.1")),
        "{second:?}"
    );
    assert!(
        second.iter().any(|p| p.contains("jt-delta-1.0")),
        "{second:?}"
    );
    assert_eq!(json_u64(&out, "packages_downloaded"), 2, "{out}");
    assert!(json_u64(&out, "bytes_downloaded") > 0);
    assert_eq!(
        refs_state(&repo),
        vec![(REF.to_string(), w.v2_commit.clone())]
    );
    assert_fsck_clean(&repo);

    // Deploy into a test sysroot with the real ostree admin.
    let sysroot = fresh(&format!("{backend}-sysroot"));
    std::fs::create_dir_all(&sysroot).expect("mkdir");
    ok(install(
        backend,
        "example-os",
        &from,
        &repo,
        &[
            "--sysroot",
            &sysroot.display().to_string(),
            "--os",
            "testos",
            "--deploy",
        ],
    ));
    let status = run(Command::new("ostree")
        .args(["admin", "status", "--sysroot"])
        .arg(&sysroot));
    assert!(status.contains(&w.v2_commit), "{status}");
    assert!(status.contains("testos"), "{status}");
}

/// An install hashes each file once: the jigdo RPM and every pinned package are checked
/// while they download, and the rebuild takes them as verified files without hashing
/// them again. Counted from the debug log line of every whole-file hash.
fn each_file_is_hashed_once(backend: &str) {
    let w = world();
    let tmp = tempfile::tempdir().expect("tmp");
    let nginx = Nginx::start(&w.published, tmp.path());
    let repo = fresh(&format!("{backend}-hashed-once"));
    let mut cmd = jigdo();
    cmd.env("JIGDO_LOG", "repo_fetch=debug,jigdo_unpack=debug")
        .args([
            "install",
            "example-os-1.0",
            "--nogpgcheck",
            "--backend",
            backend,
        ])
        .arg("--from")
        .arg(nginx.url())
        .arg("--repo")
        .arg(&repo);
    let out = run_raw(&mut cmd);
    assert_eq!(ok(&out).trim(), w.v1_commit);
    let log = String::from_utf8_lossy(&out.stderr);
    let mut hashed: std::collections::BTreeMap<String, usize> = Default::default();
    for line in log.lines().filter(|l| l.contains("file hashed")) {
        let path = line.split("path=").nth(1).unwrap_or("").trim();
        let name = Path::new(path).file_name().map_or(String::new(), |n| {
            let n = n.to_string_lossy();
            let n = n.strip_suffix(".part").unwrap_or(&n);
            n.strip_suffix(".lrpart").unwrap_or(n).to_string()
        });
        if name.ends_with(".rpm") {
            *hashed.entry(name).or_default() += 1;
        }
    }
    // The v1 jigdo RPM and v1's three packages, each hashed exactly once.
    assert_eq!(hashed.len(), 4, "{hashed:?}\n{log}");
    assert!(hashed.values().all(|&n| n == 1), "{hashed:?}\n{log}");
}

/// The NEVRA of the package at `rel` (`Packages/NEVRA.rpm`).
fn nevra_of(rel: &str) -> String {
    rel.trim_start_matches("Packages/")
        .trim_end_matches(".rpm")
        .to_string()
}

/// Pipelined download and import (issue 13): nginx sends the biggest pinned package
/// slowly (`limit_rate` on its location, about 3 s); the others are imported while it
/// still downloads. The order is read from the install's own debug log (one stream, in
/// the order things happened): a package imported before the slow one was in place.
fn packages_are_imported_while_others_download(backend: &str) {
    let w = world();
    let tmp = tempfile::tempdir().expect("tmp");
    let slow = w
        .v1_pkg_paths
        .iter()
        .max_by_key(|p| std::fs::metadata(w.published.join(p)).map_or(0, |m| m.len()))
        .expect("a package");
    let size = std::fs::metadata(w.published.join(slow))
        .expect("stat")
        .len();
    let rate = (size / 3).max(1);
    let nginx = Nginx::start_with(
        &w.published,
        tmp.path(),
        &format!("location = /{slow} {{ limit_rate {rate}; }}"),
    );
    let repo = fresh(&format!("{backend}-pipelined"));
    let mut cmd = jigdo();
    cmd.env("JIGDO_LOG", "jigdo_install=debug,jigdo_unpack=debug")
        .args([
            "install",
            "example-os-1.0",
            "--nogpgcheck",
            "--backend",
            backend,
        ])
        .arg("--from")
        .arg(nginx.url())
        .arg("--repo")
        .arg(&repo)
        .args(["--ref", REF]);
    let started = Instant::now();
    let out = run_raw(&mut cmd);
    let took = started.elapsed();
    assert_eq!(ok(&out).trim(), w.v1_commit);
    // The slow package really was slow (else nothing is proved).
    assert!(took >= Duration::from_secs(2), "{took:?}");
    let log = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = log.lines().collect();
    let slow_nevra = nevra_of(slow);
    let at = |what: &str, nevra: &str| {
        lines
            .iter()
            .position(|l| l.contains(what) && l.contains(&format!("package={nevra}")))
    };
    let slow_in_place = at("package in place", &slow_nevra)
        .unwrap_or_else(|| panic!("{slow_nevra} never in place\n{log}"));
    let slow_imported = at("package imported", &slow_nevra)
        .unwrap_or_else(|| panic!("{slow_nevra} never imported\n{log}"));
    assert!(slow_imported > slow_in_place, "{log}");
    let early: Vec<&&str> = lines[..slow_in_place]
        .iter()
        .filter(|l| l.contains("package imported"))
        .collect();
    assert!(
        !early.is_empty(),
        "no package was imported while {slow_nevra} downloaded\n{log}"
    );
    // Every other package, each imported once it was in place.
    for rel in w.v1_pkg_paths.iter().filter(|p| *p != slow) {
        let n = nevra_of(rel);
        let (placed, imported) = (at("package in place", &n), at("package imported", &n));
        assert!(
            matches!((placed, imported), (Some(p), Some(i)) if p < i),
            "{n}: {placed:?} {imported:?}\n{log}"
        );
    }
    // The downloads, all imported, are removed before the transaction is made durable
    // (so that its flush does not write them to disk only for them to be deleted).
    let step = |what: &str| {
        lines
            .iter()
            .position(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what:?}\n{log}"))
    };
    let last_import = lines
        .iter()
        .rposition(|l| l.contains("package imported"))
        .expect("imports");
    let removed = step("downloads removed");
    assert!(
        last_import < removed && removed < step("unpack: transaction committed"),
        "{log}"
    );
    assert!(!repo.join("extensions/jigdo/downloads").exists());
    assert_fsck_clean(&repo);
    assert_eq!(
        refs_state(&repo),
        vec![(REF.to_string(), w.v1_commit.clone())]
    );
}

/// A download that fails mid-way, on the only mirror: the biggest package stalls until
/// the client gives up on it (`--timeout 2`, no retry) while the others are downloaded
/// and imported; or it is 404 at once. The install fails naming the package (the
/// download's error, not the import's), sets no ref and leaves a repository
/// `ostree fsck` finds clean; a rerun from a good mirror finishes.
fn a_failed_download_midway_leaves_no_ref_and_a_clean_repository(backend: &str) {
    let w = world();
    let mut by_size: Vec<&String> = w.v1_pkg_paths.iter().collect();
    by_size.sort_by_key(|p| std::fs::metadata(w.published.join(p)).map_or(0, |m| m.len()));
    let (smallest, biggest) = (by_size[0], by_size[by_size.len() - 1]);
    let stall = Fault::Stall {
        after: 1000,
        stall: Duration::from_secs(20),
    };
    for (label, fault) in [("stall", stall), ("404", Fault::Status(404))] {
        let bad = FaultServer::start(&w.published).expect("server");
        bad.add_fault(PathMatch::Exact(format!("/{biggest}")), fault);
        let repo = fresh(&format!("{backend}-midway-{label}"));
        let mut cmd = jigdo();
        cmd.env("JIGDO_LOG", "jigdo_install=debug,jigdo_unpack=debug")
            .args([
                "install",
                "example-os-1.0",
                "--nogpgcheck",
                "--backend",
                backend,
            ])
            .args(["--retries", "0", "--timeout", "2"])
            .arg("--from")
            .arg(bad.url())
            .arg("--repo")
            .arg(&repo)
            .args(["--ref", REF]);
        let out = run_raw(&mut cmd);
        assert!(!out.status.success(), "{label}: succeeded");
        let log = String::from_utf8_lossy(&out.stderr);
        let err = log
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("{label}: no error line\n{log}"));
        let nevra = nevra_of(biggest);
        assert!(err.contains(&nevra), "{label}: {err}");
        // The download's failure is what is reported, not the import's "missing".
        assert!(!err.contains("had not arrived"), "{label}: {err}");
        if label == "stall" {
            // Mid-way: a package was imported while the stalled one was still awaited.
            let small = nevra_of(smallest);
            assert!(
                log.lines()
                    .any(|l| l.contains("package imported") && l.contains(&small)),
                "{label}: {small} was not imported\n{log}"
            );
        }
        assert!(refs_state(&repo).is_empty(), "{label}: a ref was set");
        assert_fsck_clean(&repo);
        let good = FaultServer::start(&w.published).expect("server");
        let out = install(backend, "example-os-1.0", &[good.url()], &repo, &[]);
        assert_eq!(ok(&out).trim(), w.v1_commit, "{label}");
        assert_fsck_clean(&repo);
    }
}

/// Faults at the mirror for one pinned package: with a good second mirror the install
/// succeeds; alone it fails naming the package and the mirror, and changes no ref.
fn faults_fail_over_or_fail_clearly(backend: &str) {
    let w = world();
    let good = FaultServer::start(&w.published).expect("server");
    let target = &w.v1_pkg_paths[0];
    let nevra = target
        .trim_start_matches("Packages/")
        .trim_end_matches(".rpm")
        .to_string();
    let faults = vec![
        ("404", Fault::Status(404)),
        ("500", Fault::Status(500)),
        ("reset", Fault::ResetMidBody { after: 1000 }),
        ("truncated", Fault::Truncate { after: 1000 }),
        ("wrong-bytes", Fault::WrongBytes),
        (
            "stall",
            Fault::Stall {
                after: 100,
                stall: Duration::from_secs(4),
            },
        ),
        (
            "redirect",
            Fault::Redirect {
                status: 302,
                location: "/nowhere.rpm".into(),
            },
        ),
    ];
    let extra = ["--timeout", "1", "--retries", "1"];
    for (label, fault) in faults {
        let bad = FaultServer::start(&w.published).expect("server");
        bad.add_fault(PathMatch::Exact(format!("/{target}")), fault);
        let repo = fresh(&format!("{backend}-fault-{label}"));
        let out = install(
            backend,
            "example-os-1.0",
            &[bad.url(), good.url()],
            &repo,
            &extra,
        );
        let stdout = ok(&out);
        assert_eq!(stdout.trim(), w.v1_commit, "{label}");
        assert_fsck_clean(&repo);

        let repo = fresh(&format!("{backend}-fault-{label}-alone"));
        let out = install(backend, "example-os-1.0", &[bad.url()], &repo, &extra);
        assert!(
            !out.status.success(),
            "{label}: succeeded without a good mirror"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        // --nogpgcheck: its one warning line first, then the one error line.
        let (warning, err) = stderr.split_once('\n').unwrap_or(("", &stderr));
        assert!(
            warning.starts_with("warning: the commit is not verified"),
            "{label}: {stderr}"
        );
        assert!(err.starts_with("error: "), "{label}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{label}: {err}");
        assert!(
            err.contains(&nevra),
            "{label}: error does not name {nevra}: {err}"
        );
        assert!(
            err.contains(&bad.url().trim_end_matches('/').to_string()),
            "{label}: error does not name the mirror {}: {err}",
            bad.url()
        );
        assert!(refs_state(&repo).is_empty(), "{label}: a ref moved");
    }
}

/// A package replaced on the mirror by other bytes under the same name, with the
/// repository metadata regenerated to match, is never imported.
fn tampered_package_is_never_imported(backend: &str) {
    let w = world();
    let tampered = fresh(&format!("{backend}-tampered-mirror"));
    run(Command::new("cp")
        .arg("-a")
        .arg(&w.published)
        .arg(&tampered));
    let other = fresh(&format!("{backend}-tampered-build"));
    let rpm = build_rpm(&other, &alpha("1.0", 99));
    let victim = tampered
        .join("Packages")
        .join(rpm.file_name().expect("name"));
    assert!(victim.is_file(), "{}", victim.display());
    std::fs::copy(&rpm, &victim).expect("copy");
    run(jigdo().args(["repo", "create"]).arg(&tampered));
    let repo = fresh(&format!("{backend}-tampered-client"));
    let out = install(
        backend,
        "example-os-1.0",
        &[tampered.display().to_string()],
        &repo,
        &[],
    );
    assert!(!out.status.success(), "installed from a tampered mirror");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("jt-alpha-1.0-1.noarch"), "{err}");
    assert!(refs_state(&repo).is_empty());
}

fn kill_during_install_then_rerun_redownloads_nothing_verified(backend: &str) {
    let w = world();
    let server = FaultServer::start(&w.published).expect("server");
    // The big package stalls; the others arrive and are verified.
    let big = w
        .v1_pkg_paths
        .iter()
        .find(|p| p.contains("jt-beta"))
        .expect("beta")
        .clone();
    server.add_fault(
        PathMatch::Exact(format!("/{big}")),
        Fault::Stall {
            after: 200_000,
            stall: Duration::from_secs(60),
        },
    );
    let repo = fresh(&format!("{backend}-kill-client"));
    let mut child = jigdo()
        .args([
            "install",
            "example-os-1.0",
            "--nogpgcheck",
            "--backend",
            backend,
        ])
        .args(["--from", &server.url(), "--repo"])
        .arg(&repo)
        .args(["--ref", REF, "--timeout", "60"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let pkg_dir = repo.join("extensions/jigdo/downloads/packages");
    let start = Instant::now();
    loop {
        let n = std::fs::read_dir(&pkg_dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "rpm"))
                    .count()
            })
            .unwrap_or(0);
        if n >= 2 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the two small packages never arrived"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // SIGKILL.
    child.kill().expect("kill");
    let _ = child.wait();
    server.clear_faults();
    server.clear_log();
    let out = install(backend, "example-os-1.0", &[server.url()], &repo, &[]);
    assert_eq!(ok(&out).trim(), w.v1_commit);
    let mut rpms: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.path.clone())
        .filter(|p| p.ends_with(".rpm") && p.starts_with("/Packages/"))
        .collect();
    if backend == "librepo" {
        // librepo resumes the unfinished file with a Range request (206), then fetches it
        // once more from the start; what matters is that only that file is requested.
        rpms.dedup();
    }
    assert_eq!(rpms, vec![format!("/{big}")], "re-downloaded: {rpms:?}");
    assert_fsck_clean(&repo);
}

fn two_installs_at_once_do_not_corrupt(backend: &str) {
    let w = world();
    let repo = fresh(&format!("{backend}-concurrent-client"));
    let from = w.published.display().to_string();
    let spawn = || {
        jigdo()
            .args([
                "install",
                "example-os",
                "--nogpgcheck",
                "--backend",
                backend,
            ])
            .args(["--from", &from, "--repo"])
            .arg(&repo)
            .args(["--ref", REF])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let a = spawn();
    let b = spawn();
    let outs = [
        a.wait_with_output().expect("a"),
        b.wait_with_output().expect("b"),
    ];
    for o in &outs {
        if o.status.success() {
            assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), w.v2_commit);
        } else {
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(err.starts_with("error: "), "{err}");
        }
    }
    assert!(outs.iter().any(|o| o.status.success()));
    assert_eq!(
        refs_state(&repo),
        vec![(REF.to_string(), w.v2_commit.clone())]
    );
    assert_fsck_clean(&repo);
}

fn mirror_then_air_gapped_install_gives_the_same_commit(backend: &str) {
    let w = world();
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = fresh(&format!("{backend}-airgap-dir"));
    {
        let nginx = Nginx::start(&w.published, tmp.path());
        let out = run(jigdo()
            .args(["mirror", "example-os", "--nogpgcheck", "--backend", backend])
            .args(["--from", &nginx.url(), "--to"])
            .arg(&dir)
            .arg("--json"));
        assert!(out.contains("example-os-2.0"), "{out}");
        // Again: nothing is fetched.
        let before = rpm_requests(&nginx).len();
        run(jigdo()
            .args(["mirror", "example-os", "--nogpgcheck", "--backend", backend])
            .args(["--from", &nginx.url(), "--to"])
            .arg(&dir));
        let after = rpm_requests(&nginx).len();
        // DIR holds the jigdo RPM and every pin verified: no package is asked for.
        assert_eq!(after, before, "{before} -> {after}");
    } // nginx stops here
    let repo = fresh(&format!("{backend}-airgap-client"));
    let out = install(
        backend,
        "example-os",
        &[dir.display().to_string()],
        &repo,
        &[],
    );
    assert_eq!(ok(&out).trim(), w.v2_commit);
    assert_fsck_clean(&repo);

    // An ordinary repository for createrepo_c and dnf.
    require_tool("createrepo_c");
    let copy = tmp.path().join("copy");
    run(Command::new("cp").arg("-a").arg(&dir).arg(&copy));
    run(Command::new("createrepo_c").arg("--update").arg(&copy));
    require_tool("dnf");
    let dnf_tmp = tmp.path().join("dnf");
    std::fs::create_dir_all(&dnf_tmp).expect("mkdir");
    let conf = dnf_tmp.join("dnf.conf");
    std::fs::write(&conf, "[main]\ngpgcheck=0\nreposdir=/dev/null\n").expect("conf");
    let listed = run(Command::new("dnf")
        .arg("-q")
        .arg(format!("--config={}", conf.display()))
        .arg("--setopt=reposdir=/dev/null")
        .arg(format!(
            "--setopt=cachedir={}",
            dnf_tmp.join("cache").display()
        ))
        .arg(format!("--installroot={}", dnf_tmp.join("root").display()))
        .arg("--releasever=1")
        .arg(format!("--repofrompath=t,file://{}", dir.display()))
        .args(["--repo=t", "repoquery", "--qf", "%{name}-%{version}"]));
    for p in [
        "example-os-2.0",
        "jt-alpha-1.1",
        "jt-beta-2.1",
        "jt-delta-1.0",
        "jt-gamma-0.5",
    ] {
        assert!(listed.contains(p), "dnf does not list {p}: {listed}");
    }
}

/// Sources from dnf `.repo` files: `--repofile` and `--reposdir`, `$basearch` in
/// `baseurl`, disabled sections ignored, and `gpgcheck=1` with `gpgkey=file://…`: the
/// jigdo RPM signed with that key installs; an unsigned one, or one signed with another
/// key, is refused and no ref moves. Keys are made by the real gpg. With the default
/// client the repository is a `file://` one; with librepo it is served by nginx.
fn repo_files_with_gpgcheck_install_only_signed_jigdo_rpms(backend: &str) {
    let w = world();
    let tmp = tempfile::tempdir().expect("tmp");
    let keys = tmp.path().join("keys");
    let (secret, public) =
        dev_support::gen_signing_key(&keys.join("a"), "Release <rel@example.org>");
    let (_, other_public) =
        dev_support::gen_signing_key(&keys.join("b"), "Other <other@example.org>");
    // The published repository under .../x86_64 (uname's machine: $basearch), plus v2
    // packed again as release 2 and signed.
    let arch = run(Command::new("uname").arg("-m")).trim().to_string();
    let mirror = fresh(&format!("{backend}-gpg-repos")).join(&arch);
    std::fs::create_dir_all(mirror.parent().expect("parent")).expect("mkdir");
    run(Command::new("cp").arg("-a").arg(&w.published).arg(&mirror));
    run(jigdo()
        .args(["pack", "--repo"])
        .arg(w.dir.join("compose"))
        .args(["--rev", &w.v2_commit, "--from"])
        .arg(w.dir.join("v2"))
        .arg("--output")
        .arg(&mirror)
        .args(["--name", "example-os", "--release", "2", "--sign-key"])
        .arg(&secret));
    run(jigdo().args(["repo", "create"]).arg(&mirror));
    let top = mirror.parent().expect("parent");
    let nginx = (backend == "librepo").then(|| Nginx::start(top, tmp.path()));
    let baseurl = match &nginx {
        Some(n) => n.url(),
        None => format!("file://{}", top.display()),
    };
    let repo_file = |dir: &Path, key: &Path| -> PathBuf {
        std::fs::create_dir_all(dir).expect("mkdir");
        let f = dir.join("jigdo.repo");
        let text = format!(
            "[off]\nname=Disabled\nbaseurl=http://127.0.0.1:9/\nenabled=0\n\n\
             [os]\nname=OS $basearch\nbaseurl={baseurl}/$basearch/\nenabled=1\n\
             gpgcheck=1\ngpgkey=file://{}\n",
            key.display()
        );
        std::fs::write(&f, text).expect("repo file");
        f
    };
    let good = repo_file(&tmp.path().join("good"), &public);
    let wrong = repo_file(&tmp.path().join("wrong"), &other_public);
    let install_with = |args: &[&str], file: &Path, spec: &str, repo: &Path| -> Output {
        run_raw(
            jigdo()
                .args(["install", spec, "--backend", backend])
                .args(args)
                .arg(file)
                .arg("--repo")
                .arg(repo)
                .args(["--ref", REF]),
        )
    };

    // Signed, right key: installs, from --repofile and from --reposdir.
    let repo = fresh(&format!("{backend}-gpg-client"));
    let out = install_with(&["--repofile"], &good, "example-os-2.0-2", &repo);
    assert_eq!(ok(&out).trim(), w.v2_commit);
    if let Some(n) = &nginx {
        let served = n.requests();
        assert!(
            served.iter().any(|r| r.contains("example-os-2.0-2.")),
            "the signed jigdo RPM did not come over HTTP: {served:?}"
        );
    }
    let repo = fresh(&format!("{backend}-gpg-client-reposdir"));
    let out = install_with(
        &["--reposdir"],
        &tmp.path().join("good"),
        "example-os-2.0-2",
        &repo,
    );
    assert_eq!(ok(&out).trim(), w.v2_commit);

    // Unsigned, or signed with another key: refused, nothing set.
    for (what, file, spec) in [
        ("unsigned", &good, "example-os-2.0-1"),
        ("other key", &wrong, "example-os-2.0-2"),
    ] {
        let repo = fresh(&format!("{backend}-gpg-refused"));
        let out = install_with(&["--repofile"], file, spec, &repo);
        assert!(!out.status.success(), "{what}: installed");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("signature"), "{what}: {err}");
        assert!(err.contains(spec), "{what}: does not name {spec}: {err}");
        assert!(refs_state(&repo).is_empty(), "{what}: a ref moved");
    }
}

/// A loopback URL where nothing listens.
fn dead_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    format!("http://127.0.0.1:{port}/")
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The error line of an install that must have failed (its last line), and all stderr.
fn failure(out: &Output) -> (String, String) {
    assert!(!out.status.success(), "installed: {}", stderr_of(out));
    let err = stderr_of(out);
    let last = err.trim_end().lines().last().unwrap_or("").to_string();
    assert!(last.starts_with("error: "), "{err}");
    (last, err)
}

/// Give up on a dead source at once.
const QUICK: &[&str] = &["--timeout", "2", "--retries", "0"];

/// nginx serving `top`, and the URL of each of its subdirectories `dirs` (the `--from`
/// list of a jigdo repository beside package repositories). Keep the temporary directory
/// (nginx's own files) as long as nginx.
fn serve_dirs(top: &Path, dirs: &[&str]) -> (tempfile::TempDir, Nginx, Vec<String>) {
    let tmp = tempfile::tempdir().expect("tmp");
    let nginx = Nginx::start(top, &tmp.path().join("nginx"));
    let from = dirs
        .iter()
        .map(|d| format!("{}{d}/", nginx.url()))
        .collect();
    (tmp, nginx, from)
}

/// A directory holding only the published jigdo RPMs, published with `jigdo repo create`
/// (its repomd.xml has the `jigdo` record).
fn jigdo_only_repo(dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    for e in std::fs::read_dir(&world().published).expect("readdir") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "rpm") {
            std::fs::copy(&p, dir.join(p.file_name().expect("name"))).expect("copy");
        }
    }
    run(jigdo().args(["repo", "create"]).arg(dir));
}

/// An OS package repository as a distribution's: every package of v1 and v2 where `jigdo
/// pack` found it (the pins' locations), beside a package with thousands of provides so
/// that its primary metadata is larger than the client reads instead of using locations.
fn os_repo(dir: &Path) {
    let w = world();
    std::fs::create_dir_all(dir).expect("mkdir");
    for d in [w.dir.join("v1"), w.dir.join("v2")] {
        for e in std::fs::read_dir(&d).expect("readdir") {
            let p = e.expect("entry").path();
            std::fs::copy(&p, dir.join(p.file_name().expect("name"))).expect("copy");
        }
    }
    publish_with_a_big_primary(dir);
}

/// Publishes the RPMs in `dir` with `jigdo repo create`, beside a package with thousands
/// of provides so that its primary metadata is larger than the client reads instead of
/// using locations.
fn publish_with_a_big_primary(dir: &Path) {
    build_filler(dir);
    run(jigdo().args(["repo", "create"]).arg(dir));
    let repomd = std::fs::read_to_string(dir.join("repodata/repomd.xml")).expect("repomd");
    assert!(!repomd.contains("type=\"jigdo\""), "{repomd}");
}

/// Builds into `dir` a package with thousands of provides: beside it, a repository's
/// primary metadata is larger than the client reads instead of using the pins'
/// locations.
fn build_filler(dir: &Path) {
    let mut filler = TestPackage::new(
        "jt-filler",
        "1.0",
        "noarch",
        vec![TestFile::regular(
            "/usr/share/jt-filler/readme",
            b"filler\n".to_vec(),
            0o644,
        )],
    );
    filler.preamble = (0..3000u64)
        .map(|i| format!("Provides: jt-cap-{}", hex_of(&pseudo_random(i + 1000, 12))))
        .collect();
    build_rpm(dir, &filler);
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Sources are tried in order: a dead source first (`--from` or a `.repo` section) is
/// reported in one warning line and skipped; the install fails only when something
/// needed is nowhere, naming it and the sources tried.
#[test]
fn a_dead_source_is_skipped_and_what_is_nowhere_is_named() {
    let w = world();
    let tmp = tempfile::tempdir().expect("tmp");
    let nginx = Nginx::start(&w.published, &tmp.path().join("nginx"));
    let dead = dead_url();

    let repo = fresh("dead-first-client");
    let out = install(
        "http",
        "example-os-1.0",
        &[dead.clone(), nginx.url()],
        &repo,
        QUICK,
    );
    assert_eq!(ok(&out).trim(), w.v1_commit);
    let err = stderr_of(&out);
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains(&dead)).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].starts_with("warning: ") && warnings[0].contains("cannot be reached"),
        "{err}"
    );

    // The same with a .repo file whose first section is dead.
    let repo_file = tmp.path().join("dead-first.repo");
    std::fs::write(
        &repo_file,
        format!(
            "[dead]\nname=Dead\nbaseurl={dead}\nenabled=1\ngpgcheck=0\n\n\
             [os]\nname=OS\nbaseurl={}\nenabled=1\ngpgcheck=0\n",
            nginx.url()
        ),
    )
    .expect("repo file");
    let repo = fresh("dead-first-repofile-client");
    let out = run_raw(
        jigdo()
            .args(["install", "example-os", "--nogpgcheck", "--repofile"])
            .arg(&repo_file)
            .arg("--repo")
            .arg(&repo)
            .args(["--ref", REF])
            .args(QUICK),
    );
    assert_eq!(ok(&out).trim(), w.v2_commit);
    let err = stderr_of(&out);
    assert_eq!(
        err.lines()
            .filter(|l| l.starts_with("warning: dead cannot be reached"))
            .count(),
        1,
        "{err}"
    );

    // Only the dead source: the jigdo RPM is nowhere; the error names it and the source.
    let repo = fresh("dead-only-client");
    let out = install(
        "http",
        "example-os-1.0",
        std::slice::from_ref(&dead),
        &repo,
        QUICK,
    );
    let (last, err) = failure(&out);
    assert!(
        last.contains("example-os-1.0") && last.contains(&dead),
        "{err}"
    );
    assert!(
        !repo.exists(),
        "a refused install created {}",
        repo.display()
    );

    // The jigdo RPM is found but its packages are nowhere: the error names a pinned
    // package and the sources tried.
    let jigdo_dir = fresh("dead-jigdo-only");
    jigdo_only_repo(&jigdo_dir);
    let repo = fresh("dead-packages-client");
    let out = install(
        "http",
        "example-os-1.0",
        &[dead.clone(), jigdo_dir.display().to_string()],
        &repo,
        QUICK,
    );
    let (last, err) = failure(&out);
    assert!(last.contains("jt-beta-2.1-1.noarch"), "{err}");
    assert!(
        last.contains(&dead),
        "the error does not name {dead}: {err}"
    );
    assert!(refs_state(&repo).is_empty());
}

/// With the `jigdo` record, a second `install` with nothing new reads repomd.xml and
/// the record only: no primary metadata, no jigdo RPM; at most 4 requests and 16 KB on
/// the wire (counted in nginx's access log, both ways). A repository without the record
/// (createrepo_c's) still serves through its primary.
#[test]
fn nothing_new_costs_a_few_kilobytes() {
    let w = world();
    let tmp = tempfile::tempdir().expect("tmp");
    let nginx = Nginx::start(&w.published, &tmp.path().join("nginx"));
    let repo = fresh("nothing-new-client");
    let from = vec![nginx.url()];
    let out = ok(install("http", "example-os", &from, &repo, &[]));
    assert_eq!(out.trim(), w.v2_commit);
    let before = nginx.settled_log_len();

    let out = install("http", "example-os", &from, &repo, &[]);
    assert_eq!(ok(&out).trim(), w.v2_commit);
    assert!(
        stderr_of(&out).contains("nothing new"),
        "{}",
        stderr_of(&out)
    );
    let again: Vec<_> = nginx.log().split_off(before);
    let bytes: u64 = again.iter().map(|r| r.wire_bytes()).sum();
    eprintln!(
        "nothing new: {} requests, {bytes} bytes on the wire: {again:?}",
        again.len()
    );
    assert!(again.len() <= 4, "{again:?}");
    assert!(bytes <= 16 * 1024, "{bytes} bytes: {again:?}");
    assert!(
        again
            .iter()
            .all(|r| !r.path.contains("primary") && !r.path.ends_with(".rpm")),
        "{again:?}"
    );

    let json = ok(install("http", "example-os", &from, &repo, &["--json"]));
    assert!(json.contains("\"up_to_date\": true"), "{json}");
    assert!(json.contains(&w.v2_commit), "{json}");
    assert_eq!(
        refs_state(&repo),
        vec![(REF.to_string(), w.v2_commit.clone())]
    );

    // Without the record: createrepo_c's repodata, read through primary.
    require_tool("createrepo_c");
    let plain = fresh("no-record-mirror");
    run(Command::new("cp").arg("-a").arg(&w.published).arg(&plain));
    run(Command::new("createrepo_c")
        .args(["--quiet", "--no-database"])
        .arg(&plain));
    let repomd = std::fs::read_to_string(plain.join("repodata/repomd.xml")).expect("repomd");
    assert!(!repomd.contains("type=\"jigdo\""), "{repomd}");
    let repo = fresh("no-record-client");
    let out = install(
        "http",
        "example-os-1.0",
        &[plain.display().to_string()],
        &repo,
        &[],
    );
    assert_eq!(ok(&out).trim(), w.v1_commit);
}

/// `jigdo install --json` of v1 then of v2 from `from` into `repo`: v1 downloads its 3
/// packages, each served by `from[1]` (the OS repository) as the report says; v2 downloads
/// the 2 it changed. Returns v2's report.
fn install_v1_then_v2(from: &[String], repo: &Path) -> String {
    let w = world();
    let out = ok(install("http", "example-os-1.0", from, repo, &["--json"]));
    assert!(out.contains(&w.v1_commit), "{out}");
    assert_eq!(json_u64(&out, "packages_downloaded"), 3, "{out}");
    assert_eq!(json_u64(&out, &from[1]), 3, "{out}");
    let out = ok(install("http", "example-os", from, repo, &["--json"]));
    assert!(out.contains(&w.v2_commit), "{out}");
    assert_eq!(json_u64(&out, "packages_downloaded"), 2, "{out}");
    out
}

/// The jigdo RPMs in one repository, the packages in another (`--from JIGDO --from OS`):
/// the packages are fetched at their locations and the OS repository's primary metadata
/// is never downloaded; where a location is not served (a 404), that repository's
/// primary is read as the fallback and the package still found.
#[test]
fn packages_are_fetched_by_location_without_the_os_primary() {
    let w = world();
    let top = fresh("by-location");
    jigdo_only_repo(&top.join("jigdo"));
    os_repo(&top.join("os"));
    let (_tmp, nginx, from) = serve_dirs(&top, &["jigdo", "os"]);

    let repo = top.join("client");
    install_v1_then_v2(&from, &repo);
    let log = nginx.log();
    let os_metadata: Vec<&str> = log
        .iter()
        .map(|r| r.path.as_str())
        .filter(|p| p.starts_with("/os/repodata/") && !p.ends_with("repomd.xml"))
        .collect();
    assert!(os_metadata.is_empty(), "{os_metadata:?}");
    let os_rpms = log
        .iter()
        .filter(|r| r.path.starts_with("/os/") && r.path.ends_with(".rpm") && r.status == 200)
        .count();
    assert_eq!(os_rpms, 5, "{log:?}");
    assert_fsck_clean(&repo);

    // One package moved: its location is a 404, the OS primary is read for it.
    let moved = top.join("os").join("Packages").join("x");
    std::fs::create_dir_all(&moved).expect("mkdir");
    let name = "jt-gamma-0.5-1.noarch.rpm";
    std::fs::rename(top.join("os").join(name), moved.join(name)).expect("move");
    run(jigdo().args(["repo", "create"]).arg(top.join("os")));
    let before = nginx.settled_log_len();
    let repo = top.join("client-fallback");
    let out = install("http", "example-os-1.0", &from, &repo, &[]);
    assert_eq!(ok(&out).trim(), w.v1_commit);
    let log: Vec<String> = nginx
        .log()
        .split_off(before)
        .into_iter()
        .map(|r| format!("{} {}", r.status, r.path))
        .collect();
    assert!(log.contains(&format!("404 /os/{name}")), "{log:?}");
    assert!(
        log.iter()
            .any(|l| l.starts_with("200 /os/repodata/") && l.contains("primary")),
        "{log:?}"
    );
    assert!(
        log.contains(&format!("200 /os/Packages/x/{name}")),
        "{log:?}"
    );
}

/// `jigdo pack --from` a Fedora-style rpm-md tree (`Packages/j/NAME.rpm`, repodata by
/// `createrepo_c`) records each pin's location as createrepo_c's `href` (directories
/// included, `jigdo info --json`); published apart (`--from JIGDO --from TREE`), the
/// install fetches each package at `TREE/Packages/j/…` and reads no primary metadata of
/// the tree (larger than the client reads instead of using locations).
#[test]
fn pack_from_a_fedora_style_tree_records_its_hrefs_and_install_fetches_there() {
    require_tool("createrepo_c");
    let w = world();
    let top = fresh("fedora-tree");
    let tree = top.join("os");
    let sub = tree.join("Packages").join("j");
    std::fs::create_dir_all(&sub).expect("mkdir");
    for e in std::fs::read_dir(w.dir.join("v1")).expect("readdir") {
        let p = e.expect("entry").path();
        std::fs::copy(&p, sub.join(p.file_name().expect("name"))).expect("copy");
    }
    build_filler(&sub);
    run(Command::new("createrepo_c")
        .args(["--quiet", "--no-database"])
        .arg(&tree));
    // createrepo_c's hrefs, from its primary metadata.
    let primary = files_under(&tree.join("repodata"))
        .into_iter()
        .find(|p| p.to_string_lossy().contains("primary.xml"))
        .expect("primary metadata");
    let tool = match primary.extension().and_then(|x| x.to_str()) {
        Some("gz") => "gzip",
        Some("xz") => "xz",
        Some("zst") => "zstd",
        Some("bz2") => "bzip2",
        other => panic!("primary compressed as {other:?}: {}", primary.display()),
    };
    let xml = run(Command::new(tool).arg("-dc").arg(&primary));
    let hrefs: Vec<String> = xml
        .split("<location href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(str::to_string))
        .collect();
    assert_eq!(hrefs.len(), 4, "{xml}");
    assert!(
        hrefs.iter().all(|h| h.starts_with("Packages/j/")),
        "{hrefs:?}"
    );

    let jigdo_dir = top.join("jigdo");
    let rpm = pack(&w.dir.join("compose"), &w.v1_commit, &tree, &jigdo_dir);
    run(jigdo().args(["repo", "create"]).arg(&jigdo_dir));
    let info: serde_json::Value =
        serde_json::from_str(&ok(run_raw(jigdo().args(["info", "--json"]).arg(&rpm))))
            .expect("info --json");
    let locations: Vec<String> = info["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| p["location"].as_str().expect("location").to_string())
        .collect();
    assert_eq!(locations.len(), 3, "{info}");
    for l in &locations {
        assert!(
            hrefs.contains(l),
            "pin location {l} is not an href of {hrefs:?}"
        );
    }

    let (_tmp, nginx, from) = serve_dirs(&top, &["jigdo", "os"]);
    let repo = top.join("client");
    let out = ok(install("http", "example-os-1.0", &from, &repo, &["--json"]));
    assert!(out.contains(&w.v1_commit), "{out}");
    assert_eq!(json_u64(&out, &from[1]), 3, "{out}");
    let log = nginx.log();
    let mut fetched: Vec<String> = log
        .iter()
        .filter(|r| r.path.starts_with("/os/") && r.path.ends_with(".rpm"))
        .map(|r| format!("{} {}", r.status, r.path))
        .collect();
    fetched.sort();
    let mut expected: Vec<String> = locations.iter().map(|l| format!("200 /os/{l}")).collect();
    expected.sort();
    assert_eq!(fetched, expected, "{log:?}");
    let os_metadata: Vec<&str> = log
        .iter()
        .map(|r| r.path.as_str())
        .filter(|p| p.starts_with("/os/repodata/") && !p.ends_with("repomd.xml"))
        .collect();
    assert!(
        os_metadata.is_empty(),
        "the tree's primary was read: {os_metadata:?}"
    );
    assert_eq!(
        refs_state(&repo),
        vec![(REF.to_string(), w.v1_commit.clone())]
    );
    assert_fsck_clean(&repo);
}

/// Beside a package repository of 65,000 packages (generated primary metadata,
/// `mirror_tests::bigrepo`), an install whose pins are not at their locations (the real
/// RPMs stored under `Packages/real/`) reads that primary as the fallback, keeping only
/// what the pins need, and peaks under 128 MiB (issue 13): the jigdo process's maximum
/// resident set size, as getrusage reports it to GNU time.
#[test]
fn the_primary_fallback_beside_65000_packages_stays_under_128_mib() {
    let time = Path::new("/usr/bin/time");
    assert!(
        time.is_file(),
        "needs GNU time at /usr/bin/time (apt-get install time)"
    );
    let w = world();
    let top = fresh("big-fallback");
    jigdo_only_repo(&top.join("jigdo"));
    let os = top.join("os");
    let real = os.join("Packages").join("real");
    std::fs::create_dir_all(&real).expect("mkdir");
    for e in std::fs::read_dir(w.dir.join("v1")).expect("readdir") {
        let p = e.expect("entry").path();
        std::fs::copy(&p, real.join(p.file_name().expect("name"))).expect("copy");
    }
    let started = Instant::now();
    let primary_size = mirror_tests::bigrepo::write(&os, 65_000);
    eprintln!(
        "65,000 generated packages: primary.xml.zst {primary_size} bytes in {:?}",
        started.elapsed()
    );
    let (_tmp, nginx, from) = serve_dirs(&top, &["jigdo", "os"]);
    let repo = top.join("client");
    let rss = top.join("max-rss-kib");
    let out = run_raw(
        Command::new(time)
            .args(["-f", "%M", "-o"])
            .arg(&rss)
            .arg(jigdo_bin())
            .args(["install", "example-os-1.0", "--json", "--nogpgcheck"])
            .args(["--from", &from[0], "--from", &from[1]])
            .arg("--repo")
            .arg(&repo)
            .args(["--ref", REF]),
    );
    let json = ok(out);
    assert!(json.contains(&w.v1_commit), "{json}");
    // The fallback was taken: the pins' locations were not served, the primary was read.
    let real_served = |l: &[mirror_tests::nginx::LoggedRequest]| {
        l.iter()
            .filter(|r| r.path.starts_with("/os/Packages/real/") && r.status == 200)
            .count()
    };
    let log = nginx.log_once(|l| real_served(l) >= 3);
    assert!(
        log.iter()
            .any(|r| r.path.starts_with("/os/repodata/") && r.path.contains("primary")),
        "{log:?}"
    );
    assert_eq!(real_served(&log), 3, "{log:?}");
    let kib: u64 = std::fs::read_to_string(&rss)
        .expect("GNU time's output")
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("max RSS in KiB");
    eprintln!("primary fallback beside 65,000 packages: max RSS {kib} KiB");
    assert!(
        kib < 128 * 1024,
        "install peaked at {kib} KiB beside 65,000 packages (bound: 128 MiB)"
    );
    assert_fsck_clean(&repo);
}

/// A distribution's layout: the jigdo RPMs in one repository, the release's packages in
/// a second and the packages updated since in a third (`--from JIGDO --from OS --from
/// UPDATES`). Each package is fetched at its location from the repository that serves
/// it, the report says which served how many, and no primary metadata is read.
#[test]
fn jigdo_os_and_updates_repositories_serve_an_update_together() {
    let w = world();
    let top = fresh("three-repos");
    jigdo_only_repo(&top.join("jigdo"));
    // OS: the packages of v1; UPDATES: those v2 added or changed (jt-alpha 1.1, jt-delta).
    let (os, updates) = (top.join("os"), top.join("updates"));
    for (dir, from) in [(&os, w.dir.join("v1")), (&updates, w.dir.join("v2"))] {
        std::fs::create_dir_all(dir).expect("mkdir");
        for e in std::fs::read_dir(&from).expect("readdir") {
            let p = e.expect("entry").path();
            let name = p.file_name().expect("name").to_owned();
            if dir == &updates && w.dir.join("v1").join(&name).exists() {
                continue;
            }
            std::fs::copy(&p, dir.join(name)).expect("copy");
        }
        publish_with_a_big_primary(dir);
    }
    let (_tmp, nginx, from) = serve_dirs(&top, &["jigdo", "os", "updates"]);
    let repo = top.join("client");
    let out = install_v1_then_v2(&from, &repo);
    assert_eq!(json_u64(&out, &from[2]), 2, "{out}");
    assert!(!out.contains(&format!("\"{}\"", from[1])), "{out}");
    let log = nginx.log();
    let primaries: Vec<&str> = log
        .iter()
        .map(|r| r.path.as_str())
        .filter(|p| {
            !p.starts_with("/jigdo/") && p.contains("/repodata/") && !p.ends_with("repomd.xml")
        })
        .collect();
    assert!(primaries.is_empty(), "{primaries:?}");
    let served = |dir: &str| {
        log.iter()
            .filter(|r| r.path.starts_with(dir) && r.path.ends_with(".rpm") && r.status == 200)
            .count()
    };
    assert_eq!((served("/os/"), served("/updates/")), (3, 2), "{log:?}");
    assert_eq!(
        refs_state(&repo),
        vec![(REF.to_string(), w.v2_commit.clone())]
    );
    assert_fsck_clean(&repo);
}

/// All files under `dir`, with their sizes, but the sources' kept `repomd.xml` state
/// (`--check` keeps what it read there, as the install does).
fn listing(dir: &Path) -> Vec<(PathBuf, u64)> {
    dev_support::files_under(dir)
        .into_iter()
        .filter(|p| !p.starts_with(dir.join("extensions/jigdo/sources")))
        .map(|p| {
            let len = std::fs::symlink_metadata(&p).map_or(0, |m| m.len());
            (p, len)
        })
        .collect()
}

/// `jigdo install --check`: exit 100 and the update's version and bytes when a newer
/// commit is available, 0 when not; `--json`; nothing written to the repository.
#[test]
fn check_says_whether_an_update_is_available() {
    let w = world();
    let tmp = tempfile::tempdir().expect("tmp");
    let nginx = Nginx::start(&w.published, &tmp.path().join("nginx"));
    let from = vec![nginx.url()];
    let repo = fresh("check-client");
    ok(install("http", "example-os-1.0", &from, &repo, &[]));
    let files = listing(&repo);

    let out = install("http", "example-os", &from, &repo, &["--check", "--json"]);
    assert_eq!(out.status.code(), Some(100), "{}", stderr_of(&out));
    let json = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(json.contains("\"update_available\": true"), "{json}");
    assert!(json.contains("\"version\": \"2.0\""), "{json}");
    assert!(
        json.contains(&format!("\"commit\": \"{}\"", w.v2_commit)),
        "{json}"
    );
    assert!(
        json.contains(&format!("\"current_commit\": \"{}\"", w.v1_commit)),
        "{json}"
    );
    let jigdo_bytes = json_u64(&json, "jigdo_rpm_bytes");
    let v2_rpm = std::fs::read_dir(&w.published)
        .expect("readdir")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("example-os-2.0"))
        })
        .expect("v2 jigdo RPM");
    assert_eq!(jigdo_bytes, std::fs::metadata(&v2_rpm).expect("stat").len());
    // The two changed packages (alpha 1.1, delta).
    assert_eq!(json_u64(&json, "packages_needed"), 2, "{json}");
    let changed: u64 = ["jt-alpha-1.1-1.noarch.rpm", "jt-delta-1.0-1.noarch.rpm"]
        .iter()
        .map(|n| {
            std::fs::metadata(w.published.join("Packages").join(n))
                .expect("stat")
                .len()
        })
        .sum();
    assert_eq!(json_u64(&json, "packages_bytes"), changed, "{json}");
    assert_eq!(
        json_u64(&json, "update_bytes"),
        jigdo_bytes + changed,
        "{json}"
    );
    assert_eq!(listing(&repo), files, "--check wrote into the repository");
    assert_eq!(
        refs_state(&repo),
        vec![(REF.to_string(), w.v1_commit.clone())]
    );

    let out = install("http", "example-os", &from, &repo, &["--check"]);
    assert_eq!(out.status.code(), Some(100), "{}", stderr_of(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("update available") && text.contains("example-os-2.0"),
        "{text}"
    );
    // Without --nogpgcheck the unsigned update is what the install would refuse: an
    // error, as for the install.
    let out = run_raw(
        jigdo()
            .args(["install", "example-os", "--check", "--from", &nginx.url()])
            .arg("--repo")
            .arg(&repo)
            .args(["--ref", REF]),
    );
    let (last, err) = failure(&out);
    assert!(
        last.contains("refusing") && last.contains("example-os-2.0"),
        "{err}"
    );

    ok(install("http", "example-os", &from, &repo, &[]));
    let before = nginx.settled_log_len();
    let out = install("http", "example-os", &from, &repo, &["--check", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let json = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(json.contains("\"update_available\": false"), "{json}");
    assert_eq!(json_u64(&json, "update_bytes"), 0, "{json}");
    let again = nginx.log().split_off(before);
    assert!(again.iter().all(|r| !r.path.ends_with(".rpm")), "{again:?}");
}

/// The kept state of the sources of the repository at `repo` (one file per source).
fn kept_states(repo: &Path) -> Vec<PathBuf> {
    let dir = repo.join("extensions/jigdo/sources");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.map(|e| e.expect("entry").path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|x| x == "kept"));
    v.sort();
    v
}

/// `jigdo repo create DIR`, then a wait so that nginx's `Date` is at least 2 s after the
/// new `repomd.xml`'s `Last-Modified` (the client's same-second guard: a repository
/// published in the second it was read is asked in full next time).
fn publish(dir: &Path) {
    run(jigdo().args(["repo", "create"]).arg(dir));
    std::thread::sleep(Duration::from_millis(2100));
}

/// The requests of `nginx` since the first `before`, as "STATUS PATH", and their bytes on
/// the wire both ways.
fn since(nginx: &Nginx, before: usize) -> (Vec<String>, u64) {
    let log = nginx.log().split_off(before);
    let bytes = log.iter().map(|r| r.wire_bytes()).sum();
    (
        log.into_iter()
            .map(|r| format!("{} {}", r.status, r.path))
            .collect(),
        bytes,
    )
}

/// Conditional requests for repomd.xml: the client keeps each source's last repomd.xml
/// (with its validators and the jigdo record) in the repository's state directory. A
/// check with nothing new is one 304 and no other download; a republished repository is
/// fetched in full and its update seen; a kept state that is corrupt is ignored (a full
/// fetch, the right answer, and a good state again); a repomd.xml rewritten with other
/// content of the same size within the same second as its Last-Modified (nginx's
/// validators cannot tell) is still seen, because such validators are never sent.
fn repomd_is_asked_conditionally(backend: &str) {
    let w = world();
    let top = fresh(&format!("conditional-{backend}"));
    let mirror = top.join("mirror");
    std::fs::create_dir_all(&top).expect("mkdir");
    run(Command::new("cp").arg("-a").arg(&w.published).arg(&mirror));
    let v2_rpm: Vec<PathBuf> = std::fs::read_dir(&mirror)
        .expect("readdir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("example-os-2.0"))
        })
        .collect();
    assert_eq!(v2_rpm.len(), 1, "{v2_rpm:?}");
    let held = top.join("held.rpm");
    std::fs::rename(&v2_rpm[0], &held).expect("hold v2 back");
    publish(&mirror);
    let tmp = tempfile::tempdir().expect("tmp");
    let nginx = Nginx::start(&mirror, &tmp.path().join("nginx"));
    let from = vec![nginx.url()];
    let repo = top.join("client");
    let check = |extra: &[&str]| {
        let mut args = vec!["--check", "--json"];
        args.extend_from_slice(extra);
        install(backend, "example-os", &from, &repo, &args)
    };

    // The install keeps the source's repomd.xml.
    assert_eq!(
        ok(install(backend, "example-os", &from, &repo, &[])).trim(),
        w.v1_commit
    );
    assert_eq!(kept_states(&repo).len(), 1, "{:?}", kept_states(&repo));

    // Nothing new: one 304, nothing else.
    let before = nginx.settled_log_len();
    let out = check(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let json = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(json.contains("\"update_available\": false"), "{json}");
    let (reqs, bytes) = since(&nginx, before);
    eprintln!(
        "{backend}: check, nothing new, kept repomd.xml: {reqs:?}, {bytes} bytes on the wire"
    );
    assert_eq!(reqs, vec!["304 /repodata/repomd.xml".to_string()]);
    assert_eq!(json_u64(&json, "bytes_downloaded"), 0, "{json}");
    // The install with nothing new takes the same path.
    let before = nginx.settled_log_len();
    let out = install(backend, "example-os", &from, &repo, &[]);
    assert_eq!(ok(&out).trim(), w.v1_commit);
    assert!(
        stderr_of(&out).contains("nothing new"),
        "{}",
        stderr_of(&out)
    );
    let (reqs, bytes) = since(&nginx, before);
    eprintln!(
        "{backend}: install, nothing new, kept repomd.xml: {reqs:?}, {bytes} bytes on the wire"
    );
    assert_eq!(reqs, vec!["304 /repodata/repomd.xml".to_string()]);

    // What the same check costs without the kept state (the figure before this change).
    let state = kept_states(&repo).remove(0);
    let good = std::fs::read(&state).expect("read state");
    std::fs::remove_file(&state).expect("rm state");
    let before = nginx.settled_log_len();
    let out = check(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let (reqs, bytes) = since(&nginx, before);
    eprintln!("{backend}: check, nothing new, nothing kept: {reqs:?}, {bytes} bytes on the wire");
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert!(
        reqs.iter().all(|r| r.starts_with("200 /repodata/")),
        "{reqs:?}"
    );
    assert_eq!(kept_states(&repo), vec![state.clone()], "kept again");

    // A corrupt kept state is ignored: a full fetch and the right answer, never an error.
    for bad in [
        good[..good.len() / 2].to_vec(),
        {
            let mut b = good.clone();
            // A byte of the kept files.
            let i = b.len() - 200;
            b[i] ^= 0x01;
            b
        },
        b"garbage\n".to_vec(),
        Vec::new(),
    ] {
        std::fs::write(&state, &bad).expect("corrupt state");
        let before = nginx.settled_log_len();
        let out = check(&[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
        let json = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(json.contains("\"update_available\": false"), "{json}");
        let (reqs, _) = since(&nginx, before);
        assert!(
            reqs.contains(&"200 /repodata/repomd.xml".to_string()),
            "{reqs:?}"
        );
        // And a good state again: the next check is one 304.
        let before = nginx.settled_log_len();
        assert_eq!(check(&[]).status.code(), Some(0));
        assert_eq!(
            since(&nginx, before).0,
            vec!["304 /repodata/repomd.xml".to_string()]
        );
    }

    // Republished with v2: the new repomd.xml and record are fetched, the update seen.
    std::fs::rename(&held, &v2_rpm[0]).expect("publish v2");
    publish(&mirror);
    let before = nginx.settled_log_len();
    let out = check(&[]);
    assert_eq!(out.status.code(), Some(100), "{}", stderr_of(&out));
    let json = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        json.contains(&format!("\"commit\": \"{}\"", w.v2_commit)),
        "{json}"
    );
    let (reqs, _) = since(&nginx, before);
    assert_eq!(reqs[0], "200 /repodata/repomd.xml", "{reqs:?}");
    assert!(
        reqs.iter()
            .any(|r| r.starts_with("200 /repodata/") && r.contains("jigdo")),
        "{reqs:?}"
    );

    // The same-second guard. repomd.xml A is served with a Last-Modified less than 2 s
    // before the response's Date (here: its mtime a minute ahead), then rewritten with
    // other content of the same size and the same mtime: nginx's ETag and Last-Modified
    // are the same for both, so a conditional request would get a 304 for A.
    let repomd = mirror.join("repodata/repomd.xml");
    let original = std::fs::read(&repomd).expect("read repomd");
    let future = std::time::SystemTime::now() + Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(&repomd)
        .and_then(|f| f.set_modified(future))
        .expect("set mtime");
    let out = check(&[]);
    assert_eq!(out.status.code(), Some(100), "{}", stderr_of(&out));
    require_tool("curl");
    let url = format!("{}repodata/repomd.xml", nginx.url());
    let head = run(Command::new("curl").args(["-sI", &url]));
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .unwrap_or_else(|| panic!("no {name} in {head}"))
    };
    let (etag, last_modified) = (header("etag"), header("last-modified"));
    // B: the jigdo record's type renamed (same size): B has no jigdo record, so a client
    // that reads B looks for the jigdo RPM in primary.
    let text = String::from_utf8(original.clone()).expect("utf-8");
    let rewritten = text.replacen("type=\"jigdo\"", "type=\"ojgid\"", 1);
    assert_eq!(rewritten.len(), text.len());
    assert_ne!(rewritten, text);
    std::fs::write(&repomd, &rewritten).expect("rewrite");
    std::fs::File::options()
        .write(true)
        .open(&repomd)
        .and_then(|f| f.set_modified(future))
        .expect("set mtime");
    // nginx cannot tell A from B: A's validators get a 304 for B.
    let status = run(Command::new("curl").args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        &format!("If-None-Match: {etag}"),
        "-H",
        &format!("If-Modified-Since: {last_modified}"),
        &url,
    ]));
    assert_eq!(
        status.trim(),
        "304",
        "nginx told A from B: the scenario proves nothing"
    );
    // Once the curl's 304 is logged (nginx may write the line after curl has the answer):
    // it is the last request before the check.
    let before = nginx
        .log_once(|log| {
            log.last()
                .is_some_and(|r| r.status == 304 && r.path == "/repodata/repomd.xml")
        })
        .len();
    let out = check(&[]);
    let (reqs, _) = since(&nginx, before);
    assert_eq!(reqs[0], "200 /repodata/repomd.xml", "{reqs:?}");
    // B has no jigdo record: the client reads primary to find the jigdo RPM.
    assert!(
        reqs.iter().any(|r| r.contains("primary")),
        "B was not seen: {reqs:?}"
    );
    assert_eq!(out.status.code(), Some(100), "{}", stderr_of(&out));
}

/// A copy of the published repository at `TOP/mirror` (published again), served with
/// `TOP` as nginx's root; `base` is nginx's URL without the trailing slash.
struct Served {
    top: PathBuf,
    mirror: PathBuf,
    nginx: Nginx,
    _tmp: tempfile::TempDir,
    base: String,
}

/// [`Served`] for the test directory `name`.
fn served_copy(name: &str) -> Served {
    let w = world();
    let top = fresh(name);
    std::fs::create_dir_all(&top).expect("mkdir");
    let mirror = top.join("mirror");
    run(Command::new("cp").arg("-a").arg(&w.published).arg(&mirror));
    publish(&mirror);
    let tmp = tempfile::tempdir().expect("tmp");
    let nginx = Nginx::start(&top, &tmp.path().join("nginx"));
    let base = nginx.url().trim_end_matches('/').to_string();
    Served {
        top,
        mirror,
        nginx,
        _tmp: tmp,
        base,
    }
}

/// Conditional requests through a metalink: the metalink is fetched every run (its bytes
/// count), the kept repomd.xml's mirror answers 304, and the kept copy must still match
/// the metalink's hash: when the metalink names another repomd.xml (the mirror is stale),
/// the 304 is not taken and the stale mirror's copy is refused, as without a kept copy.
#[test]
fn a_metalink_source_is_asked_conditionally() {
    let w = world();
    // `_tmp` (nginx's own files) is bound before `nginx`, so nginx stops first.
    let Served {
        top,
        mirror,
        _tmp,
        nginx,
        base,
    } = served_copy("conditional-metalink");
    let repomd = std::fs::read(mirror.join("repodata/repomd.xml")).expect("repomd");
    let metalink = |size: usize, sha256: &str| {
        std::fs::write(
            top.join("metalink.xml"),
            format!(
                r#"<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" xmlns:mm0="http://fedorahosted.org/mirrormanager">
 <files><file name="repomd.xml">
  <size>{size}</size>
  <verification><hash type="sha256">{sha256}</hash></verification>
  <resources>
   <url protocol="http" type="http" location="US" preference="100">{base}/mirror/repodata/repomd.xml</url>
  </resources></file></files></metalink>"#
            ),
        )
        .expect("metalink");
    };
    metalink(repomd.len(), &sha256_hex(&repomd));
    let from = vec![format!("metalink={base}/metalink.xml")];
    let repo = top.join("client");
    assert_eq!(
        ok(install("http", "example-os", &from, &repo, &[])).trim(),
        w.v2_commit
    );
    let before = nginx.settled_log_len();
    let out = install("http", "example-os", &from, &repo, &["--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let (reqs, bytes) = since(&nginx, before);
    eprintln!("metalink: check, nothing new, kept repomd.xml: {reqs:?}, {bytes} bytes on the wire");
    assert_eq!(
        reqs,
        vec!["200 /metalink.xml", "304 /mirror/repodata/repomd.xml"]
    );

    // The metalink names a newer repomd.xml than the mirror has.
    let newer = [&repomd[..], b"<!-- newer -->\n"].concat();
    metalink(newer.len(), &sha256_hex(&newer));
    let before = nginx.settled_log_len();
    let out = install(
        "http",
        "example-os",
        &from,
        &repo,
        &["--check", "--retries", "0"],
    );
    let (reqs, _) = since(&nginx, before);
    assert_eq!(
        reqs,
        vec![
            "200 /metalink.xml",
            "304 /mirror/repodata/repomd.xml",
            "200 /mirror/repodata/repomd.xml"
        ]
    );
    assert!(
        !out.status.success() && out.status.code() != Some(100),
        "the stale repomd.xml was taken: {}",
        stderr_of(&out)
    );

    metalink(repomd.len(), &sha256_hex(&repomd));
    let before = nginx.settled_log_len();
    let out = install("http", "example-os", &from, &repo, &["--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(
        since(&nginx, before).0,
        vec!["200 /metalink.xml", "304 /mirror/repodata/repomd.xml"]
    );
}

/// Conditional requests through a mirrorlist: the mirrorlist is fetched every run and its
/// bytes count in the check's report; the mirror it names answers 304 for the kept
/// repomd.xml (a dead mirror listed first is skipped).
#[test]
fn a_mirrorlist_source_is_asked_conditionally() {
    let w = world();
    // `_tmp` (nginx's own files) is bound before `nginx`, so nginx stops first.
    let Served {
        top,
        mirror: _,
        _tmp,
        nginx,
        base,
    } = served_copy("conditional-mirrorlist");
    let list = format!("# mirrors\n{}\n{base}/mirror/\n", dead_url());
    std::fs::write(top.join("mirrorlist.txt"), &list).expect("mirrorlist");
    let from = vec![format!("mirrorlist={base}/mirrorlist.txt")];
    let repo = top.join("client");
    let quick = ["--timeout", "2", "--retries", "0"];
    assert_eq!(
        ok(install("http", "example-os", &from, &repo, &quick)).trim(),
        w.v2_commit
    );
    let before = nginx.settled_log_len();
    let mut args = vec!["--check", "--json"];
    args.extend(quick);
    let out = install("http", "example-os", &from, &repo, &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let (reqs, _) = since(&nginx, before);
    assert_eq!(
        reqs,
        vec!["200 /mirrorlist.txt", "304 /mirror/repodata/repomd.xml"]
    );
    let json = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        json_u64(&json, "bytes_downloaded"),
        list.len() as u64,
        "{json}"
    );
}

/// The SHA-256 of `data` in hex, by the real `sha256sum`.
fn sha256_hex(data: &[u8]) -> String {
    let t = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(t.path(), data).expect("write");
    run(Command::new("sha256sum").arg(t.path()))
        .split_whitespace()
        .next()
        .expect("sum")
        .to_string()
}

/// `install --check --cache DIR` counts what the download cache already holds as not to
/// download, as the install then takes it from there: after another repository's install
/// of v2 filled the cache, a v1 repository's check reports the jigdo RPM and the changed
/// packages as cached (`cached_bytes`) and `update_bytes` 0, and the install with that
/// cache downloads no package; without `--cache` the same check counts them all.
#[test]
fn check_counts_what_the_cache_holds() {
    let w = world();
    let top = fresh("check-cache");
    std::fs::create_dir_all(&top).expect("mkdir");
    let cache = top.join("cache");
    let tmp = tempfile::tempdir().expect("tmp");
    let nginx = Nginx::start(&w.published, &tmp.path().join("nginx"));
    let from = vec![nginx.url()];
    let cache_arg = cache.display().to_string();
    let with_cache = ["--cache", cache_arg.as_str()];
    let other = top.join("other");
    ok(install("http", "example-os", &from, &other, &with_cache));
    let repo = top.join("client");
    ok(install("http", "example-os-1.0", &from, &repo, &[]));

    let out = install("http", "example-os", &from, &repo, &["--check", "--json"]);
    assert_eq!(out.status.code(), Some(100), "{}", stderr_of(&out));
    let json = String::from_utf8_lossy(&out.stdout).into_owned();
    let full = json_u64(&json, "jigdo_rpm_bytes") + json_u64(&json, "packages_bytes");
    assert_eq!(json_u64(&json, "update_bytes"), full, "{json}");
    assert_eq!(json_u64(&json, "cached_bytes"), 0, "{json}");

    let mut args = vec!["--check", "--json"];
    args.extend_from_slice(&with_cache);
    let out = install("http", "example-os", &from, &repo, &args);
    assert_eq!(out.status.code(), Some(100), "{}", stderr_of(&out));
    let json = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(json_u64(&json, "cached_bytes"), full, "{json}");
    assert_eq!(json_u64(&json, "update_bytes"), 0, "{json}");

    let mut args = vec!["--json"];
    args.extend_from_slice(&with_cache);
    let json = ok(install("http", "example-os", &from, &repo, &args));
    assert!(json.contains(&w.v2_commit), "{json}");
    assert_eq!(json_u64(&json, "packages_downloaded"), 0, "{json}");
}

/// The published v2 jigdo RPM of `dir` (`example-os-2.0-*.rpm` at its top).
fn v2_jigdo_rpm(dir: &Path) -> PathBuf {
    jigdo_rpm_of(dir, "2.0")
}

/// The published jigdo RPM of `version` in `dir` (`example-os-VERSION-*.rpm` at its top).
fn jigdo_rpm_of(dir: &Path, version: &str) -> PathBuf {
    let prefix = format!("example-os-{version}-");
    std::fs::read_dir(dir)
        .expect("readdir")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
        })
        .unwrap_or_else(|| panic!("no jigdo RPM of {version} in {}", dir.display()))
}

/// `jigdo diff NAME-1.0 NAME-2.0 --from URL` reads only the start of each jigdo RPM
/// (range requests answered 206, less than a quarter of each file sent at nginx), says
/// what it received (`bytes_downloaded`: the bodies nginx sent, within their response
/// headers), and reports the same as the diff of the two files. Nothing here is signed:
/// `--nogpgcheck` accepts that, as for the installs (tests/trust.rs covers diff's keys).
#[test]
fn diff_reads_only_the_starts_of_the_jigdo_rpms() {
    let w = world();
    let tmp = tempfile::tempdir().expect("tmp");
    let nginx = Nginx::start(&w.published, &tmp.path().join("nginx"));
    let remote: serde_json::Value = serde_json::from_str(&ok(run_raw(jigdo().args([
        "diff",
        "example-os-1.0",
        "example-os-2.0",
        "--json",
        "--nogpgcheck",
        "--from",
        &nginx.url(),
    ]))))
    .expect("diff --json");
    assert_eq!(remote["old"]["verified"], false);
    assert_eq!(remote["new"]["read_from"], "sources");
    let (v1, v2) = (
        jigdo_rpm_of(&w.published, "1.0"),
        jigdo_rpm_of(&w.published, "2.0"),
    );
    let log = nginx.log_once(|_| false);
    for rpm in [&v1, &v2] {
        let size = std::fs::metadata(rpm).expect("stat").len();
        let name = format!("/{}", rpm.file_name().expect("name").to_string_lossy());
        let asked: Vec<_> = log.iter().filter(|r| r.path == name).collect();
        let sent: u64 = asked.iter().map(|r| r.bytes_sent).sum();
        assert!(
            !asked.is_empty() && asked.iter().all(|r| r.status == 206) && sent < size / 4,
            "{sent} bytes sent of {name} ({size} bytes): {log:?}"
        );
    }
    assert!(
        !log.iter().any(|r| r.path.contains("Packages/")),
        "diff fetched a package: {log:?}"
    );
    let sent: u64 = log.iter().map(|r| r.bytes_sent).sum();
    let received = remote["bytes_downloaded"]
        .as_u64()
        .expect("bytes_downloaded");
    assert!(
        received <= sent && sent - received <= 1024 * log.len() as u64,
        "{received} bytes received by the count, {sent} sent at nginx: {log:?}"
    );
    let local: serde_json::Value = serde_json::from_str(&ok(run_raw(
        jigdo().arg("diff").arg(&v1).arg(&v2).arg("--json"),
    )))
    .expect("diff --json");
    for key in [
        "old",
        "new",
        "added",
        "removed",
        "upgraded",
        "downgraded",
        "rebuilt",
        "files",
        "download_packages",
        "download_bytes",
    ] {
        if key == "old" || key == "new" {
            assert_eq!(remote[key]["commit"], local[key]["commit"], "{key}");
            assert_eq!(remote[key]["version"], local[key]["version"], "{key}");
        } else {
            assert_eq!(remote[key], local[key], "{key}");
        }
    }
    assert_eq!(local["bytes_downloaded"], 0);
}

/// `install --check` after an update was published reads only the start of the new
/// jigdo RPM (its headers and the payload up to its index: range requests, a few KB of
/// a jigdo RPM of megabytes) and reports the same figures as when it read the whole
/// file (`packages_needed`, `packages_bytes`, `update_bytes`); a server that ignores
/// ranges (nginx `max_ranges 0`) gives the same answer, the client reading only the start
/// of the whole body.
fn check_reads_only_the_start_of_the_jigdo_rpm(backend: &str) {
    let w = world();
    let tmp = tempfile::tempdir().expect("tmp");
    let nginx = Nginx::start(&w.published, &tmp.path().join("nginx"));
    let norange = Nginx::start_with(&w.published, &tmp.path().join("norange"), "max_ranges 0;");
    let repo = fresh(&format!("check-start-{backend}"));
    ok(install(
        backend,
        "example-os-1.0",
        &[nginx.url()],
        &repo,
        &[],
    ));
    let v2 = v2_jigdo_rpm(&w.published);
    let jigdo_bytes = std::fs::metadata(&v2).expect("stat").len();
    let v2_name = format!("/{}", v2.file_name().expect("name").to_string_lossy());
    let changed: u64 = ["jt-alpha-1.1-1.noarch.rpm", "jt-delta-1.0-1.noarch.rpm"]
        .iter()
        .map(|n| {
            std::fs::metadata(w.published.join("Packages").join(n))
                .expect("stat")
                .len()
        })
        .sum();
    for (what, server) in [("ranges", &nginx), ("no ranges", &norange)] {
        let before = server.settled_log_len();
        let mut cmd = jigdo();
        cmd.env("JIGDO_LOG", "jigdo_install=debug")
            .args(["install", "example-os", "--check", "--json"])
            .args(["--backend", backend, "--from", &server.url(), "--repo"])
            .arg(&repo)
            .args(["--ref", REF, "--nogpgcheck"]);
        let out = run_raw(&mut cmd);
        assert_eq!(out.status.code(), Some(100), "{what}: {}", stderr_of(&out));
        let json = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            stderr_of(&out).contains("read the jigdo RPM's start"),
            "{what}: {}",
            stderr_of(&out)
        );
        assert_eq!(
            json_u64(&json, "jigdo_rpm_bytes"),
            jigdo_bytes,
            "{what}: {json}"
        );
        assert_eq!(json_u64(&json, "packages_needed"), 2, "{what}: {json}");
        assert_eq!(json_u64(&json, "packages_bytes"), changed, "{what}: {json}");
        assert_eq!(
            json_u64(&json, "update_bytes"),
            jigdo_bytes + changed,
            "{what}: {json}"
        );
        // What the client took of the wire: far less than the jigdo RPM.
        let received = json_u64(&json, "bytes_downloaded");
        assert!(
            received < jigdo_bytes / 4,
            "{what}: {received} bytes for a jigdo RPM of {jigdo_bytes}"
        );
        let log = server.log_once(|l| l.len() > before && l.iter().any(|r| r.path == v2_name));
        let asked: Vec<_> = log[before..].iter().filter(|r| r.path == v2_name).collect();
        assert!(!asked.is_empty(), "{what}: {log:?}");
        if what == "ranges" {
            // Every request for it answered with a part, and little of it sent.
            assert!(asked.iter().all(|r| r.status == 206), "{asked:?}");
            let sent: u64 = asked.iter().map(|r| r.bytes_sent).sum();
            assert!(
                sent < jigdo_bytes / 4,
                "{sent} bytes sent of a jigdo RPM of {jigdo_bytes}: {asked:?}"
            );
            eprintln!(
                "{backend}: check after an update: {} requests for the jigdo RPM, {sent} of \
                 its {jigdo_bytes} bytes sent; {received} bytes received in all",
                asked.len()
            );
        } else {
            assert!(asked.iter().all(|r| r.status == 200), "{asked:?}");
        }
    }
    assert_eq!(
        refs_state(&repo),
        vec![(REF.to_string(), w.v1_commit.clone())]
    );
}

/// A jigdo RPM whose index was altered after it was packed (and the repository's
/// metadata made again, so that the file's SHA-256 no longer tells): the index read
/// from the start does not match its digest in the RPM's header, which the check says
/// (debug log) and refuses with, as the install does, instead of reporting figures.
fn check_rejects_a_tampered_index_in_the_start(backend: &str) {
    let w = world();
    let top = fresh(&format!("check-tampered-{backend}"));
    let published = top.join("published");
    std::fs::create_dir_all(published.join("Packages")).expect("mkdir");
    for f in std::fs::read_dir(&w.published).expect("readdir") {
        let f = f.expect("entry").path();
        if f.extension().is_some_and(|x| x == "rpm") {
            std::fs::copy(&f, published.join(f.file_name().expect("name"))).expect("copy");
        }
    }
    for f in files_under(&w.published.join("Packages")) {
        std::fs::copy(
            &f,
            published
                .join("Packages")
                .join(f.file_name().expect("name")),
        )
        .expect("copy");
    }
    let v2 = v2_jigdo_rpm(&published);
    // 2-index as the payload holds it (rpm2cpio), then one byte of it flipped where it
    // stands verbatim in the RPM (the index is zstd data already: stored as is).
    let index = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "rpm2cpio '{}' | cpio -i --quiet --to-stdout '*2-index'",
            v2.display()
        ))
        .output()
        .expect("rpm2cpio");
    assert!(
        index.status.success() && index.stdout.len() > 64,
        "{index:?}"
    );
    let mut rpm = std::fs::read(&v2).expect("read");
    let window = &index.stdout[index.stdout.len() / 2..index.stdout.len() / 2 + 24];
    let at = rpm
        .windows(window.len())
        .position(|x| x == window)
        .expect("the index stands verbatim in the jigdo RPM");
    rpm[at + 8] ^= 0x55;
    std::fs::write(&v2, &rpm).expect("write");
    run(jigdo().args(["repo", "create"]).arg(&published));

    let tmp = tempfile::tempdir().expect("tmp");
    let nginx = Nginx::start(&published, &tmp.path().join("nginx"));
    let repo = top.join("client");
    ok(install(
        backend,
        "example-os-1.0",
        &[nginx.url()],
        &repo,
        &[],
    ));
    let mut cmd = jigdo();
    cmd.env("JIGDO_LOG", "jigdo_install=debug")
        .args(["install", "example-os", "--check", "--json"])
        .args(["--backend", backend, "--from", &nginx.url(), "--repo"])
        .arg(&repo)
        .args(["--ref", REF, "--nogpgcheck"]);
    let out = run_raw(&mut cmd);
    let (last, err) = failure(&out);
    assert!(
        err.contains("its start is rejected") && err.contains("digest"),
        "{err}"
    );
    assert!(last.contains("2-index") || last.contains("digest"), "{err}");
    assert_eq!(
        out.stdout.len(),
        0,
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        refs_state(&repo),
        vec![(REF.to_string(), w.v1_commit.clone())]
    );
}

/// An update into an existing repository starts downloading the pinned packages once the
/// jigdo RPM's start (headers and index) passed the trust step, while the rest of the
/// jigdo RPM downloads (nginx sends the v2 jigdo RPM at 1 MB/s: about 3 s): the install's
/// debug log has packages in place before the jigdo RPM is, and the update is right.
fn pins_download_while_the_jigdo_rpm_downloads(backend: &str) {
    let w = world();
    let tmp = tempfile::tempdir().expect("tmp");
    let nginx = Nginx::start_with(
        &w.published,
        &tmp.path().join("nginx"),
        "location ~ ^/example-os-2\\.0 { limit_rate 1m; }",
    );
    let repo = fresh(&format!("early-pins-{backend}"));
    ok(install(
        backend,
        "example-os-1.0",
        &[nginx.url()],
        &repo,
        &[],
    ));
    let mut cmd = jigdo();
    cmd.env("JIGDO_LOG", "jigdo_install=debug")
        .args(["install", "example-os", "--json"])
        .args(["--backend", backend, "--from", &nginx.url(), "--repo"])
        .arg(&repo)
        .args(["--ref", REF, "--nogpgcheck"]);
    let out = run_raw(&mut cmd);
    let json = ok(&out);
    assert!(json.contains(&w.v2_commit), "{json}");
    assert_eq!(json_u64(&json, "packages_needed"), 2, "{json}");
    let err = stderr_of(&out);
    let line = |what: &str| {
        err.lines()
            .position(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what:?} in {err}"))
    };
    assert!(
        line("downloading the pins while the jigdo RPM downloads") < line("jigdo RPM downloaded")
            && line("package in place") < line("jigdo RPM downloaded"),
        "{err}"
    );
    // Its start is not downloaded twice: the rest is asked for after it.
    let v2 = v2_jigdo_rpm(&w.published);
    let size = std::fs::metadata(&v2).expect("stat").len();
    let name = format!("/{}", v2.file_name().expect("name").to_string_lossy());
    let log = nginx.log_once(|l| l.iter().filter(|r| r.path == name).count() >= 2);
    let asked: Vec<_> = log.iter().filter(|r| r.path == name).collect();
    assert!(asked.iter().all(|r| r.status == 206), "{asked:?}");
    let sent: u64 = asked.iter().map(|r| r.bytes_sent).sum();
    assert!(
        sent < size + 2048 * asked.len() as u64,
        "{sent} bytes sent for a jigdo RPM of {size}: {asked:?}"
    );
    assert_eq!(
        refs_state(&repo),
        vec![(REF.to_string(), w.v2_commit.clone())]
    );
    assert_fsck_clean(&repo);
}

/// `jigdo mirror` run again (as from cron) with nothing new at the source: one 304 for
/// the source's `repomd.xml` (kept under DIR/.jigdo), no package or metadata download, and
/// DIR's own repodata left as it was (its clients' conditional requests stay 304). A
/// package that went missing from DIR is fetched again and DIR published again.
fn mirror_again_with_nothing_new_is_a_304(backend: &str) {
    let w = world();
    let top = fresh(&format!("mirror-again-{backend}"));
    std::fs::create_dir_all(&top).expect("mkdir");
    let source = top.join("source");
    run(Command::new("cp").arg("-a").arg(&w.published).arg(&source));
    publish(&source);
    let tmp = tempfile::tempdir().expect("tmp");
    let nginx = Nginx::start(&source, tmp.path());
    let dir = top.join("dir");
    let mirror = |json: bool| {
        let mut cmd = jigdo();
        cmd.args(["mirror", "example-os", "--nogpgcheck", "--backend", backend])
            .args(["--from", &nginx.url(), "--to"])
            .arg(&dir);
        if json {
            cmd.arg("--json");
        }
        run_raw(&mut cmd)
    };
    let first = ok(mirror(true));
    assert!(first.contains("\"published\": true"), "{first}");
    let repomd_path = dir.join("repodata/repomd.xml");
    let repomd = std::fs::read(&repomd_path).expect("repomd");
    let modified = || {
        std::fs::metadata(&repomd_path)
            .and_then(|m| m.modified())
            .expect("mtime")
    };
    let mtime = modified();

    let before = nginx.settled_log_len();
    let again = mirror(false);
    ok(&again);
    assert!(
        stderr_of(&again).contains("nothing new"),
        "{}",
        stderr_of(&again)
    );
    let (requests, bytes) = since(&nginx, before);
    eprintln!("mirror again: {requests:?}, {bytes} bytes on the wire");
    assert_eq!(requests, vec!["304 /repodata/repomd.xml".to_string()]);
    assert!(bytes <= 16 * 1024, "{bytes}");
    assert_eq!(std::fs::read(&repomd_path).expect("repomd"), repomd);
    assert_eq!(modified(), mtime, "repomd.xml rewritten");
    assert!(
        dir.join(".jigdo/sources").is_dir(),
        "no kept state under DIR/.jigdo"
    );

    // A package lost from DIR: fetched again (that one only), DIR published again.
    let lost = dir.join("Packages").join(
        Path::new(&w.v1_pkg_paths[0])
            .file_name()
            .expect("file name"),
    );
    let lost = if lost.is_file() {
        lost
    } else {
        // v1's first package may not be pinned by v2: take any package in DIR.
        std::fs::read_dir(dir.join("Packages"))
            .expect("Packages")
            .map(|e| e.expect("entry").path())
            .find(|p| p.extension().is_some_and(|x| x == "rpm"))
            .expect("a package in DIR")
    };
    std::fs::remove_file(&lost).expect("rm");
    let before = nginx.settled_log_len();
    ok(mirror(true));
    let (requests, _) = since(&nginx, before);
    let rpms: Vec<_> = requests.iter().filter(|r| r.ends_with(".rpm")).collect();
    assert_eq!(rpms.len(), 1, "{requests:?}");
    assert!(lost.is_file());
    // Published again unless the new copy has the old one's size and mtime (the same
    // second): either way DIR's repodata describes it as it is.
    assert!(repodata::is_current(&dir).expect("is_current"));

    // DIR's repodata lost: published again, with nothing downloaded.
    std::fs::remove_dir_all(dir.join("repodata")).expect("rm repodata");
    let before = nginx.settled_log_len();
    let json = ok(mirror(true));
    assert!(json.contains("\"published\": true"), "{json}");
    let (requests, _) = since(&nginx, before);
    assert_eq!(requests, vec!["304 /repodata/repomd.xml".to_string()]);
    assert!(repodata::is_current(&dir).expect("is_current"));
}

/// librepo is opened by the first download through it, not linked: the dynamic loader
/// maps none of librepo, glib or the libraries they need (curl, gnutls, gpgme, ...) when
/// `jigdo` starts, whichever command runs. (The librepo scenarios above show the
/// library is still found and used when `--backend librepo` asks for it.)
#[cfg(feature = "librepo")]
#[test]
fn the_binary_starts_without_loading_librepo() {
    let out = Command::new("ldd")
        .arg(jigdo_bin())
        .output()
        .expect("run ldd");
    assert!(out.status.success(), "ldd: {out:?}");
    let needed = String::from_utf8_lossy(&out.stdout);
    for lib in ["librepo", "libglib", "libcurl", "libgpgme", "libxml2"] {
        assert!(
            !needed.contains(lib),
            "jigdo is linked with {lib}:\n{needed}"
        );
    }
}
