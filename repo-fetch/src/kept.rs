//! A source's last `repomd.xml`, kept between runs with the validators of the response
//! that brought it (ETag, Last-Modified, Date) and a few small files the caller verified
//! with it (the `repomd.xml.asc` that verified, the `jigdo` record), so that the next run
//! can ask the same mirror URL with `If-None-Match` / `If-Modified-Since` and, on a 304,
//! reuse them ([`crate::Fetcher::fetch_repomd_since`]).
//!
//! One source's state is one file, written atomically (a temporary sibling renamed over
//! it), that names the SHA-256 of everything in it: a file that is absent, truncated,
//! corrupt or of another version is ignored ([`KeptRepomd::load`] returns `None`), never
//! an error. Nothing in it is trusted because it was kept: the caller checks the kept
//! `repomd.xml` as it checks a downloaded one (metalink, signature), and each kept file
//! against what the current `repomd.xml` says of it.

use std::io::Write;
use std::path::{Path, PathBuf};

use rpm_package::digest::DigestAlgorithm;

use crate::verify::hash_hex;

/// The first line of a state file.
const MAGIC: &str = "ostree-jigdo kept repomd 1";

/// Largest state file read: `repomd.xml` and the kept files are small (a few KB each).
pub const MAX_KEPT_BYTES: u64 = 8 << 20;

/// The validators of the response that brought a `repomd.xml`: the URL asked and the
/// response's `ETag`, `Last-Modified` and `Date` headers as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// The exact URL the copy came from (a conditional request goes to this URL only).
    pub url: String,
    /// `ETag`, if the response had one.
    pub etag: Option<String>,
    /// `Last-Modified`, if the response had one.
    pub last_modified: Option<String>,
    /// `Date`, if the response had one.
    pub date: Option<String>,
}

impl Validators {
    /// Whether a conditional request may rely on these validators. Servers such as nginx
    /// derive both `ETag` and `Last-Modified` from the file's modification time in whole
    /// seconds, so a file rewritten within the second it was served (with the same size)
    /// would answer 304 with other content. The validators are used only when the
    /// response's `Date` was at least 2 seconds after its `Last-Modified` (the file had
    /// stopped changing before it was served); without both headers, never.
    pub fn conditional_ok(&self) -> bool {
        let (Some(lm), Some(date)) = (&self.last_modified, &self.date) else {
            return false;
        };
        match (http_date_seconds(lm), http_date_seconds(date)) {
            (Some(lm), Some(date)) => date >= lm + 2,
            _ => false,
        }
    }
}

/// A `repomd.xml` as [`crate::Fetcher::fetch_repomd_since`] got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedRepomd {
    /// Its bytes (the kept copy's after a 304).
    pub data: Vec<u8>,
    /// Whether the server answered 304 Not Modified to a conditional request, so that
    /// `data` is the kept copy (checked against the metalink again, if any).
    pub not_modified: bool,
    /// The validators to keep with it (`None` when it came from a `file://` mirror).
    pub validators: Option<Validators>,
}

/// A kept `repomd.xml`, its validators and the caller's other kept files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeptRepomd {
    /// The validators of the response that brought `repomd`.
    pub validators: Validators,
    /// The `repomd.xml` bytes.
    pub repomd: Vec<u8>,
    /// Other files kept with it, by name (e.g. `repodata/repomd.xml.asc`).
    pub files: Vec<(String, Vec<u8>)>,
}

impl KeptRepomd {
    /// Where the state of the source `key` (its URL, or what identifies a `.repo`
    /// section) is kept beneath `root`.
    pub fn path(root: &Path, key: &str) -> PathBuf {
        let h = hash_hex(DigestAlgorithm::Sha256, key.as_bytes());
        root.join(format!("{}.kept", &h[..32]))
    }

