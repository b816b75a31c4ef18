//! Remote package sources for `jigdo install` and `jigdo mirror`: rpm-md repositories
//! reached through `repodata::fetch` (local rpm-md directories, `file://`, `http://`,
//! `https://` base URLs, `mirrorlist=`, `metalink=`, dnf `.repo` sections) and plain
//! directories of RPMs.
//!
//! [`RemoteSources::open`] reads each repository's `repomd.xml` and its primary metadata
//! (verified against repomd's checksums) into a [`repodata::RepoIndex`];
//! [`RemoteSources::find_jigdo`] resolves `NAME[-VERSION[-RELEASE]]` to the newest jigdo
//! RPM (a package providing `ostree-jigdo(v1)`); [`RemoteSources::fetch_entry`] downloads
//! it verified against the repodata checksum; [`RemoteSources::fetch_pins`] downloads
//! pinned packages in parallel, each verified against its pin's size and SHA-256 before it
//! is renamed into place, failing over to the next repository that has it.
//! [`packages_needed`] tells which pins a target repository still needs (the unpack
//! planner and the per-package cache), and [`Downloaded`] is a [`PackageSource`] over the
//! downloaded files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jigdo_format::PinnedPackage;
use ostree_store::{ObjectType, Repo};
use repo_fetch::{
    Checksum as FetchChecksum, Downloader, Expect, FetchRequest, HashKind, MirrorSet, RepoConfig,
    Source,
};
use repodata::{IndexEntry, LocalRepo, RepoIndex};

use jigdo_unpack::source::{package_file_name, PackageSource};
use jigdo_unpack::{JigdoRpm, Plan, Result, UnpackError};

/// The capability every jigdo RPM provides.
pub const JIGDO_PROVIDE: &str = "ostree-jigdo(v1)";

fn other(msg: String) -> UnpackError {
    UnpackError::Other(msg)
}

/// One repository whose metadata was read.
pub struct RemoteRepo {
    /// Name in messages (the SOURCE or the `.repo` section id).
    pub name: String,
    /// Its mirrors, most preferred first (None for a plain RPM directory).
    pub mirrors: Option<MirrorSet>,
    /// Root of a plain directory of RPMs (no repodata).
    pub dir: Option<PathBuf>,
    /// Its packages.
    pub index: RepoIndex,
    /// Whether jigdo RPMs from it must carry a signature by one of `gpgkeys`.
    pub gpgcheck: bool,
    /// Public key files (local paths) for `gpgcheck`.
    pub gpgkeys: Vec<PathBuf>,
}

/// A found package: the repository index and the entry.
#[derive(Debug, Clone)]
pub struct Found {
    /// Index into [`RemoteSources::repos`].
    pub repo: usize,
    /// The package's repodata entry.
    pub entry: IndexEntry,
}

/// The ordered repositories of one `install` or `mirror` run.
pub struct RemoteSources {
    /// Repositories in the order given.
    pub repos: Vec<RemoteRepo>,
    downloader: Arc<dyn Downloader>,
}

/// What to read: a `--from` SOURCE or a `.repo` section.
pub enum SourceSpec {
    /// A `--from` argument.
    From(String),
    /// A section of a dnf `.repo` file (only enabled ones should be given).
    Repo(Box<RepoConfig>),
}

/// Turns a `gpgkey=` value (file:// URL or path) into a local path.
fn key_path(s: &str) -> Option<PathBuf> {
    if let Some(p) = s.strip_prefix("file://") {
        return Some(PathBuf::from(p));
    }
    if s.starts_with('/') {
        return Some(PathBuf::from(s));
    }
    None
}

