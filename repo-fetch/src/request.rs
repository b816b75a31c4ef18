//! What to download and how: the options of a [`crate::Fetcher`], one request, and the
//! report of a successful fetch.

use std::path::PathBuf;
use std::time::Duration;

use crate::verify::Expect;
use crate::Vars;

/// How the client finds an HTTP proxy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProxyMode {
    /// `http_proxy`, `https_proxy`, `all_proxy`, `no_proxy` from the environment.
    #[default]
    Environment,
    /// No proxy at all.
    Direct,
    /// This proxy URL for every request.
    Url(String),
}

/// Settings of a [`Fetcher`].
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Files downloaded at the same time (at least 1). Default 4.
    pub parallel: usize,
    /// Time allowed to open a connection. Default 30 s.
    pub connect_timeout: Duration,
    /// Time allowed without receiving a byte (stalled transfer). Default 30 s.
    pub stall_timeout: Duration,
    /// Extra attempts at the same mirror after a transient fault (5xx,
    /// reset, timeout, truncation), before moving to the next. Default 2.
    pub retries: u32,
    /// First backoff delay; it doubles with each retry. Default 500 ms.
    pub backoff: Duration,
    /// Upper bound of the backoff delay. Default 10 s.
    pub max_backoff: Duration,
    /// Directory of verified files keyed by checksum (`--cache`).
    pub cache_dir: Option<PathBuf>,
    /// Extra PEM CA bundles trusted in addition to the system store
    /// (`sslcacert`).
    pub ca_files: Vec<PathBuf>,
    /// Proxy selection.
    pub proxy: ProxyMode,
    /// Variables substituted in mirrorlists and metalinks.
    pub vars: Vars,
    /// Largest body accepted by the in-memory `fetch_bytes`. Default 256 MiB.
    pub max_bytes_in_memory: u64,
    /// Keep the `.part` file after a final failure so that a later run can
    /// resume it (it is removed when its content proved wrong). Default true.
    pub keep_partial: bool,
    /// The User-Agent header.
    pub user_agent: String,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            parallel: 4,
            connect_timeout: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(30),
            retries: 2,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            cache_dir: None,
            ca_files: Vec::new(),
            proxy: ProxyMode::Environment,
            vars: Vars::from_system(),
            max_bytes_in_memory: 256 << 20,
            keep_partial: true,
            user_agent: concat!("ostree-jigdo/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// One file to download: a path relative to the mirrors' base URLs, what it
/// must be, and where to put it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// Path beneath the base URL ("Packages/f/foo-1-1.x86_64.rpm").
    pub rel_path: String,
    /// Expected size and checksum.
    pub expect: Expect,
    /// Final location; written only once verified.
    pub dest: PathBuf,
    /// What to call it in messages (a package NEVRA); defaults to `rel_path`.
    pub label: Option<String>,
    /// A number the caller chooses to recognise the request in [`Progress`] events
    /// (e.g. its index in the caller's list).
    pub tag: Option<usize>,
}

impl FetchRequest {
    /// A request without a label.
    pub fn new(rel_path: impl Into<String>, expect: Expect, dest: impl Into<PathBuf>) -> Self {
        FetchRequest {
            rel_path: rel_path.into(),
            expect,
            dest: dest.into(),
            label: None,
            tag: None,
        }
    }

    /// Sets the number reported back in [`Progress`] events.
    pub fn with_tag(mut self, tag: usize) -> Self {
        self.tag = Some(tag);
        self
    }

    /// Sets the label used in messages (e.g. the package NEVRA).
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// "label (rel_path)" or just the relative path.
    pub fn what(&self) -> String {
        match &self.label {
            Some(l) if *l != self.rel_path => format!("{l} ({})", self.rel_path),
            _ => self.rel_path.clone(),
        }
    }
}

/// Where a fetched file came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Downloaded over HTTP(S).
    Network,
    /// Copied from a `file://` mirror.
    Local,
    /// Taken from the download cache (no request made).
    Cache,
    /// The destination already held a verified copy (no request made).
    AlreadyPresent,
}

/// The result of one successful fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchReport {
    /// Where the verified file now is.
    pub dest: PathBuf,
    /// Where it came from.
    pub origin: Origin,
    /// The URL of the successful attempt (None for cache / already present).
    pub url: Option<String>,
    /// Size of the file.
    pub size: u64,
    /// Bytes received over the network for this file (all attempts).
    pub bytes_downloaded: u64,
    /// Attempts made (0 when no request was needed).
    pub attempts: u32,
    /// Bytes of an earlier partial download that were reused (Range), if any.
    pub resumed_from: u64,
}
