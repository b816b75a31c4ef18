//! The download layer against the fault-injecting loopback mirror: every
//! fault with and without a good second mirror, resume with Range, the
//! cache, parallelism and connection reuse. Loopback only; short timeouts.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mirror_tests::fault_server::{Fault, FaultServer, PathMatch};
use repo_fetch::{
    hash_hex, BlockingFetcher, Counters, DigestAlgorithm, Downloader, Expect, FetchError,
    FetchOptions, FetchRequest, MirrorSet, Origin, ProxyMode, Vars,
};

const SIZE: usize = 300_000;

use mirror_tests::pseudo_random as content;

/// A served directory with a few "packages".
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..8u64 {
            let p = dir.path().join(format!("Packages/p{i}-1.0-1.noarch.rpm"));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, content(i + 1, SIZE + i as usize * 1000)).unwrap();
        }
        Tree { dir }
    }

    fn rel(i: u64) -> String {
        format!("Packages/p{i}-1.0-1.noarch.rpm")
    }

    fn bytes(&self, i: u64) -> Vec<u8> {
        std::fs::read(self.dir.path().join(Tree::rel(i))).unwrap()
    }

    fn expect(&self, i: u64) -> Expect {
        let b = self.bytes(i);
        Expect::sha256(b.len() as u64, &hash_hex(DigestAlgorithm::Sha256, &b)).unwrap()
    }

    fn request(&self, i: u64, dest_dir: &Path) -> FetchRequest {
        FetchRequest::new(
            Tree::rel(i),
            self.expect(i),
            dest_dir.join(format!("p{i}.rpm")),
        )
        .with_label(format!("p{i}-1.0-1.noarch"))
    }
}

fn opts() -> FetchOptions {
    FetchOptions {
        parallel: 4,
        connect_timeout: Duration::from_secs(2),
        stall_timeout: Duration::from_millis(700),
        retries: 1,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        proxy: ProxyMode::Direct,
        vars: Vars::new(),
        ..FetchOptions::default()
    }
}

fn fetcher(o: FetchOptions) -> BlockingFetcher {
    BlockingFetcher::new(o).unwrap()
}

fn set(servers: &[&FaultServer]) -> MirrorSet {
    let urls: Vec<String> = servers.iter().map(|s| s.url()).collect();
    MirrorSet::from_urls("test mirrors", &urls).unwrap()
}

fn path_of(i: u64) -> String {
    format!("/{}", Tree::rel(i))
}

/// Every fault the issue lists, as it is injected on the bad mirror.
fn faults(good: &FaultServer) -> Vec<(&'static str, Fault)> {
    vec![
        ("404", Fault::Status(404)),
        ("500", Fault::Status(500)),
        ("reset", Fault::ResetMidBody { after: 100_000 }),
        ("truncated", Fault::Truncate { after: 50_000 }),
        ("wrong-bytes", Fault::WrongBytes),
        (
            "stall",
            Fault::Stall {
                after: 10_000,
                stall: Duration::from_secs(3),
            },
        ),
        (
            "redirect-to-missing",
            Fault::Redirect {
                status: 302,
                location: format!("{}nowhere/x.rpm", good.url()),
            },
        ),
    ]
}

#[test]
fn each_fault_with_a_good_second_mirror_succeeds() {
    let tree = Tree::new();
    let good = FaultServer::start(tree.dir.path()).unwrap();
    for (name, fault) in faults(&good) {
        let bad = FaultServer::start(tree.dir.path()).unwrap();
        bad.add_fault(PathMatch::Any, fault);
        let out = tempfile::tempdir().unwrap();
        let f = fetcher(opts());
        let req = tree.request(0, out.path());
        let rep = f
            .fetch_file(&set(&[&bad, &good]), &req)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(std::fs::read(&req.dest).unwrap(), tree.bytes(0), "{name}");
        assert_eq!(rep.origin, Origin::Network);
        assert!(
            rep.url.as_deref().unwrap().starts_with(&good.url()),
            "{name}: {rep:?}"
        );
        assert!(
            bad.request_count() >= 1,
            "{name}: bad mirror was asked first"
        );
        assert!(!out.path().join("p0.rpm.part").exists(), "{name}");
    }
}

