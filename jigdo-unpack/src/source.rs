//! Where the pinned packages come from.
//!
//! [`PackageFiles`] is what an unpack reads packages through: it locates every package
//! before anything is written, then opens each one checked against its pin.
//!
//! - [`Sources`] (`jigdo unpack --from DIR`): [`PackageSource`]s that only propose
//!   *candidate files*; nothing of a candidate is trusted: [`Sources::open_verified`]
//!   checks its size and SHA-256 against the pin before any other code reads a byte of it.
//! - [`HandedOver`] (`jigdo install`): the files a caller already has for each pin,
//!   either verified by it (a download checked while it was fetched into a directory
//!   only jigdo writes — opened without hashing it again) or candidates that are
//!   checked when opened.
//! - [`Arrivals`] (`jigdo install`, pipelined): the same, handed over one by one while
//!   they are downloaded; an unpack imports each as soon as it is there.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};

use jigdo_format::PinnedPackage;
use sha2::{Digest, Sha256};

use crate::error::{IoContext, Result, UnpackError};

/// How an unpack finds and opens the package files it reads.
pub trait PackageFiles: Sync {
    /// Finds `pkg` without reading its content. A package found nowhere fails here,
    /// naming it, before anything is written. (Files that arrive while the unpack runs,
    /// [`Arrivals`], are not located in advance: this then finds nothing and succeeds.)
    fn locate(&self, pkg: &PinnedPackage) -> Result<Located>;
    /// Opens the file of `pkg` that `located` names, with the pin's exact bytes: the
    /// open file positioned at its start, or the bytes read while they were checked.
    /// Returns them and the file's path.
    fn open(&self, pkg: &PinnedPackage, located: &Located) -> Result<(PackageContent, PathBuf)>;
    /// Which of `pending` (not empty, in the caller's order of preference) to open next:
    /// its position. Files that are all there from the start answer 0, the caller's
    /// first choice; files that arrive over time wait until one of `pending` is there
    /// (the first that is), or until no more will come (then one that never came, if
    /// any, so that opening it fails at once).
    fn next_ready(&self, pending: &[&PinnedPackage]) -> usize {
        let _ = pending;
        0
    }
    /// Waits until no more files will arrive, and fails if their provider gave up: the
    /// unpack asks this last, before it commits anything. Files that are all there from
    /// the start are settled at once.
    fn settled(&self) -> Result<()> {
        Ok(())
    }
}

/// A package file [`PackageFiles::open`] checked against its pin.
#[derive(Debug)]
pub enum PackageContent {
    /// The open file, positioned at its start.
    File(File),
    /// The file's bytes, read whole as its SHA-256 was checked (packages of up to
    /// [`IN_MEMORY_PACKAGE_MAX`] bytes): what was hashed is what is read, in one pass.
    Bytes(Vec<u8>),
}

/// Packages up to this size are read into memory whole as their pin is checked
/// ([`PackageContent::Bytes`]), instead of hashed, then read again.
pub const IN_MEMORY_PACKAGE_MAX: u64 = 4 << 20;

/// Buffers of [`PackageContent::Bytes`] given back once read ([`keep_package_bytes`]),
/// for the next package: a fresh one faults its pages in anew each time.
static PACKAGE_BUFFERS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// Most package buffers kept (one per import running at once on two cores).
const PACKAGE_BUFFERS_KEPT: usize = 2;

/// Gives the buffer of a [`PackageContent::Bytes`] back for the next package read into
/// memory, once its bytes are no longer needed.
pub fn keep_package_bytes(bytes: Vec<u8>) {
    if bytes.capacity() > IN_MEMORY_PACKAGE_MAX as usize {
        if let Ok(mut kept) = PACKAGE_BUFFERS.lock() {
            if kept.len() < PACKAGE_BUFFERS_KEPT {
                kept.push(bytes);
            }
        }
    }
}

/// A place that may hold pinned packages.
pub trait PackageSource: Send + Sync {
    /// How the source is named in messages (its path or URL).
    fn describe(&self) -> String;
    /// Local files that may be `pkg`, best first. Cheap: no file content is read.
    fn candidates(&self, pkg: &PinnedPackage) -> Result<Vec<PathBuf>>;
}

