//! Writing packages: a builder over the `rpm` crate's `PackageBuilder`, spec templates for
//! the descriptive fields, OpenPGP signing and signature verification.
//!
//! Memory: the payload is streamed. The `rpm` crate (0.30) makes the header (from the
//! files' metadata, with empty contents) and the signature header, and signs; the payload
//! is written to a spool file beside the package as a stream ([`crate::spool`]), and the
//! header is then completed with the contents' sizes and digests and the payload's. Files
//! added with [`PackageBuilder::add_file_path`] are read once, from disk, while the payload
//! is written; only [`FileContent::Bytes`] and [`PackageBuilder::add_file_reader`] content
//! sits in memory.

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::digest::{DigestAlgorithm, HashingWriter};
use crate::error::{io_kind, Error, ErrorKind, Result};
use crate::header::{DepFlags, Dependency, FileFlags, PackageHeader};
use crate::raw::RawHeader;
use crate::spool::{self, Compressor, CpioFields};
use crate::tags;

/// Descriptive fields read from a small spec file (the preamble and `%description`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecTemplate {
    /// Name:
    pub name: Option<String>,
    /// Epoch:
    pub epoch: Option<u32>,
    /// Version:
    pub version: Option<String>,
    /// Release:
    pub release: Option<String>,
    /// Summary:
    pub summary: Option<String>,
    /// License:
    pub license: Option<String>,
    /// URL:
    pub url: Option<String>,
    /// Vendor:
    pub vendor: Option<String>,
    /// Packager:
    pub packager: Option<String>,
    /// Group:
    pub group: Option<String>,
    /// BuildArch:
    pub build_arch: Option<String>,
    /// The `%description` text (without trailing blank lines).
    pub description: Option<String>,
}

const SECTIONS: &[&str] = &[
    "%package",
    "%prep",
    "%build",
    "%install",
    "%check",
    "%clean",
    "%files",
    "%changelog",
    "%pre",
    "%post",
    "%preun",
    "%postun",
    "%pretrans",
    "%posttrans",
    "%triggerin",
    "%triggerun",
    "%verifyscript",
    "%generate_buildrequires",
];

impl SpecTemplate {
    /// Read a spec template from a file.
    pub fn load(path: impl AsRef<Path>) -> Result<SpecTemplate> {
        let path = path.as_ref();
        let label = path.display().to_string();
        let text =
            fs::read(path).map_err(|e| Error::new(&label, io_kind("reading the spec", e)))?;
        Self::parse(&String::from_utf8_lossy(&text), &label)
    }

    /// Parse spec text. `label` names it in errors. Understands `Tag: value` preamble
    /// lines, `%global`/`%define` of simple macros, `%{name}`-style expansion of those and
    /// the preamble tags, `%%`, comments, and the `%description` section; other sections
    /// are ignored.
    pub fn parse(text: &str, label: &str) -> Result<SpecTemplate> {
        let err = |line: usize, msg: String| {
            Error::new(label, ErrorKind::Spec(format!("line {}: {msg}", line + 1)))
        };
        let mut t = SpecTemplate::default();
        let mut macros: Vec<(String, String)> = Vec::new();
        let mut in_description = false;
        let mut in_other_section = false;
        let mut description: Vec<String> = Vec::new();
        for (no, raw_line) in text.lines().enumerate() {
            let line = raw_line.trim_end();
            let first = line.split_whitespace().next().unwrap_or("");
            if first == "%description" {
                if line.split_whitespace().nth(1).is_some() {
                    // subpackage description: not ours
                    in_description = false;
                    in_other_section = true;
                    continue;
                }
                in_description = true;
                in_other_section = false;
                continue;
            }
            if SECTIONS.contains(&first) {
                in_description = false;
                in_other_section = true;
                continue;
            }
            if in_other_section {
                continue;
            }
            if in_description {
                description.push(expand(line, &macros, &t));
                continue;
            }
            if line.trim_start().starts_with('#') || line.trim().is_empty() {
                continue;
            }
            if first == "%global" || first == "%define" {
                let mut parts = line.trim_start().splitn(3, char::is_whitespace);
                parts.next();
                let name = parts.next().unwrap_or("");
                let value = parts.next().unwrap_or("").trim();
                if name.is_empty() {
                    return Err(err(no, format!("{first} without a name")));
                }
                let value = expand(value, &macros, &t);
                macros.push((name.to_string(), value));
                continue;
            }
            let Some((tag, value)) = line.split_once(':') else {
                if first.starts_with('%') {
                    continue; // a macro call in the preamble (e.g. %undefine): ignore
                }
                return Err(err(no, format!("not a `Tag: value` line: {line:?}")));
            };
            let tag = tag.trim();
            if tag.contains(char::is_whitespace) || tag.starts_with('%') {
                continue;
            }
            let value = expand(value.trim(), &macros, &t);
            match tag.to_ascii_lowercase().as_str() {
                "name" => t.name = Some(value),
                "epoch" => {
                    t.epoch = Some(
                        value
                            .parse()
                            .map_err(|_| err(no, format!("Epoch {value:?} is not a number")))?,
                    )
                }
                "version" => t.version = Some(value),
                "release" => t.release = Some(value),
                "summary" => t.summary = Some(value),
                "license" => t.license = Some(value),
                "url" => t.url = Some(value),
                "vendor" => t.vendor = Some(value),
                "packager" => t.packager = Some(value),
                "group" => t.group = Some(value),
                "buildarch" => t.build_arch = Some(value),
                _ => {} // Requires, Provides, BuildRequires...: set by the caller
            }
        }
        while description.last().is_some_and(|l| l.trim().is_empty()) {
            description.pop();
        }
        while description.first().is_some_and(|l| l.trim().is_empty()) {
            description.remove(0);
        }
        if !description.is_empty() {
            t.description = Some(description.join("\n"));
        }
        Ok(t)
    }
}

