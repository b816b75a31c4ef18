//! `jigdo install`: find a jigdo RPM in rpm-md sources, download it and the pinned RPMs
//! the target repository still needs, rebuild and verify the commit, set the ref, and
//! optionally deploy it into a sysroot.
//!
//! Deployment is done honestly with the real `ostree` tool: the commit is copied into
//! `SYSROOT/ostree/repo` with `ostree pull-local`, then `ostree admin deploy` runs
//! (after `ostree admin init-fs` / `os-init` when the sysroot or OS is new).

use std::collections::HashSet;
use std::fs::File;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use jigdo_install::sources::{packages_needed, RemoteSources, SourceSpec};
use jigdo_unpack::{unpack, JigdoRpm, UnpackOptions, UnpackReport};
use ostree_store::{Repo, RepoMode};
use repo_fetch::{FetchOptions, FetchReport, Origin, Progress, RepoFile, Vars};
use serde::Serialize;

/// Arguments of `jigdo install`.
#[derive(Args)]
#[command(
    after_help = "Deployment (--sysroot DIR --os OSNAME --deploy) is done with the real \
ostree tool: the commit is copied into DIR/ostree/repo with `ostree pull-local`, then \
`ostree admin --sysroot DIR deploy --os OSNAME REF` runs (after `ostree admin init-fs` and \
`ostree admin os-init` when needed). Without --deploy the commit is only pulled there."
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
    /// The OSTree repository (created if absent).
    #[arg(long, value_name = "PATH")]
    pub repo: PathBuf,
    /// Mode of the repository if it is created.
    #[arg(long, default_value = "bare-user", value_parser = ["archive", "bare", "bare-user", "bare-user-only"])]
    pub mode: String,
    /// Ref to set (default: the jigdo RPM's name).
    #[arg(long = "ref", value_name = "REF")]
    pub ref_name: Option<String>,
    /// Download cache of verified files (kept between runs).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Files downloaded at the same time.
    #[arg(long, default_value_t = 4)]
    pub parallel: usize,
    /// Public key (ASCII-armored) the jigdo RPM must be signed with (repeatable);
    /// turns on the signature check for every source.
    #[arg(long, value_name = "FILE")]
    pub gpgkey: Vec<PathBuf>,
    /// Library that downloads package files: http (built in) or librepo (dnf's,
    /// in builds with the `librepo` feature).
    #[arg(long, value_enum, default_value_t = super::backend::Backend::Http)]
    pub backend: super::backend::Backend,
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
    /// Deploy the commit in the sysroot (`ostree admin deploy`).
    #[arg(long, requires = "sysroot")]
    pub deploy: bool,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

/// What `jigdo install` did.
#[derive(Serialize)]
struct InstallReport {
    commit: String,
    #[serde(rename = "ref")]
    ref_name: String,
    jigdo_rpm: String,
    packages_total: usize,
    packages_needed: usize,
    packages_downloaded: usize,
    bytes_downloaded: u64,
    deployed: bool,
    unpack: UnpackReport,
}

/// Terminal progress and download counting.
struct Bar {
    bar: Option<ProgressBar>,
    pins: Mutex<HashSet<String>>,
    downloaded: Mutex<HashSet<String>>,
    done: Mutex<usize>,
    total: Mutex<usize>,
}

impl Bar {
    fn set_pins(&self, names: HashSet<String>, bytes: u64) {
        *self.total.lock().unwrap_or_else(|e| e.into_inner()) = names.len();
        *self.pins.lock().unwrap_or_else(|e| e.into_inner()) = names;
        if let Some(b) = &self.bar {
            b.set_length(bytes);
            b.set_position(0);
            b.reset_eta();
        }
        self.message();
    }
    fn message(&self) {
        if let Some(b) = &self.bar {
            let done = *self.done.lock().unwrap_or_else(|e| e.into_inner());
            let total = *self.total.lock().unwrap_or_else(|e| e.into_inner());
            b.set_message(format!("packages {done}/{total}"));
        }
    }
}

impl Progress for Bar {
    fn bytes(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }
    fn finished(&self, what: &str, report: &FetchReport) {
        // `what` is the request's description; it contains the pin's NEVRA label.
        let Some(name) = self
            .pins
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|n| what.contains(n.as_str()))
            .cloned()
        else {
            return;
        };
        if matches!(report.origin, Origin::Network | Origin::Local) {
            self.downloaded
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(name);
        }
        *self.done.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.message();
    }
    fn retrying(&self, what: &str, url: &str, error: &repo_fetch::AttemptError) {
        if let Some(b) = &self.bar {
            b.println(format!("retrying {what}: {url}: {error}"));
        }
    }
}

