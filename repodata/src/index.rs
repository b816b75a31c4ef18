//! A compact in-memory index of a repository's primary metadata, keeping only
//! what client queries need: by name (newest EVR), by exact NEVRA and by provides.

use crate::error::Result;
use crate::model::{Checksum, Dependency, FileEntry, Package};
use rpm_package::evr::{ranges_overlap, Evr, Relation};
use std::collections::HashMap;

/// What the index keeps of one package.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IndexEntry {
    /// Name.
    pub name: String,
    /// Architecture.
    pub arch: String,
    /// Epoch, version, release.
    pub evr: Evr,
    /// Location relative to the base.
    pub location_href: String,
    /// `xml:base`, if any.
    pub location_base: Option<String>,
    /// Package id.
    pub checksum: Checksum,
    /// Package file size.
    pub size: u64,
    /// Provides.
    pub provides: Vec<Dependency>,
    /// Primary file list (file provides).
    pub files: Vec<String>,
}

impl IndexEntry {
    /// `name-[epoch:]version-release.arch` (epoch only when non-zero).
    pub fn nevra(&self) -> String {
        rpm_package::nevra(
            &self.name,
            self.evr.epoch.unwrap_or(0),
            &self.evr.version,
            self.evr.release().unwrap_or(""),
            &self.arch,
        )
    }

    /// The last component of `location_href`: the package's file name (the whole href
    /// when it has no `/`). Not validated as a path: callers that make a path of it
    /// check it first.
    pub fn file_name(&self) -> &str {
        self.location_href
            .rsplit('/')
            .next()
            .unwrap_or(&self.location_href)
    }

    /// Builds the entry from a full package record.
    pub fn from_package(p: Package) -> Option<IndexEntry> {
        let evr = p.evr();
        Some(IndexEntry {
            checksum: p.checksum?,
            name: p.name,
            arch: p.arch,
            evr,
            location_href: p.location_href,
            location_base: p.location_base,
            size: p.size_package,
            provides: p.provides,
            files: p
                .primary_files
                .into_iter()
                .map(|f: FileEntry| f.path)
                .collect(),
        })
    }
}

/// Queryable index of a repository's packages.
#[derive(Debug, Default)]
pub struct RepoIndex {
    entries: Vec<IndexEntry>,
    by_name: HashMap<String, Vec<usize>>,
    by_provide: HashMap<String, Vec<usize>>,
}

impl RepoIndex {
    /// Builds the index from a stream of packages (e.g. a [`crate::PrimaryReader`]).
    pub fn build<I: IntoIterator<Item = Result<Package>>>(packages: I) -> Result<RepoIndex> {
        Self::build_where(packages, |_| true)
    }

    /// Builds the index of the packages of a stream that `keep` accepts: the others are
    /// dropped as they are read, so a client that needs a few packages of a
    /// distribution's primary holds those few, not the whole repository.
    pub fn build_where<I, F>(packages: I, mut keep: F) -> Result<RepoIndex>
    where
        I: IntoIterator<Item = Result<Package>>,
        F: FnMut(&Package) -> bool,
    {
        let mut idx = RepoIndex::default();
        for p in packages {
            let p = p?;
            if !keep(&p) {
                continue;
            }
            if let Some(e) = IndexEntry::from_package(p) {
                idx.push(e);
            }
        }
        Ok(idx)
    }

    /// Adds one entry.
    pub fn push(&mut self, e: IndexEntry) {
        let i = self.entries.len();
        self.by_name.entry(e.name.clone()).or_default().push(i);
        for d in &e.provides {
            let v = self.by_provide.entry(d.name.clone()).or_default();
            if v.last() != Some(&i) {
                v.push(i);
            }
        }
        for f in &e.files {
            let v = self.by_provide.entry(f.clone()).or_default();
            if v.last() != Some(&i) {
                v.push(i);
            }
        }
        self.entries.push(e);
    }

    /// Every entry, in repository order.
    pub fn entries(&self) -> &[IndexEntry] {
        &self.entries
    }

    /// Number of packages.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every package called `name`, newest first (rpm's EVR order; ties keep repository order).
    pub fn by_name(&self, name: &str) -> Vec<&IndexEntry> {
        let mut v: Vec<&IndexEntry> = self
            .by_name
            .get(name)
            .map(|ix| ix.iter().map(|&i| &self.entries[i]).collect())
            .unwrap_or_default();
        v.sort_by(|a, b| b.evr.cmp(&a.evr));
        v
    }

    /// The newest package called `name` (rpm's EVR order; `src` packages are
    /// ignored unless nothing else has that name).
    pub fn newest(&self, name: &str) -> Option<&IndexEntry> {
        let all = self.by_name(name);
        all.iter()
            .find(|e| e.arch != "src" && e.arch != "nosrc")
            .or_else(|| all.first())
            .copied()
    }

