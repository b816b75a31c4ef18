//! The pinned package set: how each package is named in the index and in the jigdo RPM's
//! `Requires:` (`name(arch) = E:V-R`, or `name = E:V-R` for noarch).

use std::fmt;

/// One package of the set, pinned by NEVRA, package id and size.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PinnedPackage {
    /// Package name.
    pub name: String,
    /// Epoch (0 when the package has none).
    pub epoch: u64,
    /// Version.
    pub version: String,
    /// Release.
    pub release: String,
    /// Architecture (`noarch` for architecture-independent packages).
    pub arch: String,
    /// SHA-256 of the whole package file (the package id of rpm-md repodata).
    pub id: [u8; 32],
    /// Size of the package file in bytes.
    pub size: u64,
    /// Where the package was found at pack time, relative to its repository or
    /// pool directory (`Packages/b/bash-5.2-1.x86_64.rpm`, the rpm-md `href`):
    /// a client fetches `baseurl + location` without reading any primary.
    /// Empty when unknown (indexes of format version 1).
    pub location: String,
}

impl PinnedPackage {
    /// `name-[epoch:]version-release.arch`, as dnf prints a NEVRA.
    pub fn nevra(&self) -> String {
        let PinnedPackage {
            name,
            epoch,
            version,
            release,
            arch,
            ..
        } = self;
        rpm_package::nevra(name, *epoch, version, release, arch)
    }

    /// The package id as lowercase hex.
    pub fn id_hex(&self) -> String {
        hex::encode(self.id)
    }

    /// The `Requires:` that pins this package in the jigdo RPM.
    pub fn requirement(&self) -> Requirement {
        let name = if self.arch == "noarch" {
            self.name.clone()
        } else {
            format!("{}({})", self.name, self.arch)
        };
        Requirement {
            name,
            evr: format!("{}:{}-{}", self.epoch, self.version, self.release),
        }
    }
}

impl fmt::Display for PinnedPackage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.nevra())
    }
}

/// An exact-version requirement `name = EPOCH:VERSION-RELEASE`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Requirement {
    /// The capability: `name(arch)` or, for noarch packages, `name`.
    pub name: String,
    /// `EPOCH:VERSION-RELEASE`, epoch always written.
    pub evr: String,
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.name, self.evr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(arch: &str, epoch: u64) -> PinnedPackage {
        PinnedPackage {
            name: "bash".into(),
            epoch,
            version: "5.2".into(),
            release: "1".into(),
            arch: arch.into(),
            id: [7; 32],
            size: 10,
            location: String::new(),
        }
    }

    #[test]
    fn requirement_names_arch_packages_by_arch() {
        assert_eq!(
            pkg("x86_64", 0).requirement().to_string(),
            "bash(x86_64) = 0:5.2-1"
        );
        assert_eq!(pkg("noarch", 2).requirement().to_string(), "bash = 2:5.2-1");
    }

    #[test]
    fn nevra_omits_zero_epoch() {
        assert_eq!(pkg("x86_64", 0).nevra(), "bash-5.2-1.x86_64");
        assert_eq!(pkg("noarch", 1).nevra(), "bash-1:5.2-1.noarch");
    }
}
