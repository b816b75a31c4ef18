//! Reading a jigdo RPM: its header (format version, commit, pins) and its payload
//! (`0-commit`, `1-commitmeta`, `2-index`, then the new-content blobs), checking each
//! against the others as specs/jigdo-format.md §2 requires.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use jigdo_format::{
    parse_commit_provide, FormatError, Index, NewContent, PayloadFile, Requirement, FORMAT_PROVIDE,
    FORMAT_PROVIDE_PREFIX, FORMAT_VERSION, READ_PROVIDES,
};
use ostree_store::{Checksum, Commit};
use rpm_package::{PackageHeader, PayloadReader};

use crate::error::{IoContext, Result, UnpackError};

/// Largest commit object or detached metadata accepted (they are held in memory).
const MAX_SMALL_FILE: u64 = 64 << 20;
/// Largest compressed index accepted (it is held in memory).
const MAX_INDEX_FILE: u64 = 1 << 30;

pub(crate) type Payload = PayloadReader<BufReader<File>>;

/// The checked metadata of a jigdo RPM (everything but the new-content blobs).
#[derive(Debug, Clone)]
pub struct JigdoRpm {
    /// Path of the jigdo RPM.
    pub path: PathBuf,
    /// Size of the jigdo RPM file in bytes.
    pub file_size: u64,
    /// Package name (the default ref).
    pub name: String,
    /// Package epoch, if any.
    pub epoch: Option<u32>,
    /// Package version.
    pub version: String,
    /// Package release.
    pub release: String,
    /// Package arch.
    pub arch: String,
    /// The commit checksum (from the provide; equal to the index's and to the SHA-256 of
    /// the commit object).
    pub commit: Checksum,
    /// The commit object as stored in OSTree.
    pub commit_bytes: Vec<u8>,
    /// The decoded commit object.
    pub commit_object: Commit,
    /// The detached commit metadata, if any.
    pub commitmeta: Option<Vec<u8>>,
    /// The decoded index.
    pub index: Index,
    /// Size of the compressed index (`2-index`) in bytes.
    pub index_bytes: u64,
    /// The compressed index (`2-index`) as read, the bytes `index` was decoded from:
    /// what the install record keeps, without compressing the index again.
    pub index_zstd: Vec<u8>,
}

impl JigdoRpm {
    /// Reads and checks the jigdo RPM at `path` up to and including its index; the blobs
    /// are not read (see [`JigdoRpm::open_with_blobs`]).
    pub fn open(path: impl AsRef<Path>) -> Result<JigdoRpm> {
        Ok(Self::open_with_blobs(path)?.0)
    }

    /// Like [`JigdoRpm::open`], and also returns the stream of new-content blobs that
    /// follow the index in the payload.
    pub fn open_with_blobs(path: impl AsRef<Path>) -> Result<(JigdoRpm, BlobStream)> {
        let (jigdo, stream, _) = Self::open_with_blobs_after(path, None)?;
        Ok((jigdo, stream))
    }

    /// [`JigdoRpm::open_with_blobs`] of a file whose start was read before as `start`
    /// (e.g. with [`JigdoRpm::read_head`]): every byte is read and checked as `open`
    /// does, but when the file's `2-index` is the same bytes as `start`'s (checked
    /// against the header's digest as it is read, like every payload file), `start`'s
    /// decoded index is taken instead of decoding them again (at 131,000 files, a
    /// decompression and a parse into one allocation per name). Also says whether it
    /// was taken.
    pub fn open_with_blobs_after(
        path: impl AsRef<Path>,
        start: Option<JigdoRpm>,
    ) -> Result<(JigdoRpm, BlobStream, bool)> {
        let path = path.as_ref().to_path_buf();
        let (header, r, file_size) = open_rpm_header(&path)?;
        let (jigdo, payload, commit_hex, reused) =
            read_head_from(header, r, &path, file_size, start)?;
        let blobs = jigdo.index.blob_entries();
        let stream = BlobStream {
            path,
            commit_hex,
            payload,
            blobs,
        };
        Ok((jigdo, stream, reused))
    }

