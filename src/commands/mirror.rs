//! `jigdo mirror`: the arguments and the printing; the work is `jigdo_install::mirror`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use jigdo_install::{mirror, Backend, Event, FetchOptions, MirrorOptions, SourceSpec};

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
    #[arg(long, default_value = "http", value_parser = super::args::backend())]
    pub backend: Backend,
    /// Seconds without a received byte before a transfer counts as stalled.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    #[command(flatten)]
    pub trust: super::args::TrustArgs,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

/// Runs `jigdo mirror`.
pub fn run(args: MirrorArgs) -> anyhow::Result<i32> {
    let opts = MirrorOptions {
        names: args.names,
        sources: args.from.into_iter().map(SourceSpec::From).collect(),
        to: args.to,
        keep: args.keep,
        fetch: FetchOptions {
            parallel: args.parallel.max(1),
            stall_timeout: Duration::from_secs(args.timeout.max(1)),
            connect_timeout: Duration::from_secs(args.timeout.max(1)),
            backoff: Duration::from_millis(200),
            ..FetchOptions::default()
        },
        backend: args.backend,
        trust: args.trust.policy(),
    };
    let json = args.json;
    let quiet = json || crate::output::quiet();
    // On a terminal: a spinner counting the bytes received; a line per jigdo RPM in
    // place (also without a terminal); nothing with --json or --quiet.
    let bar = crate::output::spinner(json, "mirroring");
    if let Some(b) = &bar {
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {msg} {bytes} {binary_bytes_per_sec} {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
    }
    let sink_bar = bar.clone();
    let report = mirror(
        &opts,
        Arc::new(move |e: &Event| match (e, &sink_bar) {
            (Event::Bytes(n), Some(b)) => b.inc(*n),
            (Event::Mirrored { nevra, packages }, Some(b)) => {
                b.println(format!("{nevra}: {packages} pinned packages in place"))
            }
            (Event::Mirrored { nevra, packages }, None) if !quiet => {
                eprintln!("{nevra}: {packages} pinned packages in place")
            }
            (Event::DeltaFailed { nevra, reason }, _) => {
                let line = format!("warning: delta RPM {nevra} left out: {reason}");
                match &sink_bar {
                    Some(bar) => bar.println(line),
                    None => eprintln!("{line}"),
                }
            }
            (Event::SourceUnreachable { source, error }, _) => {
                let line = format!("warning: {source} cannot be reached, skipped: {error}");
                match &sink_bar {
                    Some(bar) => bar.println(line),
                    None => eprintln!("{line}"),
                }
            }
            (Event::Trust(t), _) if t.nogpgcheck || !quiet => match &sink_bar {
                Some(bar) => bar.println(t.line()),
                None => eprintln!("{}", t.line()),
            },
            _ => {}
        }),
    )?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if json {
        crate::output::print_json(&report)?;
    } else {
        if !report.published && !quiet {
            eprintln!(
                "{}: nothing new, repodata left as it was",
                report.dir.display()
            );
        }
        println!("{}", report.dir.display());
    }
    Ok(0)
}
