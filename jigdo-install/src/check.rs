//! `jigdo install --check`: whether the sources have a jigdo RPM whose commit the ref
//! does not point at yet, its version and what an update would download. Contacts the
//! sources as `install` does (`repomd.xml` and the `jigdo` record where there is one) and
//! writes nothing into the repository.
//!
//! When nothing is new, only `repomd.xml` and the `jigdo` record are downloaded, and with
//! the sources' kept state of the repository (as the install keeps it,
//! `REPO/extensions/jigdo/sources/`, [`crate::sources::Repos::keep_state`]) one 304 per
//! source: the check keeps what it read there too, and nothing else.
//!
//! When something is, only the start of the new jigdo RPM is read (`read_head`): its
//! lead and headers, then the payload up to the end of `2-index` (specs/jigdo-format.md
//! §2: `0-commit`, `1-commitmeta`, `2-index` come first), with HTTP range requests
//! (a server that ignores them is read only that far), or in place from a `file://` or
//! directory source. That start goes through the install's trust step with the RPM's
//! *header* signature instead of the whole file's
//! ([`TrustPolicy::check_download_head`]); each payload file read is checked against
//! the header's file digests, so a verified header authenticates the index as the whole
//! RPM's signature does. Then the pins and the repository decide which packages an
//! update would fetch. The whole jigdo RPM is downloaded instead (into a temporary
//! directory, or the download cache, `--cache`, where the install finds it again) and
//! put through the install's own trust step (`open_trusted`), saying why in a debug
//! event, when the download cache already holds it, when the start is not enough
//! (anything wrong with it: a bad digest, a refusal), when what it says differs from
//! the repository's metadata, and when the signed `repomd.xml` would be the only link
//! covering the index (it pins the whole file's SHA-256, which a part cannot be
//! checked against). An update the install would refuse is an error here too.

use std::sync::Arc;

use std::path::Path;

use jigdo_unpack::{Decided, JigdoRpm, Target, UnpackError, UnpackJob};
use serde::Serialize;

use crate::error::InstallError;
use crate::event::{EventSink, FetchEvents};
use crate::install::{find_delta, kept_dir, open_trusted, ref_commit, InstallOptions};
use crate::sources::{Found, Repos};
use crate::trust::{JigdoOrigin, Link, TrustPolicy, TrustReport};

/// The first range asked of a jigdo RPM: its lead and headers (a jigdo RPM's header
/// holds one `Requires:` per pinned package) and, usually, the start of its payload.
const FIRST_RANGE: u64 = 64 << 10;
/// The most of a jigdo RPM's start the check reads (held in memory); a jigdo RPM
/// whose index ends later is downloaded whole.
const MAX_HEAD: u64 = 32 << 20;

/// What `jigdo install --check` found (its `--json` document).
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Whether the newest matching jigdo RPM carries another commit than the ref's.
    pub update_available: bool,
    /// The ref checked (`--ref`, else the jigdo RPM's name).
    #[serde(rename = "ref")]
    pub ref_name: String,
    /// The commit the ref points at now (`None`: no such ref, or no repository).
    pub current_commit: Option<String>,
    /// The newest matching jigdo RPM's NEVRA.
    pub jigdo_rpm: String,
    /// Its version (the commit's version).
    pub version: String,
    /// Its commit.
    pub commit: String,
    /// The source that has it.
    pub source: String,
    /// How the install would update: `"delta"` (a delta RPM from a commit the repository
    /// holds), `"jigdo"` (the jigdo RPM and the packages), or `"none"`.
    pub path: &'static str,
    /// The delta RPM the install would take, if any.
    pub delta_rpm: Option<String>,
    /// Its size.
    pub delta_bytes: u64,
    /// Bytes an update would download: the delta RPM on the delta path, else the jigdo
    /// RPM and the pinned packages the repository does not already hold, less what the
    /// download cache (`--cache`) already holds verified, as the install takes it from
    /// there (0 when no update is available).
    pub update_bytes: u64,
    /// Of the files an update needs, the bytes the download cache already holds (0
    /// without `--cache`).
    pub cached_bytes: u64,
    /// Of those, the jigdo RPM's size.
    pub jigdo_rpm_bytes: u64,
    /// Pinned packages an update would download.
    pub packages_needed: usize,
    /// Their total size.
    pub packages_bytes: u64,
    /// Bytes this check received over the network.
    pub bytes_downloaded: u64,
    /// What authenticated the update's commit (empty when no update is available).
    pub trust: TrustReport,
}

