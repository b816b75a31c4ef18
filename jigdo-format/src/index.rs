//! The index (`2-index`): the set, the metadata tables, the new-content table and the tree.

use std::collections::HashMap;
use std::io::Read;

use crate::pins::PinnedPackage;
use crate::varint::{put_bytes, put_u, Reader};
use crate::{FormatError, FORMAT_VERSION, READ_VERSIONS};

const MAGIC: &[u8; 8] = b"OJIGDOIX";
/// Decompressed indexes larger than this are rejected (a decompression bomb guard; a
/// million-file tree needs well under a tenth of it).
const MAX_INDEX_BYTES: u64 = 1 << 30;
/// Decoded bytes (the decompressed index plus the names its front coding expands to)
/// allowed per compressed byte, on top of [`DECODE_SLACK`]: real indexes decode to well
/// under a tenth of it, while a few KB of crafted input could otherwise demand gigabytes.
const DECODE_RATIO: u64 = 64;
/// Decoded bytes always allowed, whatever the compressed size.
const DECODE_SLACK: u64 = 16 << 20;
/// Deeper trees are rejected; PATH_MAX allows at most 2048 levels.
const MAX_DEPTH: usize = 2048;
/// zstd level for the index: it is small and written once, so spend the time.
const ZSTD_LEVEL: i32 = 19;
/// log2 of the match-finder tables (`ChainLog`, `HashLog`) for the index. Level 19 would
/// size them for a large input: the 2.4 MB index of a 131,724-file tree took 56 MB to
/// compress into 370,541 bytes, and 15 MB with 2^20 tables for 372,450 bytes (zstd CLI).
const ZSTD_TABLES_LOG: u32 = 20;

/// Extended attributes of one object: (name, value) pairs exactly as the OSTree object
/// stores them (libostree keeps the name's trailing NUL), in the object's order.
pub type XattrSet = Vec<(Vec<u8>, Vec<u8>)>;

/// uid, gid, mode and xattrs of a content object or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectMeta {
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Full `st_mode`, file type bits included.
    pub mode: u32,
    /// Number of the object's set in [`Index::xattr_sets`].
    pub xattrs: u32,
}

/// Content that no package provides, stored in the jigdo RPM.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NewContent {
    /// Regular file bytes, stored as payload file `3-content/N`.
    Blob {
        /// Size in bytes.
        size: u64,
        /// SHA-256 of the bytes.
        sha256: [u8; 32],
    },
    /// A symlink target.
    Symlink {
        /// The target.
        target: String,
    },
}

/// Where a file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// Entry number in [`Index::new_contents`].
    New(u32),
    /// A file of a package of the set.
    Package {
        /// Package number in [`Index::packages`].
        package: u32,
        /// The file's path in the package, when it is not `/` + the tree path.
        path: Option<String>,
    },
}

/// One non-directory entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// File name (one path component).
    pub name: String,
    /// Where the bytes come from.
    pub source: Source,
    /// Number of the object's metadata in [`Index::metas`].
    pub meta: u32,
}

/// A directory: its dirmeta, its files and subdirectories, in dirtree order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    /// Number of the directory's metadata in [`Index::metas`].
    pub meta: u32,
    /// Files, sorted by name.
    pub files: Vec<FileEntry>,
    /// Subdirectories with their names, sorted by name.
    pub dirs: Vec<(String, Directory)>,
}

/// The decoded index of a jigdo RPM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    /// The commit checksum.
    pub commit: [u8; 32],
    /// The pinned package set.
    pub packages: Vec<PinnedPackage>,
    /// Distinct xattr sets.
    pub xattr_sets: Vec<XattrSet>,
    /// Distinct metadata entries.
    pub metas: Vec<ObjectMeta>,
    /// Distinct new contents.
    pub new_contents: Vec<NewContent>,
    /// The root directory.
    pub root: Directory,
}

impl Index {
    /// The commit checksum as lowercase hex.
    pub fn commit_hex(&self) -> String {
        hex::encode(self.commit)
    }

