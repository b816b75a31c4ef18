//! Deployment with the real `ostree`: the commit is copied into `SYSROOT/ostree/repo`
//! with `ostree pull-local`, then `ostree admin deploy` runs (after `ostree admin
//! init-fs` and `ostree admin os-init` when the sysroot or the OS is new).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::InstallError;

/// Where to put the installed commit besides the repository.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// A sysroot (as for `ostree admin --sysroot`) to pull the commit into.
    pub sysroot: PathBuf,
    /// The OS name (stateroot) in the sysroot.
    pub os: String,
    /// Also deploy it (`ostree admin deploy`), not only pull it.
    pub deploy: bool,
}

fn ostree(args: &[&str]) -> Result<(), InstallError> {
    ostree_output(args).map(drop)
}

/// Runs the real `ostree` with `args`; its standard output, or the error naming what it
/// printed on standard error.
pub(crate) fn ostree_output(args: &[&str]) -> Result<String, InstallError> {
    let out = Command::new("ostree")
        .args(args)
        .output()
        .map_err(InstallError::OstreeMissing)?;
    if !out.status.success() {
        return Err(InstallError::Ostree {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Pulls `ref_name` from `repo` into the sysroot's repository and, with
/// [`Deployment::deploy`], deploys it for the OS.
pub fn deploy(repo: &Path, ref_name: &str, to: &Deployment) -> Result<(), InstallError> {
    let sysroot = &to.sysroot;
    let sr = sysroot.display().to_string();
    let srepo = sysroot.join("ostree/repo");
    if !srepo.join("config").exists() {
        std::fs::create_dir_all(sysroot).map_err(|source| InstallError::Io {
            path: sysroot.clone(),
            source,
        })?;
        ostree(&["admin", "init-fs", "--modern", &sr])?;
    }
    if !sysroot.join("ostree/deploy").join(&to.os).exists() {
        ostree(&["admin", "os-init", "--sysroot", &sr, &to.os])?;
    }
    let srepo_arg = format!("--repo={}", srepo.display());
    let src = repo.display().to_string();
    ostree(&[&srepo_arg, "pull-local", &src, ref_name])?;
    if to.deploy {
        ostree(&[
            "admin",
            "deploy",
            "--sysroot",
            &sr,
            "--os",
            &to.os,
            ref_name,
        ])?;
    }
    Ok(())
}