/// Runs `jigdo install --check` for `opts` (its deployment is ignored), reporting
/// events (unreachable sources) to `events`.
pub fn check(opts: &InstallOptions, events: EventSink) -> Result<CheckReport, InstallError> {
    if opts.sources.is_empty() {
        return Err(InstallError::NoSources);
    }
    let io = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| InstallError::Io { path, source }
    };
    let tmp = std::env::temp_dir();
    let work = tempfile::Builder::new()
        .prefix(".jigdo-check-")
        .tempdir_in(&tmp)
        .map_err(io(&tmp))?;
    let fetch_events = Arc::new(FetchEvents::new(events.clone()));
    let downloader = opts
        .backend
        .downloader(opts.fetch.clone(), Some(fetch_events))?;
    let md_dir = work.path().join("metadata");
    // The kept repomd.xml of an existing repository's sources, as the install uses them.
    let kept = opts
        .repo
        .join("config")
        .exists()
        .then(|| kept_dir(&opts.repo));
    let repos = Repos::open(
        downloader,
        &opts.sources,
        &md_dir,
        kept.as_deref(),
        &opts.trust,
        &events,
    )?;
    let found = repos.find_jigdo(&opts.target)?;
    let commit = found.commit().ok_or_else(|| InstallError::NoJigdo {
        spec: opts.target.clone(),
        sources: repos.names(),
    })?;
    let ref_name = opts
        .ref_name
        .clone()
        .unwrap_or_else(|| found.entry.name.clone());
    let current_commit = ref_commit(&opts.repo, &ref_name);
    let update_available = current_commit.as_deref() != Some(commit.as_str());
    let mut report = CheckReport {
        update_available,
        ref_name: ref_name.clone(),
        current_commit,
        jigdo_rpm: found.entry.nevra(),
        version: found.entry.evr.version.clone(),
        commit,
        source: repos.list[found.repo].name.clone(),
        path: "none",
        delta_rpm: None,
        delta_bytes: 0,
        update_bytes: 0,
        cached_bytes: 0,
        jigdo_rpm_bytes: 0,
        packages_needed: 0,
        packages_bytes: 0,
        bytes_downloaded: 0,
        trust: TrustReport::default(),
    };
    if update_available {
        // The pins are in the jigdo RPM: read it (outside the repository) and let the
        // repository decide what it still needs, as the install will. What the download
        // cache holds is not downloaded by the install (probed before this check puts the
        // jigdo RPM there).
        let scratch = work.path().join("cache-probe");
        let jigdo_cached = repos.entry_in_cache(&found, &scratch);
        let origin = repos.origin(&found);
        let what = format!("{} from {}", report.jigdo_rpm, report.source);
        let target = Target {
            repo: opts.repo.clone(),
            mode: opts.mode,
            ref_name: Some(ref_name),
        };
        let head = if jigdo_cached {
            tracing::debug!(jigdo_rpm = %report.jigdo_rpm, "check: the download cache holds the jigdo RPM: reading it whole");
            None
        } else {
            match read_head(&opts.trust, &repos, &found, &origin, &target, work.path()) {
                Ok(h) => Some((h.decided.into_jigdo(), h.needed, h.trust)),
                Err(why) => {
                    tracing::debug!(jigdo_rpm = %report.jigdo_rpm, reason = %why, "check: downloading the whole jigdo RPM instead of its start");
                    None
                }
            }
        };
        let (jigdo, needed, trust) = match head {
            Some(h) => h,
            None => {
                let path = repos.fetch_entry(&found, &work.path().join("jigdo"))?;
                let (job, trust) = open_trusted(&opts.trust, &path, &origin, target, &what, None)?;
                let needed = job.needed().to_vec();
                (job.jigdo().clone(), needed, trust)
            }
        };
        report.trust = trust;
        let pins = &jigdo.index.packages;
        report.jigdo_rpm_bytes = found.entry.size;
        report.packages_needed = needed.len();
        report.packages_bytes = needed
            .iter()
            .filter_map(|&p| pins.get(p))
            .map(|p| p.size)
            .sum();
        let cached_pins: u64 = needed
            .iter()
            .filter_map(|&p| pins.get(p))
            .filter(|p| repos.pin_in_cache(p, &scratch))
            .map(|p| p.size)
            .sum();
        report.cached_bytes = cached_pins + if jigdo_cached { found.entry.size } else { 0 };
        report.update_bytes =
            (report.jigdo_rpm_bytes + report.packages_bytes).saturating_sub(report.cached_bytes);
        report.path = "jigdo";
        // The install takes a delta RPM when the repository holds its base (and falls
        // back to the figures above if it cannot use it).
        if let Some(delta) = ostree_store::Repo::open(&opts.repo)
            .ok()
            .and_then(|r| find_delta(&repos, &found, &r))
        {
            report.path = "delta";
            report.delta_rpm = Some(delta.entry.nevra());
            report.delta_bytes = delta.entry.size;
            report.cached_bytes = if repos.entry_in_cache(&delta, &scratch) {
                delta.entry.size
            } else {
                0
            };
            report.update_bytes = delta.entry.size.saturating_sub(report.cached_bytes);
        }
    }
    report.bytes_downloaded = repos.bytes_downloaded();
    if let Some(k) = &kept {
        repos.keep_state(k);
    }
    Ok(report)
}

