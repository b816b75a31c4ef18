//! ostree-store (being written).