/// The file name rpm gives a package: `NAME-VERSION-RELEASE.ARCH.rpm`.
pub fn package_file_name(pkg: &PinnedPackage) -> String {
    format!(
        "{}-{}-{}.{}.rpm",
        pkg.name, pkg.version, pkg.release, pkg.arch
    )
}

/// A local directory searched recursively for `*.rpm` files; this also covers a local
/// rpm-md repository (its packages lie under its directory). Candidates are the files
/// named like the package, then any other `.rpm` of exactly the pinned size (so renamed
/// files are still found; the SHA-256 check decides).
pub struct LocalDir {
    root: PathBuf,
    scan: OnceLock<std::result::Result<DirScan, ScanError>>,
}

/// A failed scan, kept so that every package asking for it gets the same error.
struct ScanError {
    path: PathBuf,
    kind: std::io::ErrorKind,
    message: String,
}

#[derive(Default)]
struct DirScan {
    by_name: HashMap<String, Vec<PathBuf>>,
    by_size: HashMap<u64, Vec<PathBuf>>,
}

impl LocalDir {
    /// A source for the directory `root` (scanned on first use).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalDir {
            root: root.into(),
            scan: OnceLock::new(),
        }
    }

    fn scan(&self) -> Result<&DirScan> {
        let scanned = self.scan.get_or_init(|| {
            let mut s = DirScan::default();
            let failed = |path: &Path, e: &dyn std::fmt::Display, kind| ScanError {
                path: path.to_path_buf(),
                kind,
                message: e.to_string(),
            };
            for entry in walkdir::WalkDir::new(&self.root).follow_links(true) {
                let entry = entry.map_err(|e| {
                    let kind = e.io_error().map_or(std::io::ErrorKind::Other, |x| x.kind());
                    failed(e.path().unwrap_or(&self.root), &e, kind)
                })?;
                let name = entry.file_name().to_string_lossy();
                if !entry.file_type().is_file() || !name.ends_with(".rpm") {
                    continue;
                }
                let size = entry
                    .metadata()
                    .map_err(|e| failed(entry.path(), &e, std::io::ErrorKind::Other))?
                    .len();
                let path = entry.path().to_path_buf();
                s.by_name
                    .entry(name.into_owned())
                    .or_default()
                    .push(path.clone());
                s.by_size.entry(size).or_default().push(path);
            }
            Ok(s)
        });
        scanned.as_ref().map_err(|e| UnpackError::Io {
            path: e.path.clone(),
            source: std::io::Error::new(e.kind, e.message.clone()),
        })
    }
}

impl PackageSource for LocalDir {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn candidates(&self, pkg: &PinnedPackage) -> Result<Vec<PathBuf>> {
        let scan = self.scan()?;
        let mut out: Vec<PathBuf> = scan
            .by_name
            .get(&package_file_name(pkg))
            .cloned()
            .unwrap_or_default();
        if let Some(same_size) = scan.by_size.get(&pkg.size) {
            for p in same_size {
                if !out.contains(p) {
                    out.push(p.clone());
                }
            }
        }
        Ok(out)
    }
}

/// Turns one `--from` argument into a source. Local directories (plain or rpm-md) and
/// `file://` URLs of them are supported; remote URLs are refused with a clear error.
pub fn source_from_arg(arg: &str) -> Result<Box<dyn PackageSource>> {
    let remote = ["http://", "https://", "mirrorlist=", "metalink="];
    if remote.iter().any(|p| arg.starts_with(p)) {
        return Err(UnpackError::BadSource {
            spec: arg.to_string(),
            reason: "remote sources are not supported by `jigdo unpack`; use `jigdo install`, \
                     or download the packages and give a local directory",
        });
    }
    let path = Path::new(arg.strip_prefix("file://").unwrap_or(arg));
    let meta = std::fs::metadata(path).at(path)?;
    if !meta.is_dir() {
        return Err(UnpackError::BadSource {
            spec: path.display().to_string(),
            reason: "not a directory",
        });
    }
    Ok(Box::new(LocalDir::new(path)))
}