    /// Reads and checks a jigdo RPM up to and including its index from `r`, which holds
    /// at least its start (e.g. the bytes an HTTP range request brought): the header
    /// (format version, commit, pins), then `0-commit`, `1-commitmeta` and `2-index`,
    /// each checked against the header's file digests as it is read, as
    /// [`JigdoRpm::open`] does. Nothing after the index is read. `path` and `file_size`
    /// name the whole jigdo RPM (in errors and in the result). Running out of input
    /// before the index ends is an error (an I/O or truncation error of `r`).
    pub fn read_head(r: impl Read, path: &Path, file_size: u64) -> Result<JigdoRpm> {
        let mut r = r;
        let header = PackageHeader::read(&mut r, &path.display().to_string())?;
        Ok(read_head_from(header, r, path, file_size, None)?.0)
    }

    /// `name-[epoch:]version-release.arch` of the jigdo RPM.
    pub fn nevra(&self) -> String {
        rpm_package::nevra(
            &self.name,
            self.epoch.map_or(0, u64::from),
            &self.version,
            &self.release,
            &self.arch,
        )
    }

    /// Total bytes of the new-content blobs.
    pub fn new_content_bytes(&self) -> u64 {
        self.index
            .new_contents
            .iter()
            .map(|c| match c {
                NewContent::Blob { size, .. } => *size,
                NewContent::Symlink { .. } => 0,
            })
            .sum()
    }

    /// Bytes of metadata (commit, detached metadata, index) per file of the tree.
    pub fn metadata_bytes_per_file(&self) -> f64 {
        let meta = self.index_bytes
            + self.commit_bytes.len() as u64
            + self.commitmeta.as_ref().map_or(0, |m| m.len() as u64);
        meta as f64 / self.index.file_count().max(1) as f64
    }
}

/// The checks and the payload head of [`JigdoRpm::open_with_blobs`] and
/// [`JigdoRpm::read_head`] once `header` was read from `r`: returns the jigdo RPM, the
/// payload reader positioned after the index, the commit (hex), and whether the index
/// decoded from the same bytes by `start` was taken (see [`read_payload_head_after`]).
fn read_head_from<R: Read>(
    header: PackageHeader,
    r: R,
    path: &Path,
    file_size: u64,
    start: Option<JigdoRpm>,
) -> Result<(JigdoRpm, PayloadReader<R>, String, bool)> {
    let path = path.to_path_buf();
    let corrupt = |reason: String| UnpackError::Corrupt {
        path: path.clone(),
        reason,
    };
    // The format version, before anything else.
    let versions: Vec<&str> = header
        .provides
        .iter()
        .map(|p| p.name.as_str())
        .filter(|n| n.starts_with(FORMAT_PROVIDE_PREFIX))
        .collect();
    if !versions.iter().any(|v| READ_PROVIDES.contains(v)) {
        return Err(match versions.first() {
            Some(v) => UnpackError::UnsupportedVersion {
                path,
                found: v.to_string(),
                supported: FORMAT_VERSION,
            },
            None => UnpackError::NotJigdo {
                path,
                reason: format!("it has no `Provides: {FORMAT_PROVIDE}`"),
            },
        });
    }
    let commits: Vec<&str> = header
        .provides
        .iter()
        .filter_map(|p| parse_commit_provide(&p.name))
        .collect();
    let commit_hex = match commits.as_slice() {
        [c] => c.to_ascii_lowercase(),
        [] => {
            return Err(UnpackError::NotJigdo {
                path,
                reason: "it has no `Provides: ostree-jigdo-commit(CHECKSUM)`".into(),
            })
        }
        _ => return Err(corrupt("it provides several ostree-jigdo-commit(…)".into())),
    };
    let commit: Checksum = commit_hex
        .parse()
        .map_err(|_| corrupt(format!("bad commit checksum {commit_hex}")))?;
    let pins: Vec<Requirement> = header
        .requires
        .iter()
        .filter(|d| !d.flags.is_rpmlib() && d.flags.comparison() == Some("EQ"))
        .map(|d| Requirement {
            name: d.name.clone(),
            evr: d.evr.clone(),
        })
        .collect();
    let name = header.name.clone();
    let mut payload = PayloadReader::new(header, r)?;
    let (jigdo, reused) = read_payload_head_after(
        &mut payload,
        (&path, file_size),
        (name, commit, "ostree-jigdo-commit"),
        |p| PayloadFile::parse(p, &commit_hex),
        start,
    )?;
    check_pins(&jigdo.index, &pins).map_err(corrupt)?;
    Ok((jigdo, payload, commit_hex, reused))
}

