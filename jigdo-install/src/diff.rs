//! `jigdo diff OLD NEW`: what an update from one commit to another changes, like
//! `rpm-ostree db diff`: packages added, removed, upgraded and downgraded (version order
//! of `rpm_package::evr`), the files of the content no package provides that changed,
//! and what an update from OLD to NEW downloads.
//!
//! Each side is a jigdo RPM file, a commit or ref of `--repo` that jigdo installed (read
//! from its install record: no network), or `NAME-VERSION[-RELEASE]` found in the
//! sources (only then are the sources read). Of such a jigdo RPM only its start is read,
//! as `jigdo install --check` reads it (`check::read_trusted_start`: its lead and
//! headers, then its payload up to the end of its index, with range requests, each
//! payload file checked against the header's digests), and it goes through the same
//! trust step: the signed `repomd.xml`, the jigdo RPM's *header* signature (checked
//! before anything of the payload is read), the commit's GPG or ed25519 signatures, and
//! the decision ([`TrustPolicy`], with `--gpgkey`, `--commit-key`, `--nogpgcheck` and
//! the `.repo` sections' `gpgcheck`, `repo_gpgcheck` and `gpgkey`). The whole file is
//! downloaded (checked against the metadata's checksum, then put through the trust step
//! whole, as the install does) only when its start is not enough, saying why in a debug
//! line: e.g. when only the signed `repomd.xml` verified (it pins the whole file's
//! SHA-256), or when the start was refused (the whole file is then refused too, the
//! error naming the jigdo RPM and each link looked for). The report says for each side
//! where it was read (`read_from`) and what verified it (`verified`, `verified_by`, and
//! for a side from the sources the trust step's report, `trust`).
//!
//! A side from the sources that nothing verifies is refused as `jigdo install` refuses
//! it, also when no key is configured at all, unless `--nogpgcheck` is given (then one
//! warning line per such side, and `"verified": false`): see [`DiffOptions::trust`]. A
//! jigdo RPM file given by path is a local file, read as given (no network trust,
//! `"read_from": "file"`); an installed commit says what verified it when it was
//! installed (its install record's `verified_by`).
//!
//! The sources' `repomd.xml` kept by installs into `--repo`
//! (`REPO/extensions/jigdo/sources/`) makes their requests conditional; `diff` keeps
//! nothing itself. The bytes it received are counted (`bytes_downloaded`).

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use jigdo_format::{Index, NewContent, PinnedPackage, Source, XattrSet};
use jigdo_unpack::{InstallRecord, JigdoRpm};
use ostree_store::Repo;
use repo_fetch::{Backend, FetchOptions};
use rpm_package::Evr;
use serde::Serialize;

use crate::error::InstallError;
use crate::sources::{Repos, SourceSpec};
use crate::trust::{JigdoOrigin, TrustPolicy, TrustReport};

/// What to compare, and where to look.
#[derive(Clone)]
pub struct DiffOptions {
    /// The old side.
    pub old: String,
    /// The new side.
    pub new: String,
    /// Sources to find `NAME-VERSION[-RELEASE]` sides in.
    pub sources: Vec<SourceSpec>,
    /// The repository whose commits and refs may be sides.
    pub repo: Option<PathBuf>,
    /// Download settings for the sources.
    pub fetch: FetchOptions,
    /// Which library downloads.
    pub backend: Backend,
    /// The keys and the rule of the trust step for the sides read from the sources
    /// (`--gpgkey`, `--commit-key`, `--nogpgcheck`; the sources' `.repo` sections add
    /// theirs). A side that no link verifies is refused unless `nogpgcheck`, also when no
    /// key is configured at all, as `jigdo install` and `install --check` refuse it: the
    /// report is what an update would bring, read from the same untrusted network an
    /// update reads, and an unauthenticated report (say a tampered index listing other
    /// packages) is no better ground for updating than an unauthenticated commit is for
    /// installing (`jigdo unpack`'s rule of accepting unverified local files with a
    /// warning applies to local files, which `diff` reads as given).
    pub trust: TrustPolicy,
}

