//! Our reader against rpm, rpm2cpio | cpio and createrepo_c, on packages built by rpmbuild
//! from specs/ and on the real-world fixtures.

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use common::*;
use rpm_package::{
    verify_digests, verify_payload, Dependency, ErrorKind, PackageHeader, PayloadReader,
};

const SEP: &str = "\u{1f}";

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "(none)".into())
}

fn opt_n(v: Option<u64>) -> String {
    v.map_or_else(|| "(none)".into(), |v| v.to_string())
}

/// NEVRA and descriptive fields as rpm prints them vs ours.
fn check_fields(pkg: &Path, h: &PackageHeader) {
    let fmt = [
        "%{NAME}",
        "%{EPOCH}",
        "%{VERSION}",
        "%{RELEASE}",
        "%{ARCH}",
        "%{SUMMARY}",
        "%{DESCRIPTION}",
        "%{LICENSE}",
        "%{URL}",
        "%{VENDOR}",
        "%{PACKAGER}",
        "%{GROUP}",
        "%{BUILDTIME}",
        "%{BUILDHOST}",
        "%{SOURCERPM}",
        "%{LONGSIZE}",
        "%{PAYLOADCOMPRESSOR}",
    ]
    .join(SEP);
    let rpm = rpm_qf(pkg, &fmt);
    let ours = [
        h.name.clone(),
        opt_n(h.epoch.map(u64::from)),
        h.version.clone(),
        h.release.clone(),
        h.arch.clone(),
        h.summary.clone(),
        h.description.clone(),
        h.license.clone(),
        opt(&h.url),
        opt(&h.vendor),
        opt(&h.packager),
        opt(&h.group),
        opt_n(h.build_time),
        opt(&h.build_host),
        opt(&h.source_rpm),
        opt_n(h.installed_size),
        opt(&h.payload_compressor),
    ]
    .join(SEP);
    // rpm shows empty strings as "" and absent ones as (none); we only fail on real
    // differences
    let rpm_fields: Vec<&str> = rpm.split(SEP).collect();
    let our_fields: Vec<&str> = ours.split(SEP).collect();
    for (i, (a, b)) in rpm_fields.iter().zip(&our_fields).enumerate() {
        let same = a == b || (*a == "(none)" && b.is_empty()) || (a.is_empty() && *b == "(none)");
        assert!(
            same,
            "{}: field {} rpm={a:?} ours={b:?}",
            pkg.display(),
            fmt.split(SEP).nth(i).unwrap()
        );
    }
}

fn check_deps(pkg: &Path, h: &PackageHeader) {
    let kinds: [(&str, &Vec<Dependency>); 8] = [
        ("PROVIDE", &h.provides),
        ("REQUIRE", &h.requires),
        ("CONFLICT", &h.conflicts),
        ("OBSOLETE", &h.obsoletes),
        ("RECOMMEND", &h.recommends),
        ("SUGGEST", &h.suggests),
        ("SUPPLEMENT", &h.supplements),
        ("ENHANCE", &h.enhances),
    ];
    for (k, ours) in kinds {
        let fmt = format!("[%{{{k}NAME}}{SEP}%{{{k}FLAGS}}{SEP}%{{{k}VERSION}}\n]");
        let rpm = rpm_qf(pkg, &fmt);
        let ours_s: String = ours
            .iter()
            .map(|d| format!("{}{SEP}{}{SEP}{}\n", d.name, d.flags.0, d.evr))
            .collect();
        assert_eq!(rpm, ours_s, "{}: {k}S differ", pkg.display());
    }
}

