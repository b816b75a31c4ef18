//! `jigdo pack`: encode one OSTree commit as a jigdo RPM.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use jigdo_pack::{pack, PackOptions};

/// Arguments of `jigdo pack`.
#[derive(Args)]
pub struct PackArgs {
    /// OSTree repository holding the commit (any mode).
    #[arg(
        long,
        required_unless_present = "commit_archive",
        conflicts_with = "commit_archive"
    )]
    pub repo: Option<PathBuf>,
    /// An osbuild-composer commit archive (a tar with `repo/` and `compose.json`).
    #[arg(long, value_name = "FILE.tar")]
    pub commit_archive: Option<PathBuf>,
    /// The commit: a ref, a full checksum or a unique prefix.
    #[arg(long)]
    pub rev: String,
    /// Package pool: a directory of RPMs or a local rpm-md repository (repeatable).
    #[arg(long = "from", value_name = "SOURCE", required = true)]
    pub from: Vec<PathBuf>,
    /// Directory to write the jigdo RPM into.
    #[arg(long, value_name = "DIR")]
    pub output: PathBuf,
    /// Name of the jigdo RPM (default: the spec template's Name, else the ref).
    #[arg(long)]
    pub name: Option<String>,
    /// Release of the jigdo RPM.
    #[arg(long, default_value = "1")]
    pub release: String,
    /// Spec template with the descriptive fields (default: the built-in specs/jigdo.spec).
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
    /// OpenPGP secret key to sign the jigdo RPM with.
    #[arg(long, value_name = "FILE")]
    pub sign_key: Option<PathBuf>,
    /// Also write a delta RPM from this base (repeatable): a rev in --repo or a jigdo RPM
    /// path whose commit --repo holds.
    #[arg(long = "delta-from", value_name = "REV")]
    pub delta_from: Vec<String>,
    /// Print a JSON report instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `jigdo pack`.
pub fn run(args: PackArgs) -> anyhow::Result<i32> {
    let opts = PackOptions {
        rev: args.rev,
        pools: args.from,
        output_dir: args.output,
        name: args.name,
        release: args.release,
        spec: args.spec,
        sign_key: args.sign_key,
        delta_from: args.delta_from,
    };
    // On a terminal a spinner shows the step; otherwise each step is a line on standard
    // error; nothing with --json or --quiet.
    let quiet = args.json || crate::output::quiet();
    let spinner = crate::output::spinner(args.json, "packing");
    let progress = |msg: &str| match &spinner {
        Some(s) => s.set_message(msg.to_string()),
        None if !quiet => eprintln!("{msg}"),
        None => {}
    };
    let (report, _archive);
    if let Some(archive_path) = &args.commit_archive {
        let archive = ostree_store::CommitArchive::open(archive_path)
            .with_context(|| format!("opening commit archive {}", archive_path.display()))?;
        report = pack(archive.repo(), &opts, &progress)?;
        _archive = Some(archive);
    } else {
        let repo_path = args
            .repo
            .context("--repo or --commit-archive is required")?;
        let repo = ostree_store::Repo::open(&repo_path)?;
        report = pack(&repo, &opts, &progress)?;
        _archive = None;
    }
    if let Some(s) = &spinner {
        s.finish_and_clear();
    }
    if args.json {
        crate::output::print_json(&report)?;
    } else {
        if !quiet {
            eprintln!(
            "packed commit {} ({} files, {} directories)\n  set: {} packages; {} files from packages, {} new files ({} distinct contents, {} bytes)\n  jigdo RPM: {} bytes; index {} bytes; {:.1} metadata bytes per file",
            report.commit,
            report.files,
            report.directories,
            report.packages.len(),
            report.files_from_packages,
            report.new_files,
            report.new_contents,
            report.new_content_bytes,
            report.rpm_size,
            report.index_bytes,
            report.metadata_bytes_per_file
        );
        }
        println!("{}", report.rpm.display());
        for d in &report.deltas {
            eprintln!(
                "  delta from {}: {} bytes ({} metadata objects, {} whole objects of {} bytes, {} patched objects of {} bytes as {} bytes of patches, {} of them zstd objects patched decompressed)",
                d.base,
                d.rpm_size,
                d.metadata_objects,
                d.whole_objects,
                d.whole_bytes,
                d.patched_objects,
                d.patched_object_bytes,
                d.patch_bytes,
                d.recompressed_objects
            );
            println!("{}", d.rpm.display());
        }
    }
    Ok(0)
}
