//! `jigdo install`: find a jigdo RPM in the sources, decide what the repository still
//! needs, download it, rebuild and verify the commit, set the ref, deploy.
//!
//! Order of work:
//! 1. if the repository exists, take its install lock (a second install into the same
//!    repository waits here); if it does not, nothing is created before step 3 passed
//!    (the metadata and the jigdo RPM go to a temporary directory beside it);
//! 2. read the metadata of every source (`repomd.xml`, and the small `jigdo` record where
//!    there is one; a source that cannot be reached is reported and skipped; an existing
//!    repository's kept `repomd.xml` of each source makes that a conditional request,
//!    see [`Repos::open`], and the state is kept again once the install succeeded);
//!    choose the jigdo RPM. When the ref already points at its commit, nothing is new: stop here
//!    (deploy if asked), having downloaded neither primary metadata nor the jigdo RPM.
//!    Else fetch it. Into an existing repository, its start (headers and payload up to
//!    the index, `check::read_head`: range requests, through the trust step with
//!    the header signature) is read first, and the packages it says the repository needs
//!    start downloading (step 4) while the rest of the jigdo RPM downloads (only the rest:
//!    the start read is where that download resumes from); when the start is not enough
//!    (see the `check` module) the packages wait for step 3;
//! 3. the trust step ([`TrustPolicy`]): the jigdo RPM's signature, then read and check
//!    the whole jigdo RPM once ([`UnpackJob::open`]: the plan is made once and what the
//!    repository still needs is decided once), then the commit's own signatures; one
//!    link must verify (or `--nogpgcheck`). Only then is the repository created and
//!    locked;
//! 4. download the needed packages (biggest first) into `…/downloads/packages` on a
//!    thread, each verified against its pin while it is fetched and handed over
//!    ([`Arrivals`]) as soon as it is in place; then check the commit's signatures again.
//!    When they started before step 3 (step 2), step 3's decision must name the same
//!    packages, else the install fails (the file changed on the mirror meanwhile), and a
//!    failure of step 3 waits for those downloads to end (they stay in `…/downloads`,
//!    verified, nothing enters the OSTree repository);
//! 5. meanwhile [`UnpackJob::finish`] imports each package handed over (not searched,
//!    not hashed again), and commits the objects and sets the ref only once step 4
//!    ended well; a failed download or signature stops it (the commit stays partial, no
//!    ref is set) and is the error reported. The downloads are removed once all were
//!    imported, before the objects are made durable (see `Downloads`). Then write the
//!    install record ([`jigdo_unpack::record`], naming what verified the commit);
//! 6. deploy with the real `ostree` if asked.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jigdo_format::PinnedPackage;
use jigdo_unpack::{
    Arrivals, Decided, DeltaJob, JigdoRpm, Located, PackageFiles, PendingRecord, Target, UnpackJob,
    UnpackReport,
};
use ostree_store::{Repo, RepoMode};
use repo_fetch::{Backend, FetchOptions, Origin};
use serde::Serialize;

use crate::deploy::{deploy, Deployment};
use crate::error::InstallError;
use crate::event::{Event, EventSink, FetchEvents};
use crate::sources::{FetchedPin, Found, Repos, SourceSpec};
use crate::trust::{JigdoOrigin, TrustPolicy, TrustReport};

/// What to install, from where, into where.
#[derive(Clone)]
pub struct InstallOptions {
    /// The jigdo RPM: `NAME[-VERSION[-RELEASE]]` (the newest when no version) or the path
    /// of a jigdo RPM file (ending in `.rpm`).
    pub target: String,
    /// Where packages come from, tried in order.
    pub sources: Vec<SourceSpec>,
    /// The OSTree repository (created with `mode` if absent).
    pub repo: PathBuf,
    /// Mode of the repository if it is created.
    pub mode: RepoMode,
    /// Ref to set (default: the jigdo RPM's name).
    pub ref_name: Option<String>,
    /// Download settings (parallelism, timeouts, retries, cache).
    pub fetch: FetchOptions,
    /// Which library downloads package files.
    pub backend: Backend,
    /// The keys and the rule that decide whether the commit may be installed.
    pub trust: TrustPolicy,
    /// Where to pull (and deploy) the commit besides the repository, if anywhere.
    pub deployment: Option<Deployment>,
}

