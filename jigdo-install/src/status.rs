//! `jigdo status`: what a repository holds (each ref's commit and the install record of
//! it) and, with a sysroot, what is deployed there, read from `ostree admin status`
//! (the real tool decides what is booted, staged, pending or rollback).

use std::path::{Path, PathBuf};

use jigdo_unpack::InstallRecord;
use ostree_store::{Checksum, Repo};
use serde::Serialize;

use crate::deploy::ostree_output;
use crate::error::InstallError;

/// What jigdo knows about one commit: from its install record, else from the commit
/// object alone.
#[derive(Debug, Clone, Serialize)]
pub struct CommitStatus {
    /// The commit checksum.
    pub commit: String,
    /// The commit's `version` metadata.
    pub version: Option<String>,
    /// The commit's timestamp (seconds since the epoch, UTC), if known.
    pub timestamp: Option<u64>,
    /// The jigdo RPM it came from (NEVRA); `None` when jigdo did not install it.
    pub jigdo_rpm: Option<String>,
    /// Packages in its pinned set.
    pub packages: Option<usize>,
    /// Where the jigdo RPM came from.
    pub source: Option<String>,
    /// Whether the jigdo RPM was authenticated.
    pub verified: bool,
    /// What authenticated it (e.g. the signing key).
    pub verified_by: Option<String>,
}

/// One ref of the repository.
#[derive(Debug, Clone, Serialize)]
pub struct RefStatus {
    /// The ref (`NAME` or `REMOTE:NAME`).
    #[serde(rename = "ref")]
    pub ref_name: String,
    /// Its commit.
    #[serde(flatten)]
    pub commit: CommitStatus,
}

/// One deployment of the sysroot, in boot order (the first is booted next).
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentStatus {
    /// The OS name (stateroot).
    pub os: String,
    /// The deployment serial (`CHECKSUM.SERIAL`).
    pub serial: u32,
    /// The origin refspec.
    pub origin: Option<String>,
    /// The running system.
    pub booted: bool,
    /// Staged: written at shutdown, booted next.
    pub staged: bool,
    /// Pending: the next boot's, newer than the booted one.
    pub pending: bool,
    /// The one before the booted deployment.
    pub rollback: bool,
    /// Its commit.
    #[serde(flatten)]
    pub commit: CommitStatus,
}

/// What `jigdo status` reports.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// The repository.
    pub repo: PathBuf,
    /// Its refs, sorted.
    pub refs: Vec<RefStatus>,
    /// The sysroot, if given.
    pub sysroot: Option<PathBuf>,
    /// Its deployments in boot order (empty without a sysroot).
    pub deployments: Vec<DeploymentStatus>,
}

/// Reports the refs of the repository at `repo` and, with `sysroot`, its deployments.
pub fn status(repo: &Path, sysroot: Option<&Path>) -> Result<StatusReport, InstallError> {
    let store_err = |path: &Path| {
        let path = path.to_path_buf();
        move |error| InstallError::Repo { path, error }
    };
    let store = Repo::open(repo).map_err(store_err(repo))?;
    let mut refs = Vec::new();
    for r in store.list_refs().map_err(store_err(repo))? {
        refs.push(RefStatus {
            ref_name: r.display_name(),
            commit: commit_status(repo, Some(&store), &r.checksum.to_hex())?,
        });
    }
    let mut deployments = Vec::new();
    if let Some(sysroot) = sysroot {
        let srepo_path = sysroot.join("ostree/repo");
        let srepo = Repo::open(&srepo_path).map_err(store_err(&srepo_path))?;
        let sr = sysroot.display().to_string();
        let text = ostree_output(&["admin", "status", "--sysroot", &sr])?;
        for d in parse_admin_status(&text) {
            let mut commit = commit_status(repo, Some(&srepo), &d.checksum)?;
            if commit.version.is_none() {
                commit.version = d.version.clone();
            }
            deployments.push(DeploymentStatus {
                os: d.os,
                serial: d.serial,
                origin: d.origin,
                booted: d.booted,
                staged: d.marks.iter().any(|m| m == "staged"),
                pending: d.marks.iter().any(|m| m == "pending"),
                rollback: d.marks.iter().any(|m| m == "rollback"),
                commit,
            });
        }
    }
    Ok(StatusReport {
        repo: repo.to_path_buf(),
        refs,
        sysroot: sysroot.map(Path::to_path_buf),
        deployments,
    })
}

