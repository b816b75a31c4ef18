//! Publishing: `--update` equals a full run, generations of old metadata stay,
//! signatures verify with the real gpg, and damaged repositories give errors
//! naming the file.

mod common;

use common::*;
use repodata::{create_repo, Compression, CreateOptions, Error, LocalRepo};
use std::path::Path;
use std::process::Command;

fn open_checksums(dir: &Path) -> Vec<String> {
    let repo = LocalRepo::open(dir).unwrap();
    repo.repomd()
        .records
        .iter()
        .map(|r| r.open_checksum.as_ref().unwrap().hex.clone())
        .collect()
}

#[test]
fn update_gives_the_same_result_as_a_full_run_and_keeps_old_generations() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("repo");
    // However many test packages common.rs builds (createrepo_c.rs adds its own to them).
    let n = build_specs(&dir).len();
    let first = create_repo(&dir, &CreateOptions::default()).unwrap();
    assert_eq!((first.packages, first.read, first.reused), (n, n, 0));
    let full = open_checksums(&dir);

    let opts = CreateOptions {
        update: true,
        ..Default::default()
    };
    let upd = create_repo(&dir, &opts).unwrap();
    assert_eq!((upd.packages, upd.read, upd.reused), (n, 0, n));
    assert_eq!(open_checksums(&dir), full);
    // The first generation's files are still there for clients mid-sync.
    for r in &first.records {
        assert!(dir.join(&r.location_href).is_file(), "{}", r.location_href);
    }

    // A changed package is read again; a removed one disappears.
    let gamma = walk(&dir)
        .into_iter()
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("gamma")
        })
        .unwrap();
    std::fs::remove_file(&gamma).unwrap();
    let upd2 = create_repo(&dir, &opts).unwrap();
    assert_eq!((upd2.packages, upd2.read, upd2.reused), (n - 1, 0, n - 1));
    assert!(!upd2.kept_old_files.is_empty());
    for r in &first.records {
        assert!(
            dir.join(&r.location_href).is_file(),
            "{} dropped too early",
            r.location_href
        );
    }
    let full_again = {
        let other = tmp.path().join("copy");
        copy_tree(&dir, &other);
        std::fs::remove_dir_all(other.join("repodata")).unwrap();
        // copy_tree changes mtimes; compare package records minus time_file instead.
        create_repo(&other, &CreateOptions::default()).unwrap();
        let mut v = LocalRepo::open(&other).unwrap().load_all().unwrap();
        v.iter_mut().for_each(|p| p.time_file = 0);
        v
    };
    let mut now = LocalRepo::open(&dir).unwrap().load_all().unwrap();
    now.iter_mut().for_each(|p| p.time_file = 0);
    assert_eq!(now, full_again);

    // Generations beyond the limit are dropped.
    for _ in 0..3 {
        create_repo(
            &dir,
            &CreateOptions {
                compression: Compression::Gz,
                ..opts.clone()
            },
        )
        .unwrap();
    }
    for r in &first.records {
        assert!(
            !dir.join(&r.location_href).exists(),
            "{} kept too long",
            r.location_href
        );
    }
    assert!(!dir
        .join(".repodata.new-".to_string() + &std::process::id().to_string())
        .exists());
}

#[test]
fn signed_repomd_verifies_with_gpg_and_with_our_reader() {
    require_tool("gpg");
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("gnupg");
    std::fs::create_dir(&home).unwrap();
    let gpg = |args: &[&str]| {
        let mut c = Command::new("gpg");
        c.arg("--homedir").arg(&home).arg("--batch").args(args);
        run(&mut c)
    };
    gpg(&[
        "--passphrase",
        "",
        "--quick-gen-key",
        "Repo Test <repo@example.com>",
        "rsa2048",
        "sign",
        "never",
    ]);
    let secret = gpg(&["--armor", "--export-secret-keys"]);
    let public = gpg(&["--armor", "--export"]);
    std::fs::write(tmp.path().join("secret.asc"), secret).unwrap();
    std::fs::write(tmp.path().join("public.asc"), public).unwrap();

    let dir = tmp.path().join("repo");
    build_specs(&dir);
    let opts = CreateOptions {
        sign_key: Some(tmp.path().join("secret.asc")),
        ..Default::default()
    };
    let r = create_repo(&dir, &opts).unwrap();
    assert!(r.signed);
    let md = dir.join("repodata/repomd.xml");
    gpg(&[
        "--verify",
        md.with_extension("xml.asc").to_str().unwrap(),
        md.to_str().unwrap(),
    ]);
    LocalRepo::open_signed(&dir, &tmp.path().join("public.asc")).unwrap();

    // Tampering is detected.
    let mut text = std::fs::read_to_string(&md).unwrap();
    text = text.replace("<revision>", "<revision>9");
    std::fs::write(&md, text).unwrap();
    let err = LocalRepo::open_signed(&dir, &tmp.path().join("public.asc")).unwrap_err();
    assert!(matches!(err, Error::BadSignature { .. }), "{err}");
    assert!(err.to_string().contains("repomd.xml.asc"), "{err}");
}

