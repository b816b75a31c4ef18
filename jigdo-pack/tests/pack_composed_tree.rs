//! Packs a tree composed from the specs/ test packages with real `rpm -i --root` and
//! `ostree commit`, then checks the jigdo RPM with the real `rpm` and our own reader.

use std::path::{Path, PathBuf};
use std::process::Command;

use jigdo_format::{Index, PayloadFile, Source};
use jigdo_pack::{pack, PackOptions};

use dev_support::{run, workspace_root as top};

/// Builds the test packages and composes + commits a tree; returns (pkgdir, repo, commit).
fn compose(work: &Path) -> (PathBuf, PathBuf, String) {
    let pkgs = work.join("rpms");
    run(Command::new(top().join("specs/build-test-packages.sh")).arg(&pkgs));
    let repo = work.join("repo");
    let commit = run(Command::new(top().join("examples/compose-tree.sh"))
        .arg(&pkgs)
        .arg(&repo)
        .arg("example/os")
        .arg("1.0"));
    (pkgs, repo, commit.trim().to_owned())
}

#[test]
fn packs_a_composed_tree_into_a_valid_jigdo_rpm() {
    let work = tempfile::tempdir().unwrap();
    let (pkgs, repo_path, commit) = compose(work.path());
    let repo = ostree_store::Repo::open(&repo_path).unwrap();
    let out = work.path().join("out");
    let report = pack(
        &repo,
        &PackOptions {
            rev: "example/os".into(),
            pools: vec![pkgs.clone()],
            output_dir: out.clone(),
            name: Some("example-os".into()),
            release: "1".into(),
            spec: None,
            sign_key: None,
            delta_from: Vec::new(),
        },
        &|_| {},
    )
    .unwrap();
    assert_eq!(report.commit, commit);
    assert_eq!(report.version, "1.0");
    assert_eq!(
        report.rpm.file_name().unwrap().to_string_lossy(),
        format!("example-os-1.0-1.{}.rpm", report.arch)
    );

    // Every package installed into the tree is in the set, and nothing else could be.
    let built: Vec<String> = std::fs::read_dir(&pkgs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
        .map(|p| {
            run(Command::new("rpm")
                .args(["-qp", "--nosignature", "--qf", "%{NAME}\n"])
                .arg(&p))
            .trim()
            .to_owned()
        })
        .collect();
    let file_packages: Vec<&String> = built.iter().filter(|n| !n.contains("dirs")).collect();
    for name in &file_packages {
        assert!(
            report
                .packages
                .iter()
                .any(|p| p.starts_with(&format!("{name}-"))),
            "{name} missing from the set {:?}",
            report.packages
        );
    }

    // rpm reads it: digests good, provides and one exact pin per package.
    run(Command::new("rpm")
        .args(["-K", "--nosignature"])
        .arg(&report.rpm));
    let deps = run(Command::new("rpm")
        .args(["-qp", "--nosignature", "--provides", "--requires"])
        .arg(&report.rpm));
    assert!(deps.contains("ostree-jigdo(v2)"), "{deps}");
    assert!(
        deps.contains(&format!("ostree-jigdo-commit({commit})")),
        "{deps}"
    );
    let pins: Vec<&str> = deps
        .lines()
        .filter(|l| {
            l.contains(" = ") && !l.starts_with("ostree-jigdo") && !l.starts_with("example-os")
        })
        .collect();
    assert_eq!(pins.len(), report.packages.len(), "{deps}");

    // The payload holds the commit object first and an index that describes the tree.
    let extract = work.path().join("extract");
    std::fs::create_dir_all(&extract).unwrap();
    run(Command::new("sh")
        .current_dir(&extract)
        .arg("-c")
        .arg(format!(
            "rpm2cpio '{}' | cpio -idm --quiet && find . -type f | sort",
            report.rpm.display()
        )));
    let dir = extract.join(jigdo_format::payload_dir(&commit).trim_start_matches('/'));
    let commit_bytes = std::fs::read(dir.join(PayloadFile::Commit.relative_path())).unwrap();
    assert_eq!(
        ostree_store::Checksum::of_bytes(&commit_bytes).to_hex(),
        commit
    );
    assert!(dir.join(PayloadFile::CommitMeta.relative_path()).exists());
    let index =
        Index::decode(&std::fs::read(dir.join(PayloadFile::Index.relative_path())).unwrap())
            .unwrap();
    assert_eq!(index.commit_hex(), commit);
    assert_eq!(index.file_count(), report.files);
    let tree_files = run(Command::new("ostree")
        .arg(format!("--repo={}", repo_path.display()))
        .args(["ls", "-R", "example/os"]))
    .lines()
    .filter(|l| !l.starts_with('d'))
    .count();
    assert_eq!(report.files, tree_files);

    // Content that no package provides is new; package files come from their package.
    let mut new_paths = Vec::new();
    index.for_each_file(|path, entry| {
        if let Source::New(_) = entry.source {
            new_paths.push(path.to_owned());
        }
    });
    for expected in [
        "etc/generated.conf",
        "etc/os-release.generated",
        "usr/lib/modules/6.1.0-example/vmlinuz",
        "usr/lib/modules/6.1.0-example/initramfs.img",
    ] {
        assert!(
            new_paths.iter().any(|p| p == expected),
            "{expected} not new: {new_paths:?}"
        );
    }
    assert!(
        new_paths.iter().all(|p| !p.starts_with("usr/share/jt-")),
        "package files recorded as new: {new_paths:?}"
    );
    assert_eq!(report.new_files, new_paths.len());
    assert_eq!(report.files_from_packages + report.new_files, report.files);
    let blobs = index.blob_entries().len();
    for n in 0..blobs {
        assert!(dir
            .join(PayloadFile::Content(n as u32).relative_path())
            .exists());
    }
}

#[test]
fn an_unknown_revision_is_a_clear_error() {
    let work = tempfile::tempdir().unwrap();
    let repo_path = work.path().join("repo");
    run(Command::new("ostree")
        .arg(format!("--repo={}", repo_path.display()))
        .args(["init", "--mode=archive"]));
    let repo = ostree_store::Repo::open(&repo_path).unwrap();
    let err = pack(
        &repo,
        &PackOptions {
            rev: "no/such/ref".into(),
            pools: vec![work.path().to_path_buf()],
            output_dir: work.path().join("out"),
            name: None,
            release: "1".into(),
            spec: None,
            sign_key: None,
            delta_from: Vec::new(),
        },
        &|_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("no/such/ref"), "{err}");
    assert!(!work.path().join("out").exists());
}
