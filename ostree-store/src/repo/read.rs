//! Reading objects: loose paths, presence, metadata (verified), file content streamed.

use super::*;
use crate::filez;
use std::cell::RefCell;

/// Streaming content of a file object.
pub enum ContentReader {
    /// Symlinks (and empty content).
    Empty,
    /// Plain file content (bare modes).
    Plain(BufReader<File>),
    /// Content of an archive `.filez` up to [`crate::filez::WHOLE_INFLATE_MAX`] bytes,
    /// inflated whole when the object was opened (its size already checked).
    Memory(io::Cursor<Vec<u8>>),
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
            ContentReader::Memory(_) => "ContentReader::Memory",
            ContentReader::Archive(_) => "ContentReader::Archive",
        })
    }
}

impl ContentReader {
    /// Reads the content to its end, handing it to `f` piece by piece: content inflated
    /// whole in one piece, streamed content in pieces of up to 256 KiB read into a
    /// per-thread buffer (no allocation per object). Returns the number of bytes.
    pub fn for_each_chunk(&mut self, mut f: impl FnMut(&[u8])) -> io::Result<u64> {
        if let ContentReader::Memory(c) = self {
            let pos = (c.position() as usize).min(c.get_ref().len());
            let rest = &c.get_ref()[pos..];
            f(rest);
            let n = rest.len() as u64;
            c.set_position(c.get_ref().len() as u64);
            return Ok(n);
        }
        thread_local! {
            static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        BUF.with(|cell| {
            // A nested call (from `f`) gets a buffer of its own.
            let mut own = Vec::new();
            let mut shared = cell.try_borrow_mut();
            let buf = match shared.as_deref_mut() {
                Ok(b) => b,
                Err(_) => &mut own,
            };
            buf.resize(256 * 1024, 0);
            let mut total = 0u64;
            loop {
                let n = match self.read(buf) {
                    Ok(0) => return Ok(total),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                f(&buf[..n]);
                total += n as u64;
            }
        })
    }
}

impl Read for ContentReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ContentReader::Empty => Ok(0),
            ContentReader::Plain(r) => r.read(buf),
            ContentReader::Memory(r) => r.read(buf),
            ContentReader::Archive(r) => r.read(buf),
        }
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

impl Repo {
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
                let (f, len): (Box<dyn Read + Send>, u64) = match &self.tar {
                    Some(t) => {
                        let m = t.open(self.rel(&p)).map_err(missing)?;
                        let len = m.len();
                        (Box::new(m), len)
                    }
                    None => {
                        let f = File::open(&p).map_err(missing)?;
                        let len = f.metadata().map_err(missing)?.len();
                        (Box::new(f), len)
                    }
                };
                if len <= filez::WHOLE_FILE_MAX {
                    // Small enough to read in one go; content up to WHOLE_INFLATE_MAX is
                    // inflated at once, bigger (very compressible) content streams from
                    // the bytes read.
                    let mut bytes = Vec::with_capacity(len as usize);
                    f.take(filez::WHOLE_FILE_MAX)
                        .read_to_end(&mut bytes)
                        .map_err(missing)?;
                    let (header, size, compressed) = filez::split(&bytes).map_err(bad)?;
                    check_type(&header).map_err(bad)?;
                    if header.is_symlink() {
                        return Ok((header, ContentReader::Empty));
                    }
                    if size <= filez::WHOLE_INFLATE_MAX {
                        let content = filez::inflate_exact(compressed, size).map_err(bad)?;
                        return Ok((header, ContentReader::Memory(io::Cursor::new(content))));
                    }
                    let offset = bytes.len() - compressed.len();
                    let mut rest = io::Cursor::new(bytes);
                    rest.set_position(offset as u64);
                    let r: Box<dyn Read + Send> = Box::new(rest);
                    return Ok((
                        header,
                        ContentReader::Archive(Box::new(ArchiveContent {
                            inner: DeflateDecoder::new(BufReader::with_capacity(64 * 1024, r)),
                            expected: size,
                            seen: 0,
                        })),
                    ));
                }
                let mut r = BufReader::with_capacity(128 * 1024, f);
                let mut pre = [0u8; 8];
                r.read_exact(&mut pre)
                    .map_err(|e| bad(format!("truncated header: {e}")))?;
                let len = filez::header_len(pre).map_err(bad)?;
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
                let is_link = md.file_type().is_symlink();
                if !is_link && !md.file_type().is_file() {
                    return Err(bad("not a regular file or symlink".into()));
                }
                let (symlink_target, content) = if is_link {
                    let target = fs::read_link(&p).map_err(missing)?;
                    let target = target
                        .into_os_string()
                        .into_string()
                        .map_err(|_| bad("symlink target is not UTF-8".into()))?;
                    (target, ContentReader::Empty)
                } else {
                    let f = File::open(&p).map_err(missing)?;
                    let r = ContentReader::Plain(BufReader::with_capacity(64 * 1024, f));
                    (String::new(), r)
                };
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
                    symlink_target,
                    xattrs,
                };
                Ok((header, content))
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
        content
            .for_each_chunk(|b| {
                h.update(b);
                if let Some(sh) = sorted_h.as_mut() {
                    sh.update(b);
                }
            })
            .map_err(|e| Error::Corrupt {
                checksum: *checksum,
                objtype: ObjectType::File,
                reason: format!("reading content: {e}"),
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
}
