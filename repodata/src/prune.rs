//! `jigdo repo prune`: keep the newest N versions of each jigdo RPM name, exactly the
//! packages the kept jigdo RPMs pin and the delta RPMs whose target a kept jigdo RPM
//! holds; remove everything else and republish the metadata.

use crate::create::{previous_records, publish, scan_packages, CreateOptions};
use crate::error::{io_err, Result};
use crate::model::Package;
use jigdo_format::READ_PROVIDES;
use rpm_package::evr::{Evr, Relation};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Options of [`prune_repo`].
#[derive(Debug, Clone)]
pub struct PruneOptions {
    /// Versions kept per jigdo RPM name.
    pub keep: usize,
    /// Only report.
    pub dry_run: bool,
    /// How the metadata is rewritten.
    pub create: CreateOptions,
}

/// One package in a prune report.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct PrunedPackage {
    /// `name-[epoch:]version-release.arch`.
    pub nevra: String,
    /// Location relative to the repository root.
    pub location: String,
}

/// What [`prune_repo`] kept and removed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PruneReport {
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// Jigdo RPMs kept.
    pub kept_jigdo: Vec<PrunedPackage>,
    /// Other packages kept (pinned by a kept jigdo RPM).
    pub kept_pinned: Vec<PrunedPackage>,
    /// Delta RPMs kept (their target is the commit of a kept jigdo RPM).
    pub kept_deltas: Vec<PrunedPackage>,
    /// Packages removed (older jigdo RPMs and unpinned packages).
    pub removed: Vec<PrunedPackage>,
    /// Pins of kept jigdo RPMs that no package in the repository satisfies.
    pub missing_pins: Vec<String>,
}

/// Whether a package is a jigdo RPM (of any format version this client reads).
pub fn is_jigdo(p: &Package) -> bool {
    p.provides
        .iter()
        .any(|d| READ_PROVIDES.contains(&d.name.as_str()))
}

/// A pin of a jigdo RPM: `name(arch) = E:V-R` (arch packages) or `name = E:V-R` (noarch).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pin {
    /// Package name.
    pub name: String,
    /// Architecture (`noarch` when the pin has none).
    pub arch: String,
    /// Exact EVR.
    pub evr: Evr,
}

/// The pins (exact `=` requires) of a jigdo RPM.
pub fn pins(p: &Package) -> Vec<Pin> {
    p.requires
        .iter()
        .filter(|d| d.flags == Some(Relation::Eq))
        .filter_map(|d| {
            let evr = d.evr()?;
            let (name, arch) = match d.name.strip_suffix(')').and_then(|s| s.rsplit_once('(')) {
                Some((n, a)) if !a.is_empty() && !a.contains(' ') => (n.to_string(), a.to_string()),
                _ => (d.name.clone(), "noarch".to_string()),
            };
            Some(Pin { name, arch, evr })
        })
        .collect()
}

fn matches_pin(p: &Package, pin: &Pin) -> bool {
    p.name == pin.name
        && p.arch == pin.arch
        && p.epoch == pin.evr.epoch.unwrap_or(0)
        && p.version == pin.evr.version
        && pin.evr.release().is_none_or(|r| r == p.release)
}

/// The first commit checksum (lowercase) that `parse` finds in the provides of `p`.
fn provided(p: &Package, parse: fn(&str) -> Option<&str>) -> Option<String> {
    p.provides
        .iter()
        .find_map(|d| parse(&d.name))
        .map(str::to_ascii_lowercase)
}

fn entry(p: &Package) -> PrunedPackage {
    PrunedPackage {
        nevra: p.nevra(),
        location: p.location_href.clone(),
    }
}

/// Prunes the repository at `dir` (see the module documentation).
pub fn prune_repo(dir: &Path, opts: &PruneOptions) -> Result<PruneReport> {
    check_keep(opts.keep)?;
    let previous = previous_records(dir);
    let (pkgs, _, _) = scan_packages(dir, previous, opts.create.changelog_limit)?;

    // Newest `keep` of each jigdo name.
    let mut by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, p) in pkgs.iter().enumerate() {
        if is_jigdo(p) {
            by_name.entry(p.name.as_str()).or_default().push(i);
        }
    }
    let mut keep: HashSet<usize> = HashSet::new();
    let mut kept_jigdo = Vec::new();
    for ix in by_name.values_mut() {
        ix.sort_by(|&a, &b| pkgs[b].evr().cmp(&pkgs[a].evr()));
        for &i in ix.iter().take(opts.keep) {
            keep.insert(i);
            kept_jigdo.push(i);
        }
    }
    let mut missing_pins = Vec::new();
    let mut pinned = Vec::new();
    for &j in &kept_jigdo {
        for pin in pins(&pkgs[j]) {
            let hits: Vec<usize> = pkgs
                .iter()
                .enumerate()
                .filter(|(_, p)| matches_pin(p, &pin))
                .map(|(i, _)| i)
                .collect();
            if hits.is_empty() {
                missing_pins.push(format!(
                    "{}: {}({}) = {}",
                    pkgs[j].nevra(),
                    pin.name,
                    pin.arch,
                    pin.evr
                ));
            }
            for i in hits {
                if keep.insert(i) {
                    pinned.push(i);
                }
            }
        }
    }
    // Delta RPMs to a kept commit: whoever holds their base still updates through them.
    let kept_commits: HashSet<String> = kept_jigdo
        .iter()
        .filter_map(|&j| provided(&pkgs[j], jigdo_format::parse_commit_provide))
        .collect();
    let mut deltas = Vec::new();
    for (i, p) in pkgs.iter().enumerate() {
        if provided(p, jigdo_format::delta::parse_delta_target_provide)
            .is_some_and(|target| kept_commits.contains(&target))
            && keep.insert(i)
        {
            deltas.push(i);
        }
    }
    let removed: Vec<usize> = (0..pkgs.len()).filter(|i| !keep.contains(i)).collect();
    let report = PruneReport {
        dry_run: opts.dry_run,
        kept_jigdo: kept_jigdo.iter().map(|&i| entry(&pkgs[i])).collect(),
        kept_pinned: pinned.iter().map(|&i| entry(&pkgs[i])).collect(),
        kept_deltas: deltas.iter().map(|&i| entry(&pkgs[i])).collect(),
        removed: removed.iter().map(|&i| entry(&pkgs[i])).collect(),
        missing_pins,
    };
    if opts.dry_run {
        return Ok(report);
    }
    // Publish first, delete after: the new metadata no longer names the removed files,
    // so a client never sees a listed file go missing, and a failed publish deletes
    // nothing.
    let removed_paths: Vec<PathBuf> = removed
        .iter()
        .map(|&i| dir.join(&pkgs[i].location_href))
        .collect();
    let kept: Vec<Package> = pkgs
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(_, p)| p)
        .collect();
    publish(dir, &kept, &opts.create)?;
    for path in removed_paths {
        std::fs::remove_file(&path).map_err(io_err(&path))?;
    }
    Ok(report)
}

/// Checks a number of versions to keep: at least 1 (keeping 0 would delete every jigdo
/// RPM and every package). `jigdo repo prune --keep` and `jigdo mirror --keep` both
/// go through here.
pub fn check_keep(keep: usize) -> Result<()> {
    if keep == 0 {
        return Err(crate::Error::BadOption {
            option: "--keep",
            value: keep.to_string(),
            message: "keep at least 1 version (0 would remove every jigdo RPM and package)",
        });
    }
    Ok(())
}
