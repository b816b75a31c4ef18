//! The sources of one `install` or `mirror` run, tried in order: rpm-md repositories
//! reached through `repo-fetch` (local rpm-md directories, `file://`, `http://`,
//! `https://` base URLs, `mirrorlist=`, `metalink=`, dnf `.repo` sections) and plain
//! directories of RPMs.
//!
//! [`Repos::open`] reads each repository's `repomd.xml` and its primary metadata
//! (verified against repomd's checksums) into a [`repodata::RepoIndex`];
//! [`Repos::find_jigdo`] resolves `NAME[-VERSION[-RELEASE]]` to the newest jigdo RPM (a
//! package providing one of [`READ_PROVIDES`]); [`Repos::fetch_entry`] downloads it verified
//! against the repodata checksum; [`Repos::fetch_pins`] downloads pinned packages in
//! parallel, each verified against its pin's size and SHA-256 while it is fetched and
//! before it is renamed into place, failing over to the next repository that has it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jigdo_format::{PinnedPackage, READ_PROVIDES};
use repo_fetch::{
    Checksum, DigestAlgorithm, Downloader, Expect, FetchError, FetchRequest, MirrorSet, Origin,
    RepoConfig, RepoFile, Source, Vars,
};
use repodata::{IndexEntry, LocalRepo, RepoIndex};

use crate::error::{InstallError, PinAttempt, PinFailure};
use crate::trust::JigdoOrigin;

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

/// One repository whose metadata was read.
pub struct Repo {
    /// Name in messages (the SOURCE or the `.repo` section id).
    pub name: String,
    /// Where its files are.
    pub location: Location,
    /// Its packages.
    pub index: RepoIndex,
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
    /// The package's repodata entry.
    pub entry: IndexEntry,
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
}

/// The ordered repositories of one `install` or `mirror` run.
pub struct Repos {
    /// Repositories in the order given.
    pub list: Vec<Repo>,
    downloader: Arc<dyn Downloader>,
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

impl Repos {
    /// Reads the metadata of every source. `md_dir` receives the downloaded metadata
    /// (one subdirectory per source). When OpenPGP keys are given (`gpgkeys`, the
    /// `--gpgkey` files, or a section's `gpgkey=`) or a section says `repo_gpgcheck=1`,
    /// each repository's `repodata/repomd.xml.asc` is fetched and checked over the
    /// `repomd.xml` read ([`Repo::repomd_signature`]).
    pub fn open(
        downloader: Arc<dyn Downloader>,
        specs: &[SourceSpec],
        md_dir: &Path,
        gpgkeys: &[PathBuf],
    ) -> Result<Repos, InstallError> {
        let mut list = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            let (name, label) = match spec {
                SourceSpec::From(arg) => (arg.clone(), format!("source {arg}")),
                SourceSpec::Repo(cfg) => (cfg.id.clone(), format!("repository {}", cfg.id)),
            };
            let source_err = |error| InstallError::Source {
                name: label.clone(),
                error,
            };
            let (location, gpgcheck, repo_gpgcheck, section_keys) = match spec {
                SourceSpec::From(arg) => match Source::parse(arg).map_err(source_err)? {
                    Source::RpmDir(p) => (Location::Dir(p), false, false, Vec::new()),
                    s => {
                        let m = downloader.resolve(&s).map_err(source_err)?;
                        (Location::Mirrors(m), false, false, Vec::new())
                    }
                },
                SourceSpec::Repo(cfg) => {
                    let m = downloader.resolve_repo(cfg).map_err(source_err)?;
                    let keys = section_keys(
                        downloader.as_ref(),
                        &cfg.id,
                        &cfg.gpgkeys,
                        &md_dir.join(format!("{i}-keys")),
                    )?;
                    (Location::Mirrors(m), cfg.gpgcheck, cfg.repo_gpgcheck, keys)
                }
            };
            let dir = md_dir.join(i.to_string());
            let mut notes = Vec::new();
            if let Location::Mirrors(m) = &location {
                if let Some(url) = m.unchecked_metalink() {
                    notes.push(format!(
                        "metalink {url} lists no hash for repomd.xml (its mirrors' metadata \
                         is checked against nothing)"
                    ));
                }
            }
            let (index, repomd_signature) = match &location {
                Location::Mirrors(m) => {
                    let index = read_remote_index(downloader.as_ref(), &label, m, &dir)?;
                    let mut keys = section_keys.clone();
                    keys.extend(gpgkeys.iter().cloned());
                    let signature = (repo_gpgcheck || !keys.is_empty())
                        .then(|| check_repomd_signature(downloader.as_ref(), m, &dir, &keys));
                    (index, signature)
                }
                Location::Dir(d) => (read_dir_index(&label, d)?, None),
            };
            list.push(Repo {
                name,
                location,
                index,
                gpgcheck,
                gpgkeys: section_keys,
                repo_gpgcheck,
                repomd_signature,
                notes,
            });
        }
        Ok(Repos { list, downloader })
    }

