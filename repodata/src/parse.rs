//! Streaming readers of primary.xml, filelists.xml and other.xml: each yields
//! one package at a time, so memory stays bounded whatever the repository size.

use crate::error::{Error, Result};
use crate::model::{Changelog, Checksum, ChecksumType, Dependency, FileEntry, FileType, Package};
use crate::xmlread::{attr, num_attr, Step, XmlIn};
use quick_xml::events::BytesStart;
use rpm_package::evr::Relation;
use std::io::BufRead;
use std::path::Path;

#[derive(Clone, Copy, PartialEq, Eq)]
enum DepKind {
    Provides,
    Requires,
    Conflicts,
    Obsoletes,
    Suggests,
    Enhances,
    Recommends,
    Supplements,
}

fn dep_kind(local: &[u8]) -> Option<DepKind> {
    Some(match local {
        b"provides" => DepKind::Provides,
        b"requires" => DepKind::Requires,
        b"conflicts" => DepKind::Conflicts,
        b"obsoletes" => DepKind::Obsoletes,
        b"suggests" => DepKind::Suggests,
        b"enhances" => DepKind::Enhances,
        b"recommends" => DepKind::Recommends,
        b"supplements" => DepKind::Supplements,
        _ => return None,
    })
}

fn dep_list(p: &mut Package, k: DepKind) -> &mut Vec<Dependency> {
    match k {
        DepKind::Provides => &mut p.provides,
        DepKind::Requires => &mut p.requires,
        DepKind::Conflicts => &mut p.conflicts,
        DepKind::Obsoletes => &mut p.obsoletes,
        DepKind::Suggests => &mut p.suggests,
        DepKind::Enhances => &mut p.enhances,
        DepKind::Recommends => &mut p.recommends,
        DepKind::Supplements => &mut p.supplements,
    }
}

fn file_type(elem: &BytesStart<'_>, path: &Path) -> Result<FileType> {
    Ok(match attr(elem, "type", path)?.as_deref() {
        None | Some("") | Some("file") => FileType::File,
        Some("dir") => FileType::Dir,
        Some("ghost") => FileType::Ghost,
        Some(other) => {
            return Err(Error::Invalid {
                path: path.to_path_buf(),
                message: format!("unknown file type {other:?}"),
            })
        }
    })
}

fn local(elem: &BytesStart<'_>) -> Vec<u8> {
    elem.local_name().as_ref().as_bytes().to_vec()
}

/// Reads the root element and returns its `packages` count, if given.
fn read_root<R: BufRead>(x: &mut XmlIn<R>, want: &[u8]) -> Result<Option<u64>> {
    match x.next()? {
        Step::Start { elem, .. } => {
            if local(&elem) != want {
                return Err(x.err(format!(
                    "root element is <{}>, expected <{}>",
                    String::from_utf8_lossy(elem.name().as_ref().as_bytes()),
                    String::from_utf8_lossy(want)
                )));
            }
            let path = x.path().to_path_buf();
            num_attr(&elem, "packages", &path)
        }
        Step::End { .. } => Err(x.err("unexpected end tag before the root element")),
        Step::Eof => Err(x.err("empty document")),
    }
}

/// Streaming reader of primary.xml: an iterator of [`Package`] (with
/// `primary_files` filled, `files` and `changelogs` empty).
pub struct PrimaryReader<R: BufRead> {
    x: XmlIn<R>,
    count: Option<u64>,
    done: bool,
}

impl<R: BufRead> PrimaryReader<R> {
    /// Starts reading decompressed primary.xml from `inner`; `path` names it in errors.
    pub fn new(inner: R, path: &Path) -> Result<Self> {
        let mut x = XmlIn::new(inner, path);
        let count = read_root(&mut x, b"metadata")?;
        Ok(PrimaryReader {
            x,
            count,
            done: false,
        })
    }

