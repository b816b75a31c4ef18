//! `jigdo`: deliver OSTree commits through ordinary RPM repositories.
//!
//! Each subcommand lives in its own module under `src/commands/`; this file only
//! parses the command line, sets up logging and turns errors into the one-line
//! `error: …` and non-zero exit status that ../shared/CLI.md promises.

// One audited exception: `tune_malloc` (glibc settings no safe API exposes).
#![deny(unsafe_code)]

mod commands;
mod generate;
mod output;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Deliver OSTree commits through ordinary RPM repositories.
#[derive(Parser)]
#[command(name = "jigdo", version, about, long_about = None)]
struct Cli {
    /// Print only results and errors: no progress, no notes.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Log more on standard error (-v: info, -vv: debug, -vvv: trace; JIGDO_LOG overrides).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the commit, version, pinned package set and sizes of a jigdo RPM.
    Info(commands::info::InfoArgs),
    /// Rebuild the exact commit of a jigdo RPM in an OSTree repository.
    Unpack(commands::unpack::UnpackArgs),
    /// Verify every object that the given commits (default: every ref) reach.
    Fsck(commands::fsck::FsckArgs),
    /// Publish (`create`) or prune (`prune`) a dnf-compatible repository.
    Repo(commands::repo::RepoArgs),
    /// Encode one OSTree commit as a jigdo RPM.
    Pack(commands::pack::PackArgs),
    /// Find a jigdo RPM in rpm-md sources, download what is needed, rebuild the commit.
    Install(commands::install::InstallArgs),
    /// Copy jigdo RPMs and exactly the RPMs they pin into a directory and publish it.
    Mirror(commands::mirror::MirrorArgs),
    /// Show each ref and deployment: commit, version, jigdo RPM, packages, verification.
    Status(commands::status::StatusArgs),
    /// Compare two commits: packages added, removed, upgraded, downgraded; changed files.
    Diff(commands::diff::DiffArgs),
}

/// Logs to standard error at the level `--quiet`/`-v` ask for (`JIGDO_LOG` overrides).
fn init_logging(quiet: bool, verbose: u8) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("JIGDO_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Two settings of glibc's malloc, each unless the user set its variable or
/// `GLIBC_TUNABLES`:
/// - arenas capped at the number of cores, 2 to 4 (glibc's default is 8 per core). Every
///   thread that allocates gets an arena of its own, and freed memory stays in it: beside
///   a 65,000-package repository `jigdo install` peaked at 172 MiB with a 41 MB heap, and
///   at 64-68 MiB with two arenas (BENCHMARKS.md, issue 13);
/// - blocks of 1 MiB and more always mapped on their own (`M_MMAP_THRESHOLD`), so that a
///   freed buffer goes back to the system at once. glibc's default threshold grows with
///   each freed mapped block up to 32 MiB, after which the buffers of libzstd and of
///   object reads (some MiB each) come from the arenas and stay there: `jigdo pack
///   --delta-from` of the bench corpus peaked at 283 MiB with a 232 MB heap, and at 212
///   MiB with this setting, in the same time (BENCHMARKS.md, issue 14).
///
/// Hand-written because no maintained crate wraps these calls; it must run before any
/// thread starts.
#[allow(unsafe_code)]
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("GLIBC_TUNABLES").is_some() {
            return;
        }
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = cores.clamp(2, 4) as libc::c_int;
        let set_arenas = std::env::var_os("MALLOC_ARENA_MAX").is_none();
        let set_threshold = std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none();
        // SAFETY: mallopt only changes a setting of glibc's allocator, which it reads
        // under its own lock; main calls this first, before any other thread exists,
        // and the return value (0 if the setting was refused) needs no handling.
        unsafe {
            if set_arenas {
                libc::mallopt(libc::M_ARENA_MAX, arenas);
            }
            if set_threshold {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
            }
        }
    }
}

/// Restores the default action of SIGPIPE, which Rust's runtime sets to "ignore": writing
/// to a pipe whose reader is gone (`jigdo info X | head`) then ends the process quietly,
/// as it ends other Unix tools, instead of `println!` panicking on the error. Nothing
/// else changes: sockets are written with `MSG_NOSIGNAL` (Rust's standard library, which
/// tokio uses, and librepo's curl alike), and jigdo writes into no child's pipe.
#[allow(unsafe_code)]
fn restore_sigpipe() {
    // SAFETY: signal(2) with SIG_DFL, before any thread starts; no handler is installed.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() {
    restore_sigpipe();
    tune_malloc();
    // `Cli` is the user-facing tree (what man pages and completions describe); the
    // hidden `generate` subcommand that renders them is added beside it.
    let matches = Cli::command().subcommand(generate::command()).get_matches();
    let cli = match matches.subcommand() {
        Some(("generate", m)) => {
            init_logging(false, 0);
            finish(generate::run(m, Cli::command()))
        }
        _ => Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit()),
    };
    init_logging(cli.quiet, cli.verbose);
    output::set_quiet(cli.quiet);
    finish(match cli.command {
        Command::Info(args) => commands::info::run(args),
        Command::Unpack(args) => commands::unpack::run(args),
        Command::Fsck(args) => commands::fsck::run(args),
        Command::Repo(args) => commands::repo::run(args),
        Command::Pack(args) => commands::pack::run(args),
        Command::Install(args) => commands::install::run(args),
        Command::Mirror(args) => commands::mirror::run(args),
        Command::Status(args) => commands::status::run(args),
        Command::Diff(args) => commands::diff::run(args),
    })
}

/// Exits with the subcommand's status, or 1 after printing its error.
fn finish(result: anyhow::Result<i32>) -> ! {
    match result {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("error: {}", one_line(&err));
            std::process::exit(1);
        }
    }
}

/// The error and its causes on one line, `a: b: c`, each cause once (most of our
/// errors already end with the text of their cause).
fn one_line(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let c = cause.to_string();
        if !text.ends_with(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    text.replace('\n', " ")
}
