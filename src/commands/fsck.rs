//! `jigdo fsck` (being written).
use clap::Args;

/// Arguments of `jigdo fsck`.
#[derive(Args)]
pub struct FsckArgs {
    /// The OSTree repository to verify.
    #[arg(long)]
    pub repo: std::path::PathBuf,
}

/// Runs `jigdo fsck`.
pub fn run(_args: FsckArgs) -> anyhow::Result<i32> {
    anyhow::bail!("jigdo fsck is not implemented yet")
}
