//! The `jigdo` record of repomd.xml: a small file listing every jigdo RPM of a
//! repository (name, EVR, arch, commit, commit version and timestamp, location,
//! size, SHA-256) and every delta RPM (the same, with its base commit), so that a
//! client learns what is available from repomd.xml and this file alone, without the
//! repository's primary metadata.
//!
//! `jigdo repo create` adds the record itself; publishers using createrepo_c or
//! Pulp write the file with `jigdo repo record` and add it with
//! `modifyrepo_c --mdtype=jigdo FILE DIR/repodata`. The layout is specified in
//! `specs/jigdo-record.md`.

use crate::error::{Error, Result};
use crate::model::Package;
use crate::xmlread::{attr, Step, XmlIn};
use crate::xmlwrite::esc;
use std::io::{BufRead, Write};
use std::path::Path;

/// The `type` of the record in repomd.xml (and modifyrepo_c's `--mdtype`).
pub const RECORD_TYPE: &str = "jigdo";

/// XML namespace of the file.
pub const NAMESPACE: &str = "https://ostree-jigdo.invalid/metadata/jigdo/1";

/// Largest number of entries a reader accepts (a repository keeps a few
/// versions of a few jigdo RPMs; this bounds memory on hostile input).
const MAX_ENTRIES: usize = 100_000;

/// One jigdo RPM (or delta RPM) of the repository.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JigdoEntry {
    /// Package name.
    pub name: String,
    /// Epoch (0 when none).
    pub epoch: u64,
    /// Package version (the commit's version, as the packer wrote it into the RPM).
    pub version: String,
    /// Package release.
    pub release: String,
    /// Package arch.
    pub arch: String,
    /// The commit checksum, lowercase hex.
    pub commit: String,
    /// The commit's version as the RPM carries it (its VERSION).
    pub commit_version: String,
    /// The commit's timestamp as the RPM carries it (its build time; `jigdo pack`
    /// builds with the commit's timestamp), seconds since the epoch.
    pub timestamp: u64,
    /// Location (`href`) relative to the repository root.
    pub location: String,
    /// Size of the RPM file in bytes.
    pub size: u64,
    /// SHA-256 of the RPM file, lowercase hex.
    pub sha256: String,
    /// For a delta RPM (specs/jigdo-format.md §6): the base commit it applies to,
    /// lowercase hex; `commit` is then its target. `None` for a jigdo RPM.
    pub base: Option<String>,
}

impl JigdoEntry {
    /// The entry of a package record, when it is a jigdo RPM (it provides
    /// `ostree-jigdo(vN)` and names its commit) or a delta RPM (it provides
    /// `ostree-jigdo-delta(v1)` and names its base and target), with a SHA-256 package id.
    pub fn from_package(p: &Package) -> Option<JigdoEntry> {
        let provided = |parse: fn(&str) -> Option<&str>| {
            p.provides
                .iter()
                .find_map(|d| parse(&d.name))
                .map(str::to_ascii_lowercase)
        };
        let (commit, base) = if crate::prune::is_jigdo(p) {
            (provided(jigdo_format::parse_commit_provide)?, None)
        } else if p
            .provides
            .iter()
            .any(|d| d.name == jigdo_format::delta::DELTA_PROVIDE)
        {
            (
                provided(jigdo_format::delta::parse_delta_target_provide)?,
                Some(provided(jigdo_format::delta::parse_delta_base_provide)?),
            )
        } else {
            return None;
        };
        let sum = p.checksum.as_ref()?;
        if sum.kind != crate::ChecksumType::Sha256 {
            return None;
        }
        Some(JigdoEntry {
            name: p.name.clone(),
            epoch: p.epoch,
            version: p.version.clone(),
            release: p.release.clone(),
            arch: p.arch.clone(),
            commit,
            commit_version: p.version.clone(),
            timestamp: p.time_build,
            location: p.location_href.clone(),
            size: p.size_package,
            sha256: sum.hex.to_ascii_lowercase(),
            base,
        })
    }

    /// `name-[epoch:]version-release.arch`.
    pub fn nevra(&self) -> String {
        let e = self;
        rpm_package::nevra(&e.name, e.epoch, &e.version, &e.release, &e.arch)
    }
}

/// The entries of every jigdo RPM and delta RPM among `pkgs`, in their order.
pub fn entries_of(pkgs: &[Package]) -> Vec<JigdoEntry> {
    pkgs.iter().filter_map(JigdoEntry::from_package).collect()
}