    /// For each blob number N (payload file `3-content/N`), its entry in `new_contents`.
    pub fn blob_entries(&self) -> Vec<u32> {
        self.new_contents
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(c, NewContent::Blob { .. }))
            .map(|(i, _)| i as u32)
            .collect()
    }

    /// Calls `visit` for every file with its path relative to the tree root
    /// (`usr/bin/bash`), in depth-first dirtree order.
    pub fn for_each_file(&self, mut visit: impl FnMut(&str, &FileEntry)) {
        fn walk(dir: &Directory, prefix: &mut String, visit: &mut dyn FnMut(&str, &FileEntry)) {
            let base = prefix.len();
            for f in &dir.files {
                prefix.push_str(&f.name);
                visit(prefix, f);
                prefix.truncate(base);
            }
            for (name, sub) in &dir.dirs {
                prefix.push_str(name);
                prefix.push('/');
                walk(sub, prefix, visit);
                prefix.truncate(base);
            }
        }
        walk(&self.root, &mut String::new(), &mut visit);
    }

    /// The path of `entry` (found at `tree_path`) inside its package, if it comes from one.
    pub fn package_path(tree_path: &str, entry: &FileEntry) -> Option<String> {
        let mut out = String::new();
        Index::write_package_path(tree_path, entry, &mut out).then_some(out)
    }

    /// [`Index::package_path`] appended to `out` (no allocation of its own); false, and
    /// `out` unchanged, for a new content.
    pub fn write_package_path(tree_path: &str, entry: &FileEntry, out: &mut String) -> bool {
        match &entry.source {
            Source::Package { path: Some(p), .. } => out.push_str(p),
            Source::Package { path: None, .. } => {
                out.push('/');
                out.push_str(tree_path);
            }
            Source::New(_) => return false,
        }
        true
    }

    /// Number of files (non-directories) in the tree.
    pub fn file_count(&self) -> usize {
        fn count(d: &Directory) -> usize {
            d.files.len() + d.dirs.iter().map(|(_, s)| count(s)).sum::<usize>()
        }
        count(&self.root)
    }

    /// Number of directories in the tree, the root included.
    pub fn dir_count(&self) -> usize {
        fn count(d: &Directory) -> usize {
            1 + d.dirs.iter().map(|(_, s)| count(s)).sum::<usize>()
        }
        count(&self.root)
    }

    /// Encodes the index as the zstd frame stored in `2-index`.
    pub fn encode(&self) -> Result<Vec<u8>, FormatError> {
        use zstd::zstd_safe::CParameter;
        let raw = self.encode_raw();
        let mut c = zstd::bulk::Compressor::new(ZSTD_LEVEL).map_err(FormatError::Compression)?;
        for p in [
            CParameter::ChainLog(ZSTD_TABLES_LOG),
            CParameter::HashLog(ZSTD_TABLES_LOG),
        ] {
            c.set_parameter(p).map_err(FormatError::Compression)?;
        }
        c.compress(&raw).map_err(FormatError::Compression)
    }

    fn encode_raw(&self) -> Vec<u8> {
        self.encode_raw_as(FORMAT_VERSION)
    }

    /// The uncompressed index in format `version` (1 lacks the pins' locations;
    /// kept so that tests can make the indexes older clients wrote).
    fn encode_raw_as(&self, version: u64) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        put_u(&mut out, version);
        out.extend_from_slice(&self.commit);

        put_u(&mut out, self.packages.len() as u64);
        for p in &self.packages {
            put_bytes(&mut out, p.name.as_bytes());
            put_u(&mut out, p.epoch);
            put_bytes(&mut out, p.version.as_bytes());
            put_bytes(&mut out, p.release.as_bytes());
            put_bytes(&mut out, p.arch.as_bytes());
            out.extend_from_slice(&p.id);
            put_u(&mut out, p.size);
            if version >= 2 {
                put_bytes(&mut out, p.location.as_bytes());
            }
        }

        put_u(&mut out, self.xattr_sets.len() as u64);
        for set in &self.xattr_sets {
            put_u(&mut out, set.len() as u64);
            for (name, value) in set {
                put_bytes(&mut out, name);
                put_bytes(&mut out, value);
            }
        }

        put_u(&mut out, self.metas.len() as u64);
        for m in &self.metas {
            put_u(&mut out, m.uid.into());
            put_u(&mut out, m.gid.into());
            put_u(&mut out, m.mode.into());
            put_u(&mut out, m.xattrs.into());
        }

        put_u(&mut out, self.new_contents.len() as u64);
        for c in &self.new_contents {
            match c {
                NewContent::Blob { size, sha256 } => {
                    put_u(&mut out, 0);
                    put_u(&mut out, *size);
                    out.extend_from_slice(sha256);
                }
                NewContent::Symlink { target } => {
                    put_u(&mut out, 1);
                    put_bytes(&mut out, target.as_bytes());
                }
            }
        }

        let mut cols = Columns::default();
        cols.write_dir(&self.root);
        for col in [
            &cols.dirs,
            &cols.names,
            &cols.sources,
            &cols.metas,
            &cols.extra,
        ] {
            put_bytes(&mut out, col);
        }
        out
    }

    /// Decodes and validates the contents of `2-index`. Every size is bounded by the
    /// input: the decompressed index and the names it expands to may not exceed
    /// [`DECODE_RATIO`] times the compressed size plus [`DECODE_SLACK`] (nor 1 GiB), and
    /// every count by what the remaining bytes can encode.
    pub fn decode(compressed: &[u8]) -> Result<Index, FormatError> {
        let budget = (compressed.len() as u64)
            .saturating_mul(DECODE_RATIO)
            .saturating_add(DECODE_SLACK)
            .min(MAX_INDEX_BYTES);
        let too_large = || FormatError::TooLarge {
            limit: budget,
            compressed: compressed.len() as u64,
        };
        let mut raw = Vec::new();
        let decoder =
            zstd::stream::read::Decoder::new(compressed).map_err(FormatError::Compression)?;
        decoder
            .take(budget + 1)
            .read_to_end(&mut raw)
            .map_err(FormatError::Compression)?;
        if raw.len() as u64 > budget {
            return Err(too_large());
        }
        Self::decode_raw(&raw, budget - raw.len() as u64, &too_large)
    }

    /// Decodes the decompressed index; the names may expand to `name_budget` bytes, or
    /// decoding fails with `too_large`.
    fn decode_raw(
        raw: &[u8],
        name_budget: u64,
        too_large: &dyn Fn() -> FormatError,
    ) -> Result<Index, FormatError> {
        let mut r = Reader::new(raw);
        if r.take(8, "magic").ok() != Some(&MAGIC[..]) {
            return Err(FormatError::BadMagic);
        }
        let version = r.u("version")?;
        if !READ_VERSIONS.contains(&version) {
            return Err(FormatError::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let commit = r.sha("commit checksum")?;

        let n = r.count("package count", 38)?;
        let mut packages = Vec::with_capacity(n);
        for i in 0..n {
            let pin = PinnedPackage {
                name: r.str("package name")?.to_owned(),
                epoch: r.u("package epoch")?,
                version: r.str("package version")?.to_owned(),
                release: r.str("package release")?.to_owned(),
                arch: r.str("package arch")?.to_owned(),
                id: r.sha("package id")?,
                size: r.u("package size")?,
                location: if version >= 2 {
                    let l = r.str("package location")?;
                    check_location(l)?;
                    l.to_owned()
                } else {
                    String::new()
                },
            };
            pin.check_fields()
                .map_err(|m| FormatError::Invalid(format!("pinned package {i}: {m}")))?;
            packages.push(pin);
        }

        let n = r.count("xattr set count", 1)?;
        let mut xattr_sets = Vec::with_capacity(n);
        for _ in 0..n {
            let pairs = r.count("xattr count", 2)?;
            let mut set = Vec::with_capacity(pairs);
            for _ in 0..pairs {
                let name = r.bytes("xattr name")?;
                if name.is_empty() {
                    return Err(FormatError::Invalid("empty xattr name".into()));
                }
                set.push((name.to_vec(), r.bytes("xattr value")?.to_vec()));
            }
            xattr_sets.push(set);
        }

        let n = r.count("metadata count", 4)?;
        let mut metas = Vec::with_capacity(n);
        for _ in 0..n {
            let m = ObjectMeta {
                uid: r.u32("uid")?,
                gid: r.u32("gid")?,
                mode: r.u32("mode")?,
                xattrs: r.u32("xattr set number")?,
            };
            if m.xattrs as usize >= xattr_sets.len() {
                return Err(FormatError::Invalid(format!(
                    "xattr set {} does not exist",
                    m.xattrs
                )));
            }
            metas.push(m);
        }

        let n = r.count("new content count", 2)?;
        let mut new_contents = Vec::with_capacity(n);
        for _ in 0..n {
            new_contents.push(match r.u("new content kind")? {
                0 => NewContent::Blob {
                    size: r.u("blob size")?,
                    sha256: r.sha("blob sha256")?,
                },
                1 => NewContent::Symlink {
                    target: r.str("symlink target")?.to_owned(),
                },
                k => {
                    return Err(FormatError::Invalid(format!(
                        "unknown new content kind {k}"
                    )))
                }
            });
        }

        let mut cols = ColumnReaders {
            dirs: Reader::new(r.bytes("dirs column")?),
            names: Reader::new(r.bytes("names column")?),
            sources: Reader::new(r.bytes("sources column")?),
            metas: Reader::new(r.bytes("metas column")?),
            extra: Reader::new(r.bytes("extra column")?),
            limits: Limits {
                packages: packages.len(),
                metas: metas.len(),
                new_contents: new_contents.len(),
            },
            name_budget,
            too_large,
        };
        let root = cols.read_dir(0)?;
        if !(r.is_empty() && cols.all_consumed()) {
            return Err(FormatError::Invalid("trailing bytes after the tree".into()));
        }
        Ok(Index {
            commit,
            packages,
            xattr_sets,
            metas,
            new_contents,
            root,
        })
    }
}

/// A pin's location becomes part of a URL or a path under a repository: it must
/// be relative, without `..`, empty or `.` components, NUL or control bytes, or `\\`.
fn check_location(l: &str) -> Result<(), FormatError> {
    if l.is_empty() {
        return Ok(());
    }
    let bad = l.starts_with('/')
        || l.len() > 4096
        || l.bytes().any(|b| b < 0x20 || b == 0x7f || b == b'\\')
        || l.contains("://")
        || l.split('/').any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        return Err(FormatError::Invalid(format!(
            "package location {l:?} is not a plain relative path"
        )));
    }
    Ok(())
}