    /// The package with exactly this NEVRA (`name-[epoch:]version-release.arch`;
    /// a missing epoch means 0).
    pub fn by_nevra(&self, nevra: &str) -> Option<&IndexEntry> {
        let (rest, arch) = nevra.rsplit_once('.')?;
        let (rest, release) = rest.rsplit_once('-')?;
        let (name, ev) = rest.rsplit_once('-')?;
        let want = Evr::parse(&format!("{ev}-{release}"));
        self.by_name
            .get(name)?
            .iter()
            .map(|&i| &self.entries[i])
            .find(|e| {
                e.arch == arch
                    && e.evr.epoch.unwrap_or(0) == want.epoch.unwrap_or(0)
                    && e.evr.version == want.version
                    && e.evr.release() == want.release()
            })
    }

    /// Packages providing `name` (a capability or, for paths, a primary file)
    /// whose provide overlaps the optional relation, newest first.
    pub fn what_provides(
        &self,
        name: &str,
        relation: Option<(Relation, &Evr)>,
    ) -> Vec<&IndexEntry> {
        let Some(ix) = self.by_provide.get(name) else {
            return Vec::new();
        };
        let mut v: Vec<&IndexEntry> = ix
            .iter()
            .map(|&i| &self.entries[i])
            .filter(|e| {
                if e.files.iter().any(|f| f == name) && relation.is_none() {
                    return true;
                }
                e.provides.iter().any(|d| {
                    if d.name != name {
                        return false;
                    }
                    let evr = d.evr();
                    let have = match (d.flags, evr.as_ref()) {
                        (Some(f), Some(evr)) => Some((f, evr)),
                        _ => None,
                    };
                    ranges_overlap(have, relation)
                })
            })
            .collect();
        v.sort_by(|a, b| b.evr.cmp(&a.evr));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ChecksumType;

    fn pkg(name: &str, e: u64, v: &str, r: &str, arch: &str) -> Package {
        let mut p = Package {
            checksum: Some(Checksum {
                kind: ChecksumType::Sha256,
                hex: format!("{name}{e}{v}{r}"),
            }),
            name: name.into(),
            epoch: e,
            version: v.into(),
            release: r.into(),
            arch: arch.into(),
            location_href: format!("{name}-{v}-{r}.{arch}.rpm"),
            size_package: 7,
            ..Default::default()
        };
        p.provides.push(Dependency {
            name: name.into(),
            flags: Some(Relation::Eq),
            epoch: Some(e.to_string()),
            version: Some(v.into()),
            release: Some(r.into()),
            pre: false,
        });
        p
    }

    #[test]
    fn file_name_is_the_last_component_of_the_href() {
        let mut p = pkg("a", 0, "1", "1", "noarch");
        p.location_href = "Packages/a/a-1-1.noarch.rpm".into();
        let e = IndexEntry::from_package(p).unwrap();
        assert_eq!(e.file_name(), "a-1-1.noarch.rpm");
        let e = IndexEntry::from_package(pkg("b", 0, "2", "1", "x86_64")).unwrap();
        assert_eq!(e.file_name(), "b-2-1.x86_64.rpm");
    }

    #[test]
    fn queries() {
        let idx = RepoIndex::build(
            [
                pkg("a", 0, "1.10", "1", "noarch"),
                pkg("a", 0, "1.9", "1", "noarch"),
                pkg("a", 1, "0.1", "1", "noarch"),
                pkg("b", 0, "2.0~rc1", "1", "x86_64"),
                pkg("b", 0, "2.0", "1", "x86_64"),
            ]
            .into_iter()
            .map(Ok),
        )
        .unwrap();
        assert_eq!(idx.newest("a").unwrap().nevra(), "a-1:0.1-1.noarch");
        assert_eq!(idx.newest("b").unwrap().nevra(), "b-2.0-1.x86_64");
        assert!(idx.by_nevra("a-1.9-1.noarch").is_some());
        assert!(idx.by_nevra("a-0:1.9-1.noarch").is_some());
        assert!(idx.by_nevra("a-1.9-2.noarch").is_none());
        let v = idx.what_provides("b", Some((Relation::Lt, &Evr::parse("2.0"))));
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].evr.version, "2.0~rc1");
        assert_eq!(idx.what_provides("a", None).len(), 3);
        assert_eq!(
            idx.what_provides("a", Some((Relation::Ge, &Evr::parse("1.9"))))
                .len(),
            3
        );
        assert_eq!(
            idx.what_provides("a", Some((Relation::Ge, &Evr::parse("0:1.10"))))
                .len(),
            2
        );
    }
}
