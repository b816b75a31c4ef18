//! OSTree objects and repositories, byte-exact with libostree.
//!
//! Public API (see each item's docs):
//! - [`Checksum`] (32 bytes; hex `Display`/`FromStr`/serde as a hex string),
//!   [`ObjectType`] with loose-object extensions.
//! - Object encodings: [`Commit`] (metadata `a{sv}` and related objects kept as
//!   raw bytes so re-encoding is exact), [`DirTree`], [`DirMeta`],
//!   [`FileHeader`], [`MetaEntry`]/[`parse_metadata`]/[`encode_metadata`] for
//!   `a{sv}`, and [`ContentHasher`] / [`content_checksum`] for content
//!   checksums. Metadata object checksum = [`Checksum::of_bytes`] of the bytes.
//! - [`Repo`]: open/init in every mode ([`RepoMode`]), config, refs, rev-parse,
//!   object reading (verified), streaming file reading, traversal, writing with
//!   staging + rename, partial-commit markers, atomic refs, libostree's lock.
//! - [`fsck`]: parallel verification of everything commits reach.
//! - [`CommitArchive`]: osbuild-composer commit tarballs opened as a [`Repo`].
//! - Errors: [`Error`] (typed, names the object or file).

pub mod checksum;
pub mod error;
pub mod gvariant;
pub mod objects;

pub use checksum::{Checksum, ChecksumParseError, ObjectType};
pub use error::{Error, Result};
pub use objects::{
    content_checksum, encode_metadata, metadata_string, parse_metadata, Commit, ContentHasher,
    DirMeta, DirTree, FileHeader, MetaEntry, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG,
};
pub mod archive;
pub mod fsck;
pub mod lock;
pub mod repo;
pub mod write;

pub use archive::{CommitArchive, ComposeInfo};
pub use fsck::{fsck, FsckProblem, FsckReport};
pub use lock::{LockGuard, LockKind};
pub use repo::{
    read_ref_file, validate_ref_name, Config, ContentReader, Reachable, RefEntry, RefKind, Repo,
    RepoMode, Traversal,
};
pub use write::{write_file_atomic, Transaction};
