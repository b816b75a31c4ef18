//! The error type of this crate: every variant names the file (or package)
//! it concerns and what is wrong with it.

use std::path::PathBuf;

/// Everything that can go wrong while reading, verifying or writing rpm-md metadata.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O error on a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The XML of a metadata file is malformed or does not have the expected shape.
    #[error("{path}: malformed XML near byte {position}: {message}")]
    Xml {
        /// The file.
        path: PathBuf,
        /// Byte offset in the (decompressed) document.
        position: u64,
        /// What is wrong.
        message: String,
    },
    /// A file's checksum differs from the one its repomd.xml records.
    #[error(
        "{path}: {kind} checksum mismatch: repomd.xml records {expected}, the file has {actual}"
    )]
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// Which checksum (`checksum` of the stored file, `open-checksum` of its content).
        kind: &'static str,
        /// What repomd.xml says.
        expected: String,
        /// What the file hashes to.
        actual: String,
    },
    /// A file's size differs from the one its repomd.xml records.
    #[error("{path}: size mismatch: repomd.xml records {expected} bytes, the file has {actual}")]
    SizeMismatch {
        /// The file.
        path: PathBuf,
        /// What repomd.xml says.
        expected: u64,
        /// The real size.
        actual: u64,
    },
    /// A file named in repomd.xml is not there.
    #[error("{path}: named in {repomd} but missing")]
    MissingFile {
        /// The missing file.
        path: PathBuf,
        /// The repomd.xml that names it.
        repomd: PathBuf,
    },
    /// repomd.xml has no record of a type the caller needs.
    #[error("{repomd}: no `{data_type}` record")]
    MissingRecord {
        /// The repomd.xml.
        repomd: PathBuf,
        /// The record type (`primary`, ...).
        data_type: String,
    },
    /// A detached signature is missing, unreadable or does not verify.
    #[error("{path}: bad signature: {message}")]
    BadSignature {
        /// The signature file (or the file it signs).
        path: PathBuf,
        /// Why it fails.
        message: String,
    },
    /// An OpenPGP key file cannot be used.
    #[error("{path}: unusable OpenPGP key: {message}")]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A value in a file is invalid (unknown checksum type, bad number, ...).
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An option has a value that would do harm.
    #[error("{option} {value}: {message}")]
    BadOption {
        /// The option, as the command line spells it.
        option: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        message: &'static str,
    },
    /// An RPM package could not be read.
    #[error("{path}: cannot read package: {message}")]
    Package {
        /// The package file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds the file name to an I/O error.
pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
