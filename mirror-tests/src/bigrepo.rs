//! A distribution-sized rpm-md repository of generated metadata around a few real RPMs:
//! the quick counterpart of `bench/bigrepo.py` for tests. The generated packages exist
//! only as entries of `primary.xml` (their files are never served), shaped like a
//! distribution's (a summary and description, Provides with sonames, Requires, a few
//! files: about 1.5 KB of XML each, as Fedora's); the real RPMs under the repository are
//! described by the real `createrepo_c` and sit in the middle of them. Only `primary`
//! is written (what jigdo reads; `bench/bigrepo.py` writes filelists and other too, for
//! dnf), zstd-compressed at level 1 (the bench's gzip level 6 would take seconds), with
//! its checksums and sizes in `repomd.xml`.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use repo_fetch::DigestAlgorithm;

use crate::{require_tool, run};

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn word(&mut self) -> String {
        const SYLL: [&str; 24] = [
            "ba", "ke", "li", "mo", "nu", "ra", "se", "ti", "vo", "za", "tr", "st", "fl", "gr",
            "pr", "da", "fe", "gi", "ko", "lu", "ma", "ne", "pi", "so",
        ];
        (0..2 + self.below(3))
            .map(|_| SYLL[self.below(SYLL.len() as u64) as usize])
            .collect()
    }

    fn words(&mut self, n: u64) -> String {
        (0..n).map(|_| self.word()).collect::<Vec<_>>().join(" ")
    }
}

/// Writes `out/repodata/` describing `count` generated packages and every real RPM under
/// `out` (as `createrepo_c` describes them, at their paths relative to `out`). Returns
/// the size of the compressed primary metadata.
pub fn write(out: &Path, count: usize) -> u64 {
    require_tool("createrepo_c");
    let md = out.join("repodata");
    let _ = std::fs::remove_dir_all(&md);
    run(Command::new("createrepo_c")
        .args([
            "--quiet",
            "--no-database",
            "--simple-md-filenames",
            "--general-compress-type=gz",
        ])
        .arg(out));
    let real_path = md.join("primary.xml.gz");
    let mut real_xml = String::new();
    repodata::compress::decoder(std::fs::File::open(&real_path).expect("createrepo_c primary"))
        .expect("decoder")
        .read_to_string(&mut real_xml)
        .expect("reading createrepo_c's primary");
    let real: Vec<&str> = real_xml
        .split("<package type=\"rpm\">")
        .skip(1)
        .filter_map(|rest| rest.split_once("</package>").map(|(body, _)| body))
        .collect();
    std::fs::remove_dir_all(&md).expect("rm repodata");
    std::fs::create_dir_all(&md).expect("mkdir repodata");

    let path = md.join("primary.xml.zst");
    let mut open = DigestAlgorithm::Sha256.hasher();
    let mut open_size = 0u64;
    let mut enc = zstd::stream::write::Encoder::new(
        std::io::BufWriter::new(std::fs::File::create(&path).expect("create primary")),
        1,
    )
    .expect("zstd encoder");
    let mut put = |s: &str| {
        open.update(s.as_bytes());
        open_size += s.len() as u64;
        enc.write_all(s.as_bytes()).expect("write primary");
    };
    put(&format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" \
         xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"{}\">\n",
        count + real.len()
    ));
    let mut rng = Rng(0x6a09_e667_f3bc_c908);
    let mut entry = String::new();
    for i in 0..count {
        if i == count / 2 {
            for r in &real {
                put(&format!("<package type=\"rpm\">{r}</package>\n"));
            }
        }
        entry.clear();
        generated(&mut rng, i, &mut entry);
        put(&entry);
    }
    if count == 0 {
        for r in &real {
            put(&format!("<package type=\"rpm\">{r}</package>\n"));
        }
    }
    put("</metadata>\n");
    enc.finish()
        .and_then(|mut w| w.flush())
        .expect("finish primary");
    let open = open.finish_checksum().hex;

    let bytes = std::fs::read(&path).expect("read primary");
    let mut packed = DigestAlgorithm::Sha256.hasher();
    packed.update(&bytes);
    let packed = packed.finish_checksum().hex;
    let size = bytes.len() as u64;
    let href = format!("repodata/{packed}-primary.xml.zst");
    std::fs::rename(&path, out.join(&href)).expect("rename primary");
    let repomd = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<repomd xmlns=\"http://linux.duke.edu/metadata/repo\" \
         xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n  <revision>1700000000</revision>\n  \
         <data type=\"primary\">\n    <checksum type=\"sha256\">{packed}</checksum>\n    \
         <open-checksum type=\"sha256\">{open}</open-checksum>\n    <location href=\"{href}\"/>\n    \
         <timestamp>1700000000</timestamp>\n    <size>{size}</size>\n    \
         <open-size>{open_size}</open-size>\n  </data>\n</repomd>\n"
    );
    std::fs::write(md.join("repomd.xml"), repomd).expect("write repomd.xml");
    size
}