/// A located package: the candidates that passed the cheap checks, and why others failed.
#[derive(Debug, Clone)]
pub struct Located {
    /// Candidate files of the pinned size, best first.
    pub candidates: Vec<PathBuf>,
    /// Rejected candidates with the reason.
    pub rejected: Vec<(PathBuf, String)>,
}

/// The ordered list of sources given with `--from`.
pub struct Sources {
    list: Vec<Box<dyn PackageSource>>,
}

impl Sources {
    /// Sources tried in the given order.
    pub fn new(list: Vec<Box<dyn PackageSource>>) -> Self {
        Sources { list }
    }

    /// Builds the sources from `--from` arguments.
    pub fn from_args<S: AsRef<str>>(args: &[S]) -> Result<Self> {
        let list = args
            .iter()
            .map(|a| source_from_arg(a.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Sources { list })
    }

    /// The sources as a comma-separated list for messages.
    pub fn describe(&self) -> String {
        let names: Vec<String> = self.list.iter().map(|s| s.describe()).collect();
        if names.is_empty() {
            "no sources given".into()
        } else {
            names.join(", ")
        }
    }

    /// Finds the candidate files of `pkg` whose size matches its pin (no content read).
    /// Fails naming the NEVRA when there is none.
    pub fn locate(&self, pkg: &PinnedPackage) -> Result<Located> {
        let mut located = Located {
            candidates: Vec::new(),
            rejected: Vec::new(),
        };
        for s in &self.list {
            for path in s.candidates(pkg)? {
                match std::fs::metadata(&path) {
                    Ok(m) if m.len() == pkg.size => located.candidates.push(path),
                    Ok(m) => located.rejected.push((
                        path,
                        format!("size {} bytes, the pin says {}", m.len(), pkg.size),
                    )),
                    Err(e) => located.rejected.push((path, e.to_string())),
                }
            }
        }
        if located.candidates.is_empty() {
            return Err(self.missing(pkg, &located.rejected));
        }
        Ok(located)
    }

    fn missing(&self, pkg: &PinnedPackage, rejected: &[(PathBuf, String)]) -> UnpackError {
        let detail = if rejected.is_empty() {
            String::new()
        } else {
            let r: Vec<String> = rejected
                .iter()
                .map(|(p, why)| format!("{}: {why}", p.display()))
                .collect();
            format!("; rejected: {}", r.join("; "))
        };
        UnpackError::PackageMissing {
            nevra: pkg.nevra(),
            id: pkg.id_hex(),
            sources: self.describe(),
            detail,
        }
    }

    /// Opens the first candidate whose SHA-256 equals the pin, positioned at its start.
    /// Returns the open file (the very file that was hashed, so it cannot be swapped
    /// afterwards), or for a small package the very bytes that were hashed
    /// ([`PackageContent`]), and its path. A single rejected candidate is reported as a pin
    /// mismatch naming the file; several as a missing package listing them.
    pub fn open_verified(
        &self,
        pkg: &PinnedPackage,
        located: &Located,
    ) -> Result<(PackageContent, PathBuf)> {
        let mut rejected = located.rejected.clone();
        for path in &located.candidates {
            match verify_pin_content(path, pkg) {
                Ok(f) => return Ok((f, path.clone())),
                Err(UnpackError::PinMismatch { reason, .. }) => {
                    rejected.push((path.clone(), reason))
                }
                Err(e) => return Err(e),
            }
        }
        if let [(path, reason)] = rejected.as_slice() {
            return Err(UnpackError::PinMismatch {
                path: path.clone(),
                nevra: pkg.nevra(),
                reason: reason.clone(),
            });
        }
        Err(self.missing(pkg, &rejected))
    }
}

impl PackageFiles for Sources {
    fn locate(&self, pkg: &PinnedPackage) -> Result<Located> {
        Sources::locate(self, pkg)
    }
    fn open(&self, pkg: &PinnedPackage, located: &Located) -> Result<(PackageContent, PathBuf)> {
        self.open_verified(pkg, located)
    }
}

/// How a handed-over file was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checked {
    /// Its size and SHA-256 were checked against the pin by the caller, in a place only
    /// jigdo writes: opening it checks the size only.
    Verified,
    /// Not (or not durably) checked: its SHA-256 is checked when it is opened.
    Candidate,
}