/// What an install did (the `--json` document of `jigdo install`).
#[derive(Debug, Clone, Serialize)]
pub struct InstallReport {
    /// The commit checksum.
    pub commit: String,
    /// The ref that now points to it.
    #[serde(rename = "ref")]
    pub ref_name: String,
    /// The jigdo RPM's NEVRA.
    pub jigdo_rpm: String,
    /// Packages in the pinned set.
    pub packages_total: usize,
    /// Packages the repository still needed.
    pub packages_needed: usize,
    /// Of those, the ones transferred (not taken from the cache or already in place).
    pub packages_downloaded: usize,
    /// How many of the needed packages each source served (by source name).
    pub packages_from: std::collections::BTreeMap<String, usize>,
    /// Bytes received over the network.
    pub bytes_downloaded: u64,
    /// Whether a deployment was made (not when the OS's newest one already was it).
    pub deployed: bool,
    /// How the commit arrived: `"jigdo"` (the jigdo RPM and the packages), `"delta"`, or
    /// `"none"` (nothing was new: the ref already pointed at it).
    pub path: &'static str,
    /// Whether the ref already pointed at the newest commit (nothing was downloaded).
    pub up_to_date: bool,
    /// The delta RPM's NEVRA, when the delta path was taken.
    pub delta_rpm: Option<String>,
    /// What the rebuild did.
    pub unpack: UnpackReport,
    /// What authenticated the commit (or that nothing did, with `--nogpgcheck`).
    pub trust: TrustReport,
}

/// The jigdo RPM chosen for the target: the place where a full jigdo RPM (and later a
/// delta) is picked.
enum Chosen {
    /// A file given by path.
    File(PathBuf),
    /// A jigdo RPM found in a repository.
    Found(Box<Found>),
}

fn choose(target: &str, repos: &Repos) -> Result<Chosen, InstallError> {
    let path = Path::new(target);
    if target.ends_with(".rpm") && path.is_file() {
        return Ok(Chosen::File(path.to_path_buf()));
    }
    Ok(Chosen::Found(Box::new(repos.find_jigdo(target)?)))
}

/// The files of one install under `REPO/extensions/jigdo`: the install lock, the
/// downloads (removed once imported) and the downloaded metadata (removed on drop).
struct Workspace {
    _lock: File,
    downloads: PathBuf,
    metadata: tempfile::TempDir,
}

impl Workspace {
    /// Takes the install lock of the repository at `repo`, waiting (and saying so)
    /// while another install holds it.
    fn take(repo: &Path, events: &EventSink) -> Result<Workspace, InstallError> {
        let state = jigdo_unpack::unpack::state_dir(repo);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| InstallError::Io { path, source }
        };
        std::fs::create_dir_all(&state).map_err(io(&state))?;
        let path = state.join("install.lock");
        let lock = File::create(&path).map_err(io(&path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                events(&Event::WaitingForLock { path: &path });
                lock.lock().map_err(io(&path))?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&path)(e)),
        }
        let metadata = tempfile::tempdir_in(&state).map_err(io(&state))?;
        Ok(Workspace {
            _lock: lock,
            downloads: state.join("downloads"),
            metadata,
        })
    }
}

/// The downloaded packages as the import takes them ([`Arrivals`]), removed with the
/// downloaded jigdo RPM (the directories `remove`) as soon as every package arrived and
/// was imported: [`PackageFiles::settled`] is the import's last question, asked once
/// every package was imported and the tree rebuilt and checked, before it makes the
/// commit's objects durable. The transaction's flush (`syncfs`) would otherwise write
/// them to disk only for them to be deleted after it; removed first, their pages are
/// never written. Nothing of them is needed to finish; a failure from then on (the
/// flush, the final check, the ref) means downloading them again on the next run. When
/// a download failed, `settled` fails and they stay.
struct Downloads<'a> {
    arrivals: &'a Arrivals,
    remove: [PathBuf; 2],
}

