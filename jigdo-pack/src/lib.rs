//! jigdo-pack (being written).
