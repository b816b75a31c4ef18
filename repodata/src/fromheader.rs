//! Turning an RPM header (read by `rpm-package`) into an rpm-md [`Package`]
//! record with the same rules createrepo_c applies: which requires are listed,
//! `pre` flags, EVR splitting, file types, and the changelog selection.

use crate::model::{
    is_primary_file, Changelog, Checksum, Dependency, FileEntry, FileType, Package,
};
use rpm_package::evr::Relation;
use rpm_package::PackageHeader;
use std::collections::{HashMap, HashSet};

/// createrepo_c's default number of changelog entries kept per package.
pub const DEFAULT_CHANGELOG_LIMIT: usize = 10;

/// Splits a dependency EVR string the way createrepo_c does: epoch defaults to
/// "0" when a version is present; the release follows the first `-`.
fn split_evr(s: &str) -> (Option<String>, Option<String>, Option<String>) {
    if s.is_empty() {
        return (None, None, None);
    }
    let (epoch, rest) = match s.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
            (e.to_string(), rest)
        }
        Some(("", rest)) => ("0".to_string(), rest),
        _ => ("0".to_string(), s),
    };
    match rest.split_once('-') {
        Some((v, r)) => (Some(epoch), Some(v.to_string()), Some(r.to_string())),
        None => (Some(epoch), Some(rest.to_string()), None),
    }
}

/// createrepo_c's order of `libc.so.6(...)` requirements: by the version in
/// the first parentheses (from its first digit), compared with rpmvercmp.
fn compare_libc(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    fn ver(s: &str) -> Option<Option<&str>> {
        let open = s.find('(')?;
        let rest = &s[open + 1..];
        let close = rest.find(')')?;
        let inner = &rest[..close];
        Some(
            inner
                .find(|c: char| c.is_ascii_digit())
                .map(|i| &inner[i..]),
        )
    }
    if a == b {
        return Equal;
    }
    match (ver(a), ver(b)) {
        (None, None) => Equal,
        (None, _) => Less,
        (_, None) => Greater,
        (Some(None), Some(None)) => Equal,
        (Some(None), _) => Less,
        (_, Some(None)) => Greater,
        (Some(Some(x)), Some(Some(y))) => rpm_package::evr::rpmvercmp(x, y),
    }
}

fn convert_dep(d: &rpm_package::Dependency, pre: bool) -> Dependency {
    let flags = d.flags.relation();
    let (epoch, version, release) = split_evr(&d.evr);
    Dependency {
        name: d.name.clone(),
        flags,
        epoch,
        version,
        release,
        pre,
    }
}