impl PackageFiles for Downloads<'_> {
    fn locate(&self, pkg: &PinnedPackage) -> jigdo_unpack::Result<Located> {
        self.arrivals.locate(pkg)
    }

    fn open(
        &self,
        pkg: &PinnedPackage,
        located: &Located,
    ) -> jigdo_unpack::Result<(jigdo_unpack::PackageContent, PathBuf)> {
        self.arrivals.open(pkg, located)
    }

    fn next_ready(&self, pending: &[&PinnedPackage]) -> usize {
        self.arrivals.next_ready(pending)
    }

    fn settled(&self) -> jigdo_unpack::Result<()> {
        self.arrivals.settled()?;
        for dir in &self.remove {
            let _ = std::fs::remove_dir_all(dir);
        }
        tracing::debug!("downloads removed");
        Ok(())
    }
}

/// Closes the arrivals when the downloading thread ends, however it ends.
struct CloseOnDrop<'a>(&'a Arrivals);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Where the metadata and the jigdo RPM go before the commit is trusted: the
/// repository's install workspace when it exists, else a temporary directory beside the
/// repository (removed on drop), so that a refused install creates nothing.
fn staging_dir(repo: &Path) -> Result<tempfile::TempDir, InstallError> {
    let parent = match repo.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    tempfile::Builder::new()
        .prefix(".jigdo-install-")
        .tempdir_in(parent)
        .map_err(|source| InstallError::Io {
            path: parent.to_path_buf(),
            source,
        })
}

