//! Package header reading: everything rpm and createrepo_c know about a package without
//! touching its payload.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::digest::DigestAlgorithm;
use crate::error::{io_kind, Error, ErrorKind, Result};
use crate::evr::{nevra, Evr, Relation};
use crate::raw::{Lead, RawHeader, LEAD_SIZE};
use crate::tags;

/// Dependency sense flags (`RPMSENSE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DepFlags(pub u32);

impl DepFlags {
    /// `<`
    pub const LESS: u32 = 1 << 1;
    /// `>`
    pub const GREATER: u32 = 1 << 2;
    /// `=`
    pub const EQUAL: u32 = 1 << 3;
    /// `<=`
    pub const LESS_EQUAL: u32 = Self::LESS | Self::EQUAL;
    /// `>=`
    pub const GREATER_EQUAL: u32 = Self::GREATER | Self::EQUAL;
    /// Legacy PreReq.
    pub const PREREQ: u32 = 1 << 6;
    /// Requires(interp).
    pub const INTERP: u32 = 1 << 8;
    /// Requires(pre).
    pub const SCRIPT_PRE: u32 = 1 << 9;
    /// Requires(post).
    pub const SCRIPT_POST: u32 = 1 << 10;
    /// Requires(preun).
    pub const SCRIPT_PREUN: u32 = 1 << 11;
    /// Requires(postun).
    pub const SCRIPT_POSTUN: u32 = 1 << 12;
    /// Requires(verify).
    pub const SCRIPT_VERIFY: u32 = 1 << 13;
    /// rpmlib(...) dependency.
    pub const RPMLIB: u32 = 1 << 24;
    /// Requires(pretrans).
    pub const PRETRANS: u32 = 1 << 7;
    /// Requires(posttrans).
    pub const POSTTRANS: u32 = 1 << 5;

    /// The version relation these flags carry, if any.
    pub fn relation(self) -> Option<Relation> {
        Relation::from_rpmsense(self.0)
    }

    /// The comparison as rpm-md writes it: `EQ`, `LT`, `LE`, `GT`, `GE`, or None.
    pub fn comparison(self) -> Option<&'static str> {
        self.relation().map(Relation::as_str)
    }

    /// The comparison operator as rpm prints it (`=`, `<`, `<=`, `>`, `>=`), or "".
    pub fn operator(self) -> &'static str {
        self.relation().map_or("", Relation::operator)
    }

    /// Whether a requirement must be satisfied before install scriptlets run
    /// (createrepo_c's `pre="1"`: PreReq, Requires(pre) or Requires(post)).
    pub fn is_pre(self) -> bool {
        self.0 & (Self::PREREQ | Self::SCRIPT_PRE | Self::SCRIPT_POST) != 0
    }

    /// Whether this is an `rpmlib(...)` dependency.
    pub fn is_rpmlib(self) -> bool {
        self.0 & Self::RPMLIB != 0
    }
}

/// One dependency (provide, require, conflict, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// Capability name.
    pub name: String,
    /// Sense flags.
    pub flags: DepFlags,
    /// The EVR string as stored (may be empty).
    pub evr: String,
}

impl Dependency {
    /// The EVR split into epoch, version and release.
    pub fn parsed_evr(&self) -> Evr {
        Evr::parse(&self.evr)
    }
}

impl std::fmt::Display for Dependency {
    /// Formats as `rpm -q --provides` does: `name`, or `name OP evr`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = self.flags.operator();
        if op.is_empty() || self.evr.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{} {} {}", self.name, op, self.evr)
        }
    }
}

/// File attribute flags (`RPMFILE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FileFlags(pub u32);

impl FileFlags {
    /// %config
    pub const CONFIG: u32 = 1;
    /// %doc
    pub const DOC: u32 = 1 << 1;
    /// %missingok
    pub const MISSINGOK: u32 = 1 << 3;
    /// %config(noreplace)
    pub const NOREPLACE: u32 = 1 << 4;
    /// %ghost
    pub const GHOST: u32 = 1 << 6;
    /// %license
    pub const LICENSE: u32 = 1 << 7;
    /// %readme
    pub const README: u32 = 1 << 8;
    /// %artifact
    pub const ARTIFACT: u32 = 1 << 12;

