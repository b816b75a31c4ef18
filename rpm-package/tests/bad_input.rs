//! Damaged and malicious packages: each gives a clear error naming the package and the
//! fault, quickly, without a panic.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rpm_package::{verify_payload, Error, ErrorKind, PackageHeader, PayloadReader};

fn pkgs() -> &'static [PathBuf] {
    static P: OnceLock<Vec<PathBuf>> = OnceLock::new();
    P.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("rpm-package-bad-input-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dev_support::build_test_packages(&dir, &["jt-none.spec", "jt-gzip-noarch.spec"])
            .unwrap_or_else(|e| panic!("building test packages: {e}"))
    })
}

/// The cpio archive `rpm2cpio` extracts from the jt-gzip test package.
fn gzip_package_cpio() -> Vec<u8> {
    let gzip = pkgs()
        .iter()
        .find(|p| p.to_str().unwrap().contains("jt-gzip"))
        .unwrap();
    common::run("rpm2cpio", &[gzip.to_str().unwrap()])
}

fn pkg(name: &str) -> Vec<u8> {
    let p = pkgs()
        .iter()
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(name))
        .unwrap();
    std::fs::read(p).unwrap()
}

/// Write `data` to a temp file and run header + payload over it.
fn check(data: &[u8], label: &str) -> Result<(), Error> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{label}.rpm"));
    std::fs::write(&path, data).unwrap();
    let r = PackageHeader::open(&path).and_then(|_| verify_payload(&path).map(|_| ()));
    if let Err(e) = &r {
        let s = e.to_string();
        assert!(
            s.contains(&format!("{label}.rpm")),
            "error does not name the package: {s}"
        );
    }
    r
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .expect("needle present")
}

#[test]
fn truncated_files() {
    let data = pkg("jt-gzip-noarch");
    let h = PackageHeader::read(&mut &data[..], "x").unwrap();
    let cuts = [
        0,
        10,
        95,
        96,
        100,
        120,
        h.header_start as usize - 1,
        h.header_start as usize + 20,
        h.header_end as usize - 1,
        h.header_end as usize,
        h.header_end as usize + 30,
        data.len() - 1,
    ];
    for cut in cuts {
        let e = check(&data[..cut], &format!("cut-{cut}")).expect_err("truncated must fail");
        if cut < h.header_end as usize + 1 {
            assert!(matches!(e.kind, ErrorKind::Truncated(_)), "cut {cut}: {e}");
        }
    }
}

#[test]
fn wrong_magic() {
    let data = pkg("jt-gzip-noarch");
    let h = PackageHeader::read(&mut &data[..], "x").unwrap();
    for (at, what) in [
        (0, "lead"),
        (96, "signature header"),
        (h.header_start as usize, "main header"),
    ] {
        let mut d = data.clone();
        d[at] ^= 0xff;
        let e = check(&d, &format!("magic-{at}")).unwrap_err();
        assert!(matches!(e.kind, ErrorKind::BadMagic(_)), "{e}");
        assert!(at == 0 || e.to_string().contains(what), "{e}");
    }
    let mut d = data.clone();
    d[h.header_end as usize] = b'X'; // payload magic
    assert!(check(&d, "payload-magic").is_err());
}

