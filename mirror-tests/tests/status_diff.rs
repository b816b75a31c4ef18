//! `jigdo status` and `jigdo diff` against the real tools: packages built by `rpmbuild`,
//! bootable trees committed by `ostree` (examples/compose-tree.sh with /usr/etc), packed
//! and published by `jigdo`, installed and deployed into a test sysroot by `jigdo
//! install --deploy` (the real `ostree admin`). Expectations come from the tools, not
//! from jigdo: NEVRAs from `rpm -qp`, deployments from `ostree admin status`, sizes
//! from the files.
//!
//! v1 → v2: jt-alpha upgraded, jt-beta downgraded, jt-gamma removed, jt-delta added,
//! jt-eps unchanged.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use mirror_tests::*;
use serde_json::Value;

jigdo_command!();

const REF: &str = "example/os";

struct World {
    dir: PathBuf,
    /// The published rpm-md repository (jigdo RPMs and packages).
    published: PathBuf,
    v1_commit: String,
    v2_commit: String,
    v1_rpm: PathBuf,
    v2_rpm: PathBuf,
    /// Package files only in v2 (what an update downloads besides the jigdo RPM).
    v2_only: Vec<PathBuf>,
}

fn pkg(name: &str, version: &str, seed: u64) -> TestPackage {
    TestPackage::new(
        name,
        version,
        "",
        vec![
            TestFile::regular(
                &format!("/usr/bin/{name}"),
                pseudo_random(seed, 30_000),
                0o755,
            ),
            TestFile::regular(
                &format!("/usr/share/{name}/data"),
                pseudo_random(seed + 100, 8_000),
                0o644,
            ),
        ],
    )
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("status_diff");
        remove_tree(&dir);
        let (v1, v2) = (dir.join("v1"), dir.join("v2"));
        for d in [&v1, &v2] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        let eps = build_rpm(&v1, &pkg("jt-eps", "3.0", 9));
        std::fs::copy(&eps, v2.join(eps.file_name().expect("name"))).expect("copy");
        build_rpm(&v1, &pkg("jt-alpha", "1.0", 1));
        build_rpm(&v1, &pkg("jt-beta", "2.1", 2));
        build_rpm(&v1, &pkg("jt-gamma", "0.5", 3));
        let v2_only = vec![
            build_rpm(&v2, &pkg("jt-alpha", "1.10", 4)),
            build_rpm(&v2, &pkg("jt-beta", "2.0", 5)),
            build_rpm(&v2, &pkg("jt-delta", "1.0", 6)),
        ];
        // Bootable commits keep /etc as /usr/etc (what `ostree admin deploy` needs). This
        // test binary composes only here, so the setting reaches nothing else.
        std::env::set_var("COMPOSE_USR_ETC", "1");
        let compose = dir.join("compose");
        let published = dir.join("published");
        let v1_commit = compose_tree(&v1, &compose, REF, "1.0", None);
        let v1_rpm = pack(&compose, &v1_commit, &v1, &published);
        let v2_commit = compose_tree(&v2, &compose, REF, "2.0", Some(REF));
        let v2_rpm = pack(&compose, &v2_commit, &v2, &published);
        for d in [&v1, &v2] {
            for e in std::fs::read_dir(d).expect("readdir") {
                let p = e.expect("entry").path();
                std::fs::copy(&p, published.join(p.file_name().expect("name"))).expect("copy");
            }
        }
        run(jigdo().args(["repo", "create"]).arg(&published));
        World {
            dir,
            published,
            v1_commit,
            v2_commit,
            v1_rpm,
            v2_rpm,
            v2_only,
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
    remove_tree(&p);
    p
}

fn json(out: Output) -> Value {
    serde_json::from_str(&ok(out)).expect("JSON report")
}

/// `rpm -qp` NEVRA of a package file (as dnf prints it: no epoch 0).
fn nevra(rpm: &Path) -> String {
    run(Command::new("rpm")
        .args([
            "-qp",
            "--nosignature",
            "--qf",
            "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}",
        ])
        .arg(rpm))
    .trim()
    .to_string()
}

/// Installs `spec` from `source` into `repo` (deploying into `sysroot` if given).
fn install(spec: &str, source: &Path, repo: &Path, sysroot: Option<&Path>) -> String {
    let mut cmd = jigdo();
    cmd.args(["install", spec, "--from"])
        .arg(source)
        .arg("--repo")
        .arg(repo)
        // Unsigned test commits, accepted deliberately (tests/trust.rs covers keys).
        .args(["--ref", REF, "--nogpgcheck"]);
    if let Some(s) = sysroot {
        cmd.arg("--sysroot")
            .arg(s)
            .args(["--os", "testos", "--deploy"]);
    }
    ok(run_raw(&mut cmd)).trim().to_string()
}

fn strs(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_str().expect("string").to_string())
        .collect();
    out.sort();
    out
}

