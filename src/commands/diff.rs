//! `jigdo diff`: the arguments and the printing; the work is `jigdo_install::diff`.

use std::path::PathBuf;

use clap::Args;
use jigdo_install::{diff, source_specs, DiffOptions, FetchOptions};

/// Arguments of `jigdo diff`.
#[derive(Args)]
#[command(
    after_help = "Each side is a jigdo RPM file, a commit or ref of --repo that jigdo \
installed (read from the install record jigdo keeps in the repository: no network), or \
NAME-VERSION[-RELEASE] of a jigdo RPM in the --from sources: of that jigdo RPM only its \
start (its headers and index) is read, with HTTP range requests, as install --check reads \
it; the bytes received are reported (bytes_downloaded in --json).

Trust: a side found in the sources goes through the trust step of install --check: it is \
read only if one link verifies with a given key (the signed repomd.xml, the jigdo RPM's \
header signature, or the commit's own GPG or ed25519 signature; gpgcheck=1 and \
repo_gpgcheck=1 of a .repo section require theirs), else diff fails naming the jigdo RPM \
and each link looked for, as install refuses it, unless --nogpgcheck is given (one \
warning line per such side). The report says per side what verified it (verified and \
verified_by in --json): a jigdo RPM file given by path is a local file, read as given \
when no key is configured and, as jigdo unpack takes it, verified with the keys when \
--gpgkey or --commit-key is given; an installed commit says what verified it when it was \
installed."
)]
pub struct DiffArgs {
    /// The old side.
    #[arg(value_name = "OLD")]
    pub old: String,
    /// The new side.
    #[arg(value_name = "NEW")]
    pub new: String,
    /// Sources to find NAME-VERSION[-RELEASE] sides in (repeatable, as for install).
    #[arg(long = "from", value_name = "SOURCE")]
    pub from: Vec<String>,
    /// A dnf .repo file; its enabled sections are the sources.
    #[arg(long, value_name = "FILE")]
    pub repofile: Option<PathBuf>,
    /// The OSTree repository whose refs and commits may be sides.
    #[arg(long, value_name = "PATH")]
    pub repo: Option<PathBuf>,
    #[command(flatten)]
    pub trust: super::args::TrustArgs,
    /// Library that downloads: http or librepo.
    #[arg(long, default_value = "http", value_parser = super::args::backend())]
    pub backend: jigdo_install::Backend,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

/// Runs `jigdo diff`.
pub fn run(args: DiffArgs) -> anyhow::Result<i32> {
    let opts = DiffOptions {
        old: args.old,
        new: args.new,
        sources: source_specs(&args.from, args.repofile.as_deref(), None)?,
        repo: args.repo,
        fetch: FetchOptions::default(),
        backend: args.backend,
        trust: args.trust.policy(),
    };
    let r = diff(&opts)?;
    // Always (also with --json), as install warns: a side nothing verified.
    for (label, s) in [("old", &r.old), ("new", &r.new)] {
        if let Some(t) = s.trust.as_ref().filter(|t| t.nogpgcheck) {
            eprintln!(
                "warning: {label} side {}: {}",
                s.jigdo_rpm,
                t.line().trim_start_matches("warning: ")
            );
        }
    }
    if args.json {
        crate::output::print_json(&r)?;
        return Ok(0);
    }
    for (label, s) in [("Old", &r.old), ("New", &r.new)] {
        let version = s.version.as_deref().unwrap_or("-");
        println!("{label}: {} ({}, version {version})", s.commit, s.jigdo_rpm);
        println!("  {}", trust_line(s));
    }
    let section = |title: &str, lines: Vec<String>| {
        if !lines.is_empty() {
            println!("{title}:");
            for l in lines {
                println!("  {l}");
            }
        }
    };
    let changes = |v: &[jigdo_install::diff::PackageChange]| -> Vec<String> {
        v.iter()
            .map(|c| format!("{} -> {}", c.from, c.to))
            .collect()
    };
    section("Upgraded", changes(&r.upgraded));
    section("Downgraded", changes(&r.downgraded));
    section("Rebuilt", changes(&r.rebuilt));
    section("Removed", r.removed.clone());
    section("Added", r.added.clone());
    section(
        "Changed files (not from packages)",
        r.files
            .iter()
            .map(|f| format!("{} {}", f.change, f.path))
            .collect(),
    );
    println!(
        "Update download: {} bytes ({} packages and the jigdo RPM)",
        r.download_bytes, r.download_packages
    );
    if r.bytes_downloaded > 0 {
        println!("Received: {} bytes", r.bytes_downloaded);
    }
    Ok(0)
}

/// What verified a side, in one line of the text report.
fn trust_line(s: &jigdo_install::diff::DiffSide) -> String {
    use jigdo_install::diff::ReadFrom;
    match (s.read_from, &s.verified_by) {
        (ReadFrom::InstallRecord, Some(by)) => format!("verified at install: {by}"),
        (ReadFrom::InstallRecord, None) => "not verified at install (its install record names \
                                     nothing that verified it)"
            .to_string(),
        (ReadFrom::File, Some(by)) => format!("verified: {by} (local file)"),
        (ReadFrom::File, None) if s.trust.is_some() => {
            "not verified (--nogpgcheck): local file".to_string()
        }
        (ReadFrom::File, None) => "not verified: local file (a jigdo RPM file given by path is \
                                   read as given when no key is configured)"
            .to_string(),
        (ReadFrom::Sources, Some(by)) => format!("verified: {by}"),
        (ReadFrom::Sources, None) => "not verified (--nogpgcheck)".to_string(),
    }
}
