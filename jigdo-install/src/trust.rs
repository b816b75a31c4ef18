//! The trust step: whether a jigdo RPM's commit may be installed, decided before any
//! package is fetched and before anything is written to the repository.
//!
//! A chain of links pins the commit, each by digest of the next: the signed
//! `repomd.xml` → the primary metadata's checksum → the jigdo RPM's SHA-256 → the
//! commit (`0-commit` is checked against the jigdo RPM's provide). The jigdo RPM's own
//! OpenPGP signature covers the same chain from its second link, and the commit's
//! signatures in its detached metadata (`1-commitmeta`: `ostree.gpgsigs`,
//! `ostree.sign.ed25519`) cover the commit object itself. So any ONE link that verifies
//! with a configured key authenticates the commit ([`TrustPolicy`]):
//!
//! - a `.repo` section's `gpgcheck=1` *requires* the jigdo RPM's signature (dnf's rule),
//!   `repo_gpgcheck=1` requires the signed `repomd.xml`;
//! - otherwise every link is tried with the keys given (`--gpgkey` and the section's
//!   `gpgkey=` for OpenPGP, `--commit-key` for ed25519) and one must verify;
//! - `--nogpgcheck` accepts a commit nothing verified, with a warning.
//!
//! What verified (link and key) or why nothing did is collected in a [`TrustReport`].

use std::fmt;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, VerifyingKey};
use jigdo_unpack::JigdoRpm;
use serde::Serialize;

use crate::error::TrustFailure;

/// Where a jigdo RPM came from.
#[derive(Debug, Clone)]
pub enum JigdoOrigin {
    /// A file given by path (`jigdo install ./os.rpm`).
    File,
    /// A repository of the run.
    Repository {
        /// Its name (SOURCE or `.repo` section id).
        name: String,
        /// Whether its `.repo` section asks for signed packages (`gpgcheck=1`).
        gpgcheck: bool,
        /// Its `.repo` section's public keys (`gpgkey=`), as local files.
        gpgkeys: Vec<PathBuf>,
        /// Whether its `.repo` section requires a signed `repomd.xml` (`repo_gpgcheck=1`).
        repo_gpgcheck: bool,
        /// The signed `repomd.xml` link: the key that verified `repomd.xml.asc` (and
        /// primary names the RPM by a strong checksum), or why not; `None`: not looked
        /// for.
        repomd: Option<Result<String, String>>,
        /// Weaknesses of the way its metadata came (see [`TrustReport::notes`]).
        notes: Vec<String>,
    },
}

impl JigdoOrigin {
    fn gpgkeys(&self) -> &[PathBuf] {
        match self {
            JigdoOrigin::File => &[],
            JigdoOrigin::Repository { gpgkeys, .. } => gpgkeys,
        }
    }
}

/// A link of the chain of trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Link {
    /// `repomd.xml.asc` over the repository's `repomd.xml`.
    RepomdSignature,
    /// The jigdo RPM's OpenPGP header signature.
    JigdoRpmSignature,
    /// An `ostree.gpgsigs` signature over the commit object.
    CommitGpgSignature,
    /// An `ostree.sign.ed25519` signature over the commit object.
    CommitEd25519Signature,
}

impl Link {
    /// Whether the link is one of the commit's own signatures.
    pub fn is_commit_signature(self) -> bool {
        matches!(
            self,
            Link::CommitGpgSignature | Link::CommitEd25519Signature
        )
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Link::RepomdSignature => "repomd.xml signature",
            Link::JigdoRpmSignature => "jigdo RPM signature",
            Link::CommitGpgSignature => "commit GPG signature",
            Link::CommitEd25519Signature => "commit ed25519 signature",
        })
    }
}

/// A link that verified, and with which key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// The link.
    pub link: Link,
    /// The key: an OpenPGP fingerprint (upper-case hex) or an ed25519 public key
    /// (base64, as in ostree's key files).
    pub key: String,
}

impl fmt::Display for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} by key {}", self.link, self.key)
    }
}