fn check_files(pkg: &Path, h: &PackageHeader) {
    let fmt = [
        "[%{FILENAMES}",
        "%{FILEMODES}",
        "%{LONGFILESIZES}",
        "%{FILEDIGESTS}",
        "%{FILEUSERNAME}",
        "%{FILEGROUPNAME}",
        "%{FILEFLAGS}",
        "%{FILELINKTOS}",
        "%{FILEINODES}",
        "%{FILEDEVICES}",
        "%{FILEMTIMES}",
        "%{FILECAPS}\n]",
    ]
    .join(SEP);
    let rpm = rpm_qf(pkg, &fmt).replace(&format!("{SEP}(none)\n"), &format!("{SEP}\n"));
    let ours: String = h
        .files
        .iter()
        .map(|f| {
            [
                f.path.clone(),
                f.mode.to_string(),
                f.size.to_string(),
                f.digest_hex(),
                f.user.clone(),
                f.group.clone(),
                f.flags.0.to_string(),
                f.link_target.clone(),
                f.inode.to_string(),
                f.device.to_string(),
                f.mtime.to_string(),
                format!("{}\n", f.caps),
            ]
            .join(SEP)
        })
        .collect();
    // Compared even when our file list is empty: rpm lists files then, ours must too.
    assert_eq!(rpm, ours, "{}: file lists differ", pkg.display());
}

/// `rpm -qp --dump` lines vs ours.
fn check_dump(pkg: &Path, h: &PackageHeader) {
    let dump = String::from_utf8_lossy(&run("rpm", &["-qp", "--dump", pkg.to_str().unwrap()]))
        .into_owned();
    let ours: String = h
        .files
        .iter()
        .map(|f| {
            let digest = if f.digest.is_empty() {
                "0".repeat(f.digest_algorithm.len() * 2)
            } else {
                f.digest_hex()
            };
            let link = if f.link_target.is_empty() {
                "X"
            } else {
                &f.link_target
            };
            format!(
                "{} {} {} {} 0{:o} {} {} {} {} {} {}\n",
                f.path,
                f.size,
                f.mtime,
                digest,
                f.mode,
                f.user,
                f.group,
                u8::from(f.flags.is_config()),
                u8::from(f.flags.is_doc()),
                f.rdev,
                link
            )
        })
        .collect();
    assert_eq!(dump, ours, "{}: rpm --dump differs", pkg.display());
}

/// Stream our payload and compare with what rpm2cpio | cpio -idm extracts.
fn check_payload_against_cpio(pkg: &Path, h: &PackageHeader) {
    let dir = tempfile::tempdir().unwrap();
    let cmd = format!(
        "rpm2cpio '{}' | cpio -idm --quiet --no-absolute-filenames -D '{}'",
        pkg.display(),
        dir.path().display()
    );
    run("sh", &["-c", &cmd]);
    let mut r = PayloadReader::open(pkg).unwrap();
    let mut seen = 0;
    while let Some(mut e) = r.next_entry().unwrap() {
        let info = e.info().clone();
        let f = e.file().clone();
        let on_disk = dir.path().join(f.path.trim_start_matches('/'));
        let mut content = Vec::new();
        e.read_to_end(&mut content).unwrap();
        seen += 1;
        let meta = std::fs::symlink_metadata(&on_disk)
            .unwrap_or_else(|_| panic!("{}: cpio did not extract {}", pkg.display(), f.path));
        if f.is_symlink() {
            assert_eq!(
                std::fs::read_link(&on_disk).unwrap().to_str().unwrap(),
                f.link_target
            );
            assert_eq!(content, f.link_target.as_bytes());
        } else if f.is_dir() {
            assert!(meta.is_dir(), "{}", f.path);
        } else if f.is_regular() {
            assert!(meta.is_file(), "{}", f.path);
            if info.has_content {
                assert_eq!(
                    content,
                    std::fs::read(&on_disk).unwrap(),
                    "{}: {}",
                    pkg.display(),
                    f.path
                );
                for &i in &info.hardlinks {
                    let other = dir.path().join(h.files[i].path.trim_start_matches('/'));
                    assert_eq!(
                        content,
                        std::fs::read(&other).unwrap(),
                        "hardlink {}",
                        h.files[i].path
                    );
                }
            } else {
                assert!(content.is_empty());
                assert!(
                    info.hardlinks.len() > 1,
                    "{}: only hardlink members lack content",
                    f.path
                );
            }
            use std::os::unix::fs::MetadataExt;
            assert_eq!(meta.mode() & 0o7777, f.mode & 0o7777, "{}: mode", f.path);
            assert_eq!(meta.len(), f.size, "{}: size", f.path);
        }
    }
    let expected = h.files.iter().filter(|f| !f.flags.is_ghost()).count();
    assert_eq!(seen, expected, "{}: entries", pkg.display());
}

