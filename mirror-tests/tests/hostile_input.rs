//! Hostile and broken input, end to end through the `jigdo` binary: jigdo RPMs crafted
//! from a real one (a pin whose name climbs out of the download directory, an index
//! that lies about the tree), corrupted repositories, and the paths of the command line
//! that no other scenario drives. Packages are built by the real `rpmbuild`, trees
//! committed by the real `ostree`, commits packed by `jigdo pack`; crafted jigdo RPMs
//! are the real one's payload (unpacked by the real `rpm2cpio` and `cpio`) with an
//! edited index, written like `jigdo pack` writes them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use jigdo_format::{Index, PayloadFile};
use mirror_tests::*;

jigdo_command!();

const REF: &str = "example/os";

struct World {
    dir: PathBuf,
    /// The pinned packages (a plain directory of RPMs).
    pkgs: PathBuf,
    /// The OSTree repository the commit was composed in.
    compose: PathBuf,
    /// The commit.
    commit: String,
    /// The jigdo RPM `jigdo pack` made of it.
    jigdo: PathBuf,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hostile_input");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let pkgs = dir.join("pkgs");
        build_rpm(
            &pkgs,
            &TestPackage::new(
                "jt-hostile",
                "1.0",
                "noarch",
                vec![
                    TestFile::regular("/usr/bin/jt-hostile", pseudo_random(11, 30_000), 0o755),
                    TestFile::regular("/usr/share/jt-hostile/a", pseudo_random(12, 5_000), 0o644),
                    TestFile::regular("/usr/share/jt-hostile/b", pseudo_random(13, 7_000), 0o644),
                ],
            ),
        );
        build_rpm(
            &pkgs,
            &TestPackage::new(
                "jt-other",
                "2.0",
                "noarch",
                vec![TestFile::regular(
                    "/usr/share/jt-other/data",
                    pseudo_random(14, 20_000),
                    0o644,
                )],
            ),
        );
        let compose = dir.join("compose");
        let commit = compose_tree(&pkgs, &compose, REF, "1.0", None);
        let out = dir.join("jigdo");
        let printed = run(jigdo()
            .args(["pack", "--repo"])
            .arg(&compose)
            .args(["--rev", &commit, "--from"])
            .arg(&pkgs)
            .arg("--output")
            .arg(&out)
            .args(["--name", "example-os"]));
        World {
            dir,
            pkgs,
            compose,
            commit,
            jigdo: PathBuf::from(printed.trim()),
        }
    })
}

/// A fresh directory for one test.
fn fresh(name: &str) -> PathBuf {
    let p = world().dir.join(name);
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).expect("mkdir");
    p
}

/// The payload of the RPM `rpm`, unpacked by the real `rpm2cpio` and `cpio`.
fn unpack_payload(rpm: &Path) -> tempfile::TempDir {
    let x = tempfile::tempdir().expect("tmp");
    run(Command::new("sh")
        .arg("-c")
        .arg("rpm2cpio \"$1\" | cpio -idm --quiet")
        .arg("sh")
        .arg(rpm)
        .current_dir(x.path()));
    x
}

/// Writes into `out_dir` a jigdo RPM with the payload of the real one and its index
/// edited by `edit`, its `Requires:` made from the edited pins (as `jigdo pack` does).
fn craft(out_dir: &Path, edit: impl FnOnce(&mut Index)) -> PathBuf {
    let w = world();
    craft_from(&w.jigdo, &w.commit, out_dir, edit)
}

