//! Typed errors of `jigdo unpack` and `jigdo info`.

use std::path::PathBuf;

/// Everything that can make reading a jigdo RPM or rebuilding its commit fail.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// A file-system operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An RPM (the jigdo RPM or a pinned package) could not be read.
    #[error(transparent)]
    Rpm(#[from] rpm_package::Error),
    /// The OSTree repository could not be read or written.
    #[error(transparent)]
    Store(#[from] ostree_store::Error),
    /// The file is an RPM but not a jigdo RPM (no `ostree-jigdo(vN)` provide, …).
    #[error("{}: not a jigdo RPM: {reason}", path.display())]
    NotJigdo {
        /// The RPM.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// The jigdo RPM uses a format version this client does not read.
    #[error(
        "{}: jigdo format {found} is not supported (this client reads ostree-jigdo(v1) to ostree-jigdo(v{supported}))",
        path.display()
    )]
    UnsupportedVersion {
        /// The jigdo RPM.
        path: PathBuf,
        /// The version it declares (as written: `ostree-jigdo(v2)`, or `index version 2`).
        found: String,
        /// The newest version this client reads.
        supported: u64,
    },
    /// The index (`2-index`) could not be decoded.
    #[error("{}: {source}", path.display())]
    Format {
        /// The jigdo RPM.
        path: PathBuf,
        /// The decoding fault.
        source: jigdo_format::FormatError,
    },
    /// The jigdo RPM is inconsistent or damaged (payload, pins, commit).
    #[error("{}: corrupt jigdo RPM: {reason}", path.display())]
    Corrupt {
        /// The jigdo RPM.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A pinned package is in none of the sources.
    #[error("pinned package {nevra} (sha256 {id}) is not in any source ({sources}){detail}")]
    PackageMissing {
        /// The package's NEVRA.
        nevra: String,
        /// Its package id.
        id: String,
        /// The sources searched, comma-separated.
        sources: String,
        /// Candidates that were found but rejected, if any (`; rejected: …`).
        detail: String,
    },
    /// The package files that were to arrive while the unpack ran did not all come, or
    /// their provider gave up ([`crate::source::PackageFiles::settled`]): nothing was
    /// committed.
    #[error(
        "the package files stopped arriving: {reason}; the commit stays partial and no ref \
         was set"
    )]
    ArrivalsFailed {
        /// Why.
        reason: String,
    },
    /// A package file does not have the bytes its pin requires.
    #[error("{}: is not the pinned package {nevra}: {reason}", path.display())]
    PinMismatch {
        /// The candidate file.
        path: PathBuf,
        /// The pinned package's NEVRA.
        nevra: String,
        /// What differs (size or SHA-256).
        reason: String,
    },
    /// A pinned package (whose pin matched) does not hold what the index says it does.
    #[error("{}: package {nevra}: {reason}", path.display())]
    PackageContent {
        /// The package file.
        path: PathBuf,
        /// Its NEVRA.
        nevra: String,
        /// What is wrong (missing file, wrong type).
        reason: String,
    },
    /// The rebuilt tree does not hash to what the commit names.
    #[error(
        "{}: rebuilt commit {commit} does not match: {mismatch}; {difference}. The jigdo \
         RPM's index does not describe its commit (damaged or hostile): {state}; do not \
         use this jigdo RPM: fetch it again, or report it to its publisher",
        jigdo.display()
    )]
    TreeMismatch {
        /// The jigdo RPM.
        jigdo: PathBuf,
        /// The commit checksum.
        commit: String,
        /// Which root object differs (`the root dirtree is X, the commit names Y`).
        mismatch: String,
        /// Where the rebuilt tree first differs, as far as it could be found.
        difference: String,
        /// What the repository holds now (`the commit stays partial and no ref was set`).
        state: &'static str,
    },
    /// An object's bytes do not hash to the checksum computed for it when the jigdo RPM
    /// was read.
    #[error(
        "content does not match: object {object}{} made from {from} has checksum {actual}; \
         the file changed while it was read or is damaged: fetch it again",
        path.as_deref().map(|p| format!(" (/{p})")).unwrap_or_default()
    )]
    ContentMismatch {
        /// The object expected.
        object: String,
        /// What the bytes hash to.
        actual: String,
        /// Its path in the tree, when known.
        path: Option<String>,
        /// Where its bytes came from.
        from: String,
    },
    /// A `--from` source cannot be used by `jigdo unpack`.
    #[error("source {spec}: {reason}")]
    BadSource {
        /// The source as given.
        spec: String,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// The tree cannot be stored in a bare-user-only repository.
    #[error(
        "commit {commit} cannot be stored in a bare-user-only repository: {reason} \
         (use --mode bare-user)"
    )]
    BareUserOnly {
        /// The commit.
        commit: String,
        /// The first file that does not fit.
        reason: String,
    },
    /// After the rebuild, an object the commit reaches cannot be read.
    #[error("commit {commit} is still incomplete at {path}: {error}")]
    Unreadable {
        /// The commit.
        commit: String,
        /// The path the object serves.
        path: String,
        /// Why it cannot be read.
        error: Box<ostree_store::Error>,
    },
    /// After the rebuild, an object the commit reaches is missing.
    #[error("commit {commit} is still incomplete: {object} ({path}) is missing")]
    Missing {
        /// The commit.
        commit: String,
        /// The object (`CHECKSUM.TYPE`).
        object: String,
        /// The path it serves.
        path: String,
    },
    /// A file of the tree has no content object (the index and the package disagree).
    #[error("no content object was made for /{path}")]
    NoObject {
        /// The file's path in the tree.
        path: String,
    },
    /// A delta RPM's base commit is not (complete) in the repository.
    #[error(
        "{}: the repository {} does not hold the delta's base commit {base}",
        path.display(),
        repo.display()
    )]
    DeltaBaseMissing {
        /// The delta RPM.
        path: PathBuf,
        /// Its base commit.
        base: String,
        /// The repository.
        repo: PathBuf,
    },
    /// An install record (`extensions/jigdo/commits/COMMIT.json` or `.index`) cannot be
    /// read or names something else than its file name says.
    #[error("{}: install record: {reason}", path.display())]
    Record {
        /// The record file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A broken invariant of this crate (a bug, not bad input).
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl UnpackError {
    /// Names the object and where its bytes came from (`from`, and `path` in the tree
    /// when known) in an [`ostree_store::Error::WrongContent`]; other errors pass.
    pub(crate) fn content_from(
        e: ostree_store::Error,
        path: Option<String>,
        from: impl FnOnce() -> String,
    ) -> UnpackError {
        match e {
            ostree_store::Error::WrongContent { expected, actual } => {
                UnpackError::ContentMismatch {
                    object: expected.to_hex(),
                    actual: actual.to_hex(),
                    path,
                    from: from(),
                }
            }
            e => e.into(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = UnpackError> = std::result::Result<T, E>;

/// Attaches a path to an `io::Error`.
pub(crate) trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| UnpackError::Io {
            path: path.into(),
            source,
        })
    }
}
