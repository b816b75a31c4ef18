//! Refs: names, listing, reading.

use super::*;

/// Where a ref lives.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(tag = "kind", content = "origin", rename_all = "kebab-case")]
pub enum RefKind {
    /// `refs/heads/NAME`.
    Head,
    /// `refs/remotes/REMOTE/NAME`.
    Remote(String),
    /// `refs/mirrors/COLLECTION-ID/NAME`.
    Mirror(String),
}

/// One ref and the commit it points at.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RefEntry {
    /// Where the ref lives.
    pub kind: RefKind,
    /// Ref name (may contain `/`).
    pub name: String,
    /// Target commit.
    pub checksum: Checksum,
}

impl RefEntry {
    /// Name as `ostree refs` prints it: `NAME` or `REMOTE:NAME`
    /// (mirrors as `(COLLECTION-ID, NAME)`-style `COLLECTION-ID:NAME`).
    pub fn display_name(&self) -> String {
        match &self.kind {
            RefKind::Head => self.name.clone(),
            RefKind::Remote(r) | RefKind::Mirror(r) => format!("{r}:{}", self.name),
        }
    }
}

/// Checks a ref name: no empty components, `.`/`..`, leading `/`, or odd bytes.
pub fn validate_ref_name(name: &str) -> Result<()> {
    let bad = |reason: &str| Error::BadRef {
        path: PathBuf::from(name),
        reason: reason.to_string(),
    };
    if name.is_empty() {
        return Err(bad("empty ref name"));
    }
    for comp in name.split('/') {
        if comp.is_empty() || comp == "." || comp == ".." {
            return Err(bad("empty, '.' or '..' path component"));
        }
        if !comp
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(bad("only [A-Za-z0-9._-] and '/' are allowed"));
        }
    }
    Ok(())
}

/// Reads a ref file: exactly one 64-hex checksum (with optional newline).
pub fn read_ref_file(path: &Path) -> Result<Checksum> {
    let md = fs::metadata(path).at(path)?;
    if md.len() > 200 {
        return Err(Error::BadRef {
            path: path.to_path_buf(),
            reason: format!("file is {} bytes, too large for a ref", md.len()),
        });
    }
    let text = fs::read(path).at(path)?;
    parse_ref(&text, path)
}

fn parse_ref(text: &[u8], path: &Path) -> Result<Checksum> {
    if text.len() > 200 {
        return Err(Error::BadRef {
            path: path.to_path_buf(),
            reason: format!("file is {} bytes, too large for a ref", text.len()),
        });
    }
    let s = std::str::from_utf8(text).map_err(|_| Error::BadRef {
        path: path.to_path_buf(),
        reason: "not UTF-8".into(),
    })?;
    s.trim_end_matches('\n').parse().map_err(|e| Error::BadRef {
        path: path.to_path_buf(),
        reason: format!("{e}"),
    })
}

impl Repo {
    pub(super) fn read_ref(&self, p: &Path) -> Result<Checksum> {
        if self.tar.is_none() {
            return read_ref_file(p);
        }
        let b = self.read_small(p).at(p)?;
        parse_ref(&b, p)
    }

    /// Lists all refs: heads, remotes and mirrors, sorted.
    pub fn list_refs(&self) -> Result<Vec<RefEntry>> {
        let mut out = Vec::new();
        let refs = self.path.join("refs");
        self.collect_refs(&refs.join("heads"), "", &RefKind::Head, &mut out)?;
        for (dir, mirror) in [("remotes", false), ("mirrors", true)] {
            let base = refs.join(dir);
            for (name, is_dir) in self.list_dir(&base)? {
                if !is_dir {
                    continue;
                }
                let sub = base.join(&name);
                let kind = if mirror {
                    RefKind::Mirror(name)
                } else {
                    RefKind::Remote(name)
                };
                self.collect_refs(&sub, "", &kind, &mut out)?;
            }
        }
        out.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
        Ok(out)
    }

    fn collect_refs(
        &self,
        dir: &Path,
        prefix: &str,
        kind: &RefKind,
        out: &mut Vec<RefEntry>,
    ) -> Result<()> {
        for (fname, is_dir) in self.list_dir(dir)? {
            let name = if prefix.is_empty() {
                fname.clone()
            } else {
                format!("{prefix}/{fname}")
            };
            let p = dir.join(&fname);
            if is_dir {
                self.collect_refs(&p, &name, kind, out)?;
            } else {
                let checksum = self.read_ref(&p)?;
                out.push(RefEntry {
                    kind: kind.clone(),
                    name,
                    checksum,
                });
            }
        }
        Ok(())
    }
}