/// [`craft`] from the jigdo RPM `jigdo` of `commit`.
fn craft_from(
    jigdo: &Path,
    commit: &str,
    out_dir: &Path,
    edit: impl FnOnce(&mut Index),
) -> PathBuf {
    let x = unpack_payload(jigdo);
    let payload = |f: PayloadFile| x.path().join(f.path(commit).trim_start_matches('/'));
    let mut index = Index::decode(&std::fs::read(payload(PayloadFile::Index)).expect("read"))
        .expect("decode the real index");
    edit(&mut index);
    let q = run(Command::new("rpm")
        .args(["-qp", "--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH}"])
        .arg(jigdo));
    let nvra: Vec<&str> = q.split_whitespace().collect();
    let mut b = rpm_package::PackageBuilder::new(nvra[0], nvra[1], nvra[2], nvra[3]);
    b.provides(jigdo_format::FORMAT_PROVIDE, None);
    b.provides(&jigdo_format::commit_provide(commit), None);
    for pin in &index.packages {
        let r = pin.requirement();
        b.requires_equal(&r.name, &r.evr);
    }
    b.add_file_bytes(
        &PayloadFile::Commit.path(commit),
        std::fs::read(payload(PayloadFile::Commit)).expect("read"),
        0o644,
    );
    if payload(PayloadFile::CommitMeta).exists() {
        b.add_file_bytes(
            &PayloadFile::CommitMeta.path(commit),
            std::fs::read(payload(PayloadFile::CommitMeta)).expect("read"),
            0o644,
        );
    }
    b.add_file_bytes(
        &PayloadFile::Index.path(commit),
        index.encode().expect("encode"),
        0o644,
    );
    let mut n = 0;
    while payload(PayloadFile::Content(n)).exists() {
        b.add_file_path(
            &PayloadFile::Content(n).path(commit),
            payload(PayloadFile::Content(n)),
            0o644,
        );
        n += 1;
    }
    std::fs::create_dir_all(out_dir).expect("mkdir");
    let out = out_dir.join(jigdo.file_name().expect("name"));
    b.write_to(&out, None).expect("write the crafted jigdo RPM");
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn failed(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "jigdo succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr(out)
}

/// Files under `dir` whose name starts with `prefix`.
fn named(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect()
}

/// A jigdo RPM whose index pins a package named `../../../../../escaped`, served with
/// repodata that lists the pinned file under that name (both sides hostile). Neither
/// `install` nor `mirror` may write a file outside its download directory; both refuse
/// naming the jigdo RPM and the bad field.
#[test]
fn a_pin_name_that_climbs_out_is_refused_by_install_and_mirror() {
    let w = world();
    let top = fresh("climb");
    let evil = "../../../../../escaped";
    // The hostile repository: the crafted jigdo RPM and the pinned RPMs, published, then
    // its primary rewritten to list jt-hostile under the evil name.
    let served = top.join("served");
    let crafted = craft(&served, |index| {
        let p = index
            .packages
            .iter_mut()
            .find(|p| p.name == "jt-hostile")
            .expect("pin");
        p.name = evil.into();
    });
    for e in std::fs::read_dir(&w.pkgs).expect("readdir") {
        let p = e.expect("entry").path();
        std::fs::copy(&p, served.join(p.file_name().expect("name"))).expect("copy");
    }
    let (mut pkgs, _, _) =
        repodata::create::scan_packages(&served, None, 0).expect("scan the served packages");
    for p in &mut pkgs {
        if p.name == "jt-hostile" {
            p.name = evil.into();
        }
    }
    repodata::create::publish(&served, &pkgs, &repodata::CreateOptions::default())
        .expect("publish the hostile repodata");

    // install: REPO/extensions/jigdo/downloads/packages + 5 x ".." = top/i.
    let repo = top.join("i").join("repo");
    std::fs::create_dir_all(top.join("i")).expect("mkdir");
    let out = run_raw(
        jigdo()
            .args(["install", "example-os", "--from"])
            .arg(&served)
            .arg("--repo")
            .arg(&repo),
    );
    let err = failed(&out);
    assert!(
        err.contains("package name") && err.contains("escaped"),
        "{err}"
    );
    assert!(
        err.contains(
            &crafted
                .file_name()
                .expect("name")
                .to_string_lossy()
                .to_string()
        ),
        "the error does not name the jigdo RPM: {err}"
    );
    // The same jigdo RPM given as a path.
    let out = run_raw(
        jigdo()
            .arg("install")
            .arg(&crafted)
            .arg("--from")
            .arg(&served)
            .arg("--repo")
            .arg(&repo),
    );
    failed(&out);

    // mirror: TO/Packages + 5 x ".." = top.
    let to = top.join("m1").join("m2").join("m3").join("to");
    let out = run_raw(
        jigdo()
            .args(["mirror", "example-os", "--from"])
            .arg(&served)
            .arg("--to")
            .arg(&to),
    );
    let err = failed(&out);
    assert!(
        err.contains("package name") && err.contains("escaped"),
        "{err}"
    );
    assert_eq!(named(&top, "escaped"), Vec::<PathBuf>::new());
}

/// `jigdo install`/`mirror` arguments that accept the unsigned test jigdo RPMs (the trust
/// policy refuses them by default; trust.rs tests it).
fn unsigned_ok() -> Vec<&'static str> {
    vec!["--nogpgcheck"]
}