/// The package files a caller hands over, one per pin (by package id): what
/// `jigdo install` downloaded and verified, so that an unpack neither searches nor hashes
/// them again.
#[derive(Debug, Default)]
pub struct HandedOver {
    files: HashMap<[u8; 32], (PathBuf, Checked)>,
}

impl HandedOver {
    /// No files yet.
    pub fn new() -> Self {
        HandedOver::default()
    }

    /// Hands over `path` as the file of `pkg`, which the caller has checked against the
    /// pin (size and SHA-256) in a directory that nobody else writes.
    pub fn insert_verified(&mut self, pkg: &PinnedPackage, path: PathBuf) {
        self.files.insert(pkg.id, (path, Checked::Verified));
    }

    /// Hands over `path` as a candidate for `pkg`: its SHA-256 is checked when it is
    /// opened (for files in directories others may write).
    pub fn insert_candidate(&mut self, pkg: &PinnedPackage, path: PathBuf) {
        self.files.insert(pkg.id, (path, Checked::Candidate));
    }

    /// Number of files handed over.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file was handed over.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    fn get(&self, pkg: &PinnedPackage) -> Result<&(PathBuf, Checked)> {
        self.files
            .get(&pkg.id)
            .ok_or_else(|| UnpackError::PackageMissing {
                nevra: pkg.nevra(),
                id: pkg.id_hex(),
                sources: "the files handed over".into(),
                detail: String::new(),
            })
    }
}

impl PackageFiles for HandedOver {
    fn locate(&self, pkg: &PinnedPackage) -> Result<Located> {
        let (path, _) = self.get(pkg)?;
        Ok(Located {
            candidates: vec![path.clone()],
            rejected: Vec::new(),
        })
    }

    fn open(&self, pkg: &PinnedPackage, _located: &Located) -> Result<(PackageContent, PathBuf)> {
        let (path, checked) = self.get(pkg)?;
        if *checked == Checked::Candidate {
            return Ok((verify_pin_content(path, pkg)?, path.clone()));
        }
        let f = File::open(path).at(path)?;
        let size = f.metadata().at(path)?.len();
        if size != pkg.size {
            return Err(UnpackError::PinMismatch {
                path: path.clone(),
                nevra: pkg.nevra(),
                reason: format!("size {size} bytes, the pin says {}", pkg.size),
            });
        }
        Ok((PackageContent::File(f), path.clone()))
    }
}

/// Package files that arrive while an unpack runs (`jigdo install` downloading them):
/// the downloading thread hands each over as soon as it is in place and verified
/// ([`Arrivals::insert_verified`], [`Arrivals::insert_candidate`], the same rules as
/// [`HandedOver`]) and [`Arrivals::close`]s when it is done, whether every file came or
/// not. Opening a package waits for it; one that has not come when the arrivals are
/// closed is missing.
#[derive(Default)]
pub struct Arrivals {
    state: Mutex<ArrivalState>,
    changed: Condvar,
}

#[derive(Default)]
struct ArrivalState {
    files: HandedOver,
    closed: bool,
    /// Why the provider gave up, if it did.
    failed: Option<String>,
}

impl Arrivals {
    /// Nothing arrived yet.
    pub fn new() -> Self {
        Arrivals::default()
    }