/// Expand `%{macro}`, `%macro` (defined ones and preamble tags) and `%%`.
fn expand(s: &str, macros: &[(String, String)], t: &SpecTemplate) -> String {
    let lookup = |name: &str| -> Option<String> {
        if let Some((_, v)) = macros.iter().rev().find(|(n, _)| n == name) {
            return Some(v.clone());
        }
        match name {
            "name" => t.name.clone(),
            "version" => t.version.clone(),
            "release" => t.release.clone(),
            "summary" => t.summary.clone(),
            "url" => t.url.clone(),
            _ => None,
        }
    };
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(r) = after.strip_prefix('%') {
            out.push('%');
            rest = r;
        } else if let Some(r) = after.strip_prefix('{') {
            match r.find('}') {
                Some(end) => {
                    let name = r[..end].trim_start_matches('?');
                    match lookup(name) {
                        Some(v) => out.push_str(&v),
                        None if r.starts_with('?') => {}
                        None => {
                            out.push_str("%{");
                            out.push_str(&r[..=end]);
                        }
                    }
                    rest = &r[end + 1..];
                }
                None => {
                    out.push('%');
                    rest = after;
                }
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            match lookup(&after[..end]) {
                Some(v) if end > 0 => out.push_str(&v),
                _ => {
                    out.push('%');
                    out.push_str(&after[..end]);
                }
            }
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    out
}

/// Where a file's content comes from.
pub enum FileContent {
    /// Bytes in memory.
    Bytes(Vec<u8>),
    /// A file on disk, read while the package is built.
    Path(PathBuf),
    /// A symbolic link to this target.
    Symlink(String),
    /// A directory.
    Dir,
    /// A `%ghost` file (recorded in the header, not in the payload).
    Ghost,
}

/// Attributes of a file to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// Absolute path in the package.
    pub path: String,
    /// Permission bits (07777).
    pub permissions: u32,
    /// Owner name.
    pub user: String,
    /// Group name.
    pub group: String,
    /// Attribute flags (config, doc, license, noreplace, missingok...).
    pub flags: FileFlags,
    /// Modification time; defaults to the builder's source date (or now).
    pub mtime: Option<u32>,
    /// File capabilities in `cap_from_text` form.
    pub caps: Option<String>,
}

impl FileSpec {
    /// `path` with `permissions`, owned by root:root, no flags.
    pub fn new(path: &str, permissions: u32) -> FileSpec {
        FileSpec {
            path: path.to_string(),
            permissions,
            user: "root".into(),
            group: "root".into(),
            flags: FileFlags::default(),
            mtime: None,
            caps: None,
        }
    }

    /// Set the owner.
    pub fn owner(mut self, user: &str, group: &str) -> FileSpec {
        self.user = user.into();
        self.group = group.into();
        self
    }

    /// Add flags (`FileFlags::CONFIG` etc.).
    pub fn flags(mut self, flags: u32) -> FileSpec {
        self.flags = FileFlags(self.flags.0 | flags);
        self
    }
}

/// Dependency kinds a builder can add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepKind {
    /// Provides
    Provides,
    /// Requires
    Requires,
    /// Conflicts
    Conflicts,
    /// Obsoletes
    Obsoletes,
    /// Recommends
    Recommends,
    /// Suggests
    Suggests,
    /// Supplements
    Supplements,
    /// Enhances
    Enhances,
}

/// Builds an RPM package (v4 format, zstd payload by default).
pub struct PackageBuilder {
    name: String,
    version: String,
    release: String,
    arch: String,
    epoch: Option<u32>,
    summary: String,
    license: String,
    description: Option<String>,
    url: Option<String>,
    vendor: Option<String>,
    packager: Option<String>,
    group: Option<String>,
    build_host: Option<String>,
    source_date: Option<u32>,
    compression: rpm::CompressionWithLevel,
    deps: Vec<(DepKind, Dependency)>,
    files: Vec<(FileSpec, FileContent)>,
}