/// `jigdo unpack RPM --from PKGS --repo REPO --ref REFNAME`.
fn unpack(rpm: &Path, pkgs: &Path, repo: &Path, refname: &str) -> Output {
    run_raw(
        jigdo()
            .arg("unpack")
            .arg(rpm)
            .arg("--from")
            .arg(pkgs)
            .arg("--repo")
            .arg(repo)
            .args(["--ref", refname]),
    )
}

/// `jigdo install example-os` from `from` into `repo` (plus `extra`).
fn install(from: &Path, repo: &Path, extra: &[&str]) -> Output {
    run_raw(
        jigdo()
            .args(["install", "example-os", "--from"])
            .arg(from)
            .arg("--repo")
            .arg(repo)
            .args(["--ref", REF])
            .args(unsigned_ok())
            .args(extra),
    )
}

/// Copies every file of `from` (not recursing) into `to`.
fn copy_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("readdir") {
        let p = e.expect("entry").path();
        if p.is_file() {
            std::fs::copy(&p, to.join(p.file_name().expect("name"))).expect("copy");
        }
    }
}

/// Copies the pinned packages and the jigdo RPM into `to`.
fn copy_pins_and_jigdo(to: &Path) {
    let w = world();
    copy_files(&w.pkgs, to);
    std::fs::copy(&w.jigdo, to.join(w.jigdo.file_name().expect("name"))).expect("copy");
}

/// File names of the `.rpm` files under `dir`, sorted.
fn rpm_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = files_under(dir)
        .into_iter()
        .filter_map(|p| {
            let n = p.file_name()?.to_string_lossy().into_owned();
            n.ends_with(".rpm").then_some(n)
        })
        .collect();
    v.sort();
    v
}

/// `jigdo mirror --from DIR` where DIR is a plain directory of RPMs (no repodata): the
/// jigdo RPM and every pinned RPM are copied into the mirror, which then serves an
/// install of the same commit with the plain directory gone.
#[test]
fn mirror_from_a_plain_directory_copies_the_pins() {
    let w = world();
    let top = fresh("plain-mirror");
    let plain = top.join("plain");
    copy_pins_and_jigdo(&plain);
    let to = top.join("to");
    run(jigdo()
        .args(["mirror", "example-os", "--from"])
        .arg(&plain)
        .arg("--to")
        .arg(&to)
        .args(unsigned_ok()));
    assert_eq!(rpm_names(&to), rpm_names(&plain));
    std::fs::remove_dir_all(&plain).expect("rm");
    let out = install(&to, &top.join("repo"), &[]);
    assert_eq!(ok(&out).trim(), w.commit);
    assert_fsck_clean(&top.join("repo"));
}