#[test]
fn damaged_repositories_give_errors_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("repo");
    build_specs(&dir);
    create_repo(
        &dir,
        &CreateOptions {
            compression: Compression::Gz,
            ..Default::default()
        },
    )
    .unwrap();
    let repo = LocalRepo::open(&dir).unwrap();
    let rec = |t: &str| dir.join(&repo.repomd().record(t).unwrap().location_href);
    let primary = rec("primary");
    let other = rec("other");
    let filelists = rec("filelists");

    // Checksum mismatch: flip one byte (same size).
    let mut bytes = std::fs::read(&other).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0xff;
    std::fs::write(&other, &bytes).unwrap();
    let err = repo.other().err().unwrap();
    assert!(matches!(err, Error::ChecksumMismatch { .. }), "{err}");
    assert!(err
        .to_string()
        .contains(other.file_name().unwrap().to_str().unwrap()));

    // Missing file.
    std::fs::remove_file(&filelists).unwrap();
    let err = repo.filelists().err().unwrap();
    assert!(matches!(err, Error::MissingFile { .. }), "{err}");
    assert!(err.to_string().contains("filelists.xml.gz"), "{err}");

    // Malformed XML inside a correctly checksummed file.
    let text = "<?xml version=\"1.0\"?>\n<metadata packages=\"1\"><package type=\"rpm\"><name>x</oops></metadata>";
    let path = tmp.path().join("broken-primary.xml");
    std::fs::write(&path, text).unwrap();
    let err = repodata::PrimaryReader::new(text.as_bytes(), &path)
        .unwrap()
        .collect::<repodata::Result<Vec<_>>>()
        .unwrap_err();
    assert!(matches!(err, Error::Xml { .. }), "{err}");
    assert!(err.to_string().contains("broken-primary.xml"), "{err}");

    // Truncated compressed file.
    let bytes = std::fs::read(&primary).unwrap();
    std::fs::write(&primary, &bytes[..bytes.len() / 2]).unwrap();
    let err = repo.primary().err().unwrap();
    assert!(err.to_string().contains("primary.xml.gz"), "{err}");

    // repomd.xml that is not XML.
    std::fs::write(dir.join("repodata/repomd.xml"), "garbage").unwrap();
    let err = LocalRepo::open(&dir).unwrap_err();
    assert!(err.to_string().contains("repomd.xml"), "{err}");

    // A package that is not an RPM.
    std::fs::write(dir.join("junk.rpm"), "not an rpm").unwrap();
    let err = create_repo(&dir, &CreateOptions::default()).unwrap_err();
    assert!(err.to_string().contains("junk.rpm"), "{err}");
}

/// `is_current`: true right after publishing; false once a package is added, removed,
/// rewritten with another size, or the metadata is missing or damaged.
#[test]
fn is_current_tells_whether_the_metadata_lists_the_packages_as_they_are() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("repo");
    build_specs(&dir);
    assert!(!repodata::is_current(&dir).unwrap(), "no repodata yet");
    create_repo(&dir, &CreateOptions::default()).unwrap();
    assert!(repodata::is_current(&dir).unwrap());

    let pkgs = walk(&dir);
    let first = pkgs
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "rpm"))
        .unwrap()
        .clone();
    // An extra package (a copy under another name).
    let extra = dir.join("extra-copy.rpm");
    std::fs::copy(&first, &extra).unwrap();
    assert!(!repodata::is_current(&dir).unwrap(), "an added package");
    std::fs::remove_file(&extra).unwrap();
    assert!(repodata::is_current(&dir).unwrap());
    // A package that grew.
    let saved = std::fs::read(&first).unwrap();
    let mut grown = saved.clone();
    grown.push(0);
    std::fs::write(&first, &grown).unwrap();
    assert!(!repodata::is_current(&dir).unwrap(), "a changed package");
    // A removed package.
    std::fs::remove_file(&first).unwrap();
    assert!(!repodata::is_current(&dir).unwrap(), "a removed package");
    std::fs::write(&first, &saved).unwrap();
    create_repo(&dir, &CreateOptions::default()).unwrap();
    assert!(repodata::is_current(&dir).unwrap());
    // Damaged metadata: a primary whose checksum no longer matches repomd.xml.
    let repo = LocalRepo::open(&dir).unwrap();
    let rec = repo.repomd().record("primary").unwrap().clone();
    let path = repo.record_path(&rec);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    assert!(!repodata::is_current(&dir).unwrap(), "damaged primary");
    // Hidden directories are not packages: state kept there changes nothing.
    create_repo(&dir, &CreateOptions::default()).unwrap();
    std::fs::create_dir_all(dir.join(".jigdo")).unwrap();
    std::fs::copy(&first, dir.join(".jigdo/hidden.rpm")).unwrap();
    assert!(repodata::is_current(&dir).unwrap());
}