/// Opens the RPM at `path` and reads its header: returns the header, the reader
/// positioned at the payload, and the file's size.
pub(crate) fn open_rpm_header(path: &Path) -> Result<(PackageHeader, BufReader<File>, u64)> {
    let file = File::open(path).at(path)?;
    let file_size = file.metadata().at(path)?.len();
    let mut r = BufReader::with_capacity(256 * 1024, file);
    let header = PackageHeader::read(&mut r, &path.display().to_string())?;
    Ok((header, r, file_size))
}

/// Reads the head of a jigdo or delta RPM's payload: `0-commit`, `1-commitmeta`
/// (optional) and `2-index`, in that order, each bounded before it is read into memory,
/// and checks them against each other and against the commit the RPM's header provides
/// as `provide(commit)`. `role_of` tells which head file a payload path is (anything else
/// before the index is an error). Returns them as a [`JigdoRpm`] named `name`, with the
/// header's epoch, version, release and arch and the file at `path` of `file_size` bytes.
pub(crate) fn read_payload_head<R: Read>(
    payload: &mut PayloadReader<R>,
    (path, file_size): (&Path, u64),
    name: String,
    commit: Checksum,
    provide: &str,
    role_of: impl Fn(&str) -> Option<PayloadFile>,
) -> Result<JigdoRpm> {
    let head = (name, commit, provide);
    Ok(read_payload_head_after(payload, (path, file_size), head, role_of, None)?.0)
}

/// [`read_payload_head`], taking the index `start` decoded (a jigdo RPM read before,
/// e.g. the same file's start) when `2-index` is the same bytes as `start`'s, instead of
/// decoding it again; everything is read and checked all the same (`2-index` against
/// the header's digest, the index against the commit). Also says whether it was taken.
fn read_payload_head_after<R: Read>(
    payload: &mut PayloadReader<R>,
    (path, file_size): (&Path, u64),
    (name, commit, provide): (String, Checksum, &str),
    role_of: impl Fn(&str) -> Option<PayloadFile>,
    start: Option<JigdoRpm>,
) -> Result<(JigdoRpm, bool)> {
    let header = payload.header();
    let (epoch, version, release, arch) = (
        header.epoch,
        header.version.clone(),
        header.release.clone(),
        header.arch.clone(),
    );
    let corrupt = |reason: String| UnpackError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let mut commit_bytes = None;
    let mut commitmeta = None;
    let mut index_data = None;
    let mut last_order = -1;
    while index_data.is_none() {
        let Some(mut entry) = payload.next_entry()? else {
            break;
        };
        let info = entry.info().clone();
        if entry.file().is_dir() {
            continue;
        }
        let (slot, limit, order) = match role_of(&info.path) {
            Some(PayloadFile::Commit) => (&mut commit_bytes, MAX_SMALL_FILE, 0),
            Some(PayloadFile::CommitMeta) => (&mut commitmeta, MAX_SMALL_FILE, 1),
            Some(PayloadFile::Index) => (&mut index_data, MAX_INDEX_FILE, 2),
            _ => {
                return Err(corrupt(format!(
                    "unexpected payload file {} before the index",
                    info.path
                )))
            }
        };
        if order <= last_order || (order > 0 && last_order < 0) {
            return Err(corrupt(format!("payload file {} out of order", info.path)));
        }
        if !entry.file().is_regular() || info.size > limit {
            return Err(corrupt(format!(
                "payload file {} is not a regular file of at most {limit} bytes",
                info.path
            )));
        }
        let mut buf = Vec::with_capacity(info.size as usize);
        entry.read_to_end(&mut buf).map_err(|e| {
            // The package's own error (a digest mismatch, a truncated payload) as such.
            let msg = format!("reading {}: {e}", info.path);
            match e.into_inner().map(|i| i.downcast::<rpm_package::Error>()) {
                Some(Ok(r)) => UnpackError::Rpm(*r),
                _ => corrupt(msg),
            }
        })?;
        *slot = Some(buf);
        last_order = order;
    }
    let (Some(commit_bytes), Some(index_data)) = (commit_bytes, index_data) else {
        return Err(corrupt("the payload lacks 0-commit or 2-index".to_string()));
    };

    if Checksum::of_bytes(&commit_bytes) != commit {
        return Err(corrupt(format!(
            "0-commit has SHA-256 {}, but the RPM provides {provide}({commit})",
            Checksum::of_bytes(&commit_bytes)
        )));
    }
    let commit_object = Commit::decode(&commit_bytes)
        .map_err(|e| corrupt(format!("0-commit is not a commit object: {e}")))?;
    if let Some(m) = &commitmeta {
        ostree_store::parse_metadata(m)
            .map_err(|e| corrupt(format!("1-commitmeta is not a{{sv}} metadata: {e}")))?;
    }
    let (index, reused) = match start {
        Some(s) if s.index_zstd == index_data => (s.index, true),
        _ => (
            Index::decode(&index_data).map_err(|e| match e {
                FormatError::UnsupportedVersion { found, supported } => {
                    UnpackError::UnsupportedVersion {
                        path: path.to_path_buf(),
                        found: format!("index version {found}"),
                        supported,
                    }
                }
                source => UnpackError::Format {
                    path: path.to_path_buf(),
                    source,
                },
            })?,
            false,
        ),
    };
    if index.commit != commit.0 {
        return Err(corrupt(format!(
            "the index is for commit {}, the RPM for {commit}",
            index.commit_hex()
        )));
    }
    let jigdo = JigdoRpm {
        path: path.to_path_buf(),
        file_size,
        name,
        epoch,
        version,
        release,
        arch,
        commit,
        commit_bytes,
        commit_object,
        commitmeta,
        index,
        index_bytes: index_data.len() as u64,
        index_zstd: index_data,
    };
    Ok((jigdo, reused))
}