    /// %config
    pub fn is_config(self) -> bool {
        self.0 & Self::CONFIG != 0
    }
    /// %doc
    pub fn is_doc(self) -> bool {
        self.0 & Self::DOC != 0
    }
    /// %ghost
    pub fn is_ghost(self) -> bool {
        self.0 & Self::GHOST != 0
    }
    /// %license
    pub fn is_license(self) -> bool {
        self.0 & Self::LICENSE != 0
    }
}

/// File type bits of a mode.
pub mod mode {
    /// Mask of the type bits.
    pub const S_IFMT: u32 = 0o170000;
    /// Regular file.
    pub const S_IFREG: u32 = 0o100000;
    /// Directory.
    pub const S_IFDIR: u32 = 0o040000;
    /// Symbolic link.
    pub const S_IFLNK: u32 = 0o120000;
}

/// One file of a package, as recorded in the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Absolute path (`/usr/bin/foo`).
    pub path: String,
    /// Mode including file type bits.
    pub mode: u32,
    /// Size in bytes (for symlinks: the target length; for directories: as recorded).
    pub size: u64,
    /// Content digest (empty for non-regular files and when not recorded).
    pub digest: Vec<u8>,
    /// Algorithm of `digest`.
    pub digest_algorithm: DigestAlgorithm,
    /// Owner name.
    pub user: String,
    /// Group name.
    pub group: String,
    /// Attribute flags.
    pub flags: FileFlags,
    /// Symlink target (empty if not a symlink).
    pub link_target: String,
    /// Inode number (unique per hardlink set within the package).
    pub inode: u32,
    /// Device number (with `inode`, identifies a hardlink set).
    pub device: u32,
    /// Device number for device nodes.
    pub rdev: u32,
    /// Modification time (seconds since the epoch).
    pub mtime: u32,
    /// File capabilities in `cap_to_text` form (empty if none).
    pub caps: String,
    /// Language tag (empty if none).
    pub lang: String,
}

impl FileEntry {
    /// Regular file?
    pub fn is_regular(&self) -> bool {
        self.mode & mode::S_IFMT == mode::S_IFREG
    }
    /// Directory?
    pub fn is_dir(&self) -> bool {
        self.mode & mode::S_IFMT == mode::S_IFDIR
    }
    /// Symbolic link?
    pub fn is_symlink(&self) -> bool {
        self.mode & mode::S_IFMT == mode::S_IFLNK
    }
    /// Permission bits (mode & 07777).
    pub fn permissions(&self) -> u32 {
        self.mode & 0o7777
    }
    /// The digest as lowercase hex (empty if none).
    pub fn digest_hex(&self) -> String {
        hex::encode(&self.digest)
    }
}

/// One changelog entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangelogEntry {
    /// Time (seconds since the epoch).
    pub time: u64,
    /// Author line.
    pub author: String,
    /// Text.
    pub text: String,
}

/// Payload compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Uncompressed cpio.
    None,
    /// gzip.
    Gzip,
    /// bzip2.
    Bzip2,
    /// xz.
    Xz,
    /// legacy lzma ("lzma_alone").
    Lzma,
    /// zstd.
    Zstd,
}

impl Compression {
    /// The name as it appears in the PAYLOADCOMPRESSOR tag.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "identity",
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
            Compression::Lzma => "lzma",
            Compression::Zstd => "zstd",
        }
    }

    /// Parse a PAYLOADCOMPRESSOR value.
    pub fn from_tag(s: &str) -> Option<Compression> {
        Some(match s {
            "gzip" => Compression::Gzip,
            "bzip2" => Compression::Bzip2,
            "xz" => Compression::Xz,
            "lzma" => Compression::Lzma,
            "zstd" => Compression::Zstd,
            "identity" | "none" | "" => Compression::None,
            _ => return None,
        })
    }

    /// Detect from the first bytes of the payload.
    pub fn detect(magic: &[u8]) -> Option<Compression> {
        if magic.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if magic.starts_with(b"BZh") {
            Some(Compression::Bzip2)
        } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Compression::Xz)
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if magic.starts_with(b"07070") {
            Some(Compression::None)
        } else if magic.len() >= 3 && magic[0] == 0x5d && magic[1..3] == [0, 0] {
            Some(Compression::Lzma)
        } else {
            None
        }
    }
}