impl RemoteSources {
    /// Reads the metadata of every source. `md_dir` receives the downloaded metadata
    /// (one subdirectory per source). `extra_keys` (`--gpgkey`) turn on the signature
    /// check of jigdo RPMs for every source.
    pub fn open(
        downloader: Arc<dyn Downloader>,
        specs: Vec<SourceSpec>,
        md_dir: &Path,
        extra_keys: &[PathBuf],
    ) -> Result<RemoteSources> {
        let mut repos = Vec::new();
        for (i, spec) in specs.into_iter().enumerate() {
            let (name, mirrors, dir, gpgcheck, mut gpgkeys) = match spec {
                SourceSpec::From(arg) => {
                    let src = Source::parse(&arg).map_err(|e| other(e.to_string()))?;
                    match src {
                        Source::RpmDir(p) => (arg, None, Some(p), false, Vec::new()),
                        s => {
                            let m = downloader
                                .resolve(&s)
                                .map_err(|e| other(format!("source {arg}: {e}")))?;
                            (arg, Some(m), None, false, Vec::new())
                        }
                    }
                }
                SourceSpec::Repo(cfg) => {
                    let m = downloader
                        .resolve_repo(&cfg)
                        .map_err(|e| other(format!("repository {}: {e}", cfg.id)))?;
                    let keys = cfg.gpgkeys.iter().filter_map(|k| key_path(k)).collect();
                    (cfg.id.clone(), Some(m), None, cfg.gpgcheck, keys)
                }
            };
            gpgkeys.extend(extra_keys.iter().cloned());
            let gpgcheck = gpgcheck || !extra_keys.is_empty();
            let index = match (&mirrors, &dir) {
                (Some(m), _) => {
                    let d = md_dir.join(format!("{i}"));
                    read_remote_index(downloader.as_ref(), m, &d)
                        .map_err(|e| other(format!("source {name}: {e}")))?
                }
                (None, Some(d)) => read_dir_index(d)?,
                (None, None) => RepoIndex::default(),
            };
            repos.push(RemoteRepo {
                name,
                mirrors,
                dir,
                index,
                gpgcheck,
                gpgkeys,
            });
        }
        Ok(RemoteSources { repos, downloader })
    }

    /// The newest jigdo RPM matching `spec` (`NAME`, `NAME-VERSION` or
    /// `NAME-VERSION-RELEASE`) over all repositories; on a tie the first repository wins.
    pub fn find_jigdo(&self, spec: &str) -> Result<Found> {
        let mut best: Option<Found> = None;
        for (r, repo) in self.repos.iter().enumerate() {
            for e in repo.index.what_provides(JIGDO_PROVIDE, None) {
                if !matches_spec(e, spec) {
                    continue;
                }
                let newer = match &best {
                    None => true,
                    Some(b) => e.evr > b.entry.evr,
                };
                if newer {
                    best = Some(Found {
                        repo: r,
                        entry: e.clone(),
                    });
                }
            }
        }
        best.ok_or_else(|| {
            let names: Vec<&str> = self.repos.iter().map(|r| r.name.as_str()).collect();
            other(format!(
                "no jigdo RPM (a package providing {JIGDO_PROVIDE}) matches {spec:?} in {}",
                names.join(", ")
            ))
        })
    }

    /// Downloads (or copies) `found` into `dest_dir`, verified against its repodata size
    /// and checksum; with gpgcheck also checks its signature. Returns the local path.
    pub fn fetch_entry(&self, found: &Found, dest_dir: &Path) -> Result<PathBuf> {
        let repo = &self.repos[found.repo];
        let e = &found.entry;
        let file = e
            .location_href
            .rsplit('/')
            .next()
            .unwrap_or(&e.location_href)
            .to_string();
        let dest = dest_dir.join(&file);
        std::fs::create_dir_all(dest_dir).map_err(|s| UnpackError::Io {
            path: dest_dir.into(),
            source: s,
        })?;
        match (&repo.mirrors, &repo.dir) {
            (Some(m), _) => {
                let kind = HashKind::parse(e.checksum.kind.name())
                    .ok_or_else(|| other(format!("{}: unsupported checksum type", e.nevra())))?;
                let sum =
                    FetchChecksum::new(kind, &e.checksum.hex).map_err(|x| other(x.to_string()))?;
                let expect = Expect {
                    size: Some(e.size),
                    checksum: Some(sum),
                };
                let req = FetchRequest::new(e.location_href.clone(), expect, dest.clone())
                    .with_label(e.nevra());
                self.downloader
                    .fetch_file(m, &req)
                    .map_err(|x| other(format!("{} from {}: {x}", e.nevra(), repo.name)))?;
            }
            (None, Some(d)) => {
                let src = d.join(&e.location_href);
                std::fs::copy(&src, &dest).map_err(|s| UnpackError::Io {
                    path: src.clone(),
                    source: s,
                })?;
            }
            (None, None) => return Err(other("empty source".into())),
        }
        if repo.gpgcheck {
            rpm_package::build::verify_signature(&dest, &repo.gpgkeys).map_err(|x| {
                other(format!(
                    "{} from {}: signature check failed: {x}",
                    e.nevra(),
                    repo.name
                ))
            })?;
        }
        Ok(dest)
    }

