//! OSTree objects and repositories, byte-exact with libostree (checked against
//! Debian's ostree 2022.7 in this crate's tests).
//!
//! Place in the data flow: both ends — `jigdo-pack` reads the commit to encode from an
//! OSTree repository, `jigdo-unpack` writes the rebuilt commit into one.
//!
//! # Public API
//! Objects ([`checksum`], [`objects`], [`gvariant`]):
//! - [`Checksum`]: 32-byte SHA-256; hex `Display`/`FromStr`, serde as hex string,
//!   [`Checksum::of_bytes`] (= the name of a metadata object).
//! - [`ObjectType`]: `File`, `DirTree`, `DirMeta`, `Commit`, `TombstoneCommit`,
//!   `CommitMeta`, …; [`ObjectType::extension`] gives the loose-object suffix.
//! - [`Commit`]: `decode`/`encode`/`checksum`; `metadata` (`a{sv}`) and
//!   `related` kept as raw bytes so re-encoding is exact; `parent`, `subject`,
//!   `body`, `timestamp`, `root_tree`, `root_meta`; [`Commit::metadata_string`],
//!   [`Commit::version`].
//! - `a{sv}` helpers: [`parse_metadata`], [`encode_metadata`], [`metadata_string`], [`MetaEntry`].
//! - [`DirTree`] {files: (name, checksum), dirs: (name, tree, meta)}: `encode`
//!   sorts by name as libostree requires; `decode` rejects unsafe names.
//! - [`DirMeta`] {uid, gid, mode, xattrs}.
//! - [`FileHeader`] {uid, gid, mode, rdev, symlink_target, xattrs}; xattr names
//!   carry the trailing NUL libostree stores. Encodings for the checksum header,
//!   the archive `.filez` header and the bare-user `user.ostreemeta` xattr.
//! - [`ContentHasher`] (header, then streamed bytes → content checksum) and
//!   [`content_checksum`].
//!
//! Repositories ([`repo`], [`write`](mod@write), [`lock`]):
//! - [`Repo::open`], [`Repo::init`] with [`RepoMode`] (`Archive` = archive-z2,
//!   `Bare`, `BareUser`, `BareUserOnly`; `BareSplitXattrs` read-only), [`Repo::config`] ([`Config`]).
//! - Refs: [`Repo::list_refs`] ([`RefEntry`]: heads, remotes, mirrors),
//!   [`Repo::set_ref`] (atomic), [`Repo::resolve_rev`] (ref, `REMOTE:REF`,
//!   full checksum, unique prefix, `REV^`), [`validate_ref_name`].
//! - Reading: [`Repo::has_object`], [`Repo::read_metadata`] (verified),
//!   [`Repo::read_commit`], [`Repo::read_dirtree`], [`Repo::read_dirmeta`],
//!   [`Repo::read_commit_detached_metadata`], [`Repo::read_file`] → (header,
//!   streaming [`ContentReader`]), [`Repo::verify_file`], [`Repo::verify_object`],
//!   [`Repo::traverse_commit`] → [`Traversal`] of [`Reachable`] objects with paths,
//!   [`Repo::list_commit_objects`], [`Repo::loose_objects`] (every object, listed at once).
//! - Writing: [`Repo::transaction`] → [`Transaction`] (`&self` methods, use
//!   from many threads): `write_content`, `write_content_with_checksum`,
//!   `write_metadata`, `stage_file` (a file renamed into place at commit, after the
//!   flush), `commit`. One-shot [`Repo::write_content`],
//!   [`Repo::write_content_with_checksum`], [`Repo::write_metadata`];
//!   [`Repo::write_commit_detached_metadata`]; partial markers
//!   ([`Repo::mark_commit_partial`], [`Repo::is_commit_partial`],
//!   [`Repo::is_commit_complete`]); [`write_file_atomic`].
//! - Locking: [`Repo::lock`] with [`LockKind`] — libostree's OFD lock on
//!   `.lock`. Note: like OFD locks themselves, this is not recursive across
//!   guards: holding `Exclusive` and then opening a transaction (which takes
//!   `Shared` through another descriptor) would wait for itself.
//!
//! Archive content ([`filez`]): the `.filez` framing, and content up to
//! [`filez::WHOLE_INFLATE_MAX`] inflated whole by libdeflate ([`filez::decode`]); reading
//! an archive repository uses it (larger content streams through zlib-rs).
//!
//! Verification and archives:
//! - [`fsck()`] → [`FsckReport`] with [`FsckProblem`]s (checksum, type, path, commit).
//! - [`with_io_pool`]: runs parallel work that mostly waits on reads with more threads
//!   than cores (fsck uses it; so do pack's digests and `repo create`'s scan).
//! - [`CommitArchive`]: osbuild-composer commit tarballs (`repo/` +
//!   `compose.json`): [`CommitArchive::open`] reads the repository in place
//!   from the (uncompressed) tar, read-only ([`Repo::is_in_tar`]);
//!   [`CommitArchive::open_in`] unpacks it into a temporary directory removed
//!   on drop.
//!
//! Errors: [`Error`] (typed; names the object or file and the fault).
//!
//! xattr order: libostree 2022.7 hashes xattrs in the order given (newer
//! libostree sorts them by name first). We hash them as given and read them
//! back in the order stored; when verifying bare/bare-user content whose
//! stored order is not sorted, the sorted order is accepted too.

#![deny(missing_docs)]

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
pub mod filez;
pub mod fsck;
pub mod lock;
pub mod parallel;
pub mod repo;
mod tarstore;
pub mod write;

pub use archive::{CommitArchive, ComposeInfo};
pub use fsck::{fsck, fsck_with_progress, FsckProblem, FsckReport};
pub use lock::{LockGuard, LockKind};
pub use parallel::with_io_pool;
pub use repo::{
    read_ref_file, validate_ref_name, ArchiveContent, Config, ConfigSyntax, ContentReader,
    Reachable, RefEntry, RefKind, Repo, RepoMode, Traversal, UnknownMode,
};
pub use tarstore::TarMember;
pub use write::{write_file_atomic, Transaction, WrittenContent, SMALL_CONTENT};
