//! dnf `.repo` files (`--repofile FILE`, `--reposdir DIR`).
//!
//! Parsed by hand: dnf's dialect has indented continuation lines holding more
//! list items (e.g. several `baseurl`s), whitespace-or-comma separated lists,
//! dnf booleans and `$var` substitution, which general INI crates do not
//! model; the grammar is small.

use std::path::{Path, PathBuf};

use url::Url;

use crate::error::FetchError;
use crate::source::MirrorSet;
use crate::vars::Vars;

/// One `[repo]` section of a `.repo` file, with variables substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoConfig {
    /// The section name (repository id).
    pub id: String,
    /// `name=`.
    pub name: Option<String>,
    /// `baseurl=` (several allowed), in order.
    pub baseurls: Vec<String>,
    /// `mirrorlist=`.
    pub mirrorlist: Option<String>,
    /// `metalink=` (takes precedence over `mirrorlist`, as in dnf).
    pub metalink: Option<String>,
    /// `enabled=` (default true).
    pub enabled: bool,
    /// `gpgcheck=`: check package signatures (default false).
    pub gpgcheck: bool,
    /// `repo_gpgcheck=`: check the signature of repomd.xml (default false).
    pub repo_gpgcheck: bool,
    /// `gpgkey=` URLs or paths, in order.
    pub gpgkeys: Vec<String>,
    /// `sslcacert=`: an extra CA bundle (a `file://` prefix is removed).
    pub sslcacert: Option<PathBuf>,
    /// `sslverify=` (default true).
    pub sslverify: bool,
    /// `proxy=`, if set (empty or `_none_` means none).
    pub proxy: Option<String>,
    /// `skip_if_unavailable=` (default false).
    pub skip_if_unavailable: bool,
    /// `priority=` (default 99).
    pub priority: i32,
    /// `cost=` (default 1000).
    pub cost: i32,
    /// The file this section came from.
    pub file: PathBuf,
}

impl RepoConfig {
    fn new(id: &str, file: &Path) -> RepoConfig {
        RepoConfig {
            id: id.to_string(),
            name: None,
            baseurls: Vec::new(),
            mirrorlist: None,
            metalink: None,
            enabled: true,
            gpgcheck: false,
            repo_gpgcheck: false,
            gpgkeys: Vec::new(),
            sslcacert: None,
            sslverify: true,
            proxy: None,
            skip_if_unavailable: false,
            priority: 99,
            cost: 1000,
            file: file.to_path_buf(),
        }
    }

    /// The repository's base URLs as a mirror set (no network): the
    /// `baseurl`s in order. Mirrorlists and metalinks are added by
    /// `Fetcher::resolve_repo`. Unsupported schemes (ftp, rsync) are skipped.
    pub fn base_mirrors(&self) -> MirrorSet {
        let mut set = MirrorSet::new(format!("repository {}", self.id), Vec::new());
        for u in &self.baseurls {
            if let Ok(url) = Url::parse(u) {
                if matches!(url.scheme(), "http" | "https" | "file") {
                    set.push(url);
                }
            } else if u.starts_with('/') {
                if let Ok(url) = Url::from_directory_path(u) {
                    set.push(url);
                }
            }
        }
        set
    }
}

/// Loading of `.repo` files.
pub struct RepoFile;

impl RepoFile {
    /// Parses one `.repo` file; values have `vars` substituted. `[main]` is
    /// skipped.
    pub fn load(path: &Path, vars: &Vars) -> Result<Vec<RepoConfig>, FetchError> {
        let text = std::fs::read_to_string(path).map_err(|e| FetchError::io(path, e))?;
        parse_repo_text(&text, path, vars)
    }

    /// Parses every `*.repo` file of a directory, in file name order.
    pub fn load_dir(dir: &Path, vars: &Vars) -> Result<Vec<RepoConfig>, FetchError> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| FetchError::io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "repo") && p.is_file())
            .collect();
        files.sort();
        let mut all = Vec::new();
        for f in files {
            all.extend(RepoFile::load(&f, vars)?);
        }
        Ok(all)
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

