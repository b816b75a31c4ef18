//! `--from` SOURCE specs and ordered mirror sets.

use std::fmt;
use std::path::{Path, PathBuf};

use url::Url;

use crate::error::FetchError;
use crate::metalink::MetalinkFile;

/// Where RPMs come from (see CLI.md "SOURCE").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A local directory of `.rpm` files, searched recursively (no repodata).
    RpmDir(PathBuf),
    /// A local rpm-md repository (a directory with `repodata/repomd.xml`).
    LocalRepo(PathBuf),
    /// A `file://`, `http://` or `https://` rpm-md base URL.
    BaseUrl(Url),
    /// `mirrorlist=URL`: a list of base URLs.
    Mirrorlist(Url),
    /// `metalink=URL`: a MirrorManager metalink for `repomd.xml`.
    Metalink(Url),
}

fn bad(spec: &str, reason: impl Into<String>) -> FetchError {
    FetchError::BadSource {
        spec: spec.to_string(),
        reason: reason.into(),
    }
}

/// Parses a URL of a supported scheme (file, http, https).
fn parse_url(spec: &str, text: &str) -> Result<Url, FetchError> {
    let url = Url::parse(text).map_err(|e| bad(spec, format!("not a URL: {e}")))?;
    match url.scheme() {
        "http" | "https" | "file" => Ok(url),
        s => Err(bad(
            spec,
            format!("unsupported URL scheme {s:?} (use http, https or file)"),
        )),
    }
}

/// A base URL with a trailing slash, so that relative paths go beneath it.
pub fn as_base_url(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let p = format!("{}/", url.path());
        url.set_path(&p);
    }
    url
}

impl Source {
    /// Parses a SOURCE. Paths must name an existing directory; one with
    /// `repodata/repomd.xml` is an rpm-md repository, any other a directory
    /// of `.rpm` files.
    pub fn parse(spec: &str) -> Result<Source, FetchError> {
        let s = spec.trim();
        if s.is_empty() {
            return Err(bad(spec, "empty"));
        }
        if let Some(rest) = s.strip_prefix("mirrorlist=") {
            return Ok(Source::Mirrorlist(parse_url(spec, rest.trim())?));
        }
        if let Some(rest) = s.strip_prefix("metalink=") {
            return Ok(Source::Metalink(parse_url(spec, rest.trim())?));
        }
        if s.contains("://") {
            return Ok(Source::BaseUrl(as_base_url(parse_url(spec, s)?)));
        }
        Source::from_dir(spec, Path::new(s))
    }

    fn from_dir(spec: &str, dir: &Path) -> Result<Source, FetchError> {
        let meta = std::fs::metadata(dir).map_err(|e| bad(spec, format!("{e}")))?;
        if !meta.is_dir() {
            return Err(bad(spec, "not a directory"));
        }
        if dir.join("repodata").join("repomd.xml").is_file() {
            Ok(Source::LocalRepo(dir.to_path_buf()))
        } else {
            Ok(Source::RpmDir(dir.to_path_buf()))
        }
    }

    /// The mirror set of a source that needs no network to resolve (a base
    /// URL or a local repository); None for mirrorlists, metalinks (see
    /// `Fetcher::resolve`) and plain RPM directories.
    pub fn static_mirrors(&self) -> Option<MirrorSet> {
        match self {
            Source::BaseUrl(u) => Some(MirrorSet::new(u.to_string(), vec![u.clone()])),
            Source::LocalRepo(p) => {
                let abs = std::path::absolute(p).ok()?;
                let u = Url::from_directory_path(abs).ok()?;
                Some(MirrorSet::new(p.display().to_string(), vec![u]))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::RpmDir(p) | Source::LocalRepo(p) => write!(f, "{}", p.display()),
            Source::BaseUrl(u) => write!(f, "{u}"),
            Source::Mirrorlist(u) => write!(f, "mirrorlist={u}"),
            Source::Metalink(u) => write!(f, "metalink={u}"),
        }
    }
}

/// An ordered list of base URLs of one repository (most preferred first),
/// plus the metalink's expectations for `repodata/repomd.xml`, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorSet {
    name: String,
    mirrors: Vec<Url>,
    repomd_check: Option<MetalinkFile>,
    unchecked_metalink: Option<String>,
}

impl MirrorSet {
    /// A set named `name` (used in messages) of base URLs, in order.
    /// Each URL gets a trailing slash; duplicates are dropped.
    pub fn new(name: impl Into<String>, mirrors: Vec<Url>) -> MirrorSet {
        let mut set = MirrorSet {
            name: name.into(),
            mirrors: Vec::new(),
            repomd_check: None,
            unchecked_metalink: None,
        };
        for m in mirrors {
            set.push(m);
        }
        set
    }

