//! Packages we write, checked with rpm 4.18: query, dump, deps, rpm -K (digests and
//! signature after --import), install into a scratch root; and read back by our reader.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};

use common::*;
use rpm_package::{
    verify_signature, DepFlags, DepKind, FileContent, FileFlags, FileSpec, PackageBuilder,
    PackageHeader, PayloadReader, SpecTemplate,
};

const SPEC: &str = r#"# comment
%global vendor_name Jigdo Test Vendor
Name: jt-built
Summary: Built by %{name} tests, 100%% Rust
License: MIT
URL: https://example.org/%{name}
Vendor: %{vendor_name}
Packager: JT <jt@example.org>
Group: Applications/Testing
Requires: ignored-by-template

%description
First line of the description.
Second line.

%files
/ignored
"#;

#[test]
fn spec_template_parses_fields_and_description() {
    let t = SpecTemplate::parse(SPEC, "inline").unwrap();
    assert_eq!(t.name.as_deref(), Some("jt-built"));
    assert_eq!(
        t.summary.as_deref(),
        Some("Built by jt-built tests, 100% Rust")
    );
    assert_eq!(t.url.as_deref(), Some("https://example.org/jt-built"));
    assert_eq!(t.vendor.as_deref(), Some("Jigdo Test Vendor"));
    assert_eq!(t.group.as_deref(), Some("Applications/Testing"));
    assert_eq!(
        t.description.as_deref(),
        Some("First line of the description.\nSecond line.")
    );
    // the lead's template and a full test spec parse too
    let j = SpecTemplate::load(dev_support::specs_dir().join("jigdo.spec")).unwrap();
    assert!(j.summary.is_some() && j.description.is_some() && j.license.is_some());
    let full = SpecTemplate::load(dev_support::specs_dir().join("jt-full.spec")).unwrap();
    assert_eq!(full.epoch, Some(3));
    assert_eq!(full.version.as_deref(), Some("1.2.3"));
    assert!(full.description.unwrap().contains("%config"));
    let e = SpecTemplate::parse("Name: x\nEpoch: abc\n", "bad.spec").unwrap_err();
    assert!(
        e.to_string().contains("bad.spec") && e.to_string().contains("line 2"),
        "{e}"
    );
}

/// The test package written with payload compressor `name` into `dir`.
fn built_with(dir: &Path, name: &str) -> PathBuf {
    let pkg = dir.join(format!("jt-built-{name}.rpm"));
    let mut b = builder(dir);
    b.compression(name, None).unwrap();
    b.write_to(&pkg, None).unwrap();
    pkg
}

fn builder(dir: &Path) -> PackageBuilder {
    let big = dir.join("big.bin");
    let data: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&big, data).unwrap();
    let mut b = PackageBuilder::new("jt-built", "1.0", "2", "noarch");
    b.apply_template(&SpecTemplate::parse(SPEC, "inline").unwrap());
    b.epoch(1).source_date(1_700_000_000).build_host("jt-host");
    b.provides("jt-built-cap", Some("1.0"));
    b.requires_equal("jt-foo", "1:2-3");
    b.requires("jt-bar", DepFlags::GREATER | DepFlags::EQUAL, "2");
    b.requires("/bin/sh", DepFlags::SCRIPT_PRE, "");
    b.conflicts("jt-baz", DepFlags::LESS, "1");
    b.dependency(DepKind::Obsoletes, "jt-old", DepFlags::LESS_EQUAL, "0.9");
    b.add(
        FileSpec::new("/usr/share/jt-built", 0o755),
        FileContent::Dir,
    );
    b.add_file_bytes("/usr/share/jt-built/a.txt", b"hello\n".to_vec(), 0o644);
    b.add(
        FileSpec::new("/usr/share/jt-built/big.bin", 0o600).owner("daemon", "daemon"),
        FileContent::Path(big),
    );
    b.add(
        FileSpec::new("/usr/share/jt-built/link", 0o777),
        FileContent::Symlink("a.txt".into()),
    );
    b.add(
        FileSpec::new("/etc/jt-built.conf", 0o644).flags(FileFlags::CONFIG | FileFlags::NOREPLACE),
        FileContent::Bytes(b"x = 1\n".to_vec()),
    );
    b.add(
        FileSpec::new("/var/log/jt-built.log", 0o640),
        FileContent::Ghost,
    );
    b.add_file_reader(FileSpec::new("/usr/share/jt-built/empty", 0o644), &b""[..])
        .unwrap();
    b
}

