//! `jigdo pack`: encode an OSTree commit as a jigdo RPM (see `specs/jigdo-format.md`).
//!
//! Place in the data flow: the producer. An OSTree commit (`ostree-store`) and the RPMs
//! it was composed from (`rpm-package`) → **jigdo-pack** → a jigdo RPM (`jigdo-format`),
//! published with `repodata`. It never downloads anything.
//!
//! The steps, each in its own module:
//! 1. [`pool`]: read the headers of every package in the pools and index their files by
//!    content digest and symlink target;
//! 2. [`tree`]: walk the commit and digest every distinct content object once (parallel);
//! 3. [`select`]: choose the package set (greedy set cover, one package per name.arch) and
//!    where each file's bytes come from;
//! 4. [`encode`]: build the [`jigdo_format::Index`] and write the jigdo RPM.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod delta;
pub mod encode;
pub mod pool;
pub mod select;
pub mod tree;

use std::path::{Path, PathBuf};

use ostree_store::{Checksum, Repo};
use serde::Serialize;

/// The default spec template (`specs/jigdo.spec`), built into the binary.
pub const DEFAULT_SPEC: &str = include_str!("../../specs/jigdo.spec");

/// What to pack and how.
#[derive(Debug, Clone)]
pub struct PackOptions {
    /// The revision to pack: a ref, a full checksum or a unique prefix.
    pub rev: String,
    /// Package pools: directories of RPMs or local rpm-md repositories.
    pub pools: Vec<PathBuf>,
    /// Directory the jigdo RPM is written to.
    pub output_dir: PathBuf,
    /// Package name; default: the spec template's Name, else the ref with `/` as `-`.
    pub name: Option<String>,
    /// Package release.
    pub release: String,
    /// Spec template with the descriptive fields; default [`DEFAULT_SPEC`].
    pub spec: Option<PathBuf>,
    /// OpenPGP secret key to sign the jigdo RPM with.
    pub sign_key: Option<PathBuf>,
    /// Bases to write a delta RPM from (`--delta-from`): revs in the repository or jigdo
    /// RPM paths.
    pub delta_from: Vec<String>,
}

/// What `pack` did, for people and scripts.
#[derive(Debug, Clone, Serialize)]
pub struct PackReport {
    /// Path of the jigdo RPM written.
    pub rpm: PathBuf,
    /// Its name, version, release and arch.
    pub name: String,
    /// Version (from the commit's `version` metadata).
    pub version: String,
    /// Release.
    pub release: String,
    /// Architecture.
    pub arch: String,
    /// The commit checksum.
    pub commit: String,
    /// NEVRAs of the package set.
    pub packages: Vec<String>,
    /// Files in the tree (non-directories, hardlinks at each path).
    pub files: usize,
    /// Directories in the tree.
    pub directories: usize,
    /// Files whose bytes come from a package.
    pub files_from_packages: usize,
    /// Files whose bytes the jigdo RPM carries (new objects).
    pub new_files: usize,
    /// Distinct new contents stored, and their total size in bytes.
    pub new_contents: usize,
    /// Total bytes of new content stored (uncompressed).
    pub new_content_bytes: u64,
    /// Size of the jigdo RPM file.
    pub rpm_size: u64,
    /// Size of the compressed index.
    pub index_bytes: u64,
    /// Metadata bytes per file: (index + commit + detached metadata) / files.
    pub metadata_bytes_per_file: f64,
    /// The delta RPMs written (`--delta-from`).
    pub deltas: Vec<delta::DeltaReport>,
}

/// Errors of `jigdo pack`.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// Reading the OSTree repository failed.
    #[error(transparent)]
    Repo(#[from] ostree_store::Error),
    /// Reading or writing a package failed.
    #[error(transparent)]
    Package(#[from] rpm_package::Error),
    /// Encoding the index failed.
    #[error(transparent)]
    Format(#[from] jigdo_format::FormatError),
    /// A file-system operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A package source cannot be used.
    #[error("package source {}: {reason}", source_path.display())]
    Source {
        /// The source.
        source_path: PathBuf,
        /// Why not.
        reason: String,
    },
    /// The input is not something pack can encode.
    #[error("{0}")]
    Invalid(String),
}

impl PackError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        PackError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Packs `opts.rev` of `repo` into a jigdo RPM in `opts.output_dir`.
pub fn pack(
    repo: &Repo,
    opts: &PackOptions,
    progress: &dyn Fn(&str),
) -> Result<PackReport, PackError> {
    let commit_id: Checksum = repo.resolve_rev(&opts.rev)?;
    let commit = repo.read_commit(&commit_id)?;
    progress(&format!(
        "reading package pools ({} sources)",
        opts.pools.len()
    ));
    let pool = pool::Pool::load(&opts.pools)?;
    progress(&format!(
        "read {} package headers; digesting the commit's content objects",
        pool.packages.len()
    ));
    let tree = tree::Tree::load(repo, &commit, &pool.digest_algorithms())?;
    progress(&format!(
        "{} files, {} distinct content objects; choosing the package set",
        tree.file_count(),
        tree.objects.len()
    ));
    let selection = select::select(&tree, &pool);
    progress(&format!(
        "{} packages in the set; writing the jigdo RPM",
        selection.packages.len()
    ));
    // The bases are resolved before anything is written: a bad one fails early.
    let bases = opts
        .delta_from
        .iter()
        .map(|rev| delta::resolve_base(repo, rev))
        .collect::<Result<Vec<_>, _>>()?;
    let (mut report, index_bytes) =
        encode::write(repo, &commit_id, &commit, &tree, &pool, &selection, opts)?;
    for base in bases {
        if base == commit_id {
            progress(&format!("no delta from {base}: it is the packed commit"));
            continue;
        }
        let d = delta::write_delta(
            repo,
            &commit_id,
            &tree,
            &base,
            &index_bytes,
            &report,
            opts.sign_key.as_deref(),
            progress,
        )?;
        report.deltas.push(d);
    }
    Ok(report)
}