#[test]
fn each_fault_without_a_good_mirror_fails_clearly_and_leaves_no_file() {
    let tree = Tree::new();
    let other = FaultServer::start(tree.dir.path()).unwrap();
    for (name, fault) in faults(&other) {
        let bad = FaultServer::start(tree.dir.path()).unwrap();
        bad.add_fault(PathMatch::Any, fault);
        let out = tempfile::tempdir().unwrap();
        let f = fetcher(FetchOptions {
            keep_partial: false,
            ..opts()
        });
        let req = tree.request(0, out.path());
        let err = f.fetch_file(&set(&[&bad]), &req).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, FetchError::AllMirrorsFailed { .. }),
            "{name}: {msg}"
        );
        assert!(
            msg.contains("p0-1.0-1.noarch"),
            "{name}: names the package: {msg}"
        );
        assert!(msg.contains(&Tree::rel(0)), "{name}: names the path: {msg}");
        assert!(msg.contains(&bad.url()), "{name}: names the mirror: {msg}");
        assert!(!req.dest.exists(), "{name}: nothing at the destination");
        let left: Vec<_> = std::fs::read_dir(out.path()).unwrap().collect();
        assert!(left.is_empty(), "{name}: no leftovers: {left:?}");
    }
}

#[test]
fn transient_faults_are_retried_on_the_same_mirror_with_backoff() {
    let tree = Tree::new();
    let srv = FaultServer::start(tree.dir.path()).unwrap();
    srv.add_fault_times(PathMatch::Exact(path_of(1)), Fault::Status(503), 2);
    let out = tempfile::tempdir().unwrap();
    let f = fetcher(FetchOptions {
        retries: 2,
        ..opts()
    });
    let rep = f
        .fetch_file(&set(&[&srv]), &tree.request(1, out.path()))
        .unwrap();
    assert_eq!(rep.attempts, 3);
    assert_eq!(srv.requests_for(&path_of(1)).len(), 3);
    // A 404 is not retried: the next mirror is asked at once.
    let srv2 = FaultServer::start(tree.dir.path()).unwrap();
    srv2.add_fault(PathMatch::Any, Fault::Status(404));
    let err = f
        .fetch_file(&set(&[&srv2]), &tree.request(2, out.path()))
        .unwrap_err();
    assert_eq!(srv2.request_count(), 1, "{err}");
    assert!(err.to_string().contains("HTTP status 404"), "{err}");
}

#[test]
fn interrupted_download_resumes_with_range() {
    let tree = Tree::new();
    for fault in [
        Fault::Truncate { after: 120_000 },
        Fault::ResetMidBody { after: 120_000 },
        Fault::Stall {
            after: 120_000,
            stall: Duration::from_secs(2),
        },
    ] {
        let srv = FaultServer::start(tree.dir.path()).unwrap();
        srv.add_fault_times(PathMatch::Exact(path_of(3)), fault.clone(), 1);
        let out = tempfile::tempdir().unwrap();
        let f = fetcher(opts());
        let rep = f
            .fetch_file(&set(&[&srv]), &tree.request(3, out.path()))
            .unwrap();
        let log = srv.requests_for(&path_of(3));
        assert_eq!(log.len(), 2, "{fault:?}: {log:?}");
        assert_eq!(log[0].range, None);
        assert_eq!(log[0].body_bytes, 120_000, "{fault:?}");
        // What the client kept: all 120000 bytes, except that a TCP reset may
        // discard some of them in the client's receive buffer.
        let start: u64 = log[1]
            .range
            .as_deref()
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{fault:?}: second request has no Range: {log:?}"));
        if matches!(fault, Fault::ResetMidBody { .. }) {
            assert!(start > 0 && start <= 120_000, "{fault:?}: {start}");
        } else {
            assert_eq!(start, 120_000, "{fault:?}");
        }
        assert_eq!(log[1].status, 206);
        let total = tree.bytes(3).len() as u64;
        assert_eq!(log[1].body_bytes, total - start, "only the rest was sent");
        assert_eq!(rep.resumed_from, start);
        assert_eq!(rep.bytes_downloaded, total, "{fault:?}");
        assert_eq!(
            std::fs::read(out.path().join("p3.rpm")).unwrap(),
            tree.bytes(3)
        );
    }
}

