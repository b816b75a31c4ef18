//! The consumer workflow of ostree-jigdo, behind one call each: options in, typed
//! progress events out.
//!
//! Place in the data flow: rpm-md repositories (`repodata`, downloaded by `repo-fetch`)
//! → **jigdo-install** (choose the jigdo RPM, decide what is needed, download and verify
//! it) → `jigdo-unpack` (jigdo RPM + package files → the exact commit) → `ostree-store`;
//! then the real `ostree` deploys. The `jigdo` command line only parses arguments and
//! prints [`Event`]s and reports.
//!
//! - [`install()`]: `jigdo install` ([`InstallOptions`] → [`InstallReport`]). The jigdo
//!   RPM is read once, the plan made once, and every package is hashed once: downloads
//!   are verified while they are fetched and handed to the unpack as verified files.
//! - [`unpack_local()`]: `jigdo unpack` of local files with the same trust step.
//! - [`check()`]: `jigdo install --check` ([`InstallOptions`] → [`CheckReport`]): is a
//!   newer commit available, and what would the update download; writes nothing.
//! - [`mirror()`]: `jigdo mirror` ([`MirrorOptions`] → [`MirrorReport`]).
//! - [`Repos`]: the sources of a run ([`SourceSpec`], [`source_specs`]), tried in order.
//! - [`TrustPolicy`]: the trust step, run before any package is fetched and anything
//!   is written: one link of the chain of trust (signed repomd.xml, the jigdo RPM's
//!   signature, the commit's GPG or ed25519 signature) must verify with a configured
//!   key, or `--nogpgcheck`; the same rule for every way a jigdo RPM arrives.
//! - [`Deployment`] / [`deploy()`]: `ostree pull-local` into a sysroot and
//!   `ostree admin deploy`, with the real `ostree`.
//! - [`status()`]: `jigdo status` (refs, install records, deployments of a sysroot);
//!   [`diff()`]: `jigdo diff` (packages and files between two commits, offline from the
//!   install records).
//! - [`InstallError`]: typed errors, nothing flattened into text.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod check;
pub mod deploy;
pub mod diff;
pub mod error;
pub mod event;
pub mod install;
pub mod local;
pub mod mirror;
pub mod sources;
pub mod status;
pub mod trust;

pub use check::{check, CheckReport};
pub use deploy::{deploy, Deployment};
pub use diff::{diff, DiffOptions, DiffReport};
pub use error::{InstallError, PinAttempt, PinFailure, TrustFailure};
pub use event::{Event, EventSink};
pub use install::{install, InstallOptions, InstallReport};
pub use local::{apply_delta_local, unpack_local, LocalDeltaReport, LocalUnpackReport};
pub use mirror::{mirror, MirrorOptions, MirrorReport};
pub use repo_fetch::{AttemptError, Backend, FetchOptions, Origin};
pub use sources::{source_specs, FetchedPin, Found, Location, Repo, Repos, SourceSpec};
pub use status::{status, StatusReport};
pub use trust::{JigdoOrigin, Link, TrustPolicy, TrustReport, Verified};