    /// The kept file `name`, if any.
    pub fn file(&self, name: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.as_slice())
    }

    /// Reads the state at `path`: `None` when it is absent, too large, corrupt (a
    /// checksum that does not match), of another format, or does not name the source
    /// `key` (logged at debug level: the caller then fetches in full).
    pub fn load(path: &Path, key: &str) -> Option<KeptRepomd> {
        Self::read(path)
            .filter(|(k, _)| *k == one_line(key))
            .map(|(_, kept)| kept)
    }

    /// Reads the state at `path` whatever source it is of: the source's key and the
    /// state, or `None` as for [`KeptRepomd::load`].
    pub fn read(path: &Path) -> Option<(String, KeptRepomd)> {
        let data = match read_bounded(path) {
            Ok(d) => d,
            Err(e) => {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::debug!(path = %path.display(), error = %e, "kept repomd.xml unreadable; ignored");
                }
                return None;
            }
        };
        let kept = parse(&data);
        if kept.is_none() {
            tracing::debug!(path = %path.display(), "kept repomd.xml state is corrupt; ignored");
        }
        kept
    }

    /// Writes the state of the source `key` to `path` atomically (a temporary sibling,
    /// synced, renamed over it), creating its directory.
    pub fn save(&self, path: &Path, key: &str) -> std::io::Result<()> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile_in(dir)?;
        let res = (|| {
            tmp.1.write_all(&self.encode(key))?;
            tmp.1.sync_all()?;
            std::fs::rename(&tmp.0, path)
        })();
        if res.is_err() {
            let _ = std::fs::remove_file(&tmp.0);
        }
        res
    }

    /// The state file's bytes: a header of `name value` lines, then each file as a
    /// `file NAME LEN` line followed by its bytes and a newline, then `end SHA256`, the
    /// SHA-256 of everything before that line.
    fn encode(&self, key: &str) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC.as_bytes());
        out.push(b'\n');
        let mut line = |k: &str, v: &str| {
            out.extend_from_slice(k.as_bytes());
            out.push(b' ');
            out.extend_from_slice(v.as_bytes());
            out.push(b'\n');
        };
        line("key", &one_line(key));
        let v = &self.validators;
        line("url", &one_line(&v.url));
        for (k, val) in [
            ("etag", &v.etag),
            ("last-modified", &v.last_modified),
            ("date", &v.date),
        ] {
            if let Some(val) = val {
                line(k, &one_line(val));
            }
        }
        let files = std::iter::once(("repodata/repomd.xml", self.repomd.as_slice()))
            .chain(self.files.iter().map(|(n, d)| (n.as_str(), d.as_slice())));
        for (name, data) in files {
            out.extend_from_slice(
                format!(
                    "file {} {}\n",
                    one_line(name).replace(' ', "%20"),
                    data.len()
                )
                .as_bytes(),
            );
            out.extend_from_slice(data);
            out.push(b'\n');
        }
        let sum = hash_hex(DigestAlgorithm::Sha256, &out);
        out.extend_from_slice(format!("end {sum}\n").as_bytes());
        out
    }
}

/// A header value on one line (line breaks, which no header value holds, become spaces).
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let mut data = Vec::new();
    f.take(MAX_KEPT_BYTES + 1).read_to_end(&mut data)?;
    if data.len() as u64 > MAX_KEPT_BYTES {
        return Err(std::io::Error::other("larger than the kept-state limit"));
    }
    Ok(data)
}

