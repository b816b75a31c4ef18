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
//! * [`KeptRepomd`]: a source's last `repomd.xml` kept between runs with its validators,
//!   for the conditional request of [`Fetcher::fetch_repomd_since`] (one 304 when
//!   nothing changed).
//!
//! A downloaded file is written to `DEST.part`, verified against its
//! [`Expect`] (size, checksum), and only then renamed to `DEST`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "http")]
mod attempt;
#[cfg(feature = "http")]
mod backend;
#[cfg(feature = "http")]
mod blocking;
#[cfg(feature = "http")]
mod cache;
mod error;
#[cfg(feature = "http")]
mod http;
mod kept;
#[cfg(feature = "librepo")]
mod librepo_backend;
mod metalink;
mod mirrorlist;
mod progress;
mod repofile;
mod request;
#[cfg(feature = "http")]
mod resolve;
mod source;
mod vars;
mod verify;

#[cfg(feature = "http")]
pub use backend::Backend;
#[cfg(feature = "http")]
pub use blocking::{BlockingFetcher, Downloader};
pub use error::{AttemptError, FetchError, MirrorFailure};
#[cfg(feature = "http")]
pub use http::Fetcher;
pub use kept::{FetchedRepomd, KeptRepomd, Validators, MAX_KEPT_BYTES};
#[cfg(feature = "librepo")]
pub use librepo_backend::LibrepoDownloader;
pub use metalink::{Metalink, MetalinkFile, MetalinkParseError, MetalinkUrl, MetalinkVersion};
pub use mirrorlist::parse_mirrorlist;
pub use progress::{Counters, CountersSnapshot, Progress};
pub use repofile::{parse_repo_text, RepoConfig, RepoFile};
pub use request::{FetchOptions, FetchReport, FetchRequest, Origin, ProxyMode};
#[cfg(feature = "http")]
pub use resolve::mirrors_from_metalink;
pub use rpm_package::digest::{Checksum, DigestAlgorithm};
pub use source::{join_rel, MirrorSet, Source};
pub use vars::{basearch_of, Vars};
pub use verify::{hash_hex, Expect, FileCheckError};
