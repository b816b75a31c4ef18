//! Proxies from the environment and `.repo` files whose mirrors come from a
//! mirrorlist or a metalink, all on loopback. This file holds one test, so
//! setting the proxy variables cannot affect other tests (each test file is
//! its own process).

use std::time::Duration;

use mirror_tests::fault_server::FaultServer;
use repo_fetch::{
    hash_hex, BlockingFetcher, DigestAlgorithm, Downloader, Expect, FetchOptions, FetchRequest,
    MirrorSet, ProxyMode, RepoFile, Vars,
};

fn opts(proxy: ProxyMode, vars: Vars) -> FetchOptions {
    FetchOptions {
        connect_timeout: Duration::from_secs(2),
        stall_timeout: Duration::from_secs(2),
        retries: 0,
        proxy,
        vars,
        ..FetchOptions::default()
    }
}

#[test]
fn environment_proxy_and_repo_files_with_mirrorlist_and_metalink() {
    let served = tempfile::tempdir().unwrap();
    let body: Vec<u8> = (0..50_000u32).map(|i| (i * 13 % 241) as u8).collect();
    let pkg = served.path().join("f40/x86_64/Packages/a.rpm");
    std::fs::create_dir_all(pkg.parent().unwrap()).unwrap();
    std::fs::write(&pkg, &body).unwrap();
    let repomd = b"<repomd/>\n".to_vec();
    std::fs::create_dir_all(served.path().join("f40/x86_64/repodata")).unwrap();
    std::fs::write(
        served.path().join("f40/x86_64/repodata/repomd.xml"),
        &repomd,
    )
    .unwrap();
    let srv = FaultServer::start(served.path()).unwrap();
    let expect =
        Expect::sha256(body.len() as u64, &hash_hex(DigestAlgorithm::Sha256, &body)).unwrap();
    let out = tempfile::tempdir().unwrap();

    // 1. A mirror reachable only through the proxy from the environment
    //    (the host name is never resolved: the proxy is asked for it).
    // SAFETY (edition 2021: set_var is safe): this file's only test.
    std::env::set_var("http_proxy", srv.url());
    std::env::set_var("HTTP_PROXY", srv.url());
    std::env::remove_var("no_proxy");
    std::env::remove_var("NO_PROXY");
    let via_proxy = BlockingFetcher::new(opts(ProxyMode::Environment, Vars::new())).unwrap();
    let far = MirrorSet::from_urls("far", &["http://mirror.jigdo.invalid/f40/x86_64/"]).unwrap();
    let req = FetchRequest::new("Packages/a.rpm", expect.clone(), out.path().join("a.rpm"));
    via_proxy.fetch_file(&far, &req).unwrap();
    assert_eq!(std::fs::read(&req.dest).unwrap(), body);
    let log = srv.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(
        log[0].target, "http://mirror.jigdo.invalid/f40/x86_64/Packages/a.rpm",
        "absolute-form request: it went through the proxy"
    );
    std::env::remove_var("http_proxy");
    std::env::remove_var("HTTP_PROXY");
    srv.clear_log();

    // 2. .repo files with $releasever/$basearch, a mirrorlist and a metalink.
    std::fs::write(
        served.path().join("mirrorlist"),
        format!(
            "# mirrorlist\nhttp://127.0.0.1:1/nothing-listens/\n{}f$releasever/$basearch/\n",
            srv.url()
        ),
    )
    .unwrap();
    std::fs::write(
        served.path().join("metalink.xml"),
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" xmlns:mm0="http://fedorahosted.org/mirrormanager">
 <files><file name="repomd.xml"><size>{}</size>
  <verification><hash type="sha256">{}</hash></verification>
  <resources>
   <url protocol="http" preference="10">{}f$releasever/$basearch/repodata/repomd.xml</url>
   <url protocol="rsync" preference="100">rsync://127.0.0.1/x/repodata/repomd.xml</url>
  </resources></file></files></metalink>"#,
            repomd.len(),
            hash_hex(DigestAlgorithm::Sha256, &repomd),
            srv.url()
        ),
    )
    .unwrap();
    let repos_d = tempfile::tempdir().unwrap();
    std::fs::write(
        repos_d.path().join("a.repo"),
        format!(
            "[ml]\nname=by mirrorlist\nmirrorlist={u}mirrorlist\nenabled=1\n\n\
             [mm]\nname=by metalink\nmetalink={u}metalink.xml?repo=f$releasever&arch=$basearch\n\n\
             [off]\nbaseurl=http://127.0.0.1:1/\nenabled=0\n",
            u = srv.url()
        ),
    )
    .unwrap();
    let vars = Vars::new()
        .with("releasever", "40")
        .with("basearch", "x86_64");
    let repos = RepoFile::load_dir(repos_d.path(), &vars).unwrap();
    assert_eq!(repos.len(), 3);
    assert!(!repos[2].enabled);
    let f = BlockingFetcher::new(opts(ProxyMode::Direct, vars)).unwrap();

    let ml = f.resolve_repo(&repos[0]).unwrap();
    assert_eq!(ml.mirrors().len(), 2);
    assert_eq!(
        ml.mirrors()[1].as_str(),
        format!("{}f40/x86_64/", srv.url())
    );
    // The first mirror refuses connections: failover to the second.
    let req = FetchRequest::new("Packages/a.rpm", expect.clone(), out.path().join("b.rpm"));
    let rep = f.fetch_file(&ml, &req).unwrap();
    assert!(rep.url.unwrap().starts_with(&srv.url()));

    let mm = f.resolve_repo(&repos[1]).unwrap();
    assert_eq!(mm.mirrors().len(), 1, "rsync skipped");
    assert!(mm.repomd_check().is_some());
    assert_eq!(f.fetch_repomd(&mm).unwrap(), repomd);
    let asked: Vec<String> = srv.requests().into_iter().map(|r| r.target).collect();
    assert!(
        asked.contains(&"/metalink.xml?repo=f40&arch=x86_64".to_string()),
        "{asked:?}"
    );
    // The metalink's checksum is enforced: change repomd.xml on the mirror.
    std::fs::write(
        served.path().join("f40/x86_64/repodata/repomd.xml"),
        b"<repomd>changed</repomd>\n",
    )
    .unwrap();
    let e = f.fetch_repomd(&mm).unwrap_err().to_string();
    assert!(e.contains("repomd.xml") && e.contains(&srv.url()), "{e}");
}
