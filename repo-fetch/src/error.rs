//! Errors of the download layer. Every error names what was being fetched
//! (package or relative path) and, for transfer failures, each mirror tried.

use std::fmt;
use std::path::PathBuf;

use rpm_package::digest::{BadDigest, DigestAlgorithm};

/// Why one attempt at one URL failed. Collected per mirror in
/// [`FetchError::AllMirrorsFailed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptError {
    /// The server answered with this HTTP status (404, 500, …).
    Status(u16),
    /// The TCP/TLS connection could not be made.
    Connect(String),
    /// No byte arrived for the stall timeout (or the connect timeout passed).
    Timeout(String),
    /// The transfer broke off (reset, early end of body, protocol error).
    Transfer(String),
    /// The body had a different length than the expected size.
    SizeMismatch {
        /// Expected size in bytes.
        expected: u64,
        /// Bytes actually received (or announced by the server).
        got: u64,
    },
    /// The content did not match the expected checksum.
    Checksum {
        /// The algorithm.
        kind: DigestAlgorithm,
        /// Expected hex digest.
        expected: String,
        /// Hex digest of what arrived.
        got: String,
        /// Whether the expected checksum came from a metalink.
        from_metalink: bool,
    },
    /// A metalink lists hashes for the file but none of a known type and form: it
    /// promises a check that cannot be made.
    NoUsableHash {
        /// The hashes listed, as (type, value).
        listed: Vec<(String, String)>,
    },
    /// A local file (`file://` mirror) could not be read.
    Local(String),
    /// The body was larger than allowed for in-memory metadata.
    TooLarge(u64),
}

impl AttemptError {
    /// Whether trying the same mirror again may help (transient faults). Wrong
    /// content, missing files and client errors move on to the next mirror.
    pub fn is_transient(&self) -> bool {
        match self {
            AttemptError::Status(code) => *code >= 500 || *code == 408 || *code == 429,
            AttemptError::Connect(_) | AttemptError::Timeout(_) | AttemptError::Transfer(_) => true,
            AttemptError::SizeMismatch { .. }
            | AttemptError::Checksum { .. }
            | AttemptError::NoUsableHash { .. }
            | AttemptError::Local(_)
            | AttemptError::TooLarge(_) => false,
        }
    }
}

impl fmt::Display for AttemptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptError::Status(code) => write!(f, "HTTP status {code}"),
            AttemptError::Connect(e) => write!(f, "cannot connect: {e}"),
            AttemptError::Timeout(e) => write!(f, "timed out: {e}"),
            AttemptError::Transfer(e) => write!(f, "transfer failed: {e}"),
            AttemptError::SizeMismatch { expected, got } => {
                write!(f, "wrong size: expected {expected} bytes, got {got}")
            }
            AttemptError::Checksum {
                kind,
                expected,
                got,
                from_metalink,
            } => {
                let from = if *from_metalink { "metalink " } else { "" };
                write!(f, "{from}{kind} mismatch: expected {expected}, got {got}")
            }
            AttemptError::NoUsableHash { listed } => write!(
                f,
                "metalink checksum mismatch: none of the hashes it lists ({listed:?}) is usable"
            ),
            AttemptError::Local(e) => write!(f, "{e}"),
            AttemptError::TooLarge(max) => write!(f, "larger than the {max} bytes allowed"),
        }
    }
}

/// One mirror that was tried for a file and how its last attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorFailure {
    /// The full URL that was requested.
    pub url: String,
    /// How many attempts were made at this mirror.
    pub attempts: u32,
    /// The last failure at this mirror.
    pub error: AttemptError,
}

fn list_failures(failures: &[MirrorFailure]) -> String {
    failures
        .iter()
        .map(|m| {
            let tries = if m.attempts > 1 {
                format!(" (after {} attempts)", m.attempts)
            } else {
                String::new()
            };
            format!("{}: {}{}", m.url, m.error, tries)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Errors of the download layer.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// A `--from` SOURCE could not be understood.
    #[error("invalid source {spec:?}: {reason}")]
    BadSource {
        /// The text given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A dnf `.repo` file has a syntax error or an invalid value.
    #[error("{}:{line}: {reason}", path.display())]
    RepoFile {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A relative path to download is not a plain relative path.
    #[error("invalid relative path {path:?}: {reason}")]
    BadPath {
        /// The path given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A local file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A metalink document is unusable.
    #[error("metalink {url}: {reason}")]
    Metalink {
        /// Where the metalink came from.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A mirrorlist is unusable.
    #[error("mirrorlist {url}: {reason}")]
    Mirrorlist {
        /// Where the mirrorlist came from.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A repository has no usable base URL, mirrorlist or metalink.
    #[error("no usable mirror for {what}")]
    NoMirrors {
        /// The repository or source.
        what: String,
    },
    /// Every mirror was tried and none delivered a verified copy.
    #[error(
        "cannot download {what}: every mirror failed: {}",
        list_failures(failures)
    )]
    AllMirrorsFailed {
        /// The package or file (label and relative path).
        what: String,
        /// The relative path that was requested.
        rel_path: String,
        /// Each mirror tried, in order, with its last error.
        failures: Vec<MirrorFailure>,
    },
    /// A CA certificate file (`sslcacert`) could not be loaded.
    #[error("CA certificate {}: {reason}", path.display())]
    CaCert {
        /// The certificate file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A checksum given for a download is not a hex digest of its algorithm.
    #[error(transparent)]
    BadDigest(#[from] BadDigest),
    /// The chosen download backend cannot be used.
    #[error("the {backend} download backend: {how}")]
    BackendUnavailable {
        /// The backend.
        backend: &'static str,
        /// Why, and what to do.
        how: String,
    },
    /// The HTTP client or the async runtime could not be set up.
    #[error("cannot set up the downloader: {0}")]
    Setup(String),
}

impl FetchError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FetchError::Io {
            path: path.into(),
            source,
        }
    }
}