#[test]
fn index_out_of_range_and_absurd_counts() {
    let data = pkg("jt-gzip-noarch");
    let h = PackageHeader::read(&mut &data[..], "x").unwrap();
    let hs = h.header_start as usize;
    // offset of the 3rd index entry far outside the store
    let mut d = data.clone();
    d[hs + 16 + 2 * 16 + 8..hs + 16 + 2 * 16 + 12].copy_from_slice(&0x7fff_fff0u32.to_be_bytes());
    let e = check(&d, "offset").unwrap_err();
    assert!(
        matches!(e.kind, ErrorKind::BadHeader(_)) && e.to_string().contains("outside"),
        "{e}"
    );
    // count making the data overflow the store
    let mut d = data.clone();
    d[hs + 16 + 2 * 16 + 12..hs + 16 + 2 * 16 + 16].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
    let e = check(&d, "count").unwrap_err();
    assert!(matches!(e.kind, ErrorKind::BadHeader(_)), "{e}");
    // absurd number of index entries / data size
    for (field, value) in [(8, 0x7fff_ffffu32), (12, 0x7fff_ffff), (12, 0x0fff_fff0)] {
        let mut d = data.clone();
        d[hs + field..hs + field + 4].copy_from_slice(&value.to_be_bytes());
        let start = Instant::now();
        let e = check(&d, &format!("intro-{field}-{value:x}")).unwrap_err();
        assert!(
            matches!(e.kind, ErrorKind::BadHeader(_) | ErrorKind::Truncated(_)),
            "{e}"
        );
        assert!(start.elapsed() < Duration::from_secs(2));
    }
    // a DIRINDEXES value out of range
    let idx_entry = (0..u32::from_be_bytes(data[hs + 8..hs + 12].try_into().unwrap()) as usize)
        .map(|i| hs + 16 + i * 16)
        .find(|&o| u32::from_be_bytes(data[o..o + 4].try_into().unwrap()) == 1116)
        .unwrap();
    let nidx = u32::from_be_bytes(data[hs + 8..hs + 12].try_into().unwrap()) as usize;
    let store = hs + 16 + nidx * 16;
    let off = u32::from_be_bytes(data[idx_entry + 8..idx_entry + 12].try_into().unwrap()) as usize;
    let mut d = data.clone();
    d[store + off..store + off + 4].copy_from_slice(&999u32.to_be_bytes());
    let e = check(&d, "dirindex").unwrap_err();
    assert!(
        e.to_string().contains("DIRINDEXES value 999 out of range"),
        "{e}"
    );
}

#[test]
fn stripped_cpio_index_out_of_range() {
    let src = dev_support::real_world_fixtures()
        .join("rpm/rpm-rs/RPMS/v6/rpm-hardlinks-1.0-1.noarch.rpm");
    let data = std::fs::read(&src).unwrap();
    verify_payload(&src).unwrap();
    let at = find(&data, b"07070X");
    let mut d = data.clone();
    d[at + 6..at + 14].copy_from_slice(b"0000ffff");
    let e = check(&d, "stripped-index").unwrap_err();
    assert!(e.to_string().contains("index 65535 out of range"), "{e}");
}

#[test]
fn escaping_cpio_names() {
    let data = pkg("jt-none");
    let name = b"./usr/share/jt-none/small.txt\0";
    let at = find(&data, name);
    let mut d = data.clone();
    d[at..at + 11].copy_from_slice(b"./../../../");
    let e = check(&d, "escape").unwrap_err();
    assert!(matches!(e.kind, ErrorKind::UnsafePath(_)), "{e}");
    // an absolute name that no header entry has
    let mut d = data.clone();
    d[at..at + 11].copy_from_slice(b"/etc/passwd");
    let e = check(&d, "absolute").unwrap_err();
    assert!(
        e.to_string().contains("not in the header's file list"),
        "{e}"
    );
}

#[test]
fn size_mismatch_and_content_digest_mismatch() {
    let data = pkg("jt-none");
    let name = b"./usr/share/jt-none/numbers.txt\0";
    let at = find(&data, name);
    let hdr = at - 110; // newc header precedes the name
    assert_eq!(&data[hdr..hdr + 6], b"070701");
    let mut d = data.clone();
    d[hdr + 54..hdr + 62].copy_from_slice(b"00000005");
    let e = check(&d, "size").unwrap_err();
    assert!(matches!(e.kind, ErrorKind::SizeMismatch { .. }), "{e}");
    assert!(e.to_string().contains("numbers.txt"), "{e}");
    // flip one content byte: the file digest catches it, naming the file
    let content = at + name.len() + (4 - (110 + name.len()) % 4) % 4;
    let mut d = data.clone();
    d[content + 100] ^= 1;
    let e = check(&d, "content").unwrap_err();
    assert!(matches!(e.kind, ErrorKind::DigestMismatch { .. }), "{e}");
    assert!(
        e.to_string().contains("/usr/share/jt-none/numbers.txt"),
        "{e}"
    );
    // flip a byte after the trailer: only the payload digest catches it
    let mut d = data.clone();
    let n = d.len();
    d[n - 1] ^= 1;
    let e = check(&d, "payload").unwrap_err();
    assert!(matches!(e.kind, ErrorKind::DigestMismatch { .. }), "{e}");
}