/// A second jigdo RPM of the same commit, release 2, packed with a spec template; and a
/// package that no jigdo RPM pins. All in one plain directory with the first.
fn two_releases(top: &Path) -> PathBuf {
    let w = world();
    let src = top.join("src");
    copy_pins_and_jigdo(&src);
    let spec = top.join("custom.spec");
    std::fs::write(
        &spec,
        "Summary: hostile-input release two\nLicense: GPL-2.0-only\nURL: https://example.org/two\n\n%description\nRelease two.\n",
    )
    .expect("spec");
    let printed = run(jigdo()
        .args(["pack", "--repo"])
        .arg(&w.compose)
        .args(["--rev", &w.commit, "--from"])
        .arg(&w.pkgs)
        .arg("--output")
        .arg(&src)
        .args(["--name", "example-os", "--release", "2", "--spec"])
        .arg(&spec));
    let r2 = PathBuf::from(printed.trim());
    // --spec: the descriptive fields come from the template.
    let q = run(Command::new("rpm")
        .args(["-qp", "--qf", "%{RELEASE}|%{SUMMARY}|%{LICENSE}|%{URL}"])
        .arg(&r2));
    assert_eq!(
        q,
        "2|hostile-input release two|GPL-2.0-only|https://example.org/two"
    );
    build_rpm(
        &src,
        &TestPackage::new(
            "jt-unpinned",
            "1.0",
            "noarch",
            vec![TestFile::regular(
                "/usr/share/jt-unpinned/x",
                b"x\n".to_vec(),
                0o644,
            )],
        ),
    );
    src
}

/// `--keep 0` is refused by `jigdo mirror` and `jigdo repo prune` alike, before anything
/// is written or deleted; `mirror --keep 1` keeps the newest jigdo RPM and exactly the
/// packages it pins.
#[test]
fn keep_zero_is_refused_and_mirror_keep_one_keeps_the_newest() {
    let top = fresh("keep");
    let src = two_releases(&top);
    let to = top.join("to");
    let out = run_raw(
        jigdo()
            .args(["mirror", "example-os-1.0-1", "example-os-1.0-2", "--from"])
            .arg(&src)
            .arg("--to")
            .arg(&to)
            .args(["--keep", "0"]),
    );
    let err = failed(&out);
    assert!(err.contains("--keep 0"), "{err}");
    assert!(
        !to.exists() || rpm_names(&to).is_empty(),
        "{:?}",
        rpm_names(&to)
    );

    let published = top.join("published");
    copy_files(&src, &published);
    run(jigdo().args(["repo", "create"]).arg(&published));
    let before = rpm_names(&published);
    let out = run_raw(
        jigdo()
            .args(["repo", "prune"])
            .arg(&published)
            .args(["--keep", "0"]),
    );
    let err = failed(&out);
    assert!(err.contains("--keep 0"), "{err}");
    assert_eq!(rpm_names(&published), before);

    let json = run(jigdo()
        .args(["mirror", "example-os-1.0-1", "example-os-1.0-2", "--from"])
        .arg(&src)
        .arg("--to")
        .arg(&to)
        .args(["--keep", "1", "--json"])
        .args(unsigned_ok()));
    assert!(json.contains("\"pruned\": 1"), "{json}");
    let mut want: Vec<String> = rpm_names(&world().pkgs);
    want.push("example-os-1.0-2.noarch.rpm".into());
    want.sort();
    assert_eq!(rpm_names(&to), want);
    assert_repodata_complete(&to);
}

/// Every file that the repository's primary metadata names exists.
fn assert_repodata_complete(dir: &Path) {
    let repo = repodata::LocalRepo::open(dir).expect("open the repodata");
    for p in repo.primary().expect("primary") {
        let p = p.expect("package");
        assert!(
            dir.join(&p.location_href).is_file(),
            "{} names {} which is missing",
            dir.display(),
            p.location_href
        );
    }
}

