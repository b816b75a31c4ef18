//! `jigdo unpack`: rebuild the exact commit of a jigdo RPM in an OSTree repository.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use jigdo_install::{unpack_local, TrustReport};
use jigdo_unpack::{UnpackEvent, UnpackOptions};

/// Arguments of `jigdo unpack`.
#[derive(Args)]
pub struct UnpackArgs {
    /// The jigdo RPM.
    #[arg(value_name = "JIGDO_RPM")]
    pub jigdo_rpm: PathBuf,
    /// Where the pinned RPMs come from (repeatable, tried in order): a directory of RPMs
    /// (searched recursively) or a local rpm-md repository. Not needed for a delta RPM
    /// (the repository must then hold its base commit).
    #[arg(long = "from", value_name = "SOURCE")]
    pub from: Vec<String>,
    #[command(flatten)]
    pub target: super::args::TargetArgs,
    #[command(flatten)]
    pub trust: super::args::TrustArgs,
    /// Print a JSON report instead of the commit checksum.
    #[arg(long)]
    pub json: bool,
}

/// Runs `jigdo unpack`.
pub fn run(args: UnpackArgs) -> anyhow::Result<i32> {
    if jigdo_unpack::is_delta_rpm(&args.jigdo_rpm)? {
        let report = jigdo_unpack::apply_delta(
            &args.jigdo_rpm,
            &args.target.repo,
            args.target.ref_name.as_deref(),
        )?;
        if args.json {
            crate::output::print_json(&report)?;
        } else {
            if !report.already_present {
                eprintln!(
                    "applied delta from {} ({} bytes): {} objects written, {} from patches",
                    report.base, report.delta_bytes, report.objects_written, report.patched_objects
                );
            }
            println!("{}", report.commit);
        }
        return Ok(0);
    }
    if args.from.is_empty() {
        anyhow::bail!("--from SOURCE is required to unpack a jigdo RPM");
    }
    let opts = UnpackOptions {
        jigdo_rpm: args.jigdo_rpm,
        sources: args.from,
        repo: args.target.repo,
        mode: args.target.mode,
        ref_name: args.target.ref_name,
    };
    // Progress goes to standard error (on a terminal; the count of packages to import
    // always); with --json only the document is printed, with --quiet only the commit.
    let quiet = args.json || crate::output::quiet();
    let tty = std::io::stderr().is_terminal();
    let progress = move |e: &UnpackEvent| {
        if !quiet && (tty || matches!(e, UnpackEvent::Importing { .. })) {
            eprintln!("{e}");
        }
    };
    // One line: what verified with which key (not with --json: the report has it), or
    // the warning that nothing did (not with --quiet, which leaves only the commit).
    let on_trust = move |t: &TrustReport| {
        let nothing = t.verified.is_empty();
        if (nothing && !crate::output::quiet()) || (!nothing && !quiet) {
            eprintln!("{}", t.line());
        }
    };
    let report = unpack_local(&opts, &args.trust.policy(), &on_trust, &progress)?;
    if args.json {
        crate::output::print_json(&report)?;
    } else {
        println!("{}", report.unpack.commit);
    }
    Ok(0)
}
