//! `jigdo repo create|prune` end to end, with Debian's dnf 4.14 as the client:
//! repoquery sees every package with the right NEVRA and requires, `dnf download`
//! fetches them byte for byte, `dnf download --resolve` resolves through our
//! metadata; prune keeps exactly the newest jigdo RPMs and what they pin.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use mirror_tests::{dnf, jigdo_command, require_tool, run, run_raw};

jigdo_command!();

const SPECS: &[(&str, &str)] = &[
    (
        "app",
        "Name: app\nVersion: 1.0\nRelease: 1\nSummary: app\nLicense: MIT\nBuildArch: noarch\n\
         Requires: libthing >= 1.5\nRequires: /bin/sh\n%description\napp\n%install\n\
         mkdir -p %{buildroot}/usr/bin\nprintf app > %{buildroot}/usr/bin/app\n%files\n/usr/bin/app\n",
    ),
    (
        "libthing1",
        "Name: libthing\nVersion: 1.0\nRelease: 1\nSummary: old\nLicense: MIT\n%description\nl\n\
         %install\nmkdir -p %{buildroot}/usr/lib\nprintf 1 > %{buildroot}/usr/lib/libthing\n%files\n/usr/lib/libthing\n",
    ),
    (
        "libthing2",
        "Name: libthing\nEpoch: 1\nVersion: 2.0\nRelease: 1\nSummary: new\nLicense: MIT\n%description\nl\n\
         %install\nmkdir -p %{buildroot}/usr/lib\nprintf 2 > %{buildroot}/usr/lib/libthing\n%files\n/usr/lib/libthing\n",
    ),
    (
        "shell",
        "Name: shell\nVersion: 5\nRelease: 1\nSummary: sh\nLicense: MIT\nBuildArch: noarch\n\
         Provides: /bin/sh\n%description\nsh\n%files\n",
    ),
];

fn rpmbuild(specs: &[(&str, String)], out: &Path) {
    require_tool("rpmbuild");
    let work = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("rpmbuild");
    cmd.args(["-bb", "--quiet"])
        .arg("--define")
        .arg(format!("_topdir {}", work.path().display()))
        .arg("--define")
        .arg(format!("_rpmdir {}", out.display()))
        .arg("--define")
        .arg("__os_install_post %{nil}")
        .arg("--define")
        .arg("_build_id_links none");
    for (name, text) in specs {
        let p = work.path().join(format!("{name}.spec"));
        std::fs::write(&p, text).unwrap();
        cmd.arg(p);
    }
    run(&mut cmd);
}

