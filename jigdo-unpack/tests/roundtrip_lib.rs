//! Library-level round trip with the real tools: specs/ test packages built by rpmbuild,
//! a tree composed with `rpm -i --root` and committed by `ostree commit`
//! (examples/compose-tree.sh), packed by `jigdo_pack::pack`, rebuilt by
//! [`jigdo_unpack::unpack`] into a fresh bare-user repository; `ostree fsck` and
//! `ostree ls -R -X -C` are the oracles. Then a second unpack imports nothing.

use std::path::Path;
use std::process::Command;

use std::collections::{HashMap, HashSet};

use jigdo_format::{Directory, Index, Source};
use jigdo_unpack::{unpack, JigdoRpm, Sources, Target, UnpackError, UnpackJob, UnpackOptions};
use ostree_store::{Checksum, ObjectType, RepoMode};

use dev_support::{run, workspace_root as top};

fn ls(repo: &Path, rev: &str) -> String {
    run(Command::new("ostree")
        .arg(format!("--repo={}", repo.display()))
        .args(["ls", "-R", "-X", "-C", rev]))
}

#[test]
fn packs_and_unpacks_bit_for_bit() {
    let work = tempfile::tempdir().unwrap();
    let pkgs = work.path().join("rpms");
    run(Command::new(top().join("specs/build-test-packages.sh"))
        .arg(&pkgs)
        .arg(top().join("specs/jt-full.spec"))
        .arg(top().join("specs/jt-gzip-noarch.spec"))
        .arg(top().join("specs/jt-xz.spec")));
    let compose = work.path().join("compose");
    let commit = run(Command::new(top().join("examples/compose-tree.sh"))
        .arg(&pkgs)
        .arg(&compose)
        .arg("example/os")
        .arg("1.0"))
    .trim()
    .to_owned();
    let repo = ostree_store::Repo::open(&compose).unwrap();
    let report = jigdo_pack::pack(
        &repo,
        &jigdo_pack::PackOptions {
            rev: "example/os".into(),
            pools: vec![pkgs.clone()],
            output_dir: work.path().join("out"),
            name: Some("example-os".into()),
            release: "1".into(),
            spec: None,
            sign_key: None,
            delta_from: Vec::new(),
        },
        &|_| {},
    )
    .unwrap();

    let info = jigdo_unpack::info(&report.rpm).unwrap();
    assert_eq!(info.commit, commit);
    assert_eq!(info.packages.len(), report.packages.len());

    // The whole file read after its start takes the start's decoded index when its
    // `2-index` is the same bytes, and only then.
    let size = std::fs::metadata(&report.rpm).unwrap().len();
    let file = std::fs::File::open(&report.rpm).unwrap();
    let start = JigdoRpm::read_head(file, &report.rpm, size).unwrap();
    let (whole, _, reused) =
        JigdoRpm::open_with_blobs_after(&report.rpm, Some(start.clone())).unwrap();
    assert!(reused);
    assert_eq!(whole.index, start.index);
    let mut other = start.clone();
    other.index_zstd.push(0);
    other.index.packages.clear();
    let (whole, _, reused) = JigdoRpm::open_with_blobs_after(&report.rpm, Some(other)).unwrap();
    assert!(!reused, "an index of other bytes is decoded again");
    assert_eq!(whole.index, start.index);
    assert_eq!(whole.index.packages.len(), report.packages.len());

    let client = work.path().join("client");
    let opts = UnpackOptions {
        jigdo_rpm: report.rpm.clone(),
        sources: vec![pkgs.display().to_string()],
        repo: client.clone(),
        mode: RepoMode::BareUser,
        ref_name: Some("example/os".into()),
    };
    let messages = std::sync::Mutex::new(Vec::new());
    let r = unpack(&opts, &|m: &jigdo_unpack::UnpackEvent| {
        messages.lock().unwrap().push(m.to_string())
    })
    .unwrap();
    assert_eq!(r.commit, commit);
    assert_eq!(r.packages_imported, report.packages.len());
    let n = report.packages.len();
    assert!(
        messages
            .lock()
            .unwrap()
            .contains(&format!("{n}/{n} packages to import")),
        "{:?}",
        messages.lock().unwrap()
    );
    run(Command::new("ostree")
        .arg(format!("--repo={}", client.display()))
        .arg("fsck"));
    assert_eq!(ls(&client, "example/os"), ls(&compose, "example/os"));

    // Again into the same repository under another ref: nothing is read.
    let again = unpack(
        &UnpackOptions {
            ref_name: Some("again".into()),
            ..opts.clone()
        },
        &|_| {},
    )
    .unwrap();
    assert!(again.already_present);
    assert_eq!(again.packages_imported, 0);

    // A second repository that lost the commit but kept objects and caches: the commit
    // is rebuilt without reading any package (the sources are empty).
    std::fs::remove_dir_all(client.join("refs/heads")).unwrap();
    let c = client.join(format!("objects/{}/{}.commit", &commit[..2], &commit[2..]));
    std::fs::remove_file(c).unwrap();
    let empty = work.path().join("empty-source");
    std::fs::create_dir_all(&empty).unwrap();
    let third = unpack(
        &UnpackOptions {
            sources: vec![empty.display().to_string()],
            ..opts.clone()
        },
        &|_| {},
    )
    .unwrap();
    assert_eq!(third.packages_imported, 0);
    assert_eq!(third.commit, commit);
    run(Command::new("ostree")
        .arg(format!("--repo={}", client.display()))
        .arg("fsck"));

    // The final check still finds what the repository lost after the plan counted it
    // present, and names it: a content object known from a package cache, then a
    // dirtree that was there already but no longer reads back. The commit stays partial
    // and no ref is set; once the objects are back, the unpack completes.
    let store = ostree_store::Repo::open(&client).unwrap();
    let sum: Checksum = commit.parse().unwrap();
    let files = tree_files(&store, &sum);
    let from_packages = package_paths(&jigdo_unpack::JigdoRpm::open(&report.rpm).unwrap().index);
    let (lost_path, lost) = files
        .iter()
        .filter(|(path, _)| from_packages.contains(path.trim_start_matches('/')))
        .min()
        .map(|(p, c)| (p.clone(), *c))
        .expect("a file from a package");
    let lost_at = store.loose_path(ObjectType::File, &lost);
    let aside = work.path().join("aside");
    let target = || Target {
        repo: client.clone(),
        mode: RepoMode::BareUser,
        ref_name: Some("example/os".into()),
    };
    let restart = || {
        let _ = std::fs::remove_dir_all(client.join("refs/heads"));
        std::fs::remove_file(store.loose_path(ObjectType::Commit, &sum)).unwrap();
    };
    let no_sources = Sources::new(Vec::new());
    restart();
    let job = UnpackJob::open(&report.rpm, target()).unwrap();
    assert!(
        job.needed().is_empty(),
        "every package is known from its cache"
    );
    std::fs::rename(&lost_at, &aside).unwrap();
    match job.finish(&no_sources, &|_| {}) {
        Err(UnpackError::Missing { object, path, .. }) => {
            assert_eq!(object, format!("{lost}.file"));
            assert_eq!(files.get(&path), Some(&lost), "{path} vs {lost_path}");
        }
        other => panic!("expected the lost object to be named, got {other:?}"),
    }
    assert!(store.is_commit_partial(&sum));
    assert!(store.resolve_rev("example/os").is_err());
    std::fs::rename(&aside, &lost_at).unwrap();

    let dirtree = store.read_commit(&sum).unwrap().root_tree;
    let dirtree_at = store.loose_path(ObjectType::DirTree, &dirtree);
    restart();
    let job = UnpackJob::open(&report.rpm, target()).unwrap();
    std::fs::rename(&dirtree_at, &aside).unwrap();
    std::fs::write(&dirtree_at, b"not the dirtree").unwrap();
    match job.finish(&no_sources, &|_| {}) {
        Err(UnpackError::Unreadable { path, .. }) => assert_eq!(path, "/"),
        other => panic!("expected the bad dirtree to be named, got {other:?}"),
    }
    assert!(store.is_commit_partial(&sum));
    assert!(store.resolve_rev("example/os").is_err());
    std::fs::rename(&aside, &dirtree_at).unwrap();

    let fourth = unpack(
        &UnpackOptions {
            sources: vec![empty.display().to_string()],
            ..opts.clone()
        },
        &|_| {},
    )
    .unwrap();
    assert_eq!(fourth.commit, commit);
    assert!(!store.is_commit_partial(&sum));
    run(Command::new("ostree")
        .arg(format!("--repo={}", client.display()))
        .arg("fsck"));
}

