//! Typed errors of `jigdo install` and `jigdo mirror`.

use std::fmt;
use std::path::PathBuf;

use repo_fetch::FetchError;

/// Everything that can make an install or a mirror run fail. Nothing is flattened into
/// text: each variant keeps the error of the layer that failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// No source was given.
    #[error("no sources: give --from SOURCE, --repofile FILE or --reposdir DIR")]
    NoSources,
    /// A source (or `.repo` file) could not be read or resolved.
    #[error("{name}: {error}")]
    Source {
        /// `source SOURCE` or `repository ID`.
        name: String,
        /// What failed.
        error: FetchError,
    },
    /// A `.repo` file could not be read.
    #[error(transparent)]
    RepoFile(#[from] FetchError),
    /// A `.repo` section's `gpgkey=` cannot be used or downloaded.
    #[error("repository {repo}: gpgkey={url}: {error}")]
    GpgKey {
        /// The section id.
        repo: String,
        /// The `gpgkey=` value.
        url: String,
        /// What failed.
        error: FetchError,
    },
    /// A repository's metadata could not be read.
    #[error("{name}: {error}")]
    Metadata {
        /// `source SOURCE` or `repository ID`.
        name: String,
        /// What failed.
        error: repodata::Error,
    },
    /// A repository's `repomd.xml` is unusable.
    #[error("{}: {reason}", path.display())]
    BadRepomd {
        /// The downloaded `repomd.xml`.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No jigdo RPM in the sources matches the name given.
    #[error(
        "no jigdo RPM (a package providing {}) matches {spec:?} in {sources}",
        jigdo_format::FORMAT_PROVIDE
    )]
    NoJigdo {
        /// `NAME[-VERSION[-RELEASE]]` as given.
        spec: String,
        /// The sources searched, comma-separated.
        sources: String,
    },
    /// A file could not be downloaded.
    #[error("{what} from {source_name}: {error}")]
    Download {
        /// The package or file.
        what: String,
        /// The source it was fetched from.
        source_name: String,
        /// What failed.
        error: FetchError,
    },
    /// The trust step refused the jigdo RPM.
    #[error("{what}: {reason}")]
    Untrusted {
        /// The jigdo RPM (NEVRA and source, or path).
        what: String,
        /// Why it is not trusted.
        reason: TrustFailure,
    },
    /// Some pinned packages could be had from no source.
    #[error("{}", list(.0))]
    PackagesUnavailable(Vec<PinFailure>),
    /// Reading the jigdo RPM or rebuilding the commit failed.
    #[error(transparent)]
    Unpack(#[from] jigdo_unpack::UnpackError),
    /// The OSTree repository could not be created or read.
    #[error("{}: {error}", path.display())]
    Repo {
        /// The repository.
        path: PathBuf,
        /// What failed.
        error: ostree_store::Error,
    },
    /// A file-system operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An option has a value that would do harm.
    #[error(transparent)]
    Options(repodata::Error),
    /// A file name taken from metadata or an index is not one plain file name.
    #[error(
        "refusing to write {name:?} into {}: not a plain file name (the metadata or jigdo \
         RPM that names it is corrupt or hostile)",
        dir.display()
    )]
    BadFileName {
        /// The name.
        name: String,
        /// The directory it was to be written into.
        dir: PathBuf,
    },
    /// Publishing or pruning the mirror's repodata failed.
    #[error("publishing {}: {error}", path.display())]
    Publish {
        /// The mirror directory.
        path: PathBuf,
        /// What failed.
        error: repodata::Error,
    },
    /// A side of `jigdo diff` cannot be found or read.
    #[error("{spec}: {reason}")]
    Diff {
        /// The side as given.
        spec: String,
        /// Why.
        reason: String,
    },
    /// The real `ostree` could not be run.
    #[error("running ostree (is it installed?): {0}")]
    OstreeMissing(std::io::Error),
    /// The real `ostree` failed.
    #[error("ostree {args}: {stderr}")]
    Ostree {
        /// Its arguments.
        args: String,
        /// What it printed on standard error.
        stderr: String,
    },
}