#[test]
fn status_shows_refs_records_and_deployments_of_a_sysroot() {
    let w = world();
    let repo = fresh("status-repo");
    let sysroot = fresh("status-sysroot");
    std::fs::create_dir_all(&sysroot).expect("mkdir");
    assert_eq!(
        install("example-os-1.0", &w.published, &repo, Some(&sysroot)),
        w.v1_commit
    );
    assert_eq!(
        install("example-os-2.0", &w.published, &repo, Some(&sysroot)),
        w.v2_commit
    );
    // A ref jigdo did not install: a commit made by the real ostree.
    let tree = w.dir.join("status-other-tree");
    remove_tree(&tree);
    std::fs::create_dir_all(&tree).expect("mkdir");
    std::fs::write(tree.join("f"), b"other\n").expect("write");
    let other = run(ostree(&repo)
        .args(["commit", "-b", "other", "--add-metadata-string=version=9"])
        .arg(format!("--tree=dir={}", tree.display())))
    .trim()
    .to_string();

    let s = json(run_raw(
        jigdo()
            .args(["status", "--json", "--repo"])
            .arg(&repo)
            .arg("--sysroot")
            .arg(&sysroot),
    ));
    let refs = s["refs"].as_array().expect("refs");
    assert_eq!(refs.len(), 2, "{s}");
    let ours = refs.iter().find(|r| r["ref"] == REF).expect("our ref");
    assert_eq!(ours["commit"], w.v2_commit.as_str());
    assert_eq!(ours["version"], "2.0");
    assert_eq!(ours["jigdo_rpm"].as_str(), Some(nevra(&w.v2_rpm).as_str()));
    let v2_packages = std::fs::read_dir(w.dir.join("v2"))
        .expect("readdir")
        .count();
    assert_eq!(ours["packages"], v2_packages);
    assert_eq!(ours["verified"], false);
    let theirs = refs
        .iter()
        .find(|r| r["ref"] == "other")
        .expect("other ref");
    assert_eq!(theirs["commit"], other.as_str());
    assert_eq!(theirs["version"], "9");
    assert!(theirs["jigdo_rpm"].is_null(), "{s}");

    // The deployments, in the order and with the checksums the real ostree lists.
    let admin = run(Command::new("ostree")
        .args(["admin", "status", "--sysroot"])
        .arg(&sysroot));
    let listed: Vec<&str> = admin
        .lines()
        .filter_map(|l| l.trim_start_matches("* ").trim().strip_prefix("testos "))
        .map(|rest| rest.split('.').next().unwrap_or(""))
        .collect();
    assert_eq!(
        listed,
        [w.v2_commit.as_str(), w.v1_commit.as_str()],
        "{admin}"
    );
    let deps = s["deployments"].as_array().expect("deployments");
    let got: Vec<&str> = deps
        .iter()
        .map(|d| d["commit"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(got, listed, "{s}");
    for (d, (rpm, version)) in deps.iter().zip([(&w.v2_rpm, "2.0"), (&w.v1_rpm, "1.0")]) {
        assert_eq!(d["os"], "testos");
        assert_eq!(d["origin"], REF);
        assert_eq!(d["version"], version);
        assert_eq!(d["jigdo_rpm"].as_str(), Some(nevra(rpm).as_str()));
        // A test sysroot is not booted: nothing is booted, staged, pending or rollback.
        for mark in ["booted", "staged", "pending", "rollback"] {
            assert_eq!(d[mark], false, "{mark}: {s}");
        }
    }
    // Installing the newest deployment's commit again deploys nothing.
    let mut again = jigdo();
    again
        .args(["install", "example-os-2.0", "--json", "--from"])
        .arg(&w.published)
        .arg("--repo")
        .arg(&repo)
        .args(["--ref", REF, "--os", "testos", "--deploy", "--nogpgcheck"])
        .arg("--sysroot")
        .arg(&sysroot);
    let report = json(run_raw(&mut again));
    assert_eq!(report["deployed"], false, "{report}");
    let after = run(Command::new("ostree")
        .args(["admin", "status", "--sysroot"])
        .arg(&sysroot));
    assert_eq!(after, admin);
    // `install --stage` and ostree's own `deploy --stage` need a booted OSTree system:
    // ostree refuses them in a sysroot that is not booted, and install says why (the
    // booted case: `install_stage_in_a_booted_system_stages_and_status_shows_it`).
    let mut staged = jigdo();
    staged
        .args(["install", "example-os-1.0", "--from"])
        .arg(&w.published)
        .arg("--repo")
        .arg(&repo)
        .args([
            "--ref",
            REF,
            "--os",
            "testos",
            "--deploy",
            "--stage",
            "--nogpgcheck",
        ])
        .arg("--sysroot")
        .arg(&sysroot);
    let out = run_raw(&mut staged);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--stage") && err.contains("Not currently booted"),
        "{err}"
    );
    let stage = run_raw(
        Command::new("ostree")
            .args(["admin", "deploy", "--stage", "--os", "testos", "--sysroot"])
            .arg(&sysroot)
            .arg(REF),
    );
    assert!(!stage.status.success());
    assert!(
        String::from_utf8_lossy(&stage.stderr).contains("Not currently booted"),
        "{}",
        String::from_utf8_lossy(&stage.stderr)
    );

    let human = ok(run_raw(
        jigdo()
            .args(["status", "--repo"])
            .arg(&repo)
            .arg("--sysroot")
            .arg(&sysroot),
    ));
    assert!(
        human.contains(&format!("testos {}.", w.v2_commit)),
        "{human}"
    );
    assert!(human.contains("(next boot)"), "{human}");
    assert!(human.contains(&nevra(&w.v1_rpm)), "{human}");
    assert!(human.contains("not installed by jigdo"), "{human}");
}

#[test]
fn diff_works_offline_from_the_install_records_and_equals_the_diff_of_the_files() {
    let w = world();
    let repo = fresh("diff-repo");
    // Install from a copy of the published repository, then remove it: the diff of
    // installed commits must need nothing but the repository.
    let copy = fresh("diff-source");
    std::fs::create_dir_all(&copy).expect("mkdir");
    run(Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", w.published.display()))
        .arg(&copy));
    install("example-os-1.0", &copy, &repo, None);
    install("example-os-2.0", &copy, &repo, None);
    remove_tree(&copy);

    let offline = json(run_raw(
        jigdo()
            .args(["diff", &w.v1_commit, REF, "--json", "--repo"])
            .arg(&repo),
    ));
    let v1_dir = w.dir.join("v1");
    let v2_dir = w.dir.join("v2");
    let name = |d: &Path, n: &str| {
        let found = std::fs::read_dir(d)
            .expect("readdir")
            .map(|e| e.expect("entry").path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|f| f.to_string_lossy().starts_with(n))
            })
            .expect("package file");
        nevra(&found)
    };
    assert_eq!(offline["old"]["commit"], w.v1_commit.as_str());
    // Installed with --nogpgcheck: the record says nothing verified it.
    assert_eq!(offline["old"]["read_from"], "install-record");
    assert_eq!(offline["old"]["verified"], false);
    assert_eq!(offline["new"]["commit"], w.v2_commit.as_str());
    assert_eq!(strs(&offline["added"]), [name(&v2_dir, "jt-delta-")]);
    assert_eq!(strs(&offline["removed"]), [name(&v1_dir, "jt-gamma-")]);
    let change = |v: &Value| -> Vec<(String, String)> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|c| {
                (
                    c["from"].as_str().expect("from").into(),
                    c["to"].as_str().expect("to").into(),
                )
            })
            .collect()
    };
    // 1.0 -> 1.10 is an upgrade in rpm's version order (not in string order).
    assert_eq!(
        change(&offline["upgraded"]),
        [(name(&v1_dir, "jt-alpha-"), name(&v2_dir, "jt-alpha-"))]
    );
    assert_eq!(
        change(&offline["downgraded"]),
        [(name(&v1_dir, "jt-beta-"), name(&v2_dir, "jt-beta-"))]
    );
    assert_eq!(offline["rebuilt"].as_array().map(Vec::len), Some(0));
    // Changed files are those no package provides (the compose's own), never package files.
    let files: Vec<(String, String)> = offline["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().expect("path").into(),
                f["change"].as_str().expect("change").into(),
            )
        })
        .collect();
    assert!(
        files.contains(&("/usr/etc/os-release".into(), "modified".into())),
        "{files:?}"
    );
    assert!(
        files.iter().all(|(p, _)| !p.starts_with("/usr/bin/")),
        "{files:?}"
    );
    // What an update downloads: the v2 jigdo RPM and the package files v1 does not pin.
    let size = |p: &Path| std::fs::metadata(p).expect("stat").len();
    let expected: u64 = size(&w.v2_rpm) + w.v2_only.iter().map(|p| size(p)).sum::<u64>();
    assert_eq!(offline["download_bytes"], expected);
    assert_eq!(offline["download_packages"], 3);

    // The same diff from a jigdo RPM file and a NAME-VERSION found in the sources
    // (unsigned: accepted deliberately, as the installs above).
    let from_files = json(run_raw(
        jigdo()
            .arg("diff")
            .arg(&w.v1_rpm)
            .args(["example-os-2.0", "--json", "--nogpgcheck", "--from"])
            .arg(&w.published),
    ));
    for key in [
        "added",
        "removed",
        "upgraded",
        "downgraded",
        "files",
        "download_bytes",
    ] {
        assert_eq!(from_files[key], offline[key], "{key}");
    }
    let human = ok(run_raw(
        jigdo()
            .args(["diff", &w.v1_commit, REF, "--repo"])
            .arg(&repo),
    ));
    assert!(
        human.contains(&format!(
            "{} -> {}",
            name(&v1_dir, "jt-alpha-"),
            name(&v2_dir, "jt-alpha-")
        )),
        "{human}"
    );
    assert!(human.contains("Removed:"), "{human}");
}

