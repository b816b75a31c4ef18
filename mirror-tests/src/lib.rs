//! Helpers shared by the end-to-end scenarios in `tests/`: locating the `jigdo`
//! binary, the real peer tools, and `../shared/fixtures`.

pub mod fault_server;
