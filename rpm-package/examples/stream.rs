//! Stream the payload of each package given on the command line, checking every digest;
//! prints entries, content bytes and MB/s per package. Used by mirror-tests/bench.
//!
//!     cargo run --release -p rpm-package --example stream -- PKG.rpm...

use std::io::Read;
use std::time::Instant;

fn main() {
    let mut failed = false;
    for path in std::env::args().skip(1) {
        let start = Instant::now();
        match stream(&path) {
            Ok((entries, bytes)) => {
                let secs = start.elapsed().as_secs_f64();
                println!(
                    "{path}: {entries} entries, {bytes} content bytes, {secs:.3} s, {:.1} MB/s",
                    bytes as f64 / secs / 1e6
                );
            }
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    std::process::exit(i32::from(failed));
}

fn stream(path: &str) -> Result<(usize, u64), Box<dyn std::error::Error>> {
    let mut r = rpm_package::PayloadReader::open(path)?;
    let mut buf = vec![0u8; 256 * 1024];
    let (mut entries, mut bytes) = (0, 0u64);
    while let Some(mut e) = r.next_entry()? {
        loop {
            let n = e.read(&mut buf)?;
            if n == 0 {
                break;
            }
            bytes += n as u64;
        }
        entries += 1;
    }
    Ok((entries, bytes))
}
