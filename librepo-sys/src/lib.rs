//! Thin FFI to librepo (the download library dnf uses), declared by hand for
//! the few functions a package-download backend needs (no bindgen). Only
//! compiled with the opt-in cargo feature `librepo`; without it this crate
//! is empty. Even with it nothing is linked: librepo (and glib with it) is
//! opened with dlopen by the first call that needs it ([`load`]), so the
//! commands that never download through librepo do not pay for mapping it
//! and the ~40 libraries it pulls in at every start.
//!
//! The enum values and the `LrPackageTarget` layout are those of librepo
//! 1.14 (Debian 12 `librepo-dev`), checked against its headers with a C
//! probe (`offsetof`/`sizeof`); the `layout` test re-checks what it can.
//!
//! [`download_packages`] is a small safe wrapper: it downloads relative paths
//! from a list of base URLs with librepo's own mirror failover, size and
//! checksum verification, and returns a per-target error message.

#![deny(missing_docs)]

#[cfg(feature = "librepo")]
mod ffi;

#[cfg(feature = "librepo")]
pub use ffi::*;
