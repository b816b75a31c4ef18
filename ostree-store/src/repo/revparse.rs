//! Resolving a revision (ref, `REMOTE:REF`, checksum, unique prefix, `REV^`) to a commit.

use super::*;

impl Repo {
    /// Resolves a revision: a full checksum, a ref (`NAME`, `REMOTE:NAME`),
    /// or a unique prefix of a commit checksum; a trailing `^` means parent.
    pub fn resolve_rev(&self, rev: &str) -> Result<Checksum> {
        if let Some(base) = rev.strip_suffix('^') {
            let c = self.resolve_rev(base)?;
            let commit = self.read_commit(&c)?;
            return commit
                .parent
                .ok_or_else(|| Error::RevNotFound(format!("{rev} (commit {c} has no parent)")));
        }
        if let Ok(c) = rev.parse::<Checksum>() {
            return Ok(c);
        }
        // Refs.
        let refs = self.path.join("refs");
        let candidates: Vec<PathBuf> = if let Some((remote, name)) = rev.split_once(':') {
            if validate_ref_name(remote).is_ok() && validate_ref_name(name).is_ok() {
                vec![
                    refs.join("remotes").join(remote).join(name),
                    refs.join("mirrors").join(remote).join(name),
                ]
            } else {
                vec![]
            }
        } else if validate_ref_name(rev).is_ok() {
            vec![refs.join("heads").join(rev), refs.join("remotes").join(rev)]
        } else {
            vec![]
        };
        for p in candidates {
            let is_file = match &self.tar {
                Some(t) => t.exists(self.rel(&p)),
                None => p.is_file(),
            };
            if is_file {
                return self.read_ref(&p);
            }
        }
        // Unique prefix of a commit checksum.
        if rev.len() >= 2
            && rev.len() < 64
            && rev
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            let dir = self.path.join("objects").join(&rev[..2]);
            let mut found = Vec::new();
            for (n, _) in self.list_dir(&dir)? {
                if let Some(rest) = n.strip_suffix(".commit") {
                    let full = format!("{}{rest}", &rev[..2]);
                    if full.starts_with(rev) {
                        if let Ok(c) = full.parse::<Checksum>() {
                            found.push(c);
                        }
                    }
                }
            }
            match found.len() {
                1 => return Ok(found[0]),
                0 => {}
                _ => return Err(Error::AmbiguousRev(rev.to_string())),
            }
        }
        Err(Error::RevNotFound(rev.to_string()))
    }
}
