//! MirrorManager metalinks (metalink 3.0 with the `mm0:` extensions): the
//! mirrors of `repomd.xml`, their preference, and the sizes and checksums
//! the downloaded `repomd.xml` must match (current and `mm0:alternates`).

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::Reader;

use crate::error::AttemptError;
use rpm_package::digest::{Checksum, DigestAlgorithm};

/// A parsed metalink document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metalink {
    /// Every `<file>` in document order.
    pub files: Vec<MetalinkFile>,
}

/// Size and checksums that one version of a file has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetalinkVersion {
    /// `mm0:timestamp`, if present and numeric.
    pub timestamp: Option<i64>,
    /// `<size>`, if present and numeric.
    pub size: Option<u64>,
    /// `<hash type=…>` values, as written (type lower-cased).
    pub hashes: Vec<(String, String)>,
}

/// One `<file>` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetalinkFile {
    /// The `name` attribute ("repomd.xml").
    pub name: String,
    /// The current version's size and checksums.
    pub current: MetalinkVersion,
    /// Older versions still accepted (`mm0:alternates`).
    pub alternates: Vec<MetalinkVersion>,
    /// The `<url>`s inside `<resources>`, in document order.
    pub urls: Vec<MetalinkUrl>,
}

/// One `<url>` of a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetalinkUrl {
    /// The URL text.
    pub url: String,
    /// `protocol` attribute (http, ftp, rsync…).
    pub protocol: Option<String>,
    /// `location` attribute (country code).
    pub location: Option<String>,
    /// `preference` attribute (0–100, higher first); invalid values are None.
    pub preference: Option<u32>,
}

/// A metalink that is not well-formed XML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MetalinkParseError(pub String);

impl Metalink {
    /// Parses a metalink document. Malformed XML is an error; odd values
    /// (non-numeric size or preference, unknown hash types, empty URLs) are
    /// skipped, as MirrorManager clients do.
    pub fn parse(xml: &[u8]) -> Result<Metalink, MetalinkParseError> {
        parse(xml)
    }

    /// The entry for `name` (normally "repomd.xml").
    pub fn file(&self, name: &str) -> Option<&MetalinkFile> {
        self.files.iter().find(|f| f.name == name)
    }
}

impl MetalinkFile {
    /// URLs sorted by preference, highest first; equal preferences keep
    /// document order; URLs without a valid preference come last.
    pub fn urls_by_preference(&self) -> Vec<&MetalinkUrl> {
        let mut v: Vec<&MetalinkUrl> = self.urls.iter().collect();
        v.sort_by_key(|u| std::cmp::Reverse(u.preference.map(i64::from).unwrap_or(-1)));
        v
    }

    /// Whether the metalink gives anything to check a download against.
    pub fn has_checks(&self) -> bool {
        std::iter::once(&self.current)
            .chain(&self.alternates)
            .any(|v| v.size.is_some() || v.strongest_hash().is_some())
    }

    /// Whether the metalink gives a usable hash for any version of the file.
    pub fn has_hashes(&self) -> bool {
        std::iter::once(&self.current)
            .chain(&self.alternates)
            .any(|v| v.strongest_hash().is_some())
    }