/// The tree's columns while encoding.
#[derive(Default)]
struct Columns {
    dirs: Vec<u8>,
    names: Vec<u8>,
    sources: Vec<u8>,
    metas: Vec<u8>,
    extra: Vec<u8>,
}

impl Columns {
    fn write_dir(&mut self, dir: &Directory) {
        put_u(&mut self.dirs, dir.meta.into());
        put_u(&mut self.dirs, dir.files.len() as u64);
        let mut prev = "";
        for f in &dir.files {
            self.write_name(prev, &f.name);
            prev = &f.name;
            match &f.source {
                Source::New(i) => {
                    put_u(&mut self.sources, 0);
                    put_u(&mut self.extra, (*i).into());
                }
                Source::Package {
                    package,
                    path: None,
                } => {
                    put_u(&mut self.sources, 2 * u64::from(*package) + 1);
                }
                Source::Package {
                    package,
                    path: Some(p),
                } => {
                    put_u(&mut self.sources, 2 * u64::from(*package) + 2);
                    put_bytes(&mut self.extra, p.as_bytes());
                }
            }
            put_u(&mut self.metas, f.meta.into());
        }
        put_u(&mut self.dirs, dir.dirs.len() as u64);
        let mut prev = "";
        for (name, sub) in &dir.dirs {
            self.write_name(prev, name);
            prev = name;
            self.write_dir(sub);
        }
    }

