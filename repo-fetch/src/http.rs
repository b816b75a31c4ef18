//! The async downloader: one reqwest client (rustls + the system CA store +
//! extra CA files, proxies from the environment, connection reuse), bounded
//! parallelism, retries with exponential backoff, failover across mirrors,
//! resumable `.part` files, stall and connect timeouts, verification before
//! a file is renamed into place, and a cache of verified files.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;
use url::Url;

use super::error::{AttemptError, FetchError, MirrorFailure};
use super::metalink::Metalink;
use super::mirrorlist::parse_mirrorlist;
use super::progress::Progress;
use super::repofile::RepoConfig;
use super::source::{as_base_url, join_rel, MirrorSet, Source};
use super::vars::Vars;
use super::verify::{Expect, FileCheckError};

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

struct Inner {
    client: reqwest::Client,
    opts: FetchOptions,
    sem: Semaphore,
    bytes: AtomicU64,
    progress: Option<Arc<dyn Progress>>,
}

/// The async downloader. Cheap to clone; clones share the connection pool,
/// the parallelism limit and the byte counter.
#[derive(Clone)]
pub struct Fetcher {
    inner: Arc<Inner>,
}

/// What one successful attempt did.
#[derive(Debug, Clone, Copy, Default)]
struct AttemptInfo {
    net_bytes: u64,
    resumed_from: u64,
    local: bool,
}

fn classify(e: reqwest::Error) -> AttemptError {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    if e.is_timeout() {
        AttemptError::Timeout(msg)
    } else if e.is_connect() {
        AttemptError::Connect(msg)
    } else {
        AttemptError::Transfer(msg)
    }
}

fn part_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

fn tmp_sibling(path: &Path) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let mut s = path.as_os_str().to_owned();
    s.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    PathBuf::from(s)
}

/// Puts `src` at `dst` atomically: a hard link if possible, else a copy.
fn link_or_copy(src: &Path, dst: &Path) -> std::io::Result<()> {
    let tmp = tmp_sibling(dst);
    if std::fs::hard_link(src, &tmp).is_err() {
        if let Err(e) = std::fs::copy(src, &tmp) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    }
    std::fs::rename(&tmp, dst).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

async fn check_file_async(expect: &Expect, path: &Path) -> Result<(), FileCheckError> {
    let expect = expect.clone();
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || expect.check_file(&path))
        .await
        .unwrap_or_else(|e| Err(FileCheckError::Io(std::io::Error::other(e))))
}

fn parse_content_range_start(v: &str) -> Option<u64> {
    // "bytes START-END/TOTAL"
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (start, _) = rest.split_once('-')?;
    start.trim().parse().ok()
}

impl Fetcher {
    /// Builds the HTTP client from `opts`.
    pub fn new(opts: FetchOptions) -> Result<Fetcher, FetchError> {
        Fetcher::build(opts, None)
    }

