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
//! When something is and the repository holds the base commit of a delta RPM to it,
//! the install would take that delta RPM (its size is the bytes to download): the check
//! decides so from the metadata, as the install's trust step would decide (`delta_trust`):
//! the signed `repomd.xml` (whose `jigdo` record or primary pins the delta's SHA-256), or
//! `--nogpgcheck`, read nothing more; when the RPM's signature is required
//! (`gpgcheck=1`) or keys are given and nothing verified yet, the delta RPM's lead and
//! headers (one range request of a few KB) give its header signature. The jigdo RPM is
//! then not read at all. Only when nothing of that verified and the commit's own
//! signatures must decide are they read from the jigdo RPM's start (the same commit's),
//! and a delta the install would refuse (it then takes the jigdo RPM path) is counted as
//! that path.
//!
//! Otherwise only the start of the new jigdo RPM is read (`read_head`): its
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
/// The first range asked of a delta RPM: its lead and headers (a delta RPM pins
/// nothing: a few KB, the signature included).
const DELTA_FIRST_RANGE: u64 = 8 << 10;
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
    /// holds, which passes the trust step), `"jigdo"` (the jigdo RPM and the packages),
    /// or `"none"` (no update).
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
    /// On the jigdo RPM path, the jigdo RPM's size (0 on the delta path: the install
    /// does not download it, and the check does not read it).
    pub jigdo_rpm_bytes: u64,
    /// On the jigdo RPM path, the pinned packages an update would download (0 on the
    /// delta path).
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
        let scratch = work.path().join("cache-probe");
        // The install takes a delta RPM when the repository holds its base and the
        // delta passes the trust step (else it falls back to the jigdo RPM path): that
        // is decided first, from the metadata and at most the delta RPM's header, so
        // that the jigdo RPM is not read at all on the delta path.
        let delta = ostree_store::Repo::open(&opts.repo)
            .ok()
            .and_then(|r| find_delta(&repos, &found, &r));
        let mut delta_needs_commit = false;
        if let Some(d) = &delta {
            match delta_trust(&opts.trust, &repos, d, &found, work.path()) {
                DeltaTrust::Trusted(trust) => {
                    take_delta(&mut report, &repos, d, &scratch, trust);
                }
                DeltaTrust::NeedsCommit => delta_needs_commit = true,
                DeltaTrust::Refused(why) => {
                    tracing::debug!(delta_rpm = %d.entry.nevra(), reason = %why, "check: the install would not take the delta RPM: counting the jigdo RPM path");
                }
            }
        }
        if report.path != "delta" {
            let trust = jigdo_path(
                opts,
                &repos,
                &found,
                &ref_name,
                &scratch,
                work.path(),
                &mut report,
            )?;
            match &delta {
                // The commit's own signatures (read from the jigdo RPM's start) are
                // the delta's target's: the install takes the delta with them.
                Some(d)
                    if delta_needs_commit
                        && trust.verified.iter().any(|v| v.link.is_commit_signature()) =>
                {
                    take_delta(&mut report, &repos, d, &scratch, trust);
                }
                _ => report.trust = trust,
            }
        }
    }
    report.bytes_downloaded = repos.bytes_downloaded();
    if let Some(k) = &kept {
        repos.keep_state(k);
    }
    Ok(report)
}

/// The jigdo RPM path's figures of `report`: the pins are in the jigdo RPM; its start is
/// read (outside the repository, [`read_head`]), or the whole file when that is not
/// enough, and the repository decides what it still needs, as the install will. What
/// the download cache holds is not downloaded by the install (probed into `scratch`
/// before this check puts the jigdo RPM there). Returns what verified the commit.
fn jigdo_path(
    opts: &InstallOptions,
    repos: &Repos,
    found: &Found,
    ref_name: &str,
    scratch: &Path,
    work: &Path,
    report: &mut CheckReport,
) -> Result<TrustReport, InstallError> {
    let jigdo_cached = repos.entry_in_cache(found, scratch);
    let origin = repos.origin(found);
    let what = format!("{} from {}", report.jigdo_rpm, report.source);
    let target = Target {
        repo: opts.repo.clone(),
        mode: opts.mode,
        ref_name: Some(ref_name.to_string()),
    };
    let head = if jigdo_cached {
        tracing::debug!(jigdo_rpm = %report.jigdo_rpm, "check: the download cache holds the jigdo RPM: reading it whole");
        None
    } else {
        match read_head(&opts.trust, repos, found, &origin, &target, work) {
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
            let path = repos.fetch_entry(found, &work.join("jigdo"))?;
            let (job, trust) = open_trusted(&opts.trust, &path, &origin, target, &what, None)?;
            let needed = job.needed().to_vec();
            (job.jigdo().clone(), needed, trust)
        }
    };
    let pins = &jigdo.index.packages;
    report.path = "jigdo";
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
        .filter(|p| repos.pin_in_cache(p, scratch))
        .map(|p| p.size)
        .sum();
    report.cached_bytes = cached_pins + if jigdo_cached { found.entry.size } else { 0 };
    report.update_bytes =
        (report.jigdo_rpm_bytes + report.packages_bytes).saturating_sub(report.cached_bytes);
    Ok(trust)
}

