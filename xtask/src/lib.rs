//! Build steps beyond `cargo build`, run by `cargo xtask` (src/main.rs):
//!
//! - the man pages and shell completions of `jigdo`, rendered by the binary itself from its
//!   clap definitions (its hidden `jigdo generate` subcommand), so they always match `--help`;
//! - the RPM of jigdo (`specs/ostree-jigdo.spec`), built by the real `rpmbuild` from those
//!   build outputs and the files in `dist/` (systemd units, the update wrapper and config).
//!
//! mirror-tests call the same functions with the binary the test run already has, so the
//! test checks what `cargo xtask dist` ships without building the workspace again.
//!
//! Dependency-free on purpose: `cargo xtask` compiles this crate in seconds.

#![forbid(unsafe_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// An error: what failed, with the tool's own message.
pub type Result<T> = std::result::Result<T, String>;

/// The workspace's top directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ lives in the workspace")
        .to_path_buf()
}

/// The cargo target directory (`$CARGO_TARGET_DIR`, else `<workspace>/target`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        Some(t) if t.is_absolute() => t,
        Some(t) => workspace_root().join(t),
        None => workspace_root().join("target"),
    }
}

/// Runs `cmd`; its standard output, or an error naming the command with its stderr.
fn run(cmd: &mut Command) -> Result<String> {
    let shown = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(OsStr::to_string_lossy)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let out = cmd.output().map_err(|e| format!("running {shown}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{shown}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|_| format!("{shown}: output is not UTF-8"))
}

/// Builds the release `jigdo` binary with cargo (`features`: a cargo feature list, may be
/// empty) and returns its path.
pub fn build_jigdo(features: &str) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root())
        .args(["build", "--release", "--bin", "jigdo"]);
    if !features.is_empty() {
        cmd.args(["--features", features]);
    }
    // cargo's own progress goes to the terminal.
    let status = cmd
        .status()
        .map_err(|e| format!("running cargo build: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build --release --bin jigdo: {status}"));
    }
    Ok(target_dir().join("release/jigdo"))
}

/// The version `jigdo --version` reports (`jigdo 0.1.0` → `0.1.0`).
pub fn jigdo_version(jigdo: &Path) -> Result<String> {
    let out = run(Command::new(jigdo).arg("--version"))?;
    out.trim()
        .strip_prefix("jigdo ")
        .filter(|v| {
            !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '+' || c == '~')
        })
        .map(str::to_string)
        .ok_or_else(|| format!("{} --version printed {out:?}", jigdo.display()))
}

/// The man pages and completions `jigdo generate` wrote.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Directory of `jigdo.1`, `jigdo-SUBCOMMAND.1`, ….
    pub man_dir: PathBuf,
    /// Directory of `jigdo.bash`, `_jigdo` (zsh) and `jigdo.fish`.
    pub completions_dir: PathBuf,
    /// Every man page written.
    pub man_pages: Vec<PathBuf>,
    /// Every completion file written.
    pub completions: Vec<PathBuf>,
}

fn lines_as_paths(out: &str) -> Vec<PathBuf> {
    out.lines()
        .filter(|l| !l.is_empty())
        .map(PathBuf::from)
        .collect()
}

/// Renders the man pages into `out/man` and the completions into `out/completions` with
/// `jigdo generate` (any previous files there are replaced).
pub fn generate(jigdo: &Path, out: &Path) -> Result<Generated> {
    let man_dir = out.join("man");
    let completions_dir = out.join("completions");
    for dir in [&man_dir, &completions_dir] {
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
    }
    let man_pages = lines_as_paths(&run(Command::new(jigdo)
        .args(["generate", "man"])
        .arg(&man_dir))?);
    let completions = lines_as_paths(&run(Command::new(jigdo)
        .args(["generate", "completions"])
        .arg(&completions_dir))?);
    Ok(Generated {
        man_dir,
        completions_dir,
        man_pages,
        completions,
    })
}

/// What [`build_rpm`] packages.
#[derive(Debug, Clone)]
pub struct RpmInputs {
    /// The `jigdo` binary.
    pub jigdo: PathBuf,
    /// Its man pages and completions (from [`generate`]).
    pub generated: Generated,
    /// Directory the RPM is written to.
    pub out_dir: PathBuf,
    /// The RPM's Release.
    pub release: String,
    /// Sign the RPM with this ASCII-armored OpenPGP secret key (no passphrase), with the
    /// real `rpmsign` and `gpg`.
    pub sign_key: Option<PathBuf>,
}