    /// The `packages` count the root element announces.
    pub fn announced_count(&self) -> Option<u64> {
        self.count
    }

    fn read_package(&mut self, type_attr: Option<String>) -> Result<Package> {
        let path = self.x.path().to_path_buf();
        if let Some(t) = type_attr {
            if t != "rpm" {
                return Err(self.x.err(format!("package type {t:?} is not rpm")));
            }
        }
        let mut p = Package::default();
        let mut deps: Option<DepKind> = None;
        let mut file_kind = FileType::File;
        let mut checksum_type: Option<ChecksumType> = None;
        let mut seen_name = false;
        loop {
            match self.x.next()? {
                Step::Start { elem, .. } => {
                    let l = local(&elem);
                    match l.as_slice() {
                        b"version" if deps.is_none() => {
                            p.epoch = num_attr(&elem, "epoch", &path)?.unwrap_or(0);
                            p.version = attr(&elem, "ver", &path)?.unwrap_or_default();
                            p.release = attr(&elem, "rel", &path)?.unwrap_or_default();
                        }
                        b"checksum" => {
                            let t = attr(&elem, "type", &path)?.unwrap_or_default();
                            checksum_type = Some(ChecksumType::from_name(&t).ok_or_else(|| {
                                self.x.err(format!("unknown checksum type {t:?}"))
                            })?);
                        }
                        b"time" => {
                            p.time_file = num_attr(&elem, "file", &path)?.unwrap_or(0);
                            p.time_build = num_attr(&elem, "build", &path)?.unwrap_or(0);
                        }
                        b"size" => {
                            p.size_package = num_attr(&elem, "package", &path)?.unwrap_or(0);
                            p.size_installed = num_attr(&elem, "installed", &path)?.unwrap_or(0);
                            p.size_archive = num_attr(&elem, "archive", &path)?.unwrap_or(0);
                        }
                        b"location" => {
                            p.location_href = attr(&elem, "href", &path)?
                                .ok_or_else(|| self.x.err("<location> without href"))?;
                            p.location_base = attr(&elem, "xml:base", &path)?;
                        }
                        b"header-range" => {
                            p.header_start = num_attr(&elem, "start", &path)?.unwrap_or(0);
                            p.header_end = num_attr(&elem, "end", &path)?.unwrap_or(0);
                        }
                        b"entry" => {
                            let Some(k) = deps else {
                                return Err(self.x.err("<rpm:entry> outside a dependency list"));
                            };
                            let name = attr(&elem, "name", &path)?
                                .ok_or_else(|| self.x.err("<rpm:entry> without name"))?;
                            let flags = match attr(&elem, "flags", &path)? {
                                None => None,
                                Some(f) => Some(Relation::from_rpmmd(&f).ok_or_else(|| {
                                    self.x.err(format!("unknown dependency flags {f:?}"))
                                })?),
                            };
                            let dep = Dependency {
                                name,
                                flags,
                                epoch: attr(&elem, "epoch", &path)?,
                                version: attr(&elem, "ver", &path)?,
                                release: attr(&elem, "rel", &path)?,
                                pre: matches!(
                                    attr(&elem, "pre", &path)?.as_deref(),
                                    Some("1") | Some("true")
                                ),
                            };
                            dep_list(&mut p, k).push(dep);
                        }
                        b"file" => file_kind = file_type(&elem, &path)?,
                        other => {
                            if let Some(k) = dep_kind(other) {
                                deps = Some(k);
                            }
                        }
                    }
                }
                Step::End { local } => {
                    let text = &self.x.text;
                    match local.as_slice() {
                        b"package" => break,
                        b"name" => {
                            p.name = text.clone();
                            seen_name = true;
                        }
                        b"arch" => p.arch = text.clone(),
                        b"checksum" => {
                            p.checksum = Some(Checksum {
                                kind: checksum_type.unwrap_or(ChecksumType::Sha256),
                                hex: text.trim().to_ascii_lowercase(),
                            })
                        }
                        b"summary" => p.summary = text.clone(),
                        b"description" => p.description = text.clone(),
                        b"packager" => p.packager = text.clone(),
                        b"url" => p.url = text.clone(),
                        b"license" => p.license = text.clone(),
                        b"vendor" => p.vendor = text.clone(),
                        b"group" => p.group = text.clone(),
                        b"buildhost" => p.buildhost = text.clone(),
                        b"sourcerpm" => p.sourcerpm = text.clone(),
                        b"file" => p.primary_files.push(FileEntry {
                            path: text.clone(),
                            kind: file_kind,
                        }),
                        other if dep_kind(other).is_some() => deps = None,
                        _ => {}
                    }
                }
                Step::Eof => return Err(self.x.err("document ends inside <package>")),
            }
        }
        if !seen_name {
            return Err(self.x.err("<package> without <name>"));
        }
        if p.checksum.is_none() {
            return Err(self
                .x
                .err(format!("package {} has no <checksum> (pkgid)", p.name)));
        }
        Ok(p)
    }