#[test]
fn decompression_bomb_is_stopped_early() {
    let data = pkg("jt-gzip-noarch");
    let h = PackageHeader::read(&mut &data[..], "x").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.rpm");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&data[..h.header_end as usize]).unwrap();
    // a valid-looking cpio start followed by 1 GiB of zeros, zstd-compressed (~30 KiB)
    let mut enc = zstd::stream::Encoder::new(f, 1).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        enc.write_all(&zeros).unwrap();
    }
    enc.finish().unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() < 2 << 20);
    let start = Instant::now();
    let e = verify_payload(&path).unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    assert!(e.to_string().contains("bomb.rpm"));
    // zeros are not a cpio header: rejected at the first entry
    assert!(
        matches!(e.kind, ErrorKind::BadMagic(_) | ErrorKind::TooLarge { .. }),
        "{e}"
    );

    // now the real archive followed by zeros past the trailer
    let cpio = gzip_package_cpio();
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&data[..h.header_end as usize]).unwrap();
    let mut enc = zstd::stream::Encoder::new(f, 1).unwrap();
    enc.write_all(&cpio).unwrap();
    for _ in 0..1024 {
        enc.write_all(&zeros).unwrap();
    }
    enc.finish().unwrap();
    let start = Instant::now();
    let e = verify_payload(&path).unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    assert!(matches!(e.kind, ErrorKind::TooLarge { .. }), "{e}");
}

/// Deterministic mutation fuzzing of header and payload parsing (the same entry point as
/// the cargo-fuzz target in fuzz/): thousands of damaged packages, none may panic.
#[test]
fn mutated_packages_never_panic() {
    let fx = dev_support::real_world_fixtures();
    let mut inputs = vec![pkg("jt-gzip-noarch")];
    for rel in [
        "rpm/rpm-rs/RPMS/v6/rpm-hardlinks-1.0-1.noarch.rpm",
        "rpm/rpm.org/history/perl-foo.i386.rpm",
        "rpm/rpm.org/RPMS/hlinktest-1.0-1.noarch.rpm",
        "rpm/go-rpmutils/payload-test-0.1-w6.lzdio.x86_64.rpm",
        "rpm/go-rpmutils/payload-test-0.1-w9.bzdio.x86_64.rpm",
    ] {
        if let Ok(d) = std::fs::read(fx.join(rel)) {
            inputs.push(d);
        }
    }
    assert_eq!(inputs.len(), 6, "fixtures missing");
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let start = Instant::now();
    let mut runs = 0;
    for input in &inputs {
        let h = PackageHeader::read(&mut &input[..], "x").ok();
        let hot = h.map_or(input.len(), |h| {
            (h.header_end as usize + 512).min(input.len())
        });
        for _ in 0..1500 {
            let mut d = input.clone();
            let n = 1 + next() % 6;
            for _ in 0..n {
                // mostly in the headers and the start of the payload
                let limit = if next() % 4 == 0 {
                    d.len()
                } else {
                    hot.min(d.len())
                };
                let at = (next() as usize) % limit;
                match next() % 4 {
                    0 => d[at] ^= 1 << (next() % 8),
                    1 => d[at] = next() as u8,
                    2 => d[at] = [0, 0xff, 0x7f, 0x80][(next() % 4) as usize],
                    _ => d.truncate(at.max(1)),
                }
            }
            let r = std::panic::catch_unwind(|| rpm_package::fuzzing::parse_and_stream(&d));
            assert!(r.is_ok(), "panic on mutated input (run {runs})");
            runs += 1;
        }
    }
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "mutation runs too slow: {:?}",
        start.elapsed()
    );
    eprintln!("{runs} mutated inputs in {:?}", start.elapsed());
}