/// Runs `jigdo install` (see the module docs), reporting [`Event`]s to `events`.
pub fn install(opts: &InstallOptions, events: EventSink) -> Result<InstallReport, InstallError> {
    if opts.sources.is_empty() {
        return Err(InstallError::NoSources);
    }
    // 1. The install lock of an existing repository first: a second install waits here.
    let (mut work, staging, md_dir, jigdo_dir) = if opts.repo.join("config").exists() {
        let w = Workspace::take(&opts.repo, &events)?;
        let (md, jigdo) = (w.metadata.path().to_path_buf(), w.downloads.join("jigdo"));
        (Some(w), None, md, jigdo)
    } else {
        let t = staging_dir(&opts.repo)?;
        let (md, jigdo) = (t.path().join("metadata"), t.path().join("jigdo"));
        (None, Some(t), md, jigdo)
    };

    // 2. The sources and the jigdo RPM.
    let fetch_events = Arc::new(FetchEvents::new(events.clone()));
    let downloader = opts
        .backend
        .downloader(opts.fetch.clone(), Some(fetch_events.clone()))?;
    // The sources' kept repomd.xml (conditional requests) of an existing repository.
    let kept = work.as_ref().map(|_| kept_dir(&opts.repo));
    let repos = Repos::open(
        downloader,
        &opts.sources,
        &md_dir,
        kept.as_deref(),
        &opts.trust,
        &events,
    )?;
    let (jigdo_file, origin, what, mut early) = match choose(&opts.target, &repos)? {
        Chosen::File(path) => {
            let what = path.display().to_string();
            (JigdoFile::Path(path), JigdoOrigin::File, what, None)
        }
        Chosen::Found(found) => {
            let repo = &repos.list[found.repo];
            let nevra = found.entry.nevra();
            events(&Event::JigdoFound {
                nevra: &nevra,
                source: &repo.name,
            });
            if work.is_some() {
                if let Some(mut report) = up_to_date(opts, &found, &events) {
                    repos.keep_state(&kept_dir(&opts.repo));
                    if let Some(d) = &opts.deployment {
                        report.deployed = deploy(&opts.repo, &report.ref_name, &report.commit, d)?;
                    }
                    report.bytes_downloaded = repos.bytes_downloaded();
                    return Ok(report);
                }
            }
            // The delta path needs the base commit, so only an existing repository
            // (whose install lock `work` holds) can take it.
            if let Some(w) = &work {
                if let Some(mut report) = try_delta(opts, &repos, &found, w, &events) {
                    repos.keep_state(&kept_dir(&opts.repo));
                    if let Some(d) = &opts.deployment {
                        report.deployed = deploy(&opts.repo, &report.ref_name, &report.commit, d)?;
                    }
                    return Ok(report);
                }
            }
            let origin = repos.origin(&found);
            let what = format!("{nevra} from {}", repo.name);
            // Into an existing repository, the pins start downloading once the jigdo
            // RPM's start (headers and index) passed the trust step, while the rest of
            // it downloads.
            let early = work
                .as_ref()
                .and_then(|w| early_pins(opts, &repos, &found, &origin, w));
            (JigdoFile::Found(found), origin, what, early)
        }
    };

    // 3. Trusted, read once, decided once; only then the repository.
    let untrusted = |reason| InstallError::Untrusted {
        what: what.clone(),
        reason,
    };
    let target = Target {
        repo: opts.repo.clone(),
        mode: opts.mode,
        ref_name: opts.ref_name.clone(),
    };
    let arrivals = Arrivals::new();
    // What each downloaded pin tells the import.
    let on_ready = |pins: &[PinnedPackage], i: usize, f: &FetchedPin| {
        if let Some(pin) = pins.get(i) {
            tracing::debug!(package = %pin.nevra(), "package in place");
            match f.origin {
                Some(_) => arrivals.insert_verified(pin, f.path.clone()),
                None => arrivals.insert_candidate(pin, f.path.clone()),
            }
        }
    };
    let early_pins = early.as_ref().map(|e| e.pins.clone());
    // The plan and decision made from the start, for the job (which checks they fit).
    let decided = early.as_mut().and_then(|e| e.decided.take());
    if let (Some(pins), Some(e)) = (&early_pins, &early) {
        fetch_events.set_pins(pins);
        events(&Event::PackagesNeeded {
            needed: pins.len(),
            total: e.total,
            bytes: pins.iter().map(|p| p.size).sum(),
        });
    }
    std::thread::scope(|scope| {
        // The pins of the jigdo RPM's start, downloading from now on.
        let prefetch = match (&early_pins, &work) {
            (Some(pins), Some(w)) => {
                let dest = w.downloads.join("packages");
                let (on_ready, repos) = (&on_ready, &repos);
                Some(scope.spawn(move || {
                    tracing::debug!(
                        packages = pins.len(),
                        "downloading the pins while the jigdo RPM downloads"
                    );
                    repos.fetch_pins_each(pins, &dest, &|i, f| on_ready(pins, i, f))
                }))
            }
            _ => None,
        };
        // Whatever ends this scope early, the import never waits for ever.
        let stop = |e: InstallError| {
            arrivals.fail(e.to_string());
            e
        };
        let path = match &jigdo_file {
            JigdoFile::Path(p) => p.clone(),
            JigdoFile::Found(found) => {
                let head = early.as_ref().map_or(&[][..], |e| &e.head[..]);
                let path = repos
                    .fetch_entry_after(found, &jigdo_dir, head)
                    .map_err(stop)?;
                tracing::debug!(path = %path.display(), "jigdo RPM downloaded");
                path
            }
        };
        let (job, trust) =
            open_trusted(&opts.trust, &path, &origin, target, &what, decided).map_err(stop)?;
        events(&Event::Trust(&trust));
        let work = match work.take() {
            Some(w) => w,
            None => {
                Repo::init(&opts.repo, opts.mode)
                    .map_err(|error| InstallError::Repo {
                        path: opts.repo.clone(),
                        error,
                    })
                    .map_err(stop)?;
                Workspace::take(&opts.repo, &events).map_err(stop)?
            }
        };
        let jigdo = job.jigdo();
        let mut pins: Vec<PinnedPackage> = job
            .needed()
            .iter()
            .map(|&p| jigdo.index.packages[p].clone())
            .collect();
        // Requested biggest first: the import starts on the longest jobs and the small
        // packages arriving last are imported quickly.
        pins.sort_by_key(|p| std::cmp::Reverse(p.size));
        match &early_pins {
            Some(e) if *e != pins => {
                return Err(stop(InstallError::Unpack(
                    jigdo_unpack::UnpackError::Corrupt {
                        path: path.clone(),
                        reason: "the whole file needs other packages than its start, read \
                                 before (did it change on the mirror meanwhile?)"
                            .into(),
                    },
                )))
            }
            Some(_) => {}
            None => events(&Event::PackagesNeeded {
                needed: pins.len(),
                total: jigdo.index.packages.len(),
                bytes: pins.iter().map(|p| p.size).sum(),
            }),
        }

        // What the commit's signatures are checked again with once the packages are in
        // place, before anything is committed (only when a signature of the commit verified).
        let recheck = trust
            .verified
            .iter()
            .any(|v| v.link.is_commit_signature())
            .then(|| jigdo.clone());
        let jigdo_rpm = jigdo.nevra();
        let packages_total = jigdo.index.packages.len();
        let source = match &origin {
            JigdoOrigin::File => path.display().to_string(),
            JigdoOrigin::Repository { name, .. } => name.clone(),
        };
        // What verified the commit, as the trust step's line says it (none: --nogpgcheck).
        let verified_by = trust.verified_by();
        let record = PendingRecord::new(jigdo, source, verified_by).map_err(|e| stop(e.into()))?;

        // 4 and 5. The packages are downloaded on a thread, biggest first (or are
        // downloading since the jigdo RPM's start was read), each verified against its
        // pin while it is fetched and handed to the import as soon as it is in place,
        // while the import writes the commit from those there. The import commits
        // nothing (and sets no ref) before the downloads ended well and the commit's
        // signatures verified again.
        if prefetch.is_none() {
            fetch_events.set_pins(&pins);
        }
        let dest = work.downloads.join("packages");
        let (fetched, finished) = std::thread::scope(|inner| {
            let fetch = inner.spawn(|| {
                // Closed however the fetch ends, so that the import never waits for ever.
                let _close = CloseOnDrop(&arrivals);
                let fetched = match prefetch {
                    Some(t) => t
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                    None => repos.fetch_pins_each(&pins, &dest, &|i, f| on_ready(&pins, i, f)),
                };
                let fetched = fetched.and_then(|f| match &recheck {
                    Some(j) => still_verified(&opts.trust, &trust, j, &origin)
                        .map(|()| f)
                        .map_err(untrusted),
                    None => Ok(f),
                });
                match &fetched {
                    Ok(_) => events(&Event::PackagesReady),
                    Err(e) => arrivals.fail(e.to_string()),
                }
                fetched
            });
            let files = Downloads {
                arrivals: &arrivals,
                remove: [work.downloads.clone(), jigdo_dir.clone()],
            };
            let finished = job.finish(&files, &|e| events(&Event::Unpack(*e)));
            let fetched = fetch
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (fetched, finished)
        });
        // A failed download is what went wrong, whatever the import then said.
        let fetched = fetched?;
        let report = finished?;
        let mut packages_downloaded = 0;
        let mut packages_from = std::collections::BTreeMap::new();
        for f in &fetched {
            if let Some(r) = repos.list.get(f.repo) {
                *packages_from.entry(r.name.clone()).or_insert(0) += 1;
            }
            if matches!(f.origin, Some(Origin::Network | Origin::Local)) {
                packages_downloaded += 1;
            }
        }
        record.write(&opts.repo)?;
        tracing::debug!("install record written");
        repos.keep_state(&kept_dir(&opts.repo));
        // Imported: the downloads are no longer needed (the package cache replaces them;
        // removed already unless the commit was complete before, see [`Downloads`]).
        let _ = std::fs::remove_dir_all(&work.downloads);
        drop(staging);
        tracing::debug!("sources' state kept, workspace removed");

        // 6. Deployment.
        let mut deployed = false;
        if let Some(d) = &opts.deployment {
            deployed = deploy(&opts.repo, &report.ref_name, &report.commit, d)?;
        }
        Ok(InstallReport {
            commit: report.commit.clone(),
            ref_name: report.ref_name.clone(),
            jigdo_rpm,
            packages_total,
            packages_needed: pins.len(),
            packages_downloaded,
            packages_from,
            bytes_downloaded: repos.bytes_downloaded(),
            deployed,
            path: "jigdo",
            up_to_date: false,
            delta_rpm: None,
            unpack: report,
            trust,
        })
    })
}

