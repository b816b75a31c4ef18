//! `jigdo status`: the arguments and the printing; the work is `jigdo_install::status`.

use std::path::PathBuf;

use clap::Args;
use jigdo_install::status::CommitStatus;

/// Arguments of `jigdo status`.
#[derive(Args)]
pub struct StatusArgs {
    /// The OSTree repository jigdo installs into.
    #[arg(long, value_name = "PATH")]
    pub repo: PathBuf,
    /// A sysroot (as for `ostree admin --sysroot`): also list its deployments.
    #[arg(long, value_name = "DIR")]
    pub sysroot: Option<PathBuf>,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

/// The lines shared by a ref and a deployment.
fn commit_lines(c: &CommitStatus) {
    println!("    Commit: {}", c.commit);
    if let Some(v) = &c.version {
        println!("    Version: {v}");
    }
    if let Some(t) = c.timestamp.and_then(|t| i64::try_from(t).ok()) {
        match chrono::DateTime::from_timestamp(t, 0) {
            Some(d) => println!("    Timestamp: {}", d.format("%Y-%m-%d %H:%M:%S UTC")),
            None => println!("    Timestamp: {t}"),
        }
    }
    match (&c.jigdo_rpm, c.packages, &c.source) {
        (Some(rpm), Some(n), Some(source)) => {
            println!("    Jigdo RPM: {rpm} ({n} packages) from {source}");
            match &c.verified_by {
                Some(by) => println!("    Verified: yes, by {by}"),
                None => println!("    Verified: no"),
            }
        }
        _ => println!("    Jigdo RPM: none (not installed by jigdo)"),
    }
}

/// Runs `jigdo status`.
pub fn run(args: StatusArgs) -> anyhow::Result<i32> {
    let report = jigdo_install::status(&args.repo, args.sysroot.as_deref())?;
    if args.json {
        crate::output::print_json(&report)?;
        return Ok(0);
    }
    println!("Repository {}:", report.repo.display());
    if report.refs.is_empty() {
        println!("  no refs");
    }
    for r in &report.refs {
        println!("  {}", r.ref_name);
        commit_lines(&r.commit);
    }
    if let Some(sysroot) = &report.sysroot {
        println!("Deployments in {}:", sysroot.display());
        if report.deployments.is_empty() {
            println!("  none");
        }
        for (i, d) in report.deployments.iter().enumerate() {
            let mut marks = Vec::new();
            for (on, word) in [
                (d.booted, "booted"),
                (d.staged, "staged"),
                (d.pending, "pending"),
                (d.rollback, "rollback"),
                (i == 0, "next boot"),
            ] {
                if on {
                    marks.push(word);
                }
            }
            let marks = if marks.is_empty() {
                String::new()
            } else {
                format!(" ({})", marks.join(", "))
            };
            println!("  {} {}.{}{marks}", d.os, d.commit.commit, d.serial);
            if let Some(o) = &d.origin {
                println!("    Origin: {o}");
            }
            commit_lines(&d.commit);
        }
    }
    Ok(0)
}