    /// Like [`Fetcher::new`], reporting events to `progress`.
    pub fn with_progress(
        opts: FetchOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<Fetcher, FetchError> {
        Fetcher::build(opts, Some(progress))
    }

    /// [`Fetcher::new`] or [`Fetcher::with_progress`].
    pub fn build(
        mut opts: FetchOptions,
        progress: Option<Arc<dyn Progress>>,
    ) -> Result<Fetcher, FetchError> {
        opts.parallel = opts.parallel.max(1);
        let mut b = reqwest::Client::builder()
            .connect_timeout(opts.connect_timeout)
            .read_timeout(opts.stall_timeout)
            .user_agent(opts.user_agent.clone())
            .pool_max_idle_per_host(opts.parallel)
            .redirect(reqwest::redirect::Policy::limited(10));
        let mut certs = Vec::new();
        for ca in &opts.ca_files {
            let pem = std::fs::read(ca).map_err(|e| FetchError::CaCert {
                path: ca.clone(),
                reason: e.to_string(),
            })?;
            let c =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| FetchError::CaCert {
                    path: ca.clone(),
                    reason: e.to_string(),
                })?;
            if c.is_empty() {
                return Err(FetchError::CaCert {
                    path: ca.clone(),
                    reason: "no PEM certificate in the file".into(),
                });
            }
            certs.extend(c);
        }
        if !certs.is_empty() {
            b = b.tls_certs_merge(certs);
        }
        match &opts.proxy {
            ProxyMode::Environment => {}
            ProxyMode::Direct => b = b.no_proxy(),
            ProxyMode::Url(u) => {
                let p = reqwest::Proxy::all(u.as_str())
                    .map_err(|e| FetchError::Setup(format!("proxy {u}: {e}")))?;
                b = b.proxy(p);
            }
        }
        let client = b
            .build()
            .map_err(|e| FetchError::Setup(classify(e).to_string()))?;
        let sem = Semaphore::new(opts.parallel);
        Ok(Fetcher {
            inner: Arc::new(Inner {
                client,
                opts,
                sem,
                bytes: AtomicU64::new(0),
                progress,
            }),
        })
    }

    /// The options in force.
    pub fn options(&self) -> &FetchOptions {
        &self.inner.opts
    }

    /// Bytes received over the network so far by this fetcher (and clones).
    pub fn bytes_downloaded(&self) -> u64 {
        self.inner.bytes.load(Ordering::Relaxed)
    }

    fn progress(&self) -> Option<&dyn Progress> {
        self.inner.progress.as_deref()
    }

    fn count(&self, n: u64) {
        self.inner.bytes.fetch_add(n, Ordering::Relaxed);
        if let Some(p) = self.progress() {
            p.bytes(n);
        }
    }

    fn backoff(&self, retry: u32) -> Duration {
        let o = &self.inner.opts;
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        o.backoff.saturating_mul(factor).min(o.max_backoff)
    }

    /// Runs `attempt` on each mirror in order, retrying transient faults with
    /// backoff, until one succeeds. Returns its value, URL and the attempts.
    async fn try_mirrors<T, F, Fut>(
        &self,
        mirrors: &MirrorSet,
        rel: &str,
        what: &str,
        attempt: F,
    ) -> Result<(T, Url, u32, u64), FetchError>
    where
        F: Fn(Url) -> Fut,
        Fut: Future<Output = (Result<T, AttemptError>, u64)>,
    {
        if mirrors.is_empty() {
            return Err(FetchError::NoMirrors {
                what: format!("{what} ({})", mirrors.name()),
            });
        }
        let mut failures = Vec::new();
        let mut total_attempts = 0u32;
        let mut net = 0u64;
        for (mi, base) in mirrors.mirrors().iter().enumerate() {
            let url = join_rel(base, rel)?;
            let mut n = 0u32;
            loop {
                n += 1;
                total_attempts += 1;
                let (res, bytes) = attempt(url.clone()).await;
                net += bytes;
                match res {
                    Ok(v) => return Ok((v, url, total_attempts, net)),
                    Err(e) => {
                        let again = e.is_transient() && n <= self.inner.opts.retries;
                        tracing::debug!(%url, error = %e, again, "download attempt failed");
                        let more = again || mi + 1 < mirrors.mirrors().len();
                        if let (Some(p), true) = (self.progress(), more) {
                            p.retrying(what, url.as_str(), &e);
                        }
                        if again {
                            tokio::time::sleep(self.backoff(n)).await;
                            continue;
                        }
                        failures.push(MirrorFailure {
                            url: url.to_string(),
                            attempts: n,
                            error: e,
                        });
                        break;
                    }
                }
            }
        }
        Err(FetchError::AllMirrorsFailed {
            what: what.to_string(),
            rel_path: rel.to_string(),
            failures,
        })
    }

