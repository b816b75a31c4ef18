//! The librepo download backend (cargo feature `librepo`): package files are
//! fetched by librepo (dnf's download library) through `librepo-sys`;
//! mirror resolution and small metadata still go through the pure-Rust
//! [`BlockingFetcher`], as do the checks that make a request unnecessary (a verified
//! file already in place, the download cache). Every file librepo writes is verified
//! again here against its [`Expect`] before it is renamed into place.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::blocking::{BlockingFetcher, Downloader};
use crate::error::{AttemptError, FetchError, MirrorFailure};
use crate::progress::Progress;
use crate::request::{FetchOptions, FetchReport, FetchRequest, Origin};
use crate::source::MirrorSet;
use crate::verify::{Expect, FileCheckError};
use rpm_package::digest::DigestAlgorithm;

/// A [`Downloader`] whose file downloads are done by librepo.
pub struct LibrepoDownloader {
    meta: BlockingFetcher,
    opts: FetchOptions,
    progress: Option<Arc<dyn Progress>>,
    /// Bytes of the files librepo downloaded.
    file_bytes: AtomicU64,
}

impl LibrepoDownloader {
    /// Builds the backend (and the pure-Rust fetcher used for metadata).
    pub fn new(opts: FetchOptions) -> Result<LibrepoDownloader, FetchError> {
        LibrepoDownloader::build(opts, None)
    }

