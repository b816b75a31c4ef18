//! HTTPS: the client trusts the system CA store plus a repository's
//! `sslcacert`; a server whose CA is in neither is refused. The certificates
//! are made for the test by the real `openssl` (a CA and a leaf for
//! 127.0.0.1); the server is the loopback test mirror over rustls.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mirror_tests::fault_server::FaultServer;
use repo_fetch::{
    hash_hex, BlockingFetcher, DigestAlgorithm, Downloader, Expect, FetchOptions, FetchRequest,
    MirrorSet, ProxyMode, RepoFile, Vars,
};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("this test needs `openssl` (Debian: openssl): {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes ca.pem, leaf.pem and leaf.key into `dir`.
fn make_certs(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=ostree-jigdo test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

fn opts() -> FetchOptions {
    FetchOptions {
        connect_timeout: Duration::from_secs(2),
        stall_timeout: Duration::from_secs(2),
        retries: 0,
        proxy: ProxyMode::Direct,
        vars: Vars::new(),
        ..FetchOptions::default()
    }
}

#[test]
fn https_with_the_repository_sslcacert() {
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path());
    let served = tempfile::tempdir().unwrap();
    let body: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::create_dir_all(served.path().join("Packages")).unwrap();
    std::fs::write(served.path().join("Packages/a.rpm"), &body).unwrap();
    let srv = FaultServer::start_tls(
        served.path(),
        &std::fs::read(certs.path().join("leaf.pem")).unwrap(),
        &std::fs::read(certs.path().join("leaf.key")).unwrap(),
    )
    .unwrap();
    assert!(srv.url().starts_with("https://127.0.0.1:"));

    // A .repo file naming the CA, as dnf users write it.
    let repo_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        repo_dir.path().join("t.repo"),
        format!(
            "[tls]\nname=TLS test\nbaseurl={}\nsslcacert=file://{}\ngpgcheck=0\n",
            srv.url(),
            certs.path().join("ca.pem").display()
        ),
    )
    .unwrap();
    let repos = RepoFile::load_dir(repo_dir.path(), &Vars::new()).unwrap();
    let mirrors: MirrorSet = repos[0].base_mirrors();
    let expect =
        Expect::sha256(body.len() as u64, &hash_hex(DigestAlgorithm::Sha256, &body)).unwrap();
    let out = tempfile::tempdir().unwrap();
    let req = FetchRequest::new("Packages/a.rpm", expect, out.path().join("a.rpm"));

    // Without the CA: refused, and the error names the mirror.
    let plain = BlockingFetcher::new(opts()).unwrap();
    let err = plain.fetch_file(&mirrors, &req).unwrap_err().to_string();
    assert!(err.contains(&srv.url()), "{err}");
    assert!(!req.dest.exists());
    assert_eq!(
        srv.request_count(),
        0,
        "no request got through the handshake"
    );

    // With the repository's sslcacert added to the system store: works.
    let with_ca = BlockingFetcher::new(FetchOptions {
        ca_files: repos.iter().filter_map(|r| r.sslcacert.clone()).collect(),
        ..opts()
    })
    .unwrap();
    let rep = with_ca.fetch_file(&mirrors, &req).unwrap();
    assert_eq!(std::fs::read(&req.dest).unwrap(), body);
    assert_eq!(rep.bytes_downloaded, body.len() as u64);
    assert_eq!(srv.request_count(), 1);

    // A CA file that is not PEM is a clear setup error.
    std::fs::write(out.path().join("junk.pem"), "not a certificate").unwrap();
    let e = BlockingFetcher::new(FetchOptions {
        ca_files: vec![out.path().join("junk.pem")],
        ..opts()
    })
    .err()
    .expect("junk CA file rejected")
    .to_string();
    assert!(e.contains("junk.pem"), "{e}");
}