/// What is known of `commit`: the install record in `repo`, else the commit object in
/// `store`.
fn commit_status(
    repo: &Path,
    store: Option<&Repo>,
    commit: &str,
) -> Result<CommitStatus, InstallError> {
    if let Some(r) = InstallRecord::load(repo, commit)? {
        return Ok(CommitStatus {
            commit: r.commit,
            version: r.version,
            timestamp: Some(r.timestamp),
            jigdo_rpm: Some(r.jigdo_rpm),
            packages: Some(r.packages.len()),
            source: Some(r.source),
            verified: r.verified_by.is_some(),
            verified_by: r.verified_by,
        });
    }
    let object = store
        .zip(commit.parse::<Checksum>().ok())
        .and_then(|(s, c)| s.read_commit(&c).ok());
    Ok(CommitStatus {
        commit: commit.to_string(),
        version: object.as_ref().and_then(|c| c.version()),
        timestamp: object.as_ref().map(|c| c.timestamp),
        jigdo_rpm: None,
        packages: None,
        source: None,
        verified: false,
        verified_by: None,
    })
}

/// One deployment as `ostree admin status` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AdminDeployment {
    os: String,
    checksum: String,
    serial: u32,
    booted: bool,
    /// `staged`, `pending`, `rollback`, … (the words in parentheses after it).
    marks: Vec<String>,
    version: Option<String>,
    origin: Option<String>,
}

/// Parses `ostree admin status`: per deployment a line `[* ]OS CHECKSUM.SERIAL
/// [(mark)…]`, then indented `Version: V` and `origin refspec: R` lines.
fn parse_admin_status(text: &str) -> Vec<AdminDeployment> {
    let mut out: Vec<AdminDeployment> = Vec::new();
    for line in text.lines() {
        let booted = line.starts_with("* ");
        let head = line.strip_prefix("* ").or_else(|| line.strip_prefix("  "));
        let entry = head.filter(|h| !h.starts_with(' ')).and_then(|h| {
            let mut words = h.split_whitespace();
            let os = words.next()?;
            let (checksum, serial) = words.next()?.split_once('.')?;
            if checksum.len() != 64 || !checksum.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            Some(AdminDeployment {
                os: os.to_string(),
                checksum: checksum.to_string(),
                serial: serial.parse().ok()?,
                booted,
                marks: words
                    .map(|w| w.trim_matches(|c| c == '(' || c == ')').to_string())
                    .collect(),
                version: None,
                origin: None,
            })
        });
        if let Some(e) = entry {
            out.push(e);
            continue;
        }
        let Some(last) = out.last_mut() else { continue };
        let field = line.trim();
        if let Some(v) = field.strip_prefix("Version: ") {
            last.version = Some(v.to_string());
        } else if let Some(r) = field.strip_prefix("origin refspec: ") {
            last.origin = Some(r.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_status_lines_are_parsed_with_their_marks() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let text = format!(
            "  os {a}.0 (staged)\n    Version: 2.0\n    origin refspec: os/x\n\
             * os {b}.1\n    Version: 1.0\n    origin refspec: os/x\n    GPG: Signature made\n"
        );
        let d = parse_admin_status(&text);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].checksum, a);
        assert_eq!(d[0].marks, ["staged"]);
        assert!(!d[0].booted);
        assert_eq!(d[0].version.as_deref(), Some("2.0"));
        assert_eq!(d[1].serial, 1);
        assert!(d[1].booted);
        assert_eq!(d[1].origin.as_deref(), Some("os/x"));
        assert!(parse_admin_status("No deployments.\n").is_empty());
    }
}
