//! repodata (being written).