/// `jigdo repo prune` publishes the new metadata before it deletes anything: when the
/// publish fails (here: a signing key that is no key), no file is deleted and the
/// metadata still names only existing files; when it succeeds, the removed files are
/// the older jigdo RPM and the unpinned package, and the metadata names no missing file.
#[test]
fn prune_publishes_first_and_deletes_after() {
    let top = fresh("prune");
    let src = two_releases(&top);
    let published = top.join("published");
    copy_files(&src, &published);
    run(jigdo().args(["repo", "create"]).arg(&published));
    let before = rpm_names(&published);
    let bad_key = top.join("not-a-key.asc");
    std::fs::write(&bad_key, "this is not an OpenPGP key\n").expect("write");
    let out = run_raw(
        jigdo()
            .args(["repo", "prune"])
            .arg(&published)
            .args(["--keep", "1", "--sign-key"])
            .arg(&bad_key),
    );
    failed(&out);
    assert_eq!(
        rpm_names(&published),
        before,
        "a failed prune deleted files"
    );
    assert_repodata_complete(&published);

    run(jigdo()
        .args(["repo", "prune"])
        .arg(&published)
        .args(["--keep", "1"]));
    let after = rpm_names(&published);
    let removed: Vec<&String> = before.iter().filter(|n| !after.contains(n)).collect();
    assert_eq!(
        removed,
        vec![
            "example-os-1.0-1.noarch.rpm",
            "jt-unpinned-1.0-1.noarch.rpm"
        ]
    );
    assert_repodata_complete(&published);
}

/// `jigdo pack --commit-archive`: the tar osbuild-composer makes (an archive-mode
/// `repo/` and `compose.json`) packs to a jigdo RPM of the same commit and index as
/// packing from the repository.
#[test]
fn pack_from_a_commit_archive_equals_pack_from_the_repository() {
    let w = world();
    let top = fresh("commit-archive");
    let stage = top.join("stage");
    std::fs::create_dir_all(&stage).expect("mkdir");
    run(ostree(&stage.join("repo")).args(["init", "--mode=archive"]));
    run(ostree(&stage.join("repo"))
        .arg("pull-local")
        .arg(&w.compose)
        .arg(&w.commit));
    std::fs::write(
        stage.join("compose.json"),
        format!(
            "{{\"ref\": \"{REF}\", \"ostree-commit\": \"{}\"}}\n",
            w.commit
        ),
    )
    .expect("compose.json");
    let tar = top.join("commit.tar");
    run(Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(&stage)
        .args(["repo", "compose.json"]));
    let out = top.join("out");
    let printed = run(jigdo()
        .args(["pack", "--commit-archive"])
        .arg(&tar)
        .args(["--rev", &w.commit, "--from"])
        .arg(&w.pkgs)
        .arg("--output")
        .arg(&out)
        .args(["--name", "example-os"]));
    let from_tar = PathBuf::from(printed.trim());
    let info = run(jigdo().arg("info").arg(&from_tar));
    assert!(info.contains(&w.commit), "{info}");
    // It rebuilds the very commit.
    let repo = top.join("repo");
    let out = unpack(&from_tar, &w.pkgs, &repo, REF);
    assert_eq!(ok(&out).trim(), w.commit);
    assert_fsck_clean(&repo);
}

/// `jigdo install --cache DIR` keeps the verified packages: a second install into a new
/// repository succeeds from the cache after the mirror lost its packages, and fails
/// without it.
#[test]
fn install_cache_serves_packages_the_mirror_no_longer_has() {
    let w = world();
    let top = fresh("cache");
    let served = top.join("served");
    copy_pins_and_jigdo(&served);
    run(jigdo().args(["repo", "create"]).arg(&served));
    let cache = top.join("cache");
    let cache_arg = cache.to_string_lossy().into_owned();
    let out = install(&served, &top.join("repo1"), &["--cache", &cache_arg]);
    assert_eq!(ok(&out).trim(), w.commit);
    for n in rpm_names(&w.pkgs) {
        std::fs::remove_file(served.join(&n)).expect("rm");
    }
    let out = install(&served, &top.join("repo2"), &[]);
    failed(&out);
    let out = install(&served, &top.join("repo3"), &["--cache", &cache_arg]);
    assert_eq!(ok(&out).trim(), w.commit);
    assert_fsck_clean(&top.join("repo3"));
}

