//! Verifying every object that commits reach (`jigdo fsck`).

use std::collections::HashSet;

use rayon::prelude::*;

use crate::checksum::{Checksum, ObjectType};
use crate::error::Error;
use crate::repo::{Reachable, Repo};

/// One bad or missing object.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FsckProblem {
    /// Object name.
    pub checksum: Checksum,
    /// Object type.
    pub objtype: ObjectType,
    /// First path in the commit's tree that the object serves (empty for commits).
    pub path: String,
    /// The commit through which it was reached.
    pub commit: Checksum,
    /// `true` if the object is absent, `false` if present but bad.
    pub missing: bool,
    /// Description of the fault.
    pub error: String,
}

/// Outcome of [`fsck`].
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct FsckReport {
    /// Commits verified (including parents found in the repository).
    pub commits: Vec<Checksum>,
    /// Distinct objects verified.
    pub objects_checked: usize,
    /// Commits carrying a `.commitpartial` marker.
    pub partial_commits: Vec<Checksum>,
    /// Every problem found.
    pub problems: Vec<FsckProblem>,
}

impl FsckReport {
    /// Whether no problem was found.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

fn problem(commit: Checksum, r: &Reachable, e: &Error) -> FsckProblem {
    FsckProblem {
        checksum: r.checksum,
        objtype: r.objtype,
        path: r.path.clone(),
        commit,
        missing: matches!(e, Error::Missing { .. }),
        error: e.to_string(),
    }
}

/// Verifies everything `commits` reach (and, with `with_parents`, their
/// ancestors that are present): presence, metadata checksums and shapes,
/// content checksums (streamed). Object verification runs in parallel.
pub fn fsck(repo: &Repo, commits: &[Checksum], with_parents: bool) -> FsckReport {
    fsck_with_progress(repo, commits, with_parents, &|_, _| {})
}

/// Like [`fsck`], calling `progress(done, total)` from worker threads as
/// content and dirmeta objects are verified (about every 256 objects).
/// Runs in the read pool ([`crate::with_io_pool`]): on a cold cache the small
/// reads, not the hashing, bound it.
pub fn fsck_with_progress(
    repo: &Repo,
    commits: &[Checksum],
    with_parents: bool,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> FsckReport {
    crate::with_io_pool(|| fsck_in_pool(repo, commits, with_parents, progress))
}

fn fsck_in_pool(
    repo: &Repo,
    commits: &[Checksum],
    with_parents: bool,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> FsckReport {
    let mut report = FsckReport::default();
    let mut seen_commits = HashSet::new();
    let mut queue: Vec<Checksum> = commits.to_vec();
    let mut seen: HashSet<(ObjectType, Checksum)> = HashSet::new();
    let mut to_verify: Vec<(Checksum, Reachable)> = Vec::new();
    while let Some(c) = queue.pop() {
        if !seen_commits.insert(c) {
            continue;
        }
        report.commits.push(c);
        if repo.is_commit_partial(&c) {
            report.partial_commits.push(c);
        }
        let t = repo.traverse_commit(&c);
        for (r, e) in &t.errors {
            report.problems.push(problem(c, r, e));
        }
        for o in t.objects {
            if !seen.insert((o.objtype, o.checksum)) {
                continue;
            }
            match o.objtype {
                ObjectType::File | ObjectType::DirMeta => to_verify.push((c, o)),
                _ => report.objects_checked += 1,
            }
        }
        if let Err(e) = repo.read_commit_detached_metadata(&c) {
            let r = Reachable {
                objtype: ObjectType::CommitMeta,
                checksum: c,
                path: String::new(),
            };
            report.problems.push(problem(c, &r, &e));
        }
        if with_parents {
            if let Ok(commit) = repo.read_commit(&c) {
                if let Some(p) = commit.parent {
                    if repo.has_object(ObjectType::Commit, &p) {
                        queue.push(p);
                    }
                }
            }
        }
    }
    report.objects_checked += to_verify.len();
    // In name order, as they lie in `objects/XX/`: neighbours share directory and
    // inode-table blocks, and each thread takes a contiguous run.
    to_verify.sort_unstable_by_key(|(_, r)| (r.checksum, r.objtype));
    let total = to_verify.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let mut bad: Vec<FsckProblem> = to_verify
        .par_iter()
        .with_min_len(16)
        .filter_map(|(c, r)| {
            let res = repo.verify_object(r.objtype, &r.checksum);
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if n.is_multiple_of(256) || n == total {
                progress(n, total);
            }
            res.err().map(|e| problem(*c, r, &e))
        })
        .collect();
    report.problems.append(&mut bad);
    report
}
