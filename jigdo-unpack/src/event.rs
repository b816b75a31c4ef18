//! Typed progress of an unpack, for a caller to print or count.

use std::fmt;

use jigdo_format::PinnedPackage;
use ostree_store::Checksum;

/// What an unpack reports as it goes. The `Display` form is the one-line message
/// `jigdo unpack` prints.
#[derive(Debug, Clone, Copy)]
pub enum UnpackEvent<'a> {
    /// The commit is already complete in the repository: only the ref is set.
    AlreadyComplete {
        /// The commit.
        commit: &'a Checksum,
    },
    /// Which packages must be read: `needed` of the `total` pinned packages (the others
    /// give the tree nothing, or everything they give is already in the repository).
    Importing {
        /// Packages that will be read.
        needed: usize,
        /// Packages in the pinned set.
        total: usize,
    },
    /// One package was read and the objects it gives were written.
    Imported {
        /// The package.
        package: &'a PinnedPackage,
    },
}

impl fmt::Display for UnpackEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnpackEvent::AlreadyComplete { commit } => {
                write!(f, "commit {commit} is already complete in the repository")
            }
            UnpackEvent::Importing { needed, total } => {
                write!(f, "{needed}/{total} packages to import")
            }
            UnpackEvent::Imported { package } => write!(f, "imported {}", package.nevra()),
        }
    }
}
