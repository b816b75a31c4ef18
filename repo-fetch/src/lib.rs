//! The download layer used by `jigdo install` and `jigdo mirror`: the only crate that
//! links an HTTP client (tokio + reqwest) and, with the `librepo` feature, librepo.
//!
//! Place in the data flow: rpm-md repositories on mirrors → **repo-fetch** (verified
//! files on disk) → `jigdo-install`, which reads them with `repodata` and hands the
//! packages to `jigdo-unpack`.
//!
//! * [`Source`]: a `--from` SOURCE (directory, rpm-md dir, base URL,
//!   `mirrorlist=`, `metalink=`); [`RepoFile`] reads dnf `.repo` files into
//!   [`RepoConfig`]s with [`Vars`] substituted.
//! * [`MirrorSet`]: the ordered base URLs of one repository after resolving
//!   mirrorlists/metalinks ([`Fetcher::resolve`], [`Fetcher::resolve_repo`]).
//! * [`Fetcher`] (async) and [`BlockingFetcher`] (its blocking facade, which
//!   implements the backend trait [`Downloader`]): verified downloads with
//!   retries, failover, resume, timeouts, parallelism and a cache.
//!
//! A downloaded file is written to `DEST.part`, verified against its
//! [`Expect`] (size, checksum), and only then renamed to `DEST`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod attempt;
mod backend;
mod blocking;
mod cache;
mod error;
mod http;
#[cfg(feature = "librepo")]
mod librepo_backend;
mod metalink;
mod mirrorlist;
mod progress;
mod repofile;
mod request;
mod resolve;
mod source;
mod vars;
mod verify;

pub use backend::Backend;
pub use blocking::{BlockingFetcher, Downloader};
pub use error::{AttemptError, FetchError, MirrorFailure};
pub use http::Fetcher;
#[cfg(feature = "librepo")]
pub use librepo_backend::LibrepoDownloader;
pub use metalink::{Metalink, MetalinkFile, MetalinkParseError, MetalinkUrl, MetalinkVersion};
pub use mirrorlist::parse_mirrorlist;
pub use progress::{Counters, CountersSnapshot, Progress};
pub use repofile::{parse_repo_text, RepoConfig, RepoFile};
pub use request::{FetchOptions, FetchReport, FetchRequest, Origin, ProxyMode};
pub use resolve::mirrors_from_metalink;
pub use rpm_package::digest::{Checksum, DigestAlgorithm};
pub use source::{join_rel, MirrorSet, Source};
pub use vars::{basearch_of, Vars};
pub use verify::{hash_hex, Expect, FileCheckError};
