//! The sources of one `install` or `mirror` run, tried in order: rpm-md repositories
//! reached through `repo-fetch` (local rpm-md directories, `file://`, `http://`,
//! `https://` base URLs, `mirrorlist=`, `metalink=`, dnf `.repo` sections) and plain
//! directories of RPMs.
//!
//! [`Repos::open`] reads each repository's `repomd.xml` and, when it has one, its small
//! `jigdo` record (`specs/jigdo-record.md`); a source that cannot be reached is reported
//! ([`Event::SourceUnreachable`]) and skipped. A repository's primary metadata (verified
//! against repomd's checksums) is read only when it is needed ([`Repos::index`]).
//! [`Repos::find_jigdo`] resolves `NAME[-VERSION[-RELEASE]]` to the newest jigdo RPM (from
//! the `jigdo` records, else from primary: a package providing one of [`READ_PROVIDES`]);
//! [`Repos::fetch_entry`] downloads it verified against the record's checksum;
//! [`Repos::fetch_pins`] downloads pinned packages in parallel, each verified against its
//! pin's size and SHA-256 while it is fetched and before it is renamed into place: at the
//! pin's location (index format v2) in each repository in turn, and through the
//! repositories' primary metadata only for the pins no location served.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use jigdo_format::{PinnedPackage, READ_PROVIDES};
use repo_fetch::{
    Checksum, DigestAlgorithm, Downloader, Expect, FetchError, FetchRequest, KeptRepomd, MirrorSet,
    Origin, RepoConfig, RepoFile, Source, Vars,
};
use repodata::{Dependency, Evr, IndexEntry, JigdoEntry, LocalRepo, RepoIndex, RepomdRecord};

use crate::error::{InstallError, PinAttempt, PinFailure};
use crate::event::{Event, EventSink};
use crate::trust::{JigdoOrigin, TrustPolicy};

/// A primary metadata file this small (compressed, as repomd.xml gives its size) is read
/// rather than guessing the pins' locations: one request for exact locations instead of
/// a failed request for each pin stored elsewhere. Larger ones (a distribution's primary
/// is tens of MB) are read only for the pins no location served.
pub const SMALL_PRIMARY: u64 = 16 * 1024;

/// Where packages may come from: a `--from` SOURCE or a `.repo` section.
#[derive(Debug, Clone)]
pub enum SourceSpec {
    /// A `--from` argument.
    From(String),
    /// A section of a dnf `.repo` file (only enabled ones should be given).
    Repo(Box<RepoConfig>),
}

/// The sources of `--from` arguments, then the enabled sections of a `.repo` file and
/// of every `.repo` file in a directory (with `$basearch`/`$releasever` substituted).
pub fn source_specs(
    from: &[String],
    repofile: Option<&Path>,
    reposdir: Option<&Path>,
) -> Result<Vec<SourceSpec>, InstallError> {
    let mut specs: Vec<SourceSpec> = from.iter().cloned().map(SourceSpec::From).collect();
    let vars = Vars::from_system();
    let mut cfgs = Vec::new();
    if let Some(f) = repofile {
        cfgs.extend(RepoFile::load(f, &vars)?);
    }
    if let Some(d) = reposdir {
        cfgs.extend(RepoFile::load_dir(d, &vars)?);
    }
    specs.extend(
        cfgs.into_iter()
            .filter(|c| c.enabled)
            .map(|c| SourceSpec::Repo(Box::new(c))),
    );
    Ok(specs)
}

/// One repository of a run: its `repomd.xml` was read; its package index is read on
/// first use ([`Repos::index`]).
pub struct Repo {
    /// Name in messages (the SOURCE or the `.repo` section id).
    pub name: String,
    /// Where its files are.
    pub location: Location,
    /// Whether its `.repo` section asks for signed packages (`gpgcheck=1`).
    pub gpgcheck: bool,
    /// Public key files (local paths) of its `.repo` section (`gpgkey=`).
    pub gpgkeys: Vec<PathBuf>,
    /// Whether its `.repo` section requires a signed `repomd.xml` (`repo_gpgcheck=1`).
    pub repo_gpgcheck: bool,
    /// The check of `repodata/repomd.xml.asc` over the `repomd.xml` read: the key
    /// (fingerprint) that verified it, or why it did not; `None` when not looked for
    /// (no OpenPGP key given and no `repo_gpgcheck=1`, or a plain directory of RPMs).
    pub repomd_signature: Option<Result<String, String>>,
    /// Weaknesses of the way its metadata came (a metalink without hashes), for the
    /// trust step's warning.
    pub notes: Vec<String>,
    /// The jigdo RPMs its `jigdo` record lists (`None`: it has no such record).
    pub jigdo_record: Option<Vec<JigdoEntry>>,
    /// Whether its mirror answered 304 Not Modified to the conditional request for
    /// `repomd.xml`, so that the kept copy (and the kept files checked with it) served.
    pub repomd_not_modified: bool,
    /// What identifies the source in the kept state ([`Repos::keep_state`]).
    kept_key: String,
    /// What to keep of this run's metadata ([`Repos::keep_state`]): `repomd.xml` with
    /// its validators, the `repomd.xml.asc` that verified it, the `jigdo` record checked
    /// against it. `None` when nothing is worth keeping (a local repository).
    to_keep: Option<KeptRepomd>,
    /// `source SOURCE` or `repository ID`, for errors.
    label: String,
    /// The `primary` record of its repomd.xml (`None` for a plain directory).
    primary: Option<RepomdRecord>,
    /// Where its metadata is downloaded to.
    md_dir: PathBuf,
    /// Its packages, once read.
    index: OnceLock<RepoIndex>,
}

impl Repo {
    /// Whether its primary metadata is small enough to read rather than guess locations
    /// ([`SMALL_PRIMARY`]), or already read.
    fn index_is_cheap(&self) -> bool {
        self.index.get().is_some()
            || self
                .primary
                .as_ref()
                .is_some_and(|p| p.size.is_some_and(|s| s <= SMALL_PRIMARY))
    }
}

/// Where a repository's files are.
pub enum Location {
    /// Mirrors of an rpm-md repository, most preferred first: files are downloaded.
    Mirrors(MirrorSet),
    /// A plain directory of RPMs (no repodata): files are used in place.
    Dir(PathBuf),
}

/// A found package: the repository and its entry.
#[derive(Debug, Clone)]
pub struct Found {
    /// Index into [`Repos::list`].
    pub repo: usize,
    /// The package's repodata entry (from primary, or made from the `jigdo` record: then
    /// its only provide is the commit's).
    pub entry: IndexEntry,
}

