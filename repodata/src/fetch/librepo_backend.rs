//! The librepo download backend (cargo feature `librepo`): package files are
//! fetched by librepo (dnf's download library) through `librepo-sys`;
//! mirror resolution and small metadata still go through the pure-Rust
//! [`BlockingFetcher`]. Every file librepo writes is verified again here
//! against its [`Expect`] before it is renamed into place.

use super::blocking::{BlockingFetcher, Downloader};
use super::error::{AttemptError, FetchError, MirrorFailure};
use super::http::{FetchOptions, FetchReport, FetchRequest, Origin};
use super::repofile::RepoConfig;
use super::source::{MirrorSet, Source};
use super::verify::{Expect, FileCheckError, HashKind};

/// A [`Downloader`] whose file downloads are done by librepo.
pub struct LibrepoDownloader {
    meta: BlockingFetcher,
    opts: FetchOptions,
}

impl LibrepoDownloader {
    /// Builds the backend (and the pure-Rust fetcher used for metadata).
    pub fn new(opts: FetchOptions) -> Result<LibrepoDownloader, FetchError> {
        Ok(LibrepoDownloader {
            meta: BlockingFetcher::new(opts.clone())?,
            opts,
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
    fn resolve(&self, source: &Source) -> Result<MirrorSet, FetchError> {
        self.meta.resolve(source)
    }
    fn resolve_repo(&self, repo: &RepoConfig) -> Result<MirrorSet, FetchError> {
        self.meta.resolve_repo(repo)
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
    fn fetch_many(
        &self,
        mirrors: &MirrorSet,
        reqs: &[FetchRequest],
    ) -> Vec<Result<FetchReport, FetchError>> {
        if mirrors.is_empty() {
            return reqs
                .iter()
                .map(|r| Err(FetchError::NoMirrors { what: r.what() }))
                .collect();
        }
        let targets: Vec<librepo_sys::Target> = reqs
            .iter()
            .map(|r| librepo_sys::Target {
                relative_url: r.rel_path.clone(),
                dest: Self::part(r),
                sha256: r
                    .expect
                    .checksum
                    .as_ref()
                    .filter(|c| c.kind() == HashKind::Sha256)
                    .map(|c| c.hex().to_string()),
                size: r.expect.size,
            })
            .collect();
        for r in reqs {
            if let Some(parent) = r.dest.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
        }
        let results = match librepo_sys::download_packages(&self.lr_options(mirrors), &targets) {
            Ok(r) => r,
            Err(e) => {
                return reqs
                    .iter()
                    .map(|r| Err(failed(mirrors, r, AttemptError::Transfer(e.clone()))))
                    .collect()
            }
        };
        reqs.iter()
            .zip(results)
            .map(|(req, res)| {
                let part = Self::part(req);
                if let Err(e) = res {
                    let _ = std::fs::remove_file(&part);
                    return Err(failed(mirrors, req, AttemptError::Transfer(e)));
                }
                // Verify again ourselves (other checksum kinds, size).
                match Expect::check_file(&req.expect, &part) {
                    Ok(()) => {}
                    Err(FileCheckError::Mismatch(e)) => {
                        let _ = std::fs::remove_file(&part);
                        return Err(failed(mirrors, req, e));
                    }
                    Err(FileCheckError::Io(e)) => return Err(FetchError::io(&part, e)),
                }
                std::fs::rename(&part, &req.dest).map_err(|e| FetchError::io(&req.dest, e))?;
                let size = std::fs::metadata(&req.dest).map(|m| m.len()).unwrap_or(0);
                Ok(FetchReport {
                    dest: req.dest.clone(),
                    origin: Origin::Network,
                    url: None,
                    size,
                    bytes_downloaded: size,
                    attempts: 1,
                    resumed_from: 0,
                })
            })
            .collect()
    }
    fn fetch_bytes(
        &self,
        mirrors: &MirrorSet,
        rel: &str,
        expect: &Expect,
    ) -> Result<Vec<u8>, FetchError> {
        self.meta.fetch_bytes(mirrors, rel, expect)
    }
    fn fetch_repomd(&self, mirrors: &MirrorSet) -> Result<Vec<u8>, FetchError> {
        self.meta.fetch_repomd(mirrors)
    }
    fn bytes_downloaded(&self) -> u64 {
        self.meta.bytes_downloaded()
    }
}
