//! `jigdo install --check`: whether the sources have a jigdo RPM whose commit the ref
//! does not point at yet, its version and what an update would download. Contacts the
//! sources as `install` does (`repomd.xml` and the `jigdo` record where there is one) and
//! writes nothing into the repository.
//!
//! When nothing is new, only `repomd.xml` and the `jigdo` record are downloaded, and with
//! the sources' kept state of the repository (as the install keeps it,
//! `REPO/extensions/jigdo/sources/`, [`crate::sources::Repos::keep_state`]) one 304 per
//! source: the check keeps what it read there too, and nothing else. When
//! something is, the jigdo RPM is downloaded into a temporary directory (or the download
//! cache, `--cache`, where the install finds it again), put through the install's trust
//! step (an update the install would refuse is an error here too) and read: its pins and
//! the repository decide which packages an update would fetch.

use std::sync::Arc;

use jigdo_unpack::Target;
use serde::Serialize;

use crate::error::InstallError;
use crate::event::{EventSink, FetchEvents};
use crate::install::{find_delta, kept_dir, open_trusted, ref_commit, InstallOptions};
use crate::sources::Repos;
use crate::trust::TrustReport;

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
        let path = repos.fetch_entry(&found, &work.path().join("jigdo"))?;
        let origin = repos.origin(&found);
        let what = format!("{} from {}", report.jigdo_rpm, report.source);
        let target = Target {
            repo: opts.repo.clone(),
            mode: opts.mode,
            ref_name: Some(ref_name),
        };
        let (job, trust) = open_trusted(&opts.trust, &path, &origin, target, &what)?;
        report.trust = trust;
        let pins = &job.jigdo().index.packages;
        report.jigdo_rpm_bytes = found.entry.size;
        report.packages_needed = job.needed().len();
        report.packages_bytes = job
            .needed()
            .iter()
            .filter_map(|&p| pins.get(p))
            .map(|p| p.size)
            .sum();
        let cached_pins: u64 = job
            .needed()
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