/// Where the jigdo RPM of an install is.
enum JigdoFile {
    /// A file given by path.
    Path(PathBuf),
    /// Found in a repository: downloaded by the install.
    Found(Box<Found>),
}

/// The pins an install into an existing repository downloads before it has the whole
/// jigdo RPM: read from its start ([`crate::check::read_head`]: the headers and the
/// payload up to the index, through the trust step), those the repository still needs.
struct EarlyPins {
    /// The pins needed, biggest first (the order the install requests them in).
    pins: Vec<PinnedPackage>,
    /// Packages in the pinned set.
    total: usize,
    /// The start of the jigdo RPM read (not downloaded again).
    head: Vec<u8>,
    /// The plan and decision made from the start (holding the repository's shared lock).
    decided: Option<Decided>,
}

/// [`EarlyPins`] of `found` for the repository of `opts` (locked by `work`), or `None`
/// (after a debug line saying why) when the install must wait for the whole jigdo RPM:
/// the download cache holds it, or its start is not enough (see [`crate::check`]).
fn early_pins(
    opts: &InstallOptions,
    repos: &Repos,
    found: &Found,
    origin: &JigdoOrigin,
    work: &Workspace,
) -> Option<EarlyPins> {
    let scratch = work.metadata.path().join("cache-probe");
    if repos.entry_in_cache(found, &scratch) {
        return None;
    }
    let target = Target {
        repo: opts.repo.clone(),
        mode: opts.mode,
        ref_name: opts.ref_name.clone(),
    };
    match crate::check::read_head(
        &opts.trust,
        repos,
        found,
        origin,
        &target,
        work.metadata.path(),
    ) {
        Ok(head) => {
            let packages = &head.decided.jigdo().index.packages;
            let mut pins: Vec<PinnedPackage> = head
                .needed
                .iter()
                .filter_map(|&p| packages.get(p).cloned())
                .collect();
            pins.sort_by_key(|p| std::cmp::Reverse(p.size));
            Some(EarlyPins {
                pins,
                total: packages.len(),
                head: head.bytes,
                decided: Some(head.decided),
            })
        }
        Err(why) => {
            tracing::debug!(reason = %why, "the pins wait for the whole jigdo RPM");
            None
        }
    }
}

