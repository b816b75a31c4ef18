//! `jigdo unpack`: rebuild the exact commit of a jigdo RPM in an OSTree repository.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use jigdo_install::{apply_delta_local, unpack_local, TrustReport};
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
    // Progress goes to standard error (on a terminal; the count of packages to import
    // always); with --json only the document is printed, with --quiet only the commit.
    let quiet = args.json || crate::output::quiet();
    let tty = std::io::stderr().is_terminal();
    // One line: what verified with which key (not with --json: the report has it), or
    // the warning that nothing did (not with --quiet, which leaves only the commit).
    let on_trust = move |t: &TrustReport| {
        let nothing = t.verified.is_empty();
        if (nothing && !crate::output::quiet()) || (!nothing && !quiet) {
            eprintln!("{}", t.line());
        }
    };
    let policy = args.trust.policy();
    if jigdo_unpack::is_delta_rpm(&args.jigdo_rpm)? {
        let report = apply_delta_local(
            &args.jigdo_rpm,
            &args.target.repo,
            args.target.ref_name.as_deref(),
            &policy,
            &on_trust,
        )?;
        if args.json {
            crate::output::print_json(&report)?;
        } else {
            let a = &report.apply;
            if !a.already_present {
                eprintln!(
                    "applied delta from {} ({} bytes): {} objects written, {} from patches",
                    a.base, a.delta_bytes, a.objects_written, a.patched_objects
                );
            }
            println!("{}", a.commit);
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
    let progress = move |e: &UnpackEvent| {
        if !quiet && (tty || matches!(e, UnpackEvent::Importing { .. })) {
            eprintln!("{e}");
        }
    };
    let report = unpack_local(&opts, &policy, &on_trust, &progress)?;
    if args.json {
        crate::output::print_json(&report)?;
    } else {
        println!("{}", report.unpack.commit);
    }
    Ok(0)
}
