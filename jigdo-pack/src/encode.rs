//! Building the index from the chosen set and writing the jigdo RPM.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use jigdo_format::{
    Directory, FileEntry, Index, IndexBuilder, NewContent, PayloadFile, PinnedPackage, Source,
};
use ostree_store::{Checksum, Commit, Repo};
use rayon::prelude::*;

use crate::pool::Pool;
use crate::select::{Assignment, Selection};
use crate::tree::{Tree, TreeDir};
use crate::{PackError, PackOptions, PackReport};

/// The index but its pins (the builder and the root directory), plus, for each blob
/// number, the object whose bytes it stores. The files refer to the packages by their
/// place in [`Selection::packages`], the number [`finish_index`] gives each pin.
struct Encoded {
    builder: IndexBuilder,
    root: Directory,
    blob_objects: Vec<Checksum>,
    files_from_packages: usize,
    new_files: usize,
}

/// The index of `commit_id` from `builder` and `root` ([`encode_index`]), with `pins`
/// (one per package of the selection, in its order) as its package set.
fn finish_index(
    mut builder: IndexBuilder,
    root: Directory,
    commit_id: &Checksum,
    pins: Vec<PinnedPackage>,
) -> Index {
    for (n, pin) in pins.into_iter().enumerate() {
        // The number the tree's files use (`set_numbers`): the place in the selection.
        let number = builder.add_package(pin);
        debug_assert_eq!(number as usize, n);
    }
    builder.finish(commit_id.0, root)
}

/// Builds the index and writes the jigdo RPM; returns the report.
pub fn write(
    repo: &Repo,
    commit_id: &Checksum,
    commit: &Commit,
    tree: &Tree,
    pool: &Pool,
    selection: &Selection,
    opts: &PackOptions,
) -> Result<(PackReport, Vec<u8>), PackError> {
    let Encoded {
        builder,
        root,
        blob_objects,
        files_from_packages,
        new_files,
    } = encode_index(tree, pool, selection)?;
    let commit_bytes = repo.read_metadata(ostree_store::ObjectType::Commit, commit_id)?;
    let detached = repo.read_commit_detached_metadata(commit_id)?;

    let template = match &opts.spec {
        Some(path) => rpm_package::SpecTemplate::load(path)?,
        None => rpm_package::SpecTemplate::parse(crate::DEFAULT_SPEC, "specs/jigdo.spec")?,
    };
    let name = opts
        .name
        .clone()
        .or_else(|| template.name.clone())
        .unwrap_or_else(|| default_name(&opts.rev));
    let version = rpm_version(commit.version().as_deref());
    let hex = commit_id.to_hex();

    // New content is spooled into a temporary directory, one file per blob, so that the
    // RPM writer streams it from disk rather than from memory.
    std::fs::create_dir_all(&opts.output_dir).map_err(|e| PackError::io(&opts.output_dir, e))?;
    let spool = tempfile::Builder::new()
        .prefix(".jigdo-pack-")
        .tempdir_in(&opts.output_dir)
        .map_err(|e| PackError::io(&opts.output_dir, e))?;
    // The packages are pinned and the index compressed (level 19, one thread) while the
    // new contents are spooled: both come before the RPM is written, and neither needs
    // the other. Each pin hashes a whole package file: in the read pool, as many cold
    // reads are in flight as it has threads.
    let (index, blob_paths) = rayon::join(
        || -> Result<(Index, Vec<u8>), PackError> {
            let pins = ostree_store::with_io_pool(|| pin_packages(pool, &selection.packages))?;
            let index = finish_index(builder, root, commit_id, pins);
            let bytes = index.encode()?;
            Ok((index, bytes))
        },
        || -> Result<Vec<PathBuf>, PackError> {
            blob_objects
                .par_iter()
                .enumerate()
                .map(|(n, object)| {
                    let path = spool.path().join(format!("{n:08}"));
                    let (_, mut content) = repo.read_file(object)?;
                    let mut out =
                        std::fs::File::create(&path).map_err(|e| PackError::io(&path, e))?;
                    std::io::copy(&mut content, &mut out).map_err(|e| PackError::io(&path, e))?;
                    out.flush().map_err(|e| PackError::io(&path, e))?;
                    Ok(path)
                })
                .collect()
        },
    );
    let ((index, index_bytes), blob_paths) = (index?, blob_paths?);
    let arch = set_arch(&index.packages);

    let mut b = rpm_package::PackageBuilder::new(&name, &version, &opts.release, &arch);
    b.apply_template(&template);
    // The build time is the commit's timestamp: the same commit packs into the
    // same header, and the repository's `jigdo` record lists it as the commit's.
    if let Ok(t) = u32::try_from(commit.timestamp) {
        b.source_date(t);
    }
    b.provides(jigdo_format::FORMAT_PROVIDE, None);
    b.provides(&jigdo_format::commit_provide(&hex), None);
    for pin in &index.packages {
        let req = pin.requirement();
        b.requires_equal(&req.name, &req.evr);
    }
    b.add_file_bytes(&PayloadFile::Commit.path(&hex), commit_bytes.clone(), 0o644);
    if let Some(d) = &detached {
        b.add_file_bytes(&PayloadFile::CommitMeta.path(&hex), d.clone(), 0o644);
    }
    b.add_file_bytes(&PayloadFile::Index.path(&hex), index_bytes.clone(), 0o644);
    for (n, p) in blob_paths.iter().enumerate() {
        b.add_file_path(&PayloadFile::Content(n as u32).path(&hex), p, 0o644);
    }
    let file_name = format!("{name}-{version}-{}.{arch}.rpm", opts.release);
    let out_path = opts.output_dir.join(&file_name);
    b.write_to(&out_path, opts.sign_key.as_deref())?;
    let rpm_size = std::fs::metadata(&out_path)
        .map_err(|e| PackError::io(&out_path, e))?
        .len();

    let files = tree.file_count();
    let metadata = index_bytes.len() + commit_bytes.len() + detached.as_ref().map_or(0, Vec::len);
    let new_content_bytes = index
        .new_contents
        .iter()
        .map(|c| match c {
            NewContent::Blob { size, .. } => *size,
            NewContent::Symlink { .. } => 0,
        })
        .sum();
    let report = PackReport {
        rpm: out_path,
        name,
        version,
        release: opts.release.clone(),
        arch,
        commit: hex,
        packages: index.packages.iter().map(PinnedPackage::nevra).collect(),
        files,
        directories: index.dir_count(),
        files_from_packages,
        new_files,
        new_contents: index.new_contents.len(),
        new_content_bytes,
        rpm_size,
        index_bytes: index_bytes.len() as u64,
        metadata_bytes_per_file: metadata as f64 / files.max(1) as f64,
        deltas: Vec::new(),
    };
    Ok((report, index_bytes))
}