    fn state(&self) -> MutexGuard<'_, ArrivalState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn arrive(&self, add: impl FnOnce(&mut HandedOver)) {
        let mut s = self.state();
        if !s.closed {
            add(&mut s.files);
        }
        drop(s);
        self.changed.notify_all();
    }

    /// `path` arrived as the file of `pkg`, checked against the pin (size and SHA-256)
    /// by the caller in a directory nobody else writes ([`HandedOver::insert_verified`]).
    /// Ignored once closed.
    pub fn insert_verified(&self, pkg: &PinnedPackage, path: PathBuf) {
        self.arrive(|f| f.insert_verified(pkg, path));
    }

    /// `path` arrived as a candidate for `pkg`, checked when it is opened
    /// ([`HandedOver::insert_candidate`]). Ignored once closed.
    pub fn insert_candidate(&self, pkg: &PinnedPackage, path: PathBuf) {
        self.arrive(|f| f.insert_candidate(pkg, path));
    }

    /// No more files will arrive: whoever waits for one that did not is woken and
    /// finds it missing.
    pub fn close(&self) {
        self.state().closed = true;
        self.changed.notify_all();
    }

    /// No more files will arrive and the provider gave up for `reason`: whoever waits
    /// is woken, and an unpack reading these files commits nothing
    /// ([`PackageFiles::settled`] fails). The first reason given is kept.
    pub fn fail(&self, reason: String) {
        let mut s = self.state();
        s.closed = true;
        s.failed.get_or_insert(reason);
        drop(s);
        self.changed.notify_all();
    }

    /// Number of files arrived so far.
    pub fn len(&self) -> usize {
        self.state().files.len()
    }

    /// Whether no file arrived yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Why the provider gave up, if it did.
    fn failure(&self) -> Option<UnpackError> {
        let reason = self.state().failed.clone()?;
        Some(UnpackError::ArrivalsFailed { reason })
    }

    /// Waits until `ready` gives an answer from the files arrived and whether the
    /// arrivals are closed (it must answer once they are).
    fn wait_until<T>(&self, ready: impl Fn(&HandedOver, bool) -> Option<T>) -> T {
        let mut s = self.state();
        loop {
            if let Some(v) = ready(&s.files, s.closed) {
                return v;
            }
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl PackageFiles for Arrivals {
    fn locate(&self, _pkg: &PinnedPackage) -> Result<Located> {
        // Not there yet, perhaps: `open` waits for it.
        Ok(Located {
            candidates: Vec::new(),
            rejected: Vec::new(),
        })
    }

    fn open(&self, pkg: &PinnedPackage, located: &Located) -> Result<(PackageContent, PathBuf)> {
        let arrived = self.wait_until(|f, closed| match f.files.get(&pkg.id) {
            Some(entry) => Some(Some(entry.clone())),
            None => closed.then_some(None),
        });
        let mut one = HandedOver::new();
        match arrived {
            Some(entry) => {
                one.files.insert(pkg.id, entry);
                one.open(pkg, located)
            }
            None => Err(self
                .failure()
                .unwrap_or_else(|| UnpackError::PackageMissing {
                    nevra: pkg.nevra(),
                    id: pkg.id_hex(),
                    sources: "the downloads".into(),
                    detail: "; it had not arrived when they ended".into(),
                })),
        }
    }

    fn settled(&self) -> Result<()> {
        self.wait_until(|_, closed| closed.then_some(()));
        match self.failure() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The first of `pending` that arrived; once closed, the first that never did (so
    /// that the unpack stops at once), else the first.
    fn next_ready(&self, pending: &[&PinnedPackage]) -> usize {
        self.wait_until(|f, closed| {
            let arrived = |p: &&PinnedPackage| f.files.contains_key(&p.id);
            if closed {
                Some(pending.iter().position(|p| !arrived(p)).unwrap_or(0))
            } else {
                pending.iter().position(arrived)
            }
        })
    }
}

/// Opens `path` and checks its size and SHA-256 against the pin of `pkg`; on success the
/// file is rewound to its start. (Logged at debug level, `package hashed`, so that a run
/// can be checked to hash each package once.)
pub fn verify_pin(path: &Path, pkg: &PinnedPackage) -> Result<File> {
    tracing::debug!(package = %pkg.nevra(), path = %path.display(), "package hashed");
    let mut f = File::open(path).at(path)?;
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = read_some(&mut f, &mut buf, path)?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        size += n as u64;
    }
    check_pin(path, pkg, size, sha)?;
    f.seek(SeekFrom::Start(0)).at(path)?;
    Ok(f)
}

/// Like [`verify_pin`], but a package of up to [`IN_MEMORY_PACKAGE_MAX`] bytes is read
/// into memory, in one pass with its hashing, and its bytes are returned instead of the
/// file (a file longer than the pin's size fails the check without being read on).
pub fn verify_pin_content(path: &Path, pkg: &PinnedPackage) -> Result<PackageContent> {
    if pkg.size > IN_MEMORY_PACKAGE_MAX {
        return verify_pin(path, pkg).map(PackageContent::File);
    }
    tracing::debug!(package = %pkg.nevra(), path = %path.display(), "package hashed");
    let f = File::open(path).at(path)?;
    let want = usize::try_from(pkg.size).unwrap_or(0);
    // One byte more than the pin's size, to see a longer file (not read on); in a kept
    // buffer (room for the biggest) when there is one.
    let mut bytes = PACKAGE_BUFFERS
        .lock()
        .ok()
        .and_then(|mut kept| kept.pop())
        .unwrap_or_else(|| Vec::with_capacity(IN_MEMORY_PACKAGE_MAX as usize + 1));
    bytes.clear();
    bytes.resize(want + 1, 0);
    let mut filled = 0;
    let mut sha = Sha256::new();
    while filled < bytes.len() {
        let end = (filled + HASH_PIECE).min(bytes.len());
        let n = read_some(&mut &f, &mut bytes[filled..end], path)?;
        if n == 0 {
            break;
        }
        // Each piece hashed just after it is read, while it is in the cache.
        sha.update(&bytes[filled..filled + n]);
        filled += n;
    }
    let size = if filled > want {
        f.metadata().at(path)?.len()
    } else {
        filled as u64
    };
    check_pin(path, pkg, size, sha)?;
    bytes.truncate(filled);
    Ok(PackageContent::Bytes(bytes))
}

/// One `read` of the file at `path` into `buf` (0 at its end), retried when a signal
/// interrupts it.
fn read_some(f: &mut impl Read, buf: &mut [u8], path: &Path) -> Result<usize> {
    loop {
        match f.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r.at(path),
        }
    }
}

/// Bytes of a package read, then hashed, at a time by [`verify_pin_content`].
const HASH_PIECE: usize = 256 * 1024;

/// Checks the `size` and SHA-256 (`sha`, fed with every byte) of the file at `path`
/// against the pin of `pkg`.
fn check_pin(path: &Path, pkg: &PinnedPackage, size: u64, sha: Sha256) -> Result<()> {
    let mismatch = |reason: String| UnpackError::PinMismatch {
        path: path.to_path_buf(),
        nevra: pkg.nevra(),
        reason,
    };
    if size != pkg.size {
        return Err(mismatch(format!(
            "size {size} bytes, the pin says {}",
            pkg.size
        )));
    }
    let actual: [u8; 32] = sha.finalize().into();
    if actual != pkg.id {
        return Err(mismatch(format!(
            "SHA-256 {}, the pin says {}",
            hex::encode(actual),
            pkg.id_hex()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin_for(bytes: &[u8], name: &str) -> PinnedPackage {
        crate::test_support::pin(
            name,
            "1.0",
            Sha256::digest(bytes).into(),
            bytes.len() as u64,
        )
    }

    /// A small package comes back as the very bytes hashed; a file of other bytes, or
    /// longer or shorter than the pin, is refused (the longer one named by its real
    /// size, not read past the pin's); a big one comes back open at its start.
    #[test]
    fn small_packages_are_read_into_memory_as_their_pin_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        // Several read pieces and a partial one.
        let good: Vec<u8> = (0..HASH_PIECE * 2 + 1000)
            .map(|i| (i % 251) as u8)
            .collect();
        let pin = pin_for(&good, "foo");
        let path = dir.path().join("foo.rpm");
        std::fs::write(&path, &good).unwrap();
        match verify_pin_content(&path, &pin).unwrap() {
            PackageContent::Bytes(b) => {
                assert!(b == good);
                // Its buffer kept: the next package read into it holds only its own bytes.
                keep_package_bytes(b);
            }
            PackageContent::File(_) => panic!("a small package should be read into memory"),
        }
        std::fs::write(&path, b"tiny").unwrap();
        match verify_pin_content(&path, &pin_for(b"tiny", "tiny")).unwrap() {
            PackageContent::Bytes(b) => assert_eq!(b, b"tiny"),
            PackageContent::File(_) => panic!("a small package should be read into memory"),
        }
        let mut other = good.clone();
        other[HASH_PIECE + 3] ^= 1;
        std::fs::write(&path, &other).unwrap();
        let err = verify_pin_content(&path, &pin).unwrap_err().to_string();
        assert!(err.contains("SHA-256"), "{err}");
        let mut longer = good.clone();
        longer.extend_from_slice(&[7; 5000]);
        std::fs::write(&path, &longer).unwrap();
        let err = verify_pin_content(&path, &pin).unwrap_err().to_string();
        assert!(
            err.contains(&format!("size {} bytes", longer.len())),
            "{err}"
        );
        std::fs::write(&path, &good[..good.len() - 1]).unwrap();
        let err = verify_pin_content(&path, &pin).unwrap_err().to_string();
        assert!(
            err.contains(&format!("size {} bytes", good.len() - 1)),
            "{err}"
        );

        let big: Vec<u8> = (0..IN_MEMORY_PACKAGE_MAX + 1)
            .map(|i| (i % 13) as u8)
            .collect();
        std::fs::write(&path, &big).unwrap();
        match verify_pin_content(&path, &pin_for(&big, "big")).unwrap() {
            PackageContent::File(mut f) => {
                let mut head = [0u8; 4];
                f.read_exact(&mut head).unwrap();
                assert_eq!(head, [0, 1, 2, 3]);
            }
            PackageContent::Bytes(_) => panic!("a big package should stay on disk"),
        }
    }

    #[test]
    fn finds_by_name_and_by_size_and_checks_the_pin() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/foo-1.0-1.noarch.rpm"), b"foo bytes").unwrap();
        std::fs::write(dir.path().join("renamed.rpm"), b"bar bytes").unwrap();
        let sources = Sources::new(vec![Box::new(LocalDir::new(dir.path()))]);

        let foo = pin_for(b"foo bytes", "foo");
        let loc = sources.locate(&foo).unwrap();
        let (_, path) = sources.open_verified(&foo, &loc).unwrap();
        assert!(path.ends_with("a/b/foo-1.0-1.noarch.rpm"));

        // Found by size although renamed; both same-size files are candidates, the
        // SHA-256 picks the right one.
        let bar = pin_for(b"bar bytes", "bar");
        let loc = sources.locate(&bar).unwrap();
        let (_, path) = sources.open_verified(&bar, &loc).unwrap();
        assert!(path.ends_with("renamed.rpm"));

        // Missing: names the NEVRA.
        let baz = pin_for(b"something else entirely", "baz");
        let err = sources.locate(&baz).unwrap_err().to_string();
        assert!(err.contains("baz-1.0-1.noarch"), "{err}");
    }

    #[test]
    fn replaced_bytes_under_the_pinned_name_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("foo-1.0-1.noarch.rpm"), b"evil byte").unwrap();
        let sources = Sources::new(vec![Box::new(LocalDir::new(dir.path()))]);
        let foo = pin_for(b"foo bytes", "foo"); // same size, other bytes
        let loc = sources.locate(&foo).unwrap();
        let err = sources.open_verified(&foo, &loc).unwrap_err();
        assert!(matches!(err, UnpackError::PinMismatch { .. }), "{err}");
        assert!(err.to_string().contains("foo-1.0-1.noarch"), "{err}");
        assert!(err.to_string().contains("SHA-256"), "{err}");
    }

    #[test]
    fn arrivals_wait_for_a_package_and_take_the_first_ready_one() {
        let dir = tempfile::tempdir().unwrap();
        let (big, small) = (pin_for(b"big package", "big"), pin_for(b"small", "small"));
        std::fs::write(dir.path().join("big.rpm"), b"big package").unwrap();
        std::fs::write(dir.path().join("small.rpm"), b"small").unwrap();
        let arrivals = Arrivals::new();
        let none = Located {
            candidates: Vec::new(),
            rejected: Vec::new(),
        };
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                // Nothing there yet: waits; then the one that came, though listed second.
                let k = arrivals.next_ready(&[&big, &small]);
                let (content, path) = arrivals.open(&small, &none).unwrap();
                // A verified arrival is handed over as its open file.
                let mut bytes = Vec::new();
                match content {
                    PackageContent::Bytes(b) => bytes = b,
                    PackageContent::File(f) => {
                        (&f).read_to_end(&mut bytes).unwrap();
                    }
                }
                (k, path, bytes)
            });
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(!waiter.is_finished(), "it must wait while nothing arrived");
            arrivals.insert_verified(&small, dir.path().join("small.rpm"));
            let (k, path, bytes) = waiter.join().unwrap();
            assert_eq!(k, 1);
            assert!(path.ends_with("small.rpm"));
            assert_eq!(bytes, b"small");
        });
        // Both there: the caller's first choice.
        arrivals.insert_verified(&big, dir.path().join("big.rpm"));
        assert_eq!(arrivals.next_ready(&[&big, &small]), 0);
        assert_eq!(arrivals.len(), 2);
    }

    #[test]
    fn closed_arrivals_wake_the_waiters_and_a_package_that_never_came_is_missing() {
        let arrivals = Arrivals::new();
        let never = pin_for(b"never downloaded", "never");
        let none = Located {
            candidates: Vec::new(),
            rejected: Vec::new(),
        };
        let err = std::thread::scope(|s| {
            let waiter = s.spawn(|| arrivals.open(&never, &none).map(|_| ()));
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(!waiter.is_finished());
            arrivals.close();
            waiter.join().unwrap().unwrap_err()
        });
        assert!(matches!(err, UnpackError::PackageMissing { .. }), "{err}");
        assert!(err.to_string().contains("never-1.0-1.noarch"), "{err}");
        assert_eq!(arrivals.next_ready(&[&never]), 0, "no wait once closed");
        // Closed: one that never came is chosen first, so that the unpack stops at once.
        let dir = tempfile::tempdir().unwrap();
        let came = pin_for(b"came", "came");
        std::fs::write(dir.path().join("came.rpm"), b"came").unwrap();
        let late = Arrivals::new();
        late.insert_verified(&came, dir.path().join("came.rpm"));
        late.close();
        assert_eq!(late.next_ready(&[&came, &never]), 1);
        assert_eq!(late.next_ready(&[&came]), 0);
        // Nothing is taken once closed.
        arrivals.insert_verified(&never, PathBuf::from("/nonexistent"));
        assert!(arrivals.is_empty());
    }

    #[test]
    fn settled_waits_for_the_end_and_fails_when_the_provider_gave_up() {
        let ok = Arrivals::new();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| ok.settled());
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(!waiter.is_finished(), "settled before the arrivals closed");
            ok.close();
            waiter.join().unwrap().unwrap();
        });
        let failed = Arrivals::new();
        let never = pin_for(b"never downloaded", "never");
        failed.fail("the mirror said 404".into());
        failed.fail("a later reason".into());
        let err = failed.settled().unwrap_err();
        assert!(matches!(err, UnpackError::ArrivalsFailed { .. }), "{err}");
        assert!(err.to_string().contains("404"), "{err}");
        let none = Located {
            candidates: Vec::new(),
            rejected: Vec::new(),
        };
        let err = failed.open(&never, &none).unwrap_err();
        assert!(err.to_string().contains("404"), "{err}");
    }

    #[test]
    fn arrived_files_are_checked_against_the_pin_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let foo = pin_for(b"foo bytes", "foo");
        let bar = pin_for(b"bar bytes", "bar");
        std::fs::write(dir.path().join("foo.rpm"), b"evil byte").unwrap(); // same size
        std::fs::write(dir.path().join("bar.rpm"), b"bar").unwrap(); // other size
        let arrivals = Arrivals::new();
        let none = Located {
            candidates: Vec::new(),
            rejected: Vec::new(),
        };
        // A candidate is hashed when opened; a verified file is checked for its size.
        arrivals.insert_candidate(&foo, dir.path().join("foo.rpm"));
        arrivals.insert_verified(&bar, dir.path().join("bar.rpm"));
        let err = arrivals.open(&foo, &none).unwrap_err();
        assert!(err.to_string().contains("SHA-256"), "{err}");
        let err = arrivals.open(&bar, &none).unwrap_err();
        assert!(matches!(err, UnpackError::PinMismatch { .. }), "{err}");
    }

    #[test]
    fn remote_sources_are_refused_clearly() {
        let err = source_from_arg("https://example.org/repo").err().unwrap();
        assert!(err.to_string().contains("not supported"));
    }
}