#[test]
fn written_package_satisfies_rpm() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("jt-built-1.0-2.noarch.rpm");
    builder(dir.path()).write_to(&pkg, None).unwrap();
    let p = pkg.to_str().unwrap();

    let qpi = String::from_utf8(run("rpm", &["-qpi", p])).unwrap();
    for want in [
        "Name        : jt-built",
        "Epoch       : 1",
        "Version     : 1.0",
        "Release     : 2",
        "Architecture: noarch",
        "License     : MIT",
        "Vendor      : Jigdo Test Vendor",
        "URL         : https://example.org/jt-built",
        "Summary     : Built by jt-built tests, 100% Rust",
        "First line of the description.\nSecond line.",
    ] {
        assert!(qpi.contains(want), "rpm -qpi lacks {want:?}:\n{qpi}");
    }
    let dump = String::from_utf8(run("rpm", &["-qpl", "--dump", p])).unwrap();
    assert!(
        dump.contains("/usr/share/jt-built/big.bin 3000000 1700000000 "),
        "{dump}"
    );
    assert!(dump.contains(" 0100600 daemon daemon 0 0 0 X"), "{dump}");
    assert!(
        dump.contains("/usr/share/jt-built/link 5 1700000000 "),
        "{dump}"
    );
    assert!(dump.contains("/etc/jt-built.conf 6 1700000000 "), "{dump}");
    assert!(dump.contains("/var/log/jt-built.log "), "{dump}");
    let deps = String::from_utf8(run(
        "rpm",
        &[
            "-qp",
            "--provides",
            "--requires",
            "--conflicts",
            "--obsoletes",
            p,
        ],
    ))
    .unwrap();
    for want in [
        "jt-built-cap = 1.0",
        "jt-foo = 1:2-3",
        "jt-bar >= 2",
        "/bin/sh",
        "jt-baz < 1",
        "jt-old <= 0.9",
        "jt-built = 1:1.0-2",
    ] {
        assert!(
            deps.lines().any(|l| l.trim() == want),
            "deps lack {want:?}:\n{deps}"
        );
    }
    let (ok, out) = try_run("rpm", &["-K", p]);
    assert!(ok && out.contains("digests OK"), "rpm -K: {out}");

    // our reader agrees with what we wrote
    let h = PackageHeader::open(&pkg).unwrap();
    assert_eq!(h.nevra(), "jt-built-1:1.0-2.noarch");
    assert_eq!(h.vendor.as_deref(), Some("Jigdo Test Vendor"));
    assert_eq!(h.payload_compressor.as_deref(), Some("zstd"));
    let big = h
        .files
        .iter()
        .find(|f| f.path.ends_with("big.bin"))
        .unwrap();
    assert_eq!((big.user.as_str(), big.permissions()), ("daemon", 0o600));
    let mut r = PayloadReader::open(&pkg).unwrap();
    let mut n = 0;
    while let Some(mut e) = r.next_entry().unwrap() {
        let mut v = Vec::new();
        e.read_to_end(&mut v).unwrap();
        n += 1;
    }
    assert_eq!(n, h.files.iter().filter(|f| !f.flags.is_ghost()).count());

    // installs
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let (ok, out) = try_run(
        "rpm",
        &[
            "-i",
            "--nodeps",
            "--noscripts",
            "--root",
            root.to_str().unwrap(),
            "--dbpath",
            "/var/lib/jt-rpmdb",
            p,
        ],
    );
    assert!(ok, "rpm -i: {out}");
    assert_eq!(
        std::fs::read(root.join("usr/share/jt-built/a.txt")).unwrap(),
        b"hello\n"
    );
    assert_eq!(
        std::fs::read(root.join("usr/share/jt-built/big.bin"))
            .unwrap()
            .len(),
        3_000_000
    );
    assert_eq!(
        std::fs::read_link(root.join("usr/share/jt-built/link")).unwrap(),
        PathBuf::from("a.txt")
    );
    let (ok, out) = try_run(
        "rpm",
        &[
            "-V",
            "--nodeps",
            "--root",
            root.to_str().unwrap(),
            "--dbpath",
            "/var/lib/jt-rpmdb",
            "jt-built",
        ],
    );
    assert!(ok, "rpm -V after install: {out}");
}