/// Pins each chosen package: NEVRA from its header, id and size from its file.
fn pin_packages(pool: &Pool, chosen: &[u32]) -> Result<Vec<PinnedPackage>, PackError> {
    chosen
        .par_iter()
        .map(|&p| {
            let pkg = &pool.packages[p as usize];
            let h = &pkg.header;
            let id_hex = rpm_package::package_id(&pkg.path)?;
            let mut id = [0u8; 32];
            hex::decode_to_slice(&id_hex, &mut id)
                .map_err(|_| PackError::Invalid(format!("bad package id {id_hex:?}")))?;
            let size = std::fs::metadata(&pkg.path)
                .map_err(|e| PackError::io(&pkg.path, e))?
                .len();
            Ok(PinnedPackage {
                name: h.name.clone(),
                epoch: h.epoch.unwrap_or(0).into(),
                version: h.version.clone(),
                release: h.release.clone(),
                arch: h.arch.clone(),
                id,
                size,
                location: pkg.href.clone(),
            })
        })
        .collect()
}

/// Encodes the tree of the index (everything but the pins, [`finish_index`]).
fn encode_index(tree: &Tree, pool: &Pool, selection: &Selection) -> Result<Encoded, PackError> {
    let set_number = set_numbers(&selection.packages);
    let mut state = EncodeState {
        b: IndexBuilder::new(),
        set_number,
        pool,
        tree,
        assignments: selection.assignments.iter(),
        blob_objects: Vec::new(),
        files_from_packages: 0,
        new_files: 0,
    };
    let root = state.dir(&tree.root)?;
    Ok(Encoded {
        builder: state.b,
        root,
        blob_objects: state.blob_objects,
        files_from_packages: state.files_from_packages,
        new_files: state.new_files,
    })
}

/// Each chosen pool package's number in the set: its place in `chosen`, the order the
/// pins are added to the index in.
fn set_numbers(chosen: &[u32]) -> HashMap<u32, u32> {
    chosen
        .iter()
        .enumerate()
        .map(|(n, &pool_pkg)| (pool_pkg, n as u32))
        .collect()
}

struct EncodeState<'a> {
    b: IndexBuilder,
    set_number: HashMap<u32, u32>,
    pool: &'a Pool,
    tree: &'a Tree,
    assignments: std::slice::Iter<'a, Assignment>,
    blob_objects: Vec<Checksum>,
    files_from_packages: usize,
    new_files: usize,
}

