//! The download cache (`--cache`): verified files kept by checksum, and the verified
//! copy already at a request's destination, both used without any request.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::attempt::check_file_async;
use crate::error::FetchError;
use crate::http::Fetcher;
use crate::request::{FetchReport, FetchRequest, Origin};
use crate::verify::Expect;

fn tmp_sibling(path: &Path) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let mut s = path.as_os_str().to_owned();
    s.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    PathBuf::from(s)
}

/// Puts `src` at `dst` atomically: a hard link if possible, else a copy.
fn link_or_copy(src: &Path, dst: &Path) -> std::io::Result<()> {
    let tmp = tmp_sibling(dst);
    if std::fs::hard_link(src, &tmp).is_err() {
        if let Err(e) = std::fs::copy(src, &tmp) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    }
    std::fs::rename(&tmp, dst).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

impl Fetcher {
    /// Where the cache keeps a file of checksum `expect.checksum`.
    fn cache_path(&self, expect: &Expect) -> Option<PathBuf> {
        let dir = self.options().cache_dir.as_ref()?;
        let sum = expect.checksum.as_ref()?;
        let hex = &sum.hex;
        Some(dir.join(sum.kind.name()).join(&hex[..2]).join(hex))
    }

    /// A verified copy of `req` without any request: the file already at `req.dest`, or
    /// the download cache's copy linked there. A copy that does not verify is removed.
    /// `None` when the file has to be downloaded.
    pub async fn local_copy(&self, req: &FetchRequest) -> Result<Option<FetchReport>, FetchError> {
        let dest = &req.dest;
        if req.expect.checksum.is_none() {
            return Ok(None);
        }
        let done = |origin| FetchReport {
            dest: dest.clone(),
            origin,
            url: None,
            size: std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0),
            bytes_downloaded: 0,
            attempts: 0,
            resumed_from: 0,
        };
        // 1. A verified copy already in place.
        if tokio::fs::try_exists(dest).await.unwrap_or(false) {
            match check_file_async(&req.expect, dest).await {
                Ok(()) => return Ok(Some(done(Origin::AlreadyPresent))),
                Err(_) => {
                    tracing::info!(dest = %dest.display(), "existing file does not verify; fetching again");
                    tokio::fs::remove_file(dest)
                        .await
                        .map_err(|e| FetchError::io(dest, e))?;
                }
            }
        }
        // 2. The cache.
        if let Some(c) = self.cache_path(&req.expect) {
            if tokio::fs::try_exists(&c).await.unwrap_or(false) {
                match check_file_async(&req.expect, &c).await {
                    Ok(()) => {
                        let (c2, d2) = (c.clone(), dest.clone());
                        tokio::task::spawn_blocking(move || link_or_copy(&c2, &d2))
                            .await
                            .map_err(|e| FetchError::Setup(e.to_string()))?
                            .map_err(|e| FetchError::io(dest, e))?;
                        return Ok(Some(done(Origin::Cache)));
                    }
                    Err(_) => {
                        tracing::warn!(cache = %c.display(), "cached file does not verify; removing it");
                        let _ = tokio::fs::remove_file(&c).await;
                    }
                }
            }
        }
        Ok(None)
    }

    /// Keeps a copy of the verified file at `req.dest` in the download cache (if one is
    /// configured). Failing to store it is only logged: the download itself succeeded.
    pub async fn store_in_cache(&self, req: &FetchRequest) {
        let Some(c) = self.cache_path(&req.expect) else {
            return;
        };
        let Some(dir) = c.parent().map(Path::to_path_buf) else {
            return;
        };
        let (d2, c2) = (req.dest.clone(), c.clone());
        let stored = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            link_or_copy(&d2, &c2)
        })
        .await;
        if let Ok(Err(e)) = stored {
            tracing::warn!(cache = %c.display(), error = %e, "cannot store in the download cache");
        }
    }
}