    fn write_name(&mut self, prev: &str, name: &str) {
        let shared = prev
            .bytes()
            .zip(name.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        // Never split a UTF-8 sequence, so each suffix stays a valid string.
        let shared = (0..=shared)
            .rev()
            .find(|&i| name.is_char_boundary(i))
            .unwrap_or(0);
        put_u(&mut self.names, shared as u64);
        put_bytes(&mut self.names, &name.as_bytes()[shared..]);
    }
}

struct Limits {
    packages: usize,
    metas: usize,
    new_contents: usize,
}

/// The tree's columns while decoding.
struct ColumnReaders<'a, 'e> {
    dirs: Reader<'a>,
    names: Reader<'a>,
    sources: Reader<'a>,
    metas: Reader<'a>,
    extra: Reader<'a>,
    limits: Limits,
    /// Bytes the names may still expand to.
    name_budget: u64,
    /// The error once they expand to more.
    too_large: &'e dyn Fn() -> FormatError,
}

impl ColumnReaders<'_, '_> {
    fn all_consumed(&self) -> bool {
        [
            &self.dirs,
            &self.names,
            &self.sources,
            &self.metas,
            &self.extra,
        ]
        .iter()
        .all(|c| c.is_empty())
    }

    fn meta(&self, v: u32) -> Result<u32, FormatError> {
        if (v as usize) < self.limits.metas {
            Ok(v)
        } else {
            Err(FormatError::Invalid(format!(
                "metadata entry {v} does not exist"
            )))
        }
    }