/// Everything the header of a package says, read without touching the payload.
#[derive(Debug, Clone)]
pub struct PackageHeader {
    /// Label used in errors (the file path, or what the caller passed).
    pub label: String,
    /// The lead.
    pub lead: Lead,
    /// Package format: 4 for classic packages, 6 for rpm 6 packages (RPMFORMAT tag).
    pub rpm_format: u32,
    /// Name.
    pub name: String,
    /// Epoch, if the package has one.
    pub epoch: Option<u32>,
    /// Version.
    pub version: String,
    /// Release.
    pub release: String,
    /// Architecture as recorded (source packages record the build arch).
    pub arch: String,
    /// OS.
    pub os: String,
    /// Summary (default locale).
    pub summary: String,
    /// Description (default locale).
    pub description: String,
    /// License.
    pub license: String,
    /// URL.
    pub url: Option<String>,
    /// Vendor.
    pub vendor: Option<String>,
    /// Packager.
    pub packager: Option<String>,
    /// Group.
    pub group: Option<String>,
    /// Build time (seconds since the epoch).
    pub build_time: Option<u64>,
    /// Build host.
    pub build_host: Option<String>,
    /// Source RPM name (absent for source packages).
    pub source_rpm: Option<String>,
    /// Whether this is a source package.
    pub is_source: bool,
    /// Version of rpm that built the package (RPMVERSION tag).
    pub rpm_version: Option<String>,
    /// Byte offset where the main header starts (createrepo_c `rpm:header-range start`).
    pub header_start: u64,
    /// Byte offset where the main header ends and the payload starts
    /// (createrepo_c `rpm:header-range end`).
    pub header_end: u64,
    /// Installed size (LONGSIZE or SIZE).
    pub installed_size: Option<u64>,
    /// Uncompressed payload archive size as recorded.
    pub archive_size: Option<u64>,
    /// Size of header + compressed payload as recorded in the signature header.
    pub signed_size: Option<u64>,
    /// PAYLOADCOMPRESSOR tag (None for very old packages: gzip implied).
    pub payload_compressor: Option<String>,
    /// PAYLOADFORMAT tag (normally "cpio").
    pub payload_format: Option<String>,
    /// PAYLOADFLAGS tag (compression level etc.).
    pub payload_flags: Option<String>,
    /// Changelog, newest first as stored.
    pub changelogs: Vec<ChangelogEntry>,
    /// Provides.
    pub provides: Vec<Dependency>,
    /// Requires (with pre/post flags).
    pub requires: Vec<Dependency>,
    /// Conflicts.
    pub conflicts: Vec<Dependency>,
    /// Obsoletes.
    pub obsoletes: Vec<Dependency>,
    /// Recommends.
    pub recommends: Vec<Dependency>,
    /// Suggests.
    pub suggests: Vec<Dependency>,
    /// Supplements.
    pub supplements: Vec<Dependency>,
    /// Enhances.
    pub enhances: Vec<Dependency>,
    /// Files in header order (the index the payload uses).
    pub files: Vec<FileEntry>,
    /// File digest algorithm.
    pub file_digest_algorithm: DigestAlgorithm,
    signature: RawHeader,
    main: RawHeader,
}

impl PackageHeader {
    /// Read the header of the package at `path` (the payload is not read).
    pub fn open(path: impl AsRef<Path>) -> Result<PackageHeader> {
        let path = path.as_ref();
        let label = path.display().to_string();
        let f = File::open(path).map_err(|e| Error::new(&label, io_kind("opening", e)))?;
        Self::read(&mut BufReader::new(f), &label)
    }

    /// Read a header from `r`, positioned at the start of an RPM file. On success `r` is
    /// positioned at the start of the payload. `label` names the package in errors.
    pub fn read(r: &mut impl Read, label: &str) -> Result<PackageHeader> {
        Self::read_inner(r, label).map_err(|k| Error::new(label, k))
    }

