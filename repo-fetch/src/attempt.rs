//! The one attempt path. Every download — a file into its `.part`, small metadata into
//! memory, a mirror list — is a run of attempts made by [`Fetcher::try_urls`]: retries
//! with backoff after transient faults, then the next URL. An attempt at a `file://` URL
//! reads the file; an attempt at an HTTP URL sends one GET ([`Fetcher::send`]) and reads
//! its body chunk by chunk ([`Fetcher::next_chunk`], with the stall timeout). A file's
//! bytes are checked against its [`Expect`] as they are written, so a download is hashed
//! once, while it arrives.

use std::future::Future;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;
use url::Url;

use crate::error::{AttemptError, FetchError, MirrorFailure};
use crate::http::Fetcher;
use crate::kept::{FetchedRepomd, KeptRepomd, Validators};
use crate::source::{join_rel, MirrorSet};
use crate::verify::{Expect, FileCheckError, StreamCheck};

/// What one successful attempt at a file did.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AttemptInfo {
    /// Bytes received over the network.
    pub(crate) net_bytes: u64,
    /// Bytes of an earlier partial download that were reused.
    pub(crate) resumed_from: u64,
    /// Copied from a `file://` URL.
    pub(crate) local: bool,
}

/// Turns a reqwest error (with its causes) into an attempt error of the right kind.
pub(crate) fn classify(e: reqwest::Error) -> AttemptError {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    if e.is_timeout() {
        AttemptError::Timeout(msg)
    } else if e.is_connect() {
        AttemptError::Connect(msg)
    } else {
        AttemptError::Transfer(msg)
    }
}

/// Where a download of `dest` is written until it is verified: `DEST.part`.
pub(crate) fn part_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

fn parse_content_range_start(v: &str) -> Option<u64> {
    // "bytes START-END/TOTAL"
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (start, _) = rest.split_once('-')?;
    start.trim().parse().ok()
}

/// The local path of a `file://` URL.
fn local_path(url: &Url) -> Result<PathBuf, AttemptError> {
    url.to_file_path()
        .map_err(|()| AttemptError::Local(format!("{url}: not a local path")))
}

fn local_err(path: &Path) -> impl Fn(std::io::Error) -> AttemptError + '_ {
    move |e| AttemptError::Local(format!("{}: {e}", path.display()))
}

/// Copies `src` to `part`, feeding every byte to `check` on the way (one read).
fn copy_checked(src: &Path, part: &Path, check: &mut StreamCheck) -> Result<(), AttemptError> {
    let mut r = std::fs::File::open(src).map_err(local_err(src))?;
    let f = std::fs::File::create(part).map_err(local_err(part))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(local_err(src)(e)),
        };
        check.update(&buf[..n]);
        w.write_all(&buf[..n]).map_err(local_err(part))?;
    }
    w.flush().map_err(local_err(part))
}

impl Fetcher {
    /// Runs `attempt` on each URL in order, retrying transient faults with backoff, until
    /// one succeeds. Returns its value, URL, the attempts made and the network bytes of
    /// all attempts. `rel` and `what` name the file in errors and progress.
    pub(crate) async fn try_urls<T, F, Fut>(
        &self,
        urls: &[Url],
        rel: &str,
        what: &str,
        attempt: F,
    ) -> Result<(T, Url, u32, u64), FetchError>
    where
        F: Fn(Url) -> Fut,
        Fut: Future<Output = (Result<T, AttemptError>, u64)>,
    {
        let mut failures = Vec::new();
        let mut total_attempts = 0u32;
        let mut net = 0u64;
        for (i, url) in urls.iter().enumerate() {
            let mut n = 0u32;
            loop {
                n += 1;
                total_attempts += 1;
                let (res, bytes) = attempt(url.clone()).await;
                net += bytes;
                let e = match res {
                    Ok(v) => return Ok((v, url.clone(), total_attempts, net)),
                    Err(e) => e,
                };
                let again = e.is_transient() && n <= self.options().retries;
                tracing::debug!(%url, error = %e, again, "download attempt failed");
                if let (Some(p), true) = (self.progress(), again || i + 1 < urls.len()) {
                    p.retrying(what, url.as_str(), &e);
                }
                if again {
                    tokio::time::sleep(self.backoff(n)).await;
                    continue;
                }
                failures.push(MirrorFailure {
                    url: url.to_string(),
                    attempts: n,
                    error: e,
                });
                break;
            }
        }
        Err(FetchError::AllMirrorsFailed {
            what: what.to_string(),
            rel_path: rel.to_string(),
            failures,
        })
    }

