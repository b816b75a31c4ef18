//! `jigdo repo prune`: keep the newest N versions of each jigdo RPM name and
//! exactly the packages the kept jigdo RPMs pin; remove everything else and
//! republish the metadata.

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

fn entry(p: &Package) -> PrunedPackage {
    PrunedPackage {
        nevra: p.nevra(),
        location: p.location_href.clone(),
    }
}

/// Prunes the repository at `dir` (see the module documentation).
pub fn prune_repo(dir: &Path, opts: &PruneOptions) -> Result<PruneReport> {
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
    let removed: Vec<usize> = (0..pkgs.len()).filter(|i| !keep.contains(i)).collect();
    let report = PruneReport {
        dry_run: opts.dry_run,
        kept_jigdo: kept_jigdo.iter().map(|&i| entry(&pkgs[i])).collect(),
        kept_pinned: pinned.iter().map(|&i| entry(&pkgs[i])).collect(),
        removed: removed.iter().map(|&i| entry(&pkgs[i])).collect(),
        missing_pins,
    };
    if opts.dry_run {
        return Ok(report);
    }
    for &i in &removed {
        let path: PathBuf = dir.join(&pkgs[i].location_href);
        std::fs::remove_file(&path).map_err(io_err(&path))?;
    }
    let kept: Vec<Package> = pkgs
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(_, p)| p)
        .collect();
    publish(dir, &kept, &opts.create)?;
    Ok(report)
}