    fn read_dir(&mut self, depth: usize) -> Result<Directory, FormatError> {
        if depth > MAX_DEPTH {
            return Err(FormatError::Invalid("tree deeper than 2048 levels".into()));
        }
        let meta = self.dirs.u32("directory metadata")?;
        let meta = self.meta(meta)?;
        let nfiles = self.dirs.u("file count")?;
        // Each file takes at least one byte in the sources column.
        if nfiles > self.sources.remaining() as u64 {
            return Err(FormatError::Invalid("file count exceeds the data".into()));
        }
        let mut files = Vec::with_capacity(nfiles as usize);
        let mut prev = String::new();
        for _ in 0..nfiles {
            let name = self.read_name(&prev)?;
            let source = match self.sources.u("file source")? {
                0 => {
                    let i = self.extra.u32("new content number")?;
                    if i as usize >= self.limits.new_contents {
                        return Err(FormatError::Invalid(format!(
                            "new content {i} does not exist"
                        )));
                    }
                    Source::New(i)
                }
                s => {
                    let package = (s - 1) / 2;
                    if package >= self.limits.packages as u64 {
                        return Err(FormatError::Invalid(format!(
                            "package {package} does not exist"
                        )));
                    }
                    let path = if s % 2 == 0 {
                        Some(self.extra.str("package file path")?.to_owned())
                    } else {
                        None
                    };
                    Source::Package {
                        package: package as u32,
                        path,
                    }
                }
            };
            let meta = self.metas.u32("file metadata")?;
            let meta = self.meta(meta)?;
            prev.clone_from(&name);
            files.push(FileEntry { name, source, meta });
        }
        let ndirs = self.dirs.u("directory count")?;
        if ndirs > self.dirs.remaining() as u64 {
            return Err(FormatError::Invalid(
                "directory count exceeds the data".into(),
            ));
        }
        let mut dirs = Vec::with_capacity(ndirs as usize);
        let mut prev = String::new();
        for _ in 0..ndirs {
            let name = self.read_name(&prev)?;
            let sub = self.read_dir(depth + 1)?;
            prev.clone_from(&name);
            dirs.push((name, sub));
        }
        Ok(Directory { meta, files, dirs })
    }

