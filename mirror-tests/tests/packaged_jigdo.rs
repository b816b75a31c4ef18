//! jigdo as an OS updater ships it: the RPM of jigdo (`specs/ostree-jigdo.spec`, built by
//! the same code as `cargo xtask dist` from the binary this test run already has), its
//! man pages and shell completions (`jigdo generate`), and the automatic-update units.
//!
//! The real tools are the oracles: `rpmbuild`, `rpmsign`, `rpm -K`/`-qpl`/`-i --root`/`-V`,
//! `jigdo repo create` + `dnf repoquery`, `man --warnings`, bash (with bash-completion's
//! loader), zsh and fish, `systemd-analyze verify`, and `ostree admin` on a test sysroot
//! updated by the installed service command over a loopback nginx mirror.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use mirror_tests::nginx::Nginx;
use mirror_tests::*;

jigdo_command!();

/// The RPM built, signed and installed into `root` (a root that also holds the host's
/// systemd units, as a system with systemd does).
struct Packaged {
    dir: PathBuf,
    rpm: PathBuf,
    root: PathBuf,
    generated: xtask::Generated,
    secret_key: PathBuf,
    public_key: PathBuf,
}

fn packaged() -> &'static Packaged {
    static P: OnceLock<Packaged> = OnceLock::new();
    P.get_or_init(|| {
        for tool in ["rpmbuild", "rpmsign", "rpm", "gpg"] {
            require_tool(tool);
        }
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("packaged_jigdo");
        remove_tree(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let (secret_key, public_key) =
            gen_signing_key(&dir.join("gpg"), "Jigdo Packager <packager@example.org>");
        let generated =
            xtask::generate(&jigdo_bin(), &dir.join("generated")).expect("jigdo generate");
        let rpm = xtask::build_rpm(&xtask::RpmInputs {
            jigdo: jigdo_bin(),
            generated: generated.clone(),
            out_dir: dir.join("rpm"),
            release: "1".into(),
            sign_key: Some(secret_key.clone()),
        })
        .expect("building the RPM");
        let root = dir.join("root");
        std::fs::create_dir_all(&root).expect("mkdir");
        run(Command::new("rpm")
            .arg("--root")
            .arg(&root)
            .arg("--import")
            .arg(&public_key));
        run(Command::new("rpm")
            .args(["-i", "--nodeps", "--root"])
            .arg(&root)
            .arg(&rpm));
        // The units systemd itself ships (targets, sockets), as an installed system has.
        run(Command::new("cp")
            .args(["-a", "--no-clobber", "/lib/systemd/system/."])
            .arg(root.join("usr/lib/systemd/system")));
        Packaged {
            dir,
            rpm,
            root,
            generated,
            secret_key,
            public_key,
        }
    })
}