/// What the trust step found (the `trust` member of `jigdo install --json`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TrustReport {
    /// The links that verified, in the order they were checked.
    pub verified: Vec<Verified>,
    /// The links looked for that did not verify, each with why.
    pub not_verified: Vec<String>,
    /// Accepted with nothing verified (`--nogpgcheck`).
    pub nogpgcheck: bool,
    /// Weaknesses of the way the metadata came (e.g. a metalink without hashes).
    pub notes: Vec<String>,
}

impl TrustReport {
    /// The one line to print: what verified with which key, or the warning.
    pub fn line(&self) -> String {
        if !self.verified.is_empty() {
            let v: Vec<String> = self.verified.iter().map(Verified::to_string).collect();
            return format!("verified: {}", v.join(", "));
        }
        let mut parts = self.not_verified.clone();
        parts.extend(self.notes.iter().cloned());
        format!(
            "warning: the commit is not verified{}: {}",
            if self.nogpgcheck {
                " (--nogpgcheck)"
            } else {
                ""
            },
            parts.join("; ")
        )
    }

    /// What verified the commit, as [`TrustReport::line`] says it (`None`: nothing).
    pub fn verified_by(&self) -> Option<String> {
        (!self.verified.is_empty())
            .then(|| self.line().trim_start_matches("verified: ").to_string())
    }

    fn miss(&mut self, link: Link, why: impl fmt::Display) {
        self.not_verified.push(format!("{link}: {why}"));
    }
}

/// The keys and the rule of a run (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    /// OpenPGP public key files (`--gpgkey`), for every source: the jigdo RPM's
    /// signature, the commit's GPG signatures, signed repomd.xml.
    pub gpgkeys: Vec<PathBuf>,
    /// ed25519 public key files (`--commit-key`): base64 32-byte keys, one a line.
    pub commit_keys: Vec<PathBuf>,
    /// Accept a commit nothing verified (`--nogpgcheck`), with a warning.
    pub nogpgcheck: bool,
}

impl TrustPolicy {
    /// Whether any key is configured at all (a `.repo` section's keys aside).
    pub fn has_keys(&self) -> bool {
        !self.gpgkeys.is_empty() || !self.commit_keys.is_empty()
    }

    fn openpgp_keys(&self, origin: &JigdoOrigin) -> Vec<PathBuf> {
        let mut keys = origin.gpgkeys().to_vec();
        keys.extend(self.gpgkeys.iter().cloned());
        keys
    }

    /// The links checked once a jigdo or delta RPM has been downloaded from `origin`, in
    /// order: the signed `repomd.xml` ([`TrustPolicy::check_repomd`]), then the RPM's own
    /// signature ([`TrustPolicy::check_jigdo_rpm`]).
    pub fn check_download(
        &self,
        path: &Path,
        origin: &JigdoOrigin,
        report: &mut TrustReport,
    ) -> Result<(), TrustFailure> {
        self.check_repomd(origin, report)?;
        self.check_jigdo_rpm(path, origin, report)
    }

    /// The signed `repomd.xml` of the repository the RPM came from (repomd → primary's
    /// or the `jigdo` record's checksum → the RPM's SHA-256 → the commit): required by `repo_gpgcheck=1` (a
    /// missing or bad `repomd.xml.asc` refuses), else counted when it verified. The
    /// repository's notes (a metalink without hashes) go into the report.
    pub fn check_repomd(
        &self,
        origin: &JigdoOrigin,
        report: &mut TrustReport,
    ) -> Result<(), TrustFailure> {
        let JigdoOrigin::Repository {
            repo_gpgcheck,
            repomd,
            notes,
            ..
        } = origin
        else {
            return Ok(());
        };
        report.notes.extend(notes.iter().cloned());
        match repomd {
            Some(Ok(key)) => report.verified.push(Verified {
                link: Link::RepomdSignature,
                key: key.clone(),
            }),
            Some(Err(why)) if *repo_gpgcheck => {
                return Err(TrustFailure::Repomd(why.clone()));
            }
            Some(Err(why)) => report.miss(Link::RepomdSignature, why),
            None => report.miss(Link::RepomdSignature, "no OpenPGP key given (--gpgkey)"),
        }
        Ok(())
    }

