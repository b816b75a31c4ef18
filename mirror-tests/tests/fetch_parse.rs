//! The download layer's parsers against real-world mirrorlists, MirrorManager
//! metalinks (good and deliberately broken) and dnf `.repo` files from
//! ../shared/fixtures/real-world.

use std::path::{Path, PathBuf};

use repo_fetch::{mirrors_from_metalink, parse_mirrorlist, Metalink, RepoFile, Source, Vars};

fn fixtures() -> PathBuf {
    dev_support::real_world_fixtures()
}

fn mirrors_dir() -> PathBuf {
    fixtures().join("mirrors/librepo")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A librepo mock-server file with its port placeholder filled in.
fn read_mock(p: &Path) -> Vec<u8> {
    String::from_utf8(read(p))
        .unwrap()
        .replace("{PORT_PLACEHOLDER}", "8080")
        .into_bytes()
}

#[test]
fn real_metalink_fedora17_preference_order_and_checks() {
    let p = mirrors_dir().join("test_data/metalinks/metalink_good_01");
    let data = read(&p);
    let ml = Metalink::parse(&data).unwrap();
    let f = ml.file("repomd.xml").expect("repomd.xml entry");
    assert_eq!(f.urls.len(), 106);
    assert_eq!(f.current.size, Some(4309));
    assert_eq!(f.current.timestamp, Some(1337942396));
    assert_eq!(f.current.hashes.len(), 4);
    assert_eq!(
        f.current.strongest_hash().map(|c| c.kind.name()),
        Some("sha512")
    );
    let prefs: Vec<u32> = f
        .urls_by_preference()
        .iter()
        .map(|u| u.preference.unwrap())
        .collect();
    assert!(prefs.windows(2).all(|w| w[0] >= w[1]), "{prefs:?}");
    assert_eq!(prefs[0], 99);

    let set = mirrors_from_metalink("fixture", &data, &Vars::new()).unwrap();
    // Only http/https mirrors are usable (ftp and rsync are skipped).
    let http = f
        .urls
        .iter()
        .filter(|u| u.url.starts_with("http://") || u.url.starts_with("https://"))
        .count();
    assert_eq!(set.mirrors().len(), http);
    assert_eq!(
        set.mirrors()[0].as_str(),
        "http://mirror.pnl.gov/fedora/linux/releases/17/Everything/x86_64/os/"
    );
    assert!(set
        .mirrors()
        .iter()
        .all(|m| m.path().ends_with("/os/") && m.scheme() == "http"));
    let check = set.repomd_check().expect("metalink checks kept");
    assert!(check.check(b"not the repomd").is_err());
}

#[test]
fn real_metalink_with_alternates() {
    let data = read(&mirrors_dir().join("test_data/metalinks/metalink_with_alternates"));
    let ml = Metalink::parse(&data).unwrap();
    let f = ml.file("repomd.xml").unwrap();
    assert_eq!(f.alternates.len(), 1);
    assert_eq!(f.alternates[0].size, Some(4761));
    assert_eq!(f.alternates[0].hashes.len(), 4);
    assert_eq!(f.current.timestamp, Some(1381706941));
}

#[test]
fn servermock_metalink_matches_librepo_repo_yum_01() {
    // The metalink beside repo_yum_01 describes that repo's repomd.xml.
    let repo = fixtures().join("repodata/librepo/repo_yum_01");
    let data = read(&repo.join("metalink.xml"));
    let repomd = read(&repo.join("repodata/repomd.xml"));
    let ml = Metalink::parse(&data).unwrap();
    let f = ml.file("repomd.xml").unwrap();
    f.check(&repomd)
        .expect("metalink checksums match repomd.xml");
    let mut bad = repomd.clone();
    bad[100] ^= 1;
    assert!(f.check(&bad).is_err());
    // Alternates: the current hashes are "bad", one alternate is right.
    let alt = read(&mirrors_dir().join("servermock/metalink/metalink_with_alternates.xml"));
    let f = Metalink::parse(&alt).unwrap().files.remove(0);
    f.check(&repomd).expect("alternate matches");
    // badchecksum.xml: the sha1 is wrong.
    let badsum = read(&mirrors_dir().join("servermock/metalink/badchecksum.xml"));
    let f = Metalink::parse(&badsum).unwrap().files.remove(0);
    let e = f.check(&repomd).unwrap_err().to_string();
    assert!(e.contains("mismatch") || e.contains("hash"), "{e}");
}

#[test]
fn broken_metalinks() {
    let d = mirrors_dir().join("test_data/metalinks");
    // Bad numbers and hash types are skipped, not fatal.
    let ml = Metalink::parse(&read(&d.join("metalink_bad_01"))).unwrap();
    let f = ml.file("repomd.xml").unwrap();
    assert_eq!(f.current.size, None);
    assert_eq!(f.current.timestamp, None);
    assert_eq!(f.urls.len(), 3, "the empty <url /> is skipped");
    assert!(f.urls.iter().all(|u| u.preference.is_none()));
    assert_eq!(f.current.hashes.len(), 3, "the empty foo hash is skipped");
    // http URL is usable.
    let set =
        mirrors_from_metalink("bad_01", &read(&d.join("metalink_bad_01")), &Vars::new()).unwrap();
    assert_eq!(set.mirrors().len(), 1);

    // URLs outside <resources>: parsed, but no mirror.
    let data = read(&d.join("metalink_bad_02"));
    let ml = Metalink::parse(&data).unwrap();
    assert!(ml.file("repomd.xml").unwrap().urls.is_empty());
    let e = mirrors_from_metalink("bad_02", &data, &Vars::new()).unwrap_err();
    assert!(e.to_string().contains("bad_02"), "{e}");

    // No repomd.xml entry / truncated XML / no files / no resources.
    for (name, want) in [
        ("metalink_really_bad_01", "no entry for repomd.xml"),
        ("metalink_really_bad_02", "metalink"),
        ("metalink_really_bad_03", "no entry for repomd.xml"),
        ("metalink_good_03", "no usable"),
    ] {
        let e = mirrors_from_metalink(name, &read(&d.join(name)), &Vars::new())
            .unwrap_err()
            .to_string();
        assert!(e.contains(name) && e.contains(want), "{name}: {e}");
    }
    assert!(Metalink::parse(&read(&d.join("metalink_really_bad_02"))).is_err());

    // Several files: the repomd.xml one is picked.
    let data = read(&d.join("metalink_good_02"));
    let set = mirrors_from_metalink("good_02", &data, &Vars::new()).unwrap();
    assert_eq!(
        set.mirrors()[0].as_str(),
        "http://mirrors.syringanetworks.net/fedora/releases/17/Everything/x86_64/os/"
    );
    assert_eq!(set.mirrors().len(), 2);
    assert!(set.repomd_check().is_none(), "no hashes or size to check");

    // servermock: a bad file name, and a first host that is not an address.
    let s = mirrors_dir().join("servermock/metalink");
    assert!(
        mirrors_from_metalink("x", &read_mock(&s.join("badfilename.xml")), &Vars::new()).is_err()
    );
    let set =
        mirrors_from_metalink("x", &read_mock(&s.join("badfirsthost.xml")), &Vars::new()).unwrap();
    assert_eq!(
        set.mirrors().len(),
        1,
        "http://256.0.0.1/ is not a valid URL"
    );
    let e = mirrors_from_metalink("nourls", &read_mock(&s.join("nourls.xml")), &Vars::new());
    assert!(e.is_err());
    // Variable substitution in metalink URLs.
    let set = mirrors_from_metalink(
        "x",
        &read_mock(&s.join("varsub.xml")),
        &Vars::new().with("version", "01"),
    )
    .unwrap();
    assert!(
        set.mirrors()[0].path().ends_with("/yum/static/01/"),
        "{:?}",
        set.mirrors()
    );
}

#[test]
fn real_mirrorlists() {
    let d = mirrors_dir();
    let t = String::from_utf8(read(&d.join("test_data/mirrorlists/mirrorlist_01"))).unwrap();
    assert_eq!(
        parse_mirrorlist(&t),
        [
            "http://foo.bar/fedora/linux/",
            "ftp://ftp.bar.foo/Fedora/17/"
        ]
    );
    for empty in ["mirrorlist_02", "mirrorlist_03"] {
        let t = String::from_utf8(read(&d.join("test_data/mirrorlists").join(empty))).unwrap();
        assert!(parse_mirrorlist(&t).is_empty(), "{empty}");
    }
    let t = String::from_utf8(read(&d.join("test_data/mirrorlist"))).unwrap();
    assert_eq!(
        parse_mirrorlist(&t),
        ["http://127.0.0.1:5000/yum/static/01/"]
    );
    let t = String::from_utf8(read(&d.join("servermock/mirrorlist/nourls"))).unwrap();
    assert!(parse_mirrorlist(&t).is_empty());
    let t = String::from_utf8(read(&d.join("servermock/mirrorlist/badfirsturl"))).unwrap();
    assert_eq!(parse_mirrorlist(&t).len(), 2);
}

#[test]
fn real_repo_files() {
    let d = fixtures().join("repodata/librepo/repo-files");
    let vars = Vars::new()
        .with("basearch", "x86_64")
        .with("releasever", "17");
    let big = RepoFile::load(&d.join("repo-big.repo"), &vars).unwrap();
    assert_eq!(big.len(), 1);
    let r = &big[0];
    assert_eq!(r.id, "big-repo");
    assert_eq!(r.name.as_deref(), Some("Maxi repo - x86_64"));
    assert_eq!(
        r.baseurls,
        [
            "http://foo1.org/pub/linux/17/x86_64/os/",
            "ftp://ftp.foo2/pub/linux/17/x86_64/os/",
            "https://foo3.org/pub/linux/"
        ]
    );
    assert_eq!(r.mirrorlist.as_deref(), Some("http://foo1.org/mirrorlist"));
    assert_eq!(
        r.metalink.as_deref(),
        Some("https://foo1.org/metalink?repo=linux-17&arch=x86_64")
    );
    assert!(r.enabled && r.gpgcheck && r.repo_gpgcheck && r.sslverify);
    assert_eq!(r.gpgkeys.len(), 2);
    assert_eq!(r.sslcacert.as_deref(), Some(Path::new("/etc/ssl.cert")));
    assert_eq!(r.proxy.as_deref(), Some("socks5://127.0.0.1:5000"));
    assert!(r.skip_if_unavailable);
    assert_eq!((r.priority, r.cost), (10, 500));
    // ftp is not a supported scheme: two usable base URLs.
    assert_eq!(r.base_mirrors().mirrors().len(), 2);

    let min = RepoFile::load_dir(&d, &vars).unwrap();
    let ids: Vec<&str> = min.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["big-repo", "minimal-repo-1", "minimal-repo-2"]);
    assert_eq!(min[1].baseurls, ["http://m1.com/linux/x86_64"]);
    assert!(min[1].enabled && !min[1].gpgcheck);

    // libdnf's repo with a custom variable pointing at a local repository.
    let libdnf = fixtures().join("repodata/libdnf");
    let vars = Vars::new().with("testdatadir", libdnf.to_str().unwrap());
    let r = RepoFile::load(&libdnf.join("gpg-asc/yum.repos.d/gpg-repo-asc.repo"), &vars).unwrap();
    assert_eq!(r.len(), 1);
    assert!(r[0].repo_gpgcheck);
    let set = r[0].base_mirrors();
    assert_eq!(set.mirrors()[0].scheme(), "file");
    assert!(set.mirrors()[0]
        .to_file_path()
        .unwrap()
        .join("repodata/repomd.xml")
        .is_file());
}

#[test]
fn sources_of_every_kind() {
    let repo = fixtures().join("repodata/librepo/repo_yum_01");
    assert!(matches!(
        Source::parse(repo.to_str().unwrap()).unwrap(),
        Source::LocalRepo(_)
    ));
    let rpms = fixtures().join("rpm/rpm.org");
    assert!(matches!(
        Source::parse(rpms.to_str().unwrap()).unwrap(),
        Source::RpmDir(_)
    ));
    assert!(matches!(
        Source::parse("file:///srv/repo").unwrap(),
        Source::BaseUrl(_)
    ));
    assert!(matches!(
        Source::parse("metalink=https://mirrors.example/metalink?repo=fedora-40&arch=x86_64")
            .unwrap(),
        Source::Metalink(_)
    ));
    let e = Source::parse("rsync://x/y").unwrap_err().to_string();
    assert!(e.contains("rsync://x/y") && e.contains("scheme"), "{e}");
}
