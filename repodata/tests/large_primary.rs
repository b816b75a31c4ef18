//! A distribution-sized primary.xml (70,000 packages, zstd-compressed) is read
//! as a stream in bounded memory, an index of a few of its packages stays that small,
//! and the query index over all of it answers correctly.

use repodata::compress::{Compression, Encoder};
use repodata::{PrimaryReader, RepoIndex};
use std::io::{Read, Write};
use std::path::Path;

const PACKAGES: usize = 70_000;

/// Generates primary.xml for `PACKAGES` packages on the fly.
struct Generator {
    next: usize,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Generator {
    fn refill(&mut self) {
        self.buf.clear();
        self.pos = 0;
        if self.next == 0 {
            write!(self.buf, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"{PACKAGES}\">\n").unwrap();
        }
        if self.next >= PACKAGES {
            if !self.done {
                self.buf.extend_from_slice(b"</metadata>\n");
                self.done = true;
            }
            return;
        }
        let i = self.next;
        self.next += 1;
        let name = format!("pkg{}", i % 35_000);
        let ver = i / 35_000 + 1;
        write!(
            self.buf,
            r#"<package type="rpm"><name>{name}</name><arch>x86_64</arch><version epoch="0" ver="{ver}.0" rel="1"/>
<checksum type="sha256" pkgid="YES">{i:064x}</checksum><summary>Package {i}</summary>
<description>A long enough description of package number {i} so that the document is large.</description>
<packager>p</packager><url>https://example.com/{i}</url><time file="1" build="2"/><size package="{i}" installed="2" archive="3"/>
<location href="Packages/{name}-{ver}.0-1.x86_64.rpm"/><format><rpm:license>MIT</rpm:license><rpm:vendor/><rpm:group>g</rpm:group>
<rpm:buildhost>h</rpm:buildhost><rpm:sourcerpm>{name}.src.rpm</rpm:sourcerpm><rpm:header-range start="4504" end="9000"/>
<rpm:provides><rpm:entry name="{name}" flags="EQ" epoch="0" ver="{ver}.0" rel="1"/><rpm:entry name="cap-{i}"/></rpm:provides>
<rpm:requires><rpm:entry name="libc.so.6()(64bit)"/><rpm:entry name="pkg{}" flags="GE" epoch="0" ver="1.0"/></rpm:requires>
<file>/usr/bin/{name}</file></format></package>
"#,
            (i + 1) % 35_000
        )
        .unwrap();
    }
}

impl Read for Generator {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.buf.len() {
            self.refill();
            if self.buf.is_empty() {
                return Ok(0);
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn peak_rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn seventy_thousand_packages_stream_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("primary.xml.zst");
    let mut total = 0u64;
    {
        let f = std::fs::File::create(&path).unwrap();
        let mut enc = Encoder::new(f, Compression::Zstd).unwrap();
        let mut g = Generator {
            next: 0,
            buf: Vec::new(),
            pos: 0,
            done: false,
        };
        total += std::io::copy(&mut g, &mut enc).unwrap();
        enc.finish().unwrap();
    }
    assert!(total > 60_000_000, "document is only {total} bytes");

    let before = peak_rss_kib();
    let f = std::fs::File::open(&path).unwrap();
    let reader =
        PrimaryReader::new(repodata::compress::decoder(f).unwrap(), Path::new(&path)).unwrap();
    assert_eq!(reader.announced_count(), Some(PACKAGES as u64));
    let mut n = 0;
    for p in reader {
        let p = p.unwrap();
        assert_eq!(p.provides.len(), 2);
        n += 1;
    }
    assert_eq!(n, PACKAGES);
    let streamed = peak_rss_kib() - before;
    assert!(
        streamed < 32 * 1024,
        "streaming {total} bytes grew the peak RSS by {streamed} KiB"
    );

    // A client that needs a few packages (the primary fallback of an install) keeps
    // those only: the peak stays as low as plain streaming.
    let f = std::fs::File::open(&path).unwrap();
    let reader =
        PrimaryReader::new(repodata::compress::decoder(f).unwrap(), Path::new(&path)).unwrap();
    let few = RepoIndex::build_where(reader, |p| p.name == "pkg7" || p.name == "pkg34999").unwrap();
    assert_eq!(few.len(), 4);
    assert_eq!(few.newest("pkg7").unwrap().evr.version, "2.0");
    assert_eq!(few.by_name("pkg34999").len(), 2);
    assert!(few.by_name("pkg8").is_empty());
    let filtered = peak_rss_kib() - before;
    assert!(
        filtered < 32 * 1024,
        "indexing 4 of {PACKAGES} packages grew the peak RSS by {filtered} KiB"
    );

    // The index keeps only what queries need.
    let f = std::fs::File::open(&path).unwrap();
    let reader =
        PrimaryReader::new(repodata::compress::decoder(f).unwrap(), Path::new(&path)).unwrap();
    let idx = RepoIndex::build(reader).unwrap();
    assert_eq!(idx.len(), PACKAGES);
    assert_eq!(idx.newest("pkg7").unwrap().evr.version, "2.0");
    assert_eq!(idx.what_provides("cap-69999", None).len(), 1);
    let indexed = peak_rss_kib() - before;
    assert!(
        indexed < 256 * 1024,
        "the index of {PACKAGES} packages took {indexed} KiB"
    );
}
