//! repomd.xml: the index of a repository's metadata files.

use crate::error::{Error, Result};
use crate::model::{Checksum, ChecksumType};
use crate::xmlread::{attr, Step, XmlIn};
use std::io::{BufRead, Write};
use std::path::Path;

/// One `<data type="...">` record.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct RepomdRecord {
    /// Record type (`primary`, `filelists`, `other`, `primary_db`, `group`, ...).
    pub data_type: String,
    /// Location of the file relative to the repository root (`repodata/...`).
    pub location_href: String,
    /// `xml:base` of the location, if any.
    pub location_base: Option<String>,
    /// Checksum of the file as stored (compressed).
    pub checksum: Option<Checksum>,
    /// Checksum of the decompressed content.
    pub open_checksum: Option<Checksum>,
    /// zchunk header checksum, if any.
    pub header_checksum: Option<Checksum>,
    /// Size of the stored file.
    pub size: Option<u64>,
    /// Size of the decompressed content.
    pub open_size: Option<u64>,
    /// zchunk header size, if any.
    pub header_size: Option<u64>,
    /// Timestamp (seconds since the epoch).
    pub timestamp: Option<u64>,
    /// `database_version` of sqlite records.
    pub database_version: Option<u64>,
}

/// A parsed repomd.xml.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Repomd {
    /// `<revision>`.
    pub revision: Option<String>,
    /// `<tags><content>` values.
    pub content_tags: Vec<String>,
    /// `<tags><repo>` values.
    pub repo_tags: Vec<String>,
    /// `<tags><distro>` values as (cpeid, text).
    pub distro_tags: Vec<(Option<String>, String)>,
    /// The data records in document order.
    pub records: Vec<RepomdRecord>,
}

fn checksum_from(
    elem: &quick_xml::events::BytesStart<'_>,
    path: &Path,
) -> Result<Option<ChecksumType>> {
    match attr(elem, "type", path)? {
        None => Ok(None),
        Some(t) => ChecksumType::from_name(&t)
            .map(Some)
            .ok_or_else(|| Error::Invalid {
                path: path.to_path_buf(),
                message: format!("unknown checksum type {t:?}"),
            }),
    }
}

fn parse_num(s: &str, what: &str, path: &Path) -> Result<u64> {
    let t = s.trim();
    // Some generators write float timestamps ("1341833232.0").
    let t = t.split('.').next().unwrap_or(t);
    t.parse().map_err(|_| Error::Invalid {
        path: path.to_path_buf(),
        message: format!("<{what}> {s:?} is not a number"),
    })
}

impl Repomd {
    /// Parses repomd.xml from `inner`; `path` names it in errors.
    pub fn parse<R: BufRead>(inner: R, path: &Path) -> Result<Repomd> {
        let mut x = XmlIn::new(inner, path);
        let mut md = Repomd::default();
        let mut rec: Option<RepomdRecord> = None;
        let mut ctype: Option<ChecksumType> = None;
        let mut distro_cpe: Option<String> = None;
        let mut saw_root = false;
        loop {
            match x.next()? {
                Step::Start { elem, .. } => {
                    let l = elem.local_name().as_ref().as_bytes().to_vec();
                    if !saw_root {
                        if l != b"repomd" {
                            return Err(x.err("root element is not <repomd>"));
                        }
                        saw_root = true;
                        continue;
                    }
                    match l.as_slice() {
                        b"data" => {
                            let t = attr(&elem, "type", path)?
                                .ok_or_else(|| x.err("<data> without type"))?;
                            rec = Some(RepomdRecord {
                                data_type: t,
                                ..Default::default()
                            });
                        }
                        b"location" => {
                            if let Some(r) = rec.as_mut() {
                                r.location_href = attr(&elem, "href", path)?
                                    .ok_or_else(|| x.err("<location> without href"))?;
                                r.location_base = attr(&elem, "xml:base", path)?;
                            }
                        }
                        b"checksum" | b"open-checksum" | b"header-checksum" => {
                            ctype = checksum_from(&elem, path)?;
                        }
                        b"distro" => distro_cpe = attr(&elem, "cpeid", path)?,
                        _ => {}
                    }
                }
                Step::End { local } => {
                    let text = x.text.trim().to_string();
                    match local.as_slice() {
                        b"repomd" => break,
                        b"revision" => md.revision = Some(text),
                        b"content" => md.content_tags.push(text),
                        b"repo" => md.repo_tags.push(text),
                        b"distro" => md.distro_tags.push((distro_cpe.take(), text)),
                        b"data" => {
                            if let Some(r) = rec.take() {
                                if r.location_href.is_empty() {
                                    return Err(x.err(format!(
                                        "<data type=\"{}\"> has no <location>",
                                        r.data_type
                                    )));
                                }
                                md.records.push(r);
                            }
                        }
                        b"checksum" | b"open-checksum" | b"header-checksum" => {
                            if let Some(r) = rec.as_mut() {
                                let kind = ctype
                                    .take()
                                    .ok_or_else(|| x.err("checksum without a type attribute"))?;
                                let c = Some(Checksum {
                                    kind,
                                    hex: text.to_ascii_lowercase(),
                                });
                                match local.as_slice() {
                                    b"checksum" => r.checksum = c,
                                    b"open-checksum" => r.open_checksum = c,
                                    _ => r.header_checksum = c,
                                }
                            }
                        }
                        b"size" | b"open-size" | b"header-size" | b"timestamp"
                        | b"database_version" => {
                            if let Some(r) = rec.as_mut() {
                                let what = String::from_utf8_lossy(&local).into_owned();
                                let n = Some(parse_num(&text, &what, path)?);
                                match local.as_slice() {
                                    b"size" => r.size = n,
                                    b"open-size" => r.open_size = n,
                                    b"header-size" => r.header_size = n,
                                    b"timestamp" => r.timestamp = n,
                                    _ => r.database_version = n,
                                }
                            }
                        }
                        _ => {}
                    }
                }
                Step::Eof => return Err(x.err("document ends before </repomd>")),
            }
        }
        Ok(md)
    }

