//! The consumer workflow of ostree-jigdo.

pub mod sources;