fn rpms(dir: &Path) -> Vec<PathBuf> {
    mirror_tests::files_under(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
        .collect()
}

fn rpm_q(path: &Path, fmt: &str) -> String {
    run(Command::new("rpm")
        .args(["-qp", "--nosignature", "--nodigest", "--qf", fmt])
        .arg(path))
}

fn sha256(path: &Path) -> String {
    run(Command::new("sha256sum").arg(path))
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn dnf_reads_what_jigdo_repo_create_publishes() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let specs: Vec<(&str, String)> = SPECS.iter().map(|(n, t)| (*n, t.to_string())).collect();
    rpmbuild(&specs, &repo);
    run(jigdo().args(["repo", "create"]).arg(&repo));
    let zst = std::fs::read_to_string(repo.join("repodata/repomd.xml")).unwrap();
    assert!(
        zst.contains("-primary.xml.zst\""),
        "default compression is zstd:\n{zst}"
    );

    for (i, compress) in ["zstd", "gz", "xz"].iter().enumerate() {
        if i > 0 {
            run(jigdo()
                .args(["repo", "create", "--update", "--compress", compress])
                .arg(&repo));
        }
        let dnf_tmp = tmp.path().join(format!("dnf-{compress}"));
        std::fs::create_dir_all(&dnf_tmp).unwrap();
        // Every package with the NEVRA rpm itself reads from the file.
        let want: BTreeSet<String> = rpms(&repo)
            .iter()
            .map(|p| rpm_q(p, "%{NAME}-%{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}"))
            .collect();
        let got: BTreeSet<String> = run(dnf(&dnf_tmp, &repo).args([
            "repoquery",
            "--qf",
            "%{name}-%{epoch}:%{version}-%{release}.%{arch}",
        ]))
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
        assert_eq!(got, want, "{compress}");
        // Requires as rpm lists them (minus rpmlib()).
        let req: BTreeSet<String> =
            run(dnf(&dnf_tmp, &repo).args(["repoquery", "--requires", "app"]))
                .lines()
                .map(str::to_string)
                .collect();
        assert_eq!(
            req,
            ["/bin/sh", "libthing >= 1.5"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            "{compress}"
        );
        // The newest libthing by rpm's order (epoch 1 wins).
        let newest = run(dnf(&dnf_tmp, &repo).args([
            "repoquery",
            "--latest-limit=1",
            "--qf",
            "%{epoch}:%{version}",
            "libthing",
        ]));
        assert_eq!(newest.trim(), "1:2.0", "{compress}");
    }

    // dnf download fetches every package byte for byte.
    let dnf_tmp = tmp.path().join("dnf-dl");
    std::fs::create_dir_all(&dnf_tmp).unwrap();
    let dest = tmp.path().join("downloads");
    run(dnf(&dnf_tmp, &repo)
        .args(["download", "--destdir"])
        .arg(&dest)
        .args(["app", "shell", "libthing-1.0-1"]));
    let got = rpms(&dest);
    assert_eq!(got.len(), 3, "{got:?}");
    for g in &got {
        let orig = rpms(&repo)
            .into_iter()
            .find(|p| p.file_name() == g.file_name())
            .unwrap();
        assert_eq!(sha256(g), sha256(&orig), "{}", g.display());
    }

    // --resolve pulls the dependencies through our metadata.
    let dest = tmp.path().join("resolved");
    run(dnf(&dnf_tmp, &repo)
        .args(["download", "--resolve", "--destdir"])
        .arg(&dest)
        .arg("app"));
    let names: BTreeSet<String> = rpms(&dest)
        .iter()
        .map(|p| rpm_q(p, "%{NAME}-%{EPOCHNUM}:%{VERSION}"))
        .collect();
    assert!(names.contains("app-0:1.0"), "{names:?}");
    assert!(names.contains("libthing-1:2.0"), "{names:?}");
    assert!(names.contains("shell-0:5"), "{names:?}");
}

#[test]
fn prune_keeps_the_newest_jigdo_rpms_and_what_they_pin() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let arch = run(Command::new("rpm").args(["--eval", "%{_arch}"]))
        .trim()
        .to_string();
    let mut specs: Vec<(&str, String)> = SPECS.iter().map(|(n, t)| (*n, t.to_string())).collect();
    // Three versions of one jigdo RPM, each pinning a different package set.
    let jigdo_spec = |v: u32, pins: &str| {
        format!(
            "Name: os-jigdo\nVersion: {v}\nRelease: 1\nSummary: j\nLicense: MIT\nBuildArch: noarch\n\
             Provides: ostree-jigdo(v1)\n{pins}%description\nj\n%files\n"
        )
    };
    specs.push((
        "j1",
        jigdo_spec(1, &format!("Requires: libthing({arch}) = 0:1.0-1\n")),
    ));
    specs.push((
        "j2",
        jigdo_spec(
            2,
            &format!("Requires: libthing({arch}) = 1:2.0-1\nRequires: shell = 0:5-1\n"),
        ),
    ));
    specs.push((
        "j3",
        jigdo_spec(
            3,
            &format!("Requires: libthing({arch}) = 1:2.0-1\nRequires: app = 0:1.0-1\n"),
        ),
    ));
    rpmbuild(&specs, &repo);
    run(jigdo().args(["repo", "create"]).arg(&repo));
    let before = rpms(&repo);
    assert_eq!(before.len(), 7);

    // --dry-run reports and changes nothing.
    let out = run(jigdo()
        .args(["repo", "prune", "--keep", "2", "--dry-run", "--json"])
        .arg(&repo));
    let report = out.to_string();
    assert!(report.contains("os-jigdo-1-1.noarch"), "{report}");
    assert!(report.contains("libthing-1.0-1"), "{report}");
    assert_eq!(rpms(&repo), before);

    run(jigdo().args(["repo", "prune", "--keep", "2"]).arg(&repo));
    let names: BTreeSet<String> = rpms(&repo)
        .iter()
        .map(|p| rpm_q(p, "%{NAME}-%{EPOCHNUM}:%{VERSION}-%{RELEASE}"))
        .collect();
    let want: BTreeSet<String> = [
        "os-jigdo-0:2-1",
        "os-jigdo-0:3-1",
        "libthing-1:2.0-1",
        "shell-0:5-1",
        "app-0:1.0-1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(names, want);
    // The rewritten metadata lists exactly what is left, as dnf sees it.
    let dnf_tmp = tmp.path().join("dnf");
    std::fs::create_dir_all(&dnf_tmp).unwrap();
    let listed: BTreeSet<String> = run(dnf(&dnf_tmp, &repo).args([
        "repoquery",
        "--qf",
        "%{name}-%{epoch}:%{version}-%{release}",
    ]))
    .lines()
    .filter(|l| !l.is_empty())
    .map(str::to_string)
    .collect();
    assert_eq!(listed, want);

    // Errors are one line naming the problem.
    let out = run_raw(
        jigdo()
            .args(["repo", "prune", "--keep", "1"])
            .arg(tmp.path().join("nope")),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: ") && err.contains("nope"), "{err}");
}

/// A fake jigdo RPM of format version 2 naming `commit`.
fn jigdo_spec(name: &str, version: u32, commit: &str) -> (String, String) {
    (
        format!("{name}-{version}"),
        format!(
            "Name: {name}\nVersion: {version}\nRelease: 1\nSummary: j\nLicense: MIT\nBuildArch: noarch\n\
             Provides: ostree-jigdo(v2)\nProvides: ostree-jigdo-commit({commit})\n\
             Requires: app = 0:1.0-1\n%description\nj\n%files\n"
        ),
    )
}

/// The `jigdo` record of the repository at `dir` (repomd.xml checksums verified).
fn jigdo_record(dir: &Path) -> Vec<repodata::JigdoEntry> {
    let repo = repodata::LocalRepo::open(dir).unwrap();
    repo.verify_all().unwrap();
    let (path, stream) = repo.open_verified("jigdo").unwrap();
    repodata::jigdo_record::parse(stream, &path).unwrap()
}

#[test]
fn jigdo_record_lists_the_jigdo_rpms_and_standard_tools_keep_working() {
    require_tool("createrepo_c");
    require_tool("modifyrepo_c");
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let (c1, c2) = ("1a".repeat(32), "2b".repeat(32));
    let mut specs: Vec<(String, String)> = SPECS
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    specs.push(jigdo_spec("os-jigdo", 1, &c1));
    specs.push(jigdo_spec("os-jigdo", 2, &c2));
    let specs: Vec<(&str, String)> = specs.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
    rpmbuild(&specs, &repo);
    run(jigdo().args(["repo", "create"]).arg(&repo));

    // The record lists both jigdo RPMs and nothing else, each with what a client needs.
    let mut entries = jigdo_record(&repo);
    entries.sort_by(|a, b| a.version.cmp(&b.version));
    assert_eq!(entries.len(), 2, "{entries:?}");
    for (e, commit) in entries.iter().zip([&c1, &c2]) {
        assert_eq!(&e.commit, commit);
        let file = repo.join(&e.location);
        assert_eq!(e.sha256, sha256(&file));
        assert_eq!(e.size, std::fs::metadata(&file).unwrap().len());
        assert_eq!(
            format!(
                "{}-{}:{}-{}.{}",
                e.name, e.epoch, e.version, e.release, e.arch
            ),
            rpm_q(&file, "%{NAME}-%{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}")
        );
        assert_eq!(
            e.timestamp.to_string(),
            rpm_q(&file, "%{BUILDTIME}"),
            "{}",
            e.nevra()
        );
    }

    // dnf reads the repository with the extra record: repoquery, makecache, and
    // reposync --download-metadata (which copies the record too).
    let dnf_tmp = tmp.path().join("dnf");
    std::fs::create_dir_all(&dnf_tmp).unwrap();
    let listed = run(dnf(&dnf_tmp, &repo).args(["repoquery", "--qf", "%{name}-%{version}"]));
    assert!(listed.contains("os-jigdo-2"), "{listed}");
    assert!(listed.contains("app-1.0"), "{listed}");
    run(dnf(&dnf_tmp, &repo).arg("makecache"));
    let synced = tmp.path().join("synced");
    run(dnf(&dnf_tmp, &repo)
        .args(["reposync", "--download-metadata", "--download-path"])
        .arg(&synced));
    let synced_repo = synced.join("t");
    assert_eq!(jigdo_record(&synced_repo), jigdo_record(&repo));

    // createrepo_c --update on our repository keeps working and dnf still reads it.
    run(Command::new("createrepo_c")
        .args(["--update", "--quiet", "--no-database"])
        .arg(&repo));
    repodata::LocalRepo::open(&repo)
        .unwrap()
        .verify_all()
        .unwrap();
    let dnf_tmp2 = tmp.path().join("dnf2");
    std::fs::create_dir_all(&dnf_tmp2).unwrap();
    let listed = run(dnf(&dnf_tmp2, &repo).args(["repoquery", "--qf", "%{name}-%{version}"]));
    assert!(listed.contains("os-jigdo-2"), "{listed}");

    // A repository made by createrepo_c gets the same record through
    // `jigdo repo record` and modifyrepo_c.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    for f in rpms(&repo) {
        std::fs::copy(&f, other.join(f.file_name().unwrap())).unwrap();
    }
    run(Command::new("createrepo_c")
        .args(["--quiet", "--no-database"])
        .arg(&other));
    let file = tmp.path().join("jigdo.xml");
    run(jigdo()
        .args(["repo", "record"])
        .arg(&other)
        .arg("-o")
        .arg(&file));
    run(Command::new("modifyrepo_c")
        .args(["--mdtype=jigdo"])
        .arg(&file)
        .arg(other.join("repodata")));
    let mut theirs = jigdo_record(&other);
    theirs.sort_by(|a, b| a.version.cmp(&b.version));
    // Same packages and files; only where they sit differs (flat copy).
    let strip = |v: &[repodata::JigdoEntry]| -> Vec<(String, String, String, u64)> {
        v.iter()
            .map(|e| (e.nevra(), e.commit.clone(), e.sha256.clone(), e.size))
            .collect()
    };
    assert_eq!(strip(&theirs), strip(&entries));
    let dnf_tmp3 = tmp.path().join("dnf3");
    std::fs::create_dir_all(&dnf_tmp3).unwrap();
    run(dnf(&dnf_tmp3, &other).arg("makecache"));
}