    fn cache_path(&self, expect: &Expect) -> Option<PathBuf> {
        let dir = self.inner.opts.cache_dir.as_ref()?;
        let sum = expect.checksum.as_ref()?;
        let hex = sum.hex();
        Some(dir.join(sum.kind().name()).join(&hex[..2]).join(hex))
    }

    /// A verified copy of `req` without any request: the file already at `req.dest`, or
    /// the download cache's copy linked there. A copy that does not verify is removed.
    /// `None` when the file has to be downloaded.
    pub async fn local_copy(&self, req: &FetchRequest) -> Result<Option<FetchReport>, FetchError> {
        let dest = &req.dest;
        if req.expect.checksum.is_none() {
            return Ok(None);
        }
        let done = |origin| FetchReport {
            dest: dest.clone(),
            origin,
            url: None,
            size: std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0),
            bytes_downloaded: 0,
            attempts: 0,
            resumed_from: 0,
        };
        // 1. A verified copy already in place.
        if tokio::fs::try_exists(dest).await.unwrap_or(false) {
            match check_file_async(&req.expect, dest).await {
                Ok(()) => return Ok(Some(done(Origin::AlreadyPresent))),
                Err(_) => {
                    tracing::info!(dest = %dest.display(), "existing file does not verify; fetching again");
                    tokio::fs::remove_file(dest)
                        .await
                        .map_err(|e| FetchError::io(dest, e))?;
                }
            }
        }
        // 2. The cache.
        if let Some(c) = self.cache_path(&req.expect) {
            if tokio::fs::try_exists(&c).await.unwrap_or(false) {
                match check_file_async(&req.expect, &c).await {
                    Ok(()) => {
                        let (c2, d2) = (c.clone(), dest.clone());
                        tokio::task::spawn_blocking(move || link_or_copy(&c2, &d2))
                            .await
                            .map_err(|e| FetchError::Setup(e.to_string()))?
                            .map_err(|e| FetchError::io(dest, e))?;
                        return Ok(Some(done(Origin::Cache)));
                    }
                    Err(_) => {
                        tracing::warn!(cache = %c.display(), "cached file does not verify; removing it");
                        let _ = tokio::fs::remove_file(&c).await;
                    }
                }
            }
        }
        Ok(None)
    }

    /// Keeps a copy of the verified file at `req.dest` in the download cache (if one is
    /// configured). Failing to store it is only logged: the download itself succeeded.
    pub async fn store_in_cache(&self, req: &FetchRequest) {
        let Some(c) = self.cache_path(&req.expect) else {
            return;
        };
        let Some(dir) = c.parent().map(Path::to_path_buf) else {
            return;
        };
        let (d2, c2) = (req.dest.clone(), c.clone());
        let stored = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            link_or_copy(&d2, &c2)
        })
        .await;
        if let Ok(Err(e)) = stored {
            tracing::warn!(cache = %c.display(), error = %e, "cannot store in the download cache");
        }
    }

    /// Downloads `req.rel_path` from the first mirror that delivers a copy
    /// matching `req.expect` and renames it to `req.dest`. A verified file
    /// already at `dest` or in the cache is used without any request. On
    /// failure nothing is left at `dest`.
    pub async fn fetch_file(
        &self,
        mirrors: &MirrorSet,
        req: &FetchRequest,
    ) -> Result<FetchReport, FetchError> {
        let what = req.what();
        let res = self.fetch_file_inner(mirrors, req, &what).await;
        if let Some(p) = self.progress() {
            match &res {
                Ok(r) => p.finished(req, r),
                Err(e) => p.failed(req, e),
            }
        }
        res
    }

    async fn fetch_file_inner(
        &self,
        mirrors: &MirrorSet,
        req: &FetchRequest,
        what: &str,
    ) -> Result<FetchReport, FetchError> {
        let _permit = self
            .inner
            .sem
            .acquire()
            .await
            .map_err(|e| FetchError::Setup(e.to_string()))?;
        let dest = &req.dest;
        if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| FetchError::io(parent, e))?;
        }
        if let Some(report) = self.local_copy(req).await? {
            return Ok(report);
        }
        let done = |origin, size, url: Option<&Url>, bytes, attempts, resumed| FetchReport {
            dest: dest.clone(),
            origin,
            url: url.map(|u| u.to_string()),
            size,
            bytes_downloaded: bytes,
            attempts,
            resumed_from: resumed,
        };
        let size_of = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);

        // 3. The mirrors.
        if let Some(p) = self.progress() {
            p.started(req);
        }
        let part = part_path(dest);
        let res = self
            .try_mirrors(mirrors, &req.rel_path, what, |url| {
                self.attempt_file(url, &part, &req.expect)
            })
            .await;
        let (info, url, attempts, net) = match res {
            Ok(v) => v,
            Err(e) => {
                if !self.inner.opts.keep_partial {
                    let _ = tokio::fs::remove_file(&part).await;
                }
                return Err(e);
            }
        };
        tokio::fs::rename(&part, dest)
            .await
            .map_err(|e| FetchError::io(dest, e))?;
        self.store_in_cache(req).await;
        let origin = if info.local {
            Origin::Local
        } else {
            Origin::Network
        };
        Ok(done(
            origin,
            size_of(dest),
            Some(&url),
            net,
            attempts,
            info.resumed_from,
        ))
    }

    /// One attempt at one URL into the `.part` file, then verification.
    /// Returns the result and the network bytes received.
    async fn attempt_file(
        &self,
        url: Url,
        part: &Path,
        expect: &Expect,
    ) -> (Result<AttemptInfo, AttemptError>, u64) {
        let mut info = AttemptInfo::default();
        let r = self.attempt_file_inner(&url, part, expect, &mut info).await;
        (r.map(|()| info), info.net_bytes)
    }

    async fn attempt_file_inner(
        &self,
        url: &Url,
        part: &Path,
        expect: &Expect,
        info: &mut AttemptInfo,
    ) -> Result<(), AttemptError> {
        let local_err = |e: std::io::Error| AttemptError::Local(format!("{}: {e}", part.display()));
        let mut existing = match tokio::fs::metadata(part).await {
            Ok(m) => m.len(),
            Err(_) => 0,
        };
        if expect.size.is_some_and(|s| existing > s) {
            tokio::fs::remove_file(part).await.map_err(local_err)?;
            existing = 0;
        }
        if url.scheme() == "file" {
            info.local = true;
            existing = 0;
            let src = url
                .to_file_path()
                .map_err(|()| AttemptError::Local(format!("{url}: not a local path")))?;
            let meta = tokio::fs::metadata(&src)
                .await
                .map_err(|e| AttemptError::Local(format!("{}: {e}", src.display())))?;
            if let Some(size) = expect.size {
                if meta.len() != size {
                    return Err(AttemptError::SizeMismatch {
                        expected: size,
                        got: meta.len(),
                    });
                }
            }
            tokio::fs::copy(&src, part)
                .await
                .map_err(|e| AttemptError::Local(format!("copying {}: {e}", src.display())))?;
        } else if !(existing > 0 && expect.size == Some(existing)) {
            self.download_http(url, part, existing, expect, info)
                .await?;
        }
        info.resumed_from = existing;
        match check_file_async(expect, part).await {
            Ok(()) => Ok(()),
            Err(FileCheckError::Io(e)) => Err(local_err(e)),
            Err(FileCheckError::Mismatch(e)) => {
                let _ = tokio::fs::remove_file(part).await;
                if info.resumed_from > 0 {
                    // The kept part may be what was wrong: start over here.
                    Err(AttemptError::Transfer(format!(
                        "resumed download did not verify ({e}); starting over"
                    )))
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn download_http(
        &self,
        url: &Url,
        part: &Path,
        existing: u64,
        expect: &Expect,
        info: &mut AttemptInfo,
    ) -> Result<(), AttemptError> {
        let opts = &self.inner.opts;
        let local_err = |e: std::io::Error| AttemptError::Local(format!("{}: {e}", part.display()));
        let mut rb = self.inner.client.get(url.clone());
        if existing > 0 {
            rb = rb.header(reqwest::header::RANGE, format!("bytes={existing}-"));
        }
        let wait = opts.connect_timeout + opts.stall_timeout;
        let mut resp = match tokio::time::timeout(wait, rb.send()).await {
            Err(_) => {
                return Err(AttemptError::Timeout(format!(
                    "no response within {} s",
                    wait.as_secs_f32()
                )))
            }
            Ok(r) => r.map_err(classify)?,
        };
        let status = resp.status().as_u16();
        let offset = match status {
            206 if existing > 0 => {
                let start = resp
                    .headers()
                    .get(reqwest::header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_content_range_start);
                if start != Some(existing) {
                    tokio::fs::remove_file(part).await.map_err(local_err)?;
                    return Err(AttemptError::Transfer(format!(
                        "asked for bytes from {existing}, server sent range {start:?}"
                    )));
                }
                existing
            }
            200 => 0,
            416 if existing > 0 => {
                tokio::fs::remove_file(part).await.map_err(local_err)?;
                return Err(AttemptError::Transfer(
                    "range not satisfiable; starting over".into(),
                ));
            }
            s => return Err(AttemptError::Status(s)),
        };
        if let (Some(size), Some(len)) = (expect.size, resp.content_length()) {
            if offset + len != size {
                if offset > 0 {
                    tokio::fs::remove_file(part).await.map_err(local_err)?;
                    return Err(AttemptError::Transfer(format!(
                        "resumed range ends at {} instead of {size}; starting over",
                        offset + len
                    )));
                }
                return Err(AttemptError::SizeMismatch {
                    expected: size,
                    got: len,
                });
            }
        }
        let file = if offset > 0 {
            tokio::fs::OpenOptions::new()
                .append(true)
                .open(part)
                .await
                .map_err(local_err)?
        } else {
            tokio::fs::File::create(part).await.map_err(local_err)?
        };
        let mut w = tokio::io::BufWriter::with_capacity(256 << 10, file);
        let mut received = 0u64;
        let result = loop {
            let chunk = match tokio::time::timeout(opts.stall_timeout, resp.chunk()).await {
                Err(_) => {
                    break Err(AttemptError::Timeout(format!(
                        "no data for {} s after {received} bytes",
                        opts.stall_timeout.as_secs_f32()
                    )))
                }
                Ok(Err(e)) => break Err(classify(e)),
                Ok(Ok(None)) => break Ok(()),
                Ok(Ok(Some(c))) => c,
            };
            let n = chunk.len() as u64;
            received += n;
            info.net_bytes += n;
            self.count(n);
            if let Some(size) = expect.size {
                if offset + received > size {
                    drop(w);
                    let _ = tokio::fs::remove_file(part).await;
                    return Err(AttemptError::SizeMismatch {
                        expected: size,
                        got: offset + received,
                    });
                }
            }
            if let Err(e) = w.write_all(&chunk).await {
                break Err(local_err(e));
            }
        };
        // Keep what arrived, even after an error, so the next attempt resumes.
        w.flush().await.map_err(local_err)?;
        result?;
        if let Some(len) = resp.content_length() {
            if received < len {
                return Err(AttemptError::Transfer(format!(
                    "body ended after {received} of {len} bytes"
                )));
            }
        }
        Ok(())
    }

    /// Downloads several files from one mirror set, at most
    /// `options().parallel` at a time. Results are in request order.
    pub async fn fetch_many(
        &self,
        mirrors: &MirrorSet,
        reqs: &[FetchRequest],
    ) -> Vec<Result<FetchReport, FetchError>> {
        stream::iter(reqs)
            .map(|r| self.fetch_file(mirrors, r))
            .buffered(self.inner.opts.parallel)
            .collect()
            .await
    }

    /// Downloads a small file into memory (repomd.xml, a mirrorlist …) from
    /// the first mirror whose copy matches `expect`.
    pub async fn fetch_bytes(
        &self,
        mirrors: &MirrorSet,
        rel: &str,
        expect: &Expect,
    ) -> Result<Vec<u8>, FetchError> {
        self.fetch_bytes_checked(mirrors, rel, rel, expect.size, &|d: &[u8]| {
            expect.check_bytes(d)
        })
        .await
    }

    /// Downloads `repodata/repomd.xml`; with a metalink, its size and
    /// checksum must match the metalink (current or an alternate), and a
    /// mirror serving another copy is skipped.
    pub async fn fetch_repomd(&self, mirrors: &MirrorSet) -> Result<Vec<u8>, FetchError> {
        let rel = "repodata/repomd.xml";
        let what = format!("{rel} of {}", mirrors.name());
        match mirrors.repomd_check() {
            Some(ml) => {
                self.fetch_bytes_checked(mirrors, rel, &what, None, &|d: &[u8]| ml.check(d))
                    .await
            }
            None => {
                self.fetch_bytes_checked(mirrors, rel, &what, None, &|_: &[u8]| Ok(()))
                    .await
            }
        }
    }

    async fn fetch_bytes_checked(
        &self,
        mirrors: &MirrorSet,
        rel: &str,
        what: &str,
        size: Option<u64>,
        check: &(dyn Fn(&[u8]) -> Result<(), AttemptError> + Sync),
    ) -> Result<Vec<u8>, FetchError> {
        let _permit = self
            .inner
            .sem
            .acquire()
            .await
            .map_err(|e| FetchError::Setup(e.to_string()))?;
        let (data, _, _, _) = self
            .try_mirrors(mirrors, rel, what, |url| {
                self.attempt_bytes(url, size, check)
            })
            .await?;
        Ok(data)
    }

    async fn attempt_bytes(
        &self,
        url: Url,
        size: Option<u64>,
        check: &(dyn Fn(&[u8]) -> Result<(), AttemptError> + Sync),
    ) -> (Result<Vec<u8>, AttemptError>, u64) {
        let mut net = 0u64;
        let r = self.attempt_bytes_inner(&url, size, &mut net).await;
        (r.and_then(|d| check(&d).map(|()| d)), net)
    }

    async fn attempt_bytes_inner(
        &self,
        url: &Url,
        size: Option<u64>,
        net: &mut u64,
    ) -> Result<Vec<u8>, AttemptError> {
        let opts = &self.inner.opts;
        let max = size
            .unwrap_or(opts.max_bytes_in_memory)
            .min(opts.max_bytes_in_memory);
        if url.scheme() == "file" {
            let p = url
                .to_file_path()
                .map_err(|()| AttemptError::Local(format!("{url}: not a local path")))?;
            let meta = tokio::fs::metadata(&p)
                .await
                .map_err(|e| AttemptError::Local(format!("{}: {e}", p.display())))?;
            if meta.len() > max {
                return Err(AttemptError::TooLarge(max));
            }
            return tokio::fs::read(&p)
                .await
                .map_err(|e| AttemptError::Local(format!("{}: {e}", p.display())));
        }
        let wait = opts.connect_timeout + opts.stall_timeout;
        let mut resp =
            match tokio::time::timeout(wait, self.inner.client.get(url.clone()).send()).await {
                Err(_) => {
                    return Err(AttemptError::Timeout(format!(
                        "no response within {} s",
                        wait.as_secs_f32()
                    )))
                }
                Ok(r) => r.map_err(classify)?,
            };
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(AttemptError::Status(status));
        }
        if resp.content_length().is_some_and(|l| l > max) {
            return Err(AttemptError::TooLarge(max));
        }
        let mut data = Vec::new();
        loop {
            match tokio::time::timeout(opts.stall_timeout, resp.chunk()).await {
                Err(_) => {
                    return Err(AttemptError::Timeout(format!(
                        "no data for {} s after {} bytes",
                        opts.stall_timeout.as_secs_f32(),
                        data.len()
                    )))
                }
                Ok(Err(e)) => return Err(classify(e)),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(c))) => {
                    *net += c.len() as u64;
                    self.count(c.len() as u64);
                    if data.len() as u64 + c.len() as u64 > max {
                        return Err(AttemptError::TooLarge(max));
                    }
                    data.extend_from_slice(&c);
                }
            }
        }
        if let Some(len) = resp.content_length() {
            if (data.len() as u64) < len {
                return Err(AttemptError::Transfer(format!(
                    "body ended after {} of {len} bytes",
                    data.len()
                )));
            }
        }
        Ok(data)
    }

    /// Fetches one exact URL (query kept) into memory, with retries.
    async fn fetch_url(&self, url: &Url, what: &str) -> Result<Vec<u8>, FetchError> {
        let _permit = self
            .inner
            .sem
            .acquire()
            .await
            .map_err(|e| FetchError::Setup(e.to_string()))?;
        let mut failures = Vec::new();
        let mut n = 0;
        loop {
            n += 1;
            let (res, _) = self
                .attempt_bytes(url.clone(), None, &|_: &[u8]| Ok(()))
                .await;
            match res {
                Ok(d) => return Ok(d),
                Err(e) => {
                    if e.is_transient() && n <= self.inner.opts.retries {
                        if let Some(p) = self.progress() {
                            p.retrying(what, url.as_str(), &e);
                        }
                        tokio::time::sleep(self.backoff(n)).await;
                        continue;
                    }
                    failures.push(MirrorFailure {
                        url: url.to_string(),
                        attempts: n,
                        error: e,
                    });
                    return Err(FetchError::AllMirrorsFailed {
                        what: what.to_string(),
                        rel_path: String::new(),
                        failures,
                    });
                }
            }
        }
    }

    /// Resolves a source to its ordered mirrors: a base URL or local
    /// repository as is; a mirrorlist or metalink by downloading and parsing
    /// it (metalink preference order; its repomd.xml checks are kept in the
    /// set). Variables from the options are substituted in the URLs.
    pub async fn resolve(&self, source: &Source) -> Result<MirrorSet, FetchError> {
        match source {
            Source::BaseUrl(_) | Source::LocalRepo(_) => {
                source
                    .static_mirrors()
                    .ok_or_else(|| FetchError::NoMirrors {
                        what: source.to_string(),
                    })
            }
            Source::RpmDir(p) => Err(FetchError::BadSource {
                spec: p.display().to_string(),
                reason: "a directory of RPMs has no repodata and no mirrors".into(),
            }),
            Source::Mirrorlist(url) => {
                let data = self.fetch_url(url, &format!("mirrorlist {url}")).await?;
                if looks_like_metalink(&data) {
                    return self.metalink_set(url, &data);
                }
                let text = String::from_utf8_lossy(&data);
                let vars = &self.inner.opts.vars;
                let mut set = MirrorSet::new(source.to_string(), Vec::new());
                for line in parse_mirrorlist(&text) {
                    match Url::parse(&vars.substitute(&line)) {
                        Ok(u) if matches!(u.scheme(), "http" | "https" | "file") => set.push(u),
                        _ => tracing::debug!(%line, "skipping unsupported mirrorlist entry"),
                    }
                }
                if set.is_empty() {
                    return Err(FetchError::Mirrorlist {
                        url: url.to_string(),
                        reason: "no usable http, https or file URL in it".into(),
                    });
                }
                Ok(set)
            }
            Source::Metalink(url) => {
                let data = self.fetch_url(url, &format!("metalink {url}")).await?;
                self.metalink_set(url, &data)
            }
        }
    }

    fn metalink_set(&self, url: &Url, data: &[u8]) -> Result<MirrorSet, FetchError> {
        mirrors_from_metalink(url.as_str(), data, &self.inner.opts.vars)
    }

    /// Resolves a `.repo` section: its base URLs first, then the mirrors of
    /// its metalink (or else its mirrorlist). A failing metalink/mirrorlist
    /// is only an error when no base URL is left.
    pub async fn resolve_repo(&self, repo: &RepoConfig) -> Result<MirrorSet, FetchError> {
        let mut set = repo.base_mirrors();
        let extra = if let Some(m) = &repo.metalink {
            Some(Source::parse(&format!("metalink={m}")))
        } else {
            repo.mirrorlist
                .as_ref()
                .map(|m| Source::parse(&format!("mirrorlist={m}")))
        };
        let mut last_err = None;
        if let Some(src) = extra {
            match src {
                Ok(src) => match self.resolve(&src).await {
                    Ok(more) => set.extend(more),
                    Err(e) => last_err = Some(e),
                },
                Err(e) => last_err = Some(e),
            }
        }
        if set.is_empty() {
            return Err(last_err.unwrap_or(FetchError::NoMirrors {
                what: format!("repository {} ({})", repo.id, repo.file.display()),
            }));
        }
        if let Some(e) = last_err {
            tracing::warn!(repo = %repo.id, error = %e, "using base URLs only");
        }
        Ok(set)
    }
}