/// Writes the record file (uncompressed XML).
pub fn write<W: Write + ?Sized>(w: &mut W, entries: &[JigdoEntry]) -> std::io::Result<()> {
    writeln!(w, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    let deltas = entries.iter().filter(|e| e.base.is_some()).count();
    writeln!(
        w,
        r#"<jigdo xmlns="{NAMESPACE}" packages="{}" deltas="{deltas}">"#,
        entries.len() - deltas
    )?;
    for e in entries {
        // A delta is its own element, so that readers that know only `<package>` skip it.
        let (element, base) = match &e.base {
            Some(b) => ("delta", format!(r#" base="{}""#, esc(b))),
            None => ("package", String::new()),
        };
        writeln!(
            w,
            r#"  <{element} name="{}" epoch="{}" version="{}" release="{}" arch="{}" commit="{}"{base} commit-version="{}" timestamp="{}" href="{}" size="{}" sha256="{}"/>"#,
            esc(&e.name),
            e.epoch,
            esc(&e.version),
            esc(&e.release),
            esc(&e.arch),
            esc(&e.commit),
            esc(&e.commit_version),
            e.timestamp,
            esc(&e.location),
            e.size,
            esc(&e.sha256),
        )?;
    }
    writeln!(w, "</jigdo>")
}

/// Parses a record file (already decompressed); `path` names it in errors.
pub fn parse<R: BufRead>(inner: R, path: &Path) -> Result<Vec<JigdoEntry>> {
    let mut x = XmlIn::new(inner, path);
    let mut out = Vec::new();
    let mut root_seen = false;
    loop {
        match x.next()? {
            Step::Eof => break,
            Step::End { .. } => {}
            Step::Start { elem, .. } => match elem.local_name().as_ref().as_bytes() {
                b"jigdo" => root_seen = true,
                tag @ (b"package" | b"delta") if root_seen => {
                    let is_delta = tag == b"delta";
                    if out.len() >= MAX_ENTRIES {
                        return Err(x.err(format!("more than {MAX_ENTRIES} entries")));
                    }
                    let get = |name: &str| -> Result<String> {
                        attr(&elem, name, path)?.ok_or_else(|| Error::Invalid {
                            path: path.to_path_buf(),
                            message: format!("<package> without {name}="),
                        })
                    };
                    let num = |name: &str| -> Result<u64> {
                        let v = get(name)?;
                        v.parse().map_err(|_| Error::Invalid {
                            path: path.to_path_buf(),
                            message: format!("<package {name}={v:?}> is not a number"),
                        })
                    };
                    let e = JigdoEntry {
                        name: get("name")?,
                        epoch: num("epoch")?,
                        version: get("version")?,
                        release: get("release")?,
                        arch: get("arch")?,
                        commit: get("commit")?.to_ascii_lowercase(),
                        commit_version: get("commit-version")?,
                        timestamp: num("timestamp")?,
                        location: get("href")?,
                        size: num("size")?,
                        sha256: get("sha256")?.to_ascii_lowercase(),
                        base: if is_delta {
                            Some(get("base")?.to_ascii_lowercase())
                        } else {
                            None
                        },
                    };
                    let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
                    if !hex64(&e.commit)
                        || !hex64(&e.sha256)
                        || !e.base.as_deref().is_none_or(hex64)
                    {
                        return Err(Error::Invalid {
                            path: path.to_path_buf(),
                            message: format!(
                                "{}: commit, base and sha256 must be 64 hex digits",
                                e.nevra()
                            ),
                        });
                    }
                    out.push(e);
                }
                _ => {}
            },
        }
    }
    if !root_seen {
        return Err(Error::Invalid {
            path: path.to_path_buf(),
            message: "not a jigdo record (no <jigdo> element)".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> JigdoEntry {
        JigdoEntry {
            name: "example-os".into(),
            epoch: 0,
            version: "2.0".into(),
            release: "1".into(),
            arch: "x86_64".into(),
            commit: "ab".repeat(32),
            commit_version: "2.0".into(),
            timestamp: 1_700_000_000,
            location: "jigdo/example-os-2.0-1.x86_64.rpm".into(),
            size: 12345,
            sha256: "cd".repeat(32),
            base: None,
        }
    }

    #[test]
    fn record_round_trips() {
        let mut e2 = entry();
        e2.name = "a&b".into();
        let mut delta = entry();
        delta.name = format!("example-os-delta-{}", "ef".repeat(32));
        delta.base = Some("ef".repeat(32));
        let mut out = Vec::new();
        write(&mut out, &[entry(), e2.clone(), delta.clone()]).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.contains(r#"packages="2" deltas="1""#), "{text}");
        assert_eq!(text.matches("<delta ").count(), 1, "{text}");
        let back = parse(&out[..], Path::new("jigdo.xml")).unwrap();
        assert_eq!(back, vec![entry(), e2, delta]);
    }

    #[test]
    fn bad_records_are_errors_naming_the_file() {
        for bad in [
            "<other/>".to_string(),
            "<jigdo><package name=\"x\"/></jigdo>".to_string(),
            String::from_utf8({
                let mut v = Vec::new();
                let mut e = entry();
                e.commit = "zz".into();
                write(&mut v, &[e]).unwrap();
                v
            })
            .unwrap(),
            format!(
                "<jigdo><delta name=\"x\" epoch=\"0\" version=\"1\" release=\"1\" arch=\"x\" \
                 commit=\"{c}\" commit-version=\"1\" timestamp=\"1\" href=\"x.rpm\" size=\"1\" \
                 sha256=\"{c}\" base=\"../etc\"/></jigdo>",
                c = "ab".repeat(32)
            ),
        ] {
            let err = parse(bad.as_bytes(), Path::new("x-jigdo.xml")).unwrap_err();
            assert!(err.to_string().contains("x-jigdo.xml"), "{err}");
        }
    }
}