    /// Parses base URLs (http, https, file).
    pub fn from_urls<S: AsRef<str>>(name: &str, urls: &[S]) -> Result<MirrorSet, FetchError> {
        let mut v = Vec::new();
        for u in urls {
            v.push(parse_url(u.as_ref(), u.as_ref())?);
        }
        Ok(MirrorSet::new(name, v))
    }

    /// Appends a base URL (if not already present).
    pub fn push(&mut self, url: Url) {
        let url = as_base_url(url);
        if !self.mirrors.contains(&url) {
            self.mirrors.push(url);
        }
    }

    /// The name used in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The base URLs, most preferred first.
    pub fn mirrors(&self) -> &[Url] {
        &self.mirrors
    }

    /// Whether there is no mirror at all.
    pub fn is_empty(&self) -> bool {
        self.mirrors.is_empty()
    }

    /// The metalink entry that `repodata/repomd.xml` must match, if any.
    pub fn repomd_check(&self) -> Option<&MetalinkFile> {
        self.repomd_check.as_ref()
    }

    /// Sets the metalink entry `repodata/repomd.xml` must match.
    pub fn set_repomd_check(&mut self, check: Option<MetalinkFile>) {
        self.repomd_check = check;
    }

    /// The metalink (its URL) the mirrors came from when it lists no hash for
    /// `repodata/repomd.xml`: the mirrors' copies are then checked against nothing.
    pub fn unchecked_metalink(&self) -> Option<&str> {
        self.unchecked_metalink.as_deref()
    }

    /// Records that the mirrors came from the metalink `url`, which lists no hash for
    /// `repodata/repomd.xml`.
    pub fn set_unchecked_metalink(&mut self, url: Option<String>) {
        self.unchecked_metalink = url;
    }

    /// Appends the mirrors of another set (keeping the first set's metalink
    /// check, or taking the other's if this one has none).
    pub fn extend(&mut self, other: MirrorSet) {
        for m in other.mirrors {
            self.push(m);
        }
        if self.repomd_check.is_none() {
            self.repomd_check = other.repomd_check;
        }
        if self.unchecked_metalink.is_none() {
            self.unchecked_metalink = other.unchecked_metalink;
        }
    }
}

/// Builds the URL of `rel` beneath `base`, segment by segment (each segment
/// percent-encoded; no `..`, `.`, empty or absolute paths, so a download can
/// never leave its mirror's base).
pub fn join_rel(base: &Url, rel: &str) -> Result<Url, FetchError> {
    let badp = |reason: &str| FetchError::BadPath {
        path: rel.to_string(),
        reason: reason.to_string(),
    };
    if rel.is_empty() {
        return Ok(base.clone());
    }
    if rel.starts_with('/') || rel.contains("://") {
        return Err(badp("must be relative"));
    }
    let segs: Vec<&str> = rel.split('/').collect();
    if segs
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == ".." || s.contains('\\'))
    {
        return Err(badp("empty, '.' or '..' segment"));
    }
    let mut url = as_base_url(base.clone());
    url.set_query(None);
    url.set_fragment(None);
    {
        let mut p = url
            .path_segments_mut()
            .map_err(|_| badp("base URL cannot have paths"))?;
        p.pop_if_empty();
        p.extend(segs);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kinds() {
        assert_eq!(
            Source::parse("http://h/repo").unwrap(),
            Source::BaseUrl(Url::parse("http://h/repo/").unwrap())
        );
        assert!(matches!(
            Source::parse("mirrorlist=https://m/list?repo=x").unwrap(),
            Source::Mirrorlist(_)
        ));
        assert!(matches!(
            Source::parse("metalink=http://m/metalink").unwrap(),
            Source::Metalink(_)
        ));
        assert!(Source::parse("ftp://h/x").is_err());
        assert!(Source::parse("/nonexistent/dir/for/sure").is_err());
        let t = tempfile::tempdir().unwrap();
        assert_eq!(
            Source::parse(t.path().to_str().unwrap()).unwrap(),
            Source::RpmDir(t.path().to_path_buf())
        );
        std::fs::create_dir(t.path().join("repodata")).unwrap();
        std::fs::write(t.path().join("repodata/repomd.xml"), "x").unwrap();
        let s = Source::parse(t.path().to_str().unwrap()).unwrap();
        assert_eq!(s, Source::LocalRepo(t.path().to_path_buf()));
        let m = s.static_mirrors().unwrap();
        assert_eq!(m.mirrors()[0].scheme(), "file");
        assert!(m.mirrors()[0].path().ends_with('/'));
    }

    #[test]
    fn joins_safely() {
        let b = Url::parse("http://h/a/b").unwrap();
        assert_eq!(
            join_rel(&b, "Packages/x y#1.rpm").unwrap().as_str(),
            "http://h/a/b/Packages/x%20y%231.rpm"
        );
        assert!(join_rel(&b, "../etc/passwd").is_err());
        assert!(join_rel(&b, "/etc/passwd").is_err());
        assert!(join_rel(&b, "a//b").is_err());
    }
}
