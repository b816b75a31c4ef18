//! Helpers shared by the end-to-end scenarios in `tests/`: running the `jigdo` binary
//! built for the test run ([`jigdo_command!`]), the real peer tools, and
//! `../shared/fixtures`; building small RPMs with the real `rpmbuild`; composing and inspecting OSTree commits with the real `ostree`.
//!
//! Every helper fails (panics, in a test) with a message that says what is missing and
//! how to get it; nothing is skipped silently.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub use dev_support::{
    build_test_packages, files_under, gen_signing_key, pseudo_random, real_world_fixtures,
    require_tool, run, run_raw, workspace_root,
};

/// Defines `fn jigdo_bin() -> PathBuf` and `fn jigdo() -> Command` in an end-to-end
/// test: the `jigdo` binary that cargo built for this very test run, with the same
/// features (`CARGO_BIN_EXE_jigdo`), never a path that a user's build may overwrite.
/// Cargo sets that only for the tests of the package owning the binary, so the scenarios
/// that drive `jigdo` are `[[test]]`s of the root package (see the root Cargo.toml) while
/// their files stay in `mirror-tests/tests/`.
#[macro_export]
macro_rules! jigdo_command {
    () => {
        /// The `jigdo` binary cargo built for this test run.
        #[allow(dead_code)]
        fn jigdo_bin() -> std::path::PathBuf {
            std::path::PathBuf::from(env!("CARGO_BIN_EXE_jigdo"))
        }

        /// A command running [`jigdo_bin`].
        fn jigdo() -> std::process::Command {
            std::process::Command::new(jigdo_bin())
        }
    };
}

/// An `ostree --repo=REPO` command.
pub fn ostree(repo: &Path) -> Command {
    let mut c = Command::new("ostree");
    c.arg(format!("--repo={}", repo.display()));
    c
}

/// One file of a test package.
#[derive(Debug, Clone)]
pub enum TestFile {
    /// A regular file with its bytes and permission bits.
    Regular {
        /// Absolute path.
        path: String,
        /// Content.
        content: Vec<u8>,
        /// Permission bits (e.g. 0o755).
        mode: u32,
    },
    /// A symlink.
    Symlink {
        /// Absolute path.
        path: String,
        /// Target.
        target: String,
    },
    /// A hardlink to an earlier regular file of the same package.
    Hardlink {
        /// Absolute path.
        path: String,
        /// Path of the file it links to.
        to: String,
    },
}

/// A package to build with [`build_rpm`].
#[derive(Debug, Clone)]
pub struct TestPackage {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Release.
    pub release: String,
    /// `noarch` or empty for the build machine's arch.
    pub arch: String,
    /// Files.
    pub files: Vec<TestFile>,
    /// Extra preamble lines (`Provides: …`, `Requires: …`).
    pub preamble: Vec<String>,
}

impl TestFile {
    /// A regular file.
    pub fn regular(path: &str, content: Vec<u8>, mode: u32) -> TestFile {
        TestFile::Regular {
            path: path.into(),
            content,
            mode,
        }
    }
}

impl TestPackage {
    /// Release 1 of NAME-VERSION for ARCH (`noarch`, or empty for the machine's), with
    /// `files` and no extra preamble.
    pub fn new(name: &str, version: &str, arch: &str, files: Vec<TestFile>) -> TestPackage {
        TestPackage {
            name: name.into(),
            version: version.into(),
            release: "1".into(),
            arch: arch.into(),
            files,
            preamble: Vec::new(),
        }
    }
}

/// Builds `pkg` with the real `rpmbuild` into `out_dir` and returns the RPM's path.
pub fn build_rpm(out_dir: &Path, pkg: &TestPackage) -> PathBuf {
    require_tool("rpmbuild");
    let work = tempfile::tempdir().expect("tempdir");
    let top = work.path();
    let data = top.join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let mut install = String::new();
    let mut files = String::new();
    for (i, f) in pkg.files.iter().enumerate() {
        let (path, line) = match f {
            TestFile::Regular {
                path,
                content,
                mode,
            } => {
                let src = data.join(format!("f{i}"));
                std::fs::write(&src, content).expect("write");
                install.push_str(&format!(
                    "install -D -m {mode:o} {} %{{buildroot}}{path}\n",
                    src.display()
                ));
                (path, format!("%attr({mode:o},root,root) {path}"))
            }
            TestFile::Symlink { path, target } => {
                install.push_str(&format!(
                    "mkdir -p $(dirname %{{buildroot}}{path}) && ln -s '{target}' %{{buildroot}}{path}\n"
                ));
                (path, path.clone())
            }
            TestFile::Hardlink { path, to } => {
                install.push_str(&format!(
                    "mkdir -p $(dirname %{{buildroot}}{path}) && ln %{{buildroot}}{to} %{{buildroot}}{path}\n"
                ));
                (path, path.clone())
            }
        };
        let _ = path;
        files.push_str(&line);
        files.push('\n');
    }
    let arch_line = if pkg.arch.is_empty() {
        String::new()
    } else {
        format!("BuildArch: {}\n", pkg.arch)
    };
    let spec = format!(
        "Name: {name}\nVersion: {version}\nRelease: {release}\nSummary: test package {name}\n\
         License: MIT\n{arch_line}{extra}\n%description\nTest package {name}.\n\n\
         %install\n{install}\n%files\n{files}",
        name = pkg.name,
        version = pkg.version,
        release = pkg.release,
        extra = pkg
            .preamble
            .iter()
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    );
    let spec_path = top.join(format!("{}.spec", pkg.name));
    std::fs::write(&spec_path, spec).expect("write spec");
    std::fs::create_dir_all(out_dir).expect("mkdir out");
    run(Command::new("rpmbuild")
        .arg("-bb")
        .arg("--quiet")
        .arg("--define")
        .arg(format!("_topdir {}", top.display()))
        .arg("--define")
        .arg(format!("_rpmdir {}", out_dir.display()))
        .arg("--define")
        .arg("_build_name_fmt %{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}.rpm")
        .arg("--define")
        .arg("__os_install_post %{nil}")
        .arg("--define")
        .arg("debug_package %{nil}")
        .arg(&spec_path));
    let arch = if pkg.arch.is_empty() {
        run(Command::new("rpm").args(["--eval", "%{_arch}"]))
            .trim()
            .to_string()
    } else {
        pkg.arch.clone()
    };
    let rpm = out_dir.join(format!(
        "{}-{}-{}.{arch}.rpm",
        pkg.name, pkg.version, pkg.release
    ));
    assert!(rpm.is_file(), "rpmbuild did not produce {}", rpm.display());
    rpm
}