    /// The jigdo RPM's OpenPGP signature: required by `gpgcheck=1` (a failure refuses),
    /// else tried when keys are given.
    pub fn check_jigdo_rpm(
        &self,
        path: &Path,
        origin: &JigdoOrigin,
        report: &mut TrustReport,
    ) -> Result<(), TrustFailure> {
        self.check_rpm_signature(origin, report, |keys| {
            rpm_package::build::verify_signature(path, keys)
        })
    }

    /// Whether the RPM's own signature must still be looked at for an RPM from `origin`
    /// once `report` holds the links checked so far: required by its `.repo` section
    /// (`gpgcheck=1`), or OpenPGP keys are given and nothing verified yet. `jigdo
    /// install --check` reads a delta RPM's header only then.
    pub fn wants_rpm_signature(&self, origin: &JigdoOrigin, report: &TrustReport) -> bool {
        let required = matches!(origin, JigdoOrigin::Repository { gpgcheck: true, .. });
        required || (report.verified.is_empty() && !self.openpgp_keys(origin).is_empty())
    }

    /// [`TrustPolicy::check_download`] for the start of a jigdo RPM only (`head`: at
    /// least its lead and headers, e.g. what range requests brought; `label` names it):
    /// the signed `repomd.xml`, then the RPM's header signature and header digests
    /// ([`rpm_package::verify_header_signature`]), not its payload digest. The payload
    /// files read from `head` are checked against the header's file digests as they
    /// are read ([`jigdo_unpack::JigdoRpm::read_head`]), so a verified header
    /// authenticates them as the whole RPM's signature does.
    pub fn check_download_head(
        &self,
        head: &[u8],
        label: &Path,
        origin: &JigdoOrigin,
        report: &mut TrustReport,
    ) -> Result<(), TrustFailure> {
        self.check_repomd(origin, report)?;
        self.check_head_signature(head, label, origin, report)
    }

    /// The RPM signature link of [`TrustPolicy::check_download_head`] alone: the header
    /// signature and header digests of `head` (at least the RPM's lead and headers).
    pub fn check_head_signature(
        &self,
        head: &[u8],
        label: &Path,
        origin: &JigdoOrigin,
        report: &mut TrustReport,
    ) -> Result<(), TrustFailure> {
        let label = label.display().to_string();
        self.check_rpm_signature(origin, report, |keys| {
            rpm_package::build::verify_header_signature(head, keys, &label)
        })
    }

    /// The RPM signature link with `verify` (the whole file, or its header only).
    fn check_rpm_signature(
        &self,
        origin: &JigdoOrigin,
        report: &mut TrustReport,
        verify: impl FnOnce(&[PathBuf]) -> rpm_package::Result<String>,
    ) -> Result<(), TrustFailure> {
        let required = matches!(origin, JigdoOrigin::Repository { gpgcheck: true, .. });
        let keys = self.openpgp_keys(origin);
        if keys.is_empty() && !required {
            report.miss(Link::JigdoRpmSignature, "no OpenPGP key given (--gpgkey)");
            return Ok(());
        }
        match verify(&keys) {
            Ok(key) => {
                report.verified.push(Verified {
                    link: Link::JigdoRpmSignature,
                    key,
                });
                Ok(())
            }
            Err(e) if required => Err(TrustFailure::Signature(e)),
            Err(e) => {
                report.miss(Link::JigdoRpmSignature, e);
                Ok(())
            }
        }
    }