    fn read_inner(r: &mut impl Read, label: &str) -> Result<PackageHeader, ErrorKind> {
        let mut lead = [0u8; 96];
        r.read_exact(&mut lead)
            .map_err(|e| io_kind("reading the 96-byte lead", e))?;
        let lead = Lead::parse(&lead)?;
        let signature = RawHeader::read(r, "signature header")?;
        let pad = (8 - signature.len() % 8) % 8;
        let mut padding = [0u8; 8];
        r.read_exact(&mut padding[..pad as usize])
            .map_err(|e| io_kind("reading the signature header padding", e))?;
        let main = RawHeader::read(r, "main header")?;
        let header_start = LEAD_SIZE + signature.len() + pad;
        let header_end = header_start + main.len();
        Self::from_parts(label, lead, signature, main, header_start, header_end)
    }

    fn from_parts(
        label: &str,
        lead: Lead,
        signature: RawHeader,
        main: RawHeader,
        header_start: u64,
        header_end: u64,
    ) -> Result<PackageHeader, ErrorKind> {
        let h = &main;
        let name = h
            .string(tags::NAME)
            .ok_or_else(|| ErrorKind::BadHeader("main header has no NAME tag".into()))?;
        let version = h
            .string(tags::VERSION)
            .ok_or_else(|| ErrorKind::BadHeader("main header has no VERSION tag".into()))?;
        let release = h
            .string(tags::RELEASE)
            .ok_or_else(|| ErrorKind::BadHeader("main header has no RELEASE tag".into()))?;
        let source_rpm = h.string(tags::SOURCERPM);
        let is_source = source_rpm.is_none() || h.has(tags::SOURCEPACKAGE);
        let rpm_format = match h.int(tags::RPMFORMAT) {
            Some(v) => v as u32,
            None if lead.major >= 4 => 6,
            None => 4,
        };
        let file_digest_algorithm = match h.int(tags::FILEDIGESTALGO) {
            None => DigestAlgorithm::Md5,
            Some(id) => DigestAlgorithm::from_rpm_id(id)
                .ok_or_else(|| ErrorKind::Unsupported(format!("file digest algorithm id {id}")))?,
        };
        let archive_size = signature
            .int(tags::SIG_LONGARCHIVESIZE)
            .or_else(|| signature.int(tags::SIG_PAYLOADSIZE))
            .or_else(|| h.int(tags::SIG_LONGARCHIVESIZE))
            .or_else(|| h.int(tags::PAYLOADSIZEALT))
            .or_else(|| h.int(tags::ARCHIVESIZE));
        let signed_size = signature
            .int(tags::SIG_LONGSIZE)
            .or_else(|| signature.int(tags::SIG_SIZE));
        let changelogs = {
            let times = h.ints(tags::CHANGELOGTIME).unwrap_or_default();
            let names = h.strings(tags::CHANGELOGNAME).unwrap_or_default();
            let texts = h.strings(tags::CHANGELOGTEXT).unwrap_or_default();
            times
                .iter()
                .zip(names)
                .zip(texts)
                .map(|((&time, author), text)| ChangelogEntry { time, author, text })
                .collect()
        };
        let deps = |n, f, v, what: &str| deps(h, n, f, v, what);
        let files = files(h, file_digest_algorithm)?;
        let mut provides = deps(
            tags::PROVIDENAME,
            tags::PROVIDEFLAGS,
            tags::PROVIDEVERSION,
            "provides",
        )?;
        let epoch = h.int(tags::EPOCH).map(|e| e as u32);
        if !h.has(tags::HEADERIMMUTABLE) {
            // Packages from before rpm 4 have no immutable region; rpm "retrofits" them on
            // read, adding the `name = [epoch:]version-release` provide rpmbuild now adds
            // itself. Do the same so we agree with rpm and createrepo_c.
            let evr = match epoch {
                Some(e) => format!("{e}:{version}-{release}"),
                None => format!("{version}-{release}"),
            };
            if !provides.iter().any(|d| d.name == name && d.evr == evr) {
                provides.push(Dependency {
                    name: name.clone(),
                    flags: DepFlags(DepFlags::EQUAL),
                    evr,
                });
            }
        }
        Ok(PackageHeader {
            label: label.to_string(),
            rpm_format,
            epoch,
            arch: h.string(tags::ARCH).unwrap_or_default(),
            os: h.string(tags::OS).unwrap_or_default(),
            summary: h.string(tags::SUMMARY).unwrap_or_default(),
            description: h.string(tags::DESCRIPTION).unwrap_or_default(),
            license: h.string(tags::LICENSE).unwrap_or_default(),
            url: h.string(tags::URL),
            vendor: h.string(tags::VENDOR),
            packager: h.string(tags::PACKAGER),
            group: h.string(tags::GROUP),
            build_time: h.int(tags::BUILDTIME),
            build_host: h.string(tags::BUILDHOST),
            rpm_version: h.string(tags::RPMVERSION),
            is_source,
            source_rpm,
            header_start,
            header_end,
            installed_size: h.int(tags::LONGSIZE).or_else(|| h.int(tags::SIZE)),
            archive_size,
            signed_size,
            payload_compressor: h.string(tags::PAYLOADCOMPRESSOR),
            payload_format: h.string(tags::PAYLOADFORMAT),
            payload_flags: h.string(tags::PAYLOADFLAGS),
            changelogs,
            provides,
            requires: deps(
                tags::REQUIRENAME,
                tags::REQUIREFLAGS,
                tags::REQUIREVERSION,
                "requires",
            )?,
            conflicts: deps(
                tags::CONFLICTNAME,
                tags::CONFLICTFLAGS,
                tags::CONFLICTVERSION,
                "conflicts",
            )?,
            obsoletes: deps(
                tags::OBSOLETENAME,
                tags::OBSOLETEFLAGS,
                tags::OBSOLETEVERSION,
                "obsoletes",
            )?,
            recommends: deps(
                tags::RECOMMENDNAME,
                tags::RECOMMENDFLAGS,
                tags::RECOMMENDVERSION,
                "recommends",
            )?,
            suggests: deps(
                tags::SUGGESTNAME,
                tags::SUGGESTFLAGS,
                tags::SUGGESTVERSION,
                "suggests",
            )?,
            supplements: deps(
                tags::SUPPLEMENTNAME,
                tags::SUPPLEMENTFLAGS,
                tags::SUPPLEMENTVERSION,
                "supplements",
            )?,
            enhances: deps(
                tags::ENHANCENAME,
                tags::ENHANCEFLAGS,
                tags::ENHANCEVERSION,
                "enhances",
            )?,
            files,
            file_digest_algorithm,
            name,
            version,
            release,
            lead,
            signature,
            main,
        })
    }