#[test]
fn unpack_records_too_and_a_commit_jigdo_did_not_install_is_refused_by_diff() {
    let w = world();
    let repo = fresh("unpack-repo");
    ok(run_raw(
        jigdo()
            .arg("unpack")
            .arg(&w.v1_rpm)
            .arg("--from")
            .arg(&w.published)
            .arg("--repo")
            .arg(&repo),
    ));
    let s = json(run_raw(
        jigdo().args(["status", "--json", "--repo"]).arg(&repo),
    ));
    assert_eq!(
        s["refs"][0]["jigdo_rpm"].as_str(),
        Some(nevra(&w.v1_rpm).as_str())
    );
    let canonical = std::fs::canonicalize(&w.v1_rpm).expect("canonicalize");
    assert_eq!(s["refs"][0]["source"].as_str(), canonical.to_str());

    // A commit made by ostree itself has no record: diff says so, naming it.
    let tree = w.dir.join("unpack-other-tree");
    remove_tree(&tree);
    std::fs::create_dir_all(&tree).expect("mkdir");
    std::fs::write(tree.join("f"), b"x\n").expect("write");
    let other = run(ostree(&repo)
        .args(["commit", "-b", "other"])
        .arg(format!("--tree=dir={}", tree.display())))
    .trim()
    .to_string();
    let out = run_raw(
        jigdo()
            .args(["diff", "example-os", "other", "--repo"])
            .arg(&repo),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&other) && err.contains("not installed by jigdo"),
        "{err}"
    );
    // A side that is nothing at all, without sources: a clear error.
    let out = run_raw(
        jigdo()
            .args(["diff", "example-os", "nosuch", "--repo"])
            .arg(&repo),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nosuch:"));
}

