//! repodata (being written).

/// Download layer: sources, mirrors, .repo files, HTTP fetching with verification.
pub mod fetch;
