//! jigdo-unpack (being written).
