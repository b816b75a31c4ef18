//! `jigdo info`: what a jigdo RPM holds, without touching any repository.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Result;
use crate::jigdo_rpm::JigdoRpm;

/// One package of the pinned set.
#[derive(Debug, Clone, Serialize)]
pub struct InfoPackage {
    /// `name-[epoch:]version-release.arch`.
    pub nevra: String,
    /// Package id (SHA-256 of the package file, hex).
    pub id: String,
    /// Size of the package file in bytes.
    pub size: u64,
    /// Where `jigdo pack` found it, relative to its repository (the `href` of an rpm-md
    /// repository, e.g. `Packages/b/bash-5.2.15-2.x86_64.rpm`); the client fetches it
    /// there. Empty for an index of format version 1.
    pub location: String,
}

/// Everything `jigdo info` reports.
#[derive(Debug, Clone, Serialize)]
pub struct InfoReport {
    /// The jigdo RPM.
    pub path: PathBuf,
    /// Its package name.
    pub name: String,
    /// Its `[epoch:]version-release`.
    pub evr: String,
    /// Its arch.
    pub arch: String,
    /// The commit checksum.
    pub commit: String,
    /// The commit's `version` metadata, if any.
    pub version: Option<String>,
    /// The commit's subject.
    pub subject: String,
    /// The commit's timestamp (seconds since the epoch).
    pub timestamp: u64,
    /// The parent commit, if any.
    pub parent: Option<String>,
    /// Whether detached metadata (e.g. signatures) is carried.
    pub has_detached_metadata: bool,
    /// The pinned package set.
    pub packages: Vec<InfoPackage>,
    /// Total size of the pinned packages in bytes.
    pub packages_bytes: u64,
    /// Files (non-directories) in the tree.
    pub files: usize,
    /// Directories in the tree.
    pub directories: usize,
    /// Files whose bytes come from a package.
    pub files_from_packages: usize,
    /// Distinct new contents carried by the jigdo RPM.
    pub new_contents: usize,
    /// Their total size in bytes (symlink targets count 0).
    pub new_content_bytes: u64,
    /// Size of the jigdo RPM file.
    pub rpm_size: u64,
    /// Size of the compressed index.
    pub index_bytes: u64,
    /// Size of the commit object.
    pub commit_bytes: u64,
    /// Size of the detached metadata (0 if none).
    pub commitmeta_bytes: u64,
    /// (index + commit + detached metadata) bytes per file of the tree.
    pub metadata_bytes_per_file: f64,
}

/// Reads and checks the jigdo RPM at `path` (header, pins, commit, index) and describes it.
pub fn info(path: &Path) -> Result<InfoReport> {
    let j = JigdoRpm::open(path)?;
    let c = &j.commit_object;
    let mut files_from_packages = 0;
    j.index.for_each_file(|_, f| {
        if matches!(f.source, jigdo_format::Source::Package { .. }) {
            files_from_packages += 1;
        }
    });
    let evr = match j.epoch {
        Some(e) => format!("{e}:{}-{}", j.version, j.release),
        None => format!("{}-{}", j.version, j.release),
    };
    Ok(InfoReport {
        path: j.path.clone(),
        name: j.name.clone(),
        evr,
        arch: j.arch.clone(),
        commit: j.commit.to_hex(),
        version: c.version(),
        subject: c.subject.clone(),
        timestamp: c.timestamp,
        parent: c.parent.map(|p| p.to_hex()),
        has_detached_metadata: j.commitmeta.is_some(),
        packages: j
            .index
            .packages
            .iter()
            .map(|p| InfoPackage {
                nevra: p.nevra(),
                id: p.id_hex(),
                size: p.size,
                location: p.location.clone(),
            })
            .collect(),
        packages_bytes: j.index.packages.iter().map(|p| p.size).sum(),
        files: j.index.file_count(),
        directories: j.index.dir_count(),
        files_from_packages,
        new_contents: j.index.new_contents.len(),
        new_content_bytes: j.new_content_bytes(),
        rpm_size: j.file_size,
        index_bytes: j.index_bytes,
        commit_bytes: j.commit_bytes.len() as u64,
        commitmeta_bytes: j.commitmeta.as_ref().map_or(0, |m| m.len() as u64),
        metadata_bytes_per_file: j.metadata_bytes_per_file(),
    })
}
