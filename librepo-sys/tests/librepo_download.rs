//! librepo through the FFI: a verified download from a file:// base URL after
//! a missing first mirror, and a checksum mismatch that is reported.
#![cfg(feature = "librepo")]

use librepo_sys::{download_packages, Options, Target};
use sha2::Digest;

#[test]
fn downloads_verifies_and_fails_over() {
    let repo = tempfile::tempdir().unwrap();
    let body: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::create_dir_all(repo.path().join("Packages")).unwrap();
    std::fs::write(repo.path().join("Packages/a.rpm"), &body).unwrap();
    let sum = hex::encode(sha2::Sha256::digest(&body));
    let out = tempfile::tempdir().unwrap();
    let missing = tempfile::tempdir().unwrap();
    let opts = Options {
        urls: vec![
            format!("file://{}/", missing.path().display()),
            format!("file://{}/", repo.path().display()),
        ],
        parallel: 2,
        connect_timeout_secs: 5,
        stall_secs: 5,
        ca_file: None,
    };
    let good = Target {
        relative_url: "Packages/a.rpm".into(),
        dest: out.path().join("a.rpm"),
        sha256: Some(sum),
        size: Some(body.len() as u64),
    };
    let bad = Target {
        dest: out.path().join("b.rpm"),
        sha256: Some("0".repeat(64)),
        ..good.clone()
    };
    let done = std::sync::Mutex::new(Vec::new());
    let res = download_packages(&opts, &[good.clone(), bad], &|i| {
        done.lock().unwrap().push(i);
    })
    .unwrap();
    assert_eq!(res[0], Ok(()));
    // The end callback saw the good target only.
    assert_eq!(*done.lock().unwrap(), vec![0]);
    assert_eq!(std::fs::read(&good.dest).unwrap(), body);
    // librepo tries every mirror; each copy fails the checksum.
    let e = res[1].clone().unwrap_err().to_string();
    assert!(e.starts_with("Packages/a.rpm: "), "{e}");
    assert!(e.contains("mirrors"), "{e}");
}

#[test]
fn layout() {
    // librepo 1.14 on x86_64: sizeof(LrPackageTarget) == 136, err at 120.
    #[cfg(target_arch = "x86_64")]
    {
        let t = std::mem::MaybeUninit::<librepo_sys::LrPackageTarget>::uninit();
        let base = t.as_ptr() as usize;
        // SAFETY: only the field address is computed, nothing is read.
        let err = unsafe { std::ptr::addr_of!((*t.as_ptr()).err) } as usize;
        assert_eq!(std::mem::size_of::<librepo_sys::LrPackageTarget>(), 136);
        assert_eq!(err - base, 120);
    }
}