impl PackageBuilder {
    /// A builder for `name-version-release.arch`.
    pub fn new(name: &str, version: &str, release: &str, arch: &str) -> PackageBuilder {
        PackageBuilder {
            name: name.into(),
            version: version.into(),
            release: release.into(),
            arch: arch.into(),
            epoch: None,
            summary: name.into(),
            license: "Unspecified".into(),
            description: None,
            url: None,
            vendor: None,
            packager: None,
            group: None,
            build_host: None,
            source_date: std::env::var("SOURCE_DATE_EPOCH")
                .ok()
                .and_then(|s| s.parse().ok()),
            compression: rpm::CompressionWithLevel::Zstd(9),
            deps: Vec::new(),
            files: Vec::new(),
        }
    }

    /// Take Summary, License, URL, Vendor, Packager, Group, Epoch and %description from a
    /// spec template (Name/Version/Release/BuildArch are left to the caller).
    pub fn apply_template(&mut self, t: &SpecTemplate) -> &mut Self {
        if let Some(v) = &t.summary {
            self.summary = v.clone();
        }
        if let Some(v) = &t.license {
            self.license = v.clone();
        }
        if t.epoch.is_some() {
            self.epoch = t.epoch;
        }
        self.description = t.description.clone().or(self.description.take());
        self.url = t.url.clone().or(self.url.take());
        self.vendor = t.vendor.clone().or(self.vendor.take());
        self.packager = t.packager.clone().or(self.packager.take());
        self.group = t.group.clone().or(self.group.take());
        self
    }

    /// Set the epoch.
    pub fn epoch(&mut self, epoch: u32) -> &mut Self {
        self.epoch = Some(epoch);
        self
    }
    /// Set the summary.
    pub fn summary(&mut self, s: &str) -> &mut Self {
        self.summary = s.into();
        self
    }
    /// Set the license.
    pub fn license(&mut self, s: &str) -> &mut Self {
        self.license = s.into();
        self
    }
    /// Set the description.
    pub fn description(&mut self, s: &str) -> &mut Self {
        self.description = Some(s.into());
        self
    }
    /// Set the build host recorded in the header.
    pub fn build_host(&mut self, s: &str) -> &mut Self {
        self.build_host = Some(s.into());
        self
    }
    /// Set the build time and default file mtime (default: $SOURCE_DATE_EPOCH, else now).
    pub fn source_date(&mut self, t: u32) -> &mut Self {
        self.source_date = Some(t);
        self
    }

    /// Payload compression: "zstd" (default, level 9), "xz", "gzip", "bzip2" or "none",
    /// with an optional level.
    pub fn compression(&mut self, name: &str, level: Option<u32>) -> Result<&mut Self> {
        use rpm::CompressionWithLevel as C;
        self.compression = match name {
            "zstd" => C::Zstd(level.unwrap_or(9) as i32),
            "xz" => C::Xz(level.unwrap_or(6)),
            "gzip" => C::Gzip(level.unwrap_or(9)),
            "bzip2" => C::Bzip2(level.unwrap_or(9)),
            "none" | "identity" => C::None,
            other => {
                return Err(Error::new(
                    &self.name,
                    ErrorKind::Build(format!(
                        "payload compression {other:?} (we write zstd, xz, gzip, bzip2 or none)"
                    )),
                ))
            }
        };
        Ok(self)
    }

    /// Add a dependency of any kind with explicit flags.
    pub fn dependency(&mut self, kind: DepKind, name: &str, flags: u32, evr: &str) -> &mut Self {
        self.deps.push((
            kind,
            Dependency {
                name: name.into(),
                flags: DepFlags(flags),
                evr: evr.into(),
            },
        ));
        self
    }

    /// `Provides: name` or `Provides: name = evr`.
    pub fn provides(&mut self, name: &str, evr: Option<&str>) -> &mut Self {
        match evr {
            Some(v) => self.dependency(DepKind::Provides, name, DepFlags::EQUAL, v),
            None => self.dependency(DepKind::Provides, name, 0, ""),
        }
    }

    /// `Requires: name = evr`.
    pub fn requires_equal(&mut self, name: &str, evr: &str) -> &mut Self {
        self.dependency(DepKind::Requires, name, DepFlags::EQUAL, evr)
    }

    /// `Requires: name` with optional flags/EVR (flags: `DepFlags::GREATER | EQUAL` ...).
    pub fn requires(&mut self, name: &str, flags: u32, evr: &str) -> &mut Self {
        self.dependency(DepKind::Requires, name, flags, evr)
    }

    /// `Conflicts: name` with optional flags/EVR.
    pub fn conflicts(&mut self, name: &str, flags: u32, evr: &str) -> &mut Self {
        self.dependency(DepKind::Conflicts, name, flags, evr)
    }

    /// Add a file with full attributes.
    pub fn add(&mut self, spec: FileSpec, content: FileContent) -> &mut Self {
        self.files.push((spec, content));
        self
    }

    /// Add a root-owned regular file with content from memory.
    pub fn add_file_bytes(&mut self, path: &str, content: Vec<u8>, permissions: u32) -> &mut Self {
        self.add(
            FileSpec::new(path, permissions),
            FileContent::Bytes(content),
        )
    }