/// Streams the package at `path` on the calling thread (`ahead` false) or with the
/// read-ahead thread; returns the entry count or the error message.
fn stream_file(path: &Path, ahead: bool) -> Result<usize, String> {
    let run = || -> Result<usize, Error> {
        let f = std::fs::File::open(path).unwrap();
        let mut r = std::io::BufReader::new(f);
        let label = path.display().to_string();
        let h = PackageHeader::read(&mut r, &label)?;
        let mut p = rpm_package::PayloadReader::new(h, r)?;
        if ahead {
            p = p.read_ahead()?;
        }
        let mut n = 0;
        while let Some(mut e) = p.next_entry()? {
            e.finish()?;
            n += 1;
        }
        Ok(n)
    };
    run().map_err(|e| e.to_string())
}

/// Where the payload of the package `data` starts (the end of its headers).
fn payload_start(data: &[u8]) -> usize {
    PackageHeader::read(&mut &data[..], "x").unwrap().header_end as usize
}

/// The package `data` whole ("intact") and cut at each of `cuts` ("cut-N"), labelled.
fn intact_and_cut(data: &[u8], cuts: impl IntoIterator<Item = usize>) -> Vec<(String, Vec<u8>)> {
    let mut variants = vec![("intact".to_string(), data.to_vec())];
    for cut in cuts {
        variants.push((format!("cut-{cut}"), data[..cut].to_vec()));
    }
    variants
}

#[test]
fn read_ahead_gives_the_same_results_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["jt-none", "jt-gzip-noarch"] {
        let data = pkg(name);
        let payload = payload_start(&data);
        let mut variants = intact_and_cut(
            &data,
            [
                payload + 30,
                payload + (data.len() - payload) / 2,
                data.len() - 1,
            ],
        );
        for at in [payload + 5, payload + 200, data.len() - 40] {
            let mut d = data.clone();
            d[at] ^= 0x55;
            variants.push((format!("flip-{at}"), d));
        }
        for (label, bytes) in variants {
            let path = dir.path().join(format!("{name}-{label}.rpm"));
            std::fs::write(&path, &bytes).unwrap();
            let inline = stream_file(&path, false);
            let ahead = stream_file(&path, true);
            assert_eq!(inline, ahead, "{name} {label}");
            if label == "intact" {
                assert!(inline.is_ok(), "{inline:?}");
            } else {
                assert!(inline.is_err(), "{name} {label} streamed");
            }
        }
    }
}

/// Reads every entry of the package at `path` through `Read::read` (`in_place` false) or
/// through `BufRead` (`fill_buf`, then `consume` of at most 64 bytes at a time, so
/// that entries end mid-buffer), with or without the read-ahead thread; returns each
/// entry's path and content, and the error message if the payload failed.
fn read_entries(
    path: &Path,
    in_place: bool,
    ahead: bool,
) -> (Vec<(String, Vec<u8>)>, Option<String>) {
    use std::io::{BufRead, Read};
    let mut got = Vec::new();
    let mut run = || -> Result<(), Error> {
        let f = std::fs::File::open(path).unwrap();
        let mut r = std::io::BufReader::new(f);
        let h = PackageHeader::read(&mut r, &path.display().to_string())?;
        let mut p = rpm_package::PayloadReader::new(h, r)?;
        if ahead {
            p = p.read_ahead()?;
        }
        while let Some(mut e) = p.next_entry()? {
            let name = e.info().path.clone();
            let mut content = Vec::new();
            let read: std::io::Result<()> = if in_place {
                loop {
                    match e.fill_buf() {
                        Ok([]) => break Ok(()),
                        Ok(buf) => {
                            let n = buf.len().min(64);
                            content.extend_from_slice(&buf[..n]);
                            e.consume(n);
                        }
                        Err(err) => break Err(err),
                    }
                }
            } else {
                e.read_to_end(&mut content).map(|_| ())
            };
            got.push((name, content));
            if let Err(err) = read {
                let inner = err.into_inner().and_then(|i| i.downcast::<Error>().ok());
                return Err(*inner.expect("the entry's error is the package's"));
            }
            e.finish()?;
        }
        Ok(())
    };
    let failed = run().err().map(|e| e.to_string());
    (got, failed)
}

