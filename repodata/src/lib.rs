//! rpm-md (yum/dnf) repository metadata: streaming readers for repomd.xml,
//! primary, filelists and other in every common compression; checksum and
//! OpenPGP verification; queries by name, NEVRA and provides with rpm's
//! version ordering; and writers that publish repositories dnf reads.
//!
//! Place in the data flow: the repository format between producer and client —
//! `jigdo repo create|prune` publish with it, `jigdo-install` reads what `repo-fetch`
//! downloaded with it. It never downloads anything itself.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod checksum;
pub mod compress;
pub mod create;
pub mod error;
pub mod fromheader;
pub mod jigdo_record;
pub mod model;
pub mod parse;
pub mod prune;
pub mod repomd;
mod xmlread;
pub mod xmlwrite;

pub use compress::Compression;
pub use error::{Error, Result};
pub use model::{Changelog, Checksum, ChecksumType, Dependency, FileEntry, FileType, Package};
pub use parse::{ExtraEntry, ExtraKind, ExtraReader, PrimaryReader};
pub use repomd::{Repomd, RepomdRecord};
pub use rpm_package::evr::{rpmvercmp, Evr, Relation};
pub mod index;
pub mod repo;
#[cfg(feature = "signing")]
pub mod signature;

pub use create::{create_repo, create_repo_with_progress, is_current, CreateOptions, CreateReport};
pub use index::{IndexEntry, RepoIndex};
pub use jigdo_record::JigdoEntry;
pub use prune::{check_keep, prune_repo, PruneOptions, PruneReport};
pub use repo::LocalRepo;
