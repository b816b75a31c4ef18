//! A blocking facade over [`Fetcher`] for synchronous CLI code, and the
//! [`Downloader`] trait that a second backend (librepo) can implement.

use std::sync::Arc;

use crate::error::FetchError;
use crate::http::Fetcher;
use crate::kept::{FetchedRepomd, KeptRepomd};
use crate::progress::Progress;
use crate::repofile::RepoConfig;
use crate::request::{FetchOptions, FetchReport, FetchRequest};
use crate::source::{MirrorSet, Source};
use crate::verify::Expect;

/// A download backend with a blocking interface. [`BlockingFetcher`] (pure
/// Rust: tokio + reqwest) is the default; [`crate::LibrepoDownloader`] downloads package
/// files with librepo. Mirror resolution and small metadata always go through a
/// [`BlockingFetcher`] ([`Downloader::metadata`]).
pub trait Downloader: Send + Sync {
    /// The fetcher of mirror lists, metalinks and small metadata.
    fn metadata(&self) -> &BlockingFetcher;
    /// Downloads and verifies one file (see [`Fetcher::fetch_file`]).
    fn fetch_file(
        &self,
        mirrors: &MirrorSet,
        req: &FetchRequest,
    ) -> Result<FetchReport, FetchError>;
    /// [`Downloader::fetch_file`] of a file whose first bytes the caller already has
    /// (`head`, e.g. read with [`Downloader::fetch_range`]): they are put where an
    /// interrupted download resumes from, so that only the rest is asked for (a `Range`
    /// request); the whole file, those bytes included, is verified against `req.expect`
    /// as always (and fetched whole again if it does not verify). Every backend fetches
    /// the rest with the built-in client.
    fn fetch_file_after(
        &self,
        mirrors: &MirrorSet,
        req: &FetchRequest,
        head: &[u8],
    ) -> Result<FetchReport, FetchError> {
        let part = crate::attempt::part_path(&req.dest);
        let kept = std::fs::metadata(&part).map_or(0, |m| m.len());
        let fits = req.expect.size.is_none_or(|s| head.len() as u64 <= s);
        if !head.is_empty() && fits && (head.len() as u64) > kept && !req.dest.exists() {
            if let Err(e) = std::fs::write(&part, head) {
                // Only a lost saving: the file is downloaded whole.
                tracing::debug!(path = %part.display(), error = %e, "cannot keep the start read");
                let _ = std::fs::remove_file(&part);
            }
        }
        self.metadata().fetch_file(mirrors, req)
    }
    /// Downloads several files in parallel; results in request order.
    fn fetch_many(
        &self,
        mirrors: &MirrorSet,
        reqs: &[FetchRequest],
    ) -> Vec<Result<FetchReport, FetchError>> {
        self.fetch_each(mirrors, reqs, &|_, _| {})
    }
    /// [`Downloader::fetch_many`], calling `on_done(i, result)` as soon as request `i`
    /// is finished (in place and verified, or failed) while the others go on, from
    /// whichever thread finished it; results in request order.
    fn fetch_each(
        &self,
        mirrors: &MirrorSet,
        reqs: &[FetchRequest],
        on_done: &(dyn Fn(usize, &Result<FetchReport, FetchError>) + Sync),
    ) -> Vec<Result<FetchReport, FetchError>>;
    /// Bytes received over the network so far.
    fn bytes_downloaded(&self) -> u64;

