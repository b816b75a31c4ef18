//! The download backend of `jigdo install` and `jigdo mirror` (`--backend`).

use std::sync::Arc;

use repo_fetch::{BlockingFetcher, Downloader, FetchOptions, Progress};

/// Which library downloads package files.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// Built in: tokio + reqwest (pure Rust).
    #[default]
    Http,
    /// librepo, dnf's download library (needs a jigdo built with the cargo feature
    /// `librepo`). Mirror lists, metalinks and repository metadata still go through the
    /// built-in client; every file is verified again after librepo wrote it.
    Librepo,
}

/// Builds the downloader for `backend`, reporting to `progress` if given.
pub fn downloader(
    backend: Backend,
    opts: FetchOptions,
    progress: Option<Arc<dyn Progress>>,
) -> anyhow::Result<Arc<dyn Downloader>> {
    Ok(match backend {
        Backend::Http => match progress {
            Some(p) => Arc::new(BlockingFetcher::with_progress(opts, p)?),
            None => Arc::new(BlockingFetcher::new(opts)?),
        },
        #[cfg(feature = "librepo")]
        Backend::Librepo => match progress {
            Some(p) => Arc::new(repo_fetch::LibrepoDownloader::with_progress(opts, p)?),
            None => Arc::new(repo_fetch::LibrepoDownloader::new(opts)?),
        },
        #[cfg(not(feature = "librepo"))]
        Backend::Librepo => {
            let _ = (opts, progress);
            anyhow::bail!(
                "--backend librepo: this jigdo was built without librepo \
                 (rebuild with `cargo build --release --features librepo`, which needs \
                 Debian's librepo-dev)"
            )
        }
    })
}
