//! Typed errors of the object store.

use std::path::PathBuf;

use crate::checksum::{Checksum, ObjectType};
use crate::gvariant::GvError;

/// Errors from reading or writing OSTree objects and repositories.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file-system operation failed.
    // The cause is part of the message (and deliberately not a `#[source]`),
    // so that `{:#}` chains do not print it twice.
    #[error("{}: {error}", path.display())]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// An object is not in the repository.
    #[error("object {checksum}.{objtype} is missing")]
    Missing {
        /// Object name.
        checksum: Checksum,
        /// Object type.
        objtype: ObjectType,
    },
    /// An object exists but cannot be decoded.
    #[error("object {checksum}.{objtype} is corrupt: {reason}")]
    Corrupt {
        /// Object name.
        checksum: Checksum,
        /// Object type.
        objtype: ObjectType,
        /// What is wrong.
        reason: String,
    },
    /// An object's bytes do not hash to its name.
    #[error("object {expected}.{objtype} is corrupt: its checksum is {actual}")]
    ChecksumMismatch {
        /// Name of the object (the expected checksum).
        expected: Checksum,
        /// Checksum actually computed.
        actual: Checksum,
        /// Object type.
        objtype: ObjectType,
    },
    /// Malformed serialized data outside a stored object (e.g. caller input).
    #[error("malformed {what}: {error}")]
    Malformed {
        /// What was being decoded.
        what: String,
        /// The decoding fault.
        error: GvError,
    },
    /// The repository's `config` is unusable.
    #[error("{}: {reason}", path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The repository mode is not one we know.
    #[error("{}: unknown repository mode {mode:?}", path.display())]
    UnknownMode {
        /// The config file.
        path: PathBuf,
        /// The mode string found.
        mode: String,
    },
    /// A ref file or ref name is invalid.
    #[error("{}: invalid ref: {reason}", path.display())]
    BadRef {
        /// The ref file (or name).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A revision did not resolve to a commit.
    #[error("revision {0:?} not found")]
    RevNotFound(String),
    /// A checksum prefix matches several commits.
    #[error("revision {0:?} is ambiguous (matches several commits)")]
    AmbiguousRev(String),
    /// Content written did not hash to the expected checksum.
    #[error("content does not match: expected {expected}, got {actual}")]
    WrongContent {
        /// Expected checksum.
        expected: Checksum,
        /// Computed checksum.
        actual: Checksum,
    },
    /// The operation is not supported for this repository mode or object.
    #[error("{0}")]
    Unsupported(String),
    /// Invalid input given by the caller.
    #[error("{0}")]
    Invalid(String),
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches a path to an `io::Error`.
pub(crate) trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|error| Error::Io {
            path: path.into(),
            error,
        })
    }
}