#[test]
fn entries_read_in_place_give_the_same_bytes_and_errors_as_read() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["jt-none", "jt-gzip-noarch"] {
        let data = pkg(name);
        let payload = payload_start(&data);
        let mut variants = intact_and_cut(
            &data,
            [payload + (data.len() - payload) / 2, data.len() - 1],
        );
        if name == "jt-none" {
            // One content byte changed: the file's digest must catch it, read in place too.
            let file = b"./usr/share/jt-none/numbers.txt\0";
            let at = find(&data, file);
            let content = at + file.len() + (4 - (110 + file.len()) % 4) % 4;
            let mut d = data.clone();
            d[content + 100] ^= 1;
            variants.push(("content".into(), d));
        }
        for (label, bytes) in variants {
            let path = dir.path().join(format!("{name}-{label}.rpm"));
            std::fs::write(&path, &bytes).unwrap();
            let by_read = read_entries(&path, false, false);
            for ahead in [false, true] {
                assert_eq!(
                    read_entries(&path, true, ahead),
                    by_read,
                    "{name} {label}, read ahead: {ahead}"
                );
            }
            match label.as_str() {
                "intact" => {
                    assert_eq!(by_read.1, None);
                    // numbers.txt is read in several steps (entries end mid-buffer).
                    assert!(
                        name != "jt-none" || by_read.0.iter().any(|(_, c)| c.len() > 64),
                        "no multi-step entry in {name}"
                    );
                }
                "content" => {
                    let e = by_read.1.unwrap();
                    assert!(e.contains("numbers.txt") && e.contains("digest"), "{e}");
                }
                _ => assert!(by_read.1.unwrap().contains(&format!("{label}.rpm"))),
            }
        }
    }
}

/// A zstd payload that decompresses past what its header allows fails the same way when
/// the package is held in memory (where a small payload is decompressed whole, at once),
/// and a damaged frame fails too.
#[test]
fn package_in_memory_refuses_an_oversized_or_damaged_zstd_payload() {
    let data = pkg("jt-gzip-noarch");
    let h = PackageHeader::read(&mut &data[..], "x").unwrap();
    let end = h.header_end as usize;
    let cpio = gzip_package_cpio();
    let read = |payload: Vec<u8>| {
        let mut bytes = data[..end].to_vec();
        bytes.extend_from_slice(&payload);
        let header = PackageHeader::read(&mut &bytes[..], "in-memory.rpm").unwrap();
        PayloadReader::new_verified_in_memory(header, bytes, end).and_then(|mut r| {
            while let Some(mut e) = r.next_entry()? {
                std::io::copy(&mut e, &mut std::io::sink()).unwrap();
            }
            Ok(())
        })
    };
    // (The archive as it is reads through up to the payload's size, which no longer
    // matches the signature header's: see `package_in_memory_reads_as_streamed_…`.)
    let e = read(zstd::encode_all(&cpio[..], 3).unwrap()).unwrap_err();
    assert!(e.to_string().contains("the signature header says"), "{e}");
    // Followed by 4 MiB of zeros: past the bound (the header's files and archive size).
    let mut long = cpio.clone();
    long.resize(cpio.len() + (4 << 20), 0);
    let e = read(zstd::encode_all(&long[..], 3).unwrap()).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::TooLarge { .. }), "{e}");
    assert!(e.to_string().contains("in-memory.rpm"), "{e}");
    // A frame cut short.
    let mut cut = zstd::encode_all(&cpio[..], 3).unwrap();
    cut.truncate(cut.len() - 8);
    let e = read(cut).unwrap_err();
    assert!(e.to_string().contains("decompressing the payload"), "{e}");
}
