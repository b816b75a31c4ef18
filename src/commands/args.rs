//! Argument types shared by several subcommands, each parsed once by clap.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use jigdo_install::Backend;
use ostree_store::RepoMode;

/// `--mode`: the modes a repository can be created with ([`RepoMode`]'s `FromStr`).
pub fn repo_mode() -> impl TypedValueParser<Value = RepoMode> {
    PossibleValuesParser::new(["archive", "bare", "bare-user", "bare-user-only"])
        .try_map(|s| s.parse::<RepoMode>())
}

/// `--backend`: the library that downloads package files ([`Backend`]'s `FromStr`).
pub fn backend() -> impl TypedValueParser<Value = Backend> {
    PossibleValuesParser::new(Backend::NAMES).try_map(|s| s.parse::<Backend>())
}

/// Where `unpack` and `install` put the commit.
#[derive(clap::Args)]
pub struct TargetArgs {
    /// The OSTree repository to rebuild the commit in (created if absent).
    #[arg(long, value_name = "PATH")]
    pub repo: PathBuf,
    /// Mode of the repository if it is created.
    #[arg(long, default_value = "bare-user", value_parser = repo_mode())]
    pub mode: RepoMode,
    /// Ref to set (default: the jigdo RPM's name).
    #[arg(long = "ref", value_name = "REF")]
    pub ref_name: Option<String>,
}