    /// Add a root-owned regular file whose content is read from `src` during the build.
    pub fn add_file_path(
        &mut self,
        path: &str,
        src: impl AsRef<Path>,
        permissions: u32,
    ) -> &mut Self {
        self.add(
            FileSpec::new(path, permissions),
            FileContent::Path(src.as_ref().to_path_buf()),
        )
    }

    /// Add a regular file whose content comes from a reader (read into memory now).
    pub fn add_file_reader(&mut self, spec: FileSpec, mut content: impl Read) -> Result<&mut Self> {
        let mut buf = Vec::new();
        content.read_to_end(&mut buf).map_err(|e| {
            Error::new(
                &self.name,
                io_kind(format!("reading content for {}", spec.path), e),
            )
        })?;
        Ok(self.add(spec, FileContent::Bytes(buf)))
    }

    /// The `rpm` crate's builder for this package; with `contents` false, every regular
    /// file is given empty content (the header template [`Self::write_to`] completes).
    fn build_rpm(&self, contents: bool) -> Result<rpm::PackageBuilder> {
        let berr = |e: rpm::Error| Error::new(&self.name, ErrorKind::Build(e.to_string()));
        let mut config = rpm::BuildConfig::v4().compression(self.compression);
        if let Some(t) = self.source_date {
            config = config.source_date(t);
        }
        let mut b = rpm::PackageBuilder::new(
            &self.name,
            &self.version,
            &self.license,
            &self.arch,
            &self.summary,
        );
        b.using_config(config);
        b.release(self.release.clone());
        if let Some(e) = self.epoch {
            b.epoch(e);
        }
        if let Some(d) = &self.description {
            b.description(d.clone());
        }
        if let Some(v) = &self.url {
            b.url(v.clone());
        }
        if let Some(v) = &self.vendor {
            b.vendor(v.clone());
        }
        if let Some(v) = &self.packager {
            b.packager(v.clone());
        }
        if let Some(v) = &self.group {
            b.group(v.clone());
        }
        if let Some(v) = &self.build_host {
            b.build_host(v);
        }
        for (kind, d) in &self.deps {
            let dep = rpm::Dependency {
                name: d.name.clone(),
                flags: rpm::DependencyFlags::from_bits_retain(d.flags.0),
                version: d.evr.clone(),
            };
            match kind {
                DepKind::Provides => b.provides(dep),
                DepKind::Requires => b.requires(dep),
                DepKind::Conflicts => b.conflicts(dep),
                DepKind::Obsoletes => b.obsoletes(dep),
                DepKind::Recommends => b.recommends(dep),
                DepKind::Suggests => b.suggests(dep),
                DepKind::Supplements => b.supplements(dep),
                DepKind::Enhances => b.enhances(dep),
            };
        }
        for (spec, content) in &self.files {
            let perms = (spec.permissions & 0o7777) as u16;
            let opts = match content {
                FileContent::Bytes(_) | FileContent::Path(_) => rpm::FileOptions::new(&spec.path),
                FileContent::Dir => rpm::FileOptions::dir(&spec.path),
                FileContent::Symlink(t) => rpm::FileOptions::symlink(&spec.path, t),
                FileContent::Ghost => rpm::FileOptions::ghost(&spec.path),
            };
            let mut opts = opts
                .permissions(perms)
                .user(spec.user.clone())
                .group(spec.group.clone());
            let mtime = match (spec.mtime.or(self.source_date), content) {
                (Some(t), _) => Some(t),
                // as the rpm crate's `with_file` takes it
                (None, FileContent::Path(p)) => Some(file_mtime(p, &self.name)?),
                (None, _) => None,
            };
            if let Some(t) = mtime {
                opts = opts.modified_at(rpm::Timestamp::from(t));
            }
            let f = spec.flags;
            if f.is_config() {
                opts = opts.config();
            }
            if f.0 & FileFlags::NOREPLACE != 0 {
                opts = opts.noreplace();
            }
            if f.0 & FileFlags::MISSINGOK != 0 {
                opts = opts.missingok();
            }
            if f.is_doc() {
                opts = opts.doc();
            }
            if f.is_license() {
                opts = opts.license();
            }
            if let Some(c) = &spec.caps {
                opts = opts.caps(c.clone()).map_err(berr)?;
            }
            match content {
                FileContent::Bytes(_) | FileContent::Path(_) if !contents => {
                    b.with_file_contents(Vec::new(), opts)
                }
                FileContent::Bytes(data) => b.with_file_contents(data.clone(), opts),
                FileContent::Path(p) => b.with_file(p, opts),
                FileContent::Dir => b.with_dir_entry(opts),
                FileContent::Symlink(_) => b.with_symlink(opts),
                FileContent::Ghost => b.with_ghost(opts),
            }
            .map_err(|e| {
                Error::new(
                    &self.name,
                    ErrorKind::Build(format!("adding {}: {e}", spec.path)),
                )
            })?;
        }
        Ok(b)
    }