/// A new temporary file beside the state files, exclusively created.
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    loop {
        let p = dir.join(format!(
            ".kept.tmp-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
        {
            Ok(f) => return Ok((p, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Reads a state file; `None` on any deviation from what [`KeptRepomd::encode`] writes.
fn parse(data: &[u8]) -> Option<(String, KeptRepomd)> {
    // The trailer first: `end SHA256` over everything before it.
    let body_len = data.len().checked_sub(4 + 64 + 1)?;
    let (body, trailer) = data.split_at(body_len);
    let sum = trailer.strip_prefix(b"end ")?.strip_suffix(b"\n")?;
    if sum != hash_hex(DigestAlgorithm::Sha256, body).as_bytes() {
        return None;
    }
    let mut rest = body;
    fn next_line(rest: &mut &[u8]) -> Option<String> {
        let nl = rest.iter().position(|&b| b == b'\n')?;
        let l = std::str::from_utf8(&rest[..nl]).ok()?.to_string();
        *rest = &rest[nl + 1..];
        Some(l)
    }
    if next_line(&mut rest)? != MAGIC {
        return None;
    }
    let mut kept = KeptRepomd::default();
    let mut key = None;
    let mut have_repomd = false;
    loop {
        if rest.is_empty() {
            break;
        }
        let l = next_line(&mut rest)?;
        let (k, v) = l.split_once(' ')?;
        match k {
            "key" => key = Some(v.to_string()),
            "url" => kept.validators.url = v.to_string(),
            "etag" => kept.validators.etag = Some(v.to_string()),
            "last-modified" => kept.validators.last_modified = Some(v.to_string()),
            "date" => kept.validators.date = Some(v.to_string()),
            "file" => {
                let mut parts = v.split(' ');
                let name = parts.next()?.replace("%20", " ");
                let len: usize = parts.next()?.parse().ok()?;
                if parts.next().is_some() || len >= rest.len() || rest[len] != b'\n' {
                    return None;
                }
                let file = &rest[..len];
                rest = &rest[len + 1..];
                if name == "repodata/repomd.xml" && !have_repomd {
                    kept.repomd = file.to_vec();
                    have_repomd = true;
                } else {
                    kept.files.push((name, file.to_vec()));
                }
            }
            _ => return None,
        }
    }
    let key = key?;
    (have_repomd && !kept.validators.url.is_empty()).then_some((key, kept))
}

/// Seconds since the Unix epoch of an HTTP date in any of the three forms RFC 9110 asks
/// recipients to accept (IMF-fixdate, RFC 850, asctime); `None` for anything else.
fn http_date_seconds(s: &str) -> Option<i64> {
    let t = httpdate::parse_http_date(s.trim()).ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> KeptRepomd {
        KeptRepomd {
            validators: Validators {
                url: "http://h/r/repodata/repomd.xml".into(),
                etag: Some("\"5f1-1a2\"".into()),
                last_modified: Some("Sun, 29 Nov 2026 06:52:00 GMT".into()),
                date: Some("Sun, 29 Nov 2026 06:52:02 GMT".into()),
            },
            repomd: b"<repomd>\n</repomd>\n".to_vec(),
            files: vec![
                ("repodata/repomd.xml.asc".into(), b"sig\n\n".to_vec()),
                ("repodata/abc-jigdo.xml.gz".into(), vec![0, 10, 255]),
            ],
        }
    }

    #[test]
    fn http_dates() {
        assert_eq!(http_date_seconds("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        // The three forms RFC 9110 section 5.6.7 asks a recipient to accept.
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(http_date_seconds(form), Some(784_111_777), "{form}");
        }
        assert_eq!(
            http_date_seconds("Thu, 29 Feb 2024 23:59:59 GMT"),
            Some(1_709_251_199)
        );
        for bad in [
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 36 Nov 1994 08:49:37 GMT",
            "yesterday",
            "",
        ] {
            assert_eq!(http_date_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_same_second_guard() {
        let mut v = sample().validators;
        assert!(v.conditional_ok());
        v.date = Some("Sun, 29 Nov 2026 06:52:01 GMT".into());
        assert!(!v.conditional_ok(), "1 s apart");
        v.date = None;
        assert!(!v.conditional_ok(), "no Date");
        let mut v = sample().validators;
        v.last_modified = None;
        assert!(!v.conditional_ok(), "ETag only");
    }

    #[test]
    fn round_trip_and_corruption_is_ignored() {
        let t = tempfile::tempdir().unwrap();
        let key = "http://h/r/";
        let path = KeptRepomd::path(t.path(), key);
        assert_eq!(KeptRepomd::load(&path, key), None);
        let k = sample();
        k.save(&path, key).unwrap();
        assert_eq!(KeptRepomd::load(&path, key), Some(k.clone()));
        assert_eq!(KeptRepomd::load(&path, "http://other/"), None);
        assert_eq!(k.file("repodata/repomd.xml.asc"), Some(&b"sig\n\n"[..]));
        let good = std::fs::read(&path).unwrap();
        // Every single-byte change and every truncation is ignored, never trusted.
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x20;
            std::fs::write(&path, &bad).unwrap();
            assert_eq!(KeptRepomd::load(&path, key), None, "byte {i} changed");
            std::fs::write(&path, &good[..i]).unwrap();
            assert_eq!(KeptRepomd::load(&path, key), None, "truncated at {i}");
        }
        // No temporary files left.
        let names: Vec<_> = std::fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