    /// The commit's own signatures in its detached metadata: `ostree.gpgsigs` with the
    /// OpenPGP keys, `ostree.sign.ed25519` with the `--commit-key` keys. A key file
    /// that cannot be read refuses; signatures that do not verify are noted.
    pub fn check_commit(
        &self,
        jigdo: &JigdoRpm,
        origin: &JigdoOrigin,
        report: &mut TrustReport,
    ) -> Result<(), TrustFailure> {
        let sigs = CommitSignatures::read(jigdo)?;
        let label = jigdo.path.join("1-commitmeta");
        // GPG.
        let keys = self.openpgp_keys(origin);
        if keys.is_empty() {
            report.miss(Link::CommitGpgSignature, "no OpenPGP key given (--gpgkey)");
        } else if sigs.gpg.is_empty() {
            report.miss(Link::CommitGpgSignature, "the commit has none");
        } else {
            let mut loaded = Vec::new();
            for k in &keys {
                loaded.extend(repodata::signature::load_public_keys(k).map_err(TrustFailure::Key)?);
            }
            let mut last = None;
            for sig in &sigs.gpg {
                match repodata::signature::verify_detached_bytes(
                    &jigdo.commit_bytes,
                    sig,
                    &label,
                    &loaded,
                ) {
                    Ok(key) => {
                        last = None;
                        report.verified.push(Verified {
                            link: Link::CommitGpgSignature,
                            key,
                        });
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            if let Some(e) = last {
                report.miss(Link::CommitGpgSignature, e);
            }
        }
        // ed25519.
        if self.commit_keys.is_empty() {
            report.miss(
                Link::CommitEd25519Signature,
                "no ed25519 key given (--commit-key)",
            );
        } else {
            let mut keys = Vec::new();
            for f in &self.commit_keys {
                keys.extend(read_ed25519_keys(f)?);
            }
            if sigs.ed25519.is_empty() {
                report.miss(Link::CommitEd25519Signature, "the commit has none");
            } else {
                match verify_ed25519(&jigdo.commit_bytes, &sigs.ed25519, &keys) {
                    Some(key) => report.verified.push(Verified {
                        link: Link::CommitEd25519Signature,
                        key,
                    }),
                    None => report.miss(
                        Link::CommitEd25519Signature,
                        format!(
                            "none of its {} signature(s) verifies with the {} given key(s)",
                            sigs.ed25519.len(),
                            keys.len()
                        ),
                    ),
                }
            }
        }
        Ok(())
    }

    /// The decision once every link was looked at: one verified, or `--nogpgcheck`.
    pub fn decide(&self, report: &mut TrustReport) -> Result<(), TrustFailure> {
        if !report.verified.is_empty() {
            return Ok(());
        }
        if self.nogpgcheck {
            report.nogpgcheck = true;
            return Ok(());
        }
        Err(TrustFailure::Unverified {
            looked_for: report.not_verified.join("; "),
        })
    }

    /// `jigdo unpack`'s rule (local files, no deployment): with no key configured, a
    /// commit that nothing verified is accepted and the caller warns; with keys, as
    /// [`TrustPolicy::decide`].
    pub fn decide_local(&self, report: &mut TrustReport) -> Result<(), TrustFailure> {
        if report.verified.is_empty() && !self.has_keys() {
            return Ok(());
        }
        self.decide(report)
    }
}

/// The signatures in a commit's detached metadata, as `ostree gpg-sign` and
/// `ostree sign` write them: `ostree.gpgsigs` and `ostree.sign.ed25519`, both `aay`.
struct CommitSignatures {
    gpg: Vec<Vec<u8>>,
    ed25519: Vec<Vec<u8>>,
}

impl CommitSignatures {
    fn read(jigdo: &JigdoRpm) -> Result<CommitSignatures, TrustFailure> {
        let mut out = CommitSignatures {
            gpg: Vec::new(),
            ed25519: Vec::new(),
        };
        let Some(meta) = &jigdo.commitmeta else {
            return Ok(out);
        };
        let bad = |reason: String| TrustFailure::BadCommitMeta {
            path: jigdo.path.clone(),
            reason,
        };
        let entries = ostree_store::parse_metadata(meta).map_err(|e| bad(e.to_string()))?;
        for e in entries {
            let dest = match e.key.as_str() {
                "ostree.gpgsigs" => &mut out.gpg,
                "ostree.sign.ed25519" => &mut out.ed25519,
                _ => continue,
            };
            if e.type_str != "aay" {
                return Err(bad(format!("{} has type {}, not aay", e.key, e.type_str)));
            }
            let items = ostree_store::gvariant::read_array(&e.value, ostree_store::gvariant::VAR1)
                .map_err(|err| bad(format!("{}: {err}", e.key)))?;
            dest.extend(items.into_iter().map(<[u8]>::to_vec));
        }
        Ok(out)
    }
}

/// Reads an ostree ed25519 public key file: one base64-encoded 32-byte key a line
/// (blank lines and `#` comments skipped). A bad line is reported as `FILE:LINE`.
pub fn read_ed25519_keys(path: &Path) -> Result<Vec<(String, VerifyingKey)>, TrustFailure> {
    use base64::Engine as _;
    let text = std::fs::read_to_string(path).map_err(|source| TrustFailure::KeyFile {
        path: path.to_path_buf(),
        source,
    })?;
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |reason: &str| TrustFailure::BadCommitKey {
            path: path.to_path_buf(),
            line: i + 1,
            reason: reason.to_string(),
        };
        let raw = base64::engine::general_purpose::STANDARD
            .decode(line)
            .map_err(|_| bad("not base64"))?;
        let raw: [u8; 32] = raw
            .try_into()
            .map_err(|_| bad("not a 32-byte ed25519 public key"))?;
        let key = VerifyingKey::from_bytes(&raw).map_err(|_| bad("not an ed25519 public key"))?;
        keys.push((line.to_string(), key));
    }
    if keys.is_empty() {
        return Err(TrustFailure::BadCommitKey {
            path: path.to_path_buf(),
            line: 0,
            reason: "no key in the file".into(),
        });
    }
    Ok(keys)
}

/// The first key (base64) of `keys` that verifies one of `sigs` (64-byte ed25519
/// signatures) over `data`, as ostree's ed25519 verifier does (strict verification).
fn verify_ed25519(
    data: &[u8],
    sigs: &[Vec<u8>],
    keys: &[(String, VerifyingKey)],
) -> Option<String> {
    for sig in sigs {
        let Ok(sig) = Signature::from_slice(sig) else {
            continue;
        };
        for (name, key) in keys {
            if key.verify_strict(data, &sig).is_ok() {
                return Some(name.clone());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jigdo_rpm_signature_is_required_by_gpgcheck_only() {
        let unsigned = Path::new("/nonexistent/unsigned.rpm");
        let repo = |gpgcheck| JigdoOrigin::Repository {
            name: "r".into(),
            gpgcheck,
            gpgkeys: Vec::new(),
            repo_gpgcheck: false,
            repomd: None,
            notes: Vec::new(),
        };
        let none = TrustPolicy::default();
        let mut r = TrustReport::default();
        assert!(none
            .check_jigdo_rpm(unsigned, &JigdoOrigin::File, &mut r)
            .is_ok());
        assert!(none.check_jigdo_rpm(unsigned, &repo(false), &mut r).is_ok());
        assert!(none.check_jigdo_rpm(unsigned, &repo(true), &mut r).is_err());
        assert!(r.verified.is_empty());
        assert_eq!(r.not_verified.len(), 2, "{r:?}");
        // Nothing verified: refused unless --nogpgcheck, which is then reported.
        assert!(none.decide(&mut r).is_err());
        let lax = TrustPolicy {
            nogpgcheck: true,
            ..TrustPolicy::default()
        };
        assert!(lax.decide(&mut r).is_ok());
        assert!(r.nogpgcheck);
        assert!(r.line().starts_with("warning: "), "{}", r.line());
    }

    #[test]
    fn ed25519_key_files_report_the_bad_line() {
        let dir = tempfile::tempdir().expect("tmp");
        let f = dir.path().join("keys");
        // RFC 8032 test 1's public key.
        let good = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
        std::fs::write(&f, format!("# keys\n{good}\n\nAAAA\n")).expect("write");
        match read_ed25519_keys(&f) {
            Err(TrustFailure::BadCommitKey { line, .. }) => assert_eq!(line, 4),
            other => panic!("{other:?}"),
        }
        std::fs::write(&f, format!("{good}\n")).expect("write");
        let keys = read_ed25519_keys(&f).expect("keys");
        assert_eq!(keys.len(), 1);
        // RFC 8032 test 1: the empty message.
        let sig = hex_bytes(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        );
        assert_eq!(
            verify_ed25519(b"", std::slice::from_ref(&sig), &keys),
            Some(good.to_string())
        );
        assert_eq!(verify_ed25519(b"x", &[sig], &keys), None);
    }

    fn hex_bytes(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }
}
