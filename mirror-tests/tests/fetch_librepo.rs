//! The librepo backend (`--features librepo`, needs Debian's librepo0)
//! against the fault-injecting loopback mirror: with a good second mirror
//! every fault is survived and the file verified; with none the error names
//! the package and the mirror and nothing is left at the destination.
#![cfg(feature = "librepo")]

use std::time::Duration;

use mirror_tests::fault_server::{Fault, FaultServer, PathMatch};
use repo_fetch::{
    hash_hex, DigestAlgorithm, Downloader, Expect, FetchOptions, FetchRequest, LibrepoDownloader,
    MirrorSet, ProxyMode, Vars,
};

#[test]
fn librepo_backend_survives_faults_with_a_good_mirror() {
    let dir = tempfile::tempdir().unwrap();
    let body: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 253) as u8).collect();
    std::fs::create_dir_all(dir.path().join("Packages")).unwrap();
    std::fs::write(dir.path().join("Packages/a.rpm"), &body).unwrap();
    let expect =
        Expect::sha256(body.len() as u64, &hash_hex(DigestAlgorithm::Sha256, &body)).unwrap();
    let good = FaultServer::start(dir.path()).unwrap();
    let d = LibrepoDownloader::new(FetchOptions {
        connect_timeout: Duration::from_secs(2),
        stall_timeout: Duration::from_secs(1),
        proxy: ProxyMode::Direct,
        vars: Vars::new(),
        ..FetchOptions::default()
    })
    .unwrap();
    for (name, fault) in [
        ("404", Fault::Status(404)),
        ("500", Fault::Status(500)),
        ("truncated", Fault::Truncate { after: 50_000 }),
        ("wrong-bytes", Fault::WrongBytes),
    ] {
        let bad = FaultServer::start(dir.path()).unwrap();
        bad.add_fault(PathMatch::Any, fault);
        let out = tempfile::tempdir().unwrap();
        let req = FetchRequest::new("Packages/a.rpm", expect.clone(), out.path().join("a.rpm"))
            .with_label("a-1-1.noarch");
        let both = MirrorSet::from_urls("t", &[bad.url(), good.url()]).unwrap();
        d.fetch_file(&both, &req)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(std::fs::read(&req.dest).unwrap(), body, "{name}");

        let only_bad = MirrorSet::from_urls("t", &[bad.url()]).unwrap();
        let req2 = FetchRequest::new("Packages/a.rpm", expect.clone(), out.path().join("b.rpm"))
            .with_label("a-1-1.noarch");
        let e = d.fetch_file(&only_bad, &req2).unwrap_err().to_string();
        assert!(
            e.contains("a-1-1.noarch") && e.contains(&bad.url()),
            "{name}: {e}"
        );
        assert!(!req2.dest.exists(), "{name}");
    }
}
