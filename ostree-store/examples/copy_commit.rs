//! Copies one commit (everything it reaches) from one repository into
//! another of any mode with this crate's reader and writer, re-encoding each
//! metadata object and streaming each content object, in parallel.
//!
//! Usage: `copy_commit SRC_REPO REV DST_REPO MODE [REF]`
//! (used to measure writer throughput next to `ostree pull-local`).

use std::time::Instant;

use ostree_store::{ObjectType, Repo, RepoMode};
use rayon::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: copy_commit SRC_REPO REV DST_REPO MODE [REF]");
        std::process::exit(2);
    }
    let src = Repo::open(&args[1])?;
    let commit = src.resolve_rev(&args[2])?;
    let mode: RepoMode = args[4].parse()?;
    let dst = Repo::init(&args[3], mode)?;
    let start = Instant::now();
    let t = src.traverse_commit(&commit);
    if let Some((r, e)) = t.errors.first() {
        return Err(format!("{}: {e}", r.path).into());
    }
    let tx = dst.transaction()?;
    t.objects
        .par_iter()
        .try_for_each(|o| -> Result<(), ostree_store::Error> {
            match o.objtype {
                ObjectType::File => {
                    let (h, r) = src.read_file(&o.checksum)?;
                    tx.write_content_with_checksum(&o.checksum, &h, r)?;
                }
                ObjectType::Commit => {}
                t => {
                    let b = src.read_metadata(t, &o.checksum)?;
                    tx.write_metadata(t, &b)?;
                }
            }
            Ok(())
        })?;
    let b = src.read_metadata(ObjectType::Commit, &commit)?;
    tx.write_metadata(ObjectType::Commit, &b)?;
    tx.commit()?;
    if let Some(r) = args.get(5) {
        dst.set_ref(r, Some(&commit))?;
    }
    println!(
        "{commit}: {} objects in {:.2}s",
        t.objects.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