impl EncodeState<'_> {
    /// Encodes `dir`, consuming assignments in the same depth-first order `select` made them.
    fn dir(&mut self, dir: &TreeDir) -> Result<Directory, PackError> {
        let meta = self
            .b
            .meta(dir.meta.uid, dir.meta.gid, dir.meta.mode, &dir.meta.xattrs);
        let mut files = Vec::with_capacity(dir.files.len());
        for (name, checksum) in &dir.files {
            let obj = self.tree.objects.get(checksum).ok_or_else(|| {
                PackError::Invalid(format!("content object {checksum} was not digested"))
            })?;
            let h = &obj.header;
            let meta = self.b.meta(h.uid, h.gid, h.mode, &h.xattrs);
            let assignment = self
                .assignments
                .next()
                .ok_or_else(|| PackError::Invalid("tree and selection disagree".into()))?;
            let source = match *assignment {
                Assignment::Package { file, same_path } => {
                    self.files_from_packages += 1;
                    let package = self.set_number[&file.package];
                    let path = (!same_path).then(|| self.pool.file(file).path.clone());
                    Source::Package { package, path }
                }
                Assignment::New => {
                    self.new_files += 1;
                    let content = if h.is_symlink() {
                        NewContent::Symlink {
                            target: h.symlink_target.clone(),
                        }
                    } else {
                        NewContent::Blob {
                            size: obj.size,
                            sha256: obj.sha256,
                        }
                    };
                    let is_blob = matches!(content, NewContent::Blob { .. });
                    let (n, added) = self.b.new_content(content);
                    if added && is_blob {
                        self.blob_objects.push(*checksum);
                    }
                    Source::New(n)
                }
            };
            files.push(FileEntry {
                name: name.clone(),
                source,
                meta,
            });
        }
        let mut dirs = Vec::with_capacity(dir.dirs.len());
        for (name, sub) in &dir.dirs {
            dirs.push((name.clone(), self.dir(sub)?));
        }
        Ok(Directory { meta, files, dirs })
    }
}

/// The commit's `version` made valid as an RPM version.
pub fn rpm_version(version: Option<&str>) -> String {
    match version {
        Some(v) if !v.is_empty() => v
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._+~^".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect(),
        _ => "0".into(),
    }
}

/// The default package name for a revision: a ref with `/` as `-`.
fn default_name(rev: &str) -> String {
    let name: String = rev
        .rsplit(':')
        .next()
        .unwrap_or(rev)
        .chars()
        .map(|c| if c == '/' { '-' } else { c })
        .collect();
    if name.is_empty() {
        "ostree-commit".into()
    } else {
        name
    }
}

/// The arch of the set's arch-specific packages when they agree, else `noarch`.
fn set_arch(pins: &[PinnedPackage]) -> String {
    let mut arches = pins
        .iter()
        .map(|p| p.arch.as_str())
        .filter(|a| *a != "noarch");
    match arches.next() {
        Some(first) if arches.all(|a| a == first) => first.to_owned(),
        _ => "noarch".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_made_valid_for_rpm() {
        assert_eq!(rpm_version(Some("39.20231101.0")), "39.20231101.0");
        assert_eq!(rpm_version(Some("1.0-beta 2")), "1.0_beta_2");
        assert_eq!(rpm_version(None), "0");
    }

    fn pin(name: &str) -> PinnedPackage {
        PinnedPackage {
            name: name.into(),
            epoch: 0,
            version: "1".into(),
            release: "1".into(),
            arch: "x86_64".into(),
            id: [name.len() as u8; 32],
            size: 1,
            location: format!("{name}.rpm"),
        }
    }

    #[test]
    fn pins_added_after_the_tree_get_the_numbers_its_files_use() {
        // Pool packages 7, 3 and 5 chosen in that order: set numbers 0, 1, 2.
        let chosen = [7u32, 3, 5];
        let numbers = set_numbers(&chosen);
        assert_eq!(numbers.len(), 3);
        assert_eq!((numbers[&7], numbers[&3], numbers[&5]), (0, 1, 2));
        let mut b = IndexBuilder::new();
        let meta = b.meta(0, 0, 0o100644, &Default::default());
        let file = |name: &str, pool_pkg: u32| FileEntry {
            name: name.into(),
            source: Source::Package {
                package: numbers[&pool_pkg],
                path: None,
            },
            meta,
        };
        let root = Directory {
            meta,
            files: vec![file("a", 5), file("b", 7), file("c", 3)],
            dirs: Vec::new(),
        };
        let commit = Checksum([9; 32]);
        let index = finish_index(b, root, &commit, vec![pin("p7"), pin("p3"), pin("p5")]);
        let named: Vec<(&str, &str)> = index
            .root
            .files
            .iter()
            .map(|f| match f.source {
                Source::Package { package, .. } => (
                    f.name.as_str(),
                    index.packages[package as usize].name.as_str(),
                ),
                Source::New(_) => (f.name.as_str(), "new"),
            })
            .collect();
        assert_eq!(named, [("a", "p5"), ("b", "p7"), ("c", "p3")]);
        assert_eq!(index.commit, [9; 32]);
        // It encodes and decodes to itself.
        let bytes = index.encode().unwrap();
        assert_eq!(Index::decode(&bytes).unwrap(), index);
    }

    #[test]
    fn default_name_comes_from_the_ref() {
        assert_eq!(default_name("fedora/x86_64/iot"), "fedora-x86_64-iot");
        assert_eq!(default_name("origin:os/stable"), "os-stable");
    }
}
