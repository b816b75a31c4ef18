//! The package record: everything rpm-md metadata carries about one package
//! (primary, filelists and other together).

use rpm_package::evr::{Evr, Relation};
use serde::{Deserialize, Serialize};

/// A checksum algorithm used in rpm-md (`type="sha256"` etc.): the workspace's one
/// digest algorithm type, under rpm-md's name for it.
pub use rpm_package::digest::DigestAlgorithm as ChecksumType;

/// A checksum: algorithm and lowercase hex digest (the workspace's one checksum type).
pub use rpm_package::digest::Checksum;

/// One dependency entry (`<rpm:entry>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Dependency {
    /// Name (`foo`, `/bin/sh`, `libc.so.6()(64bit)`, `(a or b)`).
    pub name: String,
    /// Relation, when versioned.
    pub flags: Option<Relation>,
    /// Epoch, version, release of the relation (as written: absent parts stay absent).
    pub epoch: Option<String>,
    /// Version of the relation.
    pub version: Option<String>,
    /// Release of the relation.
    pub release: Option<String>,
    /// A pre-requirement (`pre="1"`, requires only).
    pub pre: bool,
}

impl Dependency {
    /// An unversioned dependency.
    pub fn unversioned(name: impl Into<String>) -> Self {
        Dependency {
            name: name.into(),
            flags: None,
            epoch: None,
            version: None,
            release: None,
            pre: false,
        }
    }

    /// The EVR of the relation, if versioned.
    pub fn evr(&self) -> Option<Evr> {
        let version = self.version.as_ref()?;
        Some(Evr {
            epoch: self.epoch.as_deref().and_then(|e| e.parse().ok()),
            version: version.clone(),
            release: self.release.clone(),
        })
    }
}

/// The kind of a file list entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum FileType {
    /// A regular file, symlink, device... (no `type` attribute).
    #[default]
    File,
    /// A directory (`type="dir"`).
    Dir,
    /// A ghost file (`type="ghost"`).
    Ghost,
}

/// One file list entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileEntry {
    /// Absolute path.
    pub path: String,
    /// Kind.
    pub kind: FileType,
}

/// One changelog entry (`<changelog>` in other.xml).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Changelog {
    /// Author line (`Name <mail> - 1.0-1`).
    pub author: String,
    /// Seconds since the epoch.
    pub date: u64,
    /// Text.
    pub text: String,
}

/// Everything rpm-md records about one package.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Package {
    /// Package id: checksum of the whole package file.
    pub checksum: Option<Checksum>,
    /// Name.
    pub name: String,
    /// Architecture (`noarch`, `x86_64`, `src`).
    pub arch: String,
    /// Epoch (rpm-md always writes one; 0 when the package has none).
    pub epoch: u64,
    /// Version.
    pub version: String,
    /// Release.
    pub release: String,
    /// Summary.
    pub summary: String,
    /// Description.
    pub description: String,
    /// Packager.
    pub packager: String,
    /// URL.
    pub url: String,
    /// File modification time when indexed.
    pub time_file: u64,
    /// Build time.
    pub time_build: u64,
    /// Size of the package file.
    pub size_package: u64,
    /// Installed size.
    pub size_installed: u64,
    /// Payload archive size.
    pub size_archive: u64,
    /// Location relative to the repository base (or `location_base`).
    pub location_href: String,
    /// `xml:base` of the location, if any.
    pub location_base: Option<String>,
    /// License.
    pub license: String,
    /// Vendor.
    pub vendor: String,
    /// Group.
    pub group: String,
    /// Build host.
    pub buildhost: String,
    /// Source RPM file name (empty for source packages).
    pub sourcerpm: String,
    /// Byte offset where the main header starts in the package file.
    pub header_start: u64,
    /// Byte offset where the main header ends.
    pub header_end: u64,
    /// Provides.
    pub provides: Vec<Dependency>,
    /// Requires.
    pub requires: Vec<Dependency>,
    /// Conflicts.
    pub conflicts: Vec<Dependency>,
    /// Obsoletes.
    pub obsoletes: Vec<Dependency>,
    /// Suggests.
    pub suggests: Vec<Dependency>,
    /// Enhances.
    pub enhances: Vec<Dependency>,
    /// Recommends.
    pub recommends: Vec<Dependency>,
    /// Supplements.
    pub supplements: Vec<Dependency>,
    /// Files listed in primary.xml (a subset; see [`is_primary_file`]).
    pub primary_files: Vec<FileEntry>,
    /// Full file list (filelists.xml); empty when filelists was not read.
    pub files: Vec<FileEntry>,
    /// Changelogs (other.xml); empty when other was not read.
    pub changelogs: Vec<Changelog>,
}

impl Package {
    /// The package's EVR.
    pub fn evr(&self) -> Evr {
        Evr {
            epoch: Some(self.epoch),
            version: self.version.clone(),
            release: Some(self.release.clone()),
        }
    }

    /// `name-[epoch:]version-release.arch` (epoch only when non-zero).
    pub fn nevra(&self) -> String {
        rpm_package::nevra(
            &self.name,
            self.epoch,
            &self.version,
            &self.release,
            &self.arch,
        )
    }

    /// The package id (hex checksum), or "" if unknown.
    pub fn pkgid(&self) -> &str {
        self.checksum.as_ref().map(|c| c.hex.as_str()).unwrap_or("")
    }
}

/// Whether a path belongs in primary.xml's short file list (createrepo_c's rule:
/// under /etc/, a `bin/` component, or /usr/lib/sendmail).
pub fn is_primary_file(path: &str) -> bool {
    path.starts_with("/etc/") || path.contains("bin/") || path == "/usr/lib/sendmail"
}