    /// Parses the repomd.xml file at `path`.
    pub fn from_file(path: &Path) -> Result<Repomd> {
        let f = std::fs::File::open(path).map_err(crate::error::io_err(path))?;
        Repomd::parse(std::io::BufReader::new(f), path)
    }

    /// The first record of `data_type`.
    pub fn record(&self, data_type: &str) -> Option<&RepomdRecord> {
        self.records.iter().find(|r| r.data_type == data_type)
    }

    /// Writes repomd.xml in createrepo_c's layout.
    pub fn write<W: Write>(&self, mut w: W) -> std::io::Result<()> {
        use crate::xmlwrite::esc;
        writeln!(w, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
        writeln!(
            w,
            r#"<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">"#
        )?;
        if let Some(rev) = &self.revision {
            writeln!(w, "  <revision>{}</revision>", esc(rev))?;
        }
        if !self.content_tags.is_empty()
            || !self.repo_tags.is_empty()
            || !self.distro_tags.is_empty()
        {
            writeln!(w, "  <tags>")?;
            for t in &self.content_tags {
                writeln!(w, "    <content>{}</content>", esc(t))?;
            }
            for t in &self.repo_tags {
                writeln!(w, "    <repo>{}</repo>", esc(t))?;
            }
            for (cpe, t) in &self.distro_tags {
                match cpe {
                    Some(c) => {
                        writeln!(w, r#"    <distro cpeid="{}">{}</distro>"#, esc(c), esc(t))?
                    }
                    None => writeln!(w, "    <distro>{}</distro>", esc(t))?,
                }
            }
            writeln!(w, "  </tags>")?;
        }
        for r in &self.records {
            writeln!(w, r#"  <data type="{}">"#, esc(&r.data_type))?;
            if let Some(c) = &r.checksum {
                writeln!(
                    w,
                    r#"    <checksum type="{}">{}</checksum>"#,
                    c.kind.name(),
                    c.hex
                )?;
            }
            if let Some(c) = &r.open_checksum {
                writeln!(
                    w,
                    r#"    <open-checksum type="{}">{}</open-checksum>"#,
                    c.kind.name(),
                    c.hex
                )?;
            }
            if let Some(c) = &r.header_checksum {
                writeln!(
                    w,
                    r#"    <header-checksum type="{}">{}</header-checksum>"#,
                    c.kind.name(),
                    c.hex
                )?;
            }
            match &r.location_base {
                Some(b) => writeln!(
                    w,
                    r#"    <location xml:base="{}" href="{}"/>"#,
                    esc(b),
                    esc(&r.location_href)
                )?,
                None => writeln!(w, r#"    <location href="{}"/>"#, esc(&r.location_href))?,
            }
            if let Some(t) = r.timestamp {
                writeln!(w, "    <timestamp>{t}</timestamp>")?;
            }
            if let Some(s) = r.size {
                writeln!(w, "    <size>{s}</size>")?;
            }
            if let Some(s) = r.open_size {
                writeln!(w, "    <open-size>{s}</open-size>")?;
            }
            if let Some(s) = r.header_size {
                writeln!(w, "    <header-size>{s}</header-size>")?;
            }
            if let Some(v) = r.database_version {
                writeln!(w, "    <database_version>{v}</database_version>")?;
            }
            writeln!(w, "  </data>")?;
        }
        writeln!(w, "</repomd>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_write_roundtrip() {
        let text = r#"<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1700000000</revision>
  <tags><distro cpeid="cpe:/o:x">X &amp; Y</distro></tags>
  <data type="primary">
    <checksum type="sha256">AB</checksum>
    <open-checksum type="sha256">cd</open-checksum>
    <location href="repodata/ab-primary.xml.zst"/>
    <timestamp>1700000000</timestamp>
    <size>10</size>
    <open-size>20</open-size>
  </data>
</repomd>
"#;
        let md = Repomd::parse(text.as_bytes(), Path::new("repomd.xml")).unwrap();
        let p = md.record("primary").unwrap();
        assert_eq!(p.checksum.as_ref().unwrap().hex, "ab");
        assert_eq!(p.open_size, Some(20));
        assert_eq!(md.distro_tags[0].1, "X & Y");
        let mut out = Vec::new();
        md.write(&mut out).unwrap();
        let again = Repomd::parse(&out[..], Path::new("out")).unwrap();
        assert_eq!(again, md);
    }
}