    /// The signature header.
    pub fn signature_header(&self) -> &RawHeader {
        &self.signature
    }

    /// The main header (for tags this type does not map).
    pub fn main_header(&self) -> &RawHeader {
        &self.main
    }

    /// `[epoch:]version-release`.
    pub fn evr(&self) -> String {
        match self.epoch {
            Some(e) => format!("{e}:{}-{}", self.version, self.release),
            None => format!("{}-{}", self.version, self.release),
        }
    }

    /// `name-[epoch:]version-release.arch` (arch `src` for source packages), with the
    /// epoch only when non-zero, as dnf prints a NEVRA.
    pub fn nevra(&self) -> String {
        nevra(
            &self.name,
            self.epoch.map_or(0, u64::from),
            &self.version,
            &self.release,
            self.display_arch(),
        )
    }

    /// `src` for source packages, otherwise the header arch.
    pub fn display_arch(&self) -> &str {
        if self.is_source {
            "src"
        } else {
            &self.arch
        }
    }

    /// Where the payload starts in the file.
    pub fn payload_offset(&self) -> u64 {
        self.header_end
    }

    /// The compression the header declares (gzip when the tag is absent, as rpm assumes).
    pub fn declared_compression(&self) -> Result<Compression> {
        match self.payload_compressor.as_deref() {
            None => Ok(Compression::Gzip),
            Some(s) => Compression::from_tag(s).ok_or_else(|| {
                Error::new(
                    &self.label,
                    ErrorKind::Unsupported(format!("payload compressor {s:?}")),
                )
            }),
        }
    }

