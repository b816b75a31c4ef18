//! Progress on long commands, as a terminal user sees it: `jigdo repo create`, `pack`,
//! and `fsck` run under a real pseudo-terminal (util-linux `script`) draw their
//! progress on standard error, and the same commands draw nothing when their output is
//! not a terminal, or with `--quiet` or `--json`.
//!
//! The tree comes from packages built by `rpmbuild` and committed by `ostree commit`
//! (examples/compose-tree.sh).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use mirror_tests::*;

jigdo_command!();

const REF: &str = "example/os";

struct World {
    dir: PathBuf,
    pkgs: PathBuf,
    repo: PathBuf,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        require_tool("script");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("progress");
        remove_tree(&dir);
        let pkgs = dir.join("pkgs");
        std::fs::create_dir_all(&pkgs).expect("mkdir");
        for (i, name) in ["pg-alpha", "pg-beta", "pg-gamma"].iter().enumerate() {
            let files = vec![TestFile::regular(
                &format!("/usr/bin/{name}"),
                pseudo_random(i as u64 + 7, 20_000),
                0o755,
            )];
            build_rpm(&pkgs, &TestPackage::new(name, "1.0", "", files));
        }
        let repo = dir.join("compose");
        compose_tree(&pkgs, &repo, REF, "1.0", None);
        World { dir, pkgs, repo }
    })
}

/// Runs `jigdo ARGS` under a pseudo-terminal (standard output and error both on it) and
/// returns everything the terminal received. Fails the test if jigdo fails.
fn on_terminal(args: &[&str]) -> String {
    let mut line = shell_quote(&jigdo_bin().display().to_string());
    for a in args {
        line.push(' ');
        line.push_str(&shell_quote(a));
    }
    let out = run_raw(
        Command::new("script")
            .args(["--quiet", "--return", "--command"])
            .arg(&line)
            .arg("/dev/null"),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{line} failed under a terminal: {}\n{text}",
        out.status
    );
    text
}

/// Runs `jigdo ARGS` with its output captured (not a terminal); returns standard error.
fn captured_stderr(args: &[&str]) -> String {
    let out = run_raw(jigdo().args(args));
    assert!(out.status.success(), "jigdo {args:?} failed: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn path(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// Asserts that `marker` (the progress text of a command) reaches a terminal, and that
/// nothing of it is written when the output is captured, with `--quiet`, or with `--json`.
fn assert_progress_only_on_terminal(args: &[&str], marker: &str) {
    let tty = on_terminal(args);
    assert!(
        tty.contains(marker),
        "no progress ({marker:?}) on the terminal for jigdo {args:?}:\n{tty}"
    );
    let piped = captured_stderr(args);
    assert!(
        !piped.contains(marker),
        "progress written to a non-terminal for jigdo {args:?}:\n{piped}"
    );
    for flag in ["--quiet", "--json"] {
        let mut with_flag = args.to_vec();
        with_flag.push(flag);
        let tty = on_terminal(&with_flag);
        assert!(
            !tty.contains(marker),
            "progress on the terminal despite {flag} for jigdo {args:?}:\n{tty}"
        );
    }
}

#[test]
fn repo_create_shows_a_counter_on_a_terminal_only() {
    let w = world();
    assert_progress_only_on_terminal(&["repo", "create", path(&w.pkgs)], "reading packages");
}

#[test]
fn fsck_shows_a_counter_on_a_terminal_only() {
    let w = world();
    assert_progress_only_on_terminal(&["fsck", "--repo", path(&w.repo)], "verifying 1 commit(s)");
}

#[test]
fn pack_shows_a_spinner_on_a_terminal_only() {
    let w = world();
    let out = w.dir.join("jigdo");
    // On a terminal the steps are the spinner's message; elsewhere each step is a line.
    assert_progress_only_on_terminal(
        &[
            "pack",
            "--repo",
            path(&w.repo),
            "--rev",
            REF,
            "--from",
            path(&w.pkgs),
            "--output",
            path(&out),
            "--name",
            "example-os",
        ],
        "packing",
    );
}