/// The primary entry of the `i`-th generated package, appended to `out`.
fn generated(rng: &mut Rng, i: usize, out: &mut String) {
    use std::fmt::Write as _;
    let name = format!("{}-{i}", rng.word());
    let arch = ["x86_64", "x86_64", "noarch", "i686"][rng.below(4) as usize];
    let ver = format!("{}.{}.{}", rng.below(30), rng.below(20), rng.below(10));
    let rel = format!("{}.fc38", 1 + rng.below(12));
    let size = 6000 + rng.below(2_000_000);
    let n = 3 + rng.below(5);
    let summary = rng.words(n);
    let n = 20 + rng.below(50);
    let description = rng.words(n);
    let _ = write!(
        out,
        "<package type=\"rpm\"><name>{name}</name><arch>{arch}</arch>\
         <version epoch=\"0\" ver=\"{ver}\" rel=\"{rel}\"/>\
         <checksum type=\"sha256\" pkgid=\"YES\">{:016x}{:016x}{:016x}{:016x}</checksum>\
         <summary>{summary}</summary><description>{description}.</description>\
         <packager>Fedora Project</packager><url>https://{name}.example.org/</url>\
         <time file=\"1690000000\" build=\"1690000000\"/>\
         <size package=\"{size}\" installed=\"{}\" archive=\"{}\"/>\
         <location href=\"Packages/{}/{name}-{ver}-{rel}.{arch}.rpm\"/><format>\
         <rpm:license>MIT</rpm:license><rpm:vendor>Fedora Project</rpm:vendor>\
         <rpm:group>Unspecified</rpm:group><rpm:buildhost>buildvm-x86-01</rpm:buildhost>\
         <rpm:sourcerpm>{name}-{ver}-{rel}.src.rpm</rpm:sourcerpm>\
         <rpm:header-range start=\"4504\" end=\"{}\"/><rpm:provides>\
         <rpm:entry name=\"{name}\" flags=\"EQ\" epoch=\"0\" ver=\"{ver}\" rel=\"{rel}\"/>",
        rng.next(),
        rng.next(),
        rng.next(),
        i,
        size * 3,
        size * 3 + 1024,
        &name[..1],
        6000 + rng.below(90_000),
    );
    for _ in 0..rng.below(4) {
        let _ = write!(
            out,
            "<rpm:entry name=\"lib{}.so.{}()(64bit)\"/>",
            rng.word(),
            rng.below(9)
        );
    }
    out.push_str("</rpm:provides><rpm:requires>");
    for _ in 0..2 + rng.below(10) {
        let _ = write!(
            out,
            "<rpm:entry name=\"lib{}.so.{}()(64bit)\"/>",
            rng.word(),
            rng.below(9)
        );
    }
    out.push_str("<rpm:entry name=\"libc.so.6(GLIBC_2.34)(64bit)\"/></rpm:requires>");
    for _ in 0..rng.below(3) {
        let _ = write!(out, "<file>/usr/bin/{}</file>", rng.word());
    }
    out.push_str("</format></package>\n");
}