    /// Map from path to file index.
    pub fn path_index(&self) -> HashMap<&str, usize> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.as_str(), i))
            .collect()
    }

    /// Hardlink sets: for each file index, the indexes of every regular, non-ghost file
    /// sharing its (device, inode), in header order; empty for files not hardlinked.
    pub fn hardlink_sets(&self) -> Vec<Vec<usize>> {
        let mut groups: HashMap<(u32, u32), Vec<usize>> = HashMap::new();
        for (i, f) in self.files.iter().enumerate() {
            if f.is_regular() && !f.flags.is_ghost() && (f.inode != 0 || f.device != 0) {
                groups.entry((f.device, f.inode)).or_default().push(i);
            }
        }
        let mut out = vec![Vec::new(); self.files.len()];
        for set in groups.into_values().filter(|s| s.len() > 1) {
            for &i in &set {
                out[i] = set.clone();
            }
        }
        out
    }
}

fn deps(
    h: &RawHeader,
    name_tag: u32,
    flags_tag: u32,
    version_tag: u32,
    what: &str,
) -> Result<Vec<Dependency>, ErrorKind> {
    let Some(names) = h.strings(name_tag) else {
        return Ok(Vec::new());
    };
    let flags = h.ints(flags_tag).unwrap_or_default();
    let versions = h.strings(version_tag).unwrap_or_default();
    if (!flags.is_empty() && flags.len() != names.len())
        || (!versions.is_empty() && versions.len() != names.len())
    {
        return Err(ErrorKind::BadHeader(format!(
            "{what}: {} names but {} flags and {} versions",
            names.len(),
            flags.len(),
            versions.len()
        )));
    }
    Ok(names
        .into_iter()
        .enumerate()
        .map(|(i, name)| Dependency {
            name,
            flags: DepFlags(flags.get(i).copied().unwrap_or(0) as u32),
            evr: versions.get(i).cloned().unwrap_or_default(),
        })
        .collect())
}

fn files(h: &RawHeader, algo: DigestAlgorithm) -> Result<Vec<FileEntry>, ErrorKind> {
    let paths: Vec<String> = if let Some(base) = h.strings(tags::BASENAMES) {
        let dirs = h.strings(tags::DIRNAMES).unwrap_or_default();
        let idx = h.ints(tags::DIRINDEXES).unwrap_or_default();
        if idx.len() != base.len() {
            return Err(ErrorKind::BadHeader(format!(
                "{} BASENAMES but {} DIRINDEXES",
                base.len(),
                idx.len()
            )));
        }
        base.iter()
            .zip(&idx)
            .map(|(b, &i)| {
                let d = dirs.get(i as usize).ok_or_else(|| {
                    ErrorKind::BadHeader(format!(
                        "DIRINDEXES value {i} out of range ({} DIRNAMES)",
                        dirs.len()
                    ))
                })?;
                Ok(format!("{d}{b}"))
            })
            .collect::<Result<_, ErrorKind>>()?
    } else {
        h.strings(tags::OLDFILENAMES).unwrap_or_default()
    };
    let n = paths.len();
    let ints = |tag: u32, what: &str| -> Result<Vec<u64>, ErrorKind> {
        match h.ints(tag) {
            None => Ok(vec![0; n]),
            Some(v) if v.len() == n => Ok(v),
            Some(v) => Err(ErrorKind::BadHeader(format!(
                "{what} has {} entries for {n} files",
                v.len()
            ))),
        }
    };
    let strs = |tag: u32, what: &str| -> Result<Vec<String>, ErrorKind> {
        match h.strings(tag) {
            None => Ok(vec![String::new(); n]),
            Some(v) if v.len() == n => Ok(v),
            Some(v) => Err(ErrorKind::BadHeader(format!(
                "{what} has {} entries for {n} files",
                v.len()
            ))),
        }
    };
    let sizes = if h.has(tags::LONGFILESIZES) {
        ints(tags::LONGFILESIZES, "LONGFILESIZES")?
    } else {
        ints(tags::FILESIZES, "FILESIZES")?
    };
    let modes = ints(tags::FILEMODES, "FILEMODES")?;
    let rdevs = ints(tags::FILERDEVS, "FILERDEVS")?;
    let mtimes = ints(tags::FILEMTIMES, "FILEMTIMES")?;
    let digests = strs(tags::FILEDIGESTS, "FILEDIGESTS")?;
    let mut links = strs(tags::FILELINKTOS, "FILELINKTOS")?;
    let flags = ints(tags::FILEFLAGS, "FILEFLAGS")?;
    let mut users = strs(tags::FILEUSERNAME, "FILEUSERNAME")?;
    let mut groups = strs(tags::FILEGROUPNAME, "FILEGROUPNAME")?;
    let devices = ints(tags::FILEDEVICES, "FILEDEVICES")?;
    let inodes = ints(tags::FILEINODES, "FILEINODES")?;
    let mut langs = strs(tags::FILELANGS, "FILELANGS")?;
    let mut caps = strs(tags::FILECAPS, "FILECAPS")?;
    let mut out = Vec::with_capacity(n);
    for (i, path) in paths.into_iter().enumerate() {
        let digest = if digests[i].is_empty() {
            Vec::new()
        } else {
            hex::decode(&digests[i]).map_err(|_| {
                ErrorKind::BadHeader(format!(
                    "file digest of {path} is not hex: {:?}",
                    digests[i]
                ))
            })?
        };
        out.push(FileEntry {
            mode: modes[i] as u32,
            size: sizes[i],
            digest,
            digest_algorithm: algo,
            user: std::mem::take(&mut users[i]),
            group: std::mem::take(&mut groups[i]),
            flags: FileFlags(flags[i] as u32),
            link_target: std::mem::take(&mut links[i]),
            inode: inodes[i] as u32,
            device: devices[i] as u32,
            rdev: rdevs[i] as u32,
            mtime: mtimes[i] as u32,
            caps: std::mem::take(&mut caps[i]),
            lang: std::mem::take(&mut langs[i]),
            path,
        });
    }
    Ok(out)
}