    fn next_package(&mut self) -> Result<Option<Package>> {
        loop {
            match self.x.next()? {
                Step::Start { elem, empty } => {
                    if local(&elem) == b"package" && !empty {
                        let path = self.x.path().to_path_buf();
                        let t = attr(&elem, "type", &path)?;
                        return self.read_package(t).map(Some);
                    }
                    // Unknown top-level element: skip it (forward compatibility).
                }
                Step::End { local } => {
                    if local == b"metadata" {
                        // Nothing else may follow but Eof.
                        match self.x.next()? {
                            Step::Eof => return Ok(None),
                            _ => return Err(self.x.err("content after </metadata>")),
                        }
                    }
                }
                Step::Eof => return Err(self.x.err("document ends before </metadata>")),
            }
        }
    }
}

/// One step of a reader's iterator: the item, or the end (after an error too).
fn iteration_step<T>(done: &mut bool, next: Result<Option<T>>) -> Option<Result<T>> {
    match next {
        Ok(Some(item)) => Some(Ok(item)),
        Ok(None) => {
            *done = true;
            None
        }
        Err(e) => {
            *done = true;
            Some(Err(e))
        }
    }
}

impl<R: BufRead> Iterator for PrimaryReader<R> {
    type Item = Result<Package>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_package();
        iteration_step(&mut self.done, next)
    }
}

/// One package of filelists.xml or other.xml.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtraEntry {
    /// Package id (matches primary's checksum).
    pub pkgid: String,
    /// Name.
    pub name: String,
    /// Architecture.
    pub arch: String,
    /// Epoch.
    pub epoch: u64,
    /// Version.
    pub version: String,
    /// Release.
    pub release: String,
    /// Files (filelists.xml).
    pub files: Vec<FileEntry>,
    /// Changelogs (other.xml).
    pub changelogs: Vec<Changelog>,
}

/// Which of the two per-package side files is read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExtraKind {
    /// filelists.xml (`<filelists>`).
    Filelists,
    /// other.xml (`<otherdata>`).
    Other,
}

/// Streaming reader of filelists.xml or other.xml: an iterator of [`ExtraEntry`].
pub struct ExtraReader<R: BufRead> {
    x: XmlIn<R>,
    kind: ExtraKind,
    count: Option<u64>,
    done: bool,
}

impl<R: BufRead> ExtraReader<R> {
    /// Starts reading a decompressed filelists.xml or other.xml.
    pub fn new(inner: R, path: &Path, kind: ExtraKind) -> Result<Self> {
        let mut x = XmlIn::new(inner, path);
        let root: &[u8] = match kind {
            ExtraKind::Filelists => b"filelists",
            ExtraKind::Other => b"otherdata",
        };
        let count = read_root(&mut x, root)?;
        Ok(ExtraReader {
            x,
            kind,
            count,
            done: false,
        })
    }