#[test]
fn quiet_and_verbose_work_on_every_command() {
    let w = world();
    // Every subcommand takes both (they are global options).
    let help = ok(run_raw(jigdo().arg("--help")));
    let subcommands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(subcommands.len() >= 9, "{help}");
    for sub in &subcommands {
        for flag in ["--quiet", "-q", "-v", "-vv", "--verbose"] {
            ok(run_raw(jigdo().args([sub, flag, "--help"])));
        }
    }
    assert!(
        !run_raw(jigdo().args(["status", "-q", "-v", "--repo", "x"]))
            .status
            .success()
    );

    // unpack says how many packages it imports on standard error; --quiet leaves only
    // the commit on standard output.
    let unpack = |repo: &Path, flag: &str| {
        let mut cmd = jigdo();
        if !flag.is_empty() {
            cmd.arg(flag);
        }
        cmd.arg("unpack")
            .arg(&w.v1_rpm)
            .arg("--from")
            .arg(&w.published)
            .arg("--repo")
            .arg(repo);
        let out = run_raw(&mut cmd);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (ok(out), stderr)
    };
    let (stdout, stderr) = unpack(&fresh("quiet-plain"), "");
    assert_eq!(stdout.trim(), w.v1_commit);
    assert!(stderr.contains("packages to import"), "{stderr}");
    let (stdout, stderr) = unpack(&fresh("quiet-quiet"), "--quiet");
    assert_eq!(stdout.trim(), w.v1_commit);
    assert_eq!(stderr, "");
    // -vv: the debug log of the unpack steps.
    let (stdout, stderr) = unpack(&fresh("quiet-verbose"), "-vv");
    assert_eq!(stdout.trim(), w.v1_commit);
    assert!(
        stderr.contains("DEBUG") && stderr.contains("plan made"),
        "{stderr}"
    );
}

