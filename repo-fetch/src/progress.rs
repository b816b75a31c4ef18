//! Progress reporting hooks, so that a CLI can drive a progress bar.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{AttemptError, FetchError};
use crate::{FetchReport, FetchRequest, Origin};

/// Receives download events. All methods have empty defaults; they are
/// called from download tasks, possibly concurrently. File events carry the request
/// (with the caller's [`FetchRequest::tag`]).
pub trait Progress: Send + Sync {
    /// A file is about to be fetched (after cache and existing-file checks).
    fn started(&self, _req: &FetchRequest) {}
    /// `n` more bytes arrived over the network.
    fn bytes(&self, _n: u64) {}
    /// An attempt failed and another will be made (same or next mirror); `what` names
    /// the file (label and relative path, or the mirror list).
    fn retrying(&self, _what: &str, _url: &str, _error: &AttemptError) {}
    /// A file is in place and verified (downloaded, cached or already there).
    fn finished(&self, _req: &FetchRequest, _report: &FetchReport) {}
    /// A file could not be fetched from any mirror.
    fn failed(&self, _req: &FetchRequest, _error: &FetchError) {}
}

/// A ready-made [`Progress`] that counts files and bytes.
#[derive(Debug)]
pub struct Counters {
    start: Instant,
    files_done: AtomicU64,
    files_failed: AtomicU64,
    files_from_cache: AtomicU64,
    bytes: AtomicU64,
    retries: AtomicU64,
}

/// A point-in-time copy of [`Counters`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CountersSnapshot {
    /// Files in place and verified.
    pub files_done: u64,
    /// Files that failed.
    pub files_failed: u64,
    /// Of the files done, those served by the cache or already present.
    pub files_from_cache: u64,
    /// Bytes received over the network.
    pub bytes: u64,
    /// Attempts that failed and were retried.
    pub retries: u64,
    /// Time since the counters were made.
    pub elapsed: Duration,
    /// Average rate in bytes per second since then.
    pub bytes_per_sec: f64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters::new()
    }
}

impl Counters {
    /// New counters; the clock starts now.
    pub fn new() -> Counters {
        Counters {
            start: Instant::now(),
            files_done: AtomicU64::new(0),
            files_failed: AtomicU64::new(0),
            files_from_cache: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        }
    }

    /// The current values.
    pub fn snapshot(&self) -> CountersSnapshot {
        let elapsed = self.start.elapsed();
        let bytes = self.bytes.load(Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        CountersSnapshot {
            files_done: self.files_done.load(Ordering::Relaxed),
            files_failed: self.files_failed.load(Ordering::Relaxed),
            files_from_cache: self.files_from_cache.load(Ordering::Relaxed),
            bytes,
            retries: self.retries.load(Ordering::Relaxed),
            elapsed,
            bytes_per_sec: if secs > 0.0 { bytes as f64 / secs } else { 0.0 },
        }
    }
}

impl Progress for Counters {
    fn bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }
    fn retrying(&self, _what: &str, _url: &str, _error: &AttemptError) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }
    fn finished(&self, _req: &FetchRequest, report: &FetchReport) {
        self.files_done.fetch_add(1, Ordering::Relaxed);
        if matches!(report.origin, Origin::Cache | Origin::AlreadyPresent) {
            self.files_from_cache.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn failed(&self, _req: &FetchRequest, _error: &FetchError) {
        self.files_failed.fetch_add(1, Ordering::Relaxed);
    }
}
