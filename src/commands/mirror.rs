//! `jigdo mirror`: copy named jigdo RPMs and exactly the RPMs they pin from the sources
//! into a directory and publish its repodata, so that the directory serves installs with
//! no network (`jigdo install NAME --from DIR`) and is an ordinary dnf repository.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use jigdo_install::sources::{RemoteSources, SourceSpec};
use jigdo_unpack::JigdoRpm;
use repo_fetch::FetchOptions;
use repodata::{create_repo, prune_repo, CreateOptions, PruneOptions};
use serde::Serialize;

/// Arguments of `jigdo mirror`.
#[derive(Args)]
pub struct MirrorArgs {
    /// Jigdo RPMs to copy: NAME or NAME-VERSION[-RELEASE] (newest when no version).
    #[arg(value_name = "NAME[-VERSION]", required = true)]
    pub names: Vec<String>,
    /// Sources (repeatable, tried in order), as for `jigdo install`.
    #[arg(long = "from", value_name = "SOURCE", required = true)]
    pub from: Vec<String>,
    /// The directory to fill and publish.
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// Afterwards keep only the newest N versions of each jigdo RPM name and the RPMs
    /// they pin (as `jigdo repo prune`).
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
    /// Files downloaded at the same time.
    #[arg(long, default_value_t = 4)]
    pub parallel: usize,
    /// Library that downloads package files: http (built in) or librepo (dnf's,
    /// in builds with the `librepo` feature).
    #[arg(long, value_enum, default_value_t = super::backend::Backend::Http)]
    pub backend: super::backend::Backend,
    /// Seconds without a received byte before a transfer counts as stalled.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct MirrorReport {
    dir: PathBuf,
    jigdo_rpms: Vec<String>,
    packages: usize,
    bytes_downloaded: u64,
    pruned: usize,
}

/// Runs `jigdo mirror`.
pub fn run(args: MirrorArgs) -> anyhow::Result<i32> {
    std::fs::create_dir_all(&args.to).with_context(|| args.to.display().to_string())?;
    let md = tempfile::tempdir().context("metadata directory")?;
    let opts = FetchOptions {
        parallel: args.parallel.max(1),
        stall_timeout: Duration::from_secs(args.timeout.max(1)),
        connect_timeout: Duration::from_secs(args.timeout.max(1)),
        backoff: Duration::from_millis(200),
        ..FetchOptions::default()
    };
    let fetcher = super::backend::downloader(args.backend, opts, None)?;
    let specs = args.from.iter().cloned().map(SourceSpec::From).collect();
    let sources = RemoteSources::open(fetcher, specs, md.path(), &[])?;
    let mut names = Vec::new();
    let mut packages = 0;
    for spec in &args.names {
        let found = sources.find_jigdo(spec)?;
        let path = sources.fetch_entry(&found, &args.to)?;
        let jigdo = JigdoRpm::open(&path)?;
        // Exactly the pinned packages, each verified against its pin; files already in
        // DIR with the right checksum are kept without a request.
        sources.fetch_pins(&jigdo.index.packages, &args.to.join("Packages"))?;
        packages += jigdo.index.packages.len();
        names.push(found.entry.nevra());
        if !args.json {
            eprintln!(
                "{}: {} pinned packages in place",
                found.entry.nevra(),
                jigdo.index.packages.len()
            );
        }
    }
    create_repo(
        &args.to,
        &CreateOptions {
            update: true,
            ..CreateOptions::default()
        },
    )
    .with_context(|| format!("publishing {}", args.to.display()))?;
    let mut pruned = 0;
    if let Some(keep) = args.keep {
        let r = prune_repo(
            &args.to,
            &PruneOptions {
                keep,
                dry_run: false,
                create: CreateOptions::default(),
            },
        )?;
        pruned = r.removed.len();
    }
    let report = MirrorReport {
        dir: args.to.clone(),
        jigdo_rpms: names,
        packages,
        bytes_downloaded: sources.bytes_downloaded(),
        pruned,
    };
    if args.json {
        crate::output::print_json(&report)?;
    } else {
        println!("{}", args.to.display());
    }
    Ok(0)
}