fn header_ranges_from_createrepo(dir: &Path) -> HashMap<String, (u64, u64)> {
    run(
        "createrepo_c",
        &[
            "--quiet",
            "--no-database",
            "--simple-md-filenames",
            dir.to_str().unwrap(),
        ],
    );
    let mut gz = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(dir.join("repodata/primary.xml.gz")).unwrap())
        .read_to_end(&mut gz)
        .unwrap();
    let xml = String::from_utf8(gz).unwrap();
    let mut out = HashMap::new();
    for pkg in xml.split("<package ").skip(1) {
        let href = pkg
            .split("<location href=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let hr = pkg.split("<rpm:header-range start=\"").nth(1).unwrap();
        let start: u64 = hr.split('"').next().unwrap().parse().unwrap();
        let end: u64 = hr
            .split("end=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        out.insert(href.to_string(), (start, end));
    }
    out
}

#[test]
fn built_packages_match_rpm_cpio_and_createrepo() {
    let pkgs = test_packages();
    let repo = tempfile::tempdir().unwrap();
    for p in pkgs {
        std::fs::copy(p, repo.path().join(p.file_name().unwrap())).unwrap();
    }
    let ranges = header_ranges_from_createrepo(repo.path());
    let mut compressors = Vec::new();
    for pkg in pkgs {
        let h = PackageHeader::open(pkg).unwrap();
        check_fields(pkg, &h);
        check_deps(pkg, &h);
        check_files(pkg, &h);
        check_dump(pkg, &h);
        check_payload_against_cpio(pkg, &h);
        let name = pkg.file_name().unwrap().to_str().unwrap();
        assert_eq!(
            ranges[name],
            (h.header_start, h.header_end),
            "{name}: header range"
        );
        let report = verify_digests(pkg).unwrap();
        assert!(
            !report.header.is_empty() && !report.payload.is_empty(),
            "{report:?}"
        );
        let (ok, out) = try_run("rpm", &["-K", "--nosignature", pkg.to_str().unwrap()]);
        assert!(ok, "rpm -K: {out}");
        let r = PayloadReader::open(pkg).unwrap();
        compressors.push(r.compression());
        // rpm 4.18 records "gzip" for w0.ufdio payloads (zlib reads plain data too)
        if r.compression() != rpm_package::Compression::None {
            assert_eq!(r.compression(), h.declared_compression().unwrap());
        }
        assert_eq!(rpm_package::package_id(pkg).unwrap(), {
            let out = run("sha256sum", &[pkg.to_str().unwrap()]);
            String::from_utf8(out)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .to_string()
        });
    }
    use rpm_package::Compression::*;
    for c in [None, Gzip, Bzip2, Xz, Lzma, Zstd] {
        assert!(compressors.contains(&c), "no test package uses {c:?}");
    }
}

#[test]
fn test_package_features_are_present() {
    let full = PackageHeader::open(test_package("jt-full")).unwrap();
    assert_eq!(full.epoch, Some(3));
    assert_eq!(full.arch, "x86_64");
    assert!(full.files.iter().any(|f| !f.caps.is_empty()));
    assert!(full.files.iter().any(|f| f.flags.is_ghost()));
    assert!(full.files.iter().any(|f| f.flags.is_config()));
    assert!(full.files.iter().any(|f| f.is_symlink()));
    assert!(full.files.iter().any(|f| f.user != "root"));
    assert!(full.files.iter().any(|f| f.is_regular() && f.size == 0));
    assert!(full.files.iter().any(|f| f.size > 2 * 1024 * 1024));
    assert!(full.hardlink_sets().iter().any(|s| s.len() == 3));
    assert!(full.requires.iter().any(|d| d.flags.is_pre()));
    assert_eq!(full.changelogs.len(), 2);
    let names = PackageHeader::open(test_package("jt-gzip-noarch")).unwrap();
    assert_eq!(names.arch, "noarch");
    assert!(names.files.iter().any(|f| f.path.contains("日本語")));
    let dirs = PackageHeader::open(test_package("jt-dirs")).unwrap();
    assert!(dirs.files.iter().all(|f| f.is_dir()) && !dirs.files.is_empty());
}