/// Builds `OUT/ostree-jigdo-VERSION-RELEASE.ARCH.rpm` from `specs/ostree-jigdo.spec` with
/// the real `rpmbuild` (and signs it with `rpmsign` when asked); returns its path.
pub fn build_rpm(inputs: &RpmInputs) -> Result<PathBuf> {
    let root = workspace_root();
    let version = jigdo_version(&inputs.jigdo)?;
    if inputs.release.is_empty()
        || !inputs
            .release
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
    {
        return Err(format!("bad release {:?}", inputs.release));
    }
    let abs = |p: &Path| -> Result<PathBuf> {
        std::fs::canonicalize(p).map_err(|e| format!("{}: {e}", p.display()))
    };
    std::fs::create_dir_all(&inputs.out_dir)
        .map_err(|e| format!("{}: {e}", inputs.out_dir.display()))?;
    let out_dir = abs(&inputs.out_dir)?;
    let generated = abs(inputs
        .generated
        .man_dir
        .parent()
        .ok_or("the man page directory has no parent")?)?;
    if abs(inputs
        .generated
        .completions_dir
        .parent()
        .unwrap_or(Path::new("")))?
        != generated
    {
        return Err("man pages and completions must share one parent directory".into());
    }
    let top = out_dir.join(format!(".rpmbuild-{}", std::process::id()));
    let define = |cmd: &mut Command, name: &str, value: &Path| {
        cmd.arg("--define")
            .arg(format!("{name} {}", value.display()));
    };
    let mut cmd = Command::new("rpmbuild");
    cmd.args(["-bb", "--quiet"]);
    define(&mut cmd, "_topdir", &top);
    define(&mut cmd, "_rpmdir", &out_dir);
    cmd.args([
        "--define",
        "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm",
    ]);
    define(&mut cmd, "jigdo_version", Path::new(&version));
    define(&mut cmd, "jigdo_release", Path::new(&inputs.release));
    define(&mut cmd, "jigdo_bin", &abs(&inputs.jigdo)?);
    define(&mut cmd, "jigdo_generated", &generated);
    define(&mut cmd, "jigdo_dist", &root.join("dist"));
    cmd.arg(root.join("specs/ostree-jigdo.spec"));
    let result = run(&mut cmd);
    let _ = std::fs::remove_dir_all(&top);
    result.map_err(|e| format!("building the RPM: {e}"))?;
    let arch = run(Command::new("rpm").args(["--eval", "%{_arch}"]))?
        .trim()
        .to_string();
    let rpm = out_dir.join(format!(
        "ostree-jigdo-{version}-{}.{arch}.rpm",
        inputs.release
    ));
    if !rpm.is_file() {
        return Err(format!("rpmbuild did not write {}", rpm.display()));
    }
    if let Some(key) = &inputs.sign_key {
        sign_rpm(&rpm, key)?;
    }
    Ok(rpm)
}

/// Signs `rpm` in place with the real `rpmsign`, using `key` imported into a temporary
/// gpg home.
fn sign_rpm(rpm: &Path, key: &Path) -> Result<()> {
    // A short path: gpg-agent's sockets must fit in a unix socket name (108 bytes), which
    // a home beside the RPM in a deep checkout does not.
    static HOMES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = HOMES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let home = std::env::temp_dir().join(format!("jigdo-sign-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&home).map_err(|e| format!("{}: {e}", home.display()))?;
    let result = (|| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700));
        }
        let gpg = |args: &[&str]| {
            run(Command::new("gpg")
                .arg("--homedir")
                .arg(&home)
                .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
                .args(args))
        };
        gpg(&["--import", &key.display().to_string()])?;
        // The key's fingerprint (`fpr:::::::::FINGERPRINT:` after `sec:`).
        let listing = gpg(&["--with-colons", "--list-secret-keys"])?;
        let fpr = listing
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .and_then(|l| l.split(':').find(|f| !f.is_empty()))
            .ok_or_else(|| format!("{}: no secret key in it", key.display()))?
            .to_string();
        // rpm's default gpg is /usr/bin/gpg2, absent on Debian: name the one on PATH.
        let gpg_bin = std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .map(|d| d.join("gpg"))
            .find(|p| p.is_file())
            .ok_or("gpg not found on PATH (apt-get install gnupg)")?;
        run(Command::new("rpmsign")
            .arg("--addsign")
            .arg("--define")
            .arg(format!("__gpg {}", gpg_bin.display()))
            .arg("--define")
            .arg(format!("_gpg_path {}", home.display()))
            .arg("--define")
            .arg(format!("_gpg_name {fpr}"))
            .arg("--define")
            .arg("_gpg_sign_cmd_extra_args --batch --pinentry-mode loopback --passphrase ''")
            .arg(rpm))
        .map(|_| ())
    })();
    // gpg left an agent running for this home: stop it before removing its socket.
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(&home)
        .args(["--kill", "gpg-agent"])
        .output();
    let _ = std::fs::remove_dir_all(&home);
    result.map_err(|e| format!("signing {}: {e}", rpm.display()))
}