    fn read_name(&mut self, prev: &str) -> Result<String, FormatError> {
        let shared = self.names.u("name prefix length")? as usize;
        let suffix = self.names.bytes("name suffix")?;
        if shared > prev.len() || !prev.is_char_boundary(shared) {
            return Err(FormatError::Invalid(
                "name prefix longer than the previous name".into(),
            ));
        }
        let len = (shared + suffix.len()) as u64;
        if len > self.name_budget {
            return Err((self.too_large)());
        }
        self.name_budget -= len;
        let suffix = std::str::from_utf8(suffix)
            .map_err(|_| FormatError::Invalid("file name is not UTF-8".into()))?;
        let name = format!("{}{}", &prev[..shared], suffix);
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
            return Err(FormatError::Invalid(format!("invalid file name {name:?}")));
        }
        if name.as_str() <= prev && !prev.is_empty() {
            return Err(FormatError::Invalid(format!(
                "file names out of order at {name:?}"
            )));
        }
        Ok(name)
    }
}

/// Interns packages, xattr sets, metadata and new contents while a producer walks a
/// commit, so that every table entry is unique.
#[derive(Default)]
pub struct IndexBuilder {
    packages: Vec<PinnedPackage>,
    xattr_sets: Vec<XattrSet>,
    xattr_ids: HashMap<XattrSet, u32>,
    metas: Vec<ObjectMeta>,
    meta_ids: HashMap<ObjectMeta, u32>,
    new_contents: Vec<NewContent>,
    new_ids: HashMap<NewContent, u32>,
}

impl IndexBuilder {
    /// An empty builder whose xattr set 0 is the empty set.
    pub fn new() -> Self {
        let mut b = IndexBuilder::default();
        b.xattr_set(&Vec::new());
        b
    }

    /// Adds a package to the set and returns its number.
    pub fn add_package(&mut self, package: PinnedPackage) -> u32 {
        self.packages.push(package);
        (self.packages.len() - 1) as u32
    }

    /// The number of `set`, adding it if new.
    pub fn xattr_set(&mut self, set: &XattrSet) -> u32 {
        if let Some(&id) = self.xattr_ids.get(set) {
            return id;
        }
        let id = self.xattr_sets.len() as u32;
        self.xattr_sets.push(set.clone());
        self.xattr_ids.insert(set.clone(), id);
        id
    }

    /// The number of the metadata entry (uid, gid, mode, xattrs), adding it if new.
    pub fn meta(&mut self, uid: u32, gid: u32, mode: u32, xattrs: &XattrSet) -> u32 {
        let xattrs = self.xattr_set(xattrs);
        let m = ObjectMeta {
            uid,
            gid,
            mode,
            xattrs,
        };
        *self.meta_ids.entry(m).or_insert_with(|| {
            self.metas.push(m);
            (self.metas.len() - 1) as u32
        })
    }

    /// The number of a new content entry, adding it if new; the second value is true when
    /// it was added by this call (so its bytes must be stored).
    pub fn new_content(&mut self, content: NewContent) -> (u32, bool) {
        if let Some(&id) = self.new_ids.get(&content) {
            return (id, false);
        }
        let id = self.new_contents.len() as u32;
        self.new_contents.push(content.clone());
        self.new_ids.insert(content, id);
        (id, true)
    }

