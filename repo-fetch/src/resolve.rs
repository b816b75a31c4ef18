//! Resolving a SOURCE or a `.repo` section to its ordered mirrors: base URLs as they
//! are, mirror lists and metalinks downloaded and parsed.

use url::Url;

use crate::error::FetchError;
use crate::http::Fetcher;
use crate::metalink::Metalink;
use crate::mirrorlist::parse_mirrorlist;
use crate::repofile::RepoConfig;
use crate::source::{as_base_url, MirrorSet, Source};
use crate::vars::Vars;

impl Fetcher {
    /// Fetches one exact URL (query kept) into memory, with retries.
    async fn fetch_url(&self, url: &Url, what: &str) -> Result<Vec<u8>, FetchError> {
        let _permit = self.permit().await?;
        let (data, _, _, _) = self
            .try_urls(std::slice::from_ref(url), "", what, |u| {
                self.attempt_bytes(u, None, &|_: &[u8]| Ok(()))
            })
            .await?;
        Ok(data)
    }

    /// Resolves a source to its ordered mirrors: a base URL or local
    /// repository as is; a mirrorlist or metalink by downloading and parsing
    /// it (metalink preference order; its repomd.xml checks are kept in the
    /// set). Variables from the options are substituted in the URLs.
    pub async fn resolve(&self, source: &Source) -> Result<MirrorSet, FetchError> {
        match source {
            Source::BaseUrl(_) | Source::LocalRepo(_) => {
                source
                    .static_mirrors()
                    .ok_or_else(|| FetchError::NoMirrors {
                        what: source.to_string(),
                    })
            }
            Source::RpmDir(p) => Err(FetchError::BadSource {
                spec: p.display().to_string(),
                reason: "a directory of RPMs has no repodata and no mirrors".into(),
            }),
            Source::Mirrorlist(url) => {
                let data = self.fetch_url(url, &format!("mirrorlist {url}")).await?;
                if looks_like_metalink(&data) {
                    return self.metalink_set(url, &data);
                }
                let text = String::from_utf8_lossy(&data);
                let vars = &self.options().vars;
                let mut set = MirrorSet::new(source.to_string(), Vec::new());
                for line in parse_mirrorlist(&text) {
                    match Url::parse(&vars.substitute(&line)) {
                        Ok(u) if matches!(u.scheme(), "http" | "https" | "file") => set.push(u),
                        _ => tracing::debug!(%line, "skipping unsupported mirrorlist entry"),
                    }
                }
                if set.is_empty() {
                    return Err(FetchError::Mirrorlist {
                        url: url.to_string(),
                        reason: "no usable http, https or file URL in it".into(),
                    });
                }
                Ok(set)
            }
            Source::Metalink(url) => {
                let data = self.fetch_url(url, &format!("metalink {url}")).await?;
                self.metalink_set(url, &data)
            }
        }
    }

    fn metalink_set(&self, url: &Url, data: &[u8]) -> Result<MirrorSet, FetchError> {
        mirrors_from_metalink(url.as_str(), data, &self.options().vars)
    }

    /// Resolves a `.repo` section: its base URLs first, then the mirrors of
    /// its metalink (or else its mirrorlist). A failing metalink/mirrorlist
    /// is only an error when no base URL is left.
    pub async fn resolve_repo(&self, repo: &RepoConfig) -> Result<MirrorSet, FetchError> {
        let mut set = repo.base_mirrors();
        let extra = if let Some(m) = &repo.metalink {
            Some(Source::parse(&format!("metalink={m}")))
        } else {
            repo.mirrorlist
                .as_ref()
                .map(|m| Source::parse(&format!("mirrorlist={m}")))
        };
        let mut last_err = None;
        if let Some(src) = extra {
            match src {
                Ok(src) => match self.resolve(&src).await {
                    Ok(more) => set.extend(more),
                    Err(e) => last_err = Some(e),
                },
                Err(e) => last_err = Some(e),
            }
        }
        if set.is_empty() {
            return Err(last_err.unwrap_or(FetchError::NoMirrors {
                what: format!("repository {} ({})", repo.id, repo.file.display()),
            }));
        }
        if let Some(e) = last_err {
            tracing::warn!(repo = %repo.id, error = %e, "using base URLs only");
        }
        Ok(set)
    }
}

fn looks_like_metalink(data: &[u8]) -> bool {
    let head = &data[..data.len().min(512)];
    head.windows(9).any(|w| w == b"<metalink")
}

/// Builds the mirror set of a metalink document fetched from `origin`: the
/// `repomd.xml` URLs of supported schemes in preference order, turned into
/// base URLs (without `repodata/repomd.xml`), and the entry's checks.
pub fn mirrors_from_metalink(
    origin: &str,
    data: &[u8],
    vars: &Vars,
) -> Result<MirrorSet, FetchError> {
    let err = |reason: String| FetchError::Metalink {
        url: origin.to_string(),
        reason,
    };
    let ml = Metalink::parse(data).map_err(|e| err(e.to_string()))?;
    let file = ml
        .file("repomd.xml")
        .ok_or_else(|| err("no entry for repomd.xml".into()))?;
    let mut set = MirrorSet::new(format!("metalink={origin}"), Vec::new());
    for u in file.urls_by_preference() {
        let text = vars.substitute(&u.url);
        let Ok(url) = Url::parse(&text) else {
            tracing::debug!(url = %text, "skipping unparsable metalink URL");
            continue;
        };
        if !matches!(url.scheme(), "http" | "https" | "file") {
            continue;
        }
        let path = url.path();
        let Some(base) = path.strip_suffix("repodata/repomd.xml") else {
            tracing::debug!(%url, "skipping metalink URL not ending in repodata/repomd.xml");
            continue;
        };
        let mut b = url.clone();
        b.set_path(base);
        b.set_query(None);
        b.set_fragment(None);
        set.push(as_base_url(b));
    }
    if set.is_empty() {
        return Err(err(
            "no usable http, https or file URL for repomd.xml".into()
        ));
    }
    if file.has_checks() {
        set.set_repomd_check(Some(file.clone()));
    }
    if !file.has_hashes() {
        set.set_unchecked_metalink(Some(origin.to_string()));
    }
    Ok(set)
}