    /// The `packages` count the root element announces.
    pub fn announced_count(&self) -> Option<u64> {
        self.count
    }

    fn read_package(&mut self, elem: BytesStart<'static>) -> Result<ExtraEntry> {
        let path = self.x.path().to_path_buf();
        let mut e = ExtraEntry {
            pkgid: attr(&elem, "pkgid", &path)?
                .ok_or_else(|| self.x.err("<package> without pkgid"))?
                .to_ascii_lowercase(),
            name: attr(&elem, "name", &path)?.unwrap_or_default(),
            arch: attr(&elem, "arch", &path)?.unwrap_or_default(),
            ..Default::default()
        };
        let mut file_kind = FileType::File;
        let mut cl: Option<(String, u64)> = None;
        loop {
            match self.x.next()? {
                Step::Start { elem, .. } => match local(&elem).as_slice() {
                    b"version" => {
                        e.epoch = num_attr(&elem, "epoch", &path)?.unwrap_or(0);
                        e.version = attr(&elem, "ver", &path)?.unwrap_or_default();
                        e.release = attr(&elem, "rel", &path)?.unwrap_or_default();
                    }
                    b"file" if self.kind == ExtraKind::Filelists => {
                        file_kind = file_type(&elem, &path)?
                    }
                    b"changelog" if self.kind == ExtraKind::Other => {
                        cl = Some((
                            attr(&elem, "author", &path)?.unwrap_or_default(),
                            num_attr(&elem, "date", &path)?.unwrap_or(0),
                        ))
                    }
                    _ => {}
                },
                Step::End { local } => match local.as_slice() {
                    b"package" => break,
                    b"file" if self.kind == ExtraKind::Filelists => e.files.push(FileEntry {
                        path: self.x.text.clone(),
                        kind: file_kind,
                    }),
                    b"changelog" if self.kind == ExtraKind::Other => {
                        if let Some((author, date)) = cl.take() {
                            e.changelogs.push(Changelog {
                                author,
                                date,
                                text: self.x.text.clone(),
                            });
                        }
                    }
                    _ => {}
                },
                Step::Eof => return Err(self.x.err("document ends inside <package>")),
            }
        }
        Ok(e)
    }

    fn next_entry(&mut self) -> Result<Option<ExtraEntry>> {
        loop {
            match self.x.next()? {
                Step::Start { elem, empty } => {
                    if local(&elem) == b"package" {
                        if empty {
                            let path = self.x.path().to_path_buf();
                            let pkgid = attr(&elem, "pkgid", &path)?
                                .ok_or_else(|| self.x.err("<package> without pkgid"))?;
                            // Consume the synthetic end of the empty element.
                            self.x.next()?;
                            return Ok(Some(ExtraEntry {
                                pkgid: pkgid.to_ascii_lowercase(),
                                name: attr(&elem, "name", &path)?.unwrap_or_default(),
                                arch: attr(&elem, "arch", &path)?.unwrap_or_default(),
                                ..Default::default()
                            }));
                        }
                        return self.read_package(elem).map(Some);
                    }
                }
                Step::End { local } => {
                    if local == b"filelists" || local == b"otherdata" {
                        match self.x.next()? {
                            Step::Eof => return Ok(None),
                            _ => return Err(self.x.err("content after the root element")),
                        }
                    }
                }
                Step::Eof => {
                    return Err(self.x.err("document ends before the root element closes"))
                }
            }
        }
    }
}