/// Sets `report` to the delta path with `delta` (verified by `trust`): its size is what
/// an update downloads, less what the download cache holds (probed into `scratch`);
/// the jigdo RPM path's figures are zero.
fn take_delta(
    report: &mut CheckReport,
    repos: &Repos,
    delta: &Found,
    scratch: &Path,
    trust: TrustReport,
) {
    report.path = "delta";
    report.delta_rpm = Some(delta.entry.nevra());
    report.delta_bytes = delta.entry.size;
    report.jigdo_rpm_bytes = 0;
    report.packages_needed = 0;
    report.packages_bytes = 0;
    report.cached_bytes = if repos.entry_in_cache(delta, scratch) {
        delta.entry.size
    } else {
        0
    };
    report.update_bytes = delta.entry.size.saturating_sub(report.cached_bytes);
    report.trust = trust;
}

/// Whether the install would take the delta RPM, as far as `--check` can tell without
/// downloading it.
enum DeltaTrust {
    /// Yes: a link verified (the signed `repomd.xml`, the delta RPM's header signature)
    /// or `--nogpgcheck` accepts it.
    Trusted(TrustReport),
    /// Nothing verified so far; the commit's own signatures may (the install reads them
    /// from the delta RPM; the check from the jigdo RPM's start, the same commit's).
    NeedsCommit,
    /// No: the install would fall back to the jigdo RPM path (why).
    Refused(String),
}

/// The trust step of the delta RPM `delta` (to the commit of `found`) as the install
/// runs it ([`TrustPolicy::check_download`], then the commit's signatures), from what
/// is known without downloading it: the signed `repomd.xml` of its repository (whose
/// `jigdo` record or primary names its SHA-256), then, only when the RPM's signature
/// is required (`gpgcheck=1`) or keys are given and nothing verified yet, its lead and
/// headers (one range request of a few KB, [`read_header`]) for the header signature
/// ([`TrustPolicy::check_head_signature`]) and its `Provides:` of the target commit.
/// `dir` names the file in messages.
fn delta_trust(
    policy: &TrustPolicy,
    repos: &Repos,
    delta: &Found,
    found: &Found,
    dir: &Path,
) -> DeltaTrust {
    let origin = repos.origin(delta);
    let mut trust = TrustReport::default();
    if let Err(e) = policy.check_repomd(&origin, &mut trust) {
        return DeltaTrust::Refused(format!("untrusted: {e}"));
    }
    if policy.wants_rpm_signature(&origin, &trust) {
        let label = dir.join(delta.entry.file_name());
        let (head, header) = match read_header(repos, delta, &label, DELTA_FIRST_RANGE) {
            Ok(h) => h,
            Err(e) => return DeltaTrust::Refused(format!("its header cannot be read: {e}")),
        };
        if let Err(e) = policy.check_head_signature(&head, &label, &origin, &mut trust) {
            return DeltaTrust::Refused(format!("untrusted: {e}"));
        }
        let target = found
            .commit()
            .map(|c| jigdo_format::delta::delta_target_provide(&c));
        if !header
            .provides
            .iter()
            .any(|p| Some(&p.name) == target.as_ref())
        {
            return DeltaTrust::Refused(
                "its header does not provide the target commit the metadata names".into(),
            );
        }
    }
    if trust.verified.is_empty() && !policy.nogpgcheck {
        return DeltaTrust::NeedsCommit;
    }
    match policy.decide(&mut trust) {
        Ok(()) => DeltaTrust::Trusted(trust),
        Err(e) => DeltaTrust::Refused(format!("untrusted: {e}")),
    }
}

/// Reads the start of the jigdo RPM `found` and puts it through the trust step
/// ([`read_trusted_start`]), then decides what the repository of `target` still needs:
/// the jigdo RPM's metadata, the packages needed (indexes into its pins), what verified
/// it and the bytes read. `dir` names the file in messages. `Err` says why the whole
/// jigdo RPM must be read instead.
pub(crate) fn read_head(
    policy: &TrustPolicy,
    repos: &Repos,
    found: &Found,
    origin: &JigdoOrigin,
    target: &Target,
    dir: &Path,
) -> Result<Head, String> {
    let (jigdo, trust, head) = read_trusted_start(policy, repos, found, origin, dir)?;
    let decided = UnpackJob::decide(jigdo, target).map_err(|e| e.to_string())?;
    Ok(Head {
        needed: decided.needed().to_vec(),
        decided,
        trust,
        bytes: head,
    })
}

