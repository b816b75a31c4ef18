//! jigdo-format (being written).
