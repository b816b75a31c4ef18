//! The async downloader: one reqwest client (rustls + the system CA store + extra CA
//! files, proxies from the environment, connection reuse), bounded parallelism, and the
//! public operations. The attempts themselves (retries, failover, resume, timeouts,
//! verification while writing) are in [`crate::attempt`], the cache in
//! [`crate::cache`], mirror resolution in [`crate::resolve`].

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use tokio::sync::{Semaphore, SemaphorePermit};
use url::Url;

use crate::attempt::{classify, part_path};
use crate::error::{AttemptError, FetchError};
use crate::kept::{FetchedRepomd, KeptRepomd};
use crate::progress::Progress;
use crate::request::{FetchOptions, FetchReport, FetchRequest, Origin, ProxyMode};
use crate::source::MirrorSet;
use crate::verify::Expect;

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

    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.inner.client
    }

    pub(crate) fn progress(&self) -> Option<&dyn Progress> {
        self.inner.progress.as_deref()
    }

    /// Counts `n` bytes received over the network.
    pub(crate) fn count(&self, n: u64) {
        self.inner.bytes.fetch_add(n, Ordering::Relaxed);
        if let Some(p) = self.progress() {
            p.bytes(n);
        }
    }

    /// The delay before retry number `retry` (from 1): doubling, capped.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let o = &self.inner.opts;
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        o.backoff.saturating_mul(factor).min(o.max_backoff)
    }

    /// One of the `parallel` slots for a transfer.
    pub(crate) async fn permit(&self) -> Result<SemaphorePermit<'_>, FetchError> {
        self.inner
            .sem
            .acquire()
            .await
            .map_err(|e| FetchError::Setup(e.to_string()))
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
        let _permit = self.permit().await?;
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
        let urls = Fetcher::mirror_urls(mirrors, &req.rel_path, what)?;
        let res = self
            .try_urls(&urls, &req.rel_path, what, |url| {
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

    /// Downloads several files from one mirror set, at most
    /// `options().parallel` at a time. Results are in request order.
    pub async fn fetch_many(
        &self,
        mirrors: &MirrorSet,
        reqs: &[FetchRequest],
    ) -> Vec<Result<FetchReport, FetchError>> {
        self.fetch_each(mirrors, reqs, &|_, _| {}).await
    }

    /// [`Fetcher::fetch_many`], calling `on_done(i, result)` as soon as request `i` is
    /// finished (in place and verified, or failed), while the others go on. Requests
    /// start in order. Results are in request order.
    pub async fn fetch_each(
        &self,
        mirrors: &MirrorSet,
        reqs: &[FetchRequest],
        on_done: &(dyn Fn(usize, &Result<FetchReport, FetchError>) + Sync),
    ) -> Vec<Result<FetchReport, FetchError>> {
        stream::iter(reqs.iter().enumerate())
            .map(|(i, r)| async move {
                let res = self.fetch_file(mirrors, r).await;
                on_done(i, &res);
                res
            })
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

    /// [`Fetcher::fetch_repomd`] with a conditional request when `kept` (the source's
    /// last copy) came from one of the mirrors' URLs and its validators pass the
    /// same-second guard ([`crate::Validators::conditional_ok`]): that URL is asked with
    /// `If-None-Match` / `If-Modified-Since`, and a 304 returns the kept copy, which must
    /// pass the metalink's check as a downloaded one would (else it is fetched in full).
    /// Other mirrors, and every mirror when `kept` is `None`, are asked unconditionally.
    pub async fn fetch_repomd_since(
        &self,
        mirrors: &MirrorSet,
        kept: Option<&KeptRepomd>,
    ) -> Result<FetchedRepomd, FetchError> {
        let rel = "repodata/repomd.xml";
        let what = format!("{rel} of {}", mirrors.name());
        let check = |d: &[u8]| match mirrors.repomd_check() {
            Some(ml) => ml.check(d),
            None => Ok(()),
        };
        let kept = kept.filter(|k| k.validators.conditional_ok());
        let _permit = self.permit().await?;
        let urls = Fetcher::mirror_urls(mirrors, rel, &what)?;
        let (fetched, _, _, _) = self
            .try_urls(&urls, rel, &what, |url| {
                let cond = kept.filter(|k| k.validators.url == url.as_str());
                self.attempt_repomd(url, cond, &check)
            })
            .await?;
        Ok(fetched)
    }

    /// Downloads bytes `start..start + len` of `rel` (fewer when the file ends before)
    /// from the first mirror that delivers them, into memory: an HTTP `Range` request; a
    /// server that ignores ranges is read only up to the range's end. A `file://` mirror
    /// is read in place. The bytes are not verified (the caller checks them, e.g. against
    /// a signed header); `what` names the file in errors.
    pub async fn fetch_range(
        &self,
        mirrors: &MirrorSet,
        rel: &str,
        what: &str,
        start: u64,
        len: u64,
    ) -> Result<Vec<u8>, FetchError> {
        let _permit = self.permit().await?;
        let urls = Fetcher::mirror_urls(mirrors, rel, what)?;
        let (data, _, _, _) = self
            .try_urls(&urls, rel, what, |url| self.attempt_range(url, start, len))
            .await?;
        Ok(data)
    }

    async fn fetch_bytes_checked(
        &self,
        mirrors: &MirrorSet,
        rel: &str,
        what: &str,
        size: Option<u64>,
        check: &(dyn Fn(&[u8]) -> Result<(), AttemptError> + Sync),
    ) -> Result<Vec<u8>, FetchError> {
        let _permit = self.permit().await?;
        let urls = Fetcher::mirror_urls(mirrors, rel, what)?;
        let (data, _, _, _) = self
            .try_urls(&urls, rel, what, |url| self.attempt_bytes(url, size, check))
            .await?;
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