/// Checks that the `Requires:` pins and the index's package set name exactly the same
/// packages, each once.
fn check_pins(index: &Index, pins: &[Requirement]) -> std::result::Result<(), String> {
    let mut from_index: HashMap<Requirement, usize> = HashMap::new();
    for (i, p) in index.packages.iter().enumerate() {
        if from_index.insert(p.requirement(), i).is_some() {
            return Err(format!("the index lists {} twice", p.requirement()));
        }
    }
    let mut seen = vec![false; index.packages.len()];
    for r in pins {
        match from_index.get(r) {
            Some(&i) if !seen[i] => seen[i] = true,
            Some(_) => return Err(format!("`Requires: {r}` is given twice")),
            None => return Err(format!("`Requires: {r}` pins no package of the index")),
        }
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        return Err(format!(
            "package {} of the index has no `Requires: {}`",
            index.packages[i].nevra(),
            index.packages[i].requirement()
        ));
    }
    Ok(())
}

/// The new-content blobs that follow the index in a jigdo RPM's payload, read from the
/// file opened by [`JigdoRpm::open_with_blobs`]. The payload reader checks the header's
/// file digests and the payload's digest; a blob whose header digest is a SHA-256 equal
/// to the index's is checked against the index by that alone (the same hash of the same
/// bytes), any other blob is hashed here.
pub struct BlobStream {
    path: PathBuf,
    commit_hex: String,
    payload: Payload,
    blobs: Vec<u32>,
}