/// Checks the commit's own signatures of `jigdo` again: each that verified in `trust`
/// must still verify (the key files may have changed while the packages were fetched).
fn still_verified(
    policy: &TrustPolicy,
    trust: &TrustReport,
    jigdo: &JigdoRpm,
    origin: &JigdoOrigin,
) -> Result<(), crate::error::TrustFailure> {
    let mut again = TrustReport::default();
    policy.check_commit(jigdo, origin, &mut again)?;
    let still = trust
        .verified
        .iter()
        .filter(|v| v.link.is_commit_signature())
        .all(|v| again.verified.contains(v));
    if !still {
        return Err(crate::error::TrustFailure::Unverified {
            looked_for: "the commit signature that verified before the packages were \
                         fetched no longer does"
                .into(),
        });
    }
    Ok(())
}

/// The report of an install with nothing new, when the ref (`--ref`, else the jigdo RPM's
/// name) of the existing repository already points at the commit of `found`, complete
/// there; `None` otherwise. Reads only the repository (and its install record).
fn up_to_date(opts: &InstallOptions, found: &Found, events: &EventSink) -> Option<InstallReport> {
    let commit = found.commit()?;
    let ref_name = opts
        .ref_name
        .clone()
        .unwrap_or_else(|| found.entry.name.clone());
    if ref_commit(&opts.repo, &ref_name)? != commit {
        return None;
    }
    let nevra = found.entry.nevra();
    events(&Event::UpToDate {
        nevra: &nevra,
        commit: &commit,
        ref_name: &ref_name,
    });
    let record = jigdo_unpack::record::InstallRecord::load(&opts.repo, &commit)
        .ok()
        .flatten();
    let index = jigdo_unpack::record::InstallRecord::load_index(&opts.repo, &commit).ok();
    let packages_total = record.as_ref().map_or(0, |r| r.packages.len());
    Some(InstallReport {
        commit: commit.clone(),
        ref_name: ref_name.clone(),
        jigdo_rpm: nevra,
        packages_total,
        packages_needed: 0,
        packages_downloaded: 0,
        packages_from: Default::default(),
        bytes_downloaded: 0,
        deployed: false,
        path: "none",
        up_to_date: true,
        delta_rpm: None,
        unpack: UnpackReport {
            commit,
            ref_name,
            repo: opts.repo.clone(),
            already_present: true,
            packages_total,
            packages_imported: 0,
            imported: Vec::new(),
            objects_written: 0,
            bytes_read: 0,
            files: index.as_ref().map_or(0, |i| i.file_count()),
            directories: index.as_ref().map_or(0, |i| i.dir_count()),
        },
        trust: TrustReport::default(),
    })
}