/// Composes an OS-like tree from every RPM in `pkg_dir` and commits it to `repo` with
/// `examples/compose-tree.sh`; returns the commit checksum.
pub fn compose_tree(
    pkg_dir: &Path,
    repo: &Path,
    ref_name: &str,
    version: &str,
    parent: Option<&str>,
) -> String {
    require_tool("ostree");
    require_tool("rpm");
    let script = workspace_root().join("examples/compose-tree.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(&script)
        .arg(pkg_dir)
        .arg(repo)
        .arg(ref_name)
        .arg(version);
    if let Some(p) = parent {
        cmd.arg(p);
    }
    run(&mut cmd).trim().to_string()
}

/// `ostree ls -R -X` of `rev`: every path with its mode, uid, gid, xattrs and checksum
/// (as a canonical listing to compare two commits' trees).
pub fn ostree_listing(repo: &Path, rev: &str) -> String {
    run(ostree(repo).args(["ls", "-R", "-X", "-C", rev]))
}

/// Asserts that `ostree fsck` finds `repo` clean.
pub fn assert_fsck_clean(repo: &Path) {
    let out = run_raw(ostree(repo).arg("fsck"));
    assert!(
        out.status.success(),
        "ostree fsck of {} failed:\n{}{}",
        repo.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The refs of `repo` with their commits, sorted (`ostree refs` + `rev-parse`); empty if
/// the repository does not exist.
pub fn refs_state(repo: &Path) -> Vec<(String, String)> {
    if !repo.join("config").exists() {
        return Vec::new();
    }
    let mut out: Vec<(String, String)> = run(ostree(repo).arg("refs"))
        .lines()
        .map(|r| {
            let c = run(ostree(repo).args(["rev-parse", r])).trim().to_string();
            (r.to_string(), c)
        })
        .collect();
    out.sort();
    out
}

pub mod bigrepo;
pub mod fault_server;
pub mod nginx;

/// Removes `dir` and everything under it, if it exists, including `ostree admin deploy`
/// deployments (ostree marks their root directories immutable: the flag is cleared
/// first with the real `chattr`). Panics if anything is left.
pub fn remove_tree(dir: &Path) {
    if std::fs::symlink_metadata(dir).is_err() {
        return;
    }
    if std::fs::remove_dir_all(dir).is_ok() {
        return;
    }
    require_tool("chattr");
    // Errors on files that take no flags (symlinks, sockets) are expected.
    let _ = Command::new("chattr").arg("-R").arg("-i").arg(dir).output();
    if let Err(e) = std::fs::remove_dir_all(dir) {
        panic!("cannot remove {}: {e}", dir.display());
    }
}

/// A dnf 4 command with a throwaway configuration, cache and install root that
/// sees only the rpm-md repository at `repo` (as repository `t`); `tmp` holds its files.
pub fn dnf(tmp: &Path, repo: &Path) -> Command {
    require_tool("dnf");
    let conf = tmp.join("dnf.conf");
    if !conf.exists() {
        std::fs::write(&conf, "[main]\ngpgcheck=0\nreposdir=/dev/null\n")
            .expect("writing dnf.conf");
    }
    let mut c = Command::new("dnf");
    c.arg("-q")
        .arg(format!("--config={}", conf.display()))
        .arg("--setopt=reposdir=/dev/null")
        .arg(format!("--setopt=cachedir={}", tmp.join("cache").display()))
        .arg(format!("--installroot={}", tmp.join("root").display()))
        .arg("--releasever=1")
        .arg(format!("--repofrompath=t,file://{}", repo.display()))
        .arg("--repo=t");
    c
}

/// The standard output of a `jigdo` run that must have succeeded (the test fails with its
/// standard error otherwise).
pub fn ok(out: impl std::borrow::Borrow<std::process::Output>) -> String {
    let out = out.borrow();
    assert!(
        out.status.success(),
        "jigdo failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