fn looks_like_metalink(data: &[u8]) -> bool {
    let head = &data[..data.len().min(512)];
    head.windows(9).any(|w| w == b"<metalink")
}

/// Builds the mirror set of a metalink document fetched from `origin`: the
/// `repomd.xml` URLs of supported schemes in preference order, turned into
/// base URLs (without `repodata/repomd.xml`), and the entry's checks.
pub fn mirrors_from_metalink(
    origin: &str,
    data: &[u8],
    vars: &Vars,
) -> Result<MirrorSet, FetchError> {
    let err = |reason: String| FetchError::Metalink {
        url: origin.to_string(),
        reason,
    };
    let ml = Metalink::parse(data).map_err(|e| err(e.to_string()))?;
    let file = ml
        .file("repomd.xml")
        .ok_or_else(|| err("no entry for repomd.xml".into()))?;
    let mut set = MirrorSet::new(format!("metalink={origin}"), Vec::new());
    for u in file.urls_by_preference() {
        let text = vars.substitute(&u.url);
        let Ok(url) = Url::parse(&text) else {
            tracing::debug!(url = %text, "skipping unparsable metalink URL");
            continue;
        };
        if !matches!(url.scheme(), "http" | "https" | "file") {
            continue;
        }
        let path = url.path();
        let Some(base) = path.strip_suffix("repodata/repomd.xml") else {
            tracing::debug!(%url, "skipping metalink URL not ending in repodata/repomd.xml");
            continue;
        };
        let mut b = url.clone();
        b.set_path(base);
        b.set_query(None);
        b.set_fragment(None);
        set.push(as_base_url(b));
    }
    if set.is_empty() {
        return Err(err(
            "no usable http, https or file URL for repomd.xml".into()
        ));
    }
    if file.has_checks() {
        set.set_repomd_check(Some(file.clone()));
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range() {
        assert_eq!(parse_content_range_start("bytes 100-199/200"), Some(100));
        assert_eq!(parse_content_range_start("bytes */200"), None);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let f = Fetcher::new(FetchOptions {
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            ..FetchOptions::default()
        })
        .unwrap();
        assert_eq!(f.backoff(1), Duration::from_millis(100));
        assert_eq!(f.backoff(2), Duration::from_millis(200));
        assert_eq!(f.backoff(3), Duration::from_millis(350));
        assert_eq!(f.backoff(40), Duration::from_millis(350));
    }

    #[test]
    fn part_names() {
        assert_eq!(
            part_path(Path::new("/a/b.rpm")),
            PathBuf::from("/a/b.rpm.part")
        );
    }
}