/// Why the trust step refused a jigdo RPM.
#[derive(Debug, thiserror::Error)]
pub enum TrustFailure {
    /// Its OpenPGP signature, required by `gpgcheck=1`, is missing, or by none of the
    /// keys, or does not verify.
    #[error("signature check failed (gpgcheck=1): {0}")]
    Signature(rpm_package::Error),
    /// The signed `repomd.xml`, required by `repo_gpgcheck=1`, is missing or does not
    /// verify.
    #[error(
        "repomd.xml signature check failed (repo_gpgcheck=1): {0}; the repository must \
         publish repodata/repomd.xml.asc signed by a key of its gpgkey= (jigdo repo create \
         --sign-key)"
    )]
    Repomd(String),
    /// No link of the chain of trust verified with a configured key.
    #[error(
        "refusing a commit that no configured key authenticates (looked for: {looked_for}); \
         give the publisher's OpenPGP key with --gpgkey FILE or its ed25519 key with \
         --commit-key FILE, or install it unverified with --nogpgcheck"
    )]
    Unverified {
        /// Each link looked for and why it did not verify.
        looked_for: String,
    },
    /// An OpenPGP key file could not be read.
    #[error("{0}")]
    Key(repodata::Error),
    /// A `--commit-key` file could not be read.
    #[error("{}: {source}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A line of a `--commit-key` file is not an ed25519 public key.
    #[error("{}:{line}: {reason} (expected one base64 ed25519 public key a line)", path.display())]
    BadCommitKey {
        /// The file.
        path: PathBuf,
        /// The line number (1-based; 0: the whole file).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The commit's detached metadata holds malformed signatures.
    #[error("{}: detached commit metadata: {reason}", path.display())]
    BadCommitMeta {
        /// The jigdo RPM.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// One attempt at one pinned package that failed.
#[derive(Debug)]
pub enum PinAttempt {
    /// Downloading it from a repository failed.
    Download {
        /// The repository.
        source_name: String,
        /// What failed.
        error: FetchError,
    },
    /// The repository lists the pinned NEVRA with another SHA-256 (another build).
    OtherBuild {
        /// The repository.
        source_name: String,
        /// The SHA-256 it lists (hex).
        listed: String,
    },
    /// The copy in a plain directory of RPMs is not the pinned package.
    Local {
        /// The directory.
        source_name: String,
        /// What is wrong with it.
        error: jigdo_unpack::UnpackError,
    },
}

impl fmt::Display for PinAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PinAttempt::Download { source_name, error } => write!(f, "{source_name}: {error}"),
            PinAttempt::OtherBuild {
                source_name,
                listed,
            } => write!(f, "{source_name} lists it with sha256 {listed}"),
            PinAttempt::Local { source_name, error } => write!(f, "{source_name}: {error}"),
        }
    }
}

/// A pinned package that no source delivered.
#[derive(Debug)]
pub struct PinFailure {
    /// Its NEVRA.
    pub nevra: String,
    /// Its package id (SHA-256, hex).
    pub id: String,
    /// Every repository that lists it, and how it failed there (empty: none lists it).
    pub attempts: Vec<PinAttempt>,
    /// The sources that could not be reached (they were not asked).
    pub unreachable: Vec<String>,
}

impl fmt::Display for PinFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.attempts.is_empty() {
            write!(
                f,
                "pinned package {} (sha256 {}) is not listed by any source",
                self.nevra, self.id
            )?;
        } else {
            write!(f, "cannot download pinned package {}: ", self.nevra)?;
            for (i, a) in self.attempts.iter().enumerate() {
                if i > 0 {
                    f.write_str("; ")?;
                }
                write!(f, "{a}")?;
            }
        }
        if self
            .attempts
            .iter()
            .any(|a| matches!(a, PinAttempt::OtherBuild { .. }))
        {
            write!(
                f,
                ", but the jigdo RPM pins sha256 {} (another build of the same NEVRA: give \
                 the repository the jigdo RPM was published with, or use a jigdo RPM made \
                 from these packages)",
                self.id
            )?;
        }
        if !self.unreachable.is_empty() {
            write!(f, " (unreachable: {})", self.unreachable.join(", "))?;
        }
        Ok(())
    }
}

fn list(failures: &[PinFailure]) -> String {
    let parts: Vec<String> = failures.iter().map(PinFailure::to_string).collect();
    parts.join("; ")
}