    /// The URLs of `rel` beneath each mirror of `mirrors`, for [`Fetcher::try_urls`].
    pub(crate) fn mirror_urls(
        mirrors: &MirrorSet,
        rel: &str,
        what: &str,
    ) -> Result<Vec<Url>, FetchError> {
        if mirrors.is_empty() {
            return Err(FetchError::NoMirrors {
                what: format!("{what} ({})", mirrors.name()),
            });
        }
        mirrors
            .mirrors()
            .iter()
            .map(|base| join_rel(base, rel))
            .collect()
    }

    /// Sends a GET for `url` (from byte `from` on, when not 0), waiting at most the
    /// connect and stall timeouts for the response.
    async fn send(&self, url: &Url, from: u64) -> Result<reqwest::Response, AttemptError> {
        self.send_if(url, from, None).await
    }

    /// [`Fetcher::send`], conditional on `cond` when given (`If-None-Match` with its
    /// ETag, `If-Modified-Since` with its Last-Modified).
    async fn send_if(
        &self,
        url: &Url,
        from: u64,
        cond: Option<&Validators>,
    ) -> Result<reqwest::Response, AttemptError> {
        let opts = self.options();
        let mut rb = self.client().get(url.clone());
        if from > 0 {
            rb = rb.header(reqwest::header::RANGE, format!("bytes={from}-"));
        }
        if let Some(v) = cond {
            if let Some(etag) = &v.etag {
                rb = rb.header(reqwest::header::IF_NONE_MATCH, etag.as_str());
            }
            if let Some(lm) = &v.last_modified {
                rb = rb.header(reqwest::header::IF_MODIFIED_SINCE, lm.as_str());
            }
        }
        let wait = opts.connect_timeout + opts.stall_timeout;
        match tokio::time::timeout(wait, rb.send()).await {
            Err(_) => Err(AttemptError::Timeout(format!(
                "no response within {} s",
                wait.as_secs_f32()
            ))),
            Ok(r) => r.map_err(classify),
        }
    }

    /// The next chunk of a body (counted as downloaded), `None` at its end; a stall
    /// timeout after `received` bytes.
    async fn next_chunk(
        &self,
        resp: &mut reqwest::Response,
        received: u64,
    ) -> Result<Option<bytes::Bytes>, AttemptError> {
        let stall = self.options().stall_timeout;
        match tokio::time::timeout(stall, resp.chunk()).await {
            Err(_) => Err(AttemptError::Timeout(format!(
                "no data for {} s after {received} bytes",
                stall.as_secs_f32()
            ))),
            Ok(Err(e)) => Err(classify(e)),
            Ok(Ok(chunk)) => {
                if let Some(c) = &chunk {
                    self.count(c.len() as u64);
                }
                Ok(chunk)
            }
        }
    }

    /// One attempt at one URL into the `.part` file, verified as it is written.
    /// Returns the result and the network bytes received.
    pub(crate) async fn attempt_file(
        &self,
        url: Url,
        part: &Path,
        expect: &Expect,
    ) -> (Result<AttemptInfo, AttemptError>, u64) {
        let mut info = AttemptInfo::default();
        let r = self.attempt_file_inner(&url, part, expect, &mut info).await;
        (r.map(|()| info), info.net_bytes)
    }

    async fn attempt_file_inner(
        &self,
        url: &Url,
        part: &Path,
        expect: &Expect,
        info: &mut AttemptInfo,
    ) -> Result<(), AttemptError> {
        let mut existing = match tokio::fs::metadata(part).await {
            Ok(m) => m.len(),
            Err(_) => 0,
        };
        if expect.size.is_some_and(|s| existing > s) {
            tokio::fs::remove_file(part)
                .await
                .map_err(local_err(part))?;
            existing = 0;
        }
        let checked = if url.scheme() == "file" {
            info.local = true;
            existing = 0;
            let src = local_path(url)?;
            let len = tokio::fs::metadata(&src)
                .await
                .map_err(local_err(&src))?
                .len();
            if let Some(size) = expect.size.filter(|&s| s != len) {
                return Err(AttemptError::SizeMismatch {
                    expected: size,
                    got: len,
                });
            }
            let (part2, mut check) = (part.to_path_buf(), StreamCheck::new(expect));
            tokio::task::spawn_blocking(move || {
                copy_checked(&src, &part2, &mut check).map(|()| check)
            })
            .await
            .map_err(|e| AttemptError::Local(e.to_string()))?
            .map(Some)?
        } else if existing > 0 && expect.size == Some(existing) {
            // A complete part from an earlier run: verified below, from the disk.
            None
        } else {
            Some(
                self.download_http(url, part, existing, expect, info)
                    .await?,
            )
        };
        info.resumed_from = existing;
        let verdict = match checked {
            Some(check) => {
                if expect.checksum.is_some() {
                    tracing::debug!(path = %part.display(), "file hashed");
                }
                check.finish()
            }
            None => match check_file_async(expect, part).await {
                Err(FileCheckError::Io(e)) => return Err(local_err(part)(e)),
                Err(FileCheckError::Mismatch(e)) => Err(e),
                Ok(()) => Ok(()),
            },
        };
        let Err(e) = verdict else {
            return Ok(());
        };
        let _ = tokio::fs::remove_file(part).await;
        if info.resumed_from > 0 {
            // The kept part may be what was wrong: start over here.
            return Err(AttemptError::Transfer(format!(
                "resumed download did not verify ({e}); starting over"
            )));
        }
        Err(e)
    }

