//! `jigdo repo create|prune`: publish dnf-compatible repodata for a directory
//! of RPMs, and prune old jigdo RPMs with the packages only they pin.

use anyhow::Context;
use clap::{Args, Subcommand};
use repodata::{Compression, CreateOptions, PruneOptions};
use std::path::PathBuf;

/// Arguments of `jigdo repo`.
#[derive(Args)]
pub struct RepoArgs {
    #[command(subcommand)]
    command: RepoCommand,
}

#[derive(Subcommand)]
enum RepoCommand {
    /// Write DIR/repodata/ for every RPM under DIR.
    Create(CreateArgs),
    /// Keep the newest N versions of each jigdo RPM and what they pin; remove the rest.
    Prune(PruneArgs),
    /// Write the `jigdo` metadata record of DIR's jigdo RPMs to FILE, for
    /// `modifyrepo_c --mdtype=jigdo FILE DIR/repodata` (repos made by other tools).
    Record(RecordArgs),
}

/// Arguments of `jigdo repo record`.
#[derive(Args)]
struct RecordArgs {
    /// The repository directory (with repodata/ from any tool).
    dir: PathBuf,
    /// The file to write (uncompressed XML; modifyrepo_c compresses it).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
}

/// Arguments of `jigdo repo create`.
#[derive(Args)]
struct CreateArgs {
    /// The directory of RPMs (searched recursively).
    dir: PathBuf,
    /// Reuse the records of unchanged packages (same path, size, mtime).
    #[arg(long)]
    update: bool,
    /// Compression of the metadata files.
    #[arg(long, default_value = "zstd", value_parser = ["zstd", "gz", "xz"])]
    compress: String,
    /// Sign repomd.xml with this OpenPGP secret key (writes repomd.xml.asc).
    #[arg(long, value_name = "FILE")]
    sign_key: Option<PathBuf>,
    /// How many previous generations of metadata files stay available.
    #[arg(long, default_value_t = 2, value_name = "N")]
    keep_generations: u64,
    /// Print a JSON report.
    #[arg(long)]
    json: bool,
}

/// Arguments of `jigdo repo prune`.
#[derive(Args)]
struct PruneArgs {
    /// The repository directory.
    dir: PathBuf,
    /// Versions of each jigdo RPM name to keep.
    #[arg(long, value_name = "N")]
    keep: usize,
    /// Only report what would be removed.
    #[arg(long)]
    dry_run: bool,
    /// Compression of the rewritten metadata files.
    #[arg(long, default_value = "zstd", value_parser = ["zstd", "gz", "xz"])]
    compress: String,
    /// Sign the rewritten repomd.xml with this OpenPGP secret key.
    #[arg(long, value_name = "FILE")]
    sign_key: Option<PathBuf>,
    /// Print a JSON report.
    #[arg(long)]
    json: bool,
}

fn compression(name: &str) -> anyhow::Result<Compression> {
    Compression::from_name(name).with_context(|| format!("unknown compression {name:?}"))
}

/// Runs `jigdo repo`.
pub fn run(args: RepoArgs) -> anyhow::Result<i32> {
    match args.command {
        RepoCommand::Create(a) => create(a),
        RepoCommand::Prune(a) => prune(a),
        RepoCommand::Record(a) => record(a),
    }
}

fn record(a: RecordArgs) -> anyhow::Result<i32> {
    let repo = repodata::LocalRepo::open(&a.dir)?;
    let mut entries = Vec::new();
    for p in repo.primary()? {
        if let Some(e) = repodata::JigdoEntry::from_package(&p?) {
            entries.push(e);
        }
    }
    let mut out = Vec::new();
    repodata::jigdo_record::write(&mut out, &entries)?;
    std::fs::write(&a.output, &out).with_context(|| format!("writing {}", a.output.display()))?;
    println!(
        "{}: {} jigdo RPMs (add it with: modifyrepo_c --mdtype=jigdo {} {})",
        a.output.display(),
        entries.len(),
        a.output.display(),
        a.dir.join("repodata").display()
    );
    Ok(0)
}

fn create(a: CreateArgs) -> anyhow::Result<i32> {
    let opts = CreateOptions {
        compression: compression(&a.compress)?,
        update: a.update,
        sign_key: a.sign_key,
        keep_generations: a.keep_generations,
        ..Default::default()
    };
    let bar = crate::output::counter(a.json, 0, "reading packages");
    let progress = |done: usize, total: usize| {
        if let Some(b) = &bar {
            b.set_length(total as u64);
            b.set_position(done as u64);
        }
    };
    let report = repodata::create_repo_with_progress(&a.dir, &opts, &progress);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let report = report?;
    if a.json {
        crate::output::print_json(&report)?;
    } else {
        println!(
            "{}: {} packages ({} read, {} unchanged), revision {}{}",
            a.dir.join("repodata").display(),
            report.packages,
            report.read,
            report.reused,
            report.revision,
            if report.signed { ", signed" } else { "" }
        );
    }
    Ok(0)
}

fn prune(a: PruneArgs) -> anyhow::Result<i32> {
    repodata::check_keep(a.keep)?;
    let opts = PruneOptions {
        keep: a.keep,
        dry_run: a.dry_run,
        create: CreateOptions {
            compression: compression(&a.compress)?,
            update: true,
            sign_key: a.sign_key,
            ..Default::default()
        },
    };
    let report = repodata::prune_repo(&a.dir, &opts)?;
    if a.json {
        crate::output::print_json(&report)?;
    } else {
        let verb = if a.dry_run { "would remove" } else { "removed" };
        for p in &report.removed {
            println!("{verb} {} ({})", p.nevra, p.location);
        }
        for p in &report.missing_pins {
            eprintln!("warning: pinned package missing: {p}");
        }
        println!(
            "kept {} jigdo RPMs, {} pinned packages and {} delta RPMs; {verb} {}",
            report.kept_jigdo.len(),
            report.kept_pinned.len(),
            report.kept_deltas.len(),
            report.removed.len()
        );
    }
    Ok(0)
}