#[test]
fn partial_file_from_an_earlier_run_is_resumed_or_discarded() {
    let tree = Tree::new();
    let srv = FaultServer::start(tree.dir.path()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let f = fetcher(opts());
    // A good partial: only the rest is fetched.
    let part = out.path().join("p4.rpm.part");
    std::fs::write(&part, &tree.bytes(4)[..1000]).unwrap();
    let rep = f
        .fetch_file(&set(&[&srv]), &tree.request(4, out.path()))
        .unwrap();
    let log = srv.requests_for(&path_of(4));
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].range.as_deref(), Some("bytes=1000-"));
    assert_eq!(rep.bytes_downloaded, tree.bytes(4).len() as u64 - 1000);
    assert!(!part.exists());

    // A partial with wrong bytes: detected by the checksum, fetched again whole.
    let part = out.path().join("p5.rpm.part");
    std::fs::write(&part, vec![0u8; 1000]).unwrap();
    let rep = f
        .fetch_file(&set(&[&srv]), &tree.request(5, out.path()))
        .unwrap();
    let log = srv.requests_for(&path_of(5));
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[1].range, None);
    assert_eq!(
        std::fs::read(out.path().join("p5.rpm")).unwrap(),
        tree.bytes(5)
    );
    assert_eq!(rep.attempts, 2);

    // A server that ignores Range: the partial is overwritten by the full body.
    let srv2 = FaultServer::start(tree.dir.path()).unwrap();
    srv2.add_fault(PathMatch::Any, Fault::IgnoreRange);
    let part = out.path().join("p6.rpm.part");
    std::fs::write(&part, &tree.bytes(6)[..5000]).unwrap();
    let rep = f
        .fetch_file(&set(&[&srv2]), &tree.request(6, out.path()))
        .unwrap();
    assert_eq!(srv2.requests_for(&path_of(6))[0].status, 200);
    assert_eq!(rep.bytes_downloaded, tree.bytes(6).len() as u64);
    assert_eq!(
        std::fs::read(out.path().join("p6.rpm")).unwrap(),
        tree.bytes(6)
    );
}

#[test]
fn redirects_are_followed_within_and_across_servers() {
    let tree = Tree::new();
    let a = FaultServer::start(tree.dir.path()).unwrap();
    let b = FaultServer::start(tree.dir.path()).unwrap();
    a.add_fault(
        PathMatch::Exact(path_of(0)),
        Fault::Redirect {
            status: 301,
            location: path_of(7),
        },
    );
    a.add_fault(
        PathMatch::Exact(path_of(1)),
        Fault::Redirect {
            status: 302,
            location: format!("{}{}", b.url(), Tree::rel(1)),
        },
    );
    let out = tempfile::tempdir().unwrap();
    let f = fetcher(opts());
    // 301 to another path whose content differs: the checksum catches it.
    let err = f
        .fetch_file(&set(&[&a]), &tree.request(0, out.path()))
        .unwrap_err();
    assert!(err.to_string().contains("wrong size"), "{err}");
    assert_eq!(a.requests_for(&path_of(7)).len(), 1);
    // 302 to the other server: followed and verified.
    f.fetch_file(&set(&[&a]), &tree.request(1, out.path()))
        .unwrap();
    assert_eq!(b.requests_for(&path_of(1)).len(), 1);
    assert_eq!(
        std::fs::read(out.path().join("p1.rpm")).unwrap(),
        tree.bytes(1)
    );
}

