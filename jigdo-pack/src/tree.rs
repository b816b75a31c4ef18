//! The commit's tree as the producer needs it: the directory structure with names and
//! object checksums (small), and for every distinct content object its metadata, size and
//! content digests (computed by streaming each object once, in parallel).

use std::collections::HashMap;

use ostree_store::{Checksum, Commit, DirMeta, DirTree, FileHeader, Repo};
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
    /// and each algorithm of `algos`. The listings are read level by level and the
    /// objects digested in the read pool ([`ostree_store::with_io_pool`]): on a cold
    /// cache, these thousands of small reads are bounded by how many are in flight.
    pub fn load(
        repo: &Repo,
        commit: &Commit,
        algos: &[DigestAlgorithm],
    ) -> Result<Tree, PackError> {
        ostree_store::with_io_pool(|| {
            let mut listings = read_listings(repo, commit)?;
            let mut checksums: Vec<Checksum> = listings
                .values()
                .flat_map(|(_, l)| l.files.iter().map(|(_, c)| *c))
                .collect();
            // How many places of the tree each listing appears at: the last one takes
            // it, the others copy it (the tree is not held twice).
            let mut uses: HashMap<(Checksum, Checksum), usize> = HashMap::new();
            count_uses(
                &listings,
                &mut uses,
                (commit.root_tree, commit.root_meta),
                0,
            )?;
            let root = build_dir(
                &mut listings,
                &mut uses,
                &commit.root_tree,
                &commit.root_meta,
                0,
            )?;
            drop(listings);
            // In name order, as the objects lie in `objects/XX/` (locality of reads).
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
        })
    }

    /// Number of files in the tree (hardlinks counted at each path).
    pub fn file_count(&self) -> usize {
        fn count(d: &TreeDir) -> usize {
            d.files.len() + d.dirs.iter().map(|(_, s)| count(s)).sum::<usize>()
        }
        count(&self.root)
    }
}

/// Every (dirtree, dirmeta) pair the commit reaches, read level by level, each level in
/// parallel, keyed by the pair.
type Listings = HashMap<(Checksum, Checksum), (DirMeta, DirTree)>;

fn read_listings(repo: &Repo, commit: &Commit) -> Result<Listings, PackError> {
    let mut out: Listings = HashMap::new();
    let mut level = vec![(commit.root_tree, commit.root_meta)];
    let mut depth = 0usize;
    while !level.is_empty() {
        if depth > MAX_DEPTH {
            return Err(too_deep(&level[0].0));
        }
        level.sort_unstable();
        level.dedup();
        level.retain(|k| !out.contains_key(k));
        let read = level
            .par_iter()
            .map(|&(tree, meta)| -> Result<_, PackError> {
                Ok((
                    (tree, meta),
                    (repo.read_dirmeta(&meta)?, repo.read_dirtree(&tree)?),
                ))
            })
            .collect::<Result<Vec<_>, _>>()?;
        level.clear();
        for (key, (meta, listing)) in read {
            level.extend(listing.dirs.iter().map(|(_, t, m)| (*t, *m)));
            out.insert(key, (meta, listing));
        }
        depth += 1;
    }
    Ok(out)
}

/// Deepest directory nesting accepted.
const MAX_DEPTH: usize = 2048;

fn too_deep(tree: &Checksum) -> PackError {
    PackError::Invalid(format!(
        "dirtree {tree} nests deeper than {MAX_DEPTH} levels"
    ))
}

/// Adds one use of the listing `key` and of everything under it to `uses`.
fn count_uses(
    listings: &Listings,
    uses: &mut HashMap<(Checksum, Checksum), usize>,
    key: (Checksum, Checksum),
    depth: usize,
) -> Result<(), PackError> {
    if depth > MAX_DEPTH {
        return Err(too_deep(&key.0));
    }
    *uses.entry(key).or_default() += 1;
    if let Some((_, listing)) = listings.get(&key) {
        for (_, t, m) in &listing.dirs {
            count_uses(listings, uses, (*t, *m), depth + 1)?;
        }
    }
    Ok(())
}

/// The directory (tree, meta) from the listings read, with its subdirectories; a
/// listing is moved out at its last use (`uses` counts them down) and copied before.
fn build_dir(
    listings: &mut Listings,
    uses: &mut HashMap<(Checksum, Checksum), usize>,
    tree: &Checksum,
    meta: &Checksum,
    depth: usize,
) -> Result<TreeDir, PackError> {
    if depth > MAX_DEPTH {
        return Err(too_deep(tree));
    }
    let key = (*tree, *meta);
    let left = uses.get_mut(&key).map(|n| {
        *n = n.saturating_sub(1);
        *n
    });
    let found = match left {
        Some(0) => listings.remove(&key),
        _ => listings.get(&key).cloned(),
    };
    let (meta, listing) =
        found.ok_or_else(|| PackError::Invalid(format!("dirtree {tree} was not read")))?;
    let mut dirs = Vec::with_capacity(listing.dirs.len());
    for (name, t, m) in listing.dirs {
        let sub = build_dir(listings, uses, &t, &m, depth + 1)?;
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
    let size = if header.is_regular() {
        content
            .for_each_chunk(|b| {
                sha.update(b);
                for (_, h) in &mut others {
                    h.update(b);
                }
            })
            .map_err(|e| PackError::Invalid(format!("reading object {checksum}.file: {e}")))?
    } else {
        0
    };
    Ok(ObjectInfo {
        header,
        size,
        sha256: sha.finalize().into(),
        digests: others.into_iter().map(|(a, h)| (a, h.finish())).collect(),
    })
}
