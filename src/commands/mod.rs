//! One module per `jigdo` subcommand. Each exposes `XxxArgs` (clap) and
//! `run(args) -> anyhow::Result<i32>` returning the process exit code; `args` holds the
//! argument parsers several of them share.

pub mod args;
pub mod diff;
pub mod fsck;
pub mod info;
pub mod install;
pub mod mirror;
pub mod pack;
pub mod repo;
pub mod status;
pub mod unpack;