/// Builds the rpm-md record of a package from its header, the package id
/// (`checksum`), where it lives in the repository (`location_href`), its file
/// size and modification time. At most `changelog_limit` changelog entries
/// (the newest) are kept, oldest first, as createrepo_c writes them.
pub fn package_from_header(
    h: &PackageHeader,
    checksum: Checksum,
    location_href: String,
    size: u64,
    mtime: u64,
    changelog_limit: usize,
) -> Package {
    let files: Vec<FileEntry> = h
        .files
        .iter()
        .map(|f| FileEntry {
            path: f.path.clone(),
            kind: if f.is_dir() {
                FileType::Dir
            } else if f.flags.is_ghost() {
                FileType::Ghost
            } else {
                FileType::File
            },
        })
        .collect();
    let file_set: HashSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let provides: Vec<Dependency> = h.provides.iter().map(|d| convert_dep(d, false)).collect();
    // createrepo_c drops a require only when the package provides exactly it:
    // same name, same comparison, same EVR string (its key is name+flags+version;
    // so `perl >= 5.006` stays beside `Provides: perl = 4:5.36.0`).
    let provided: HashSet<(&str, Option<Relation>, &str)> = h
        .provides
        .iter()
        .map(|d| (d.name.as_str(), d.flags.relation(), d.evr.as_str()))
        .collect();

    let mut requires = Vec::new();
    let mut libc_highest: Option<(&str, Dependency)> = None;
    // name -> (flags bits of the comparison, evr, pre) of the last listed require
    let mut seen: HashMap<&str, (Option<Relation>, &str, bool)> = HashMap::new();
    for d in &h.requires {
        let name = d.name.as_str();
        if name.starts_with("rpmlib(") {
            continue;
        }
        if file_set.contains(name) && is_primary_file(name) {
            continue;
        }
        let flags = d.flags.relation();
        if provided.contains(&(name, flags, d.evr.as_str())) {
            continue;
        }
        let pre = d.flags.is_pre();
        if let Some(&(f, evr, p)) = seen.get(name) {
            if f == flags && evr == d.evr && p == pre {
                continue;
            }
        }
        if name.starts_with("libc.so.6") {
            // createrepo_c lists only the highest libc.so.6 requirement, last.
            match &libc_highest {
                Some((best, _)) if compare_libc(best, name) != std::cmp::Ordering::Less => {}
                _ => libc_highest = Some((name, convert_dep(d, pre))),
            }
            continue;
        }
        seen.insert(name, (flags, d.evr.as_str(), pre));
        requires.push(convert_dep(d, pre));
    }
    if let Some((_, dep)) = libc_highest {
        requires.push(dep);
    }

    // Changelogs: the newest `limit` entries, written oldest first; entries with
    // equal times get distinct, increasing dates (createrepo_c's rule).
    let mut changelogs: Vec<Changelog> = Vec::new(); // index 0 = most recently taken
    let mut last_time: Option<u64> = None;
    for c in h.changelogs.iter().take(changelog_limit) {
        changelogs.insert(
            0,
            Changelog {
                author: c.author.trim_end_matches(' ').to_string(),
                date: c.time,
                text: c.text.clone(),
            },
        );
        if last_time == Some(c.time) {
            for (t, prev) in (c.time..).zip(changelogs.iter_mut().skip(1)) {
                if prev.date != t {
                    break;
                }
                prev.date += 1;
            }
        } else {
            last_time = Some(c.time);
        }
    }

    let conv = |v: &[rpm_package::Dependency]| -> Vec<Dependency> {
        v.iter().map(|d| convert_dep(d, false)).collect()
    };
    Package {
        checksum: Some(checksum),
        name: h.name.clone(),
        arch: if h.is_source {
            "src".to_string()
        } else {
            h.arch.clone()
        },
        epoch: h.epoch.map(u64::from).unwrap_or(0),
        version: h.version.clone(),
        release: h.release.clone(),
        summary: h.summary.clone(),
        description: h.description.clone(),
        packager: h.packager.clone().unwrap_or_default(),
        url: h.url.clone().unwrap_or_default(),
        time_file: mtime,
        time_build: h.build_time.unwrap_or(0),
        size_package: size,
        size_installed: h.installed_size.unwrap_or(0),
        size_archive: h.archive_size.unwrap_or(0),
        location_href,
        location_base: None,
        license: h.license.clone(),
        vendor: h.vendor.clone().unwrap_or_default(),
        group: h.group.clone().unwrap_or_default(),
        buildhost: h.build_host.clone().unwrap_or_default(),
        sourcerpm: h.source_rpm.clone().unwrap_or_default(),
        header_start: h.header_start,
        header_end: h.header_end,
        provides,
        requires,
        conflicts: conv(&h.conflicts),
        obsoletes: conv(&h.obsoletes),
        suggests: conv(&h.suggests),
        enhances: conv(&h.enhances),
        recommends: conv(&h.recommends),
        supplements: conv(&h.supplements),
        primary_files: files
            .iter()
            .filter(|f| is_primary_file(&f.path))
            .cloned()
            .collect(),
        files,
        changelogs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evr_split_like_createrepo_c() {
        assert_eq!(split_evr(""), (None, None, None));
        assert_eq!(
            split_evr("2.0-1"),
            (Some("0".into()), Some("2.0".into()), Some("1".into()))
        );
        assert_eq!(
            split_evr("3:1.2"),
            (Some("3".into()), Some("1.2".into()), None)
        );
    }
}
