//! jigdo RPM + package files → the exact commit: the client side of ostree-jigdo that
//! touches no network. `jigdo-install` downloads what this crate reads; `jigdo info` and
//! `jigdo unpack` use it directly.
//!
//! - [`JigdoRpm`]: a jigdo RPM read and checked (format version, pins, commit, index),
//!   with its new-content blobs streamed by [`BlobStream`].
//! - [`UnpackJob`]: the jigdo RPM read once, the plan made once and what the target
//!   repository still needs decided once ([`UnpackJob::needed`]); then
//!   [`UnpackJob::finish`] rebuilds the bit-for-bit identical commit, incrementally and
//!   safely against interruption (see the [`mod@unpack`] module docs for the order of
//!   work), reporting [`UnpackEvent`]s. [`unpack`] is both steps for `jigdo unpack`.
//! - [`info`]: what a jigdo RPM holds.
//! - [`PackageFiles`]: how the packages are found and opened checked against their pins:
//!   [`Sources`] / [`PackageSource`] search local directories (every candidate hashed),
//!   [`HandedOver`] takes the files a caller already verified (not hashed again).
//! - [`PackageCache`]: per-package record of the content objects its files became, so
//!   that updates skip packages without reading them.
//! - [`InstallRecord`]: what a repository keeps about each commit jigdo put there (the
//!   jigdo RPM, its pinned set, its index), written by [`unpack`] and `jigdo-install`.
//! - [`Plan`] and [`rebuild_tree`]: what the tree needs from each source, and the
//!   bottom-up rebuild of its dirtrees and dirmetas.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cache;
pub mod delta;
pub mod error;
pub mod event;
pub mod info;
pub mod jigdo_rpm;
pub mod plan;
pub mod rebuild;
pub mod record;
pub mod source;
pub mod unpack;

pub use cache::{ObjectKey, PackageCache};
pub use delta::{
    apply_delta, delta_info, is_delta_rpm, DeltaApplyReport, DeltaInfo, DeltaJob, DeltaRpm,
    RecompressedInfo,
};
pub use error::{Result, UnpackError};
pub use event::UnpackEvent;
pub use info::{info, InfoPackage, InfoReport};
pub use jigdo_rpm::{BlobStream, JigdoRpm};
pub use plan::{InconsistentIndex, Plan};
pub use rebuild::{
    file_path, locate_difference, rebuild_tree, rebuild_tree_streaming, Difference, RebuiltTree,
};
pub use record::{InstallRecord, PendingRecord, RecordedPackage};
pub use source::{
    Arrivals, HandedOver, LocalDir, Located, PackageContent, PackageFiles, PackageSource, Sources,
};
pub use unpack::{finish_local, unpack, Decided, Target, UnpackJob, UnpackOptions, UnpackReport};

/// Helpers shared by the unit tests of this crate's modules.
#[cfg(test)]
pub(crate) mod test_support {
    use jigdo_format::{FileEntry, PinnedPackage, Source};

    /// The index entry of file `name`, taken from package number `package` at the same
    /// path, with metadata entry `meta`.
    pub(crate) fn package_file(name: &str, package: u32, meta: u32) -> FileEntry {
        FileEntry {
            name: name.into(),
            source: Source::Package {
                package,
                path: None,
            },
            meta,
        }
    }

    /// A pin of `name`-`version`-1.noarch (epoch 0, no recorded location) with package
    /// id `id` and size `size`.
    pub(crate) fn pin(name: &str, version: &str, id: [u8; 32], size: u64) -> PinnedPackage {
        PinnedPackage {
            name: name.into(),
            epoch: 0,
            version: version.into(),
            release: "1".into(),
            arch: "noarch".into(),
            id,
            size,
            location: String::new(),
        }
    }
}