    /// Build and write the package to `path`, signing it with the OpenPGP secret key in
    /// `sign_key` (ASCII-armored) if given. The payload is streamed (module docs): besides
    /// the package, a spool file of the compressed payload exists beside it while it is
    /// written. A failed write leaves neither.
    pub fn write_to(&self, path: impl AsRef<Path>, sign_key: Option<&Path>) -> Result<()> {
        let path = path.as_ref();
        let label = path.display().to_string();
        let berr = |m: String| Error::new(&label, ErrorKind::Build(m));
        let template = self
            .build_rpm(false)?
            .build()
            .map_err(|e| berr(e.to_string()))?;
        let header = &template.metadata.header;
        let entries = header
            .get_all_entries()
            .map_err(|e| berr(format!("reading the header: {e}")))?;
        let files = HeaderFiles::from_entries(&entries).map_err(&berr)?;

        // The payload, into a spool file beside the package.
        let spool_path = path.with_extension("rpm.payload.part");
        let tmp = path.with_extension("rpm.part");
        let _cleanup = RemoveOnDrop(vec![spool_path.clone(), tmp.clone()]);
        let ioerr = |what: &str, e: std::io::Error| Error::new(&label, io_kind(what, e));
        let spool_file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&spool_path)
            .map_err(|e| ioerr("creating the payload spool", e))?;
        let by_path: HashMap<&str, &FileContent> = self
            .files
            .iter()
            .map(|(spec, content)| (spec.path.as_str(), content))
            .collect();
        let compressor = Compressor::new(self.compression, std::io::BufWriter::new(spool_file))
            .map_err(|e| ioerr("starting the payload compressor", e))?;
        // The archive is made (contents read and hashed) on this thread and compressed on
        // a second one.
        let (written, compressed) = spool::compress_on_thread(compressor, |handoff| {
            let mut archive = HashingWriter::new(handoff, DigestAlgorithm::Sha256);
            let mut sizes = files.sizes.clone();
            let mut digests = files.digests.clone();
            let mut contents_size = 0u64;
            for i in 0..files.paths.len() {
                if files.flags[i] & FileFlags::GHOST != 0 {
                    continue; // in the header only
                }
                let file_path = &files.paths[i];
                let fields = CpioFields {
                    ino: files.inodes[i],
                    mode: u32::from(files.modes[i]),
                    nlink: 1,
                    mtime: files.mtimes[i],
                    rdev_major: u32::from(files.rdevs[i] >> 8),
                    rdev_minor: u32::from(files.rdevs[i] & 0xff),
                };
                let name = format!(".{file_path}");
                let werr =
                    |e: std::io::Error| ioerr(&format!("writing {file_path} into the payload"), e);
                match u32::from(files.modes[i]) & 0o170000 {
                    0o100000 => {
                        let content = by_path.get(file_path.as_str()).ok_or_else(|| {
                            berr(format!("the header lists {file_path}, which was not added"))
                        })?;
                        let (size, sha) = match content {
                            FileContent::Bytes(data) => {
                                let size =
                                    small_size(data.len() as u64, file_path).map_err(&berr)?;
                                let sha = spool::write_entry(
                                    &mut archive,
                                    &name,
                                    fields,
                                    size,
                                    &mut &data[..],
                                )
                                .map_err(werr)?;
                                (size, sha)
                            }
                            FileContent::Path(src) => {
                                let mut f = fs::File::open(src)
                                    .map_err(|e| ioerr(&format!("opening {}", src.display()), e))?;
                                let len = f
                                    .metadata()
                                    .map_err(|e| ioerr(&format!("reading {}", src.display()), e))?
                                    .len();
                                let size = small_size(len, file_path).map_err(&berr)?;
                                let sha =
                                    spool::write_entry(&mut archive, &name, fields, size, &mut f)
                                        .map_err(werr)?;
                                (size, sha)
                            }
                            _ => {
                                return Err(berr(format!(
                                    "{file_path} is a regular file in the header only"
                                )))
                            }
                        };
                        sizes[i] = u64::from(size);
                        contents_size += u64::from(size);
                        digests[i] = sha;
                    }
                    0o120000 => {
                        let target = files.linktos[i].as_bytes();
                        let size = small_size(target.len() as u64, file_path).map_err(&berr)?;
                        spool::write_entry(&mut archive, &name, fields, size, &mut &target[..])
                            .map_err(werr)?;
                    }
                    _ => {
                        spool::write_entry(&mut archive, &name, fields, 0, &mut std::io::empty())
                            .map_err(werr)?;
                    }
                }
            }
            spool::write_trailer(&mut archive).map_err(|e| ioerr("writing the payload", e))?;
            let (_, raw_sha, _) = archive.finish();
            Ok((sizes, digests, contents_size, raw_sha))
        });
        let (spool_file, payload_sha, payload_len) =
            compressed.map_err(|e| ioerr("writing the payload", e))?;
        let (sizes, digests, contents_size, raw_sha) = written?;
        let mut spool_file = spool_file
            .into_inner()
            .map_err(|e| ioerr("writing the payload", e.into_error()))?;