/// Where the sources' kept `repomd.xml` files are ([`Repos::keep_state`]): in the
/// repository's jigdo state directory, whatever `--cache` says, so that `install` and
/// `install --check` of one repository find the same ones.
pub(crate) fn kept_dir(repo: &Path) -> PathBuf {
    jigdo_unpack::unpack::state_dir(repo).join("sources")
}

/// The commit (hex) that ref `ref_name` of the repository at `repo` points at, when the
/// repository exists and holds that commit complete.
pub(crate) fn ref_commit(repo: &Path, ref_name: &str) -> Option<String> {
    if !repo.join("config").exists() {
        return None;
    }
    let r = Repo::open(repo).ok()?;
    let entry = r
        .list_refs()
        .ok()?
        .into_iter()
        .find(|e| e.display_name() == ref_name)?;
    let c = entry.checksum;
    (r.has_object(ostree_store::ObjectType::Commit, &c) && !r.is_commit_partial(&c))
        .then(|| c.to_hex())
}

/// The trust step and the plan for the jigdo RPM at `path`, downloaded from `origin`
/// (`what` names it in errors): the signed `repomd.xml` and the RPM's signature, then the
/// jigdo RPM read once into the plan for `target` (the plan and decision of `decided`,
/// made from its start, when they fit its index), its commit's own signatures, and the
/// decision.
pub(crate) fn open_trusted(
    policy: &TrustPolicy,
    path: &Path,
    origin: &JigdoOrigin,
    target: Target,
    what: &str,
    decided: Option<Decided>,
) -> Result<(UnpackJob, TrustReport), InstallError> {
    trusted(
        policy,
        path,
        origin,
        what,
        || Ok(UnpackJob::open_decided(path, target, decided)?),
        UnpackJob::jigdo,
    )
}

/// The trust step of [`open_trusted`] over the downloaded jigdo RPM file `path` when no
/// repository is to be written (`jigdo diff`): its metadata, opened once the download's
/// links were checked, and what verified it.
pub(crate) fn read_trusted(
    policy: &TrustPolicy,
    path: &Path,
    origin: &JigdoOrigin,
    what: &str,
) -> Result<(JigdoRpm, TrustReport), InstallError> {
    trusted(
        policy,
        path,
        origin,
        what,
        || Ok(JigdoRpm::open(path)?),
        |j| j,
    )
}