/// SHA-256 of the whole file as lowercase hex: the package id rpm-md uses.
pub fn package_id(path: impl AsRef<Path>) -> Result<String> {
    let path = path.as_ref();
    let label = path.display().to_string();
    let mut f = File::open(path).map_err(|e| Error::new(&label, io_kind("opening", e)))?;
    let mut h = DigestAlgorithm::Sha256.hasher();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| Error::new(&label, io_kind("reading", e)))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evr_parsing() {
        let e = Evr::parse("2:1.0-3.fc40");
        assert_eq!(e.epoch, Some(2));
        assert_eq!(e.version, "1.0");
        assert_eq!(e.release.as_deref(), Some("3.fc40"));
        let e = Evr::parse("1.0");
        assert_eq!(
            (e.epoch, e.version.as_str(), e.release),
            (None, "1.0", None)
        );
        assert_eq!(Evr::parse(":1-2").epoch, Some(0));
    }

    #[test]
    fn dep_flags() {
        let f = DepFlags(DepFlags::GREATER | DepFlags::EQUAL | DepFlags::SCRIPT_PRE);
        assert_eq!(f.comparison(), Some("GE"));
        assert_eq!(f.operator(), ">=");
        assert!(f.is_pre());
        assert_eq!(DepFlags(0).comparison(), None);
        let d = Dependency {
            name: "foo".into(),
            flags: DepFlags(DepFlags::LESS),
            evr: "1".into(),
        };
        assert_eq!(d.to_string(), "foo < 1");
    }

    #[test]
    fn compression_detection() {
        assert_eq!(
            Compression::detect(&[0x1f, 0x8b, 8]),
            Some(Compression::Gzip)
        );
        assert_eq!(Compression::detect(b"BZh91AY"), Some(Compression::Bzip2));
        assert_eq!(
            Compression::detect(&[0xfd, b'7', b'z', b'X', b'Z', 0, 0]),
            Some(Compression::Xz)
        );
        assert_eq!(
            Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd]),
            Some(Compression::Zstd)
        );
        assert_eq!(
            Compression::detect(&[0x5d, 0, 0, 0x80, 0]),
            Some(Compression::Lzma)
        );
        assert_eq!(Compression::detect(b"070701"), Some(Compression::None));
        assert_eq!(Compression::detect(b"junk"), None);
    }
}
