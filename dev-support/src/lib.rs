//! Helpers shared by the tests of every crate in this workspace (a dev-dependency only):
//! running the real peer tools, building the `specs/` test packages with the real
//! `rpmbuild`, locating `../shared/fixtures`, making OpenPGP keys with the real `gpg`.
//!
//! Every helper fails (panics, in a test) with a message that says what is missing and
//! how to get it; nothing is skipped silently.
//!
//! ```no_run
//! let dir = std::env::temp_dir().join("pkgs");
//! let pkgs = dev_support::build_test_packages(&dir, &["jt-full.spec"]).unwrap();
//! ```

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root (the directory holding the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// Panics with a clear message unless `tool` is on PATH.
pub fn require_tool(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "this test needs `{tool}` (Debian: see .ci/deps.sh); it is not on PATH"
    );
}

/// Runs `cmd`, returning its output whatever the exit status.
pub fn run_raw(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} (is it installed? see .ci/deps.sh): {e}"))
}

/// Runs `cmd`, panics with its output unless it succeeds, and returns its stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = run_raw(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file under `dir` (recursively, not following symlinks to directories), sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d)
            .unwrap_or_else(|e| panic!("reading the directory {}: {e}", d.display()));
        for e in entries {
            let p = e
                .unwrap_or_else(|e| panic!("reading the directory {}: {e}", d.display()))
                .path();
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The `specs/` directory of this checkout.
pub fn specs_dir() -> PathBuf {
    workspace_root().join("specs")
}

/// Build test packages with the real `rpmbuild` (via `specs/build-test-packages.sh`) into
/// `out_dir` and return their paths. `specs` are spec file names in `specs/` (e.g.
/// `"jt-full.spec"`); empty means every `jt-*.spec` except `jt-big.spec`. `extra` is
/// passed to rpmbuild (e.g. `--define "_binary_payload w3.zstdio"`), may be empty.
/// Fails with a clear message if rpmbuild is missing or a build fails.
pub fn build_test_packages_with(
    out_dir: &Path,
    specs: &[&str],
    extra: &str,
) -> Result<Vec<PathBuf>, String> {
    let script = specs_dir().join("build-test-packages.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(&script).arg(out_dir);
    for s in specs {
        cmd.arg(specs_dir().join(s));
    }
    if !extra.is_empty() {
        cmd.env("JT_RPMBUILD_OPTS", extra);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("running {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(PathBuf::from)
        .collect())
}

/// [`build_test_packages_with`] without extra rpmbuild options.
pub fn build_test_packages(out_dir: &Path, specs: &[&str]) -> Result<Vec<PathBuf>, String> {
    build_test_packages_with(out_dir, specs, "")
}

/// The real-world fixtures directory (`$JIGDO_SHARED_DIR/fixtures/real-world`, default
/// `../shared` beside the checkout). Panics with a clear message if it is absent.
pub fn real_world_fixtures() -> PathBuf {
    let shared = std::env::var_os("JIGDO_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared"));
    let dir = shared.join("fixtures/real-world");
    assert!(
        dir.is_dir(),
        "real-world fixtures not found at {} (set JIGDO_SHARED_DIR to the shared/ directory)",
        dir.display()
    );
    dir
}

/// Makes an RSA signing key for `uid` with the real `gpg` in the new directory `home`
/// (no passphrase) and exports it: returns the ASCII-armored (secret, public) key files
/// `home/secret.asc` and `home/public.asc`. Panics (with gpg's output) on failure: it is
/// for tests.
pub fn gen_signing_key(home: &Path, uid: &str) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(home).expect("creating the gpg home");
    let gpg = |args: &[&str]| -> Vec<u8> {
        let out = Command::new("gpg")
            .arg("--homedir")
            .arg(home)
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .expect("running gpg (apt-get install gnupg)");
        assert!(
            out.status.success(),
            "gpg {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    gpg(&["--quick-gen-key", uid, "rsa2048", "sign", "never"]);
    let secret = home.join("secret.asc");
    let public = home.join("public.asc");
    std::fs::write(&secret, gpg(&["--armor", "--export-secret-keys", uid])).expect("secret key");
    std::fs::write(&public, gpg(&["--armor", "--export", uid])).expect("public key");
    // gpg started an agent for this home; the key files are all the tests need.
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(home)
        .args(["--kill", "gpg-agent"])
        .output();
    (secret, public)
}

/// Deterministic pseudo-random bytes (so tests need no fixtures for content).
pub fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