fn mode_of(s: &str) -> RepoMode {
    match s {
        "archive" => RepoMode::Archive,
        "bare" => RepoMode::Bare,
        "bare-user-only" => RepoMode::BareUserOnly,
        _ => RepoMode::BareUser,
    }
}

/// Source specs from `--from`, `--repofile`, `--reposdir`.
pub(crate) fn source_specs(
    from: &[String],
    repofile: Option<&Path>,
    reposdir: Option<&Path>,
) -> anyhow::Result<Vec<SourceSpec>> {
    let mut specs: Vec<SourceSpec> = from.iter().cloned().map(SourceSpec::From).collect();
    let vars = Vars::from_system();
    let mut cfgs = Vec::new();
    if let Some(f) = repofile {
        cfgs.extend(RepoFile::load(f, &vars)?);
    }
    if let Some(d) = reposdir {
        cfgs.extend(RepoFile::load_dir(d, &vars)?);
    }
    specs.extend(
        cfgs.into_iter()
            .filter(|c| c.enabled)
            .map(|c| SourceSpec::Repo(Box::new(c))),
    );
    Ok(specs)
}

/// Takes the install lock of `repo`, waiting (and saying so) while another holds it.
fn lock_install(state: &Path, quiet: bool) -> anyhow::Result<File> {
    std::fs::create_dir_all(state).with_context(|| state.display().to_string())?;
    let path = state.join("install.lock");
    let f = File::create(&path).with_context(|| path.display().to_string())?;
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            if !quiet {
                eprintln!(
                    "waiting for another jigdo install into this repository ({})",
                    path.display()
                );
            }
            f.lock().with_context(|| path.display().to_string())?;
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| path.display().to_string())
        }
    }
    Ok(f)
}

