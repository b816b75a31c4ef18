//! Typed progress of an install or mirror run, for a caller to print or count.

use std::path::Path;
use std::sync::{Arc, RwLock};

use crate::trust::TrustReport;
use jigdo_format::PinnedPackage;
use jigdo_unpack::UnpackEvent;
use repo_fetch::{AttemptError, FetchReport, FetchRequest, Origin, Progress};

/// What an install or mirror run reports as it goes. Events may come from several
/// threads at once.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// Another install into the same repository holds the install lock: waiting for it.
    WaitingForLock {
        /// The lock file.
        path: &'a Path,
    },
    /// A source cannot be reached: it is skipped (the others are tried).
    SourceUnreachable {
        /// The source (SOURCE or `.repo` section id).
        source: &'a str,
        /// Why.
        error: &'a str,
    },
    /// The ref already points at the newest matching jigdo RPM's commit: nothing is
    /// downloaded.
    UpToDate {
        /// The jigdo RPM's NEVRA.
        nevra: &'a str,
        /// The commit.
        commit: &'a str,
        /// The ref.
        ref_name: &'a str,
    },
    /// The jigdo RPM to install was found in a source.
    JigdoFound {
        /// Its NEVRA.
        nevra: &'a str,
        /// The source (SOURCE or `.repo` section id).
        source: &'a str,
    },
    /// The trust step passed: what verified the commit (or that nothing did and
    /// `--nogpgcheck` accepted it).
    Trust(&'a TrustReport),
    /// What must be fetched: `needed` of the `total` pinned packages, `bytes` in all.
    PackagesNeeded {
        /// Packages to fetch.
        needed: usize,
        /// Packages in the pinned set.
        total: usize,
        /// Their total size.
        bytes: u64,
    },
    /// Bytes arrived over the network.
    Bytes(u64),
    /// A transfer attempt failed; another is made (same or next mirror).
    Retrying {
        /// The file (label and relative path).
        what: &'a str,
        /// The URL that failed.
        url: &'a str,
        /// How it failed.
        error: &'a AttemptError,
    },
    /// A needed package is in place, verified against its pin.
    PackageReady {
        /// The package.
        package: &'a PinnedPackage,
        /// How: downloaded, copied from a `file://` mirror, from the cache, or already
        /// in place.
        origin: Origin,
    },
    /// Every needed package is in place.
    PackagesReady,
    /// Progress of the rebuild of the commit.
    Unpack(UnpackEvent<'a>),
    /// The update goes through a delta RPM (the repository holds its base).
    DeltaChosen {
        /// The delta RPM's NEVRA.
        nevra: &'a str,
        /// Its size.
        bytes: u64,
    },
    /// The delta RPM could not be used; the jigdo RPM path is taken instead.
    DeltaFailed {
        /// The delta RPM's NEVRA.
        nevra: &'a str,
        /// Why.
        reason: &'a str,
    },
    /// `mirror`: a jigdo RPM and every package it pins are in place.
    Mirrored {
        /// The jigdo RPM's NEVRA.
        nevra: &'a str,
        /// How many packages it pins.
        packages: usize,
    },
}

/// Receives the events of a run.
pub type EventSink = Arc<dyn Fn(&Event<'_>) + Send + Sync>;

/// Turns the downloader's callbacks into [`Event`]s: bytes and retries as they are, and
/// each finished request tagged with a pin's index into [`Event::PackageReady`].
pub(crate) struct FetchEvents {
    sink: EventSink,
    pins: RwLock<Arc<Vec<PinnedPackage>>>,
}

impl FetchEvents {
    pub(crate) fn new(sink: EventSink) -> FetchEvents {
        FetchEvents {
            sink,
            pins: RwLock::new(Arc::new(Vec::new())),
        }
    }

    /// The pins that the tags of the next requests index.
    pub(crate) fn set_pins(&self, pins: &[PinnedPackage]) {
        *self.pins.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(pins.to_vec());
    }
}

impl Progress for FetchEvents {
    fn bytes(&self, n: u64) {
        (self.sink)(&Event::Bytes(n));
    }
    fn retrying(&self, what: &str, url: &str, error: &AttemptError) {
        (self.sink)(&Event::Retrying { what, url, error });
    }
    fn finished(&self, req: &FetchRequest, report: &FetchReport) {
        let pins = self.pins.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(package) = req.tag.and_then(|i| pins.get(i)) {
            (self.sink)(&Event::PackageReady {
                package,
                origin: report.origin,
            });
        }
    }
}