    /// Finishes the index with the tree `root` of commit `commit`.
    pub fn finish(self, commit: [u8; 32], root: Directory) -> Index {
        Index {
            commit,
            packages: self.packages,
            xattr_sets: self.xattr_sets,
            metas: self.metas,
            new_contents: self.new_contents,
            root,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_package_path_appends_what_package_path_gives() {
        let entry = |source| FileEntry {
            name: "x".into(),
            source,
            meta: 0,
        };
        for source in [
            Source::Package {
                package: 0,
                path: None,
            },
            Source::Package {
                package: 0,
                path: Some("/usr/etc/x".into()),
            },
            Source::New(0),
        ] {
            let e = entry(source);
            let mut out = String::from("kept");
            let written = Index::write_package_path("etc/x", &e, &mut out);
            match Index::package_path("etc/x", &e) {
                Some(p) => assert!(written && out == format!("kept{p}")),
                None => assert!(!written && out == "kept"),
            }
        }
    }

    fn sample() -> Index {
        let mut b = IndexBuilder::new();
        let p = b.add_package(PinnedPackage {
            name: "bash".into(),
            epoch: 0,
            version: "5.2.15".into(),
            release: "2".into(),
            arch: "x86_64".into(),
            id: [1; 32],
            size: 1234,
            location: "Packages/b/bash-5.2.15-2.x86_64.rpm".into(),
        });
        let dir = b.meta(0, 0, 0o40755, &vec![]);
        let file = b.meta(0, 0, 0o100644, &vec![(b"user.a".to_vec(), b"1".to_vec())]);
        let link = b.meta(0, 0, 0o120777, &vec![]);
        let (blob, added) = b.new_content(NewContent::Blob {
            size: 3,
            sha256: [9; 32],
        });
        assert!(added);
        assert_eq!(
            b.new_content(NewContent::Blob {
                size: 3,
                sha256: [9; 32]
            }),
            (blob, false)
        );
        let (sym, _) = b.new_content(NewContent::Symlink {
            target: "../lib/ä".into(),
        });
        let usr_bin = Directory {
            meta: dir,
            files: vec![
                FileEntry {
                    name: "bash".into(),
                    source: Source::Package {
                        package: p,
                        path: None,
                    },
                    meta: file,
                },
                FileEntry {
                    name: "bashbug".into(),
                    source: Source::Package {
                        package: p,
                        path: Some("/usr/share/bashbug".into()),
                    },
                    meta: file,
                },
                FileEntry {
                    name: "sh".into(),
                    source: Source::New(sym),
                    meta: link,
                },
            ],
            dirs: vec![],
        };
        let root = Directory {
            meta: dir,
            files: vec![FileEntry {
                name: "initramfs-ü.img".into(),
                source: Source::New(blob),
                meta: file,
            }],
            dirs: vec![(
                "usr".into(),
                Directory {
                    meta: dir,
                    files: vec![],
                    dirs: vec![("bin".into(), usr_bin)],
                },
            )],
        };
        b.finish([5; 32], root)
    }

    #[test]
    fn index_round_trips() {
        let index = sample();
        let bytes = index.encode().unwrap();
        let back = Index::decode(&bytes).unwrap();
        assert_eq!(back, index);
        assert_eq!(back.file_count(), 4);
        assert_eq!(back.dir_count(), 3);
        assert_eq!(back.blob_entries(), vec![0]);
        let mut paths = Vec::new();
        back.for_each_file(|p, e| paths.push((p.to_owned(), Index::package_path(p, e))));
        assert_eq!(
            paths,
            vec![
                ("initramfs-ü.img".to_owned(), None),
                ("usr/bin/bash".to_owned(), Some("/usr/bin/bash".to_owned())),
                (
                    "usr/bin/bashbug".to_owned(),
                    Some("/usr/share/bashbug".to_owned())
                ),
                ("usr/bin/sh".to_owned(), None),
            ]
        );
    }

    #[test]
    fn unknown_version_is_rejected_with_both_versions() {
        let mut raw = sample().encode_raw();
        raw[8] = 3;
        let err = Index::decode(&zstd::bulk::compress(&raw, 1).unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "jigdo format version 3 is not supported (this client reads version 2)"
        );
    }

    #[test]
    fn version_1_indexes_still_read_without_locations() {
        let index = sample();
        let v1 = index.encode_raw_as(1);
        assert_eq!(v1[8], 1);
        let back = Index::decode(&zstd::bulk::compress(&v1, 1).unwrap()).unwrap();
        assert_eq!(back.packages[0].location, "");
        let mut expected = index.clone();
        expected.packages[0].location.clear();
        assert_eq!(back, expected);
        // Version 2 carries the location.
        let back = Index::decode(&index.encode().unwrap()).unwrap();
        assert_eq!(
            back.packages[0].location,
            "Packages/b/bash-5.2.15-2.x86_64.rpm"
        );
    }

    #[test]
    fn locations_that_escape_the_repository_are_rejected() {
        for bad in [
            "/etc/passwd",
            "../x.rpm",
            "a/../../x.rpm",
            "a//b.rpm",
            "./a.rpm",
            "http://evil/x.rpm",
            "a\\b.rpm",
            "a\nb.rpm",
        ] {
            let mut index = sample();
            index.packages[0].location = bad.into();
            let err = Index::decode(&index.encode().unwrap()).unwrap_err();
            assert!(err.to_string().contains("location"), "{bad}: {err}");
        }
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error_not_a_panic() {
        let raw = sample().encode_raw();
        for cut in 0..raw.len() {
            let data = zstd::bulk::compress(&raw[..cut], 1).unwrap();
            assert!(
                Index::decode(&data).is_err(),
                "truncation at {cut} accepted"
            );
        }
        for i in 0..raw.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = raw.clone();
                bad[i] ^= flip;
                // Must not panic; may or may not be an error (a flipped id byte is valid).
                let _ = Index::decode(&zstd::bulk::compress(&bad, 1).unwrap());
            }
        }
        assert!(matches!(
            Index::decode(b"not zstd"),
            Err(FormatError::Compression(_))
        ));
    }

    /// A field a case spoils, how it spoils it, and the word the error must contain.
    type SpoiledPin = (&'static str, fn(&mut PinnedPackage), &'static str);

    /// A pin's name, version, release and arch become a download file name: a hostile
    /// index must not be able to name a path outside the download directory.
    #[test]
    fn pins_with_path_like_or_control_fields_are_rejected_naming_the_field() {
        let cases: [SpoiledPin; 8] = [
            ("name", |p| p.name = "../../../etc/evil".into(), "name"),
            ("name", |p| p.name = "a/b".into(), "name"),
            ("version", |p| p.version = ".hidden".into(), "version"),
            ("release", |p| p.release = "1\n2".into(), "release"),
            ("release", |p| p.release = String::new(), "release"),
            ("arch", |p| p.arch = "x86_64/../..".into(), "arch"),
            ("arch", |p| p.arch = "\u{7f}".into(), "arch"),
            ("name", |p| p.name = "n".repeat(300), "name"),
        ];
        for (label, mutate, field) in cases {
            let mut index = sample();
            mutate(&mut index.packages[0]);
            let Err(err) = Index::decode(&index.encode().unwrap()) else {
                panic!("a bad {label} was accepted");
            };
            let err = err.to_string();
            assert!(err.contains(&format!("package {field}")), "{err}");
        }
        // Ordinary rpm spellings stay valid.
        let mut index = sample();
        index.packages[0].version = "1.2~rc1^git3+b2".into();
        index.packages[0].release = "0.fc41_2.1".into();
        index.packages[0].name = "libstdc++-devel".into();
        assert!(Index::decode(&index.encode().unwrap()).is_ok());
    }

    /// Front-coded names: each name may repeat all of the previous one and add a byte,
    /// so N files of a few bytes each in the column decode to N²/2 bytes of names.
    fn growing_names_index(files: usize) -> Vec<u8> {
        let mut index = sample();
        let file = index.root.files[0].clone();
        index.root.files = (1..=files)
            .map(|n| FileEntry {
                name: "a".repeat(n),
                ..file.clone()
            })
            .collect();
        index.encode().unwrap()
    }

    #[test]
    fn names_that_decode_far_beyond_the_input_are_rejected() {
        // 12,000 files: 72 MB of names from a few KB of input.
        let data = growing_names_index(12_000);
        assert!(data.len() < 64 * 1024, "{} bytes", data.len());
        let Err(err) = Index::decode(&data) else {
            panic!("12,000 growing names accepted");
        };
        let err = err.to_string();
        assert!(err.contains("decodes to more than"), "{err}");
    }

    #[test]
    fn bad_names_are_rejected() {
        for bad in ["..", ".", "a/b", ""] {
            let mut index = sample();
            index.root.files[0].name = bad.into();
            let data = index.encode().unwrap();
            assert!(Index::decode(&data).is_err(), "{bad:?} accepted");
        }
    }
}
