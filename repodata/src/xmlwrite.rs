//! Writing primary.xml, filelists.xml and other.xml records in createrepo_c's
//! layout (same element order, indentation and escaping).

use crate::model::{Dependency, FileEntry, FileType, Package};
use std::borrow::Cow;
use std::io::{self, Write};

/// Escapes text for element content and attribute values; drops characters
/// XML 1.0 cannot carry (C0 controls other than tab, newline, carriage return).
pub fn esc(s: &str) -> Cow<'_, str> {
    let needs = s.bytes().any(|b| {
        matches!(b, b'&' | b'<' | b'>' | b'"') || (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
    });
    if !needs {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The XML declaration and root start tag of primary.xml.
pub fn primary_header<W: Write + ?Sized>(w: &mut W, count: usize) -> io::Result<()> {
    write!(
        w,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"{count}\">\n"
    )
}

/// The XML declaration and root start tag of filelists.xml.
pub fn filelists_header<W: Write + ?Sized>(w: &mut W, count: usize) -> io::Result<()> {
    write!(
        w,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<filelists xmlns=\"http://linux.duke.edu/metadata/filelists\" packages=\"{count}\">\n"
    )
}

/// The XML declaration and root start tag of other.xml.
pub fn other_header<W: Write + ?Sized>(w: &mut W, count: usize) -> io::Result<()> {
    write!(
        w,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<otherdata xmlns=\"http://linux.duke.edu/metadata/other\" packages=\"{count}\">\n"
    )
}

fn write_deps<W: Write + ?Sized>(w: &mut W, tag: &str, deps: &[Dependency]) -> io::Result<()> {
    if deps.is_empty() {
        return Ok(());
    }
    writeln!(w, "    <rpm:{tag}>")?;
    for d in deps {
        write!(w, "      <rpm:entry name=\"{}\"", esc(&d.name))?;
        if let Some(f) = d.flags {
            write!(w, " flags=\"{}\"", f.as_str())?;
            if let Some(e) = &d.epoch {
                write!(w, " epoch=\"{}\"", esc(e))?;
            }
            if let Some(v) = &d.version {
                write!(w, " ver=\"{}\"", esc(v))?;
            }
            if let Some(r) = &d.release {
                write!(w, " rel=\"{}\"", esc(r))?;
            }
        }
        if d.pre {
            write!(w, " pre=\"1\"")?;
        }
        writeln!(w, "/>")?;
    }
    writeln!(w, "    </rpm:{tag}>")
}

fn write_file<W: Write + ?Sized>(w: &mut W, indent: &str, f: &FileEntry) -> io::Result<()> {
    match f.kind {
        FileType::File => writeln!(w, "{indent}<file>{}</file>", esc(&f.path)),
        FileType::Dir => writeln!(w, "{indent}<file type=\"dir\">{}</file>", esc(&f.path)),
        FileType::Ghost => writeln!(w, "{indent}<file type=\"ghost\">{}</file>", esc(&f.path)),
    }
}

fn version_line<W: Write + ?Sized>(w: &mut W, p: &Package) -> io::Result<()> {
    writeln!(
        w,
        "  <version epoch=\"{}\" ver=\"{}\" rel=\"{}\"/>",
        p.epoch,
        esc(&p.version),
        esc(&p.release)
    )
}

/// Writes one `<package>` of primary.xml.
pub fn write_primary_package<W: Write + ?Sized>(w: &mut W, p: &Package) -> io::Result<()> {
    writeln!(w, "<package type=\"rpm\">")?;
    writeln!(w, "  <name>{}</name>", esc(&p.name))?;
    writeln!(w, "  <arch>{}</arch>", esc(&p.arch))?;
    version_line(w, p)?;
    if let Some(c) = &p.checksum {
        writeln!(
            w,
            "  <checksum type=\"{}\" pkgid=\"YES\">{}</checksum>",
            c.kind.name(),
            c.hex
        )?;
    }
    writeln!(w, "  <summary>{}</summary>", esc(&p.summary))?;
    writeln!(w, "  <description>{}</description>", esc(&p.description))?;
    writeln!(w, "  <packager>{}</packager>", esc(&p.packager))?;
    writeln!(w, "  <url>{}</url>", esc(&p.url))?;
    writeln!(
        w,
        "  <time file=\"{}\" build=\"{}\"/>",
        p.time_file, p.time_build
    )?;
    writeln!(
        w,
        "  <size package=\"{}\" installed=\"{}\" archive=\"{}\"/>",
        p.size_package, p.size_installed, p.size_archive
    )?;
    match &p.location_base {
        Some(b) => writeln!(
            w,
            "  <location xml:base=\"{}\" href=\"{}\"/>",
            esc(b),
            esc(&p.location_href)
        )?,
        None => writeln!(w, "  <location href=\"{}\"/>", esc(&p.location_href))?,
    }
    writeln!(w, "  <format>")?;
    writeln!(w, "    <rpm:license>{}</rpm:license>", esc(&p.license))?;
    writeln!(w, "    <rpm:vendor>{}</rpm:vendor>", esc(&p.vendor))?;
    writeln!(w, "    <rpm:group>{}</rpm:group>", esc(&p.group))?;
    writeln!(
        w,
        "    <rpm:buildhost>{}</rpm:buildhost>",
        esc(&p.buildhost)
    )?;
    writeln!(
        w,
        "    <rpm:sourcerpm>{}</rpm:sourcerpm>",
        esc(&p.sourcerpm)
    )?;
    writeln!(
        w,
        "    <rpm:header-range start=\"{}\" end=\"{}\"/>",
        p.header_start, p.header_end
    )?;
    write_deps(w, "provides", &p.provides)?;
    write_deps(w, "requires", &p.requires)?;
    write_deps(w, "conflicts", &p.conflicts)?;
    write_deps(w, "obsoletes", &p.obsoletes)?;
    write_deps(w, "suggests", &p.suggests)?;
    write_deps(w, "enhances", &p.enhances)?;
    write_deps(w, "recommends", &p.recommends)?;
    write_deps(w, "supplements", &p.supplements)?;
    for f in &p.primary_files {
        write_file(w, "    ", f)?;
    }
    writeln!(w, "  </format>")?;
    writeln!(w, "</package>")
}

fn extra_start<W: Write + ?Sized>(w: &mut W, p: &Package) -> io::Result<()> {
    writeln!(
        w,
        "<package pkgid=\"{}\" name=\"{}\" arch=\"{}\">",
        p.pkgid(),
        esc(&p.name),
        esc(&p.arch)
    )?;
    version_line(w, p)
}

/// Writes one `<package>` of filelists.xml.
pub fn write_filelists_package<W: Write + ?Sized>(w: &mut W, p: &Package) -> io::Result<()> {
    extra_start(w, p)?;
    for f in &p.files {
        write_file(w, "  ", f)?;
    }
    writeln!(w, "</package>")
}

/// Writes one `<package>` of other.xml.
pub fn write_other_package<W: Write + ?Sized>(w: &mut W, p: &Package) -> io::Result<()> {
    extra_start(w, p)?;
    for c in &p.changelogs {
        writeln!(
            w,
            "  <changelog author=\"{}\" date=\"{}\">{}</changelog>",
            esc(&c.author),
            c.date,
            esc(&c.text)
        )?;
    }
    writeln!(w, "</package>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Checksum, ChecksumType};
    use crate::parse::PrimaryReader;
    use rpm_package::evr::Relation;
    use std::path::Path;

    #[test]
    fn primary_roundtrip() {
        let mut p = Package {
            checksum: Some(Checksum {
                kind: ChecksumType::Sha256,
                hex: "00ff".into(),
            }),
            name: "a&b".into(),
            arch: "noarch".into(),
            version: "1".into(),
            release: "2".into(),
            summary: "<s> \"q\"\u{1}".into(),
            description: "line1\nline2".into(),
            location_href: "a b.rpm".into(),
            ..Default::default()
        };
        p.requires.push(Dependency {
            name: "x".into(),
            flags: Some(Relation::Ge),
            epoch: Some("0".into()),
            version: Some("1".into()),
            release: None,
            pre: true,
        });
        p.primary_files.push(FileEntry {
            path: "/etc/x".into(),
            kind: FileType::Ghost,
        });
        let mut out = Vec::new();
        primary_header(&mut out, 1).unwrap();
        write_primary_package(&mut out, &p).unwrap();
        out.extend_from_slice(b"</metadata>\n");
        let back: Vec<_> = PrimaryReader::new(&out[..], Path::new("t"))
            .unwrap()
            .collect::<crate::Result<_>>()
            .unwrap();
        let mut want = p.clone();
        want.summary = "<s> \"q\"".into();
        assert_eq!(back, vec![want]);
    }
}