/// Runs `jigdo install`.
pub fn run(args: InstallArgs) -> anyhow::Result<i32> {
    let quiet = args.json;
    let tty = std::io::stderr().is_terminal() && !quiet;
    let say = |m: &str| {
        if tty {
            eprintln!("{m}");
        }
    };
    let local_rpm = Path::new(&args.target);
    let target_is_file = args.target.ends_with(".rpm") && local_rpm.is_file();
    if args.from.is_empty() && args.repofile.is_none() && args.reposdir.is_none() {
        bail!("no sources: give --from SOURCE, --repofile FILE or --reposdir DIR");
    }
    // The repository and the install lock first: a second install waits here.
    if !args.repo.join("config").exists() {
        Repo::init(&args.repo, mode_of(&args.mode))
            .with_context(|| format!("creating {}", args.repo.display()))?;
    }
    let state = jigdo_unpack::unpack::state_dir(&args.repo);
    let _lock = lock_install(&state, quiet)?;
    let downloads = state.join("downloads");
    let md_dir = tempfile::tempdir_in(&state).context("metadata directory")?;

    let bar = Arc::new(Bar {
        bar: tty.then(|| {
            let b = ProgressBar::new(0);
            b.set_style(
                ProgressStyle::with_template(
                    "{msg} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {wide_bar}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b
        }),
        pins: Mutex::new(HashSet::new()),
        downloaded: Mutex::new(HashSet::new()),
        done: Mutex::new(0),
        total: Mutex::new(0),
    });
    let opts = FetchOptions {
        parallel: args.parallel.max(1),
        cache_dir: args.cache.clone(),
        stall_timeout: Duration::from_secs(args.timeout.max(1)),
        connect_timeout: Duration::from_secs(args.timeout.max(1)),
        retries: args.retries,
        backoff: Duration::from_millis(200),
        ..FetchOptions::default()
    };
    let fetcher =
        super::backend::downloader(args.backend, opts, Some(bar.clone() as Arc<dyn Progress>))?;
    let specs = source_specs(
        &args.from,
        args.repofile.as_deref(),
        args.reposdir.as_deref(),
    )?;
    let sources = RemoteSources::open(fetcher, specs, md_dir.path(), &args.gpgkey)?;

    // The jigdo RPM.
    let jigdo_path = if target_is_file {
        if !args.gpgkey.is_empty() {
            rpm_package::build::verify_signature(local_rpm, &args.gpgkey)
                .with_context(|| format!("{}: signature check failed", local_rpm.display()))?;
        }
        local_rpm.to_path_buf()
    } else {
        let found = sources.find_jigdo(&args.target)?;
        say(&format!(
            "{} from {}",
            found.entry.nevra(),
            sources.repos[found.repo].name
        ));
        sources.fetch_entry(&found, &downloads.join("jigdo"))?
    };
    let jigdo = JigdoRpm::open(&jigdo_path)?;

    // Only the packages the repository still needs.
    let needed = packages_needed(&jigdo, &args.repo)?;
    let pins: Vec<_> = needed
        .iter()
        .map(|&p| jigdo.index.packages[p].clone())
        .collect();
    say(&format!(
        "{}/{} pinned packages needed",
        pins.len(),
        jigdo.index.packages.len()
    ));
    bar.set_pins(
        pins.iter().map(|p| p.nevra()).collect(),
        pins.iter().map(|p| p.size).sum(),
    );
    let pkg_dir = downloads.join("packages");
    let files = sources.fetch_pins(&pins, &pkg_dir)?;
    if let Some(b) = &bar.bar {
        b.finish_and_clear();
    }
    let packages_downloaded = bar
        .downloaded
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .len();

    // Unpack from exactly the verified downloads (and local RPM directories).
    let mut dirs: Vec<String> = vec![pkg_dir.display().to_string()];
    for f in &files {
        if let Some(parent) = f.parent() {
            let s = parent.display().to_string();
            if !dirs.contains(&s) {
                dirs.push(s);
            }
        }
    }
    std::fs::create_dir_all(&pkg_dir).with_context(|| pkg_dir.display().to_string())?;
    let uopts = UnpackOptions {
        jigdo_rpm: jigdo_path.clone(),
        sources: dirs,
        repo: args.repo.clone(),
        mode: mode_of(&args.mode),
        ref_name: args.ref_name.clone(),
    };
    let progress = |m: &str| {
        if tty {
            eprintln!("{m}");
        }
    };
    let report = unpack(&uopts, &progress)?;
    // Imported: the downloads are no longer needed (the package cache replaces them).
    let _ = std::fs::remove_dir_all(&downloads);

    let mut deployed = false;
    if let (Some(sysroot), Some(os)) = (&args.sysroot, &args.os) {
        deploy(&args.repo, &report.ref_name, sysroot, os, args.deploy)?;
        deployed = args.deploy;
    }
    let out = InstallReport {
        commit: report.commit.clone(),
        ref_name: report.ref_name.clone(),
        jigdo_rpm: format!(
            "{}-{}-{}.{}",
            jigdo.name, jigdo.version, jigdo.release, jigdo.arch
        ),
        packages_total: jigdo.index.packages.len(),
        packages_needed: pins.len(),
        packages_downloaded,
        bytes_downloaded: sources.bytes_downloaded(),
        deployed,
        unpack: report,
    };
    if args.json {
        crate::output::print_json(&out)?;
    } else {
        println!("{}", out.commit);
    }
    Ok(0)
}

fn ostree_cmd(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ostree")
        .args(args)
        .output()
        .with_context(|| "running ostree (is it installed?)".to_string())?;
    if !out.status.success() {
        bail!(
            "ostree {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Pulls `ref_name` from `repo` into the sysroot's repository and, with `do_deploy`,
/// deploys it for `os` with the real `ostree admin deploy`.
fn deploy(
    repo: &Path,
    ref_name: &str,
    sysroot: &Path,
    os: &str,
    do_deploy: bool,
) -> anyhow::Result<()> {
    let sr = sysroot.display().to_string();
    let srepo = sysroot.join("ostree/repo");
    if !srepo.join("config").exists() {
        std::fs::create_dir_all(sysroot).with_context(|| sr.clone())?;
        ostree_cmd(&["admin", "init-fs", "--modern", &sr])?;
    }
    if !sysroot.join("ostree/deploy").join(os).exists() {
        ostree_cmd(&["admin", "os-init", "--sysroot", &sr, os])?;
    }
    let srepo_arg = format!("--repo={}", srepo.display());
    let src = repo.display().to_string();
    ostree_cmd(&[&srepo_arg, "pull-local", &src, ref_name])?;
    if do_deploy {
        ostree_cmd(&["admin", "deploy", "--sysroot", &sr, "--os", os, ref_name])?;
    }
    Ok(())
}