    /// Downloads every package of `pins` into `dest_dir` as `NAME-VERSION-RELEASE.ARCH.rpm`,
    /// in parallel, each verified against its pin (size and SHA-256) before it is put in
    /// place; files already there and correct are kept. Each pin is tried in every
    /// repository that lists it, in order. Returns the paths in the order of `pins`.
    /// A failure names the package and every mirror tried.
    pub fn fetch_pins(&self, pins: &[PinnedPackage], dest_dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dest_dir).map_err(|s| UnpackError::Io {
            path: dest_dir.into(),
            source: s,
        })?;
        let dest = |p: &PinnedPackage| dest_dir.join(package_file_name(p));
        let mut done: Vec<Option<PathBuf>> = vec![None; pins.len()];
        let mut errors: Vec<Vec<String>> = vec![Vec::new(); pins.len()];
        for repo in &self.repos {
            // Pins still missing that this repository lists with compatible metadata.
            let mut batch: Vec<(usize, FetchRequest)> = Vec::new();
            for (i, pin) in pins.iter().enumerate() {
                if done[i].is_some() {
                    continue;
                }
                let Some(e) = lookup(&repo.index, pin) else {
                    continue;
                };
                if let Some(d) = &repo.dir {
                    let src = d.join(&e.location_href);
                    match jigdo_unpack::source::verify_pin(&src, pin) {
                        Ok(_) => done[i] = Some(src),
                        Err(x) => errors[i].push(format!("{}: {x}", repo.name)),
                    }
                    continue;
                }
                let expect = match Expect::sha256(pin.size, &pin.id_hex()) {
                    Ok(x) => x,
                    Err(x) => return Err(other(x.to_string())),
                };
                let req = FetchRequest::new(e.location_href.clone(), expect, dest(pin))
                    .with_label(pin.nevra());
                batch.push((i, req));
            }
            let Some(m) = &repo.mirrors else { continue };
            if batch.is_empty() {
                continue;
            }
            let reqs: Vec<FetchRequest> = batch.iter().map(|(_, r)| r.clone()).collect();
            let results = self.downloader.fetch_many(m, &reqs);
            for ((i, req), res) in batch.into_iter().zip(results) {
                match res {
                    Ok(_) => done[i] = Some(req.dest),
                    Err(x) => errors[i].push(format!("{}: {x}", repo.name)),
                }
            }
        }
        let mut out = Vec::with_capacity(pins.len());
        let mut failures = Vec::new();
        for (i, p) in done.into_iter().enumerate() {
            match p {
                Some(p) => out.push(p),
                None if errors[i].is_empty() => failures.push(format!(
                    "pinned package {} (sha256 {}) is not listed by any source",
                    pins[i].nevra(),
                    pins[i].id_hex()
                )),
                None => failures.push(format!(
                    "cannot download pinned package {}: {}",
                    pins[i].nevra(),
                    errors[i].join("; ")
                )),
            }
        }
        if !failures.is_empty() {
            return Err(other(failures.join("; ")));
        }
        Ok(out)
    }

    /// Bytes received over the network so far.
    pub fn bytes_downloaded(&self) -> u64 {
        self.downloader.bytes_downloaded()
    }
}

/// Whether entry `e` is the package `spec` names (`NAME`, `NAME-VERSION`,
/// `NAME-VERSION-RELEASE`, with an optional `EPOCH:` before VERSION).
pub fn matches_spec(e: &IndexEntry, spec: &str) -> bool {
    if e.name == spec {
        return true;
    }
    let Some(rest) = spec.strip_prefix(&e.name).and_then(|r| r.strip_prefix('-')) else {
        return false;
    };
    let rest = match rest.split_once(':') {
        Some((ep, r)) if ep.chars().all(|c| c.is_ascii_digit()) => {
            if ep.parse::<u64>().ok() != Some(e.evr.epoch.unwrap_or(0)) {
                return false;
            }
            r
        }
        _ => rest,
    };
    let rel = e.evr.release().unwrap_or("");
    rest == e.evr.version || rest == format!("{}-{}", e.evr.version, rel)
}

/// The entry of `idx` that is the pinned package: same name, EVR and arch, and (when the
/// repodata has a SHA-256) the same package id.
fn lookup<'a>(idx: &'a RepoIndex, pin: &PinnedPackage) -> Option<&'a IndexEntry> {
    idx.by_name(&pin.name).into_iter().find(|e| {
        e.arch == pin.arch
            && pin.epoch == e.evr.epoch.unwrap_or(0)
            && e.evr.version == pin.version
            && e.evr.release().unwrap_or("") == pin.release
            && (e.checksum.kind.name() != "sha256" || e.checksum.hex == pin.id_hex())
    })
}

