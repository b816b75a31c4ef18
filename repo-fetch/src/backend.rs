//! Choosing the download backend (`--backend http|librepo`).

use std::str::FromStr;
use std::sync::Arc;

use crate::blocking::{BlockingFetcher, Downloader};
use crate::error::FetchError;
use crate::progress::Progress;
use crate::request::FetchOptions;

/// Which library downloads package files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// Built in: tokio + reqwest (pure Rust).
    #[default]
    Http,
    /// librepo, dnf's download library (needs this crate's feature `librepo`). Mirror
    /// lists, metalinks and repository metadata still go through the built-in client;
    /// every file is verified again after librepo wrote it.
    Librepo,
}

impl Backend {
    /// Every backend's name, as [`FromStr`] reads it.
    pub const NAMES: [&'static str; 2] = ["http", "librepo"];

    /// The backend's name (`http`, `librepo`).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Http => "http",
            Backend::Librepo => "librepo",
        }
    }

    /// Builds the downloader, reporting to `progress` if given. [`Backend::Librepo`] in a
    /// build without the `librepo` feature is an error saying how to get it.
    pub fn downloader(
        self,
        opts: FetchOptions,
        progress: Option<Arc<dyn Progress>>,
    ) -> Result<Arc<dyn Downloader>, FetchError> {
        Ok(match self {
            Backend::Http => Arc::new(BlockingFetcher::build(opts, progress)?),
            #[cfg(feature = "librepo")]
            Backend::Librepo => Arc::new(crate::LibrepoDownloader::build(opts, progress)?),
            #[cfg(not(feature = "librepo"))]
            Backend::Librepo => {
                let _ = (opts, progress);
                return Err(FetchError::BackendUnavailable {
                    backend: "librepo",
                    how: "this jigdo was built without librepo (rebuild with \
                          `cargo build --release --features librepo`, which needs Debian's \
                          librepo0 where it runs)"
                        .into(),
                });
            }
        })
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = FetchError;
    fn from_str(s: &str) -> Result<Backend, FetchError> {
        match s {
            "http" => Ok(Backend::Http),
            "librepo" => Ok(Backend::Librepo),
            _ => Err(FetchError::BackendUnavailable {
                backend: "unknown",
                how: "choose http or librepo".into(),
            }),
        }
    }
}