/// Reads the start of the jigdo RPM `found` (lead, headers, and the payload up to the
/// end of its index), puts it through the trust step with its header signature
/// ([`TrustPolicy::check_download_head`], then the commit's signatures and the
/// decision) and decides what the repository of `target` still needs: the jigdo RPM's
/// metadata, the packages needed (indexes into its pins), what verified it and the
/// bytes read. `dir`
/// names the file in messages. `Err` says why the whole jigdo RPM must be read instead.
pub(crate) fn read_head(
    policy: &TrustPolicy,
    repos: &Repos,
    found: &Found,
    origin: &JigdoOrigin,
    target: &Target,
    dir: &Path,
) -> Result<Head, String> {
    let size = found.entry.size;
    let label = dir.join(found.entry.file_name());
    let mut head: Vec<u8> = Vec::new();
    let mut want = FIRST_RANGE.min(size);
    let mut header_read = false;
    let mut trust = TrustReport::default();
    let jigdo = loop {
        if want > MAX_HEAD {
            return Err(format!("its index ends after the first {MAX_HEAD} bytes"));
        }
        let have = head.len() as u64;
        if want > have {
            let more = repos
                .fetch_entry_range(found, have, want - have)
                .map_err(|e| e.to_string())?;
            if more.is_empty() {
                return Err(format!("it ends after {have} bytes, not {size}"));
            }
            head.extend_from_slice(&more);
        }
        let have = head.len() as u64;
        let complete = have >= size;
        // Grows the start read by half (at least a range's worth), up to the whole file.
        let grow = |have: u64| size.min(have + (have / 2).max(FIRST_RANGE));
        if !header_read {
            match rpm_package::PackageHeader::read(&mut &head[..], &label.display().to_string()) {
                Ok(h) => {
                    header_read = true;
                    // The header is authenticated before anything of the payload is read.
                    policy
                        .check_download_head(&head, &label, origin, &mut trust)
                        .map_err(|e| format!("untrusted: {e}"))?;
                    // What the payload's head needs at most: the header's sizes of its
                    // files (zstd expands nothing by more than a little), each with its
                    // cpio header and name; a little more than that is asked at once.
                    let files: u64 = h
                        .files
                        .iter()
                        .filter(|f| {
                            f.path.ends_with("/0-commit")
                                || f.path.ends_with("/1-commitmeta")
                                || f.path.ends_with("/2-index")
                        })
                        .map(|f| f.size.saturating_add(f.path.len() as u64 + 120))
                        .fold(0u64, u64::saturating_add);
                    let estimate = h
                        .payload_offset()
                        .saturating_add(files.saturating_add(files / 64))
                        .saturating_add(4096);
                    want = want.max(estimate).min(size);
                    continue;
                }
                // Only a header cut short asks for more; a bad one is an answer.
                Err(e) if !complete && matches!(e.kind, rpm_package::ErrorKind::Truncated(_)) => {
                    want = grow(have);
                    continue;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        let mut r = EndFlag {
            data: &head,
            pos: 0,
            hit_end: false,
        };
        match JigdoRpm::read_head(&mut r, &label, size) {
            Ok(j) => break j,
            Err(e) if r.hit_end && !complete && !is_digest_mismatch(&e) => {
                tracing::debug!(bytes = have, error = %e, "check: the jigdo RPM's start read so far is not enough");
                want = grow(have);
            }
            Err(e) => return Err(format!("its start is rejected: {e}")),
        }
    };
    tracing::debug!(
        bytes = head.len(),
        of = size,
        "check: read the jigdo RPM's start"
    );
    // What it says must be what the repository's metadata says of it.
    if jigdo.nevra() != found.entry.nevra() || Some(jigdo.commit.to_hex()) != found.commit() {
        return Err(format!(
            "it is {} of commit {}, not what the repository's metadata says",
            jigdo.nevra(),
            jigdo.commit
        ));
    }
    policy
        .check_commit(&jigdo, origin, &mut trust)
        .map_err(|e| format!("untrusted: {e}"))?;
    policy
        .decide(&mut trust)
        .map_err(|e| format!("untrusted: {e}"))?;
    let has = |l: Link| trust.verified.iter().any(|v| v.link == l);
    if has(Link::RepomdSignature) && !has(Link::JigdoRpmSignature) {
        return Err(
            "the signed repomd.xml authenticates the whole file's SHA-256 only, and no \
             header signature verified: the index read from the start is not covered"
                .into(),
        );
    }
    let decided = UnpackJob::decide(jigdo, target).map_err(|e| e.to_string())?;
    Ok(Head {
        needed: decided.needed().to_vec(),
        decided,
        trust,
        bytes: head,
    })
}

/// What [`read_head`] read of a jigdo RPM, checked.
pub(crate) struct Head {
    /// The packages the repository still needs (indexes into its pins).
    pub(crate) needed: Vec<usize>,
    /// Its metadata (up to the index, [`Decided::jigdo`]) with the plan and the decision
    /// behind `needed` (holding the repository's shared lock), for the install's
    /// [`UnpackJob::open_decided`].
    pub(crate) decided: Decided,
    /// What verified it.
    pub(crate) trust: TrustReport,
    /// The bytes read: the start of the file.
    pub(crate) bytes: Vec<u8>,
}

/// Whether `e` is a payload file whose content does not match the header's digest (not
/// a start read too short).
fn is_digest_mismatch(e: &UnpackError) -> bool {
    matches!(e, UnpackError::Rpm(r) if matches!(r.kind, rpm_package::ErrorKind::DigestMismatch { .. }))
}

/// A reader of `data` that remembers whether it was read to its end.
struct EndFlag<'a> {
    data: &'a [u8],
    pos: usize,
    hit_end: bool,
}

impl std::io::Read for EndFlag<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        if rest.is_empty() && !buf.is_empty() {
            self.hit_end = true;
        }
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}