/// Fixtures broken on purpose, and what they must fail with.
fn expected_failure(path: &Path) -> Option<&'static str> {
    let name = path.file_name()?.to_str()?;
    match name {
        "hello-2.0-1.x86_64-corrupted.rpm" => Some("truncated"),
        _ => None,
    }
}

#[test]
fn real_world_fixtures_parse_stream_and_match_rpm() {
    let all = fixture_rpms();
    // two workers: most of the time is spent waiting for rpm
    let (a, b) = all.split_at(all.len() / 2);
    let compared: usize = std::thread::scope(|s| {
        let ha = s.spawn(|| check_fixtures(a));
        let hb = s.spawn(|| check_fixtures(b));
        ha.join().unwrap() + hb.join().unwrap()
    });
    assert!(compared > 100, "rpm could read only {compared} fixtures");
}

fn check_fixtures(pkgs: &[std::path::PathBuf]) -> usize {
    let mut compared = 0;
    for pkg in pkgs {
        let pkg = pkg.clone();
        let h = match PackageHeader::open(&pkg) {
            Ok(h) => h,
            Err(e) => panic!("{}: header: {e}", pkg.display()),
        };
        let (rpm_ok, _) = try_run(
            "rpm",
            &[
                "-qp",
                "--nosignature",
                "--nodigest",
                "--qf",
                "%{NAME}",
                pkg.to_str().unwrap(),
            ],
        );
        if rpm_ok {
            let nevr = rpm_qf(
                &pkg,
                &format!(
                    "%{{NAME}}{SEP}%{{EPOCH}}{SEP}%{{VERSION}}{SEP}%{{RELEASE}}{SEP}%{{ARCH}}"
                ),
            );
            let ours = format!(
                "{}{SEP}{}{SEP}{}{SEP}{}{SEP}{}",
                h.name,
                opt_n(h.epoch.map(u64::from)),
                h.version,
                h.release,
                h.arch
            );
            assert_eq!(nevr, ours, "{}", pkg.display());
            check_deps(&pkg, &h);
            let fmt = format!("[%{{FILENAMES}}{SEP}%{{FILEDIGESTS}}{SEP}%{{FILEMODES}}{SEP}%{{LONGFILESIZES}}{SEP}%{{FILEUSERNAME}}{SEP}%{{FILELINKTOS}}\n]");
            let rpm_files = rpm_qf(&pkg, &fmt);
            let ours: String = h
                .files
                .iter()
                .map(|f| {
                    format!(
                        "{}{SEP}{}{SEP}{}{SEP}{}{SEP}{}{SEP}{}\n",
                        f.path,
                        f.digest_hex(),
                        f.mode,
                        f.size,
                        f.user,
                        f.link_target
                    )
                })
                .collect();
            // Compared even when our file list is empty (rpm's is then empty too, or
            // our parser lost the files).
            assert_eq!(rpm_files, ours, "{}: files", pkg.display());
            compared += 1;
        }
        let streamed = verify_payload(&pkg);
        let (k_ok, k_out) = try_run("rpm", &["-K", "--nosignature", pkg.to_str().unwrap()]);
        let ours_k = verify_digests(&pkg);
        match expected_failure(&pkg) {
            Some(what) => {
                let e = streamed.expect_err("broken fixture must fail");
                assert!(e.to_string().contains(what), "{}: {e}", pkg.display());
                assert!(
                    e.to_string().contains(pkg.to_str().unwrap()),
                    "error names the package: {e}"
                );
                assert!(!k_ok && ours_k.is_err());
            }
            None => {
                if let Err(e) = streamed {
                    panic!("{}: payload: {e}", pkg.display());
                }
                // digests: we agree with rpm -K (where rpm reads the package at all)
                if !k_out.contains("not an rpm package") && !k_out.contains("unknown") {
                    match &ours_k {
                        Ok(_) => assert!(
                            k_ok,
                            "{}: rpm -K fails ({k_out}) but we accept",
                            pkg.display()
                        ),
                        Err(e) if matches!(e.kind, ErrorKind::Unsupported(_)) => {}
                        Err(e) => assert!(!k_ok, "{}: rpm -K OK but we say {e}", pkg.display()),
                    }
                }
            }
        }
    }
    compared
}