/// One side of a diff.
#[derive(Debug, Clone, Serialize)]
pub struct DiffSide {
    /// As given.
    pub spec: String,
    /// Its commit.
    pub commit: String,
    /// Its jigdo RPM (NEVRA).
    pub jigdo_rpm: String,
    /// The commit's `version` metadata.
    pub version: Option<String>,
    /// Where it was read.
    pub read_from: ReadFrom,
    /// Whether a link of the chain of trust verified it (for an installed commit: when
    /// it was installed, as its install record says).
    pub verified: bool,
    /// What verified it: each link and its key (`None`: nothing).
    pub verified_by: Option<String>,
    /// The trust step's report of a side read from the sources (`None` otherwise).
    pub trust: Option<TrustReport>,
}

/// Where a side of a diff was read (in JSON: `"sources"`, `"file"`, `"install-record"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadFrom {
    /// A jigdo RPM of the sources, through the trust step.
    Sources,
    /// A jigdo RPM file given by path: a local file, read as given, or verified with the
    /// keys when any is configured (as `jigdo unpack` does).
    File,
    /// A commit of `--repo` that jigdo installed (its install record).
    InstallRecord,
}

/// A package present on both sides with different files.
#[derive(Debug, Clone, Serialize)]
pub struct PackageChange {
    /// Its NEVRA in OLD.
    pub from: String,
    /// Its NEVRA in NEW.
    pub to: String,
}

/// A changed file of the content no package provides.
#[derive(Debug, Clone, Serialize)]
pub struct FileChange {
    /// Path in the tree (absolute).
    pub path: String,
    /// `added`, `modified` or `removed`.
    pub change: &'static str,
}

/// What `jigdo diff` reports.
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    /// OLD.
    pub old: DiffSide,
    /// NEW.
    pub new: DiffSide,
    /// NEVRAs only in NEW.
    pub added: Vec<String>,
    /// NEVRAs only in OLD.
    pub removed: Vec<String>,
    /// Same name and arch, newer EVR in NEW.
    pub upgraded: Vec<PackageChange>,
    /// Same name and arch, older EVR in NEW.
    pub downgraded: Vec<PackageChange>,
    /// Same NEVRA, another package file (rebuilt).
    pub rebuilt: Vec<PackageChange>,
    /// Files of the content no package provides (in OLD or NEW) that differ.
    pub files: Vec<FileChange>,
    /// Package files of NEW that OLD does not pin (what an update fetches).
    pub download_packages: usize,
    /// Bytes an update from OLD to NEW downloads: NEW's jigdo RPM and those packages.
    pub download_bytes: u64,
    /// Bytes this diff received over the network (0 when no side was found in the
    /// sources).
    pub bytes_downloaded: u64,
}

/// A side, read.
struct Side {
    info: DiffSide,
    jigdo_rpm_size: u64,
    index: Index,
}

