//! `jigdo fsck`: verify every object that the given commits (default: every
//! ref) reach — presence, metadata and content checksums — and list each bad
//! or missing object with the path it serves.
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use ostree_store::{Checksum, Repo};

/// Arguments of `jigdo fsck`.
#[derive(Args)]
pub struct FsckArgs {
    /// The OSTree repository to verify.
    #[arg(long)]
    pub repo: std::path::PathBuf,
    /// Commits to verify: refs, full checksums or unique prefixes
    /// (default: every ref).
    #[arg(value_name = "REV")]
    pub revs: Vec<String>,
    /// Do not also verify the parent commits present in the repository.
    #[arg(long)]
    pub no_parents: bool,
    /// Print one JSON document instead of human text.
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize)]
struct JsonReport<'a> {
    repo: String,
    clean: bool,
    #[serde(flatten)]
    report: &'a ostree_store::FsckReport,
}

/// Runs `jigdo fsck`.
pub fn run(args: FsckArgs) -> anyhow::Result<i32> {
    let repo = Repo::open(&args.repo)
        .with_context(|| format!("opening repository {}", args.repo.display()))?;
    let mut commits: Vec<Checksum> = Vec::new();
    if args.revs.is_empty() {
        for r in repo.list_refs()? {
            if !commits.contains(&r.checksum) {
                commits.push(r.checksum);
            }
        }
    } else {
        for rev in &args.revs {
            let c = repo.resolve_rev(rev)?;
            if !commits.contains(&c) {
                commits.push(c);
            }
        }
    }
    let bar = crate::output::counter(
        args.json,
        0,
        &format!(
            "verifying {} commit(s) in {}: objects",
            commits.len(),
            args.repo.display()
        ),
    );
    let start = Instant::now();
    let progress = |done: usize, total: usize| {
        if let Some(b) = &bar {
            b.set_length(total as u64);
            b.set_position(done as u64);
        }
    };
    let report = ostree_store::fsck_with_progress(&repo, &commits, !args.no_parents, &progress);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if args.json {
        crate::output::print_json(&JsonReport {
            repo: args.repo.display().to_string(),
            clean: report.is_clean(),
            report: &report,
        })?;
    } else {
        for p in &report.problems {
            let what = if p.missing { "missing" } else { "bad" };
            let path = if p.path.is_empty() { "-" } else { &p.path };
            println!(
                "{what} {}.{} {path} (commit {}): {}",
                p.checksum, p.objtype, p.commit, p.error
            );
        }
        for c in &report.partial_commits {
            println!("partial commit {c} (marked incomplete)");
        }
        println!(
            "{} commit(s), {} object(s) verified in {:.2}s: {}",
            report.commits.len(),
            report.objects_checked,
            start.elapsed().as_secs_f64(),
            if report.is_clean() {
                "ok".to_string()
            } else {
                format!("{} problem(s)", report.problems.len())
            }
        );
    }
    if report.is_clean() {
        Ok(0)
    } else {
        eprintln!(
            "error: {} bad or missing object(s) in {}",
            report.problems.len(),
            args.repo.display()
        );
        Ok(1)
    }
}