        // The header completed with what the payload holds.
        // The template's regular files are empty: their sizes add to its SIZE.
        let total = u32::try_from(files.size + contents_size)
            .map_err(|_| berr("files of 4 GiB or more in all are not supported".into()))?;
        let completed = entries
            .into_iter()
            .filter(|(tag, _)| *tag != tags::HEADERIMMUTABLE)
            .map(|(tag, data)| {
                let data = match tag {
                    tags::SIZE => rpm::IndexData::Int32(vec![total]),
                    tags::FILESIZES => {
                        rpm::IndexData::Int32(sizes.iter().map(|&s| s as u32).collect())
                    }
                    tags::FILEDIGESTS => rpm::IndexData::StringArray(digests.clone()),
                    tags::PAYLOADDIGEST => rpm::IndexData::StringArray(vec![payload_sha.clone()]),
                    tags::PAYLOADDIGESTALT => {
                        rpm::IndexData::StringArray(vec![raw_sha.hex.clone()])
                    }
                    _ => data,
                };
                rpm::HeaderEntry { tag, data }
            });
        let mut metadata = template.metadata;
        metadata.header =
            rpm::Header::from_entries(completed, rpm::IndexTag::RPMTAG_HEADERIMMUTABLE);
        let header_bytes = metadata
            .header_bytes()
            .map_err(|e| berr(format!("writing the header: {e}")))?;
        let mut signature = rpm::SignatureHeaderBuilder::from_existing(&metadata.signature)
            .map_err(|e| berr(e.to_string()))?
            .set_content_length(header_bytes.len() as u64 + payload_len)
            .calculate_digests(&header_bytes)
            .build()
            .map_err(|e| berr(e.to_string()))?;
        if let Some(key) = sign_key {
            use rpm::signature::Signing;
            let serr = |m: String| Error::new(&label, ErrorKind::Signature(m));
            let signer = rpm::signature::pgp::Signer::from_asc_file(key)
                .map_err(|e| serr(format!("loading secret key {}: {e}", key.display())))?;
            // As the rpm crate signs: at the source date when it is in the past.
            let now = rpm::Timestamp::now();
            let at = match self.source_date.map(rpm::Timestamp::from) {
                Some(t) if t < now => t,
                _ => now,
            };
            let sig = signer
                .sign(&header_bytes[..], at)
                .map_err(|e| serr(format!("signing: {e}")))?;
            signature = rpm::SignatureHeaderBuilder::from_existing(&signature)
                .map_err(|e| berr(e.to_string()))?
                .add_openpgp_signature(sig)
                .build()
                .map_err(|e| serr(e.to_string()))?;
        }
        metadata.signature = signature;

        // Lead, signature and header, then the spooled payload; renamed into place.
        let mut out = std::io::BufWriter::new(
            fs::File::create(&tmp).map_err(|e| ioerr("creating the package", e))?,
        );
        metadata
            .write(&mut out)
            .map_err(|e| berr(format!("writing: {e}")))?;
        let mut out = out
            .into_inner()
            .map_err(|e| ioerr("writing the package", e.into_error()))?;
        spool_file
            .rewind()
            .map_err(|e| ioerr("reading the payload spool", e))?;
        std::io::copy(&mut spool_file, &mut out).map_err(|e| ioerr("writing the package", e))?;
        out.flush().map_err(|e| ioerr("writing the package", e))?;
        fs::rename(&tmp, path).map_err(|e| ioerr("renaming", e))?;
        Ok(())
    }
}

/// A file size as the header and the cpio archive hold it (below 4 GiB).
fn small_size(size: u64, path: &str) -> std::result::Result<u32, String> {
    u32::try_from(size).map_err(|_| format!("{path}: files of 4 GiB or more are not supported"))
}

/// The modification time of a file on disk, in seconds since the epoch.
fn file_mtime(path: &Path, package: &str) -> Result<u32> {
    let t = fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|e| Error::new(package, io_kind(format!("reading {}", path.display()), e)))?;
    Ok(t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX)))
}

/// Removes the paths it holds when dropped (those that exist).
struct RemoveOnDrop(Vec<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = fs::remove_file(p);
        }
    }
}

/// The file list of a header template, in header order (the payload's order).
struct HeaderFiles {
    paths: Vec<String>,
    modes: Vec<u16>,
    rdevs: Vec<u16>,
    mtimes: Vec<u32>,
    inodes: Vec<u32>,
    flags: Vec<u32>,
    linktos: Vec<String>,
    sizes: Vec<u64>,
    digests: Vec<String>,
    /// `SIZE`: the sum of the file sizes.
    size: u64,
}

