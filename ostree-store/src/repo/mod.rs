//! OSTree repositories on disk: open/init, config, refs, rev-parse, reading
//! objects (verified), streaming file content, and traversal.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use flate2::bufread::DeflateDecoder;
use rayon::prelude::*;

use crate::checksum::{Checksum, ObjectType};
use crate::error::{Error, IoContext, Result};
use crate::lock::{lock_repo, LockGuard, LockKind};
use crate::objects::{validate_metadata, Commit, DirMeta, DirTree, FileHeader};
use crate::tarstore::TarIndex;
use std::sync::Arc;

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

impl std::str::FromStr for RepoMode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        RepoMode::parse(s).ok_or_else(|| format!("unknown repository mode {s:?}"))
    }
}

/// A parsed repository `config` (GKeyFile-style INI).
#[derive(Clone, Debug, Default)]
pub struct Config {
    sections: BTreeMap<String, BTreeMap<String, String>>,
}

impl Config {
    /// Parses INI text.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
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
                let sec = current
                    .as_ref()
                    .ok_or_else(|| format!("line {}: key outside any [section]", n + 1))?;
                sections
                    .entry(sec.clone())
                    .or_default()
                    .insert(k.trim().to_string(), v.trim().to_string());
            } else {
                return Err(format!("line {}: not a [section] or key=value", n + 1));
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

/// An object reached from a commit, with the first path it serves.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Reachable {
    /// Object type.
    pub objtype: ObjectType,
    /// Object name.
    pub checksum: Checksum,
    /// Path in the commit's tree (`/` for the root; empty for the commit).
    pub path: String,
}

/// Result of walking a commit: everything found, and what could not be read.
#[derive(Debug, Default)]
pub struct Traversal {
    /// Each distinct object reached (commit, dirtrees, dirmetas, files).
    /// Dirtrees and the commit were read and verified during the walk.
    pub objects: Vec<Reachable>,
    /// Objects that could not be read (missing, corrupt) while walking.
    pub errors: Vec<(Reachable, Error)>,
}

/// Streaming content of a file object.
pub enum ContentReader {
    /// Symlinks (and empty content).
    Empty,
    /// Plain file content (bare modes).
    Plain(BufReader<File>),
    /// Raw-deflate content of an archive `.filez`; at the end, the number of
    /// bytes produced must equal the size recorded in the header.
    Archive(Box<ArchiveContent>),
}

/// Decompressing reader of `.filez` content that checks the recorded size.
pub struct ArchiveContent {
    inner: DeflateDecoder<BufReader<Box<dyn Read + Send>>>,
    expected: u64,
    seen: u64,
}

impl Read for ArchiveContent {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen += n as u64;
        if (n == 0 && !buf.is_empty() && self.seen != self.expected) || self.seen > self.expected {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "content is {} bytes but the header says {}",
                    self.seen, self.expected
                ),
            ));
        }
        Ok(n)
    }
}

impl std::fmt::Debug for ContentReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ContentReader::Empty => "ContentReader::Empty",
            ContentReader::Plain(_) => "ContentReader::Plain",
            ContentReader::Archive(_) => "ContentReader::Archive",
        })
    }
}

impl Read for ContentReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ContentReader::Empty => Ok(0),
            ContentReader::Plain(r) => r.read(buf),
            ContentReader::Archive(r) => r.read(buf),
        }
    }
}

/// An OSTree repository.
#[derive(Debug)]
pub struct Repo {
    path: PathBuf,
    mode: RepoMode,
    config: Config,
    /// Set when the repository is read straight out of a tar file.
    tar: Option<Arc<TarIndex>>,
}

/// Reads the boot id, as used in libostree's staging directory names.
pub(crate) fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "noboot".to_string())
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

