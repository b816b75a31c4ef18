//! Our reader on real repositories published by createrepo_c, librepo, libdnf,
//! dnf5 and a third-party openSUSE repository: every compression, signatures,
//! and the known upstream inconsistencies.

mod common;

use common::*;
use repodata::{Error, LocalRepo};
use std::path::{Path, PathBuf};

fn repos(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walk(root)
        .into_iter()
        .filter(|p| p.ends_with("repodata/repomd.xml"))
        .map(|p| p.parent().unwrap().parent().unwrap().to_path_buf())
        .collect();
    v.sort();
    v
}

#[test]
fn reads_every_real_world_repository() {
    let fx = fixtures().join("repodata");
    let mut read = 0;
    let mut packages = 0;
    for dir in repos(&fx) {
        let name = dir
            .strip_prefix(&fx)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let result = LocalRepo::open(&dir);
        if name == "libdnf/gpg-wrong-asc" {
            // repomd.xml is not XML on purpose.
            let err = result.unwrap_err();
            assert!(err.to_string().contains("repomd.xml"), "{err}");
            continue;
        }
        let repo = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        if name == "epel8-geodentel" {
            // repomd only: every data file is missing, and the error says which.
            let err = repo.verify_all().unwrap_err();
            assert!(matches!(err, Error::MissingFile { .. }), "{err}");
            continue;
        }
        if name == "createrepo_c/repo_01" {
            // Upstream's primary.xml.gz is one byte longer than repomd.xml says.
            let err = repo.verify_all().unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::SizeMismatch { .. } | Error::ChecksumMismatch { .. }
                ),
                "{err}"
            );
            assert!(err.to_string().contains("primary.xml.gz"), "{err}");
            continue;
        }
        repo.verify_all().unwrap_or_else(|e| panic!("{name}: {e}"));
        if repo.repomd().record("primary").is_none() {
            continue;
        }
        let mut n = 0;
        for p in repo.primary().unwrap() {
            p.unwrap_or_else(|e| panic!("{name}: {e}"));
            n += 1;
        }
        // Full join of filelists/other works where they exist.
        let all = repo.load_all().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(all.len(), n);
        read += 1;
        packages += n;
    }
    assert!(read >= 25, "only {read} repositories read");
    assert!(packages > 50, "only {packages} packages");
}

#[test]
fn zstd_repository_matches_its_packages() {
    // The xlibre repo ships its packages: their sha256 must equal primary's pkgids.
    let dir = fixtures().join("repodata/xlibre-opensuse/x86_64");
    let repo = LocalRepo::open(&dir).unwrap();
    let idx = repo.index().unwrap();
    assert_eq!(idx.len(), 13);
    for e in idx.entries() {
        let id = rpm_package::package_id(dir.join(&e.location_href)).unwrap();
        assert_eq!(id, e.checksum.hex, "{}", e.nevra());
        let meta = std::fs::metadata(dir.join(&e.location_href)).unwrap();
        assert_eq!(meta.len(), e.size);
    }
    let x = idx.newest("x11-xlibre").unwrap();
    assert_eq!(x.nevra(), "x11-xlibre-25.1.1-1.1.x86_64");
    assert!(idx.by_nevra("x11-xlibre-25.1.1-1.1.x86_64").is_some());
    assert!(!idx.what_provides("x11-xlibre", None).is_empty());
}

#[test]
fn good_signatures_verify() {
    let fx = fixtures();
    for (repo, key) in [
        ("repodata/librepo/repo_yum_01", "keys/librepo/key.pub"),
        ("repodata/libdnf/gpg-asc", "keys/libdnf/signing_key.pub"),
        (
            "repodata/dnf5/repos-repomd/repomd-repo1-gpg",
            "keys/dnf5/repo-gpg-key.pub",
        ),
        (
            "repodata/xlibre-opensuse/x86_64",
            "keys/xlibre-opensuse/outtathebox5319-rpm-signing-key.asc",
        ),
        (
            "repodata/xlibre-opensuse/SRPMS",
            "keys/xlibre-opensuse/outtathebox5319-rpm-signing-key.asc",
        ),
    ] {
        LocalRepo::open_signed(&fx.join(repo), &fx.join(key))
            .unwrap_or_else(|e| panic!("{repo}: {e}"));
    }
}

#[test]
fn bad_signatures_are_rejected_naming_the_file() {
    let fx = fixtures();
    // A signature by another key.
    let dir = fx.join("repodata/librepo/repo_yum_01/repodata");
    let err = repodata::signature::verify_file(
        &dir.join("repomd.xml_bad"),
        &dir.join("repomd.xml_bad.sig"),
        &fx.join("keys/librepo/key.pub"),
    )
    .unwrap_err();
    assert!(matches!(err, Error::BadSignature { .. }), "{err}");
    assert!(err.to_string().contains("repomd.xml_bad.sig"), "{err}");
    // The right key but other data.
    let err = repodata::signature::verify_file(
        &dir.join("repomd.xml_bad"),
        &dir.join("repomd.xml.asc"),
        &fx.join("keys/librepo/key.pub"),
    )
    .unwrap_err();
    assert!(matches!(err, Error::BadSignature { .. }), "{err}");
    // The wrong key.
    let err = LocalRepo::open_signed(
        &fx.join("repodata/librepo/repo_yum_01"),
        &fx.join("keys/libdnf/signing_key.pub"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("repomd.xml.asc"), "{err}");
    // Not a signature at all.
    let err = LocalRepo::open_signed(
        &fx.join("repodata/libdnf/gpg-wrong-asc"),
        &fx.join("keys/libdnf/signing_key.pub"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("repomd.xml"), "{err}");
}

#[test]
fn hand_broken_files_give_errors_naming_the_file() {
    let dir = fixtures().join("repodata/createrepo_c/modified_repo_files");
    for name in [
        "error_00-primary.xml",
        "error_00-filelists.xml",
        "error_00-other.xml",
    ] {
        let path = dir.join(name);
        let f = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
        let kind = if name.contains("filelists") {
            Some(repodata::ExtraKind::Filelists)
        } else if name.contains("other") {
            Some(repodata::ExtraKind::Other)
        } else {
            None
        };
        let err = match kind {
            None => repodata::PrimaryReader::new(f, &path)
                .and_then(|r| r.collect::<repodata::Result<Vec<_>>>().map(|_| ())),
            Some(k) => repodata::ExtraReader::new(f, &path, k)
                .and_then(|r| r.collect::<repodata::Result<Vec<_>>>().map(|_| ())),
        };
        let err = err.expect_err(name);
        assert!(err.to_string().contains(name), "{err}");
    }
    // Files with unknown elements and escaped ampersands still read.
    for name in [
        "unknown_element_00-primary.xml",
        "repo_01_ampersand-primary.xml",
        "long_primary.xml",
    ] {
        let path = dir.join(name);
        let f = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
        let n = repodata::PrimaryReader::new(f, &path)
            .unwrap()
            .collect::<repodata::Result<Vec<_>>>()
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .len();
        assert!(n >= 1, "{name}");
    }
}

#[test]
fn decompresses_every_format_of_the_same_text() {
    let dir = fixtures().join("repodata/createrepo_c/compressed_files");
    let plain = std::fs::read(dir.join("00_plain.txt")).unwrap();
    for ext in ["gz", "bz2", "xz", "zst"] {
        let f = std::fs::File::open(dir.join(format!("00_plain.txt.{ext}"))).unwrap();
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut repodata::compress::decoder(f).unwrap(), &mut out).unwrap();
        assert_eq!(out, plain, "{ext}");
    }
}