/// Compares two commits (see the module docs).
pub fn diff(opts: &DiffOptions) -> Result<DiffReport, InstallError> {
    let mut repos = None;
    let tmp = tempfile::tempdir().map_err(|source| InstallError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let old = side(opts, &opts.old, &mut repos, &tmp.path().join("old"))?;
    let new = side(opts, &opts.new, &mut repos, &tmp.path().join("new"))?;
    let mut report = compare(old, new);
    report.bytes_downloaded = repos.as_ref().map_or(0, Repos::bytes_downloaded);
    Ok(report)
}

/// Reads the side `spec`: a jigdo RPM file, a commit or ref of `opts.repo` with an
/// install record, or a jigdo RPM of the sources (opened into `repos` on first use,
/// fetched into `work`).
fn side(
    opts: &DiffOptions,
    spec: &str,
    repos: &mut Option<Repos>,
    work: &Path,
) -> Result<Side, InstallError> {
    let path = Path::new(spec);
    if spec.ends_with(".rpm") && path.is_file() {
        // A file given by path, as `jigdo unpack` takes it: read as given when no key is
        // configured; with keys, a link must verify it (or `--nogpgcheck`).
        if !opts.trust.has_keys() {
            return Ok(from_jigdo(
                spec,
                &JigdoRpm::open(path)?,
                ReadFrom::File,
                None,
            ));
        }
        let (jigdo, trust) =
            crate::install::read_trusted(&opts.trust, path, &JigdoOrigin::File, spec)?;
        return Ok(from_jigdo(spec, &jigdo, ReadFrom::File, Some(trust)));
    }
    if let Some(repo) = &opts.repo {
        let store = Repo::open(repo).map_err(|error| InstallError::Repo {
            path: repo.clone(),
            error,
        })?;
        if let Ok(commit) = store.resolve_rev(spec) {
            let hex = commit.to_hex();
            let record = InstallRecord::load(repo, &hex)?.ok_or_else(|| InstallError::Diff {
                spec: spec.to_string(),
                reason: format!(
                    "commit {hex} in {} was not installed by jigdo (no install record)",
                    repo.display()
                ),
            })?;
            return Ok(Side {
                index: InstallRecord::load_index(repo, &hex)?,
                info: DiffSide {
                    spec: spec.to_string(),
                    commit: hex,
                    jigdo_rpm: record.jigdo_rpm,
                    version: record.version,
                    read_from: ReadFrom::InstallRecord,
                    verified: record.verified_by.is_some(),
                    verified_by: record.verified_by,
                    trust: None,
                },
                jigdo_rpm_size: record.jigdo_rpm_size,
            });
        }
    }
    if opts.sources.is_empty() {
        return Err(InstallError::Diff {
            spec: spec.to_string(),
            reason: "not a jigdo RPM file nor a commit or ref of --repo, and no --from sources \
                     to find it in"
                .to_string(),
        });
    }
    if repos.is_none() {
        let downloader = opts.backend.downloader(opts.fetch.clone(), None)?;
        // The installs' kept repomd.xml of these sources, read only.
        let kept = opts
            .repo
            .as_ref()
            .filter(|r| r.join("config").exists())
            .map(|r| crate::install::kept_dir(r));
        *repos = Some(Repos::open(
            downloader,
            &opts.sources,
            &work.join("metadata"),
            kept.as_deref(),
            &opts.trust,
            &(std::sync::Arc::new(|_: &crate::event::Event<'_>| {}) as crate::event::EventSink),
        )?);
    }
    let repos = repos.as_ref().ok_or(InstallError::NoSources)?;
    let found = repos.find_jigdo(spec)?;
    let origin = repos.origin(&found);
    let (jigdo, trust) = match crate::check::read_trusted_start(
        &opts.trust,
        repos,
        &found,
        &origin,
        work,
    ) {
        Ok((jigdo, trust, _)) => (jigdo, trust),
        Err(why) => {
            tracing::debug!(jigdo_rpm = %found.entry.nevra(), reason = %why, "diff: downloading the whole jigdo RPM instead of its start");
            let file = repos.fetch_entry(&found, work)?;
            let what = format!(
                "{} from {}",
                found.entry.nevra(),
                repos.list[found.repo].name
            );
            crate::install::read_trusted(&opts.trust, &file, &origin, &what)?
        }
    };
    Ok(from_jigdo(spec, &jigdo, ReadFrom::Sources, Some(trust)))
}

/// The side `spec` read from `j`, found where `read_from` says; `trust`: the trust
/// step's report, if it ran.
fn from_jigdo(spec: &str, j: &JigdoRpm, read_from: ReadFrom, trust: Option<TrustReport>) -> Side {
    Side {
        info: DiffSide {
            spec: spec.to_string(),
            commit: j.commit.to_hex(),
            jigdo_rpm: j.nevra(),
            version: j.commit_object.version(),
            read_from,
            verified: trust.as_ref().is_some_and(|t| !t.verified.is_empty()),
            verified_by: trust.as_ref().and_then(TrustReport::verified_by),
            trust,
        },
        jigdo_rpm_size: j.file_size,
        index: j.index.clone(),
    }
}

fn compare(old: Side, new: Side) -> DiffReport {
    let key = |p: &PinnedPackage| (p.name.clone(), p.arch.clone());
    let olds: BTreeMap<_, &PinnedPackage> =
        old.index.packages.iter().map(|p| (key(p), p)).collect();
    let news: BTreeMap<_, &PinnedPackage> =
        new.index.packages.iter().map(|p| (key(p), p)).collect();
    let evr = |p: &PinnedPackage| Evr::new(Some(p.epoch), &*p.version, Some(p.release.clone()));
    let mut report = DiffReport {
        old: old.info.clone(),
        new: new.info.clone(),
        added: Vec::new(),
        removed: Vec::new(),
        upgraded: Vec::new(),
        downgraded: Vec::new(),
        rebuilt: Vec::new(),
        files: changed_files(&old.index, &new.index),
        download_packages: 0,
        download_bytes: new.jigdo_rpm_size,
        bytes_downloaded: 0,
    };
    for (k, o) in &olds {
        if !news.contains_key(k) {
            report.removed.push(o.nevra());
        }
    }
    for (k, n) in &news {
        let Some(o) = olds.get(k) else {
            report.added.push(n.nevra());
            continue;
        };
        let change = PackageChange {
            from: o.nevra(),
            to: n.nevra(),
        };
        match evr(n).cmp(&evr(o)) {
            Ordering::Greater => report.upgraded.push(change),
            Ordering::Less => report.downgraded.push(change),
            Ordering::Equal if n.id != o.id => report.rebuilt.push(change),
            Ordering::Equal => {}
        }
    }
    let pinned: HashSet<[u8; 32]> = old.index.packages.iter().map(|p| p.id).collect();
    for p in new
        .index
        .packages
        .iter()
        .filter(|p| !pinned.contains(&p.id))
    {
        report.download_packages += 1;
        report.download_bytes += p.size;
    }
    report
}

/// What a file is, for comparing two trees: its bytes (the new content itself, or the
/// package and path they come from) and its metadata.
#[derive(PartialEq, Eq)]
struct FileKey<'a> {
    new: Option<&'a NewContent>,
    package: Option<(&'a [u8; 32], String)>,
    meta: (u32, u32, u32),
    xattrs: Option<&'a XattrSet>,
}

fn files_of(index: &Index) -> BTreeMap<String, FileKey<'_>> {
    let mut out = BTreeMap::new();
    index.for_each_file(|path, entry| {
        let meta = index.metas.get(entry.meta as usize);
        let (new, package) = match &entry.source {
            Source::New(n) => (index.new_contents.get(*n as usize), None),
            Source::Package { package, .. } => (
                None,
                index.packages.get(*package as usize).map(|p| {
                    let ppath = Index::package_path(path, entry).unwrap_or_default();
                    (&p.id, ppath)
                }),
            ),
        };
        let key = FileKey {
            new,
            package,
            meta: meta.map_or((0, 0, 0), |m| (m.uid, m.gid, m.mode)),
            xattrs: meta.and_then(|m| index.xattr_sets.get(m.xattrs as usize)),
        };
        out.insert(format!("/{}", path.trim_start_matches('/')), key);
    });
    out
}

/// Files that are new content in OLD or NEW and differ between them.
fn changed_files(old: &Index, new: &Index) -> Vec<FileChange> {
    let olds = files_of(old);
    let news = files_of(new);
    let mut out = Vec::new();
    for (path, n) in &news {
        let change = match olds.get(path) {
            None if n.new.is_some() => "added",
            Some(o) if (o.new.is_some() || n.new.is_some()) && o != n => "modified",
            _ => continue,
        };
        out.push(FileChange {
            path: path.clone(),
            change,
        });
    }
    for (path, o) in &olds {
        if o.new.is_some() && !news.contains_key(path) {
            out.push(FileChange {
                path: path.clone(),
                change: "removed",
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}