#[test]
fn cache_hits_make_no_request_and_bad_cache_entries_are_replaced() {
    let tree = Tree::new();
    let srv = FaultServer::start(tree.dir.path()).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let o = FetchOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        ..opts()
    };
    let out1 = tempfile::tempdir().unwrap();
    let f = fetcher(o.clone());
    let rep = f
        .fetch_file(&set(&[&srv]), &tree.request(2, out1.path()))
        .unwrap();
    assert_eq!(rep.origin, Origin::Network);
    assert_eq!(srv.request_count(), 1);

    // Same file again, into another directory, with a new fetcher: no request.
    let out2 = tempfile::tempdir().unwrap();
    let f2 = fetcher(o.clone());
    let rep = f2
        .fetch_file(&set(&[&srv]), &tree.request(2, out2.path()))
        .unwrap();
    assert_eq!(rep.origin, Origin::Cache);
    assert_eq!(srv.request_count(), 1, "cache hit made no request");
    assert_eq!(f2.bytes_downloaded(), 0);
    assert_eq!(
        std::fs::read(out2.path().join("p2.rpm")).unwrap(),
        tree.bytes(2)
    );

    // The destination already verified: no request either.
    let rep = f2
        .fetch_file(&set(&[&srv]), &tree.request(2, out2.path()))
        .unwrap();
    assert_eq!(rep.origin, Origin::AlreadyPresent);
    assert_eq!(srv.request_count(), 1);

    // A corrupted cache entry is not used: fetched again from the mirror.
    let hex = hash_hex(DigestAlgorithm::Sha256, &tree.bytes(2));
    let entry = cache.path().join("sha256").join(&hex[..2]).join(&hex);
    assert!(entry.is_file(), "cache is keyed by sha256");
    std::fs::remove_file(&entry).unwrap();
    std::fs::write(&entry, vec![1u8; tree.bytes(2).len()]).unwrap();
    let out3 = tempfile::tempdir().unwrap();
    let rep = f2
        .fetch_file(&set(&[&srv]), &tree.request(2, out3.path()))
        .unwrap();
    assert_eq!(rep.origin, Origin::Network);
    assert_eq!(srv.request_count(), 2);
    assert_eq!(
        std::fs::read(&entry).unwrap(),
        tree.bytes(2),
        "cache repaired"
    );
}

#[test]
fn many_files_in_parallel_reuse_connections_and_report_progress() {
    let tree = Tree::new();
    let srv = FaultServer::start(tree.dir.path()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let counters = Arc::new(Counters::new());
    let f = BlockingFetcher::with_progress(
        FetchOptions {
            parallel: 2,
            ..opts()
        },
        counters.clone(),
    )
    .unwrap();
    let reqs: Vec<FetchRequest> = (0..8).map(|i| tree.request(i, out.path())).collect();
    let res = f.fetch_many(&set(&[&srv]), &reqs);
    let total: u64 = (0..8).map(|i| tree.bytes(i).len() as u64).sum();
    for (i, r) in res.iter().enumerate() {
        let r = r.as_ref().unwrap();
        assert_eq!(r.dest, reqs[i].dest, "results in request order");
        assert_eq!(std::fs::read(&r.dest).unwrap(), tree.bytes(i as u64));
    }
    assert_eq!(f.bytes_downloaded(), total);
    let snap = counters.snapshot();
    assert_eq!(snap.files_done, 8);
    assert_eq!(snap.bytes, total);
    assert!(snap.bytes_per_sec > 0.0);
    assert_eq!(srv.request_count(), 8);
    assert!(
        srv.connection_count() <= 2,
        "keep-alive: {} connections for 8 files at parallel 2",
        srv.connection_count()
    );
}

#[test]
fn file_mirrors_and_unreachable_mirrors() {
    let tree = Tree::new();
    let out = tempfile::tempdir().unwrap();
    let f = fetcher(opts());
    // Nothing listens on this loopback port: connection refused, next mirror.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/", l.local_addr().unwrap())
    };
    let file_url = format!("file://{}/", tree.dir.path().display());
    let mirrors = MirrorSet::from_urls("t", &[dead.clone(), file_url.clone()]).unwrap();
    let rep = f
        .fetch_file(&mirrors, &tree.request(0, out.path()))
        .unwrap();
    assert_eq!(rep.origin, Origin::Local);
    assert_eq!(
        std::fs::read(out.path().join("p0.rpm")).unwrap(),
        tree.bytes(0)
    );
    let err = f
        .fetch_file(
            &MirrorSet::from_urls("t", std::slice::from_ref(&dead)).unwrap(),
            &tree.request(1, out.path()),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains(&dead) && err.contains("connect"), "{err}");
}

