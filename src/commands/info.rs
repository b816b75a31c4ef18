//! `jigdo info`: the commit, version, pinned set and sizes of a jigdo RPM.

use std::path::PathBuf;

use clap::Args;

/// Arguments of `jigdo info`.
#[derive(Args)]
pub struct InfoArgs {
    /// The jigdo RPM.
    #[arg(value_name = "JIGDO_RPM")]
    pub jigdo_rpm: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `jigdo info`.
pub fn run(args: InfoArgs) -> anyhow::Result<i32> {
    if jigdo_unpack::is_delta_rpm(&args.jigdo_rpm)? {
        let r = jigdo_unpack::delta_info(&args.jigdo_rpm)?;
        if args.json {
            crate::output::print_json(&r)?;
            return Ok(0);
        }
        println!("delta RPM:  {} ({})", r.path.display(), r.nevra);
        println!("base:       {}", r.base);
        println!("commit:     {}", r.commit);
        println!("version:    {}", r.version.as_deref().unwrap_or("(none)"));
        println!("for:        {} (the jigdo RPM name)", r.jigdo_name);
        println!(
            "contents:   {} metadata objects, {} content objects ({} whole, {} bytes; {} patched, {} bytes of patches; of those {} zstd objects patched decompressed, {} bytes)",
            r.metadata_objects, r.content_objects, r.whole_objects, r.whole_bytes, r.patched_objects, r.patch_bytes,
            r.recompressed_objects, r.recompressed_patch_bytes
        );
        println!("size:       {} bytes", r.rpm_size);
        return Ok(0);
    }
    let r = jigdo_unpack::info(&args.jigdo_rpm)?;
    if args.json {
        crate::output::print_json(&r)?;
        return Ok(0);
    }
    println!(
        "jigdo RPM:  {} ({}-{}.{})",
        r.path.display(),
        r.name,
        r.evr,
        r.arch
    );
    println!("commit:     {}", r.commit);
    println!("version:    {}", r.version.as_deref().unwrap_or("(none)"));
    println!("subject:    {}", r.subject);
    if let Some(p) = &r.parent {
        println!("parent:     {p}");
    }
    println!(
        "detached metadata: {}",
        if r.has_detached_metadata { "yes" } else { "no" }
    );
    println!(
        "tree:       {} files ({} from packages), {} directories",
        r.files, r.files_from_packages, r.directories
    );
    println!(
        "new content: {} distinct, {} bytes",
        r.new_contents, r.new_content_bytes
    );
    println!(
        "sizes:      jigdo RPM {} bytes; index {} bytes; commit {} bytes; detached metadata {} bytes; {:.1} metadata bytes per file",
        r.rpm_size, r.index_bytes, r.commit_bytes, r.commitmeta_bytes, r.metadata_bytes_per_file
    );
    println!(
        "set:        {} packages, {} bytes",
        r.packages.len(),
        r.packages_bytes
    );
    for p in &r.packages {
        println!("  {}  {}  {} bytes", p.nevra, p.id, p.size);
    }
    Ok(0)
}
