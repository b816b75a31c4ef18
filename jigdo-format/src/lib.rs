//! The ostree-jigdo format, version 1 (see `specs/jigdo-format.md`).
//!
//! A jigdo RPM carries an OSTree commit object, its detached metadata, an [`Index`] and the
//! content that no package provides. The index names the pinned package set, every
//! directory and file of the tree with its metadata, and where each file's bytes come from.
//! This crate encodes and decodes the index and names the payload files; it knows nothing
//! of how OSTree objects or RPMs are read or written (that is `ostree-store` and
//! `rpm-package`, from which it takes only the NEVRA formatting), so producer and client
//! share exactly one definition of the format.
//!
//! Place in the data flow: written by `jigdo-pack`, read by `jigdo-unpack`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod delta;
mod index;
mod pins;
mod varint;

pub use delta::{
    DeltaHeader, DeltaObject, DeltaObjectHeader, DeltaOp, DeltaPayloadFile, DeltaReader,
    DeltaWriter, ZstdParams,
};
pub use index::{
    Directory, FileEntry, Index, IndexBuilder, NewContent, ObjectMeta, Source, XattrSet,
};
pub use pins::{PinnedPackage, Requirement};

/// The format version this crate writes (version 2 adds each pin's location).
pub const FORMAT_VERSION: u64 = 2;

/// The format versions this crate reads.
pub const READ_VERSIONS: &[u64] = &[1, 2];

/// The `Provides:` that marks a jigdo RPM of [`FORMAT_VERSION`].
pub const FORMAT_PROVIDE: &str = "ostree-jigdo(v2)";

/// The `Provides:` of every version this crate reads ([`READ_VERSIONS`]).
pub const READ_PROVIDES: &[&str] = &["ostree-jigdo(v1)", "ostree-jigdo(v2)"];

/// Prefix of every format-marking `Provides:` (`ostree-jigdo(vN)`).
pub const FORMAT_PROVIDE_PREFIX: &str = "ostree-jigdo(v";

/// The `Provides:` naming the commit a jigdo RPM encodes.
pub fn commit_provide(commit_hex: &str) -> String {
    format!("ostree-jigdo-commit({commit_hex})")
}

/// Extracts the commit checksum from an `ostree-jigdo-commit(CHECKSUM)` provide name.
pub fn parse_commit_provide(provide: &str) -> Option<&str> {
    provide
        .strip_prefix("ostree-jigdo-commit(")?
        .strip_suffix(')')
        .filter(|c| c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The directory that holds every payload file of the jigdo RPM for `commit_hex`.
pub fn payload_dir(commit_hex: &str) -> String {
    format!("/usr/share/ostree-jigdo/{commit_hex}")
}

/// One file of a jigdo RPM's payload, by its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFile {
    /// `0-commit`: the commit object.
    Commit,
    /// `1-commitmeta`: the detached commit metadata.
    CommitMeta,
    /// `2-index`: the zstd-compressed [`Index`].
    Index,
    /// `3-content/N`: new content blob number N.
    Content(u32),
}

impl PayloadFile {
    /// The file name relative to [`payload_dir`].
    pub fn relative_path(self) -> String {
        match self {
            PayloadFile::Commit => "0-commit".into(),
            PayloadFile::CommitMeta => "1-commitmeta".into(),
            PayloadFile::Index => "2-index".into(),
            PayloadFile::Content(n) => format!("3-content/{n:08}"),
        }
    }

    /// The absolute path inside the jigdo RPM for the commit `commit_hex`.
    pub fn path(self, commit_hex: &str) -> String {
        format!("{}/{}", payload_dir(commit_hex), self.relative_path())
    }

    /// Recognises a payload path (absolute, or with rpm's leading `./`) of the jigdo RPM
    /// for `commit_hex`; `None` for any other path.
    pub fn parse(path: &str, commit_hex: &str) -> Option<PayloadFile> {
        let path = path.strip_prefix('.').unwrap_or(path);
        let rest = path
            .strip_prefix(&payload_dir(commit_hex))?
            .strip_prefix('/')?;
        match rest {
            "0-commit" => Some(PayloadFile::Commit),
            "1-commitmeta" => Some(PayloadFile::CommitMeta),
            "2-index" => Some(PayloadFile::Index),
            _ => {
                let n = rest.strip_prefix("3-content/")?;
                if n.len() == 8 && n.bytes().all(|b| b.is_ascii_digit()) {
                    n.parse().ok().map(PayloadFile::Content)
                } else {
                    None
                }
            }
        }
    }
}

/// Everything that can be wrong with a jigdo index or its surroundings.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The index is not a zstd frame, or decompresses to more than allowed.
    #[error("index is not valid zstd data: {0}")]
    Compression(#[source] std::io::Error),
    /// The index does not start with the magic bytes.
    #[error("not a jigdo index (bad magic)")]
    BadMagic,
    /// The index declares a format version this reader does not know.
    #[error(
        "jigdo format version {found} is not supported (this client reads version {supported})"
    )]
    UnsupportedVersion {
        /// The version the data declares.
        found: u64,
        /// The version this crate reads.
        supported: u64,
    },
    /// The index decodes to more bytes than its compressed size allows (a decompression
    /// bomb, or front-coded names that expand far beyond the input).
    #[error(
        "the index decodes to more than {limit} bytes, more than its {compressed} compressed \
         bytes allow"
    )]
    TooLarge {
        /// Decoded bytes allowed.
        limit: u64,
        /// Size of the compressed index.
        compressed: u64,
    },
    /// The data ends inside a field.
    #[error("index is truncated (while reading {0})")]
    Truncated(&'static str),
    /// A field holds a value that the format does not allow.
    #[error("index is invalid: {0}")]
    Invalid(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_paths_round_trip_and_sort_in_payload_order() {
        let c = "ab".repeat(32);
        let files = [
            PayloadFile::Commit,
            PayloadFile::CommitMeta,
            PayloadFile::Index,
            PayloadFile::Content(0),
            PayloadFile::Content(12),
        ];
        let paths: Vec<String> = files.iter().map(|f| f.path(&c)).collect();
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths, sorted);
        for (f, p) in files.iter().zip(&paths) {
            assert_eq!(PayloadFile::parse(p, &c), Some(*f));
            assert_eq!(PayloadFile::parse(&format!(".{p}"), &c), Some(*f));
        }
        assert_eq!(PayloadFile::parse("/usr/share/other", &c), None);
        assert_eq!(
            PayloadFile::parse(&format!("{}/3-content/1", payload_dir(&c)), &c),
            None
        );
    }

    #[test]
    fn commit_provide_round_trip() {
        let c = "0f".repeat(32);
        assert_eq!(parse_commit_provide(&commit_provide(&c)), Some(c.as_str()));
        assert_eq!(parse_commit_provide("ostree-jigdo-commit(xyz)"), None);
    }
}