/// A tree laid out like librepo's mock server, from the real repo_yum_01.
fn yum_tree() -> tempfile::TempDir {
    let shared = dev_support::real_world_fixtures();
    let src = shared.join("repodata/librepo/repo_yum_01/repodata/repomd.xml");
    let t = tempfile::tempdir().unwrap();
    let repomd = std::fs::read(&src).unwrap();
    for d in ["yum/static/01", "yum/static/03"] {
        let p = t.path().join(d).join("repodata");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("repomd.xml"), &repomd).unwrap();
    }
    let mut harmed = repomd.clone();
    harmed[200] ^= 0x20;
    let p = t
        .path()
        .join("yum/harm_checksum/primary.xml/static/01/repodata");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("repomd.xml"), harmed).unwrap();
    let ml = shared.join("mirrors/librepo/servermock");
    for kind in ["metalink", "mirrorlist"] {
        let dst = t.path().join(kind);
        std::fs::create_dir_all(&dst).unwrap();
        for e in std::fs::read_dir(ml.join(kind)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
    t
}

fn with_port(dir: &Path, port: u16) {
    for kind in ["metalink", "mirrorlist"] {
        for e in std::fs::read_dir(dir.join(kind)).unwrap() {
            let p = e.unwrap().path();
            let t = std::fs::read_to_string(&p).unwrap();
            std::fs::write(&p, t.replace("{PORT_PLACEHOLDER}", &port.to_string())).unwrap();
        }
    }
}

#[test]
fn real_metalinks_and_mirrorlists_over_loopback() {
    let t = yum_tree();
    let srv = FaultServer::start(t.path()).unwrap();
    with_port(t.path(), srv.addr().port());
    let f = fetcher(FetchOptions {
        vars: Vars::new().with("version", "01"),
        ..opts()
    });
    let good = std::fs::read(t.path().join("yum/static/01/repodata/repomd.xml")).unwrap();
    let resolve = |spec: &str| f.resolve(&repo_fetch::Source::parse(spec).unwrap());
    let url = |p: &str| format!("{}{p}", srv.url());

    // good_01 / varsub: checks pass.
    for m in [
        "metalink/good_01.xml",
        "metalink/varsub.xml",
        "metalink/metalink_with_alternates.xml",
    ] {
        let set = resolve(&format!("metalink={}", url(m))).unwrap();
        assert!(set.repomd_check().is_some(), "{m}");
        assert_eq!(f.fetch_repomd(&set).unwrap(), good, "{m}");
    }
    // badchecksum: the only mirror's repomd.xml does not match.
    let set = resolve(&format!("metalink={}", url("metalink/badchecksum.xml"))).unwrap();
    let e = f.fetch_repomd(&set).unwrap_err().to_string();
    assert!(
        e.contains("metalink") && e.contains("mismatch") && e.contains("repomd.xml"),
        "{e}"
    );
    // First URL serves a different repomd.xml: skipped for the second.
    let set = resolve(&format!(
        "metalink={}",
        url("metalink/firsturlhascorruptedfiles.xml")
    ))
    .unwrap();
    assert_eq!(set.mirrors().len(), 2);
    srv.clear_log();
    assert_eq!(f.fetch_repomd(&set).unwrap(), good);
    let paths: Vec<String> = srv.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/yum/harm_checksum/primary.xml/static/01/repodata/repomd.xml",
            "/yum/static/01/repodata/repomd.xml"
        ]
    );
    // Preference order of mirrors_01 (01 > 03 > 04).
    let set = resolve(&format!("metalink={}", url("metalink/mirrors_01.xml"))).unwrap();
    let order: Vec<&str> = set.mirrors().iter().map(|u| u.path()).collect();
    assert_eq!(
        order,
        ["/yum/static/01/", "/yum/static/03/", "/yum/static/04/"]
    );
    // No URLs, or a metalink that is missing: clear errors.
    let e = resolve(&format!("metalink={}", url("metalink/nourls.xml"))).unwrap_err();
    assert!(e.to_string().contains("nourls.xml"), "{e}");
    let e = resolve(&format!("metalink={}", url("metalink/absent.xml"))).unwrap_err();
    assert!(
        e.to_string().contains("absent.xml") && e.to_string().contains("404"),
        "{e}"
    );

    // Mirrorlists: first URL refuses connections (port 44444) or has bad files.
    let set = resolve(&format!("mirrorlist={}", url("mirrorlist/badfirsturl"))).unwrap();
    assert_eq!(set.mirrors().len(), 2);
    assert_eq!(f.fetch_repomd(&set).unwrap(), good);
    let set = resolve(&format!("mirrorlist={}", url("mirrorlist/varsub"))).unwrap();
    assert_eq!(set.mirrors()[0].path(), "/yum/static/01/");
    let e = resolve(&format!("mirrorlist={}", url("mirrorlist/nourls"))).unwrap_err();
    assert!(e.to_string().contains("no usable"), "{e}");
}

