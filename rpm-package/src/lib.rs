//! Read, stream, verify and write RPM packages.
//!
//! Place in the data flow: the shared RPM layer under both sides — `jigdo-pack` reads
//! package files and writes the jigdo RPM, `repodata` reads headers to publish
//! repositories, `jigdo-unpack` streams payloads. It also owns the workspace's one
//! definition of digests and checksums ([`digest`]) and of versions ([`evr`]: EVR,
//! version order, NEVRA).
//!
//! - [`PackageHeader`]: everything the header says, read without touching the payload.
//! - [`PayloadReader`]: the payload streamed file by file, every file digest-checked.
//! - [`verify_digests`]: the header and payload digests rpm records, checked.
//! - [`package_id`]: SHA-256 of the whole file.
//! - [`PackageBuilder`] / [`SpecTemplate`]: writing packages (optionally signed), and
//!   OpenPGP signature checks; cargo feature `build` (default), which the readers do not
//!   need (the fuzz target builds without it).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod digest;
pub mod error;
pub mod evr;
pub mod header;
pub mod raw;
pub mod tags;

pub use digest::{BadDigest, Checksum, DigestAlgorithm, Hasher};
pub use error::{Error, ErrorKind, Result};
pub use evr::{check_nevra_field, nevra, ranges_overlap, rpmvercmp, Evr, Relation};
pub use header::{
    package_id, ChangelogEntry, Compression, DepFlags, Dependency, FileEntry, FileFlags,
    PackageHeader,
};
pub mod payload;
pub mod verify;

pub use payload::{
    verify_payload, Entry, EntryInfo, PayloadReader, MAX_DECODER_MEMORY, ZSTD_WINDOW_LOG_MAX,
};
pub use verify::{verify_digests, verify_digests_of, DigestReport};
#[cfg(feature = "build")]
pub mod build;
#[cfg(feature = "build")]
mod spool;

#[cfg(feature = "build")]
pub use build::{
    signature_tags, verify_header_signature, verify_signature, DepKind, FileContent, FileSpec,
    PackageBuilder, SpecTemplate,
};
pub mod fuzzing;
