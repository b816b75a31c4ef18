//! Argument types shared by several subcommands, each parsed once by clap.

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