impl<R: BufRead> Iterator for ExtraReader<R> {
    type Item = Result<ExtraEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_entry();
        iteration_step(&mut self.done, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIMARY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="1">
<package type="rpm">
  <name>foo</name>
  <arch>x86_64</arch>
  <version epoch="2" ver="1.0" rel="3"/>
  <checksum type="sha256" pkgid="YES">ABCDEF</checksum>
  <summary>a &amp; b &#x41;</summary>
  <description><![CDATA[raw <text>]]></description>
  <packager/>
  <url>http://x</url>
  <time file="10" build="20"/>
  <size package="1" installed="2" archive="3"/>
  <location xml:base="http://mirror/" href="Packages/foo.rpm"/>
  <format>
    <rpm:license>MIT</rpm:license>
    <rpm:vendor/>
    <rpm:group>G</rpm:group>
    <rpm:buildhost>h</rpm:buildhost>
    <rpm:sourcerpm>foo.src.rpm</rpm:sourcerpm>
    <rpm:header-range start="4504" end="9000"/>
    <rpm:provides>
      <rpm:entry name="foo" flags="EQ" epoch="2" ver="1.0" rel="3"/>
    </rpm:provides>
    <rpm:requires>
      <rpm:entry name="/bin/sh" pre="1"/>
      <rpm:entry name="bar" flags="GE" epoch="0" ver="2"/>
    </rpm:requires>
    <file>/usr/bin/foo</file>
    <file type="dir">/etc/foo</file>
  </format>
</package>
</metadata>
"#;

    #[test]
    fn reads_primary() {
        let mut r = PrimaryReader::new(PRIMARY.as_bytes(), Path::new("primary.xml")).unwrap();
        assert_eq!(r.announced_count(), Some(1));
        let p = r.next().unwrap().unwrap();
        assert!(r.next().is_none());
        assert_eq!(p.nevra(), "foo-2:1.0-3.x86_64");
        assert_eq!(p.pkgid(), "abcdef");
        assert_eq!(p.summary, "a & b A");
        assert_eq!(p.description, "raw <text>");
        assert_eq!(p.location_base.as_deref(), Some("http://mirror/"));
        assert_eq!(p.location_href, "Packages/foo.rpm");
        assert_eq!((p.header_start, p.header_end), (4504, 9000));
        assert_eq!(p.requires.len(), 2);
        assert!(p.requires[0].pre);
        assert_eq!(p.requires[1].flags, Some(Relation::Ge));
        assert_eq!(p.provides[0].release.as_deref(), Some("3"));
        assert_eq!(p.primary_files[1].kind, FileType::Dir);
        assert_eq!(p.vendor, "");
        assert_eq!(p.size_archive, 3);
    }

    #[test]
    fn malformed_primary_names_file() {
        let bad = PRIMARY.replace("</format>", "");
        let r = PrimaryReader::new(bad.as_bytes(), Path::new("/x/primary.xml")).unwrap();
        let errs: Vec<_> = r.filter_map(|x| x.err()).collect();
        assert_eq!(errs.len(), 1);
        let msg = errs[0].to_string();
        assert!(msg.contains("/x/primary.xml"), "{msg}");
    }

    #[test]
    fn reads_filelists_and_other() {
        let fl = r#"<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="2">
<package pkgid="AA" name="foo" arch="noarch"><version epoch="0" ver="1" rel="2"/>
<file>/a</file><file type="ghost">/b</file><file type="dir">/c</file></package>
<package pkgid="bb" name="bar" arch="noarch"/>
</filelists>"#;
        let v: Vec<_> = ExtraReader::new(fl.as_bytes(), Path::new("f"), ExtraKind::Filelists)
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].pkgid, "aa");
        assert_eq!(v[0].files.len(), 3);
        assert_eq!(v[0].files[1].kind, FileType::Ghost);
        let other = r#"<otherdata packages="1"><package pkgid="aa" name="foo" arch="noarch">
<version epoch="0" ver="1" rel="2"/><changelog author="A &lt;a@b&gt;" date="5">- x</changelog>
</package></otherdata>"#;
        let v: Vec<_> = ExtraReader::new(other.as_bytes(), Path::new("o"), ExtraKind::Other)
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(v[0].changelogs[0].author, "A <a@b>");
        assert_eq!(v[0].changelogs[0].text, "- x");
    }
}