fn split_list(v: &str) -> Vec<String> {
    v.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A section while parsing: id, line of its header, (key, value, line)s.
type Section = (String, usize, Vec<(String, String, usize)>);

/// Parses the text of a `.repo` file (`path` is used in errors).
pub fn parse_repo_text(
    text: &str,
    path: &Path,
    vars: &Vars,
) -> Result<Vec<RepoConfig>, FetchError> {
    // First pass: sections of (key, value, line) with continuation lines joined.
    let mut sections: Vec<Section> = Vec::new();
    let err = |line: usize, reason: String| FetchError::RepoFile {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut can_continue = false;
    for (i, raw) in text.lines().enumerate() {
        let lineno = i + 1;
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim();
        if trimmed.is_empty() {
            can_continue = false;
            continue;
        }
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indented = line.starts_with(' ') || line.starts_with('\t');
        if indented && can_continue {
            if let Some((_, _, kvs)) = sections.last_mut() {
                if let Some((_, v, _)) = kvs.last_mut() {
                    v.push('\n');
                    v.push_str(trimmed);
                    continue;
                }
            }
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            let id = rest
                .strip_suffix(']')
                .ok_or_else(|| err(lineno, "section header without closing ']'".into()))?
                .trim();
            if id.is_empty() {
                return Err(err(lineno, "empty section name".into()));
            }
            sections.push((id.to_string(), lineno, Vec::new()));
            can_continue = false;
            continue;
        }
        let Some((k, v)) = trimmed.split_once('=') else {
            return Err(err(
                lineno,
                format!("expected 'key=value', found {trimmed:?}"),
            ));
        };
        let Some((_, _, kvs)) = sections.last_mut() else {
            return Err(err(lineno, "option before any [section]".into()));
        };
        kvs.push((k.trim().to_ascii_lowercase(), v.trim().to_string(), lineno));
        can_continue = true;
    }

    let mut repos = Vec::new();
    for (id, line, kvs) in sections {
        if id == "main" {
            continue;
        }
        if repos.iter().any(|r: &RepoConfig| r.id == id) {
            return Err(err(line, format!("repository [{id}] defined twice")));
        }
        let mut r = RepoConfig::new(&id, path);
        for (k, v, line) in kvs {
            let v = vars.substitute(&v);
            let boolean = |v: &str| {
                parse_bool(v).ok_or_else(|| err(line, format!("{k}: not a boolean: {v:?}")))
            };
            let int = |v: &str| {
                v.trim()
                    .parse::<i32>()
                    .map_err(|_| err(line, format!("{k}: not a number: {v:?}")))
            };
            match k.as_str() {
                "name" => r.name = Some(v.replace('\n', " ")),
                "baseurl" => r.baseurls = split_list(&v),
                "mirrorlist" => r.mirrorlist = Some(v.trim().to_string()).filter(|s| !s.is_empty()),
                "metalink" => r.metalink = Some(v.trim().to_string()).filter(|s| !s.is_empty()),
                "enabled" => r.enabled = boolean(&v)?,
                "gpgcheck" => r.gpgcheck = boolean(&v)?,
                "repo_gpgcheck" => r.repo_gpgcheck = boolean(&v)?,
                "gpgkey" => r.gpgkeys = split_list(&v),
                "sslcacert" => {
                    let p = v.trim();
                    let p = p.strip_prefix("file://").unwrap_or(p);
                    r.sslcacert = (!p.is_empty()).then(|| PathBuf::from(p));
                }
                "sslverify" => r.sslverify = boolean(&v)?,
                "skip_if_unavailable" => r.skip_if_unavailable = boolean(&v)?,
                "proxy" => {
                    let p = v.trim();
                    r.proxy = (!p.is_empty() && p != "_none_").then(|| p.to_string());
                }
                "priority" => r.priority = int(&v)?,
                "cost" => r.cost = int(&v)?,
                // Other dnf options (exclude, metadata_expire, …) do not
                // concern downloading.
                _ => {}
            }
        }
        repos.push(r);
    }
    Ok(repos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_lists_vars_and_bools() {
        let text = "[main]\ngpgcheck=1\n\n# c\n[r1]\nname=R $basearch\nbaseurl=http://a/$releasever/$basearch/\n  http://b/x/,https://c/y/\nenabled=0\ngpgcheck=True\ngpgkey=file:///k1\n\tfile:///k2\nsslcacert=file:///etc/ca.pem\n[r2]\nmetalink=https://m/metalink?repo=f$releasever&arch=$basearch\n";
        let vars = Vars::new()
            .with("basearch", "x86_64")
            .with("releasever", "40");
        let r = parse_repo_text(text, Path::new("t.repo"), &vars).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].id, "r1");
        assert_eq!(r[0].name.as_deref(), Some("R x86_64"));
        assert_eq!(
            r[0].baseurls,
            ["http://a/40/x86_64/", "http://b/x/", "https://c/y/"]
        );
        assert!(!r[0].enabled);
        assert!(r[0].gpgcheck);
        assert_eq!(r[0].gpgkeys, ["file:///k1", "file:///k2"]);
        assert_eq!(r[0].sslcacert.as_deref(), Some(Path::new("/etc/ca.pem")));
        assert!(r[1].enabled);
        assert!(!r[1].gpgcheck);
        assert_eq!(
            r[1].metalink.as_deref(),
            Some("https://m/metalink?repo=f40&arch=x86_64")
        );
        assert_eq!(r[0].base_mirrors().mirrors().len(), 3);
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse_repo_text("[a]\nenabled=maybe\n", Path::new("x.repo"), &Vars::new())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.repo:2:"), "{e}");
        let e = parse_repo_text("key=1\n", Path::new("x.repo"), &Vars::new())
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.repo:1"), "{e}");
        assert!(parse_repo_text("[a\n", Path::new("x"), &Vars::new()).is_err());
        assert!(parse_repo_text("[a]\nfoo\n", Path::new("x"), &Vars::new()).is_err());
    }
}