impl BlobStream {
    /// Calls `visit(blob number, new-content number, reader)` for every blob in payload
    /// order, then reads the payload to its end (so its digests are verified). Each blob's
    /// size and SHA-256 are checked against the index as it is read: `visit` must read
    /// its reader to the end, and an error surfaces from that read or right after
    /// `visit` (when `visit` fails after its reader failed, the reader's error, naming
    /// the jigdo RPM, is returned). Fails if a blob is missing, out of order, or an
    /// unexpected file appears.
    pub fn for_each_blob(
        mut self,
        mut visit: impl FnMut(u32, u32, &mut dyn BufRead, u64) -> Result<()>,
        index: &Index,
    ) -> Result<()> {
        let corrupt = |reason: String| UnpackError::Corrupt {
            path: self.path.clone(),
            reason,
        };
        let mut next = 0u32;
        while let Some(mut entry) = self.payload.next_entry()? {
            if entry.file().is_dir() {
                continue;
            }
            let info = entry.info().clone();
            let n = match PayloadFile::parse(&info.path, &self.commit_hex) {
                Some(PayloadFile::Content(n)) => n,
                _ => return Err(corrupt(format!("unexpected payload file {}", info.path))),
            };
            if n != next {
                return Err(corrupt(format!(
                    "payload file {} out of order (expected blob {next})",
                    info.path
                )));
            }
            let Some(&entry_no) = self.blobs.get(n as usize) else {
                return Err(corrupt(format!(
                    "payload file {} is not in the index ({} blobs)",
                    info.path,
                    self.blobs.len()
                )));
            };
            let Some(NewContent::Blob { size, sha256 }) = index.new_contents.get(entry_no as usize)
            else {
                return Err(corrupt(format!("blob {n} has no index entry")));
            };
            if info.size != *size || !entry.file().is_regular() {
                return Err(corrupt(format!(
                    "{} has {} bytes, the index says {size}",
                    info.path, info.size
                )));
            }
            // The header's digest of this file is the index's SHA-256: the payload
            // reader's check of it (when the entry is read to its end) is this check.
            let header_checks = entry.file().digest_algorithm
                == rpm_package::DigestAlgorithm::Sha256
                && entry.file().digest == sha256[..];
            let mut checked = Sha256Reader {
                inner: &mut entry,
                sha: (!header_checks).then(<sha2::Sha256 as sha2::Digest>::new),
                len: 0,
                failed: None,
            };
            if let Err(e) = visit(n, entry_no, &mut checked, *size) {
                return Err(match checked.failed.take() {
                    Some(read) => read_error(read, &self.path, &info.path),
                    None => e,
                });
            }
            // Drain what `visit` left (the payload reader checks the header's digest at
            // the end), then compare.
            if let Err(e) = std::io::copy(&mut checked, &mut std::io::sink()) {
                let e = checked.failed.take().unwrap_or(e);
                return Err(read_error(e, &self.path, &info.path));
            }
            let (actual, len) = checked.finish();
            if actual.is_some_and(|a| a != *sha256) || len != *size {
                return Err(corrupt(format!(
                    "{} does not match the index: SHA-256 {}, expected {}",
                    info.path,
                    actual.map_or_else(|| "not computed".into(), hex::encode),
                    hex::encode(sha256)
                )));
            }
            next += 1;
        }
        if (next as usize) != self.blobs.len() {
            return Err(corrupt(format!(
                "the payload has {next} new-content blobs, the index {}",
                self.blobs.len()
            )));
        }
        Ok(())
    }
}

/// The error of reading payload file `file` of the jigdo RPM at `path`: the package's
/// own error (a digest mismatch, a truncated payload) as such, else an I/O error.
fn read_error(e: std::io::Error, path: &Path, file: &str) -> UnpackError {
    let reason = format!("reading {file}: {e}");
    match e.into_inner().map(|i| i.downcast::<rpm_package::Error>()) {
        Some(Ok(r)) => UnpackError::Rpm(*r),
        _ => UnpackError::Corrupt {
            path: path.to_path_buf(),
            reason,
        },
    }
}

/// Counts what is read through it, hashes it when it has a hasher, and keeps the first
/// read error (for [`BlobStream::for_each_blob`] to report it as such).
struct Sha256Reader<'a, R: Read> {
    inner: &'a mut R,
    sha: Option<sha2::Sha256>,
    len: u64,
    failed: Option<std::io::Error>,
}

impl<R: Read> Sha256Reader<'_, R> {
    fn finish(self) -> (Option<[u8; 32]>, u64) {
        (self.sha.map(|s| sha2::Digest::finalize(s).into()), self.len)
    }
}

impl<R: BufRead> Sha256Reader<'_, R> {
    /// Keeps the first error of the inner reader and gives the caller a copy of it.
    fn failed(&mut self, e: std::io::Error) -> std::io::Error {
        let copy = std::io::Error::new(e.kind(), e.to_string());
        if e.kind() != std::io::ErrorKind::Interrupted {
            self.failed.get_or_insert(e);
        }
        copy
    }
}

/// The inner reader's buffers as they are, hashed and counted as they are consumed.
impl<R: BufRead> BufRead for Sha256Reader<'_, R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if let Err(e) = self.inner.fill_buf() {
            return Err(self.failed(e));
        }
        // Buffered now: given again without reading.
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if let Some(sha) = &mut self.sha {
            // The bytes fill_buf gave, still buffered: no reading happens here.
            if let Ok(buf) = self.inner.fill_buf() {
                sha2::Digest::update(sha, &buf[..n.min(buf.len())]);
            }
        }
        self.len += n as u64;
        self.inner.consume(n);
    }
}

impl<R: Read> Read for Sha256Reader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) => {
                // The caller's copy of it (kind and message); the error itself is kept.
                let copy = std::io::Error::new(e.kind(), e.to_string());
                if e.kind() != std::io::ErrorKind::Interrupted {
                    self.failed.get_or_insert(e);
                }
                return Err(copy);
            }
        };
        if let Some(sha) = &mut self.sha {
            sha2::Digest::update(sha, &buf[..n]);
        }
        self.len += n as u64;
        Ok(n)
    }
}