impl Found {
    /// The commit the jigdo RPM carries (lowercase hex), from its provides.
    pub fn commit(&self) -> Option<String> {
        self.entry
            .provides
            .iter()
            .find_map(|p| jigdo_format::parse_commit_provide(&p.name))
            .map(str::to_ascii_lowercase)
    }
}

/// A pinned package in place.
#[derive(Debug, Clone)]
pub struct FetchedPin {
    /// Its file.
    pub path: PathBuf,
    /// How it got there: `Some` when the downloader put it there (and verified it, in
    /// a directory only jigdo writes), `None` when it is used in place from a plain
    /// directory of RPMs (checked when chosen, and again when it is read, since others
    /// may write that directory).
    pub origin: Option<Origin>,
    /// The repository that served it (index into [`Repos::list`]).
    pub repo: usize,
}

/// The ordered repositories of one `install` or `mirror` run.
pub struct Repos {
    /// Repositories in the order given (those that could be reached).
    pub list: Vec<Repo>,
    /// Sources that could not be reached (skipped): name and why.
    pub unreachable: Vec<(String, String)>,
    downloader: Arc<dyn Downloader>,
}

/// Where a pin is in one repository, as [`Repos::fetch_pins`] asks each.
enum PinAt {
    /// At this path relative to the repository.
    Path(String),
    /// Not there (nothing to record).
    Absent,
    /// Not there, and why (to name in the error).
    Failed(PinAttempt),
}

/// What [`Repos::fetch_pins`] has so far, per pin: where it is, and what failed; and
/// whom to tell when a pin is in place.
struct PinProgress<'a> {
    done: Vec<Option<FetchedPin>>,
    attempts: Vec<Vec<PinAttempt>>,
    on_ready: &'a (dyn Fn(usize, &FetchedPin) + Sync),
}

impl PinProgress<'_> {
    /// Pin `i` is in place (and verified): recorded, and told at once.
    fn ready(&mut self, i: usize, pin: FetchedPin) {
        (self.on_ready)(i, &pin);
        self.done[i] = Some(pin);
    }
}

