//! The client side of ostree-jigdo: `jigdo unpack` and `jigdo info`.
//!
//! - [`JigdoRpm`]: a jigdo RPM read and checked (format version, pins, commit, index),
//!   with its new-content blobs streamed by [`BlobStream`].
//! - [`unpack`]: rebuilds the bit-for-bit identical commit in an OSTree repository from
//!   the jigdo RPM and the pinned packages, incrementally and safely against interruption
//!   (see the [`mod@unpack`] module docs for the order of work).
//! - [`info`]: what a jigdo RPM holds.
//! - [`Sources`] / [`PackageSource`]: where pinned packages come from; every candidate
//!   is checked against its pin before use.
//! - [`PackageCache`]: per-package record of the content objects its files became, so
//!   that updates skip packages without reading them.
//! - [`Plan`] and [`rebuild_tree`]: what the tree needs from each source, and the
//!   bottom-up rebuild of its dirtrees and dirmetas.

pub mod cache;
pub mod error;
pub mod info;
pub mod jigdo_rpm;
pub mod plan;
pub mod rebuild;
pub mod source;
pub mod unpack;

pub use cache::{ObjectKey, PackageCache};
pub use error::{Result, UnpackError};
pub use info::{info, InfoPackage, InfoReport};
pub use jigdo_rpm::{BlobStream, JigdoRpm};
pub use plan::Plan;
pub use rebuild::{rebuild_tree, RebuiltTree};
pub use source::{LocalDir, PackageSource, Sources};
pub use unpack::{unpack, UnpackOptions, UnpackReport};
