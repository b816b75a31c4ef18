//! `jigdo install`: the arguments and the printing; the work is `jigdo_install::install`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use jigdo_install::{
    check, install, source_specs, Backend, Deployment, Event, FetchOptions, InstallOptions,
};

/// Arguments of `jigdo install`.
#[derive(Args)]
#[command(
    after_help = "Deployment (--sysroot DIR --os OSNAME --deploy) is done with the real \
ostree tool: the commit is copied into DIR/ostree/repo with `ostree pull-local`, then \
`ostree admin --sysroot DIR deploy --os OSNAME REF` runs (after `ostree admin init-fs` and \
`ostree admin os-init` when needed). Without --deploy the commit is only pulled there.

Trust: the commit is installed only if one link verifies with a given key: the signed \
repomd.xml (repodata/repomd.xml.asc; required by repo_gpgcheck=1), the jigdo RPM's OpenPGP \
signature (required by gpgcheck=1), or the commit's own GPG (--gpgkey) or ed25519 \
(--commit-key) signature. Otherwise it is refused before any package is fetched, unless \
--nogpgcheck is given."
)]
pub struct InstallArgs {
    /// The jigdo RPM: NAME[-VERSION[-RELEASE]] (newest when no version) or a path to a
    /// jigdo RPM file.
    #[arg(value_name = "NAME[-VERSION[-RELEASE]]")]
    pub target: String,
    /// Sources (repeatable, tried in order): a directory of RPMs, a local rpm-md
    /// repository, a file/http/https base URL, mirrorlist=URL or metalink=URL.
    #[arg(long = "from", value_name = "SOURCE")]
    pub from: Vec<String>,
    /// A dnf .repo file; its enabled sections are the sources.
    #[arg(long, value_name = "FILE")]
    pub repofile: Option<PathBuf>,
    /// A directory of dnf .repo files; their enabled sections are the sources.
    #[arg(long, value_name = "DIR")]
    pub reposdir: Option<PathBuf>,
    #[command(flatten)]
    pub target_repo: super::args::TargetArgs,
    /// Download cache of verified files (kept between runs).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Files downloaded at the same time.
    #[arg(long, default_value_t = 4)]
    pub parallel: usize,
    #[command(flatten)]
    pub trust: super::args::TrustArgs,
    /// Library that downloads package files: http (built in) or librepo (dnf's,
    /// in builds with the `librepo` feature).
    #[arg(long, default_value = "http", value_parser = super::args::backend())]
    pub backend: Backend,
    /// Seconds without a received byte before a transfer counts as stalled.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// Extra attempts at one mirror after a transient fault.
    #[arg(long, default_value_t = 2)]
    pub retries: u32,
    /// A sysroot (as for `ostree admin --sysroot`) to pull the commit into.
    #[arg(long, value_name = "DIR", requires = "os")]
    pub sysroot: Option<PathBuf>,
    /// The OS name (stateroot) in the sysroot.
    #[arg(long, value_name = "OSNAME", requires = "sysroot")]
    pub os: Option<String>,
    /// Deploy the commit in the sysroot (`ostree admin deploy`), unless the OS's newest
    /// deployment already is it.
    #[arg(long, requires = "sysroot")]
    pub deploy: bool,
    /// Stage the deployment (`ostree admin deploy --stage`: finalized at shutdown, the
    /// booted deployment untouched; needs a booted OSTree system).
    #[arg(long, requires = "deploy")]
    pub stage: bool,
    /// Only check: print whether a newer jigdo RPM than the ref's commit is available,
    /// its version, the path the update would take (a delta RPM when the repository
    /// holds its base, else the jigdo RPM and the packages) and the bytes it would
    /// download; exit 100 when one is, 0 when not (as `dnf check-update`). Writes
    /// nothing to the repository.
    #[arg(long, conflicts_with_all = ["sysroot", "deploy", "stage"])]
    pub check: bool,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

/// What is printed as the install goes: lines on a terminal, a byte progress bar while
/// packages download (the packages are imported meanwhile: their lines print above it);
/// nothing but the lock wait with `--json`.
struct Printer {
    json: bool,
    tty: bool,
    bar: Option<ProgressBar>,
    done: AtomicUsize,
    needed: AtomicUsize,
    imported: AtomicUsize,
}

impl Printer {
    fn new(json: bool) -> Printer {
        let tty = std::io::stderr().is_terminal() && !json && !crate::output::quiet();
        let bar = tty.then(|| {
            let b = ProgressBar::new(0);
            b.set_style(
                ProgressStyle::with_template(
                    "{msg} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {wide_bar}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b
        });
        Printer {
            json,
            tty,
            bar,
            done: AtomicUsize::new(0),
            needed: AtomicUsize::new(0),
            imported: AtomicUsize::new(0),
        }
    }

    fn say(&self, line: &dyn std::fmt::Display) {
        match &self.bar {
            // Above the bar while it is shown.
            Some(b) if !b.is_finished() && b.length().unwrap_or(0) > 0 => {
                b.suspend(|| eprintln!("{line}"))
            }
            _ if self.tty => eprintln!("{line}"),
            _ => {}
        }
    }

    fn count(&self) {
        if let Some(b) = &self.bar {
            let done = self.done.load(Ordering::Relaxed);
            let needed = self.needed.load(Ordering::Relaxed);
            let imported = self.imported.load(Ordering::Relaxed);
            b.set_message(format!(
                "packages {done}/{needed} downloaded, {imported} imported"
            ));
        }
    }

    fn event(&self, e: &Event) {
        match e {
            Event::WaitingForLock { path } if !self.json && !crate::output::quiet() => eprintln!(
                "waiting for another jigdo install into this repository ({})",
                path.display()
            ),
            Event::JigdoFound { nevra, source } => self.say(&format!("{nevra} from {source}")),
            // Always (also with --json): the install goes on without that source.
            Event::SourceUnreachable { source, error } => {
                eprintln!("warning: {source} cannot be reached, skipped: {error}")
            }
            Event::UpToDate {
                nevra,
                commit,
                ref_name,
            } if !self.json && !crate::output::quiet() => {
                eprintln!("nothing new: {ref_name} already is {nevra} (commit {commit})")
            }
            // One line: what verified with which key (not with --json: the report has
            // it), or the warning that nothing did (always).
            Event::Trust(t) if t.nogpgcheck || !(self.json || crate::output::quiet()) => {
                eprintln!("{}", t.line())
            }
            Event::PackagesNeeded {
                needed,
                total,
                bytes,
            } => {
                self.say(&format!("{needed}/{total} pinned packages needed"));
                self.needed.store(*needed, Ordering::Relaxed);
                if let Some(b) = &self.bar {
                    b.set_length(*bytes);
                    b.set_position(0);
                    b.reset_eta();
                }
                self.count();
            }
            Event::Bytes(n) => {
                if let Some(b) = &self.bar {
                    b.inc(*n);
                }
            }
            Event::Retrying { what, url, error } => {
                if let Some(b) = &self.bar {
                    b.println(format!("retrying {what}: {url}: {error}"));
                }
            }
            Event::PackageReady { .. } => {
                self.done.fetch_add(1, Ordering::Relaxed);
                self.count();
            }
            Event::PackagesReady => {
                if let Some(b) = &self.bar {
                    b.finish_and_clear();
                }
            }
            Event::Unpack(u) => {
                if let jigdo_unpack::UnpackEvent::Imported { .. } = u {
                    self.imported.fetch_add(1, Ordering::Relaxed);
                    self.count();
                }
                self.say(u)
            }
            Event::DeltaChosen { nevra, bytes } if !self.json => {
                eprintln!("update through delta RPM {nevra} ({bytes} bytes)")
            }
            Event::DeltaFailed { nevra, reason } => {
                eprintln!(
                    "warning: delta RPM {nevra} not used: {reason}; taking the jigdo RPM path"
                )
            }
            _ => {}
        }
    }
}

/// Runs `jigdo install`.
pub fn run(args: InstallArgs) -> anyhow::Result<i32> {
    let deployment = match (args.sysroot, args.os) {
        (Some(sysroot), Some(os)) => Some(Deployment {
            sysroot,
            os,
            deploy: args.deploy,
            stage: args.stage,
        }),
        _ => None,
    };
    let opts = InstallOptions {
        target: args.target,
        sources: source_specs(
            &args.from,
            args.repofile.as_deref(),
            args.reposdir.as_deref(),
        )?,
        repo: args.target_repo.repo,
        mode: args.target_repo.mode,
        ref_name: args.target_repo.ref_name,
        fetch: FetchOptions {
            parallel: args.parallel.max(1),
            cache_dir: args.cache,
            stall_timeout: Duration::from_secs(args.timeout.max(1)),
            connect_timeout: Duration::from_secs(args.timeout.max(1)),
            retries: args.retries,
            backoff: Duration::from_millis(200),
            ..FetchOptions::default()
        },
        backend: args.backend,
        trust: args.trust.policy(),
        deployment,
    };
    let printer = Arc::new(Printer::new(args.json));
    let sink = printer.clone();
    if args.check {
        let report = check(&opts, Arc::new(move |e: &Event| sink.event(e)))?;
        if args.json {
            crate::output::print_json(&report)?;
        } else if let (true, Some(delta)) = (report.update_available, &report.delta_rpm) {
            println!(
                "update available: {} (version {}, commit {}) from {}: {} bytes to download \
                 by the delta path (delta RPM {delta}, {} bytes)",
                report.jigdo_rpm,
                report.version,
                report.commit,
                report.source,
                report.update_bytes,
                report.delta_bytes
            );
        } else if report.update_available {
            println!(
                "update available: {} (version {}, commit {}) from {}: {} bytes to download \
                 by the jigdo RPM path (jigdo RPM {} bytes, {} packages {} bytes)",
                report.jigdo_rpm,
                report.version,
                report.commit,
                report.source,
                report.update_bytes,
                report.jigdo_rpm_bytes,
                report.packages_needed,
                report.packages_bytes
            );
        } else {
            println!(
                "up to date: {} is {} (version {}, commit {})",
                report.ref_name, report.jigdo_rpm, report.version, report.commit
            );
        }
        return Ok(if report.update_available { 100 } else { 0 });
    }
    let report = install(&opts, Arc::new(move |e: &Event| sink.event(e)))?;
    if args.json {
        crate::output::print_json(&report)?;
    } else {
        println!("{}", report.commit);
    }
    Ok(0)
}
