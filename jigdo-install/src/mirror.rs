//! `jigdo mirror`: copy named jigdo RPMs and exactly the RPMs they pin from the sources
//! into a directory and publish its repodata, so that the directory serves installs with
//! no network (`jigdo install NAME --from DIR`) and is an ordinary dnf repository.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jigdo_format::PinnedPackage;
use jigdo_unpack::{DeltaRpm, JigdoRpm};
use repo_fetch::{Backend, Expect, FetchOptions};
use repodata::{create_repo, is_current, prune_repo, CreateOptions, PruneOptions};
use serde::Serialize;

use crate::error::InstallError;
use crate::event::{Event, EventSink, FetchEvents};
use crate::sources::{file_in, Repos, SourceSpec};
use crate::trust::{TrustPolicy, TrustReport};

/// What to mirror, from where, into where.
#[derive(Clone)]
pub struct MirrorOptions {
    /// Jigdo RPMs to copy: `NAME` or `NAME-VERSION[-RELEASE]` (the newest when no
    /// version).
    pub names: Vec<String>,
    /// Where packages come from, tried in order.
    pub sources: Vec<SourceSpec>,
    /// The directory to fill and publish.
    pub to: PathBuf,
    /// Afterwards keep only the newest N versions of each jigdo RPM name and the RPMs
    /// they pin (as `jigdo repo prune`).
    pub keep: Option<usize>,
    /// Download settings.
    pub fetch: FetchOptions,
    /// Which library downloads package files.
    pub backend: Backend,
    /// The keys and the rule that decide whether a jigdo RPM may be copied (as for
    /// `install`).
    pub trust: TrustPolicy,
}

/// The directory in DIR (hidden: not scanned for packages, see [`repodata::create::find_rpms`])
/// where a mirror keeps its sources' last `repomd.xml` for the next run's conditional
/// requests.
pub const MIRROR_STATE_DIR: &str = ".jigdo";

/// What a mirror run did (the `--json` document of `jigdo mirror`).
#[derive(Debug, Clone, Serialize)]
pub struct MirrorReport {
    /// The directory.
    pub dir: PathBuf,
    /// NEVRAs of the jigdo RPMs copied.
    pub jigdo_rpms: Vec<String>,
    /// Pinned packages in place (summed over the jigdo RPMs).
    pub packages: usize,
    /// NEVRAs of the delta RPMs copied (those whose target is a copied jigdo RPM).
    pub delta_rpms: Vec<String>,
    /// Bytes received over the network.
    pub bytes_downloaded: u64,
    /// Files removed by `keep`.
    pub pruned: usize,
    /// Whether DIR's repodata was written again. It is not when DIR already held every
    /// file and its repodata lists them as they are, so that its clients' conditional
    /// requests keep getting 304.
    pub published: bool,
    /// What authenticated each jigdo RPM's commit, in the order of `jigdo_rpms`.
    pub trust: Vec<TrustReport>,
}