/// What [`install_in_a_booted_system`] saw inside the booted system.
struct BootedInstall {
    /// What the install command printed on standard output.
    said: String,
    /// Whether ostree wrote `/run/ostree/staged-deployment`.
    staged_file: bool,
    /// `ostree admin status` inside.
    admin: String,
    /// `jigdo status --sysroot / --json` inside.
    status: Value,
}

/// A sysroot booted, as far as the real ostree can tell: a fresh sysroot with v2 deployed
/// by `jigdo install --deploy`, whose v2 deployment becomes `/` (a chroot in new mount
/// and PID namespaces, with `/run/ostree-booted`, the boot entry's `ostree=` argument as
/// `/proc/cmdline`, `/sysroot`, `/boot` and `/ostree` as on a booted host, and the host's
/// `/usr` and `/etc/ssl` so that the real `ostree` and `jigdo` run inside; jigdo's
/// directory is `/jigdo-bin`, on `PATH`, the published repository `/published`, the
/// repository jigdo installed into `/jigdo-repo` and `dist/` `/dist`). There it runs
/// `install` (a shell command line) to install v1, then `ostree admin status` and
/// `jigdo status`.
fn install_in_a_booted_system(name: &str, install: &str) -> BootedInstall {
    let w = world();
    for tool in ["unshare", "chroot", "mount", "chattr"] {
        require_tool(tool);
    }
    let repo = fresh(&format!("{name}-repo"));
    let sysroot = fresh(&format!("{name}-sysroot"));
    std::fs::create_dir_all(&sysroot).expect("mkdir");
    assert_eq!(
        self::install("example-os-2.0", &w.published, &repo, Some(&sysroot)),
        w.v2_commit
    );
    let deploy_dir = sysroot.join("ostree/deploy/testos/deploy");
    let root = std::fs::read_dir(&deploy_dir)
        .expect("deployments")
        .map(|e| e.expect("entry").path())
        .find(|p| p.is_dir())
        .expect("the v2 deployment");
    // The boot entry's kernel argument names the deployment the "machine" booted.
    let entries = sysroot.join("boot/loader/entries");
    let karg = std::fs::read_dir(&entries)
        .expect("boot entries")
        .filter_map(|e| std::fs::read_to_string(e.expect("entry").path()).ok())
        .find_map(|conf| {
            conf.lines()
                .find_map(|l| l.strip_prefix("options "))
                .and_then(|o| o.split_whitespace().find(|a| a.starts_with("ostree=")))
                .map(str::to_string)
        })
        .expect("an ostree= argument in the boot entry");
    let bin_dir = jigdo_bin().parent().expect("bin dir").to_path_buf();
    let q = |p: &Path| format!("'{}'", p.display());
    let script = format!(
        r#"set -eu
R={root}
chattr -i "$R"
for l in bin sbin lib lib64; do ln -sfn usr/$l "$R/$l"; done
ln -sfn sysroot/ostree "$R/ostree"
mkdir -p "$R/proc" "$R/run" "$R/tmp" "$R/dev" "$R/sysroot" "$R/boot" "$R/jigdo-bin" "$R/published" "$R/jigdo-repo" "$R/dist"
mount --bind /usr "$R/usr"
mount -t proc proc "$R/proc"
mount -t tmpfs tmpfs "$R/run"
mount -t tmpfs tmpfs "$R/tmp"
mount --bind /dev "$R/dev"
mount --bind {sysroot} "$R/sysroot"
mount --bind {sysroot}/boot "$R/boot"
mount --bind {bin} "$R/jigdo-bin"
mount --bind {published} "$R/published"
mount --bind {repo} "$R/jigdo-repo"
mount --bind {dist} "$R/dist"
touch "$R/run/ostree-booted"
echo "{karg} rw" > "$R/tmp/cmdline"
mount --bind "$R/tmp/cmdline" "$R/proc/cmdline"
mkdir -p "$R/etc/ssl"
mount --bind /etc/ssl "$R/etc/ssl"
export PATH=/jigdo-bin:/usr/sbin:/usr/bin:/sbin:/bin
echo "== install"
chroot "$R" /bin/bash -c '{install}'
echo "== staged file: $(test -f "$R/run/ostree/staged-deployment" && echo yes || echo no)"
echo "== ostree admin status"
chroot "$R" ostree admin status
echo "== jigdo status"
chroot "$R" /jigdo-bin/jigdo status --repo /jigdo-repo --sysroot / --json
"#,
        root = q(&root),
        sysroot = q(&sysroot),
        bin = q(&bin_dir),
        published = q(&w.published),
        repo = q(&repo),
        dist = q(&dev_support::workspace_root().join("dist")),
        install = install.replace('\'', r"'\''"),
    );
    let out = ok(run_raw(
        Command::new("unshare")
            .args(["--mount", "--pid", "--fork", "--propagation", "private"])
            .args(["bash", "-c", &script]),
    ));
    let section = |name: &str| -> &str {
        out.split(&format!("== {name}"))
            .nth(1)
            .and_then(|s| s.split("\n== ").next())
            .unwrap_or_else(|| panic!("no {name} section in {out}"))
    };
    BootedInstall {
        said: section("install").trim().to_string(),
        staged_file: section("staged file").contains("yes"),
        admin: section("ostree admin status").to_string(),
        status: serde_json::from_str(section("jigdo status")).expect("status --json"),
    }
}

