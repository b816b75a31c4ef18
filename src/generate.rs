//! `jigdo generate` (hidden): man pages and shell completions rendered from the clap
//! definitions of the binary itself, so they can never disagree with `--help`.
//! Packaging runs it (`cargo xtask dist`), as ripgrep's `rg --generate` is run.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, FromArgMatches, Subcommand};
use clap_complete::Shell;

/// The hidden `generate` subcommand, added beside the user-facing tree (which therefore
/// does not list it in its man pages and completions).
pub fn command() -> clap::Command {
    GenerateArgs::augment_args(clap::Command::new("generate"))
        .about("Write the man pages or shell completions of jigdo (for packaging)")
        .hide(true)
}

/// Arguments of `jigdo generate`.
#[derive(Args)]
pub struct GenerateArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// Man pages: DIR/jigdo.1 and DIR/jigdo-SUBCOMMAND[-SUBCOMMAND].1 for each subcommand.
    Man {
        /// Output directory (created if absent).
        dir: PathBuf,
    },
    /// Shell completions: DIR/jigdo.bash, DIR/_jigdo (zsh), DIR/jigdo.fish.
    Completions {
        /// Output directory (created if absent).
        dir: PathBuf,
    },
}

/// Extra sections of `jigdo(1)` (roff): what the clap definitions do not describe.
const JIGDO_1_EXTRA: &str = r#".SH FILES
.TP
\fI/etc/jigdo/update.conf\fR
What the automatic update (\fBjigdo\-update.service\fR, started by
\fBjigdo\-update.timer\fR) installs: the jigdo RPM name, its sources, the OSTree repository,
the sysroot and OS name, and the keys. The service runs \fBjigdo install\fR and stages the
new commit for the next boot; it never changes the booted deployment.
.SH "SEE ALSO"
\fBostree\fR(1), \fBostree\-admin\-deploy\fR(1), \fBrpm\fR(8), \fBdnf\fR(8),
\fBcreaterepo_c\fR(8), \fBsystemd.timer\fR(5)
"#;

/// Runs `jigdo generate` (its parsed `matches`); `cli` is the user-facing command tree.
pub fn run(matches: &clap::ArgMatches, cli: clap::Command) -> anyhow::Result<i32> {
    let args = GenerateArgs::from_arg_matches(matches)?;
    let written = match args.what {
        What::Man { dir } => man_pages(cli, &dir)?,
        What::Completions { dir } => completions(cli, &dir)?,
    };
    for path in written {
        println!("{}", path.display());
    }
    Ok(0)
}

fn create_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

/// Writes one man page per (sub)command into `dir`; returns the paths.
fn man_pages(cli: clap::Command, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    create_dir(dir)?;
    let source = format!("jigdo {}", cli.get_version().unwrap_or_default());
    let mut cli = cli.disable_help_subcommand(true);
    cli.build();
    let mut written = Vec::new();
    write_pages(&cli, dir, &source, true, &mut written)?;
    Ok(written)
}

fn write_pages(
    cmd: &clap::Command,
    dir: &Path,
    source: &str,
    top: bool,
    written: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone())
        .source(source.to_string())
        .manual("jigdo manual");
    let path = dir.join(man.get_filename());
    let mut page = Vec::new();
    man.render(&mut page)
        .with_context(|| format!("rendering {}", path.display()))?;
    if top {
        page.extend_from_slice(JIGDO_1_EXTRA.as_bytes());
    }
    let mut file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(&page)
        .with_context(|| format!("writing {}", path.display()))?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, source, false, written)?;
    }
    Ok(())
}

/// Writes the bash, zsh and fish completions of `jigdo` into `dir`; returns the paths.
fn completions(mut cli: clap::Command, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    create_dir(dir)?;
    let mut written = Vec::new();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path = clap_complete::generate_to(shell, &mut cli, "jigdo", dir)
            .with_context(|| format!("writing the {shell} completion into {}", dir.display()))?;
        written.push(path);
    }
    Ok(written)
}