impl HeaderFiles {
    fn from_entries(entries: &[(u32, rpm::IndexData)]) -> std::result::Result<HeaderFiles, String> {
        let find = |tag: u32| entries.iter().find(|(t, _)| *t == tag).map(|(_, d)| d);
        let strings = |tag: u32| match find(tag) {
            Some(rpm::IndexData::StringArray(v)) => Ok(v.clone()),
            None => Ok(Vec::new()),
            Some(_) => Err(format!("header tag {tag} is not a string array")),
        };
        let u32s = |tag: u32| match find(tag) {
            Some(rpm::IndexData::Int32(v)) => Ok(v.clone()),
            None => Ok(Vec::new()),
            Some(_) => Err(format!("header tag {tag} is not an int32 array")),
        };
        let u16s = |tag: u32| match find(tag) {
            Some(rpm::IndexData::Int16(v)) => Ok(v.clone()),
            None => Ok(Vec::new()),
            Some(_) => Err(format!("header tag {tag} is not an int16 array")),
        };
        if find(tags::LONGFILESIZES).is_some() {
            return Err("files of 4 GiB or more are not supported".into());
        }
        let basenames = strings(tags::BASENAMES)?;
        let dirnames = strings(tags::DIRNAMES)?;
        let dirindexes = u32s(tags::DIRINDEXES)?;
        let paths = basenames
            .iter()
            .zip(&dirindexes)
            .map(|(b, &d)| {
                dirnames
                    .get(d as usize)
                    .map(|dir| format!("{dir}{b}"))
                    .ok_or_else(|| format!("header: directory index {d} out of range"))
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let files = HeaderFiles {
            modes: u16s(tags::FILEMODES)?,
            rdevs: u16s(tags::FILERDEVS)?,
            mtimes: u32s(tags::FILEMTIMES)?,
            inodes: u32s(tags::FILEINODES)?,
            flags: u32s(tags::FILEFLAGS)?,
            linktos: strings(tags::FILELINKTOS)?,
            sizes: u32s(tags::FILESIZES)?.into_iter().map(u64::from).collect(),
            digests: strings(tags::FILEDIGESTS)?,
            size: u32s(tags::SIZE)?.first().copied().map_or(0, u64::from),
            paths,
        };
        let n = files.paths.len();
        for (what, len) in [
            ("modes", files.modes.len()),
            ("rdevs", files.rdevs.len()),
            ("mtimes", files.mtimes.len()),
            ("inodes", files.inodes.len()),
            ("flags", files.flags.len()),
            ("link targets", files.linktos.len()),
            ("sizes", files.sizes.len()),
            ("digests", files.digests.len()),
        ] {
            if len != n {
                return Err(format!("header: {len} file {what} for {n} files"));
            }
        }
        Ok(files)
    }
}

/// Which OpenPGP signatures a package carries (signature header tags present).
pub fn signature_tags(h: &PackageHeader) -> Vec<&'static str> {
    let s: &RawHeader = h.signature_header();
    [
        (tags::SIG_RSA, "RSA header"),
        (tags::SIG_DSA, "DSA header"),
        (tags::SIG_PGP, "PGP header+payload"),
        (tags::SIG_GPG, "GPG header+payload"),
        (tags::SIG_OPENPGP, "OpenPGP (v6)"),
    ]
    .into_iter()
    .filter(|(t, _)| s.has(*t))
    .map(|(_, n)| n)
    .collect()
}

/// Verify the package's OpenPGP header signature against the public keys in `keys`
/// (ASCII-armored files). Succeeds if a signature verifies with one of the keys; also
/// checks the header and payload digests.
pub fn verify_signature(path: impl AsRef<Path>, keys: &[PathBuf]) -> Result<String> {
    let path = path.as_ref();
    let label = path.display().to_string();
    // Our parser first: it rejects malformed headers before the rpm crate sees them.
    crate::verify::verify_digests(path)?;
    let serr = |m: String| Error::new(&label, ErrorKind::Signature(m));
    let meta = std::panic::catch_unwind(|| rpm::PackageMetadata::open(path))
        .map_err(|_| serr("the rpm crate panicked while parsing the header".into()))?
        .map_err(|e| serr(format!("parsing: {e}")))?;
    check_header_signature(meta, keys, &label)
}

/// [`verify_signature`] for the start of a package only (`head`: at least its lead,
/// signature header and main header, e.g. what an HTTP range request brought): the
/// header digests and the OpenPGP header signature are checked, the payload is not
/// (each payload file read later is checked against the digests of the header this
/// authenticates, see [`crate::PayloadReader`]). `label` names the package in errors.
pub fn verify_header_signature(head: &[u8], keys: &[PathBuf], label: &str) -> Result<String> {
    // Our parser first, and the header digests (SHA-256 of the main header).
    let header = PackageHeader::read(&mut &head[..], label)?;
    crate::verify::check_header_digests(&header).map_err(|k| Error::new(label, k))?;
    let serr = |m: String| Error::new(label, ErrorKind::Signature(m));
    let meta = std::panic::catch_unwind(|| rpm::PackageMetadata::parse(&mut &head[..]))
        .map_err(|_| serr("the rpm crate panicked while parsing the header".into()))?
        .map_err(|e| serr(format!("parsing: {e}")))?;
    check_header_signature(meta, keys, label)
}

/// The OpenPGP header signatures of `meta` checked with the public keys in `keys`:
/// the first key that verifies one (fingerprint, upper-case hex).
fn check_header_signature(
    meta: rpm::PackageMetadata,
    keys: &[PathBuf],
    label: &str,
) -> Result<String> {
    let serr = |m: String| Error::new(label, ErrorKind::Signature(m));
    if keys.is_empty() {
        return Err(serr("no public key given".into()));
    }
    let mut verifier = rpm::signature::pgp::Verifier::new();
    for k in keys {
        verifier
            .load_from_asc_file(k)
            .map_err(|e| serr(format!("loading public key {}: {e}", k.display())))?;
    }
    let report = meta
        .check_signatures(verifier)
        .map_err(|e| serr(format!("no signature verifies with the given keys: {e}")))?;
    report
        .digests
        .result()
        .map_err(|e| serr(format!("digest mismatch: {e}")))?;
    let mut last = None;
    for s in &report.signatures {
        match &s.error {
            None => {
                let id = s
                    .info
                    .fingerprint()
                    .or(s.info.key_id())
                    .unwrap_or("unknown");
                return Ok(id.to_ascii_uppercase());
            }
            Some(e) => last = Some(e.to_string()),
        }
    }
    Err(serr(format!(
        "no signature verifies with the given keys: {}",
        last.unwrap_or_else(|| "the package is not signed".into())
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The streamed package is the one the `rpm` crate writes from the same builder
    /// (holding the payload in memory), for every compressor and every kind of file.
    #[test]
    fn the_streamed_package_is_the_rpm_crates_own() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        // Over one zstd block and not a multiple of 4.
        let content: Vec<u8> = (0..300_001u32).map(|i| (i * 7 % 251) as u8).collect();
        fs::write(&big, &content).unwrap();
        for (name, level) in [
            ("zstd", Some(3)),
            ("xz", Some(1)),
            ("gzip", None),
            ("bzip2", Some(1)),
            ("none", None),
        ] {
            let mut b = PackageBuilder::new("jt-stream", "1.0", "1", "x86_64");
            b.source_date(1_700_000_000)
                .compression(name, level)
                .unwrap()
                .requires_equal("jt-dep", "0:1-1")
                .provides("jt-extra", Some("2"));
            b.add_file_bytes("/usr/share/jt/a", b"abc".to_vec(), 0o644);
            b.add_file_bytes("/usr/share/jt/empty", Vec::new(), 0o600);
            b.add_file_path("/usr/share/jt/sub/big", &big, 0o755);
            b.add(
                FileSpec::new("/etc/jt.conf", 0o644).flags(FileFlags::CONFIG),
                FileContent::Bytes(b"x=1\n".to_vec()),
            );
            b.add(
                FileSpec::new("/usr/share/jt/link", 0o777),
                FileContent::Symlink("a".into()),
            );
            b.add(FileSpec::new("/usr/share/jt/dir", 0o755), FileContent::Dir);
            b.add(FileSpec::new("/var/log/jt.log", 0o644), FileContent::Ghost);
            let ours = dir.path().join(format!("ours-{name}.rpm"));
            b.write_to(&ours, None).unwrap();
            let theirs = dir.path().join(format!("theirs-{name}.rpm"));
            b.build_rpm(true)
                .unwrap()
                .build()
                .unwrap()
                .write_file(&theirs)
                .unwrap();
            // The same header but for the payload's digest (the compressed bytes may differ:
            // libzstd's output depends on how its input is cut into writes), the same
            // uncompressed payload (PAYLOADDIGESTALT is in the header), and our payload
            // matches our header; without compression, the same bytes.
            let entries = |p: &Path| {
                let m = rpm::PackageMetadata::open(p).unwrap();
                let all = m.header.get_all_entries().unwrap();
                all.into_iter()
                    .filter(|(t, _)| *t != tags::PAYLOADDIGEST)
                    .collect::<Vec<_>>()
            };
            assert_eq!(entries(&ours), entries(&theirs), "{name}");
            crate::verify::verify_digests(&ours).unwrap();
            if name == "none" {
                assert!(fs::read(&ours).unwrap() == fs::read(&theirs).unwrap());
            }
            // Nothing is left beside the package.
            let left: Vec<_> = fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.contains(".part"))
                .collect();
            assert!(left.is_empty(), "{left:?}");
        }
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = PackageBuilder::new("jt-fail", "1.0", "1", "noarch");
        b.add_file_path("/usr/share/jt/missing", dir.path().join("missing"), 0o644);
        let out = dir.path().join("out.rpm");
        let e = b.write_to(&out, None).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn macro_expansion() {
        let t = SpecTemplate {
            name: Some("pkg".into()),
            ..Default::default()
        };
        let m = vec![("x".to_string(), "X".to_string())];
        assert_eq!(
            expand("%{name}-%x-%%-%{?undefined}-%{nope}", &m, &t),
            "pkg-X-%--%{nope}"
        );
        assert_eq!(expand("100%", &m, &t), "100%");
    }

    #[test]
    fn subpackage_sections_are_ignored() {
        let t = SpecTemplate::parse(
            "Name: a\nSummary: main\n%description\nmain text\n%package devel\nSummary: sub\n%description devel\nsub text\n",
            "t",
        )
        .unwrap();
        assert_eq!(t.summary.as_deref(), Some("main"));
        assert_eq!(t.description.as_deref(), Some("main text"));
    }
}