    /// Like [`LibrepoDownloader::new`], reporting events to `progress` (a file's bytes
    /// are reported when librepo has finished it).
    pub fn with_progress(
        opts: FetchOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<LibrepoDownloader, FetchError> {
        LibrepoDownloader::build(opts, Some(progress))
    }

    /// [`LibrepoDownloader::new`] or [`LibrepoDownloader::with_progress`].
    pub fn build(
        opts: FetchOptions,
        progress: Option<Arc<dyn Progress>>,
    ) -> Result<LibrepoDownloader, FetchError> {
        // librepo is opened at its first use: refuse the backend before any work if it
        // cannot be.
        librepo_sys::load().map_err(|e| FetchError::BackendUnavailable {
            backend: "librepo",
            how: e.0,
        })?;
        Ok(LibrepoDownloader {
            meta: BlockingFetcher::build(opts.clone(), progress.clone())?,
            opts,
            progress,
            file_bytes: AtomicU64::new(0),
        })
    }

    fn lr_options(&self, mirrors: &MirrorSet) -> librepo_sys::Options {
        librepo_sys::Options {
            urls: mirrors.mirrors().iter().map(|u| u.to_string()).collect(),
            parallel: self.opts.parallel.max(1) as u32,
            connect_timeout_secs: self.opts.connect_timeout.as_secs().max(1) as u32,
            stall_secs: self.opts.stall_timeout.as_secs().max(1) as u32,
            ca_file: self
                .opts
                .ca_files
                .first()
                .map(|p| p.to_string_lossy().into_owned()),
        }
    }

    /// Downloads `reqs[i]` for each `i` in `todo` with librepo, calling `on_done(i, ..)`
    /// as each file is finished (verified and in place, or failed); results in `todo`
    /// order.
    fn download(
        &self,
        mirrors: &MirrorSet,
        todo: &[usize],
        reqs: &[FetchRequest],
        on_done: &(dyn Fn(usize, &Result<FetchReport, FetchError>) + Sync),
    ) -> Vec<Result<FetchReport, FetchError>> {
        if todo.is_empty() {
            return Vec::new();
        }
        let targets: Vec<librepo_sys::Target> = todo
            .iter()
            .map(|&i| {
                let r = &reqs[i];
                if let Some(p) = &self.progress {
                    p.started(r);
                }
                librepo_sys::Target {
                    relative_url: r.rel_path.clone(),
                    dest: Self::part(r),
                    sha256: r
                        .expect
                        .checksum
                        .as_ref()
                        .filter(|c| c.kind == DigestAlgorithm::Sha256)
                        .map(|c| c.hex.clone()),
                    size: r.expect.size,
                }
            })
            .collect();
        // Files from file:// mirrors are copies, not network transfers.
        let local = mirrors.mirrors().iter().all(|u| u.scheme() == "file");
        // Each file is verified and renamed into place as soon as librepo finishes it, so
        // an interrupted run keeps every complete file.
        let finished: std::sync::Mutex<Vec<Option<Result<FetchReport, FetchError>>>> =
            std::sync::Mutex::new(todo.iter().map(|_| None).collect());
        let file_done = |t: usize| {
            let res = self.finish(mirrors, &reqs[todo[t]], local);
            self.report(&reqs[todo[t]], &res);
            on_done(todo[t], &res);
            if let Ok(mut f) = finished.lock() {
                f[t] = Some(res);
            }
        };
        let results =
            librepo_sys::download_packages(&self.lr_options(mirrors), &targets, &file_done);
        let mut finished = finished.into_inner().unwrap_or_else(|e| e.into_inner());
        let results = match results {
            Ok(r) => r,
            Err(e) => todo.iter().map(|_| Err(e.clone())).collect(),
        };
        todo.iter()
            .zip(results)
            .enumerate()
            .map(|(t, (&i, res))| {
                if let Some(done) = finished[t].take() {
                    return done;
                }
                let req = &reqs[i];
                let _ = std::fs::remove_file(Self::part(req));
                let e = res
                    .err()
                    .map_or("librepo did not finish the file".into(), |e| e.0);
                let res = Err(failed(mirrors, req, AttemptError::Transfer(e)));
                self.report(req, &res);
                on_done(i, &res);
                res
            })
            .collect()
    }

    /// Tells the progress receiver how `req` ended.
    fn report(&self, req: &FetchRequest, res: &Result<FetchReport, FetchError>) {
        if let Some(p) = &self.progress {
            match res {
                Ok(r) => p.finished(req, r),
                Err(e) => p.failed(req, e),
            }
        }
    }

    /// Verifies a file librepo finished (again, ourselves: other checksum kinds, size),
    /// renames it into place and stores it in the cache.
    fn finish(
        &self,
        mirrors: &MirrorSet,
        req: &FetchRequest,
        local: bool,
    ) -> Result<FetchReport, FetchError> {
        let part = Self::part(req);
        match Expect::check_file(&req.expect, &part) {
            Ok(()) => {}
            Err(FileCheckError::Mismatch(e)) => {
                let _ = std::fs::remove_file(&part);
                return Err(failed(mirrors, req, e));
            }
            Err(FileCheckError::Io(e)) => return Err(FetchError::io(&part, e)),
        }
        std::fs::rename(&part, &req.dest).map_err(|e| FetchError::io(&req.dest, e))?;
        self.meta.store_in_cache(req);
        let size = std::fs::metadata(&req.dest).map(|m| m.len()).unwrap_or(0);
        let net = if local { 0 } else { size };
        self.file_bytes.fetch_add(net, Ordering::Relaxed);
        if let Some(p) = &self.progress {
            p.bytes(net);
        }
        Ok(FetchReport {
            dest: req.dest.clone(),
            origin: if local {
                Origin::Local
            } else {
                Origin::Network
            },
            url: None,
            size,
            bytes_downloaded: net,
            attempts: 1,
            resumed_from: 0,
        })
    }

    fn part(req: &FetchRequest) -> std::path::PathBuf {
        let mut s = req.dest.as_os_str().to_owned();
        s.push(".lrpart");
        s.into()
    }
}

fn failed(mirrors: &MirrorSet, req: &FetchRequest, error: AttemptError) -> FetchError {
    FetchError::AllMirrorsFailed {
        what: req.what(),
        rel_path: req.rel_path.clone(),
        failures: vec![MirrorFailure {
            url: mirrors
                .mirrors()
                .iter()
                .map(|u| u.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            attempts: 1,
            error,
        }],
    }
}

impl Downloader for LibrepoDownloader {
    fn metadata(&self) -> &BlockingFetcher {
        &self.meta
    }
    fn fetch_file(
        &self,
        mirrors: &MirrorSet,
        req: &FetchRequest,
    ) -> Result<FetchReport, FetchError> {
        self.fetch_many(mirrors, std::slice::from_ref(req))
            .pop()
            .unwrap_or_else(|| Err(FetchError::Setup("librepo returned no result".into())))
    }
    fn fetch_each(
        &self,
        mirrors: &MirrorSet,
        reqs: &[FetchRequest],
        on_done: &(dyn Fn(usize, &Result<FetchReport, FetchError>) + Sync),
    ) -> Vec<Result<FetchReport, FetchError>> {
        let mut results: Vec<Option<Result<FetchReport, FetchError>>> =
            reqs.iter().map(|_| None).collect();
        // Files already in place or in the cache need no request.
        let mut todo = Vec::new();
        for (i, req) in reqs.iter().enumerate() {
            if let Some(parent) = req.dest.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let res = match self.meta.local_copy(req) {
                Ok(Some(report)) => Ok(report),
                Ok(None) if mirrors.is_empty() => Err(FetchError::NoMirrors { what: req.what() }),
                Ok(None) => {
                    todo.push(i);
                    continue;
                }
                Err(e) => Err(e),
            };
            self.report(req, &res);
            on_done(i, &res);
            results[i] = Some(res);
        }
        for (i, res) in todo
            .iter()
            .zip(self.download(mirrors, &todo, reqs, on_done))
        {
            results[*i] = Some(res);
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(FetchError::Setup("no result".into()))))
            .collect()
    }
    fn bytes_downloaded(&self) -> u64 {
        self.meta.bytes_downloaded() + self.file_bytes.load(Ordering::Relaxed)
    }
}
