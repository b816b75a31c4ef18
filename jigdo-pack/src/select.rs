//! Choosing the package set: for every file of the tree, the pool files with the same
//! bytes; then a greedy set cover that takes the package covering the most still-uncovered
//! files (ties: more files at the same path) until no package adds anything, with at most
//! one package per name and architecture so that the pins can all be installed together.

use std::collections::HashSet;

use rpm_package::DigestAlgorithm;

use crate::pool::{Pool, PoolFile};
use crate::tree::{Tree, TreeDir};

/// Where one file of the tree (in depth-first dirtree order) gets its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignment {
    /// From this pool file; `same_path` when its path is `/` + the tree path.
    Package {
        /// The pool file.
        file: PoolFile,
        /// Whether the package path equals the tree path.
        same_path: bool,
    },
    /// No package provides the bytes: a new object.
    New,
}

/// The chosen set and each file's source.
pub struct Selection {
    /// Pool package numbers of the set, in the order they were chosen.
    pub packages: Vec<u32>,
    /// One entry per tree file, in depth-first dirtree order.
    pub assignments: Vec<Assignment>,
}

struct Candidates {
    /// Per file: candidate pool files (one per package), with a same-path flag.
    per_file: Vec<Vec<(PoolFile, bool)>>,
}

/// Chooses the set for `tree` from `pool`.
pub fn select(tree: &Tree, pool: &Pool) -> Selection {
    let algos = pool.digest_algorithms();
    let mut cands = Candidates {
        per_file: Vec::new(),
    };
    let mut path = String::from("/");
    collect(&tree.root, tree, pool, &algos, &mut path, &mut cands);

    let npkg = pool.packages.len();
    let mut gain = vec![0usize; npkg];
    let mut path_gain = vec![0usize; npkg];
    let mut files_of: Vec<Vec<u32>> = vec![Vec::new(); npkg];
    for (fi, cs) in cands.per_file.iter().enumerate() {
        for (pf, same) in cs {
            let p = pf.package as usize;
            gain[p] += 1;
            path_gain[p] += usize::from(*same);
            files_of[p].push(fi as u32);
        }
    }

    let mut covered = vec![false; cands.per_file.len()];
    let mut excluded = vec![false; npkg];
    let mut slots_taken: HashSet<(&str, &str)> = HashSet::new();
    let mut chosen = Vec::new();
    loop {
        let best = (0..npkg)
            .filter(|&p| !excluded[p] && gain[p] > 0)
            .max_by_key(|&p| (gain[p], path_gain[p], std::cmp::Reverse(p)));
        let Some(best) = best else { break };
        chosen.push(best as u32);
        let h = &pool.packages[best].header;
        slots_taken.insert((h.name.as_str(), h.arch.as_str()));
        for (p, pkg) in pool.packages.iter().enumerate() {
            if slots_taken.contains(&(pkg.header.name.as_str(), pkg.header.arch.as_str())) {
                excluded[p] = true;
            }
        }
        for &fi in &files_of[best] {
            let fi = fi as usize;
            if covered[fi] {
                continue;
            }
            covered[fi] = true;
            for (pf, same) in &cands.per_file[fi] {
                let q = pf.package as usize;
                gain[q] -= 1;
                path_gain[q] -= usize::from(*same);
            }
        }
    }

    let in_set: HashSet<u32> = chosen.iter().copied().collect();
    let assignments = cands
        .per_file
        .iter()
        .map(|cs| {
            let mut best: Option<(PoolFile, bool)> = None;
            for &(pf, same) in cs {
                if in_set.contains(&pf.package) && best.is_none_or(|(_, s)| same && !s) {
                    best = Some((pf, same));
                }
            }
            match best {
                Some((file, same_path)) => Assignment::Package { file, same_path },
                None => Assignment::New,
            }
        })
        .collect();
    Selection {
        packages: chosen,
        assignments,
    }
}

/// Fills `cands.per_file` in depth-first dirtree order (the order the index uses).
fn collect(
    dir: &TreeDir,
    tree: &Tree,
    pool: &Pool,
    algos: &[DigestAlgorithm],
    path: &mut String,
    cands: &mut Candidates,
) {
    let base = path.len();
    for (name, checksum) in &dir.files {
        path.push_str(name);
        let mut found: Vec<(PoolFile, bool)> = Vec::new();
        if let Some(obj) = tree.objects.get(checksum) {
            let mut add = |files: &[PoolFile]| {
                for &pf in files {
                    let same = pool.file(pf).path == *path;
                    match found.iter_mut().find(|(f, _)| f.package == pf.package) {
                        // Keep one candidate per package, preferring the same path.
                        Some(existing) => {
                            if same && !existing.1 {
                                *existing = (pf, true);
                            }
                        }
                        None => found.push((pf, same)),
                    }
                }
            };
            if obj.header.is_symlink() {
                add(pool.symlinks_to(&obj.header.symlink_target));
            } else if obj.header.is_regular() {
                for &algo in algos {
                    if let Some(d) = obj.digest(algo) {
                        let files: Vec<PoolFile> = pool
                            .files_with_digest(algo, d)
                            .iter()
                            .copied()
                            .filter(|pf| pool.file(*pf).size == obj.size)
                            .collect();
                        add(&files);
                    }
                }
            }
        }
        cands.per_file.push(found);
        path.truncate(base);
    }
    for (name, sub) in &dir.dirs {
        path.push_str(name);
        path.push('/');
        collect(sub, tree, pool, algos, path, cands);
        path.truncate(base);
    }
}
