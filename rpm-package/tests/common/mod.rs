//! Shared helpers for the cross-tool tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Run a tool and return stdout; panic with a clear message if it is missing or fails.
pub fn run(tool: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!(
            "cannot run {tool} ({e}): install it (Debian: apt-get install rpm cpio createrepo-c)"
        )
    });
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Run a tool, returning (success, stdout+stderr) without panicking on failure.
pub fn try_run(tool: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} ({e}): install it"));
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), s)
}

/// `rpm -qp --qf FMT PKG` as text: rpm prints header strings as stored, so each
/// piece between the separators (control characters) is decoded on its own with
/// the rule our header reader uses (UTF-8, else Latin-1 as createrepo_c reads it;
/// tested on its own in rpm-package's unit tests).
pub fn rpm_qf(pkg: &Path, fmt: &str) -> String {
    let p = pkg.to_str().unwrap();
    let out = run(
        "rpm",
        &["-qp", "--nosignature", "--nodigest", "--qf", fmt, p],
    );
    let mut text = String::new();
    for piece in out.split_inclusive(|&b| b < 0x20) {
        let (body, sep) = match piece.last() {
            Some(&b) if b < 0x20 => (&piece[..piece.len() - 1], Some(char::from(b))),
            _ => (piece, None),
        };
        text.push_str(&rpm_package::raw::decode_header_string(body));
        text.extend(sep);
    }
    text
}

/// The test packages of specs/, built once per test binary.
pub fn test_packages() -> &'static [PathBuf] {
    static PKGS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    PKGS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("rpm-package-test-pkgs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let pkgs = dev_support::build_test_packages(&dir, &[])
            .unwrap_or_else(|e| panic!("building test packages: {e}"));
        assert!(
            pkgs.len() >= 7,
            "expected at least 7 test packages, got {pkgs:?}"
        );
        pkgs
    })
}

/// The test package whose file name starts with `name-`.
pub fn test_package(name: &str) -> PathBuf {
    test_packages()
        .iter()
        .find(|p| {
            let f = p.file_name().unwrap().to_str().unwrap();
            f.starts_with(&format!("{name}-"))
                && f[name.len() + 1..].starts_with(|c: char| c.is_ascii_digit())
        })
        .unwrap_or_else(|| panic!("no test package {name}"))
        .clone()
}

/// Every .rpm under the real-world fixtures, sorted.
pub fn fixture_rpms() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dev_support::real_world_fixtures()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rpm") {
                out.push(p);
            }
        }
    }
    out.sort();
    assert!(
        out.len() > 100,
        "expected the 147 real-world RPMs, found {}",
        out.len()
    );
    out
}
