//! Argument types shared by several subcommands, each parsed once by clap.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use jigdo_install::{Backend, TrustPolicy};
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

/// The keys and the rule of the trust step (`install`, `mirror`, `unpack`, `diff`): one
/// link of the chain of trust must verify with one of these keys, or `--nogpgcheck`
/// (`unpack` with no key unpacks an unverified commit with a warning; `diff` checks the
/// sides it reads from the sources).
#[derive(clap::Args)]
pub struct TrustArgs {
    /// OpenPGP public key file (armored or binary; repeatable), added to every source's
    /// keys: checks the signed repomd.xml, the jigdo RPM's signature and the commit's
    /// GPG signatures (`ostree gpg-sign`).
    #[arg(long, value_name = "FILE")]
    pub gpgkey: Vec<PathBuf>,
    /// ed25519 public key file (repeatable; base64 keys, one a line, as ostree's key
    /// files): checks the commit's `ostree sign` signatures.
    #[arg(long = "commit-key", value_name = "FILE")]
    pub commit_key: Vec<PathBuf>,
    /// Accept a commit that no key authenticates (prints a warning).
    #[arg(long)]
    pub nogpgcheck: bool,
}

impl TrustArgs {
    /// The policy these arguments ask for.
    pub fn policy(self) -> TrustPolicy {
        TrustPolicy {
            gpgkeys: self.gpgkey,
            commit_keys: self.commit_key,
            nogpgcheck: self.nogpgcheck,
        }
    }
}