/// Downloads `repomd.xml` and the primary metadata of `mirrors` into `dir` (keeping the
/// repository's layout) and indexes it; primary is verified against repomd.
fn read_remote_index(
    d: &dyn Downloader,
    mirrors: &MirrorSet,
    dir: &Path,
) -> std::result::Result<RepoIndex, String> {
    let rd = dir.join("repodata");
    std::fs::create_dir_all(&rd).map_err(|e| format!("{}: {e}", rd.display()))?;
    let repomd = d.fetch_repomd(mirrors).map_err(|e| e.to_string())?;
    let path = rd.join("repomd.xml");
    std::fs::write(&path, &repomd).map_err(|e| format!("{}: {e}", path.display()))?;
    let parsed = repodata::Repomd::parse(&repomd[..], &path).map_err(|e| e.to_string())?;
    let rec = parsed
        .record("primary")
        .ok_or_else(|| format!("{}: no primary record", path.display()))?;
    let expect = match &rec.checksum {
        Some(c) => Expect {
            size: rec.size,
            checksum: HashKind::parse(c.kind.name())
                .and_then(|k| FetchChecksum::new(k, &c.hex).ok()),
        },
        None => Expect {
            size: rec.size,
            checksum: None,
        },
    };
    let rel = rec.location_href.clone();
    if rel.contains("..") || rel.starts_with('/') {
        return Err(format!("{}: bad primary location {rel:?}", path.display()));
    }
    let req = FetchRequest::new(rel.clone(), expect, dir.join(&rel)).with_label("primary metadata");
    d.fetch_file(mirrors, &req).map_err(|e| e.to_string())?;
    let local = LocalRepo::open(dir).map_err(|e| e.to_string())?;
    local.index().map_err(|e| e.to_string())
}

/// Indexes a plain directory of RPMs by reading their headers.
fn read_dir_index(dir: &Path) -> Result<RepoIndex> {
    let found = repodata::create::find_rpms(dir).map_err(|e| other(e.to_string()))?;
    let mut idx = RepoIndex::default();
    for f in &found {
        let p = repodata::create::read_package(f, 0).map_err(|e| other(e.to_string()))?;
        if let Some(e) = IndexEntry::from_package(p) {
            idx.push(e);
        }
    }
    Ok(idx)
}

/// The indexes (into `jigdo.index.packages`) of the pinned packages that must be read to
/// rebuild the commit in the repository at `repo` — all that the tree needs something from
/// when the repository does not exist, none when the commit is already complete there,
/// else those whose objects are not all known from the per-package cache and present.
pub fn packages_needed(jigdo: &JigdoRpm, repo: &Path) -> Result<Vec<usize>> {
    let index = &jigdo.index;
    let plan = Plan::new(index).map_err(|reason| UnpackError::Corrupt {
        path: jigdo.path.clone(),
        reason,
    })?;
    if !repo.join("config").exists() {
        return Ok((0..index.packages.len())
            .filter(|&p| !plan.package_needs[p].is_empty())
            .collect());
    }
    let r = Repo::open(repo)?;
    if r.has_object(ObjectType::Commit, &jigdo.commit)
        && !r.is_commit_partial(&jigdo.commit)
        && r.is_commit_complete(&jigdo.commit)
    {
        return Ok(Vec::new());
    }
    Ok((0..index.packages.len())
        .filter(|&p| !jigdo_unpack::unpack::known_objects(&r, index, &plan, p).1)
        .collect())
}

/// A [`PackageSource`] over files already downloaded, keyed by package id.
pub struct Downloaded {
    name: String,
    files: HashMap<[u8; 32], PathBuf>,
}

impl Downloaded {
    /// The downloaded `files` of `pins` (same order), named `name` in messages.
    pub fn new(name: impl Into<String>, pins: &[PinnedPackage], files: Vec<PathBuf>) -> Self {
        Downloaded {
            name: name.into(),
            files: pins.iter().map(|p| p.id).zip(files).collect(),
        }
    }
}

impl PackageSource for Downloaded {
    fn describe(&self) -> String {
        self.name.clone()
    }
    fn candidates(&self, pkg: &PinnedPackage) -> Result<Vec<PathBuf>> {
        Ok(self.files.get(&pkg.id).cloned().into_iter().collect())
    }
}