impl Repo {
    /// Opens an existing repository (reads `config` and checks the mode).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let cfg_path = path.join("config");
        let text = fs::read_to_string(&cfg_path).at(&cfg_path)?;
        let repo = Self::from_config(path, &text, None)?;
        let objects = repo.path.join("objects");
        if !objects.is_dir() {
            return Err(Error::Io {
                path: objects,
                error: io::Error::new(io::ErrorKind::NotFound, "not a repository: no objects/"),
            });
        }
        Ok(repo)
    }

    /// A read-only archive-mode repository inside an uncompressed tar
    /// (`path` names the tar; `index` covers its `repo/` directory).
    pub(crate) fn open_tar(path: PathBuf, index: TarIndex) -> Result<Self> {
        let cfg = path.join("repo/config");
        let text = index.read(Path::new("config")).at(&cfg)?;
        let text = String::from_utf8(text).map_err(|_| Error::Config {
            path: cfg.clone(),
            reason: "not UTF-8".into(),
        })?;
        let repo = Self::from_config(path, &text, Some(Arc::new(index)))?;
        if repo.mode != RepoMode::Archive {
            return Err(Error::Unsupported(format!(
                "{}: only archive-mode repositories can be read from a tar, not {}",
                repo.path.display(),
                repo.mode
            )));
        }
        Ok(repo)
    }

    fn from_config(path: PathBuf, text: &str, tar: Option<Arc<TarIndex>>) -> Result<Self> {
        let cfg_path = path.join("config");
        let config = Config::parse(text).map_err(|reason| Error::Config {
            path: cfg_path.clone(),
            reason,
        })?;
        let mode_str = config.get("core", "mode").unwrap_or("bare");
        let mode = RepoMode::parse(mode_str).ok_or_else(|| Error::UnknownMode {
            path: cfg_path.clone(),
            mode: mode_str.to_string(),
        })?;
        if let Some(v) = config.get("core", "repo_version") {
            if v != "1" {
                return Err(Error::Config {
                    path: cfg_path,
                    reason: format!("unsupported repo_version {v}"),
                });
            }
        }
        Ok(Repo {
            path,
            mode,
            config,
            tar,
        })
    }

    /// Whether this repository is read straight from a tar (read-only).
    pub fn is_in_tar(&self) -> bool {
        self.tar.is_some()
    }

    fn rel<'a>(&self, p: &'a Path) -> &'a Path {
        p.strip_prefix(&self.path).unwrap_or(p)
    }

    fn read_small(&self, p: &Path) -> io::Result<Vec<u8>> {
        match &self.tar {
            Some(t) => t.read(self.rel(p)),
            None => fs::read(p),
        }
    }

    fn path_exists(&self, p: &Path) -> bool {
        match &self.tar {
            Some(t) => t.exists(self.rel(p)),
            None => fs::symlink_metadata(p).is_ok(),
        }
    }

    /// Children of a directory: (name, is_dir); empty if it does not exist.
    fn list_dir(&self, dir: &Path) -> Result<Vec<(String, bool)>> {
        if let Some(t) = &self.tar {
            return Ok(t.list_dir(self.rel(dir)));
        }
        let rd = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::Io {
                    path: dir.to_path_buf(),
                    error: e,
                })
            }
        };
        let mut out = Vec::new();
        for ent in rd {
            let ent = ent.at(dir)?;
            let ft = ent.file_type().at(ent.path())?;
            if ft.is_dir() || ft.is_file() {
                out.push((ent.file_name().to_string_lossy().into_owned(), ft.is_dir()));
            }
        }
        out.sort();
        Ok(out)
    }

    fn read_ref(&self, p: &Path) -> Result<Checksum> {
        if self.tar.is_none() {
            return read_ref_file(p);
        }
        let b = self.read_small(p).at(p)?;
        parse_ref(&b, p)
    }

    pub(crate) fn refuse_tar(&self) -> Result<()> {
        if self.tar.is_some() {
            return Err(Error::Unsupported(format!(
                "{}: repositories inside a tar are read-only",
                self.path.display()
            )));
        }
        Ok(())
    }

    /// Creates a repository in `mode` at `path` (creating the directory), like
    /// `ostree init`. Opening it instead if it already exists with that mode.
    pub fn init(path: impl AsRef<Path>, mode: RepoMode) -> Result<Self> {
        let path = path.as_ref();
        if path.join("config").exists() {
            let repo = Repo::open(path)?;
            if repo.mode != mode {
                return Err(Error::Invalid(format!(
                    "{}: repository exists with mode {}, not {}",
                    path.display(),
                    repo.mode.config_name(),
                    mode.config_name()
                )));
            }
            return Ok(repo);
        }
        if mode == RepoMode::BareSplitXattrs {
            return Err(Error::Unsupported(
                "creating bare-split-xattrs repositories is not supported".into(),
            ));
        }
        for d in [
            "",
            "objects",
            "tmp",
            "tmp/cache",
            "extensions",
            "state",
            "refs",
            "refs/heads",
            "refs/mirrors",
            "refs/remotes",
        ] {
            let p = path.join(d);
            match fs::create_dir(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::Io { path: p, error: e }),
            }
        }
        let text = format!("[core]\nrepo_version=1\nmode={}\n", mode.config_name());
        crate::write::write_file_atomic(&path.join("config"), text.as_bytes(), true)?;
        Repo::open(path)
    }

    /// The repository directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The storage mode.
    pub fn mode(&self) -> RepoMode {
        self.mode
    }

    /// The parsed `config`.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Takes libostree's repository lock (see [`crate::lock`]).
    pub fn lock(&self, kind: LockKind) -> Result<LockGuard> {
        lock_repo(&self.path, kind)
    }

    /// Relative loose-object path (`objects/xx/yyyy….ext`).
    pub fn loose_path(&self, objtype: ObjectType, checksum: &Checksum) -> PathBuf {
        let hex = checksum.to_hex();
        let ext = objtype.extension(self.mode.is_archive());
        self.path
            .join("objects")
            .join(&hex[..2])
            .join(format!("{}.{ext}", &hex[2..]))
    }

    /// Whether the object exists (as a loose object).
    pub fn has_object(&self, objtype: ObjectType, checksum: &Checksum) -> bool {
        self.path_exists(&self.loose_path(objtype, checksum))
    }

    /// Reads a metadata object's bytes without verifying them.
    pub fn read_metadata_unverified(
        &self,
        objtype: ObjectType,
        checksum: &Checksum,
    ) -> Result<Vec<u8>> {
        let p = self.loose_path(objtype, checksum);
        match self.read_small(&p) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::Missing {
                checksum: *checksum,
                objtype,
            }),
            Err(e) => Err(Error::Io { path: p, error: e }),
        }
    }

    /// Reads a metadata object and verifies its checksum and shape.
    /// Detached metadata (`commitmeta`) is named after its commit, so only its
    /// shape is verified.
    pub fn read_metadata(&self, objtype: ObjectType, checksum: &Checksum) -> Result<Vec<u8>> {
        let bytes = self.read_metadata_unverified(objtype, checksum)?;
        if objtype != ObjectType::CommitMeta {
            let actual = Checksum::of_bytes(&bytes);
            if actual != *checksum {
                return Err(Error::ChecksumMismatch {
                    expected: *checksum,
                    actual,
                    objtype,
                });
            }
        }
        validate_metadata(objtype, &bytes).map_err(|e| Error::Corrupt {
            checksum: *checksum,
            objtype,
            reason: e.to_string(),
        })?;
        Ok(bytes)
    }

    /// Reads and decodes a commit (verified).
    pub fn read_commit(&self, checksum: &Checksum) -> Result<Commit> {
        let b = self.read_metadata(ObjectType::Commit, checksum)?;
        Commit::decode(&b).map_err(|e| corrupt(checksum, ObjectType::Commit, e))
    }

    /// Reads and decodes a dirtree (verified; unsafe names are rejected).
    pub fn read_dirtree(&self, checksum: &Checksum) -> Result<DirTree> {
        let b = self.read_metadata(ObjectType::DirTree, checksum)?;
        DirTree::decode(&b).map_err(|e| corrupt(checksum, ObjectType::DirTree, e))
    }

    /// Reads and decodes a dirmeta (verified).
    pub fn read_dirmeta(&self, checksum: &Checksum) -> Result<DirMeta> {
        let b = self.read_metadata(ObjectType::DirMeta, checksum)?;
        DirMeta::decode(&b).map_err(|e| corrupt(checksum, ObjectType::DirMeta, e))
    }

    /// The detached metadata (`a{sv}` bytes) of a commit, if any.
    pub fn read_commit_detached_metadata(&self, commit: &Checksum) -> Result<Option<Vec<u8>>> {
        match self.read_metadata(ObjectType::CommitMeta, commit) {
            Ok(b) => Ok(Some(b)),
            Err(Error::Missing { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Opens a content object: its header and a stream of its bytes (nothing
    /// is buffered beyond a read buffer). Not verified; see [`Repo::verify_file`].
    pub fn read_file(&self, checksum: &Checksum) -> Result<(FileHeader, ContentReader)> {
        let p = self.loose_path(ObjectType::File, checksum);
        let missing = |e: io::Error| {
            if e.kind() == io::ErrorKind::NotFound {
                Error::Missing {
                    checksum: *checksum,
                    objtype: ObjectType::File,
                }
            } else {
                Error::Io {
                    path: p.clone(),
                    error: e,
                }
            }
        };
        let bad = |reason: String| Error::Corrupt {
            checksum: *checksum,
            objtype: ObjectType::File,
            reason,
        };
        match self.mode {
            RepoMode::Archive => {
                let f: Box<dyn Read + Send> = match &self.tar {
                    Some(t) => Box::new(t.open(self.rel(&p)).map_err(missing)?),
                    None => Box::new(File::open(&p).map_err(missing)?),
                };
                let mut r = BufReader::with_capacity(128 * 1024, f);
                let mut pre = [0u8; 8];
                r.read_exact(&mut pre)
                    .map_err(|e| bad(format!("truncated header: {e}")))?;
                let len = u32::from_be_bytes([pre[0], pre[1], pre[2], pre[3]]) as usize;
                if len > 64 * 1024 * 1024 {
                    return Err(bad(format!("header size {len} is implausible")));
                }
                let mut hdr = vec![0u8; len];
                r.read_exact(&mut hdr)
                    .map_err(|e| bad(format!("truncated header: {e}")))?;
                let (header, size) =
                    FileHeader::decode_archive_header(&hdr).map_err(|e| bad(e.to_string()))?;
                check_type(&header).map_err(bad)?;
                if header.is_symlink() {
                    return Ok((header, ContentReader::Empty));
                }
                Ok((
                    header,
                    ContentReader::Archive(Box::new(ArchiveContent {
                        inner: DeflateDecoder::new(r),
                        expected: size,
                        seen: 0,
                    })),
                ))
            }
            RepoMode::Bare | RepoMode::BareUserOnly | RepoMode::BareSplitXattrs => {
                let md = fs::symlink_metadata(&p).map_err(missing)?;
                let split_xattrs = || -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
                    // Xattrs live in `<checksum>.file-xattrs-link`, a hard link
                    // to the `.file-xattrs` object holding `a(ayay)`.
                    let lp = self.loose_path(ObjectType::FileXattrsLink, checksum);
                    let b =
                        fs::read(&lp).map_err(|e| bad(format!("reading {}: {e}", lp.display())))?;
                    crate::gvariant::read_xattrs(&b).map_err(|e| bad(e.to_string()))
                };
                let (uid, gid) = if self.mode != RepoMode::BareUserOnly {
                    (md.uid(), md.gid())
                } else {
                    (0, 0)
                };
                if md.file_type().is_symlink() {
                    let target = fs::read_link(&p).map_err(missing)?;
                    let target = target
                        .into_os_string()
                        .into_string()
                        .map_err(|_| bad("symlink target is not UTF-8".into()))?;
                    let xattrs = match self.mode {
                        RepoMode::Bare => read_xattrs_path(&p).map_err(missing)?,
                        RepoMode::BareSplitXattrs => split_xattrs()?,
                        _ => Vec::new(),
                    };
                    let header = FileHeader {
                        uid,
                        gid,
                        mode: md.mode(),
                        rdev: 0,
                        symlink_target: target,
                        xattrs,
                    };
                    return Ok((header, ContentReader::Empty));
                }
                if !md.file_type().is_file() {
                    return Err(bad("not a regular file or symlink".into()));
                }
                let f = File::open(&p).map_err(missing)?;
                let xattrs = match self.mode {
                    RepoMode::Bare => read_xattrs_path(&p).map_err(missing)?,
                    RepoMode::BareSplitXattrs => split_xattrs()?,
                    _ => Vec::new(),
                };
                let header = FileHeader {
                    uid,
                    gid,
                    mode: md.mode(),
                    rdev: 0,
                    symlink_target: String::new(),
                    xattrs,
                };
                Ok((
                    header,
                    ContentReader::Plain(BufReader::with_capacity(64 * 1024, f)),
                ))
            }
            RepoMode::BareUser => {
                let f = File::open(&p).map_err(missing)?;
                let meta = xattr::FileExt::get_xattr(&f, "user.ostreemeta")
                    .map_err(missing)?
                    .ok_or_else(|| bad("no user.ostreemeta xattr".into()))?;
                let mut header =
                    FileHeader::decode_bareuser_meta(&meta).map_err(|e| bad(e.to_string()))?;
                check_type(&header).map_err(bad)?;
                if header.is_symlink() {
                    let mut t = Vec::new();
                    (&f).take(64 * 1024).read_to_end(&mut t).map_err(missing)?;
                    // libostree stores the target with its terminating NUL.
                    if let Some(nul) = t.iter().position(|&b| b == 0) {
                        t.truncate(nul);
                    }
                    header.symlink_target = String::from_utf8(t)
                        .map_err(|_| bad("symlink target is not UTF-8".into()))?;
                    return Ok((header, ContentReader::Empty));
                }
                Ok((
                    header,
                    ContentReader::Plain(BufReader::with_capacity(64 * 1024, f)),
                ))
            }
        }
    }

    /// Recomputes a content object's checksum by streaming it; errors if it
    /// is missing, unreadable, or does not match its name.
    pub fn verify_file(&self, checksum: &Checksum) -> Result<()> {
        let (header, mut content) = self.read_file(checksum)?;
        let mut h = crate::objects::ContentHasher::new(&header);
        // Newer libostree hashes xattrs sorted by name; what listxattr returns
        // for a bare object need not be in that order, so try both.
        let mut sorted_h = None;
        if matches!(self.mode, RepoMode::Bare | RepoMode::BareUser)
            && !header.xattrs.is_sorted_by(|a, b| a.0 <= b.0)
        {
            let mut s = header.clone();
            s.xattrs.sort_by(|a, b| a.0.cmp(&b.0));
            sorted_h = Some(crate::objects::ContentHasher::new(&s));
        }
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; 256 * 1024]);
        }
        BUF.with(|cell| -> Result<()> {
            let mut buf = cell.borrow_mut();
            loop {
                let n = match content.read(&mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err(Error::Corrupt {
                            checksum: *checksum,
                            objtype: ObjectType::File,
                            reason: format!("reading content: {e}"),
                        })
                    }
                };
                h.update(&buf[..n]);
                if let Some(sh) = sorted_h.as_mut() {
                    sh.update(&buf[..n]);
                }
            }
        })?;
        let actual = h.finish();
        if actual != *checksum && sorted_h.map(|sh| sh.finish()) != Some(*checksum) {
            return Err(Error::ChecksumMismatch {
                expected: *checksum,
                actual,
                objtype: ObjectType::File,
            });
        }
        Ok(())
    }

    /// Reads and verifies any object (metadata via its bytes, content by streaming).
    pub fn verify_object(&self, objtype: ObjectType, checksum: &Checksum) -> Result<()> {
        match objtype {
            ObjectType::File => self.verify_file(checksum),
            t => self.read_metadata(t, checksum).map(|_| ()),
        }
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

    /// Path of the partial-commit marker (`state/<checksum>.commitpartial`).
    pub fn commitpartial_path(&self, commit: &Checksum) -> PathBuf {
        self.path
            .join("state")
            .join(format!("{commit}.commitpartial"))
    }

    /// Whether the commit is marked partial.
    pub fn is_commit_partial(&self, commit: &Checksum) -> bool {
        self.path_exists(&self.commitpartial_path(commit))
    }

    /// Walks everything `commit` reaches (commit, dirtrees, dirmetas, files).
    /// Dirtrees are read (and verified) level by level in parallel. Each
    /// distinct object appears once, with the first path found. Errors while
    /// walking (missing/corrupt dirtrees) are collected, not fatal.
    pub fn traverse_commit(&self, commit: &Checksum) -> Traversal {
        let mut t = Traversal::default();
        let commit_ref = Reachable {
            objtype: ObjectType::Commit,
            checksum: *commit,
            path: String::new(),
        };
        let c = match self.read_commit(commit) {
            Ok(c) => c,
            Err(e) => {
                t.errors.push((commit_ref, e));
                return t;
            }
        };
        t.objects.push(commit_ref);
        let mut seen: HashSet<(ObjectType, Checksum)> = HashSet::new();
        seen.insert((ObjectType::Commit, *commit));
        let mut level: Vec<(Checksum, Checksum, String)> =
            vec![(c.root_tree, c.root_meta, "/".to_string())];
        while !level.is_empty() {
            // Record dirmetas, and keep only trees not yet seen.
            let mut todo = Vec::new();
            for (tree, meta, path) in level.drain(..) {
                if seen.insert((ObjectType::DirMeta, meta)) {
                    t.objects.push(Reachable {
                        objtype: ObjectType::DirMeta,
                        checksum: meta,
                        path: path.clone(),
                    });
                }
                if seen.insert((ObjectType::DirTree, tree)) {
                    todo.push((tree, path));
                }
            }
            let read: Vec<(Checksum, String, Result<DirTree>)> = todo
                .into_par_iter()
                .map(|(tree, path)| {
                    let r = self.read_dirtree(&tree);
                    (tree, path, r)
                })
                .collect();
            for (tree, path, r) in read {
                let me = Reachable {
                    objtype: ObjectType::DirTree,
                    checksum: tree,
                    path: path.clone(),
                };
                let dt = match r {
                    Ok(dt) => dt,
                    Err(e) => {
                        t.errors.push((me, e));
                        continue;
                    }
                };
                t.objects.push(me);
                let join = |name: &str| {
                    if path == "/" {
                        format!("/{name}")
                    } else {
                        format!("{path}/{name}")
                    }
                };
                for (name, fc) in &dt.files {
                    if seen.insert((ObjectType::File, *fc)) {
                        t.objects.push(Reachable {
                            objtype: ObjectType::File,
                            checksum: *fc,
                            path: join(name),
                        });
                    }
                }
                for (name, st, sm) in &dt.dirs {
                    level.push((*st, *sm, join(name)));
                }
            }
        }
        t
    }

    /// All commit checksums stored as loose `.commit` objects.
    pub fn list_commit_objects(&self) -> Result<Vec<Checksum>> {
        let objects = self.path.join("objects");
        let mut out = Vec::new();
        for (prefix, is_dir) in self.list_dir(&objects)? {
            if prefix.len() != 2 || !is_dir {
                continue;
            }
            for (n, _) in self.list_dir(&objects.join(&prefix))? {
                if let Some(rest) = n.strip_suffix(".commit") {
                    if let Ok(c) = format!("{prefix}{rest}").parse() {
                        out.push(c);
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

fn corrupt(checksum: &Checksum, objtype: ObjectType, e: crate::gvariant::GvError) -> Error {
    Error::Corrupt {
        checksum: *checksum,
        objtype,
        reason: e.to_string(),
    }
}

fn check_type(h: &FileHeader) -> std::result::Result<(), String> {
    if h.is_regular() || h.is_symlink() {
        Ok(())
    } else {
        Err(format!(
            "mode {:o} is neither a regular file nor a symlink",
            h.mode
        ))
    }
}

/// Reads all xattrs of `path` (not following symlinks), names with the
/// trailing NUL libostree keeps in `a(ayay)`.
fn read_xattrs_path(path: &Path) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    use std::os::unix::ffi::OsStrExt;
    let mut out = Vec::new();
    for name in xattr::list(path)? {
        let value = xattr::get(path, &name)?.unwrap_or_default();
        let mut n = name.as_bytes().to_vec();
        n.push(0);
        out.push((n, value));
    }
    Ok(out)
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