/// The trust step over a whole downloaded jigdo RPM: the download's links
/// ([`TrustPolicy::check_download`]) before `open` reads it, then the commit's
/// signatures of what `jigdo` finds in it and the decision. A refusal names `what`.
fn trusted<T>(
    policy: &TrustPolicy,
    path: &Path,
    origin: &JigdoOrigin,
    what: &str,
    open: impl FnOnce() -> Result<T, InstallError>,
    jigdo: for<'a> fn(&'a T) -> &'a JigdoRpm,
) -> Result<(T, TrustReport), InstallError> {
    let untrusted = |reason| InstallError::Untrusted {
        what: what.to_string(),
        reason,
    };
    let mut trust = TrustReport::default();
    policy
        .check_download(path, origin, &mut trust)
        .map_err(untrusted)?;
    let opened = open()?;
    policy
        .check_commit(jigdo(&opened), origin, &mut trust)
        .map_err(untrusted)?;
    policy.decide(&mut trust).map_err(untrusted)?;
    Ok((opened, trust))
}

/// The smallest delta RPM whose target is the commit of `found` and whose base the
/// repository holds (complete).
pub(crate) fn find_delta(repos: &Repos, found: &Found, repo: &Repo) -> Option<Found> {
    repos
        .deltas_to(found)
        .into_iter()
        .filter(|(_, base)| {
            repo.has_object(ostree_store::ObjectType::Commit, base) && !repo.is_commit_partial(base)
        })
        .map(|(d, _)| d)
        .min_by_key(|d| d.entry.size)
}

/// The delta path: fetch the delta RPM, the trust step, apply. `Ok(None)` (after a
/// warning event) when the delta cannot be used: the caller takes the jigdo RPM path.
fn try_delta(
    opts: &InstallOptions,
    repos: &Repos,
    found: &Found,
    work: &Workspace,
    events: &EventSink,
) -> Option<InstallReport> {
    let repo = Repo::open(&opts.repo).ok()?;
    let delta = find_delta(repos, found, &repo)?;
    drop(repo);
    let nevra = delta.entry.nevra();
    events(&Event::DeltaChosen {
        nevra: &nevra,
        bytes: delta.entry.size,
    });
    let attempt = || -> Result<InstallReport, String> {
        let path = repos
            .fetch_entry(&delta, &work.downloads.join("delta"))
            .map_err(|e| e.to_string())?;
        let origin = repos.origin(&delta);
        // The same trust rule as the jigdo RPM path: the signed repomd.xml, the delta
        // RPM's signature or the target commit's own signatures.
        let mut trust = TrustReport::default();
        opts.trust
            .check_download(&path, &origin, &mut trust)
            .map_err(|e| format!("untrusted: {e}"))?;
        let job = DeltaJob::open(&path).map_err(|e| e.to_string())?;
        opts.trust
            .check_commit(&job.delta().target, &origin, &mut trust)
            .map_err(|e| format!("untrusted: {e}"))?;
        opts.trust
            .decide(&mut trust)
            .map_err(|e| format!("untrusted: {e}"))?;
        events(&Event::Trust(&trust));
        let files = job.delta().target.index.file_count();
        let directories = job.delta().target.index.dir_count();
        let packages_total = job.delta().target.index.packages.len();
        let applied = job
            .apply(&opts.repo, opts.ref_name.as_deref())
            .map_err(|e| e.to_string())?;
        let _ = std::fs::remove_dir_all(work.downloads.join("delta"));
        Ok(InstallReport {
            commit: applied.commit.clone(),
            ref_name: applied.ref_name.clone(),
            jigdo_rpm: found.entry.nevra(),
            packages_total,
            packages_needed: 0,
            packages_downloaded: 0,
            packages_from: Default::default(),
            bytes_downloaded: repos.bytes_downloaded(),
            deployed: false,
            path: "delta",
            up_to_date: false,
            delta_rpm: Some(nevra.clone()),
            unpack: UnpackReport {
                commit: applied.commit,
                ref_name: applied.ref_name,
                repo: applied.repo,
                already_present: applied.already_present,
                packages_total,
                packages_imported: 0,
                imported: Vec::new(),
                objects_written: applied.objects_written,
                bytes_read: applied.delta_bytes,
                files,
                directories,
            },
            trust,
        })
    };
    match attempt() {
        Ok(r) => Some(r),
        Err(reason) => {
            let _ = std::fs::remove_dir_all(work.downloads.join("delta"));
            events(&Event::DeltaFailed {
                nevra: &nevra,
                reason: &reason,
            });
            None
        }
    }
}
