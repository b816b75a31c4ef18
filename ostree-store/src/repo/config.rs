//! Repository modes and the `config` file.

use super::*;

/// Repository storage modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RepoMode {
    /// `archive` / `archive-z2`: content as compressed `.filez`.
    Archive,
    /// `bare`: content as real files with real ownership and xattrs.
    Bare,
    /// `bare-user`: ownership, mode and xattrs in the `user.ostreemeta` xattr.
    BareUser,
    /// `bare-user-only`: real files, no ownership or xattrs.
    BareUserOnly,
    /// `bare-split-xattrs`: like `bare`, with content xattrs in separate
    /// `.file-xattrs` objects (read-only here).
    BareSplitXattrs,
}

impl RepoMode {
    /// The `core.mode` value libostree writes for this mode.
    pub fn config_name(self) -> &'static str {
        match self {
            RepoMode::Archive => "archive-z2",
            RepoMode::Bare => "bare",
            RepoMode::BareUser => "bare-user",
            RepoMode::BareUserOnly => "bare-user-only",
            RepoMode::BareSplitXattrs => "bare-split-xattrs",
        }
    }

    /// Parses a mode name (`archive` and `archive-z2` are the same mode).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "archive" | "archive-z2" => RepoMode::Archive,
            "bare" => RepoMode::Bare,
            "bare-user" => RepoMode::BareUser,
            "bare-user-only" => RepoMode::BareUserOnly,
            "bare-split-xattrs" => RepoMode::BareSplitXattrs,
            _ => return None,
        })
    }

    /// Whether content objects are `.filez`.
    pub fn is_archive(self) -> bool {
        self == RepoMode::Archive
    }
}

impl std::fmt::Display for RepoMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.config_name())
    }
}

/// A name that is not a repository mode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown repository mode {0:?}")]
pub struct UnknownMode(pub String);

impl std::str::FromStr for RepoMode {
    type Err = UnknownMode;
    fn from_str(s: &str) -> std::result::Result<Self, UnknownMode> {
        RepoMode::parse(s).ok_or_else(|| UnknownMode(s.to_string()))
    }
}

/// A line of a `config` file that is neither a `[section]` nor a `key=value` in one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ConfigSyntax {
    /// The line number (from 1).
    pub line: usize,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A parsed repository `config` (GKeyFile-style INI).
#[derive(Clone, Debug, Default)]
pub struct Config {
    sections: BTreeMap<String, BTreeMap<String, String>>,
}

impl Config {
    /// Parses INI text.
    pub fn parse(text: &str) -> std::result::Result<Self, ConfigSyntax> {
        let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut current: Option<String> = None;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                sections.entry(name.to_string()).or_default();
                current = Some(name.to_string());
            } else if let Some((k, v)) = line.split_once('=') {
                let sec = current.as_ref().ok_or(ConfigSyntax {
                    line: n + 1,
                    reason: "key outside any [section]",
                })?;
                sections
                    .entry(sec.clone())
                    .or_default()
                    .insert(k.trim().to_string(), v.trim().to_string());
            } else {
                return Err(ConfigSyntax {
                    line: n + 1,
                    reason: "not a [section] or key=value",
                });
            }
        }
        Ok(Config { sections })
    }

    /// The value of `key` in `[section]`.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections.get(section)?.get(key).map(String::as_str)
    }

    /// Names of all sections (e.g. `core`, `remote "origin"`).
    pub fn sections(&self) -> impl Iterator<Item = &str> {
        self.sections.keys().map(String::as_str)
    }
}