    /// Downloads `url` into `part` (appending after `existing` bytes when the server
    /// honours the range), feeding every byte of the result to a [`StreamCheck`].
    async fn download_http(
        &self,
        url: &Url,
        part: &Path,
        existing: u64,
        expect: &Expect,
        info: &mut AttemptInfo,
    ) -> Result<StreamCheck, AttemptError> {
        let mut resp = self.send(url, existing).await?;
        let status = resp.status().as_u16();
        let offset = match status {
            206 if existing > 0 => {
                let start = resp
                    .headers()
                    .get(reqwest::header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_content_range_start);
                if start != Some(existing) {
                    tokio::fs::remove_file(part)
                        .await
                        .map_err(local_err(part))?;
                    return Err(AttemptError::Transfer(format!(
                        "asked for bytes from {existing}, server sent range {start:?}"
                    )));
                }
                existing
            }
            200 => 0,
            416 if existing > 0 => {
                tokio::fs::remove_file(part)
                    .await
                    .map_err(local_err(part))?;
                return Err(AttemptError::Transfer(
                    "range not satisfiable; starting over".into(),
                ));
            }
            s => return Err(AttemptError::Status(s)),
        };
        if let (Some(size), Some(len)) = (expect.size, resp.content_length()) {
            if offset + len != size {
                if offset > 0 {
                    tokio::fs::remove_file(part)
                        .await
                        .map_err(local_err(part))?;
                    return Err(AttemptError::Transfer(format!(
                        "resumed range ends at {} instead of {size}; starting over",
                        offset + len
                    )));
                }
                return Err(AttemptError::SizeMismatch {
                    expected: size,
                    got: len,
                });
            }
        }
        let mut check = StreamCheck::new(expect);
        let file = if offset > 0 {
            // Resuming: the kept bytes are checked too (read once, here).
            let kept = part.to_path_buf();
            check = tokio::task::spawn_blocking(move || {
                let mut f = std::fs::File::open(&kept)?;
                check.update_from(&mut f).map(|()| check)
            })
            .await
            .map_err(|e| AttemptError::Local(e.to_string()))?
            .map_err(local_err(part))?;
            tokio::fs::OpenOptions::new()
                .append(true)
                .open(part)
                .await
                .map_err(local_err(part))?
        } else {
            tokio::fs::File::create(part)
                .await
                .map_err(local_err(part))?
        };
        let mut w = tokio::io::BufWriter::with_capacity(256 << 10, file);
        let mut received = 0u64;
        let result = loop {
            let chunk = match self.next_chunk(&mut resp, received).await {
                Ok(Some(c)) => c,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            };
            let n = chunk.len() as u64;
            received += n;
            info.net_bytes += n;
            if let Some(size) = expect.size {
                if offset + received > size {
                    drop(w);
                    let _ = tokio::fs::remove_file(part).await;
                    return Err(AttemptError::SizeMismatch {
                        expected: size,
                        got: offset + received,
                    });
                }
            }
            if let Err(e) = w.write_all(&chunk).await {
                break Err(local_err(part)(e));
            }
            check.update(&chunk);
        };
        // Keep what arrived, even after an error, so the next attempt resumes.
        w.flush().await.map_err(local_err(part))?;
        result?;
        body_complete(&resp, received)?;
        Ok(check)
    }