#[test]
fn signed_package_verifies_with_rpm_and_with_us() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public) =
        dev_support::gen_signing_key(&dir.path().join("gpg1"), "JT Signer <signer@example.org>");
    let (_, other_public) =
        dev_support::gen_signing_key(&dir.path().join("gpg2"), "JT Other <other@example.org>");
    let pkg = dir.path().join("signed.rpm");
    builder(dir.path()).write_to(&pkg, Some(&secret)).unwrap();
    let p = pkg.to_str().unwrap();
    let db = dir.path().join("rpmdb");
    std::fs::create_dir(&db).unwrap();
    let dbs = db.to_str().unwrap();
    let (ok, out) = try_run("rpm", &["--dbpath", dbs, "-K", p]);
    assert!(
        !ok && out.contains("SIGNATURES NOT OK"),
        "before import: {out}"
    );
    run(
        "rpm",
        &["--dbpath", dbs, "--import", public.to_str().unwrap()],
    );
    let (ok, out) = try_run("rpm", &["--dbpath", dbs, "-K", p]);
    assert!(
        ok && out.contains("digests signatures OK"),
        "rpm -K after import: {out}"
    );

    verify_signature(&pkg, std::slice::from_ref(&public)).unwrap();
    verify_signature(&pkg, &[other_public.clone(), public.clone()]).unwrap();
    let e = verify_signature(&pkg, &[other_public]).unwrap_err();
    assert!(e.to_string().contains("signature"), "{e}");
    let unsigned = dir.path().join("unsigned.rpm");
    builder(dir.path()).write_to(&unsigned, None).unwrap();
    assert!(verify_signature(&unsigned, &[public]).is_err());
    assert!(!rpm_package::signature_tags(&PackageHeader::open(&pkg).unwrap()).is_empty());
}

/// Every payload compressor we write: rpm checks the digests and extracts it as we wrote
/// it, and our reader streams it back, declared compression and all.
#[test]
fn every_written_compressor_is_read_by_rpm_and_by_us() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["zstd", "xz", "gzip", "bzip2", "none"] {
        let pkg = built_with(dir.path(), name);
        let p = pkg.to_str().unwrap();
        let qf =
            String::from_utf8(run("rpm", &["-qp", "--qf", "%{PAYLOADCOMPRESSOR}", p])).unwrap();
        let want = match name {
            "zstd" => "zstd",
            "xz" => "xz",
            "gzip" => "gzip",
            "bzip2" => "bzip2",
            _ => "",
        };
        if !want.is_empty() {
            assert_eq!(qf, want, "{name}");
        }
        let (ok, out) = try_run("rpm", &["-K", "--nosignature", p]);
        assert!(ok, "{name}: rpm -K: {out}");
        let cpio = run("sh", &["-c", &format!("rpm2cpio '{p}' | cpio -t --quiet")]);
        assert!(
            String::from_utf8_lossy(&cpio).contains("big.bin"),
            "{name}: rpm2cpio"
        );
        assert_eq!(rpm_package::verify_payload(&pkg).unwrap(), 6, "{name}");
    }
}

/// Every entry of a payload: path, size and content (symlinks: their target).
fn entries<R: Read>(mut r: PayloadReader<R>) -> Vec<(String, u64, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(mut e) = r.next_entry().unwrap() {
        let info = e.info().clone();
        let mut content = Vec::new();
        e.read_to_end(&mut content).unwrap();
        out.push((info.path, info.size, content));
    }
    out
}

/// A package held in memory reads exactly as streamed from its file, for every
/// compressor: a small zstd payload decompressed whole at once, any other streamed
/// from memory.
#[test]
fn package_in_memory_reads_as_streamed_for_every_compressor() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["zstd", "xz", "gzip", "bzip2", "none"] {
        let pkg = built_with(dir.path(), name);
        let streamed = entries(PayloadReader::open(&pkg).unwrap());
        let bytes = std::fs::read(&pkg).unwrap();
        let mut rest: &[u8] = &bytes;
        let header = PackageHeader::read(&mut rest, name).unwrap();
        let start = bytes.len() - rest.len();
        let in_memory =
            entries(PayloadReader::new_verified_in_memory(header, bytes.clone(), start).unwrap());
        assert_eq!(streamed.len(), 6, "{name}");
        assert!(streamed == in_memory, "{name}: entries differ");
    }
}
