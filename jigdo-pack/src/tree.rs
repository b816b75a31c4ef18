//! The commit's tree as the producer needs it: the directory structure with names and
//! object checksums (small), and for every distinct content object its metadata, size and
//! content digests (computed by streaming each object once, in parallel).

use std::collections::HashMap;
use std::io::Read;

use ostree_store::{Checksum, Commit, DirMeta, FileHeader, Repo};
use rayon::prelude::*;
use rpm_package::DigestAlgorithm;

use crate::PackError;

/// One directory of the commit.
pub struct TreeDir {
    /// The directory's metadata.
    pub meta: DirMeta,
    /// Files: name and content object checksum, in dirtree order.
    pub files: Vec<(String, Checksum)>,
    /// Subdirectories, in dirtree order.
    pub dirs: Vec<(String, TreeDir)>,
}

/// What the producer knows of one content object.
pub struct ObjectInfo {
    /// uid, gid, mode, symlink target and xattrs.
    pub header: FileHeader,
    /// Content size (0 for symlinks).
    pub size: u64,
    /// SHA-256 of the content (regular files).
    pub sha256: [u8; 32],
    /// Content digests in every other algorithm the pools use.
    pub digests: Vec<(DigestAlgorithm, Vec<u8>)>,
}

impl ObjectInfo {
    /// The content digest in `algo`, if computed.
    pub fn digest(&self, algo: DigestAlgorithm) -> Option<&[u8]> {
        if algo == DigestAlgorithm::Sha256 {
            return Some(&self.sha256);
        }
        self.digests
            .iter()
            .find(|(a, _)| *a == algo)
            .map(|(_, d)| d.as_slice())
    }
}

/// The whole tree of a commit.
pub struct Tree {
    /// The root directory.
    pub root: TreeDir,
    /// Every distinct content object.
    pub objects: HashMap<Checksum, ObjectInfo>,
}

impl Tree {
    /// Loads the tree of `commit` from `repo`, digesting every content object with SHA-256
    /// and each algorithm of `algos`.
    pub fn load(
        repo: &Repo,
        commit: &Commit,
        algos: &[DigestAlgorithm],
    ) -> Result<Tree, PackError> {
        let mut checksums = Vec::new();
        let root = load_dir(
            repo,
            &commit.root_tree,
            &commit.root_meta,
            &mut checksums,
            0,
        )?;
        checksums.sort_unstable();
        checksums.dedup();
        let extra: Vec<DigestAlgorithm> = algos
            .iter()
            .copied()
            .filter(|a| *a != DigestAlgorithm::Sha256)
            .collect();
        let objects = checksums
            .into_par_iter()
            .map(|c| digest_object(repo, &c, &extra).map(|info| (c, info)))
            .collect::<Result<HashMap<_, _>, _>>()?;
        Ok(Tree { root, objects })
    }

    /// Number of files in the tree (hardlinks counted at each path).
    pub fn file_count(&self) -> usize {
        fn count(d: &TreeDir) -> usize {
            d.files.len() + d.dirs.iter().map(|(_, s)| count(s)).sum::<usize>()
        }
        count(&self.root)
    }
}

fn load_dir(
    repo: &Repo,
    tree: &Checksum,
    meta: &Checksum,
    checksums: &mut Vec<Checksum>,
    depth: usize,
) -> Result<TreeDir, PackError> {
    if depth > 2048 {
        return Err(PackError::Invalid(format!(
            "dirtree {tree} nests deeper than 2048 levels"
        )));
    }
    let meta = repo.read_dirmeta(meta)?;
    let listing = repo.read_dirtree(tree)?;
    checksums.extend(listing.files.iter().map(|(_, c)| *c));
    let mut dirs = Vec::with_capacity(listing.dirs.len());
    for (name, t, m) in listing.dirs {
        let sub = load_dir(repo, &t, &m, checksums, depth + 1)?;
        dirs.push((name, sub));
    }
    Ok(TreeDir {
        meta,
        files: listing.files,
        dirs,
    })
}

fn digest_object(
    repo: &Repo,
    checksum: &Checksum,
    extra: &[DigestAlgorithm],
) -> Result<ObjectInfo, PackError> {
    use sha2::Digest;
    let (header, mut content) = repo.read_file(checksum)?;
    let mut sha = sha2::Sha256::new();
    let mut others: Vec<_> = extra.iter().map(|a| (*a, a.hasher())).collect();
    let mut size = 0u64;
    if header.is_regular() {
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = content
                .read(&mut buf)
                .map_err(|e| PackError::Invalid(format!("reading object {checksum}.file: {e}")))?;
            if n == 0 {
                break;
            }
            size += n as u64;
            sha.update(&buf[..n]);
            for (_, h) in &mut others {
                h.update(&buf[..n]);
            }
        }
    }
    Ok(ObjectInfo {
        header,
        size,
        sha256: sha.finalize().into(),
        digests: others.into_iter().map(|(a, h)| (a, h.finish())).collect(),
    })
}