    /// One attempt at one URL into memory, at most `size` (or the in-memory limit)
    /// bytes, then `check`. Returns the result and the network bytes received.
    pub(crate) async fn attempt_bytes(
        &self,
        url: Url,
        size: Option<u64>,
        check: &(dyn Fn(&[u8]) -> Result<(), AttemptError> + Sync),
    ) -> (Result<Vec<u8>, AttemptError>, u64) {
        let mut net = 0u64;
        let r = self.attempt_bytes_inner(&url, size, &mut net).await;
        (r.and_then(|d| check(&d).map(|()| d)), net)
    }

    async fn attempt_bytes_inner(
        &self,
        url: &Url,
        size: Option<u64>,
        net: &mut u64,
    ) -> Result<Vec<u8>, AttemptError> {
        let max_in_memory = self.options().max_bytes_in_memory;
        let max = size.unwrap_or(max_in_memory).min(max_in_memory);
        if url.scheme() == "file" {
            let p = local_path(url)?;
            let meta = tokio::fs::metadata(&p).await.map_err(local_err(&p))?;
            if meta.len() > max {
                return Err(AttemptError::TooLarge(max));
            }
            return tokio::fs::read(&p).await.map_err(local_err(&p));
        }
        let resp = self.send(url, 0).await?;
        self.read_body(resp, max, net).await
    }