/// `jigdo install example-os-1.0 --deploy` (`--stage` if `stage`) inside the booted system.
fn booted_install(stage: bool) -> String {
    format!(
        "jigdo install example-os-1.0 --from /published --repo /jigdo-repo --ref {REF} \
         --os testos --deploy {} --nogpgcheck --sysroot /",
        if stage { "--stage" } else { "" }
    )
}

/// Asserts that ostree and `jigdo status` show v1 staged and v2 booted.
fn assert_v1_staged(b: &BootedInstall) {
    let w = world();
    assert!(b.staged_file, "{}", b.admin);
    let staged_line = b
        .admin
        .lines()
        .find(|l| l.contains("(staged)"))
        .unwrap_or_else(|| panic!("ostree shows nothing staged: {}", b.admin));
    assert!(staged_line.contains(&w.v1_commit), "{}", b.admin);
    assert!(
        b.admin
            .lines()
            .any(|l| l.starts_with("* testos ") && l.contains(&w.v2_commit)),
        "{}",
        b.admin
    );
    let (staged, booted) = (
        deployment(&b.status, &w.v1_commit),
        deployment(&b.status, &w.v2_commit),
    );
    assert_eq!(staged["staged"], true, "{}", b.status);
    assert_eq!(staged["booted"], false, "{}", b.status);
    assert_eq!(booted["booted"], true, "{}", b.status);
    assert_eq!(booted["staged"], false, "{}", b.status);
    assert_eq!(
        staged["jigdo_rpm"].as_str(),
        Some(nevra(&w.v1_rpm).as_str())
    );
}