    /// Checks downloaded content against the current version or any
    /// alternate: size (if given) and the strongest known hash (if any).
    pub fn check(&self, data: &[u8]) -> Result<(), AttemptError> {
        let mut first_err = None;
        for v in std::iter::once(&self.current).chain(&self.alternates) {
            match v.check(data) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl MetalinkVersion {
    /// The strongest hash with a known type and a well-formed value.
    pub fn strongest_hash(&self) -> Option<Checksum> {
        self.hashes
            .iter()
            .filter_map(|(t, v)| Checksum::new(DigestAlgorithm::from_name(t)?, v).ok())
            .max_by_key(|c| c.kind)
    }

    fn check(&self, data: &[u8]) -> Result<(), AttemptError> {
        if let Some(size) = self.size {
            if data.len() as u64 != size {
                return Err(AttemptError::SizeMismatch {
                    expected: size,
                    got: data.len() as u64,
                });
            }
        }
        match self.strongest_hash() {
            Some(want) => {
                let got = Checksum::of(want.kind, data);
                if got == want {
                    Ok(())
                } else {
                    Err(AttemptError::Checksum {
                        kind: want.kind,
                        expected: want.hex,
                        got: got.hex,
                        from_metalink: true,
                    })
                }
            }
            // A listed hash we cannot use (bad value, unknown type) while no
            // usable one exists: the metalink promises a check we cannot do.
            None if !self.hashes.is_empty() => Err(AttemptError::NoUsableHash {
                listed: self.hashes.clone(),
            }),
            None => Ok(()),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    None,
    Timestamp,
    Size,
    Hash,
    Url,
}

fn parse(xml: &[u8]) -> Result<Metalink, MetalinkParseError> {
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut ml = Metalink::default();
    let mut stack: Vec<String> = Vec::new();
    let mut file: Option<MetalinkFile> = None;
    let mut alt: Option<MetalinkVersion> = None;
    let mut field = Field::None;
    let mut text = String::new();
    let mut hash_type = String::new();
    let mut url = MetalinkUrl::default();
    let err = |r: &Reader<&[u8]>, e: &dyn std::fmt::Display| {
        MetalinkParseError(format!("at byte {}: {e}", r.buffer_position()))
    };
    loop {
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| err(&reader, &e))?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                let name = e.local_name().as_ref().to_string();
                let mut attrs = Vec::new();
                for a in e.attributes() {
                    let a = a.map_err(|x| err(&reader, &x))?;
                    let key = a.key.local_name().as_ref().to_string();
                    let val = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|x| err(&reader, &x))?
                        .into_owned();
                    attrs.push((key, val));
                }
                let attr = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                let parent = stack.last().map(String::as_str);
                match name.as_str() {
                    "file" if parent == Some("files") => {
                        file = Some(MetalinkFile {
                            name: attr("name").unwrap_or_default(),
                            ..Default::default()
                        });
                    }
                    "alternate" if file.is_some() => alt = Some(MetalinkVersion::default()),
                    "timestamp" if file.is_some() => field = Field::Timestamp,
                    "size" if file.is_some() => field = Field::Size,
                    "hash" if file.is_some() && parent == Some("verification") => {
                        field = Field::Hash;
                        hash_type = attr("type").unwrap_or_default().to_ascii_lowercase();
                    }
                    "url" if file.is_some() && parent == Some("resources") => {
                        field = Field::Url;
                        url = MetalinkUrl {
                            url: String::new(),
                            protocol: attr("protocol"),
                            location: attr("location"),
                            preference: attr("preference").and_then(|p| p.trim().parse().ok()),
                        };
                    }
                    _ => {}
                }
                text.clear();
                if empty {
                    finish_field(&mut field, &text, &hash_type, &mut url, &mut file, &mut alt);
                    if name == "file" {
                        if let Some(f) = file.take() {
                            ml.files.push(f);
                        }
                    }
                } else {
                    stack.push(name);
                }
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text.push(c);
                } else if let Some(s) = resolve_predefined_entity(&r) {
                    text.push_str(s);
                }
            }
            Event::End(_) => {
                let name = stack.pop().unwrap_or_default();
                match name.as_str() {
                    "file" => {
                        if let Some(f) = file.take() {
                            ml.files.push(f);
                        }
                    }
                    "alternate" => {
                        if let (Some(a), Some(f)) = (alt.take(), file.as_mut()) {
                            f.alternates.push(a);
                        }
                    }
                    _ => finish_field(&mut field, &text, &hash_type, &mut url, &mut file, &mut alt),
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return Err(MetalinkParseError(format!(
            "document ends inside <{}>",
            stack.join("><")
        )));
    }
    if ml.files.is_empty() && !xml.windows(9).any(|w| w == b"<metalink") {
        return Err(MetalinkParseError("not a metalink document".into()));
    }
    Ok(ml)
}

fn finish_field(
    field: &mut Field,
    text: &str,
    hash_type: &str,
    url: &mut MetalinkUrl,
    file: &mut Option<MetalinkFile>,
    alt: &mut Option<MetalinkVersion>,
) {
    let Some(f) = file.as_mut() else {
        *field = Field::None;
        return;
    };
    let version = match alt.as_mut() {
        Some(a) => a,
        None => &mut f.current,
    };
    let t = text.trim();
    match *field {
        Field::Timestamp => version.timestamp = t.parse().ok(),
        Field::Size => version.size = t.parse().ok(),
        Field::Hash => {
            if !t.is_empty() && !hash_type.is_empty() {
                version.hashes.push((hash_type.to_string(), t.to_string()));
            }
        }
        Field::Url => {
            if !t.is_empty() {
                url.url = t.to_string();
                f.urls.push(std::mem::take(url));
            }
        }
        Field::None => {}
    }
    *field = Field::None;
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<?xml version="1.0"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" xmlns:mm0="http://fedorahosted.org/mirrormanager">
 <files><file name="repomd.xml">
  <mm0:timestamp>5</mm0:timestamp><size>3</size>
  <verification><hash type="sha256">ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad</hash></verification>
  <mm0:alternates><mm0:alternate><size>4</size>
   <verification><hash type="md5">e2fc714c4727ee9395f324cd2e7f331f</hash></verification>
  </mm0:alternate></mm0:alternates>
  <resources>
   <url protocol="http" preference="50">http://b/r/repodata/repomd.xml?a=1&amp;b=2</url>
   <url protocol="http" preference="90">http://a/r/repodata/repomd.xml</url>
   <url>http://c/r/repodata/repomd.xml</url>
  </resources>
 </file></files></metalink>"#;

    #[test]
    fn parses_and_orders() {
        let ml = Metalink::parse(DOC.as_bytes()).unwrap();
        let f = ml.file("repomd.xml").unwrap();
        assert_eq!(f.current.size, Some(3));
        assert_eq!(f.current.timestamp, Some(5));
        assert_eq!(f.alternates.len(), 1);
        let urls: Vec<_> = f
            .urls_by_preference()
            .iter()
            .map(|u| u.url.as_str())
            .collect();
        assert_eq!(
            urls,
            [
                "http://a/r/repodata/repomd.xml",
                "http://b/r/repodata/repomd.xml?a=1&b=2",
                "http://c/r/repodata/repomd.xml"
            ]
        );
        assert!(f.check(b"abc").is_ok());
        assert!(f.check(b"abcd").is_ok(), "alternate (md5 of abcd)");
        assert!(f.check(b"abd").is_err());
    }

    #[test]
    fn truncated_is_an_error() {
        assert!(Metalink::parse(&DOC.as_bytes()[..300]).is_err());
        assert!(Metalink::parse(b"hello").is_err());
    }
}