    /// The body of a 200 response into memory, at most `max` bytes; `net` counts what
    /// arrived.
    async fn read_body(
        &self,
        mut resp: reqwest::Response,
        max: u64,
        net: &mut u64,
    ) -> Result<Vec<u8>, AttemptError> {
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(AttemptError::Status(status));
        }
        if resp.content_length().is_some_and(|l| l > max) {
            return Err(AttemptError::TooLarge(max));
        }
        let mut data = Vec::new();
        while let Some(c) = self.next_chunk(&mut resp, data.len() as u64).await? {
            *net += c.len() as u64;
            if data.len() as u64 + c.len() as u64 > max {
                return Err(AttemptError::TooLarge(max));
            }
            data.extend_from_slice(&c);
        }
        body_complete(&resp, data.len() as u64)?;
        Ok(data)
    }

    /// One attempt at bytes `start..start + len` of the file at `url` (fewer when the
    /// file ends before): a `Range` request; a server that ignores it (200, the whole
    /// body) is read only up to the end of the range, skipping what comes before it, and
    /// the transfer is then dropped. A `file://` URL is read at that offset. Returns the
    /// result and the network bytes received.
    pub(crate) async fn attempt_range(
        &self,
        url: Url,
        start: u64,
        len: u64,
    ) -> (Result<Vec<u8>, AttemptError>, u64) {
        let mut net = 0u64;
        let r = self.attempt_range_inner(&url, start, len, &mut net).await;
        (r, net)
    }

    async fn attempt_range_inner(
        &self,
        url: &Url,
        start: u64,
        len: u64,
        net: &mut u64,
    ) -> Result<Vec<u8>, AttemptError> {
        let max = self.options().max_bytes_in_memory;
        if len > max {
            return Err(AttemptError::TooLarge(max));
        }
        if len == 0 {
            return Ok(Vec::new());
        }
        if url.scheme() == "file" {
            let p = local_path(url)?;
            return tokio::task::spawn_blocking(move || {
                use std::io::Seek;
                let mut f = std::fs::File::open(&p).map_err(local_err(&p))?;
                f.seek(std::io::SeekFrom::Start(start))
                    .map_err(local_err(&p))?;
                let mut data = Vec::new();
                f.take(len).read_to_end(&mut data).map_err(local_err(&p))?;
                Ok(data)
            })
            .await
            .map_err(|e| AttemptError::Local(e.to_string()))?;
        }
        let opts = self.options();
        let end = start.saturating_add(len - 1);
        let rb = self
            .client()
            .get(url.clone())
            .header(reqwest::header::RANGE, format!("bytes={start}-{end}"));
        let wait = opts.connect_timeout + opts.stall_timeout;
        let mut resp = match tokio::time::timeout(wait, rb.send()).await {
            Err(_) => {
                return Err(AttemptError::Timeout(format!(
                    "no response within {} s",
                    wait.as_secs_f32()
                )))
            }
            Ok(r) => r.map_err(classify)?,
        };
        // Bytes of the body to skip before the range: none for a 206 that starts where
        // asked, `start` for a 200 (the server sent the whole file).
        let mut skip = match resp.status().as_u16() {
            206 => {
                let got = resp
                    .headers()
                    .get(reqwest::header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_content_range_start);
                if got != Some(start) {
                    return Err(AttemptError::Transfer(format!(
                        "asked for bytes from {start}, server sent range {got:?}"
                    )));
                }
                if resp.content_length().is_some_and(|l| l > len) {
                    return Err(AttemptError::Transfer(format!(
                        "asked for {len} bytes, server sends {:?}",
                        resp.content_length()
                    )));
                }
                0
            }
            200 => {
                tracing::debug!(%url, "the server ignored the range request: reading the start of the whole file");
                start
            }
            s => return Err(AttemptError::Status(s)),
        };
        let mut data = Vec::new();
        let mut received = 0u64;
        while (data.len() as u64) < len {
            let Some(c) = self.next_chunk(&mut resp, received).await? else {
                break;
            };
            received += c.len() as u64;
            *net += c.len() as u64;
            let mut c = &c[..];
            let k = usize::try_from(skip).unwrap_or(usize::MAX).min(c.len());
            skip -= k as u64;
            c = &c[k..];
            let room = usize::try_from(len - data.len() as u64).unwrap_or(usize::MAX);
            data.extend_from_slice(&c[..c.len().min(room)]);
        }
        if (data.len() as u64) < len {
            // The body ended before the range did: a complete body means the file
            // ends there; a short one is a broken transfer.
            body_complete(&resp, received)?;
        }
        Ok(data)
    }

    /// One attempt at `repodata/repomd.xml` at `url`, conditional on `kept` when given
    /// (the caller gives it only for the URL its validators came from): a 304 returns
    /// the kept copy if it passes `check`, else the file is asked for again without
    /// condition. Returns the result and the network bytes received.
    pub(crate) async fn attempt_repomd(
        &self,
        url: Url,
        kept: Option<&KeptRepomd>,
        check: &(dyn Fn(&[u8]) -> Result<(), AttemptError> + Sync),
    ) -> (Result<FetchedRepomd, AttemptError>, u64) {
        let mut net = 0u64;
        let r = self.attempt_repomd_inner(&url, kept, check, &mut net).await;
        (r, net)
    }

    async fn attempt_repomd_inner(
        &self,
        url: &Url,
        kept: Option<&KeptRepomd>,
        check: &(dyn Fn(&[u8]) -> Result<(), AttemptError> + Sync),
        net: &mut u64,
    ) -> Result<FetchedRepomd, AttemptError> {
        let max = self.options().max_bytes_in_memory;
        if url.scheme() == "file" {
            let data = self.attempt_bytes_inner(url, None, net).await?;
            check(&data)?;
            return Ok(FetchedRepomd {
                data,
                not_modified: false,
                validators: None,
            });
        }
        let mut resp = self.send_if(url, 0, kept.map(|k| &k.validators)).await?;
        if let (304, Some(k)) = (resp.status().as_u16(), kept) {
            match check(&k.repomd) {
                Ok(()) => {
                    return Ok(FetchedRepomd {
                        data: k.repomd.clone(),
                        not_modified: true,
                        validators: Some(k.validators.clone()),
                    })
                }
                Err(e) => {
                    tracing::info!(%url, error = %e, "kept repomd.xml no longer matches; fetching it again");
                    resp = self.send(url, 0).await?;
                }
            }
        }
        let header = |h: reqwest::header::HeaderName| {
            resp.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let validators = Validators {
            url: url.to_string(),
            etag: header(reqwest::header::ETAG),
            last_modified: header(reqwest::header::LAST_MODIFIED),
            date: header(reqwest::header::DATE),
        };
        let data = self.read_body(resp, max, net).await?;
        check(&data)?;
        Ok(FetchedRepomd {
            data,
            not_modified: false,
            validators: Some(validators),
        })
    }
}

/// A body shorter than its announced length is a broken transfer.
fn body_complete(resp: &reqwest::Response, received: u64) -> Result<(), AttemptError> {
    match resp.content_length() {
        Some(len) if received < len => Err(AttemptError::Transfer(format!(
            "body ended after {received} of {len} bytes"
        ))),
        _ => Ok(()),
    }
}

/// [`Expect::check_file`] on a blocking thread.
pub(crate) async fn check_file_async(expect: &Expect, path: &Path) -> Result<(), FileCheckError> {
    let expect = expect.clone();
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || expect.check_file(&path))
        .await
        .unwrap_or_else(|e| Err(FileCheckError::Io(std::io::Error::other(e))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range() {
        assert_eq!(parse_content_range_start("bytes 100-199/200"), Some(100));
        assert_eq!(parse_content_range_start("bytes */200"), None);
    }

    #[test]
    fn part_names() {
        assert_eq!(
            part_path(Path::new("/a/b.rpm")),
            PathBuf::from("/a/b.rpm.part")
        );
    }
}
