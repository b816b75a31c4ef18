//! One module per `jigdo` subcommand. Each exposes `XxxArgs` (clap) and
//! `run(args) -> anyhow::Result<i32>` returning the process exit code (`backend` is the
//! download-backend choice shared by install and mirror).

pub mod backend;
pub mod fsck;
pub mod info;
pub mod install;
pub mod mirror;
pub mod pack;
pub mod repo;
pub mod unpack;
