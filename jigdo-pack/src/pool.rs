//! Package pools (`--from`): the RPMs whose files may provide the commit's content.

use std::collections::HashMap;
use std::path::PathBuf;

use rayon::prelude::*;
use rpm_package::{DigestAlgorithm, PackageHeader};

use crate::PackError;

/// One package of a pool: where it is and what its header says.
pub struct PoolPackage {
    /// The package file.
    pub path: PathBuf,
    /// Its path relative to the pool directory it was found in, with `/` (the
    /// `href` createrepo_c gives it when the directory is an rpm-md repository).
    pub href: String,
    /// Its header (file list with digests, modes and link targets).
    pub header: PackageHeader,
}

/// A file of a pool package, by package number and file index in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PoolFile {
    /// Package number in [`Pool::packages`].
    pub package: u32,
    /// File index in the package header.
    pub file: u32,
}

/// Every package of the pools, indexed by what their files contain.
pub struct Pool {
    /// The packages (binary packages only).
    pub packages: Vec<PoolPackage>,
    /// Regular, non-ghost files by (digest algorithm, digest).
    by_digest: HashMap<(DigestAlgorithm, Vec<u8>), Vec<PoolFile>>,
    /// Symlinks by target.
    by_link_target: HashMap<String, Vec<PoolFile>>,
}

impl Pool {
    /// Reads the headers (not the payloads) of every `.rpm` under each source directory
    /// (an rpm-md repository directory is searched the same way), in parallel (in the
    /// read pool, [`ostree_store::with_io_pool`]).
    pub fn load(sources: &[PathBuf]) -> Result<Pool, PackError> {
        let mut paths = Vec::new();
        for source in sources {
            if !source.is_dir() {
                return Err(PackError::Source {
                    source_path: source.clone(),
                    reason: "not a directory (pack reads local package pools)".into(),
                });
            }
            let found = repodata::create::find_rpms(source).map_err(|e| PackError::Source {
                source_path: source.clone(),
                reason: e.to_string(),
            })?;
            paths.extend(
                found
                    .into_iter()
                    .map(|f| (f.path, f.href))
                    .filter(|(p, _)| !p.to_string_lossy().ends_with(".src.rpm")),
            );
        }
        paths.sort();
        paths.dedup_by(|a, b| a.0 == b.0);
        // In the read pool: each header is a small read at the start of a file.
        let headers: Vec<Result<PoolPackage, PackError>> = ostree_store::with_io_pool(|| {
            paths
                .into_par_iter()
                .map(|(path, href)| {
                    let header = PackageHeader::open(&path)?;
                    Ok(PoolPackage { path, href, header })
                })
                .collect()
        });
        let mut packages = Vec::new();
        for h in headers {
            let p = h?;
            if !p.header.is_source {
                packages.push(p);
            }
        }
        Ok(Pool::index(packages))
    }

    fn index(packages: Vec<PoolPackage>) -> Pool {
        let mut by_digest: HashMap<_, Vec<PoolFile>> = HashMap::new();
        let mut by_link_target: HashMap<_, Vec<PoolFile>> = HashMap::new();
        for (pi, p) in packages.iter().enumerate() {
            for (fi, f) in p.header.files.iter().enumerate() {
                let pf = PoolFile {
                    package: pi as u32,
                    file: fi as u32,
                };
                if f.flags.is_ghost() {
                    continue;
                }
                if f.is_regular() && !f.digest.is_empty() {
                    by_digest
                        .entry((f.digest_algorithm, f.digest.clone()))
                        .or_default()
                        .push(pf);
                } else if f.is_symlink() {
                    by_link_target
                        .entry(f.link_target.clone())
                        .or_default()
                        .push(pf);
                }
            }
        }
        Pool {
            packages,
            by_digest,
            by_link_target,
        }
    }

    /// The digest algorithms the pools' file digests use.
    pub fn digest_algorithms(&self) -> Vec<DigestAlgorithm> {
        let mut algos: Vec<DigestAlgorithm> = Vec::new();
        for (algo, _) in self.by_digest.keys() {
            if !algos.contains(algo) {
                algos.push(*algo);
            }
        }
        algos
    }

    /// Regular files whose content has `digest`.
    pub fn files_with_digest(&self, algo: DigestAlgorithm, digest: &[u8]) -> &[PoolFile] {
        self.by_digest
            .get(&(algo, digest.to_vec()))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Symlinks pointing at `target`.
    pub fn symlinks_to(&self, target: &str) -> &[PoolFile] {
        self.by_link_target
            .get(target)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The header entry of `file`.
    pub fn file(&self, file: PoolFile) -> &rpm_package::FileEntry {
        &self.packages[file.package as usize].header.files[file.file as usize]
    }
}