/// `fetch_range` (what `install --check` reads of a jigdo RPM): bytes A..A+N with a
/// bounded Range request (a 206 of those bytes only); past the file's end, what there is;
/// from a server that ignores ranges (200, the whole body), the same bytes cut from its
/// start; a body cut short is retried, then the next mirror is asked, and without a good
/// mirror it is an error naming the file; a `file://` mirror is read in place.
#[test]
fn ranges_are_fetched_or_cut_from_a_whole_body() {
    let tree = Tree::new();
    let whole = tree.bytes(2);
    let len = whole.len() as u64;
    let srv = FaultServer::start(tree.dir.path()).unwrap();
    let f = fetcher(opts());
    let good = set(&[&srv]);
    let rel = Tree::rel(2);
    let got = f.fetch_range(&good, &rel, "p2", 1000, 5000).unwrap();
    assert_eq!(got, &whole[1000..6000]);
    let last = srv.requests_for(&path_of(2)).pop().unwrap();
    assert_eq!(last.range.as_deref(), Some("bytes=1000-5999"));
    assert_eq!((last.status, last.body_bytes), (206, 5000));

    let got = f.fetch_range(&good, &rel, "p2", len - 10, 5000).unwrap();
    assert_eq!(got, &whole[whole.len() - 10..]);

    srv.add_fault(PathMatch::Exact(path_of(2)), Fault::IgnoreRange);
    let got = f.fetch_range(&good, &rel, "p2", 1000, 5000).unwrap();
    assert_eq!(got, &whole[1000..6000]);
    assert_eq!(srv.requests_for(&path_of(2)).pop().unwrap().status, 200);
    srv.clear_faults();

    let bad = FaultServer::start(tree.dir.path()).unwrap();
    bad.add_fault(PathMatch::Any, Fault::Truncate { after: 100 });
    let got = f
        .fetch_range(&set(&[&bad, &srv]), &rel, "p2", 1000, 5000)
        .unwrap();
    assert_eq!(got, &whole[1000..6000]);
    assert_eq!(
        bad.requests_for(&path_of(2)).len(),
        2,
        "one retry on the bad mirror"
    );
    let e = f
        .fetch_range(&set(&[&bad]), &rel, "p2", 1000, 5000)
        .unwrap_err();
    assert!(matches!(e, FetchError::AllMirrorsFailed { .. }), "{e}");
    assert!(e.to_string().contains("p2"), "{e}");

    let local =
        MirrorSet::from_urls("local", &[format!("file://{}/", tree.dir.path().display())]).unwrap();
    let got = f.fetch_range(&local, &rel, "p2", 1000, 5000).unwrap();
    assert_eq!(got, &whole[1000..6000]);
}

/// `fetch_file_after`: a file whose start was read already is downloaded from there on
/// (one Range request for the rest) and verified whole; a start that was not the file's
/// fails the check, and the file is fetched again whole and right.
#[test]
fn a_file_whose_start_was_read_is_fetched_from_there_on() {
    let tree = Tree::new();
    let whole = tree.bytes(4);
    let srv = FaultServer::start(tree.dir.path()).unwrap();
    let f = fetcher(opts());
    let out = tempfile::tempdir().unwrap();
    let rep = f
        .fetch_file_after(
            &set(&[&srv]),
            &tree.request(4, out.path()),
            &whole[..70_000],
        )
        .unwrap();
    assert_eq!(rep.resumed_from, 70_000);
    let log = srv.requests_for(&path_of(4));
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].range.as_deref(), Some("bytes=70000-"));
    assert_eq!(log[0].body_bytes, whole.len() as u64 - 70_000);
    assert_eq!(std::fs::read(out.path().join("p4.rpm")).unwrap(), whole);

    srv.clear_log();
    let out = tempfile::tempdir().unwrap();
    let mut wrong = whole[..70_000].to_vec();
    wrong[500] ^= 1;
    f.fetch_file_after(&set(&[&srv]), &tree.request(4, out.path()), &wrong)
        .unwrap();
    let log = srv.requests_for(&path_of(4));
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[1].range, None, "fetched again whole: {log:?}");
    assert_eq!(std::fs::read(out.path().join("p4.rpm")).unwrap(), whole);
}