/// The deployment of `commit` in a `jigdo status --json` document.
fn deployment<'a>(status: &'a Value, commit: &str) -> &'a Value {
    status["deployments"]
        .as_array()
        .expect("deployments")
        .iter()
        .find(|d| d["commit"] == commit)
        .unwrap_or_else(|| panic!("no deployment of {commit}: {status}"))
}

/// In a booted system, `jigdo install --deploy --stage` stages v1: ostree writes
/// `/run/ostree/staged-deployment` and marks it `(staged)`, and `jigdo status` reports v1
/// staged (with the jigdo RPM it came from) and v2 booted.
#[test]
fn install_stage_in_a_booted_system_stages_and_status_shows_it() {
    let b = install_in_a_booted_system("staged", &booted_install(true));
    assert_v1_staged(&b);
}

/// The installed update service's command (`dist/jigdo-update`) in a booted system, with
/// `DEPLOY` left to `auto`: it sees `/run/ostree-booted` with `SYSROOT=/`, so it stages v1
/// for the next boot (never touching the booted v2) and says so in one line.
#[test]
fn update_service_stages_in_a_booted_system() {
    let conf = format!(
        "NAME=example-os-1.0\nFROM=/published\nREPO=/jigdo-repo\nREF={REF}\nOS=testos\n\
         SYSROOT=/\nNOGPGCHECK=yes\n"
    );
    let b = install_in_a_booted_system(
        "service",
        &format!("printf '{conf}' > /tmp/update.conf && /dist/jigdo-update /tmp/update.conf"),
    );
    assert!(
        b.said.starts_with("jigdo-update: staged ") && b.said.contains("next boot of testos"),
        "{}",
        b.said
    );
    assert_eq!(b.said.lines().count(), 1, "{}", b.said);
    assert_v1_staged(&b);
}

/// In a booted system, `jigdo install --deploy` (not staged) writes v1 as the next boot's
/// deployment: ostree marks it `(pending)` and `jigdo status` reports it pending, v2
/// booted, and nothing staged.
#[test]
fn install_deploy_in_a_booted_system_is_pending_in_status() {
    let w = world();
    let b = install_in_a_booted_system("pending", &booted_install(false));
    assert!(!b.staged_file, "{}", b.admin);
    let pending_line = b
        .admin
        .lines()
        .find(|l| l.contains("(pending)"))
        .unwrap_or_else(|| panic!("ostree shows nothing pending: {}", b.admin));
    assert!(pending_line.contains(&w.v1_commit), "{}", b.admin);
    let (pending, booted) = (
        deployment(&b.status, &w.v1_commit),
        deployment(&b.status, &w.v2_commit),
    );
    assert_eq!(pending["pending"], true, "{}", b.status);
    assert_eq!(pending["staged"], false, "{}", b.status);
    assert_eq!(booted["booted"], true, "{}", b.status);
}