fn lines(s: &str) -> BTreeSet<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The subcommands `jigdo [SUB] --help` lists (without `help`).
fn subcommands(path: &[&str]) -> Vec<String> {
    let help = run(jigdo().args(path).arg("--help"));
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// Every command path: `[]`, `["info"]`, …, `["repo", "create"]`.
fn command_paths() -> Vec<Vec<String>> {
    let mut paths = vec![Vec::new()];
    for sub in subcommands(&[]) {
        for subsub in subcommands(&[&sub]) {
            paths.push(vec![sub.clone(), subsub]);
        }
        paths.push(vec![sub]);
    }
    paths
}

fn man_name(path: &[String]) -> String {
    std::iter::once("jigdo".to_string())
        .chain(path.iter().cloned())
        .collect::<Vec<_>>()
        .join("-")
}

/// The long flags `jigdo PATH --help` documents.
fn long_flags(path: &[String]) -> BTreeSet<String> {
    run(jigdo().args(path).arg("--help"))
        .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
        .filter(|w| w.starts_with("--") && w.len() > 2)
        // `--verbose...`: clap's mark of a flag that may be repeated.
        .map(|w| {
            let flag = w.split('=').next().unwrap_or(w);
            flag.trim_end_matches("...").to_string()
        })
        .collect()
}

#[test]
fn rpm_is_signed_lists_everything_and_installs() {
    let p = packaged();
    // Signature and digests, checked by rpm against the packager's key only.
    let db = p.dir.join("rpmdb-k");
    std::fs::create_dir_all(&db).expect("mkdir");
    let unknown = run_raw(
        Command::new("rpm")
            .arg("--dbpath")
            .arg(&db)
            .arg("-K")
            .arg(&p.rpm),
    );
    let text = String::from_utf8_lossy(&unknown.stdout);
    assert!(
        !unknown.status.success() && text.contains("NOT OK"),
        "rpm -K accepted the signature of an unknown key: {text}"
    );
    run(Command::new("rpm")
        .arg("--dbpath")
        .arg(&db)
        .arg("--import")
        .arg(&p.public_key));
    let checked = run(Command::new("rpm")
        .arg("--dbpath")
        .arg(&db)
        .arg("-K")
        .arg(&p.rpm));
    assert!(checked.contains("digests signatures OK"), "{checked}");

    // Name and version as jigdo itself reports.
    let version = run(jigdo().arg("--version"));
    let version = version
        .trim()
        .strip_prefix("jigdo ")
        .expect("jigdo --version");
    let nvr = run(Command::new("rpm")
        .args(["-qp", "--qf", "%{NAME} %{VERSION} %{RELEASE}"])
        .arg(&p.rpm));
    assert_eq!(nvr, format!("ostree-jigdo {version} 1"));

    // Exactly the files it should ship.
    let mut want: BTreeSet<String> = [
        "/etc/jigdo",
        "/etc/jigdo/update.conf",
        "/usr/bin/jigdo",
        "/usr/lib/systemd/system/jigdo-update.service",
        "/usr/lib/systemd/system/jigdo-update.timer",
        "/usr/libexec/jigdo",
        "/usr/libexec/jigdo/jigdo-update",
        "/usr/share/bash-completion/completions/jigdo",
        "/usr/share/zsh/site-functions/_jigdo",
        "/usr/share/fish/vendor_completions.d/jigdo.fish",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for path in command_paths() {
        want.insert(format!("/usr/share/man/man1/{}.1", man_name(&path)));
    }
    let listed: BTreeSet<String> = lines(&run(Command::new("rpm").arg("-qpl").arg(&p.rpm)))
        .into_iter()
        // brp-compress may compress man pages
        .map(|l| l.trim_end_matches(".gz").to_string())
        .collect();
    assert_eq!(listed, want);
    let config = run(Command::new("rpm").arg("-qpc").arg(&p.rpm));
    assert_eq!(config.trim(), "/etc/jigdo/update.conf");

    // Installed with `rpm -i --root`: in the root's rpmdb, every file as packaged, and the
    // installed binary runs.
    let q = run(Command::new("rpm").arg("--root").arg(&p.root).args([
        "-q",
        "--qf",
        "%{NAME}-%{VERSION}",
        "ostree-jigdo",
    ]));
    assert_eq!(q, format!("ostree-jigdo-{version}"));
    let verify = run_raw(Command::new("rpm").arg("--root").arg(&p.root).args([
        "-V",
        "--nodeps",
        "ostree-jigdo",
    ]));
    assert!(
        verify.status.success(),
        "rpm -V: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    let installed = run(Command::new(p.root.join("usr/bin/jigdo")).arg("--version"));
    assert_eq!(installed.trim(), format!("jigdo {version}"));
}

#[test]
fn repo_create_publishes_it_and_dnf_finds_it() {
    require_tool("dnf");
    let p = packaged();
    let repo = p.dir.join("published");
    remove_tree(&repo);
    std::fs::create_dir_all(repo.join("Packages")).expect("mkdir");
    let name = p.rpm.file_name().expect("name");
    std::fs::copy(&p.rpm, repo.join("Packages").join(name)).expect("copy");
    run(jigdo().args(["repo", "create"]).arg(&repo));

    let tmp = p.dir.join("dnf");
    remove_tree(&tmp);
    std::fs::create_dir_all(&tmp).expect("mkdir");
    let dnf = |args: &[&str]| run(mirror_tests::dnf(&tmp, &repo).args(args));
    let nevra = run(Command::new("rpm")
        .args([
            "-qp",
            "--qf",
            "%{NAME}-%{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}",
        ])
        .arg(&p.rpm));
    let found = dnf(&[
        "repoquery",
        "--qf",
        "%{name}-%{epoch}:%{version}-%{release}.%{arch}",
    ]);
    assert_eq!(lines(&found), BTreeSet::from([nevra.clone()]));
    // dnf knows what it ships and what it needs.
    let owner = dnf(&[
        "repoquery",
        "--qf",
        "%{name}-%{epoch}:%{version}-%{release}.%{arch}",
        "--whatprovides",
        "/usr/bin/jigdo",
    ]);
    assert_eq!(lines(&owner), BTreeSet::from([nevra]));
    let files = lines(&dnf(&["repoquery", "-l", "ostree-jigdo"]));
    assert!(
        files.contains("/usr/lib/systemd/system/jigdo-update.timer"),
        "{files:?}"
    );
    let requires = lines(&dnf(&["repoquery", "--requires", "ostree-jigdo"]));
    assert!(requires.contains("ostree"), "{requires:?}");
}

#[test]
fn man_pages_render_without_warnings_and_are_found_by_name() {
    require_tool("man");
    let p = packaged();
    let manpath = p.root.join("usr/share/man");
    let paths = command_paths();
    assert!(paths.len() >= 8, "{paths:?}");
    let generated: BTreeSet<String> = p
        .generated
        .man_pages
        .iter()
        .map(|f| f.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    let want: BTreeSet<String> = paths.iter().map(|c| format!("{}.1", man_name(c))).collect();
    assert_eq!(generated, want, "one man page per command, no hidden one");
    for path in &paths {
        let page = man_name(path);
        // The generated file (man -l) and the installed one found by name (man PAGE).
        let file = p.generated.man_dir.join(format!("{page}.1"));
        for args in [
            vec!["-l".to_string(), file.display().to_string()],
            vec![page.clone()],
        ] {
            let out = run_raw(
                Command::new("man")
                    .arg("--warnings=all")
                    .args(&args)
                    .env("MANPATH", &manpath)
                    .env("LC_ALL", "C.UTF-8")
                    .env("MANWIDTH", "250")
                    .env_remove("MANPAGER")
                    .env_remove("PAGER"),
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stderr.trim().is_empty(),
                "man {args:?}: {stderr}"
            );
            assert!(text.contains("NAME") && text.contains("SYNOPSIS"), "{text}");
            assert!(text.contains(&page), "{page}: {text}");
            // Every flag `--help` documents is in the page (one source for both).
            for flag in long_flags(path) {
                assert!(text.contains(&flag), "{page} lacks {flag}:\n{text}");
            }
            if path.is_empty() {
                for sub in paths.iter().filter(|p| p.len() == 1) {
                    let see = format!("{}(1)", man_name(sub));
                    assert!(text.contains(&see), "jigdo(1) does not name {see}");
                }
                assert!(text.contains("/etc/jigdo/update.conf"), "{text}");
            }
        }
    }
}

/// Completions bash offers for `words` (the last one being completed), after
/// bash-completion's own loader found the installed file (as an interactive shell does).
fn bash_complete(root: &Path, words: &[&str]) -> Vec<String> {
    let script = r#"
source /usr/share/bash-completion/bash_completion
__load_completion jigdo || { echo "no completion for jigdo" >&2; exit 1; }
spec=$(complete -p jigdo) || exit 1
func=$(sed -n 's/.* -F \([^ ]*\) .*/\1/p' <<<"$spec")
[ -n "$func" ] || { echo "no completion function in: $spec" >&2; exit 1; }
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
prev=""; [ $# -ge 2 ] && prev=${COMP_WORDS[COMP_CWORD-1]}
"$func" jigdo "${COMP_WORDS[COMP_CWORD]}" "$prev"
printf '%s\n' "${COMPREPLY[@]}"
"#;
    let out = run(Command::new("bash")
        .args(["--norc", "--noprofile", "-c", script, "bash"])
        .args(words)
        .env("XDG_DATA_DIRS", root.join("usr/share"))
        .env("HOME", root.join("nonexistent-home")));
    out.lines().map(str::to_string).collect()
}

#[test]
fn bash_loads_the_completion_and_completes() {
    require_tool("bash");
    assert!(
        Path::new("/usr/share/bash-completion/bash_completion").is_file(),
        "bash-completion is not installed (run .ci/deps.sh)"
    );
    let p = packaged();
    let all = bash_complete(&p.root, &["jigdo", ""]);
    for sub in subcommands(&[]) {
        assert!(all.contains(&sub), "{sub} not offered: {all:?}");
    }
    assert!(!all.iter().any(|c| c == "generate"), "hidden: {all:?}");
    assert_eq!(bash_complete(&p.root, &["jigdo", "ins"]), vec!["install"]);
    assert_eq!(
        bash_complete(&p.root, &["jigdo", "install", "--sys"]),
        vec!["--sysroot"]
    );
    assert_eq!(
        bash_complete(&p.root, &["jigdo", "repo", "cr"]),
        vec!["create"]
    );
    let modes = bash_complete(&p.root, &["jigdo", "unpack", "x.rpm", "--mode", "bare-u"]);
    assert_eq!(
        modes.into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from(["bare-user".to_string(), "bare-user-only".to_string()])
    );
}

#[test]
fn zsh_and_fish_load_the_completions() {
    require_tool("zsh");
    require_tool("fish");
    let p = packaged();
    let zsh_dir = p.root.join("usr/share/zsh/site-functions");
    run(Command::new("zsh").arg("-n").arg(zsh_dir.join("_jigdo")));
    // compinit finds it on the fpath and binds it to `jigdo`.
    let bound = run(Command::new("zsh")
        .args([
            "-f",
            "-c",
            "fpath=($1 $fpath); autoload -Uz compinit; compinit -u -D; print -r -- ${_comps[jigdo]}",
            "zsh",
        ])
        .arg(&zsh_dir));
    assert_eq!(bound.trim(), "_jigdo");

    let fish_file = p
        .root
        .join("usr/share/fish/vendor_completions.d/jigdo.fish");
    run(Command::new("fish").arg("--no-execute").arg(&fish_file));
    // fish finds it in its vendor directory (from XDG_DATA_DIRS) and completes.
    let home = p.dir.join("fish-home");
    std::fs::create_dir_all(&home).expect("mkdir");
    let path = format!(
        "{}:{}",
        p.root.join("usr/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let fish = |line: &str| -> Vec<String> {
        run(Command::new("fish")
            .arg("-c")
            .arg(format!("complete -C '{line}'"))
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_DATA_DIRS", p.root.join("usr/share"))
            .env("PATH", &path))
        .lines()
        .filter_map(|l| l.split('\t').next())
        .map(str::to_string)
        .collect()
    };
    assert_eq!(fish("jigdo ins"), vec!["install"]);
    assert_eq!(fish("jigdo install --sys"), vec!["--sysroot"]);
}

#[test]
fn units_pass_systemd_analyze_verify() {
    require_tool("systemd-analyze");
    let p = packaged();
    let units = p.root.join("usr/lib/systemd/system");
    let verify = |names: &[&str]| -> Output {
        run_raw(
            Command::new("systemd-analyze")
                .arg("verify")
                .arg(format!("--root={}", p.root.display()))
                .args(names.iter().map(|n| format!("/usr/lib/systemd/system/{n}")))
                // Documentation=man:… is checked with `man`: the installed pages.
                .env("MANPATH", p.root.join("usr/share/man")),
        )
    };
    let out = verify(&["jigdo-update.service", "jigdo-update.timer"]);
    assert!(
        out.status.success() && out.stderr.is_empty() && out.stdout.is_empty(),
        "systemd-analyze verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The same check fails on a unit whose command is not installed: it is not vacuous.
    let service = std::fs::read_to_string(units.join("jigdo-update.service")).expect("unit");
    let broken = service.replace(
        "/usr/libexec/jigdo/jigdo-update",
        "/usr/libexec/jigdo/not-installed",
    );
    assert_ne!(broken, service);
    std::fs::write(units.join("jigdo-broken.service"), broken).expect("write");
    let out = verify(&["jigdo-broken.service"]);
    std::fs::remove_file(units.join("jigdo-broken.service")).expect("rm");
    assert!(!out.status.success(), "a unit without its command passed");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not-installed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A oneshot run by the timer, the wrapper the package installs.
    assert!(service.contains("Type=oneshot"), "{service}");
    let timer = std::fs::read_to_string(units.join("jigdo-update.timer")).expect("timer");
    assert!(timer.contains("WantedBy=timers.target"), "{timer}");
}

/// The automatic update as systemd runs it: the installed unit's ExecStart (its paths
/// taken inside `root`), with the installed `jigdo` first on PATH. With
/// `read_only_sysroot`, that directory is mounted read-only (a bind mount in a mount
/// namespace of the run, as `sysroot.readonly` systems mount /sysroot), and must still be
/// read-only after the run. Returns (status, stdout, stderr).
fn run_update_service(root: &Path, read_only_sysroot: Option<&Path>) -> (bool, String, String) {
    let unit = std::fs::read_to_string(root.join("usr/lib/systemd/system/jigdo-update.service"))
        .expect("installed unit");
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let argv: Vec<PathBuf> = exec
        .split_whitespace()
        .map(|w| match w.strip_prefix('/') {
            Some(rel) => root.join(rel),
            None => PathBuf::from(w),
        })
        .collect();
    let mut cmd = match read_only_sysroot {
        None => Command::new(&argv[0]),
        Some(sysroot) => {
            require_tool("unshare");
            let mut c = Command::new("unshare");
            c.args(["--mount", "--propagation", "private", "sh", "-c"])
                .arg(
                    r#"sr=$1; shift
mount --bind "$sr" "$sr" && mount -o remount,ro,bind "$sr" || exit 99
"$@"; rc=$?
if touch "$sr/.rw-probe" 2>/dev/null; then echo "the sysroot became writable" >&2; exit 98; fi
exit $rc"#,
                )
                .arg("sh")
                .arg(sysroot)
                .arg(&argv[0]);
            c
        }
    };
    let out = run_raw(
        cmd.args(&argv[1..])
            .env(
                "PATH",
                format!(
                    "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    root.join("usr/bin").display()
                ),
            )
            .env_remove("JIGDO_LOG"),
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `ostree admin status` deployments of the sysroot: (osname, checksum.serial), in order.
fn deployments(sysroot: &Path) -> Vec<(String, String)> {
    run(Command::new("ostree")
        .args(["admin", "status", "--sysroot"])
        .arg(sysroot))
    .lines()
    .filter(|l| !l.starts_with("    "))
    .filter_map(|l| {
        let mut w = l.trim_start_matches(['*', ' ']).split_whitespace();
        Some((w.next()?.to_string(), w.next()?.to_string()))
    })
    .collect()
}

fn update_package(version: &str, seed: u64) -> TestPackage {
    TestPackage::new(
        "jt-updated",
        version,
        "noarch",
        vec![
            TestFile::regular("/usr/bin/jt-updated", pseudo_random(seed, 30_000), 0o755),
            TestFile::regular("/etc/jt-updated.conf", b"updated = yes\n".to_vec(), 0o644),
        ],
    )
}

/// The installed jigdo-update.service, run as its unit runs it, follows the jigdo RPMs of a
/// loopback nginx mirror into a test sysroot: deploys v1, then does nothing while nothing
/// is new, then adds v2 in front of v1 (v1's deployment untouched, its /etc merged; the
/// sysroot mounted read-only, as Fedora's ostree editions mount it), says
/// one line each time, and refuses a jigdo RPM its key does not sign, changing nothing.
#[test]
fn update_service_deploys_new_commits_and_leaves_the_others() {
    require_tool("ostree");
    require_tool("nginx");
    let p = packaged();
    let dir = p.dir.join("auto-update");
    remove_tree(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");

    // The machine: jigdo installed from its RPM, and an OSTree sysroot.
    let root = dir.join("machine");
    std::fs::create_dir_all(&root).expect("mkdir");
    run(Command::new("rpm")
        .args(["-i", "--nodeps", "--nosignature", "--root"])
        .arg(&root)
        .arg(&p.rpm));
    let sysroot = dir.join("sysroot");
    std::fs::create_dir_all(&sysroot).expect("mkdir");
    run(Command::new("ostree")
        .args(["admin", "init-fs", "--modern"])
        .arg(&sysroot));

    // The vendor: commits packed as signed jigdo RPMs, published, served by nginx.
    let published = dir.join("published");
    std::fs::create_dir_all(published.join("Packages")).expect("mkdir");
    let compose = dir.join("compose");
    // Bootable commits keep /etc as /usr/etc (`ostree admin deploy` needs it); only this
    // test of this binary composes.
    std::env::set_var("COMPOSE_USR_ETC", "1");
    let publish = |version: &str, seed: u64, parent: Option<&str>| -> String {
        let pkgs = dir.join(format!("pkgs-{version}"));
        let rpm = build_rpm(&pkgs, &update_package(version, seed));
        let commit = compose_tree(&pkgs, &compose, "example/os", version, parent);
        run(jigdo()
            .args(["pack", "--repo"])
            .arg(&compose)
            .args(["--rev", &commit, "--from"])
            .arg(&pkgs)
            .arg("--output")
            .arg(&published)
            .args(["--name", "example-os", "--sign-key"])
            .arg(&p.secret_key));
        std::fs::copy(
            &rpm,
            published
                .join("Packages")
                .join(rpm.file_name().expect("name")),
        )
        .expect("copy");
        run(jigdo().args(["repo", "create"]).arg(&published));
        commit
    };
    let v1 = publish("1.0", 1, None);
    let tmp = dir.join("nginx");
    let nginx = Nginx::start(&published, &tmp);

    // The administrator's configuration, where the unit reads it.
    let conf = root.join("etc/jigdo/update.conf");
    let shipped = std::fs::read_to_string(&conf).expect("shipped update.conf");
    let write_conf = |key: &Path| {
        std::fs::write(
            &conf,
            format!(
                "{shipped}\nNAME=example-os\nFROM=\"{}\"\nSYSROOT={}\nOS=testos\nREF=example/os\nGPGKEY={}\n",
                nginx.url(),
                sysroot.display(),
                key.display()
            ),
        )
        .expect("update.conf")
    };
    write_conf(&p.public_key);

    // First run: v1 deployed.
    let (ok, out, err) = run_update_service(&root, None);
    assert!(ok && err.is_empty(), "{out}{err}");
    assert_eq!(out.lines().count(), 1, "one line per run: {out}");
    assert!(
        out.starts_with("jigdo-update: deployed example-os-1.0-1"),
        "{out}"
    );
    assert!(out.contains(&v1[..12]), "{out}");
    let after_v1 = deployments(&sysroot);
    assert_eq!(after_v1, vec![("testos".into(), format!("{v1}.0"))]);
    // The administrator changes the deployed system's /etc.
    let v1_dir = sysroot.join(format!("ostree/deploy/testos/deploy/{v1}.0"));
    std::fs::write(v1_dir.join("etc/site.conf"), "local = 1\n").expect("site.conf");
    let v1_listing = run(Command::new("find")
        .arg(&v1_dir)
        .arg("-printf")
        .arg("%p %i %s %m\n"));

    // Nothing new: nothing deployed.
    let (ok, out, err) = run_update_service(&root, None);
    assert!(ok && err.is_empty(), "{out}{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("testos is up to date"), "{out}");
    assert_eq!(deployments(&sysroot), after_v1);

    // v2 published: deployed in front of v1, which stays as it was.
    // This time the sysroot is mounted read-only, as on systems with sysroot.readonly.
    let v2 = publish("2.0", 2, Some("example/os"));
    let (ok, out, err) = run_update_service(&root, Some(&sysroot));
    assert!(ok && err.is_empty(), "{out}{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with("jigdo-update: deployed example-os-2.0-1"),
        "{out}"
    );
    assert_eq!(
        deployments(&sysroot),
        vec![
            ("testos".into(), format!("{v2}.0")),
            ("testos".into(), format!("{v1}.0"))
        ]
    );
    assert_eq!(
        run(Command::new("find")
            .arg(&v1_dir)
            .arg("-printf")
            .arg("%p %i %s %m\n")),
        v1_listing,
        "the previous deployment was changed"
    );
    let v2_site = sysroot.join(format!("ostree/deploy/testos/deploy/{v2}.0/etc/site.conf"));
    assert_eq!(
        std::fs::read_to_string(&v2_site).expect("merged /etc"),
        "local = 1\n"
    );

    // A key that did not sign the jigdo RPMs: refused, one error line, nothing changed.
    let (_, other) = gen_signing_key(&dir.join("other-gpg"), "Other <other@example.org>");
    write_conf(&other);
    let v3 = publish("3.0", 3, Some("example/os"));
    let (ok, out, err) = run_update_service(&root, None);
    assert!(!ok, "installed with the wrong key: {out}");
    assert!(out.is_empty(), "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("jigdo-update: error: "), "{err}");
    assert!(err.contains("signature"), "{err}");
    let now = deployments(&sysroot);
    assert!(!now.iter().any(|(_, c)| c.starts_with(&v3)), "{now:?}");
    assert_eq!(now.len(), 2, "{now:?}");

    // Staging (what it does on a booted system) needs a booted system: here it is refused
    // by ostree, reported in one line, and changes nothing.
    write_conf(&p.public_key);
    let conf_text = std::fs::read_to_string(&conf).expect("conf");
    std::fs::write(&conf, format!("{conf_text}DEPLOY=stage\n")).expect("conf");
    let (ok, out, err) = run_update_service(&root, None);
    assert!(!ok, "staged on a sysroot that is not booted: {out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("ostree admin deploy --stage"), "{err}");
    assert_eq!(deployments(&sysroot).len(), 2);
}