/// Turns the `gpgkey=` values of a `.repo` section into local files: a path or
/// `file://` URL is used as it is, an `http://` or `https://` URL is downloaded through
/// the run's client into `dir` (`gpgkey-N`). Anything else, or a key that cannot be
/// downloaded, fails naming it.
fn section_keys(
    d: &dyn Downloader,
    repo: &str,
    values: &[String],
    dir: &Path,
) -> Result<Vec<PathBuf>, InstallError> {
    let mut keys = Vec::new();
    for (n, v) in values.iter().enumerate() {
        if let Some(p) = v.strip_prefix("file://") {
            keys.push(PathBuf::from(p));
            continue;
        }
        if v.starts_with('/') {
            keys.push(PathBuf::from(v));
            continue;
        }
        let bad = |error| InstallError::GpgKey {
            repo: repo.to_string(),
            url: v.clone(),
            error,
        };
        let remote = v.starts_with("http://") || v.starts_with("https://");
        let (base, file) = match v.rsplit_once('/') {
            Some((b, f)) if remote && !f.is_empty() => (format!("{b}/"), f),
            _ => {
                return Err(bad(FetchError::BadSource {
                    spec: v.clone(),
                    reason: "not a key file path, file://, http:// or https:// URL".into(),
                }))
            }
        };
        let mirrors = MirrorSet::from_urls(&format!("gpgkey={v}"), &[base]).map_err(bad)?;
        let bytes = d
            .fetch_bytes(&mirrors, file, &Expect::default())
            .map_err(bad)?;
        std::fs::create_dir_all(dir).map_err(|source| InstallError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(format!("gpgkey-{n}"));
        std::fs::write(&path, bytes).map_err(|source| InstallError::Io {
            path: path.clone(),
            source,
        })?;
        keys.push(path);
    }
    Ok(keys)
}

/// Whether opening a source failed because it cannot be reached (no mirror answered,
/// a mirror list or metalink could not be had), not because what it served is wrong.
fn is_unreachable(e: &InstallError) -> bool {
    matches!(
        e,
        InstallError::Source {
            error: FetchError::AllMirrorsFailed { .. }
                | FetchError::NoMirrors { .. }
                | FetchError::Metalink { .. }
                | FetchError::Mirrorlist { .. }
                | FetchError::Io { .. },
            ..
        }
    )
}

/// The index entry of a jigdo RPM listed by a `jigdo` record (its one provide is the
/// commit's), or of a delta RPM (it provides its base and its target).
fn record_entry(e: &JigdoEntry) -> IndexEntry {
    let provides = match &e.base {
        None => vec![jigdo_format::commit_provide(&e.commit)],
        Some(base) => vec![
            jigdo_format::delta::DELTA_PROVIDE.to_string(),
            jigdo_format::delta::delta_base_provide(base),
            jigdo_format::delta::delta_target_provide(&e.commit),
        ],
    };
    IndexEntry {
        name: e.name.clone(),
        arch: e.arch.clone(),
        evr: Evr::new(Some(e.epoch), e.version.clone(), Some(e.release.clone())),
        location_href: e.location.clone(),
        location_base: None,
        checksum: Checksum {
            kind: DigestAlgorithm::Sha256,
            hex: e.sha256.clone(),
        },
        size: e.size,
        provides: provides.into_iter().map(Dependency::unversioned).collect(),
        files: Vec::new(),
    }
}

impl Repos {
    /// Reads `repomd.xml` (and the `jigdo` record, if any) of every source; a source that
    /// cannot be reached is reported to `events` and skipped. `md_dir` receives the
    /// downloaded metadata (one subdirectory per source). When OpenPGP keys are given
    /// (the `--gpgkey` files of `trust`, or a section's `gpgkey=`) or a section says
    /// `repo_gpgcheck=1`, each repository's `repodata/repomd.xml.asc` is fetched and
    /// checked over the `repomd.xml` read ([`Repo::repomd_signature`]).
    ///
    /// `kept`: the directory of the sources' kept state ([`Repos::keep_state`] wrote it
    /// in an earlier run). A source with a kept `repomd.xml` is asked conditionally; on a
    /// 304 the kept copy is used, and checked as a downloaded one: against the metalink,
    /// its signature verified again with this run's keys (the kept `.asc` first, a fresh
    /// one when that does not verify), the kept `jigdo` record against the record's
    /// checksum in it. A kept state that is absent or corrupt means a full fetch.
    pub fn open(
        downloader: Arc<dyn Downloader>,
        specs: &[SourceSpec],
        md_dir: &Path,
        kept: Option<&Path>,
        trust: &TrustPolicy,
        events: &EventSink,
    ) -> Result<Repos, InstallError> {
        let gpgkeys = &trust.gpgkeys;
        let mut list = Vec::new();
        let mut unreachable = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            let name = match spec {
                SourceSpec::From(arg) => arg.clone(),
                SourceSpec::Repo(cfg) => cfg.id.clone(),
            };
            match open_one(downloader.as_ref(), spec, md_dir, kept, i, gpgkeys) {
                Ok(repo) => list.push(repo),
                Err(e) if is_unreachable(&e) => {
                    let error = e.to_string();
                    events(&Event::SourceUnreachable {
                        source: &name,
                        error: &error,
                    });
                    unreachable.push((name, error));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Repos {
            list,
            unreachable,
            downloader,
        })
    }

    /// Where `found` (a jigdo or delta RPM) came from, for the trust step: its
    /// repository's `.repo` rules and keys, and the signed `repomd.xml` link, which
    /// authenticates the RPM only when primary (or the `jigdo` record) names it by
    /// SHA-256 or SHA-512.
    pub fn origin(&self, found: &Found) -> JigdoOrigin {
        let repo = &self.list[found.repo];
        let strong = matches!(
            found.entry.checksum.kind,
            DigestAlgorithm::Sha256 | DigestAlgorithm::Sha512
        );
        let repomd = match &repo.repomd_signature {
            Some(Ok(_)) if !strong => Some(Err(format!(
                "primary names {} by {:?}, too weak to carry the signature over",
                found.entry.nevra(),
                found.entry.checksum.kind
            ))),
            other => other.clone(),
        };
        JigdoOrigin::Repository {
            name: repo.name.clone(),
            gpgcheck: repo.gpgcheck,
            gpgkeys: repo.gpgkeys.clone(),
            repo_gpgcheck: repo.repo_gpgcheck,
            repomd,
            notes: repo.notes.clone(),
        }
    }

    /// The names of the repositories, comma-separated, for messages (with the sources
    /// that could not be reached).
    pub fn names(&self) -> String {
        let mut names: Vec<String> = self.list.iter().map(|r| r.name.clone()).collect();
        names.extend(
            self.unreachable
                .iter()
                .map(|(n, _)| format!("{n} (unreachable)")),
        );
        names.join(", ")
    }

    /// The package index of repository `r` (its primary metadata, downloaded and
    /// verified against repomd.xml on first use, or the headers of a plain directory).
    pub fn index(&self, r: usize) -> Result<&RepoIndex, InstallError> {
        let repo = &self.list[r];
        if let Some(idx) = repo.index.get() {
            return Ok(idx);
        }
        let idx = match (&repo.location, &repo.primary) {
            (Location::Mirrors(m), Some(rec)) => {
                let d = self.downloader.as_ref();
                read_primary(d, &repo.label, m, rec, &repo.md_dir, &mut |_| true)?
            }
            (Location::Mirrors(_), None) => RepoIndex::default(),
            (Location::Dir(d), _) => read_dir_index(&repo.label, d)?,
        };
        Ok(repo.index.get_or_init(|| idx))
    }

    /// The package index of repository `r` if it was already read.
    pub fn index_if_read(&self, r: usize) -> Option<&RepoIndex> {
        self.list.get(r).and_then(|repo| repo.index.get())
    }

    /// The newest jigdo RPM matching `spec` (`NAME`, `NAME-VERSION` or
    /// `NAME-VERSION-RELEASE`); on a tie the first repository wins. Repositories with a
    /// `jigdo` record are searched through it, plain directories through their headers;
    /// the primary metadata of the other repositories is read only when none of those
    /// has a match.
    pub fn find_jigdo(&self, spec: &str) -> Result<Found, InstallError> {
        let mut best: Option<Found> = None;
        let consider = |r: usize, e: &IndexEntry, best: &mut Option<Found>| {
            if matches_spec(e, spec) && best.as_ref().is_none_or(|b| e.evr > b.entry.evr) {
                *best = Some(Found {
                    repo: r,
                    entry: e.clone(),
                });
            }
        };
        let provides = |index: &RepoIndex| -> Vec<IndexEntry> {
            READ_PROVIDES
                .iter()
                .flat_map(|p| index.what_provides(p, None))
                .cloned()
                .collect()
        };
        for (r, repo) in self.list.iter().enumerate() {
            for e in repo.jigdo_record.iter().flatten() {
                if e.base.is_none() {
                    consider(r, &record_entry(e), &mut best);
                }
            }
            // A plain directory is read locally: always searched.
            if matches!(repo.location, Location::Dir(_)) {
                for e in provides(self.index(r)?) {
                    consider(r, &e, &mut best);
                }
            }
        }
        if best.is_none() {
            for (r, repo) in self.list.iter().enumerate() {
                if repo.jigdo_record.is_some() || matches!(repo.location, Location::Dir(_)) {
                    continue;
                }
                for e in provides(self.index(r)?) {
                    consider(r, &e, &mut best);
                }
            }
        }
        best.ok_or_else(|| InstallError::NoJigdo {
            spec: spec.to_string(),
            sources: self.names(),
        })
    }

    /// Every delta RPM in the sources whose target is the commit of `found`, with its
    /// base commit, in source order. A `jigdo` record lists them; a repository without
    /// one is searched by the deltas' Provides in its primary metadata, read for the
    /// jigdo RPM's own repository only (others only if already read).
    pub fn deltas_to(&self, found: &Found) -> Vec<(Found, ostree_store::Checksum)> {
        let Some(target) = found.commit() else {
            return Vec::new();
        };
        let provide = jigdo_format::delta::delta_target_provide(&target);
        let mut out = Vec::new();
        for (r, repo) in self.list.iter().enumerate() {
            let candidates: Vec<IndexEntry> = match &repo.jigdo_record {
                Some(record) => record
                    .iter()
                    .filter(|e| e.base.is_some() && e.commit == target)
                    .map(record_entry)
                    .collect(),
                None => {
                    let index = if r == found.repo {
                        self.index(r).ok()
                    } else {
                        self.index_if_read(r)
                    };
                    index
                        .into_iter()
                        .flat_map(|i| i.what_provides(&provide, None))
                        .cloned()
                        .collect()
                }
            };
            for entry in candidates {
                let base = entry
                    .provides
                    .iter()
                    .find_map(|p| jigdo_format::delta::parse_delta_base_provide(&p.name))
                    .and_then(|b| {
                        b.to_ascii_lowercase()
                            .parse::<ostree_store::Checksum>()
                            .ok()
                    });
                if let Some(base) = base {
                    out.push((Found { repo: r, entry }, base));
                }
            }
        }
        out
    }

    /// Whether the download cache (`--cache`) holds a verified copy of `found` (a jigdo
    /// or delta RPM), so that fetching it costs no request. `scratch` is a directory the
    /// probe may link the copy into (and removes it from).
    pub fn entry_in_cache(&self, found: &Found, scratch: &Path) -> bool {
        let e = &found.entry;
        self.in_cache(
            Expect {
                size: Some(e.size),
                checksum: Some(e.checksum.clone()),
            },
            scratch,
        )
    }

    /// Whether the download cache (`--cache`) holds a verified copy of `pin` (see
    /// [`Repos::entry_in_cache`]).
    pub fn pin_in_cache(&self, pin: &PinnedPackage, scratch: &Path) -> bool {
        self.in_cache(pin_expect(pin), scratch)
    }

    fn in_cache(&self, expect: Expect, scratch: &Path) -> bool {
        if std::fs::create_dir_all(scratch).is_err() {
            return false;
        }
        let req = FetchRequest::new("", expect, scratch.join("probe"));
        let _ = std::fs::remove_file(&req.dest);
        let found = self.downloader.metadata().local_copy(&req);
        let _ = std::fs::remove_file(&req.dest);
        matches!(found, Ok(Some(_)))
    }

    /// Downloads (or copies) `found` into `dest_dir`, verified against its repodata size
    /// and checksum. Returns the local path.
    pub fn fetch_entry(&self, found: &Found, dest_dir: &Path) -> Result<PathBuf, InstallError> {
        self.fetch_entry_after(found, dest_dir, &[])
    }

    /// [`Repos::fetch_entry`] when its first bytes were read already (`head`, from
    /// [`Repos::fetch_entry_range`]): only the rest is downloaded
    /// ([`Downloader::fetch_file_after`]), and the whole file verified.
    pub fn fetch_entry_after(
        &self,
        found: &Found,
        dest_dir: &Path,
        head: &[u8],
    ) -> Result<PathBuf, InstallError> {
        let repo = &self.list[found.repo];
        let e = &found.entry;
        let dest = file_in(dest_dir, e.file_name())?;
        std::fs::create_dir_all(dest_dir).map_err(|source| InstallError::Io {
            path: dest_dir.into(),
            source,
        })?;
        match &repo.location {
            Location::Mirrors(m) => {
                let expect = Expect {
                    size: Some(e.size),
                    checksum: Some(e.checksum.clone()),
                };
                let req = FetchRequest::new(e.location_href.clone(), expect, dest.clone())
                    .with_label(e.nevra());
                let fetched = if head.is_empty() {
                    self.downloader.fetch_file(m, &req)
                } else {
                    self.downloader.fetch_file_after(m, &req, head)
                };
                fetched.map_err(|error| InstallError::Download {
                    what: e.nevra(),
                    source_name: repo.name.clone(),
                    error,
                })?;
            }
            Location::Dir(d) => {
                let src = d.join(&e.location_href);
                std::fs::copy(&src, &dest).map_err(|source| InstallError::Io {
                    path: src.clone(),
                    source,
                })?;
            }
        }
        Ok(dest)
    }

    /// Bytes `start..start + len` of `found` (fewer at its end), unverified: a range
    /// request to its repository's mirrors ([`Downloader::fetch_range`]), or read in place
    /// from a plain directory. The caller authenticates what it reads of them.
    pub fn fetch_entry_range(
        &self,
        found: &Found,
        start: u64,
        len: u64,
    ) -> Result<Vec<u8>, InstallError> {
        let repo = &self.list[found.repo];
        let e = &found.entry;
        match &repo.location {
            Location::Mirrors(m) => self
                .downloader
                .fetch_range(m, &e.location_href, &e.nevra(), start, len)
                .map_err(|error| InstallError::Download {
                    what: e.nevra(),
                    source_name: repo.name.clone(),
                    error,
                }),
            Location::Dir(d) => {
                use std::io::{Read, Seek};
                let src = d.join(&e.location_href);
                let io = |source| InstallError::Io {
                    path: src.clone(),
                    source,
                };
                let mut f = std::fs::File::open(&src).map_err(io)?;
                f.seek(std::io::SeekFrom::Start(start)).map_err(io)?;
                let mut data = Vec::new();
                f.take(len).read_to_end(&mut data).map_err(io)?;
                Ok(data)
            }
        }
    }

    /// Puts every package of `pins` in place: downloaded into `dest_dir` as
    /// `NAME-VERSION-RELEASE.ARCH.rpm`, in parallel, each verified against its pin (size
    /// and SHA-256) before it is put in place (files already there and correct are
    /// kept), or found in a plain directory of RPMs and checked there. First each
    /// repository in turn is asked for the pins at their locations (index format v2;
    /// where a repository's primary is small or already read, it is looked up there
    /// instead); the pins no location served are then looked up in the primary of each
    /// repository in turn. The requests carry the pin's index in `pins` as their
    /// [`FetchRequest::tag`]. Returns one [`FetchedPin`] per pin, in order. A failure
    /// names every package that could not be had and each repository tried.
    pub fn fetch_pins(
        &self,
        pins: &[PinnedPackage],
        dest_dir: &Path,
    ) -> Result<Vec<FetchedPin>, InstallError> {
        self.fetch_pins_each(pins, dest_dir, &|_, _| {})
    }

    /// [`Repos::fetch_pins`], calling `on_ready(i, pin)` as soon as pin `i` is in place
    /// and verified (a download checked against the pin while it was fetched, or a file
    /// of a plain directory checked where it is), while the others are still fetched.
    /// Called once per pin put in place, from whichever thread finished it.
    pub fn fetch_pins_each(
        &self,
        pins: &[PinnedPackage],
        dest_dir: &Path,
        on_ready: &(dyn Fn(usize, &FetchedPin) + Sync),
    ) -> Result<Vec<FetchedPin>, InstallError> {
        std::fs::create_dir_all(dest_dir).map_err(|source| InstallError::Io {
            path: dest_dir.into(),
            source,
        })?;
        let mut progress = PinProgress {
            done: vec![None; pins.len()],
            attempts: (0..pins.len()).map(|_| Vec::new()).collect(),
            on_ready,
        };
        let mut searched = vec![false; self.list.len()];
        // 1. By location (or through a primary that costs less than guessing).
        for (r, repo) in self.list.iter().enumerate() {
            if repo.index_is_cheap() {
                searched[r] = true;
                self.fetch_listed(r, pins, dest_dir, &mut progress)?;
                continue;
            }
            self.fetch_at(r, pins, dest_dir, &mut progress, &|pin| {
                let at = |d: &Path| d.join(&pin.location).is_file();
                match &repo.location {
                    _ if pin.location.is_empty() => PinAt::Absent,
                    Location::Dir(d) if !at(d) => PinAt::Absent,
                    _ => PinAt::Path(pin.location.clone()),
                }
            })?;
        }
        // 2. The rest through each repository's primary metadata.
        for (r, searched) in searched.into_iter().enumerate() {
            if searched || progress.done.iter().all(Option::is_some) {
                continue;
            }
            self.fetch_listed(r, pins, dest_dir, &mut progress)?;
        }
        let mut out = Vec::with_capacity(pins.len());
        let mut failures = Vec::new();
        for ((pin, fetched), attempts) in pins.iter().zip(progress.done).zip(progress.attempts) {
            match fetched {
                Some(f) => out.push(f),
                None => failures.push(PinFailure {
                    nevra: pin.nevra(),
                    id: pin.id_hex(),
                    attempts,
                    unreachable: self.unreachable.iter().map(|(n, _)| n.clone()).collect(),
                }),
            }
        }
        if !failures.is_empty() {
            return Err(InstallError::PackagesUnavailable(failures));
        }
        Ok(out)
    }

    /// Puts in place the pins still missing that repository `r` lists in its package
    /// index (read on first use) with their package id; a pin listed with another
    /// SHA-256 (another build of the NEVRA) is recorded as such.
    fn fetch_listed(
        &self,
        r: usize,
        pins: &[PinnedPackage],
        dest_dir: &Path,
        progress: &mut PinProgress<'_>,
    ) -> Result<(), InstallError> {
        let repo = &self.list[r];
        let only_pins;
        let index = match (&repo.location, &repo.primary) {
            // A large primary (a distribution's, tens of thousands of packages) not read
            // yet: streamed, keeping only the entries named like a pin still missing.
            (Location::Mirrors(m), Some(rec)) if !repo.index_is_cheap() => {
                let names: std::collections::HashSet<&str> = (pins.iter().zip(&progress.done))
                    .filter(|(_, done)| done.is_none())
                    .map(|(pin, _)| pin.name.as_str())
                    .collect();
                let d = self.downloader.as_ref();
                let keep = &mut |p: &repodata::Package| names.contains(p.name.as_str());
                only_pins = read_primary(d, &repo.label, m, rec, &repo.md_dir, keep)?;
                &only_pins
            }
            _ => self.index(r)?,
        };
        let name = &repo.name;
        self.fetch_at(
            r,
            pins,
            dest_dir,
            progress,
            &|pin| match lookup(index, pin) {
                Some(e) => PinAt::Path(e.location_href.clone()),
                // The NEVRA listed with another SHA-256: another build, named in the error
                // instead of "not listed".
                None => match other_build(index, pin) {
                    Some(other) => PinAt::Failed(PinAttempt::OtherBuild {
                        source_name: name.clone(),
                        listed: other.checksum.hex.clone(),
                    }),
                    None => PinAt::Absent,
                },
            },
        )
    }

    /// Puts in place the pins still missing for which `rel_of` gives a path relative to
    /// repository `r` (recording the failures it gives): checked where they are in a
    /// plain directory, else downloaded from its mirrors in parallel.
    fn fetch_at(
        &self,
        r: usize,
        pins: &[PinnedPackage],
        dest_dir: &Path,
        progress: &mut PinProgress<'_>,
        rel_of: &dyn Fn(&PinnedPackage) -> PinAt,
    ) -> Result<(), InstallError> {
        let repo = &self.list[r];
        let mut batch: Vec<(usize, FetchRequest)> = Vec::new();
        for (i, pin) in pins.iter().enumerate() {
            if progress.done[i].is_some() {
                continue;
            }
            let rel = match rel_of(pin) {
                PinAt::Path(rel) => rel,
                PinAt::Absent => continue,
                PinAt::Failed(attempt) => {
                    progress.attempts[i].push(attempt);
                    continue;
                }
            };
            match &repo.location {
                Location::Dir(d) => {
                    let src = d.join(&rel);
                    match jigdo_unpack::source::verify_pin(&src, pin) {
                        Ok(_) => progress.ready(
                            i,
                            FetchedPin {
                                path: src,
                                origin: None,
                                repo: r,
                            },
                        ),
                        Err(error) => progress.attempts[i].push(PinAttempt::Local {
                            source_name: repo.name.clone(),
                            error,
                        }),
                    }
                }
                Location::Mirrors(_) => {
                    let name = jigdo_unpack::source::package_file_name(pin);
                    let dest = file_in(dest_dir, &name)?;
                    let req = FetchRequest::new(rel, pin_expect(pin), dest)
                        .with_label(pin.nevra())
                        .with_tag(i);
                    batch.push((i, req));
                }
            }
        }
        let Location::Mirrors(m) = &repo.location else {
            return Ok(());
        };
        if batch.is_empty() {
            return Ok(());
        }
        let reqs: Vec<FetchRequest> = batch.iter().map(|(_, r)| r.clone()).collect();
        // Each download is told as soon as it is in place (verified while fetched).
        let fetched = |req: &FetchRequest, report: &repo_fetch::FetchReport| FetchedPin {
            path: req.dest.clone(),
            origin: Some(report.origin),
            repo: r,
        };
        let on_ready = progress.on_ready;
        let results = self.downloader.fetch_each(m, &reqs, &|t, res| {
            if let (Some((i, req)), Ok(report)) = (batch.get(t), res) {
                on_ready(*i, &fetched(req, report));
            }
        });
        for ((i, req), res) in batch.iter().zip(results) {
            match res {
                Ok(report) => progress.done[*i] = Some(fetched(req, &report)),
                Err(error) => progress.attempts[*i].push(PinAttempt::Download {
                    source_name: repo.name.clone(),
                    error,
                }),
            }
        }
        Ok(())
    }

    /// Bytes received over the network so far.
    pub fn bytes_downloaded(&self) -> u64 {
        self.downloader.bytes_downloaded()
    }

    /// Keeps each repository's `repomd.xml` of this run (with its validators, the
    /// `repomd.xml.asc` that verified it and the `jigdo` record checked against it) in
    /// `dir`, one file per source written atomically, for the next run's conditional
    /// request ([`Repos::open`]'s `kept`). Failing to write is only logged.
    pub fn keep_state(&self, dir: &Path) {
        for repo in &self.list {
            let Some(k) = &repo.to_keep else {
                continue;
            };
            let path = KeptRepomd::path(dir, &repo.kept_key);
            if let Err(e) = k.save(&path, &repo.kept_key) {
                tracing::warn!(path = %path.display(), error = %e, "cannot keep repomd.xml for the next run");
            }
        }
    }
}

/// What identifies a source in the kept state: its SOURCE (normalised), or a `.repo`
/// section's file, id and where its metadata comes from.
fn kept_key(spec: &SourceSpec, source: Option<&Source>) -> String {
    match (spec, source) {
        (_, Some(s)) => format!("source {s}"),
        (SourceSpec::From(arg), None) => format!("source {arg}"),
        (SourceSpec::Repo(c), _) => format!(
            "repository {} in {}: baseurl={:?} metalink={:?} mirrorlist={:?}",
            c.id,
            c.file.display(),
            c.baseurls,
            c.metalink,
            c.mirrorlist
        ),
    }
}

/// `dir/name` when `name` is one plain file name (no `/`, not `.` or `..`, not hidden):
/// every file name taken from metadata or an index goes through here, so nothing is
/// written outside the download directory.
pub(crate) fn file_in(dir: &Path, name: &str) -> Result<PathBuf, InstallError> {
    let mut parts = Path::new(name).components();
    match (parts.next(), parts.next()) {
        (Some(std::path::Component::Normal(n)), None) if !name.starts_with('.') => Ok(dir.join(n)),
        _ => Err(InstallError::BadFileName {
            name: name.to_string(),
            dir: dir.to_path_buf(),
        }),
    }
}

/// What a download of `pin` must be: its size and SHA-256.
fn pin_expect(pin: &PinnedPackage) -> Expect {
    Expect {
        size: Some(pin.size),
        checksum: Some(Checksum::sha256(pin.id)),
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
fn lookup<'a>(idx: &'a RepoIndex, pin: &'a PinnedPackage) -> Option<&'a IndexEntry> {
    same_nevra(idx, pin)
        .find(|e| e.checksum.kind != DigestAlgorithm::Sha256 || e.checksum.hex == pin.id_hex())
}

/// The entry of `idx` with the pinned package's name, EVR and arch but another SHA-256
/// (another build of the same NEVRA), if any.
fn other_build<'a>(idx: &'a RepoIndex, pin: &'a PinnedPackage) -> Option<&'a IndexEntry> {
    same_nevra(idx, pin)
        .find(|e| e.checksum.kind == DigestAlgorithm::Sha256 && e.checksum.hex != pin.id_hex())
}

/// The entries of `idx` with the pinned package's name, EVR and arch.
fn same_nevra<'a>(
    idx: &'a RepoIndex,
    pin: &'a PinnedPackage,
) -> impl Iterator<Item = &'a IndexEntry> + 'a {
    idx.by_name(&pin.name).into_iter().filter(|e| {
        e.arch == pin.arch
            && pin.epoch == e.evr.epoch.unwrap_or(0)
            && e.evr.version == pin.version
            && e.evr.release().unwrap_or("") == pin.release
    })
}

/// Opens source number `i`: its mirrors (or directory), `repomd.xml`, its signature when
/// keys are given (`gpgkeys` and the section's) or required, and the `jigdo` record.
fn open_one(
    d: &dyn Downloader,
    spec: &SourceSpec,
    md_dir: &Path,
    kept_dir: Option<&Path>,
    i: usize,
    gpgkeys: &[PathBuf],
) -> Result<Repo, InstallError> {
    let (name, label) = match spec {
        SourceSpec::From(arg) => (arg.clone(), format!("source {arg}")),
        SourceSpec::Repo(cfg) => (cfg.id.clone(), format!("repository {}", cfg.id)),
    };
    let source_err = |error| InstallError::Source {
        name: label.clone(),
        error,
    };
    let mut parsed = None;
    let (location, gpgcheck, repo_gpgcheck, keys) = match spec {
        SourceSpec::From(arg) => match Source::parse(arg).map_err(source_err)? {
            Source::RpmDir(p) => (Location::Dir(p), false, false, Vec::new()),
            s => {
                let m = d.resolve(&s).map_err(source_err)?;
                parsed = Some(s);
                (Location::Mirrors(m), false, false, Vec::new())
            }
        },
        SourceSpec::Repo(cfg) => {
            let m = d.resolve_repo(cfg).map_err(source_err)?;
            let keys = section_keys(d, &cfg.id, &cfg.gpgkeys, &md_dir.join(format!("{i}-keys")))?;
            (Location::Mirrors(m), cfg.gpgcheck, cfg.repo_gpgcheck, keys)
        }
    };
    let dir = md_dir.join(i.to_string());
    let key = kept_key(spec, parsed.as_ref());
    let mut notes = Vec::new();
    let mut to_keep = None;
    let mut not_modified = false;
    let (primary, jigdo_record, repomd_signature) = match &location {
        Location::Mirrors(m) => {
            if let Some(url) = m.unchecked_metalink() {
                notes.push(format!(
                    "metalink {url} lists no hash for repomd.xml (its mirrors' metadata is \
                     checked against nothing)"
                ));
            }
            let kept = kept_dir.and_then(|k| KeptRepomd::load(&KeptRepomd::path(k, &key), &key));
            let mut md = read_repomd(d, &label, m, &dir, kept.as_ref())?;
            let mut all_keys = keys.clone();
            all_keys.extend(gpgkeys.iter().cloned());
            let wanted = repo_gpgcheck || !all_keys.is_empty();
            // The kept signature is offered only with the very repomd.xml it was kept
            // with; it is verified again here either way.
            let kept_asc = kept
                .as_ref()
                .filter(|k| k.repomd == md.repomd)
                .and_then(|k| k.file(REPOMD_ASC));
            let mut signature =
                wanted.then(|| check_repomd_signature(d, m, &dir, &all_keys, kept_asc));
            if md.not_modified && matches!(signature, Some((Err(_), _))) {
                // The kept copy does not verify (with these keys, or it was altered
                // where it is kept): nothing of it is used; everything fetched in full.
                md = read_repomd(d, &label, m, &dir, None)?;
                signature = Some(check_repomd_signature(d, m, &dir, &all_keys, None));
            }
            not_modified = md.not_modified;
            let unchanged = |k: &KeptRepomd| kept.as_ref().is_some_and(|old| old == k);
            if let Some(validators) = md.validators {
                let mut files = Vec::new();
                if let Some((Ok(_), Some(asc))) = &signature {
                    files.push((REPOMD_ASC.to_string(), asc.clone()));
                }
                if let Some((rel, data)) = md.record_file {
                    files.push((rel, data));
                }
                // What is kept already is not written again.
                to_keep = Some(KeptRepomd {
                    validators,
                    repomd: md.repomd,
                    files,
                })
                .filter(|k| !unchanged(k));
            }
            (Some(md.primary), md.record, signature.map(|(s, _)| s))
        }
        Location::Dir(_) => (None, None, None),
    };
    Ok(Repo {
        name,
        location,
        gpgcheck,
        gpgkeys: keys,
        repo_gpgcheck,
        repomd_signature,
        notes,
        jigdo_record,
        repomd_not_modified: not_modified,
        kept_key: key,
        to_keep,
        label,
        primary,
        md_dir: dir,
        index: OnceLock::new(),
    })
}

/// A metadata file's location from repomd.xml, refused when it leaves the repository.
fn record_href<'a>(rec: &'a RepomdRecord, repomd: &Path) -> Result<&'a str, InstallError> {
    let rel = rec.location_href.as_str();
    if rel.contains("..") || rel.starts_with('/') {
        return Err(InstallError::BadRepomd {
            path: repomd.to_path_buf(),
            reason: format!("bad {} location {rel:?}", rec.data_type),
        });
    }
    Ok(rel)
}

/// What repomd.xml promises of a record's file: its size and checksum.
fn record_expect(rec: &RepomdRecord) -> Expect {
    Expect {
        size: rec.size,
        checksum: rec.checksum.clone(),
    }
}

/// Where a repository's signature over `repomd.xml` is, relative to its base URL.
const REPOMD_ASC: &str = "repodata/repomd.xml.asc";

/// What [`read_repomd`] read of one repository.
struct ReadRepomd {
    /// The `repomd.xml` bytes.
    repomd: Vec<u8>,
    /// Whether they are the kept copy, confirmed by a 304.
    not_modified: bool,
    /// The validators to keep them with (`None`: a `file://` mirror).
    validators: Option<repo_fetch::Validators>,
    /// Its `primary` record.
    primary: RepomdRecord,
    /// The jigdo RPMs its `jigdo` record lists, if it has one.
    record: Option<Vec<JigdoEntry>>,
    /// That record's file (location, bytes), verified against `repomd`.
    record_file: Option<(String, Vec<u8>)>,
}

/// Downloads `repomd.xml` of `mirrors` (conditionally on `kept`, the source's last copy)
/// into `dir/repodata` and, when it has a `jigdo` record, that record's file (verified
/// against repomd.xml; a kept copy that verifies is used without a request), parsed.
fn read_repomd(
    d: &dyn Downloader,
    name: &str,
    mirrors: &MirrorSet,
    dir: &Path,
    kept: Option<&KeptRepomd>,
) -> Result<ReadRepomd, InstallError> {
    let fetch_err = |error: FetchError| InstallError::Source {
        name: name.to_string(),
        error,
    };
    let md_err = |error: repodata::Error| InstallError::Metadata {
        name: name.to_string(),
        error,
    };
    let rd = dir.join("repodata");
    std::fs::create_dir_all(&rd).map_err(|source| InstallError::Io {
        path: rd.clone(),
        source,
    })?;
    let fetched = d.fetch_repomd_since(mirrors, kept).map_err(fetch_err)?;
    let repomd = fetched.data;
    let path = rd.join("repomd.xml");
    std::fs::write(&path, &repomd).map_err(|source| InstallError::Io {
        path: path.clone(),
        source,
    })?;
    let parsed = repodata::Repomd::parse(&repomd[..], &path).map_err(md_err)?;
    let primary = parsed
        .record("primary")
        .cloned()
        .ok_or_else(|| InstallError::BadRepomd {
            path: path.clone(),
            reason: "no primary record".into(),
        })?;
    record_href(&primary, &path)?;
    let mut read = ReadRepomd {
        repomd: Vec::new(),
        not_modified: fetched.not_modified,
        validators: fetched.validators,
        primary,
        record: None,
        record_file: None,
    };
    let Some(rec) = parsed.record(repodata::jigdo_record::RECORD_TYPE) else {
        read.repomd = repomd;
        return Ok(read);
    };
    let rel = record_href(rec, &path)?;
    let expect = record_expect(rec);
    let data = match kept
        .and_then(|k| k.file(rel))
        .filter(|data| expect.check_bytes(data).is_ok())
    {
        Some(data) => data.to_vec(),
        None => d.fetch_bytes(mirrors, rel, &expect).map_err(fetch_err)?,
    };
    let file = dir.join(rel);
    let decoded =
        repodata::compress::decoder_limited(&data[..], MAX_JIGDO_RECORD).map_err(|source| {
            InstallError::Io {
                path: file.clone(),
                source,
            }
        })?;
    let entries = repodata::jigdo_record::parse(decoded, &file).map_err(md_err)?;
    read.record = Some(entries);
    read.record_file = Some((rel.to_string(), data));
    read.repomd = repomd;
    Ok(read)
}

/// Largest decompressed `jigdo` record read (it lists a few jigdo RPMs: a few KB).
const MAX_JIGDO_RECORD: u64 = 64 << 20;

/// Downloads the primary metadata `rec` of `mirrors` into `dir` (beside the
/// `repodata/repomd.xml` [`read_repomd`] wrote, keeping the repository's layout), verified
/// against repomd, and indexes the packages `keep` accepts (streamed: the others are
/// never held).
fn read_primary(
    d: &dyn Downloader,
    name: &str,
    mirrors: &MirrorSet,
    rec: &RepomdRecord,
    dir: &Path,
    keep: &mut dyn FnMut(&repodata::Package) -> bool,
) -> Result<RepoIndex, InstallError> {
    let rel = record_href(rec, &dir.join("repodata/repomd.xml"))?;
    let req =
        FetchRequest::new(rel, record_expect(rec), dir.join(rel)).with_label("primary metadata");
    d.fetch_file(mirrors, &req)
        .map_err(|error| InstallError::Source {
            name: name.to_string(),
            error,
        })?;
    LocalRepo::open(dir)
        .and_then(|local| local.index_where(keep))
        .map_err(|error| InstallError::Metadata {
            name: name.to_string(),
            error,
        })
}

/// Checks `repodata/repomd.xml.asc` over the `repomd.xml` that [`read_repomd`] put in
/// `dir`, with `keys`: `kept` (the signature kept with that same `repomd.xml`) when it
/// verifies, else one fetched from `mirrors`. Returns the fingerprint of the key that
/// verified it, or why nothing did, and the signature's bytes.
fn check_repomd_signature(
    d: &dyn Downloader,
    mirrors: &MirrorSet,
    dir: &Path,
    keys: &[PathBuf],
    kept: Option<&[u8]>,
) -> (Result<String, String>, Option<Vec<u8>>) {
    if keys.is_empty() {
        return (
            Err("no OpenPGP key given (gpgkey= or --gpgkey)".into()),
            None,
        );
    }
    let repomd_path = dir.join("repodata/repomd.xml");
    let repomd = match std::fs::read(&repomd_path) {
        Ok(r) => r,
        Err(e) => return (Err(format!("{}: {e}", repomd_path.display())), None),
    };
    let mut loaded = Vec::new();
    for k in keys {
        match repodata::signature::load_public_keys(k) {
            Ok(v) => loaded.extend(v),
            Err(e) => return (Err(e.to_string()), None),
        }
    }
    let label = dir.join(REPOMD_ASC);
    let verify = |asc: &[u8]| {
        repodata::signature::verify_detached_bytes(&repomd, asc, &label, &loaded)
            .map_err(|e| e.to_string())
    };
    if let Some(asc) = kept {
        if let Ok(fpr) = verify(asc) {
            return (Ok(fpr), Some(asc.to_vec()));
        }
    }
    match d.fetch_bytes(mirrors, REPOMD_ASC, &Expect::default()) {
        Ok(asc) => (verify(&asc), Some(asc)),
        Err(e) => (Err(format!("{REPOMD_ASC}: {e}")), None),
    }
}

/// Indexes a plain directory of RPMs by reading their headers.
fn read_dir_index(name: &str, dir: &Path) -> Result<RepoIndex, InstallError> {
    let md_err = |error: repodata::Error| InstallError::Metadata {
        name: name.to_string(),
        error,
    };
    let found = repodata::create::find_rpms(dir).map_err(md_err)?;
    let mut idx = RepoIndex::default();
    for f in &found {
        let p = repodata::create::read_package(f, 0).map_err(md_err)?;
        if let Some(e) = IndexEntry::from_package(p) {
            idx.push(e);
        }
    }
    Ok(idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, evr: &str) -> IndexEntry {
        IndexEntry {
            name: name.into(),
            arch: "x86_64".into(),
            evr: Evr::parse(evr),
            location_href: format!("Packages/{name}.rpm"),
            location_base: None,
            checksum: Checksum::sha256([7; 32]),
            size: 1,
            provides: Vec::new(),
            files: Vec::new(),
        }
    }

    #[test]
    fn file_names_from_metadata_stay_in_their_directory() {
        let d = Path::new("/downloads");
        assert_eq!(
            file_in(d, "a-1-1.noarch.rpm").unwrap(),
            d.join("a-1-1.noarch.rpm")
        );
        for bad in [
            "..",
            ".",
            "",
            "../x.rpm",
            "a/b.rpm",
            "/etc/x.rpm",
            ".hidden.rpm",
        ] {
            assert!(file_in(d, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_spec_names_the_package_with_or_without_version_release_and_epoch() {
        let e = entry("example-os", "2:1.0-3");
        for spec in [
            "example-os",
            "example-os-1.0",
            "example-os-1.0-3",
            "example-os-2:1.0-3",
        ] {
            assert!(matches_spec(&e, spec), "{spec}");
        }
        for spec in [
            "example",
            "example-os-1",
            "example-os-1.0-4",
            "example-os-1:1.0-3",
        ] {
            assert!(!matches_spec(&e, spec), "{spec}");
        }
    }

    #[test]
    fn a_pin_is_found_only_with_its_exact_evr_arch_and_package_id() {
        let pin = PinnedPackage {
            name: "a".into(),
            epoch: 0,
            version: "1.0".into(),
            release: "1".into(),
            arch: "x86_64".into(),
            id: [7; 32],
            size: 1,
            location: String::new(),
        };
        let mut idx = RepoIndex::default();
        idx.push(entry("a", "1.0-2"));
        assert!(lookup(&idx, &pin).is_none());
        let mut other_id = entry("a", "1.0-1");
        other_id.checksum = Checksum::sha256([8; 32]);
        idx.push(other_id);
        assert!(lookup(&idx, &pin).is_none());
        idx.push(entry("a", "1.0-1"));
        assert_eq!(
            lookup(&idx, &pin).map(|e| e.checksum.hex.clone()),
            Some(pin.id_hex())
        );
    }

    /// The fallback through a large primary (not [`SMALL_PRIMARY`]) finds a pin stored
    /// away from its location, and keeps no index of the whole repository: the primary
    /// is streamed and only the entries named like a pin are held.
    #[test]
    fn the_primary_fallback_holds_only_the_pins_entries() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("os");
        let body = b"the bytes the pin names (a stand-in for an RPM)";
        let stored = "Packages/real/wanted-1.0-1.noarch.rpm";
        std::fs::create_dir_all(root.join("Packages/real")).unwrap();
        std::fs::write(root.join(stored), body).unwrap();
        let sum = Checksum::of(DigestAlgorithm::Sha256, body);
        let package = |name: String, checksum: Checksum, href: String, size: u64| {
            let mut p = repodata::Package {
                checksum: Some(checksum),
                name,
                arch: "noarch".into(),
                version: "1.0".into(),
                release: "1".into(),
                location_href: href,
                size_package: size,
                ..Default::default()
            };
            p.provides.push(Dependency::unversioned(p.name.clone()));
            p
        };
        let mut pkgs: Vec<repodata::Package> = (0..20_000u32)
            .map(|i| {
                let mut id = [0u8; 32];
                id[..4].copy_from_slice(&i.to_be_bytes());
                let href = format!("Packages/p/pkg{i}-1.0-1.noarch.rpm");
                package(format!("pkg{i}"), Checksum::sha256(id), href, 100)
            })
            .collect();
        pkgs.push(package(
            "wanted".into(),
            sum.clone(),
            stored.into(),
            body.len() as u64,
        ));
        pkgs.sort_by(|a, b| a.name.cmp(&b.name));
        repodata::create::publish(&root, &pkgs, &repodata::CreateOptions::default()).unwrap();
        let primary = LocalRepo::open(&root)
            .unwrap()
            .repomd()
            .record("primary")
            .cloned();
        assert!(primary.unwrap().size.unwrap() > SMALL_PRIMARY);

        let downloader = repo_fetch::Backend::Http
            .downloader(repo_fetch::FetchOptions::default(), None)
            .unwrap();
        let events: EventSink = Arc::new(|_: &Event<'_>| {});
        let specs = [SourceSpec::From(format!("file://{}", root.display()))];
        let md = tmp.path().join("md");
        let repos = Repos::open(
            downloader,
            &specs,
            &md,
            None,
            &TrustPolicy::default(),
            &events,
        )
        .unwrap();
        let mut id = [0u8; 32];
        for (i, b) in id.iter_mut().enumerate() {
            *b = u8::from_str_radix(&sum.hex[2 * i..2 * i + 2], 16).unwrap();
        }
        let pin = PinnedPackage {
            name: "wanted".into(),
            epoch: 0,
            version: "1.0".into(),
            release: "1".into(),
            arch: "noarch".into(),
            id,
            size: body.len() as u64,
            location: "wanted-1.0-1.noarch.rpm".into(),
        };
        let got = repos.fetch_pins(&[pin], &tmp.path().join("dl")).unwrap();
        assert_eq!(std::fs::read(&got[0].path).unwrap(), body);
        assert!(
            repos.index_if_read(0).is_none(),
            "the fallback kept an index of all {} packages",
            pkgs.len()
        );
    }
}