/// `jigdo fsck`: exit 0 and `"clean": true` on a good repository; after one content
/// object is corrupted, a non-zero exit and a JSON report that names that object and the
/// path it serves.
#[test]
fn fsck_exit_codes_and_json_name_the_corrupt_object() {
    let w = world();
    let top = fresh("fsck");
    let repo = top.join("repo");
    run(ostree(&repo).args(["init", "--mode=archive"]));
    // By ref, so that `jigdo fsck` without a REV (every ref) checks it too.
    run(ostree(&repo).arg("pull-local").arg(&w.compose).arg(REF));
    let json = run(jigdo()
        .args(["fsck", "--repo"])
        .arg(&repo)
        .arg(&w.commit)
        .arg("--json"));
    assert!(json.contains("\"clean\": true"), "{json}");
    // The object of /usr/bin/jt-hostile, overwritten with the bytes of another object.
    let object_of = |path: &str| {
        let listing = run(ostree(&repo).args(["ls", "-C", &w.commit, path]));
        let checksum = listing
            .split_whitespace()
            .find(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
            .unwrap_or_else(|| panic!("no checksum in {listing}"))
            .to_string();
        let file = repo
            .join("objects")
            .join(&checksum[..2])
            .join(format!("{}.filez", &checksum[2..]));
        (checksum, file)
    };
    let (checksum, object) = object_of("/usr/bin/jt-hostile");
    let (_, other) = object_of("/usr/share/jt-hostile/a");
    std::fs::remove_file(&object).expect("rm");
    std::fs::copy(&other, &object).expect("corrupt the object");
    let out = run_raw(
        jigdo()
            .args(["fsck", "--repo"])
            .arg(&repo)
            .arg(&w.commit)
            .arg("--json"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(json.contains("\"clean\": false"), "{json}");
    assert!(json.contains(&checksum), "{json}");
    assert!(json.contains("jt-hostile"), "{json}");
    let out = run_raw(jigdo().args(["fsck", "--repo"]).arg(&repo));
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&checksum) && text.contains("/usr/bin/jt-hostile"),
        "{text}"
    );
}

/// The SHA-256 of a file, lower-case hex (by the real `sha256sum`).
fn sha256_hex(path: &Path) -> String {
    let out = run(Command::new("sha256sum").arg(path));
    out.split_whitespace().next().expect("digest").to_string()
}

/// A source that lists a pinned package's NEVRA with another SHA-256 (another build of
/// the same name, version and release) is named in the error with the NEVRA, the SHA-256
/// it lists and the one the jigdo RPM pins, for `install` and for `mirror`; nothing is
/// reported as "not listed by any source".
#[test]
fn a_pin_listed_with_another_sha256_names_the_source_and_both_digests() {
    let top = fresh("other-build");
    let served = top.join("served");
    copy_pins_and_jigdo(&served);
    let pinned = served.join("jt-other-2.0-1.noarch.rpm");
    let pinned_sha = sha256_hex(&pinned);
    std::fs::remove_file(&pinned).expect("rm");
    // Another build of jt-other-2.0-1.noarch: same NEVRA, other bytes.
    let rebuilt = build_rpm(
        &served,
        &TestPackage::new(
            "jt-other",
            "2.0",
            "noarch",
            vec![TestFile::regular(
                "/usr/share/jt-other/data",
                pseudo_random(99, 20_000),
                0o644,
            )],
        ),
    );
    assert_eq!(rebuilt, pinned);
    let listed_sha = sha256_hex(&rebuilt);
    assert_ne!(listed_sha, pinned_sha);
    run(jigdo().args(["repo", "create"]).arg(&served));
    let source = served.to_string_lossy().into_owned();

    let out = install(&served, &top.join("repo"), &[]);
    let err = failed(&out);
    for (what, needle) in [
        ("the source", source.as_str()),
        ("the NEVRA", "jt-other-2.0-1.noarch"),
        ("the SHA-256 listed", listed_sha.as_str()),
        ("the SHA-256 pinned", pinned_sha.as_str()),
    ] {
        assert!(err.contains(needle), "does not name {what}: {err}");
    }
    assert!(!err.contains("not listed by any source"), "{err}");

    let out = run_raw(
        jigdo()
            .args(["mirror", "example-os", "--from"])
            .arg(&served)
            .arg("--to")
            .arg(top.join("to"))
            .args(unsigned_ok()),
    );
    let err = failed(&out);
    assert!(
        err.contains(&listed_sha) && err.contains(&pinned_sha) && err.contains(&source),
        "{err}"
    );
}

/// The file entry of the tree path `path` (`usr/bin/x`) in `index`.
fn file_entry<'a>(index: &'a mut Index, path: &str) -> &'a mut jigdo_format::FileEntry {
    let (dirs, name) = path.rsplit_once('/').expect("a path with a directory");
    let mut dir = &mut index.root;
    for part in dirs.split('/') {
        dir = &mut dir
            .dirs
            .iter_mut()
            .find(|(n, _)| n == part)
            .unwrap_or_else(|| panic!("no directory {part} in {path}"))
            .1;
    }
    dir.files
        .iter_mut()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no file {path}"))
}

