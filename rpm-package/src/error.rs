//! Error type shared by every part of the crate.

use std::fmt;

/// An error while reading, verifying or writing one RPM package.
///
/// `package` names the package (its path, or a label given by the caller for readers);
/// `kind` says what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("package {package}: {kind}")]
pub struct Error {
    /// The package the error is about (usually its path).
    pub package: String,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl Error {
    /// Build an error for `package`.
    pub fn new(package: impl fmt::Display, kind: ErrorKind) -> Self {
        Error {
            package: package.to_string(),
            kind,
        }
    }
}

/// What went wrong with a package.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An I/O error while doing `context`.
    #[error("I/O error while {context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file ends before a structure it announces.
    #[error("truncated: {0}")]
    Truncated(String),
    /// A magic number is not what the format requires.
    #[error("bad magic: {0}")]
    BadMagic(String),
    /// The lead, signature header or main header is malformed.
    #[error("malformed header: {0}")]
    BadHeader(String),
    /// A feature this crate does not handle.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A recorded digest does not match the content.
    #[error("{what} digest mismatch: header says {expected}, content has {actual}")]
    DigestMismatch {
        /// Which digest (e.g. "header SHA-256", "file /usr/bin/foo SHA-256").
        what: String,
        /// Value recorded in the package.
        expected: String,
        /// Value computed from the content.
        actual: String,
    },
    /// The payload archive is malformed.
    #[error("malformed payload: {0}")]
    Payload(String),
    /// A payload entry name escapes the installation root.
    #[error("unsafe path in payload: {0:?}")]
    UnsafePath(String),
    /// A payload entry's size disagrees with the header.
    #[error("size mismatch for {path}: header says {header} bytes, payload has {payload}")]
    SizeMismatch {
        /// File path.
        path: String,
        /// Size the header records (or implies).
        header: u64,
        /// Size the payload entry declares.
        payload: u64,
    },
    /// The decompressed payload is larger than the header allows.
    #[error(
        "decompressed payload exceeds the {limit} bytes the header allows (decompression bomb?)"
    )]
    TooLarge {
        /// The limit derived from the header.
        limit: u64,
    },
    /// Building a package failed.
    #[error("build failed: {0}")]
    Build(String),
    /// A spec template could not be parsed.
    #[error("spec template: {0}")]
    Spec(String),
    /// Signing or signature verification failed.
    #[error("signature: {0}")]
    Signature(String),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Wrap an io::Error with context, mapping unexpected EOF to `Truncated`.
pub(crate) fn io_kind(context: impl Into<String>, source: std::io::Error) -> ErrorKind {
    let context = context.into();
    if source.kind() == std::io::ErrorKind::UnexpectedEof {
        ErrorKind::Truncated(format!("file ends while {context}"))
    } else {
        ErrorKind::Io { context, source }
    }
}