/// Copies the package file `src` of `pin` into `dir` as `NAME-VERSION-RELEASE.ARCH.rpm`
/// through a temporary file that is checked against the pin before it is renamed into
/// place (the source directory is not ours: it may change under us).
fn copy_pin(pin: &PinnedPackage, src: &Path, dir: &Path) -> Result<(), InstallError> {
    let dest = file_in(dir, &jigdo_unpack::source::package_file_name(pin))?;
    if dest == src {
        return Ok(());
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InstallError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = tempfile::Builder::new()
        .prefix(".jigdo-copy-")
        .tempfile_in(dir)
        .map_err(io(dir))?;
    std::fs::copy(src, tmp.path()).map_err(io(src))?;
    jigdo_unpack::source::verify_pin(tmp.path(), pin)?;
    tmp.persist(&dest).map_err(|e| io(&dest)(e.error))?;
    Ok(())
}

/// The copy of `entry` (a jigdo or delta RPM) in `dir` under its file name, when it is
/// there with the size and checksum the source lists for it.
fn in_dir(dir: &Path, entry: &repodata::IndexEntry) -> Result<Option<PathBuf>, InstallError> {
    let path = file_in(dir, entry.file_name())?;
    if !path.is_file() {
        return Ok(None);
    }
    let expect = Expect {
        size: Some(entry.size),
        checksum: Some(entry.checksum.clone()),
    };
    Ok(expect.check_file(&path).is_ok().then_some(path))
}

/// The pins of which `dir` holds no verified copy (as [`copy_pin`] names it), each file
/// there hashed in parallel.
fn missing_pins(pins: &[PinnedPackage], dir: &Path) -> Vec<PinnedPackage> {
    use rayon::prelude::*;
    ostree_store::with_io_pool(|| {
        pins.par_iter()
            .filter(|pin| {
                let name = jigdo_unpack::source::package_file_name(pin);
                match file_in(dir, &name) {
                    Ok(path) if path.is_file() => {
                        jigdo_unpack::source::verify_pin(&path, pin).is_err()
                    }
                    _ => true,
                }
            })
            .cloned()
            .collect()
    })
}

/// Runs `jigdo mirror`, reporting [`Event`]s to `events`.
pub fn mirror(opts: &MirrorOptions, events: EventSink) -> Result<MirrorReport, InstallError> {
    if opts.sources.is_empty() {
        return Err(InstallError::NoSources);
    }
    if let Some(keep) = opts.keep {
        repodata::check_keep(keep).map_err(InstallError::Options)?;
    }
    let io = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| InstallError::Io { path, source }
    };
    std::fs::create_dir_all(&opts.to).map_err(io(&opts.to))?;
    let md = tempfile::tempdir().map_err(io(&std::env::temp_dir()))?;
    let fetch_events = Arc::new(FetchEvents::new(events.clone()));
    let downloader = opts
        .backend
        .downloader(opts.fetch.clone(), Some(fetch_events.clone()))?;
    // The sources' kept repomd.xml from the last run: an unchanged source costs a 304.
    let kept = opts.to.join(MIRROR_STATE_DIR).join("sources");
    let repos = Repos::open(
        downloader,
        &opts.sources,
        md.path(),
        Some(&kept),
        &opts.trust,
        &events,
    )?;
    let mut names = Vec::new();
    let mut deltas = Vec::new();
    let mut trusted = Vec::new();
    let mut packages = 0;
    // A jigdo RPM comes into the mirror only once trusted: it is fetched beside it first.
    let staging = tempfile::Builder::new()
        .prefix(".jigdo-mirror-")
        .tempdir_in(&opts.to)
        .map_err(io(&opts.to))?;
    for spec in &opts.names {
        let found = repos.find_jigdo(spec)?;
        let repo = &repos.list[found.repo];
        let nevra = found.entry.nevra();
        // A copy already in DIR with the size and checksum the source lists is used as
        // it is (and checked for trust as a download is).
        let fetched = match in_dir(&opts.to, &found.entry)? {
            Some(p) => p,
            None => repos.fetch_entry(&found, staging.path())?,
        };
        let origin = repos.origin(&found);
        let untrusted = |reason| InstallError::Untrusted {
            what: format!("{nevra} from {}", repo.name),
            reason,
        };
        let mut trust = TrustReport::default();
        opts.trust
            .check_download(&fetched, &origin, &mut trust)
            .map_err(untrusted)?;
        let jigdo = JigdoRpm::open(&fetched)?;
        opts.trust
            .check_commit(&jigdo, &origin, &mut trust)
            .map_err(untrusted)?;
        opts.trust.decide(&mut trust).map_err(untrusted)?;
        events(&Event::Trust(&trust));
        let file = fetched.file_name().map_or_else(
            || std::ffi::OsString::from(format!("{nevra}.rpm")),
            |n| n.to_os_string(),
        );
        let path = opts.to.join(file);
        if fetched != path {
            std::fs::rename(&fetched, &path).map_err(io(&path))?;
        }
        // Exactly the pinned packages, each verified against its pin; files already in
        // DIR with the right checksum are kept without a request.
        let pins = &jigdo.index.packages;
        let packages_dir = opts.to.join("Packages");
        // Those DIR holds verified are not asked for at all (no primary read to place
        // them either).
        let missing = missing_pins(pins, &packages_dir);
        if !missing.is_empty() {
            fetch_events.set_pins(&missing);
            let fetched = repos.fetch_pins(&missing, &packages_dir)?;
            // Packages found in a plain directory of RPMs are used in place by the
            // fetch: the mirror needs its own copy.
            for (pin, f) in missing.iter().zip(&fetched) {
                if f.origin.is_none() {
                    copy_pin(pin, &f.path, &packages_dir)?;
                }
            }
        }
        packages += pins.len();
        events(&Event::Mirrored {
            nevra: &nevra,
            packages: pins.len(),
        });
        // The delta RPMs to this commit travel with it: clients that hold a base update
        // through them. One that cannot be fetched or is not a delta to this commit is
        // left out with a warning (clients still have the jigdo RPM path).
        for (found_delta, _) in repos.deltas_to(&found) {
            let delta_nevra = found_delta.entry.nevra();
            let copied = match in_dir(&opts.to, &found_delta.entry) {
                Ok(Some(p)) => Ok(p),
                Ok(None) => repos.fetch_entry(&found_delta, staging.path()),
                Err(e) => Err(e),
            }
            .map_err(|e| e.to_string())
            .and_then(|p| match DeltaRpm::open(&p) {
                Ok(d) if d.target.commit == jigdo.commit => Ok(p),
                Ok(d) => Err(format!("its target is {}", d.target.commit)),
                Err(e) => Err(e.to_string()),
            });
            match copied {
                Ok(p) => {
                    let dest = opts.to.join(p.file_name().unwrap_or_default());
                    if p != dest {
                        std::fs::rename(&p, &dest).map_err(io(&dest))?;
                    }
                    deltas.push(delta_nevra);
                }
                Err(reason) => events(&Event::DeltaFailed {
                    nevra: &delta_nevra,
                    reason: &reason,
                }),
            }
        }
        names.push(nevra);
        trusted.push(trust);
    }
    drop(staging);
    let publish = |error| InstallError::Publish {
        path: opts.to.clone(),
        error,
    };
    // Published again only when something changed, so that an unchanged mirror keeps
    // its repomd.xml (and its own clients' conditional requests get 304).
    let mut published = !is_current(&opts.to).map_err(publish)?;
    if published {
        create_repo(
            &opts.to,
            &CreateOptions {
                update: true,
                ..CreateOptions::default()
            },
        )
        .map_err(publish)?;
    }
    let mut pruned = 0;
    if let Some(keep) = opts.keep {
        let prune = |dry_run| {
            prune_repo(
                &opts.to,
                &PruneOptions {
                    keep,
                    dry_run,
                    create: CreateOptions::default(),
                },
            )
            .map_err(publish)
        };
        // Pruning publishes: only when it has something to remove.
        if !prune(true)?.removed.is_empty() {
            pruned = prune(false)?.removed.len();
            published = true;
        }
    }
    repos.keep_state(&kept);
    Ok(MirrorReport {
        dir: opts.to.clone(),
        jigdo_rpms: names,
        packages,
        delta_rpms: deltas,
        bytes_downloaded: repos.bytes_downloaded(),
        pruned,
        published,
        trust: trusted,
    })
}