/// The lie: `usr/share/jt-hostile/a` is said to be the bytes of `/usr/share/jt-hostile/b`
/// of the (correctly pinned) package jt-hostile.
fn lie_about_a(index: &mut Index) {
    let p = index
        .packages
        .iter()
        .position(|p| p.name == "jt-hostile")
        .expect("pin") as u32;
    file_entry(index, "usr/share/jt-hostile/a").source = jigdo_format::Source::Package {
        package: p,
        path: Some("/usr/share/jt-hostile/b".into()),
    };
}

/// The content object checksum of `path` in `commit` of `repo` (by the real ostree).
fn object_at(repo: &Path, commit: &str, path: &str) -> String {
    let listing = run(ostree(repo).args(["ls", "-C", commit, path]));
    listing
        .split_whitespace()
        .find(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no checksum in {listing}"))
        .to_string()
}

/// A lying index (issue 11 §4): a jigdo RPM whose index says a file's bytes are those of
/// another file of a correctly pinned package. `unpack` and `install` fail with an error
/// that names the commit and the jigdo RPM and says what to do, set no ref, and leave
/// nothing half-written (a rerun with the honest jigdo RPM completes). When the
/// repository holds the commit's directory listings (here: another commit of the same
/// tree), the error names the file, the object the commit has there, the one rebuilt,
/// and the package it was made from.
#[test]
fn a_lying_index_names_the_file_and_package_and_leaves_nothing_half_written() {
    let w = world();
    let top = fresh("lying-index");
    let lying = craft(&top.join("lying"), lie_about_a);
    let jigdo_name = lying
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let assert_clear = |err: &str| {
        assert!(err.contains(&w.commit), "does not name the commit: {err}");
        assert!(
            err.contains(&jigdo_name),
            "does not name the jigdo RPM: {err}"
        );
        assert!(err.contains("no ref was set"), "{err}");
        assert!(err.contains("publisher"), "does not say what to do: {err}");
    };

    // unpack, fresh repository.
    let repo = top.join("repo");
    let err = failed(&unpack(&lying, &w.pkgs, &repo, REF));
    assert_clear(&err);
    assert_eq!(refs_state(&repo), Vec::new());
    let out = unpack(&w.jigdo, &w.pkgs, &repo, REF);
    assert_eq!(ok(&out).trim(), w.commit);
    assert_fsck_clean(&repo);

    // install from a repository serving the lying jigdo RPM; then the honest one.
    let served = top.join("served");
    copy_files(&w.pkgs, &served);
    std::fs::copy(&lying, served.join(&jigdo_name)).expect("copy");
    run(jigdo().args(["repo", "create"]).arg(&served));
    let irepo = top.join("irepo");
    let err = failed(&install(&served, &irepo, &[]));
    assert_clear(&err);
    assert_eq!(refs_state(&irepo), Vec::new());
    std::fs::copy(&w.jigdo, served.join(&jigdo_name)).expect("copy");
    run(jigdo().args(["repo", "create"]).arg(&served));
    let out = install(&served, &irepo, &[]);
    assert_eq!(ok(&out).trim(), w.commit);
    assert_fsck_clean(&irepo);

    // Another commit of the same tree, whose listings `repo` holds: the file is named.
    let commit2 = run(ostree(&w.compose)
        .args(["commit", "--branch", "hostile/again", "--subject", "again"])
        .arg(format!("--tree=ref={}", w.commit)))
    .trim()
    .to_string();
    assert_ne!(commit2, w.commit);
    let printed = run(jigdo()
        .args(["pack", "--repo"])
        .arg(&w.compose)
        .args(["--rev", &commit2, "--from"])
        .arg(&w.pkgs)
        .arg("--output")
        .arg(top.join("again"))
        .args(["--name", "example-os", "--release", "2"]));
    let lying2 = craft_from(
        Path::new(printed.trim()),
        &commit2,
        &top.join("lying2"),
        lie_about_a,
    );
    let out = unpack(&lying2, &w.pkgs, &repo, "hostile/again");
    let err = failed(&out);
    let expected = object_at(&w.compose, &w.commit, "/usr/share/jt-hostile/a");
    let rebuilt = object_at(&w.compose, &w.commit, "/usr/share/jt-hostile/b");
    for (what, needle) in [
        ("the file", "usr/share/jt-hostile/a"),
        ("the package", "jt-hostile-1.0-1.noarch"),
        ("the file in the package", "/usr/share/jt-hostile/b"),
        ("the object the commit has", expected.as_str()),
        ("the object rebuilt", rebuilt.as_str()),
    ] {
        assert!(err.contains(needle), "does not name {what}: {err}");
    }
    // The commit object is complete by objects the repository held: not called partial.
    assert!(
        err.contains("no ref was set") && !err.contains("stays partial"),
        "{err}"
    );
    assert_eq!(refs_state(&repo), vec![(REF.to_string(), w.commit.clone())]);
}

/// A jigdo RPM whose index gives one of its blobs another SHA-256 (the RPM's own digests
/// are right: the index lies). The blobs are checked as the unpack writes them into its
/// transaction's staging, alongside the package imports: the unpack fails naming the
/// jigdo RPM and the blob, sets no ref, leaves the commit partial and not one content
/// object in the repository (what it staged, the blob's object among it, never became
/// visible), and the honest jigdo RPM then unpacks into the same repository.
#[test]
fn a_blob_that_fails_its_check_leaves_no_object_and_no_ref() {
    let w = world();
    let top = fresh("lying-blob");
    let lying = craft(&top.join("lying"), |index| {
        let sha = index
            .new_contents
            .iter_mut()
            .find_map(|c| match c {
                jigdo_format::NewContent::Blob { sha256, .. } => Some(sha256),
                _ => None,
            })
            .expect("the example tree has new-content blobs");
        sha[0] ^= 0xff;
    });
    let repo = top.join("repo");
    let err = failed(&unpack(&lying, &w.pkgs, &repo, REF));
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.contains("does not match the index")
            && last.contains(&*lying.file_name().expect("name").to_string_lossy()),
        "{err}"
    );
    assert_eq!(refs_state(&repo), Vec::new());
    if repo.join("config").exists() {
        let objects: Vec<PathBuf> = files_under(&repo.join("objects"))
            .into_iter()
            .filter(|p| {
                p.extension()
                    .is_none_or(|e| e != "commit" && e != "commitmeta")
            })
            .collect();
        assert!(objects.is_empty(), "visible after the failure: {objects:?}");
        assert!(repo
            .join(format!("state/{}.commitpartial", w.commit))
            .exists());
    }
    let out = unpack(&w.jigdo, &w.pkgs, &repo, REF);
    assert_eq!(ok(&out).trim(), w.commit);
    assert_fsck_clean(&repo);
}