/// Reads the start of the jigdo RPM `found` ([`read_jigdo_start`]) and puts it through
/// the install's trust step with its header signature
/// ([`TrustPolicy::check_download_head`] before anything of the payload is read, then
/// the commit's signatures, [`TrustPolicy::check_commit`], and the decision,
/// [`TrustPolicy::decide`]). Returns the jigdo RPM's metadata (up to its index), what
/// verified it and the bytes read. `dir` names the file in messages. `Err` says why the
/// whole jigdo RPM must be read instead (and put through the trust step whole,
/// `install::open_trusted` or `install::read_trusted`): the start is not enough or does
/// not verify, the trust step refuses it (the whole file is then refused too, saying so
/// as the install says it), or only the signed `repomd.xml` verified (it pins the whole
/// file's SHA-256, which a part cannot be checked against). `install --check` and
/// `jigdo diff` read the starts they trust this way.
pub(crate) fn read_trusted_start(
    policy: &TrustPolicy,
    repos: &Repos,
    found: &Found,
    origin: &JigdoOrigin,
    dir: &Path,
) -> Result<(JigdoRpm, TrustReport, Vec<u8>), String> {
    let label = dir.join(found.entry.file_name());
    let mut trust = TrustReport::default();
    // The header is authenticated before anything of the payload is read.
    let (jigdo, head) = read_jigdo_start(repos, found, dir, |head| {
        policy
            .check_download_head(head, &label, origin, &mut trust)
            .map_err(|e| format!("untrusted: {e}"))
    })?;
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
    Ok((jigdo, trust, head))
}

/// Reads the start of the jigdo RPM `found` of `repos`: its lead and headers
/// ([`read_header`]), handed to `on_header` (which may refuse it, e.g. the trust step)
/// before anything of the payload is read, then the payload up to the end of its index
/// (`0-commit`, `1-commitmeta`, `2-index`), each file checked against the header's
/// digests as it is read ([`JigdoRpm::read_head`]); what it says must be what the
/// repository's metadata says of it. Range requests (a server that ignores them is read
/// only that far), or in place from a plain directory. `dir` names the file in messages.
/// Returns the jigdo RPM's metadata and the bytes read; `Err` says why the whole jigdo
/// RPM must be read instead (it is not trusted by `on_header`, its start does not
/// verify, its index ends after the first [`MAX_HEAD`] bytes, a download failed).
pub(crate) fn read_jigdo_start(
    repos: &Repos,
    found: &Found,
    dir: &Path,
    on_header: impl FnOnce(&[u8]) -> Result<(), String>,
) -> Result<(JigdoRpm, Vec<u8>), String> {
    let size = found.entry.size;
    let label = dir.join(found.entry.file_name());
    let (mut head, h) = read_header(repos, found, &label, FIRST_RANGE)?;
    on_header(&head)?;
    // What the payload's head needs at most: the header's sizes of its files (zstd
    // expands nothing by more than a little), each with its cpio header and name; a
    // little more than that is asked at once.
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
    let mut want = (head.len() as u64).max(estimate).min(size);
    let jigdo = loop {
        fetch_up_to(repos, found, &mut head, want)?;
        let have = head.len() as u64;
        let mut r = EndFlag {
            data: &head,
            pos: 0,
            hit_end: false,
        };
        match JigdoRpm::read_head(&mut r, &label, size) {
            Ok(j) => break j,
            Err(e) if r.hit_end && have < size && !is_digest_mismatch(&e) => {
                tracing::debug!(bytes = have, error = %e, "check: the jigdo RPM's start read so far is not enough");
                want = grow(size, have, FIRST_RANGE);
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
    Ok((jigdo, head))
}

/// Reads the lead and headers of the RPM `found` of `repos` (a jigdo or delta RPM),
/// unverified: `first` bytes, then more (by half of what was read, at least `first`)
/// while the headers are cut short. Returns the bytes read (the headers and whatever
/// followed them in the last range) and the parsed header; `label` names the file in
/// messages. The caller authenticates what it uses.
pub(crate) fn read_header(
    repos: &Repos,
    found: &Found,
    label: &Path,
    first: u64,
) -> Result<(Vec<u8>, rpm_package::PackageHeader), String> {
    let size = found.entry.size;
    let name = label.display().to_string();
    let mut head = Vec::new();
    let mut want = first.min(size);
    loop {
        fetch_up_to(repos, found, &mut head, want)?;
        let have = head.len() as u64;
        match rpm_package::PackageHeader::read(&mut &head[..], &name) {
            Ok(h) => return Ok((head, h)),
            // Only a header cut short asks for more; a bad one is an answer.
            Err(e) if have < size && matches!(e.kind, rpm_package::ErrorKind::Truncated(_)) => {
                want = grow(size, have, first);
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Extends `head`, the first bytes of `found`, to its first `want` bytes (at most
/// [`MAX_HEAD`]) with one range request.
fn fetch_up_to(repos: &Repos, found: &Found, head: &mut Vec<u8>, want: u64) -> Result<(), String> {
    if want > MAX_HEAD {
        return Err(format!("its start ends after the first {MAX_HEAD} bytes"));
    }
    let have = head.len() as u64;
    if want > have {
        let more = repos
            .fetch_entry_range(found, have, want - have)
            .map_err(|e| e.to_string())?;
        if more.is_empty() {
            return Err(format!(
                "it ends after {have} bytes, not {}",
                found.entry.size
            ));
        }
        head.extend_from_slice(&more);
    }
    Ok(())
}

/// The next length to read of a file of `size` bytes of which `have` were read: half as
/// much again, at least `step` more, at most the whole file.
fn grow(size: u64, have: u64, step: u64) -> u64 {
    size.min(have + (have / 2).max(step))
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