/// Every file of the tree of `commit` in `repo`: its content object by its path (`/usr/bin/x`).
fn tree_files(repo: &ostree_store::Repo, commit: &Checksum) -> HashMap<String, Checksum> {
    let mut out = HashMap::new();
    let mut stack = vec![(
        repo.read_commit(commit).unwrap().root_tree,
        String::from("/"),
    )];
    while let Some((tree, prefix)) = stack.pop() {
        let dt = repo.read_dirtree(&tree).unwrap();
        for (name, c) in dt.files {
            out.insert(format!("{prefix}{name}"), c);
        }
        for (name, t, _) in dt.dirs {
            stack.push((t, format!("{prefix}{name}/")));
        }
    }
    out
}

/// The tree paths (`usr/bin/x`) of the files `index` takes from packages.
fn package_paths(index: &Index) -> HashSet<String> {
    fn walk(dir: &Directory, prefix: &str, out: &mut HashSet<String>) {
        for f in &dir.files {
            if matches!(f.source, Source::Package { .. }) {
                out.insert(format!("{prefix}{}", f.name));
            }
        }
        for (name, sub) in &dir.dirs {
            walk(sub, &format!("{prefix}{name}/"), out);
        }
    }
    let mut out = HashSet::new();
    walk(&index.root, "", &mut out);
    out
}