    /// Where `found` (a jigdo or delta RPM) came from, for the trust step: its
    /// repository's `.repo` rules and keys, and the signed `repomd.xml` link, which
    /// authenticates the RPM only when primary names it by SHA-256 or SHA-512.
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

    /// The names of the repositories, comma-separated, for messages.
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.list.iter().map(|r| r.name.as_str()).collect();
        names.join(", ")
    }

    /// The newest jigdo RPM matching `spec` (`NAME`, `NAME-VERSION` or
    /// `NAME-VERSION-RELEASE`) over all repositories; on a tie the first repository wins.
    pub fn find_jigdo(&self, spec: &str) -> Result<Found, InstallError> {
        let mut best: Option<Found> = None;
        for (r, repo) in self.list.iter().enumerate() {
            let jigdos = READ_PROVIDES
                .iter()
                .flat_map(|p| repo.index.what_provides(p, None));
            for e in jigdos {
                if !matches_spec(e, spec) {
                    continue;
                }
                if best.as_ref().is_none_or(|b| e.evr > b.entry.evr) {
                    best = Some(Found {
                        repo: r,
                        entry: e.clone(),
                    });
                }
            }
        }
        best.ok_or_else(|| InstallError::NoJigdo {
            spec: spec.to_string(),
            sources: self.names(),
        })
    }

    /// Downloads (or copies) `found` into `dest_dir`, verified against its repodata size
    /// and checksum. Returns the local path.
    pub fn fetch_entry(&self, found: &Found, dest_dir: &Path) -> Result<PathBuf, InstallError> {
        let repo = &self.list[found.repo];
        let e = &found.entry;
        let file = e
            .location_href
            .rsplit('/')
            .next()
            .unwrap_or(&e.location_href);
        let dest = file_in(dest_dir, file)?;
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
                self.downloader
                    .fetch_file(m, &req)
                    .map_err(|error| InstallError::Download {
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

    /// Puts every package of `pins` in place: downloaded into `dest_dir` as
    /// `NAME-VERSION-RELEASE.ARCH.rpm`, in parallel, each verified against its pin (size
    /// and SHA-256) before it is put in place (files already there and correct are
    /// kept), or found in a plain directory of RPMs and checked there. Each pin is tried
    /// in every repository that lists it, in order; the requests carry the pin's index in
    /// `pins` as their [`FetchRequest::tag`]. Returns one [`FetchedPin`] per pin, in
    /// order. A failure names every package that could not be had and each repository
    /// tried.
    pub fn fetch_pins(
        &self,
        pins: &[PinnedPackage],
        dest_dir: &Path,
    ) -> Result<Vec<FetchedPin>, InstallError> {
        std::fs::create_dir_all(dest_dir).map_err(|source| InstallError::Io {
            path: dest_dir.into(),
            source,
        })?;
        let mut done: Vec<Option<FetchedPin>> = vec![None; pins.len()];
        let mut attempts: Vec<Vec<PinAttempt>> = (0..pins.len()).map(|_| Vec::new()).collect();
        for repo in &self.list {
            // Pins still missing that this repository lists with compatible metadata.
            let mut batch: Vec<(usize, FetchRequest)> = Vec::new();
            for (i, pin) in pins.iter().enumerate() {
                if done[i].is_some() {
                    continue;
                }
                let Some(e) = lookup(&repo.index, pin) else {
                    // The NEVRA listed with another SHA-256: another build, named in the
                    // error instead of "not listed".
                    if let Some(other) = other_build(&repo.index, pin) {
                        attempts[i].push(PinAttempt::OtherBuild {
                            source_name: repo.name.clone(),
                            listed: other.checksum.hex.clone(),
                        });
                    }
                    continue;
                };
                match &repo.location {
                    Location::Dir(d) => {
                        let src = d.join(&e.location_href);
                        match jigdo_unpack::source::verify_pin(&src, pin) {
                            Ok(_) => {
                                done[i] = Some(FetchedPin {
                                    path: src,
                                    origin: None,
                                })
                            }
                            Err(error) => attempts[i].push(PinAttempt::Local {
                                source_name: repo.name.clone(),
                                error,
                            }),
                        }
                    }
                    Location::Mirrors(_) => {
                        let name = jigdo_unpack::source::package_file_name(pin);
                        let dest = file_in(dest_dir, &name)?;
                        let req = FetchRequest::new(e.location_href.clone(), pin_expect(pin), dest)
                            .with_label(pin.nevra())
                            .with_tag(i);
                        batch.push((i, req));
                    }
                }
            }
            let Location::Mirrors(m) = &repo.location else {
                continue;
            };
            if batch.is_empty() {
                continue;
            }
            let reqs: Vec<FetchRequest> = batch.iter().map(|(_, r)| r.clone()).collect();
            let results = self.downloader.fetch_many(m, &reqs);
            for ((i, req), res) in batch.into_iter().zip(results) {
                match res {
                    Ok(report) => {
                        done[i] = Some(FetchedPin {
                            path: req.dest,
                            origin: Some(report.origin),
                        })
                    }
                    Err(error) => attempts[i].push(PinAttempt::Download {
                        source_name: repo.name.clone(),
                        error,
                    }),
                }
            }
        }
        let mut out = Vec::with_capacity(pins.len());
        let mut failures = Vec::new();
        for ((pin, fetched), attempts) in pins.iter().zip(done).zip(attempts) {
            match fetched {
                Some(f) => out.push(f),
                None => failures.push(PinFailure {
                    nevra: pin.nevra(),
                    id: pin.id_hex(),
                    attempts,
                }),
            }
        }
        if !failures.is_empty() {
            return Err(InstallError::PackagesUnavailable(failures));
        }
        Ok(out)
    }

    /// Bytes received over the network so far.
    pub fn bytes_downloaded(&self) -> u64 {
        self.downloader.bytes_downloaded()
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

/// Downloads `repomd.xml` and the primary metadata of `mirrors` into `dir` (keeping the
/// repository's layout) and indexes it; primary is verified against repomd.
fn read_remote_index(
    d: &dyn Downloader,
    name: &str,
    mirrors: &MirrorSet,
    dir: &Path,
) -> Result<RepoIndex, InstallError> {
    let fetch_err = |error: FetchError| InstallError::Source {
        name: name.to_string(),
        error,
    };
    let md_err = |error: repodata::Error| InstallError::Metadata {
        name: name.to_string(),
        error,
    };
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InstallError::Io { path, source }
    };
    let rd = dir.join("repodata");
    std::fs::create_dir_all(&rd).map_err(io_err(&rd))?;
    let repomd = d.fetch_repomd(mirrors).map_err(fetch_err)?;
    let path = rd.join("repomd.xml");
    std::fs::write(&path, &repomd).map_err(io_err(&path))?;
    let parsed = repodata::Repomd::parse(&repomd[..], &path).map_err(md_err)?;
    let bad = |reason: String| InstallError::BadRepomd {
        path: path.clone(),
        reason,
    };
    let rec = parsed
        .record("primary")
        .ok_or_else(|| bad("no primary record".into()))?;
    let expect = Expect {
        size: rec.size,
        checksum: rec.checksum.clone(),
    };
    let rel = rec.location_href.clone();
    if rel.contains("..") || rel.starts_with('/') {
        return Err(bad(format!("bad primary location {rel:?}")));
    }
    let req = FetchRequest::new(rel.clone(), expect, dir.join(&rel)).with_label("primary metadata");
    d.fetch_file(mirrors, &req).map_err(fetch_err)?;
    LocalRepo::open(dir)
        .and_then(|local| local.index())
        .map_err(md_err)
}

/// Fetches `repodata/repomd.xml.asc` from `mirrors` and checks it over the
/// `repomd.xml` that [`read_remote_index`] put in `dir`, with `keys`: the fingerprint
/// of the key that verified it, or why nothing did.
fn check_repomd_signature(
    d: &dyn Downloader,
    mirrors: &MirrorSet,
    dir: &Path,
    keys: &[PathBuf],
) -> Result<String, String> {
    if keys.is_empty() {
        return Err("no OpenPGP key given (gpgkey= or --gpgkey)".into());
    }
    let repomd_path = dir.join("repodata/repomd.xml");
    let repomd =
        std::fs::read(&repomd_path).map_err(|e| format!("{}: {e}", repomd_path.display()))?;
    let asc = d
        .fetch_bytes(mirrors, "repodata/repomd.xml.asc", &Expect::default())
        .map_err(|e| format!("repodata/repomd.xml.asc: {e}"))?;
    let mut loaded = Vec::new();
    for k in keys {
        loaded.extend(repodata::signature::load_public_keys(k).map_err(|e| e.to_string())?);
    }
    let label = dir.join("repodata/repomd.xml.asc");
    repodata::signature::verify_detached_bytes(&repomd, &asc, &label, &loaded)
        .map_err(|e| e.to_string())
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
    use repodata::Evr;

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
}