    /// Resolves a SOURCE to its ordered mirrors (see [`Fetcher::resolve`]).
    fn resolve(&self, source: &Source) -> Result<MirrorSet, FetchError> {
        let m = self.metadata();
        m.rt.block_on(m.fetcher.resolve(source))
    }
    /// Resolves a `.repo` section (see [`Fetcher::resolve_repo`]).
    fn resolve_repo(&self, repo: &RepoConfig) -> Result<MirrorSet, FetchError> {
        let m = self.metadata();
        m.rt.block_on(m.fetcher.resolve_repo(repo))
    }
    /// Downloads a small file into memory.
    fn fetch_bytes(
        &self,
        mirrors: &MirrorSet,
        rel: &str,
        expect: &Expect,
    ) -> Result<Vec<u8>, FetchError> {
        let m = self.metadata();
        m.rt.block_on(m.fetcher.fetch_bytes(mirrors, rel, expect))
    }
    /// Downloads bytes `start..start + len` of `rel`, unverified, into memory (see
    /// [`Fetcher::fetch_range`]). Every backend reads ranges with the built-in client, as
    /// it reads the other metadata: the start of a jigdo RPM is what `install --check`
    /// reads of it.
    fn fetch_range(
        &self,
        mirrors: &MirrorSet,
        rel: &str,
        what: &str,
        start: u64,
        len: u64,
    ) -> Result<Vec<u8>, FetchError> {
        let m = self.metadata();
        m.rt.block_on(m.fetcher.fetch_range(mirrors, rel, what, start, len))
    }
    /// Downloads `repodata/repomd.xml`, checked against a metalink if any.
    fn fetch_repomd(&self, mirrors: &MirrorSet) -> Result<Vec<u8>, FetchError> {
        let m = self.metadata();
        m.rt.block_on(m.fetcher.fetch_repomd(mirrors))
    }
    /// Downloads `repodata/repomd.xml` conditionally on the source's kept copy (see
    /// [`Fetcher::fetch_repomd_since`]); every backend fetches metadata this way.
    fn fetch_repomd_since(
        &self,
        mirrors: &MirrorSet,
        kept: Option<&KeptRepomd>,
    ) -> Result<FetchedRepomd, FetchError> {
        let m = self.metadata();
        m.rt.block_on(m.fetcher.fetch_repomd_since(mirrors, kept))
    }
}

/// [`Fetcher`] with its own tokio runtime. Do not call it from inside an
/// async runtime (use [`Fetcher`] there).
pub struct BlockingFetcher {
    rt: tokio::runtime::Runtime,
    fetcher: Fetcher,
}

impl BlockingFetcher {
    /// Builds the client and a small multi-threaded runtime.
    pub fn new(opts: FetchOptions) -> Result<BlockingFetcher, FetchError> {
        BlockingFetcher::build(opts, None)
    }

    /// Like [`BlockingFetcher::new`], reporting events to `progress`.
    pub fn with_progress(
        opts: FetchOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<BlockingFetcher, FetchError> {
        BlockingFetcher::build(opts, Some(progress))
    }

    /// [`BlockingFetcher::new`] or [`BlockingFetcher::with_progress`].
    pub fn build(
        opts: FetchOptions,
        progress: Option<Arc<dyn Progress>>,
    ) -> Result<BlockingFetcher, FetchError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("jigdo-fetch")
            .build()
            .map_err(|e| FetchError::Setup(format!("tokio runtime: {e}")))?;
        // Build the client inside the runtime context (hyper may need it).
        let fetcher = {
            let _g = rt.enter();
            Fetcher::build(opts, progress)?
        };
        Ok(BlockingFetcher { rt, fetcher })
    }

    /// The async fetcher inside.
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// Blocking [`Fetcher::local_copy`]: a verified copy already at the destination or in
    /// the download cache, without any request.
    pub fn local_copy(&self, req: &FetchRequest) -> Result<Option<FetchReport>, FetchError> {
        self.rt.block_on(self.fetcher.local_copy(req))
    }

    /// Blocking [`Fetcher::store_in_cache`].
    pub fn store_in_cache(&self, req: &FetchRequest) {
        self.rt.block_on(self.fetcher.store_in_cache(req))
    }
}

impl Downloader for BlockingFetcher {
    fn metadata(&self) -> &BlockingFetcher {
        self
    }
    fn fetch_file(
        &self,
        mirrors: &MirrorSet,
        req: &FetchRequest,
    ) -> Result<FetchReport, FetchError> {
        self.rt.block_on(self.fetcher.fetch_file(mirrors, req))
    }
    fn fetch_each(
        &self,
        mirrors: &MirrorSet,
        reqs: &[FetchRequest],
        on_done: &(dyn Fn(usize, &Result<FetchReport, FetchError>) + Sync),
    ) -> Vec<Result<FetchReport, FetchError>> {
        self.rt
            .block_on(self.fetcher.fetch_each(mirrors, reqs, on_done))
    }
    fn bytes_downloaded(&self) -> u64 {
        self.fetcher.bytes_downloaded()
    }
}
