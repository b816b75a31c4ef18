//! One module per `jigdo` subcommand. Each exposes `XxxArgs` (clap) and
//! `run(args) -> anyhow::Result<i32>` returning the process exit code.

pub mod fsck;
pub mod install;
pub mod mirror;
pub mod info;
pub mod pack;
pub mod unpack;
pub mod repo;
