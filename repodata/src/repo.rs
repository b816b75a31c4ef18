//! A local rpm-md repository (a directory with `repodata/repomd.xml`): opening,
//! verifying every metadata file against repomd.xml, and reading packages.

use crate::checksum::HashingReader;
use crate::compress::{decoder, Compression};
use crate::error::{io_err, Error, Result};
use crate::index::RepoIndex;
use crate::model::Package;
use crate::parse::{ExtraKind, ExtraReader, PrimaryReader};
use crate::repomd::{Repomd, RepomdRecord};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// A local repository.
#[derive(Debug, Clone)]
pub struct LocalRepo {
    root: PathBuf,
    repomd_path: PathBuf,
    repomd: Repomd,
}

/// A decoded metadata stream.
pub type MetaStream = Box<dyn BufRead>;

impl LocalRepo {
    /// Opens the repository at `root` (reads `root/repodata/repomd.xml`).
    pub fn open(root: &Path) -> Result<LocalRepo> {
        let repomd_path = root.join("repodata").join("repomd.xml");
        let repomd = Repomd::from_file(&repomd_path)?;
        Ok(LocalRepo {
            root: root.to_path_buf(),
            repomd_path,
            repomd,
        })
    }

    /// Opens the repository after verifying `repodata/repomd.xml.asc` with the
    /// public key(s) in `key`.
    #[cfg(feature = "signing")]
    pub fn open_signed(root: &Path, key: &Path) -> Result<LocalRepo> {
        let repomd_path = root.join("repodata").join("repomd.xml");
        let sig = root.join("repodata").join("repomd.xml.asc");
        let keys = crate::signature::load_public_keys(key)?;
        let data = std::fs::read(&repomd_path).map_err(io_err(&repomd_path))?;
        crate::signature::verify_detached(&data, &sig, &keys)?;
        let repomd = Repomd::parse(&data[..], &repomd_path)?;
        Ok(LocalRepo {
            root: root.to_path_buf(),
            repomd_path,
            repomd,
        })
    }

    /// The repository root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The parsed repomd.xml.
    pub fn repomd(&self) -> &Repomd {
        &self.repomd
    }

    /// Path of a record's file.
    pub fn record_path(&self, rec: &RepomdRecord) -> PathBuf {
        self.root.join(&rec.location_href)
    }

    fn open_record_file(&self, rec: &RepomdRecord) -> Result<(PathBuf, File)> {
        let path = self.record_path(rec);
        match File::open(&path) {
            Ok(f) => Ok((path, f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::MissingFile {
                path,
                repomd: self.repomd_path.clone(),
            }),
            Err(e) => Err(Error::Io { path, source: e }),
        }
    }

    /// Checks a record's file against repomd.xml: size and checksum of the
    /// stored file and, when recorded, of its decompressed content.
    pub fn verify_record(&self, rec: &RepomdRecord) -> Result<()> {
        let (path, f) = self.open_record_file(rec)?;
        let Some(sum) = &rec.checksum else {
            return Err(Error::Invalid {
                path: self.repomd_path.clone(),
                message: format!("record {} has no checksum", rec.data_type),
            });
        };
        let mut outer = HashingReader::new(BufReader::with_capacity(128 * 1024, f), sum.kind);
        let want_open = rec.open_checksum.is_some() || rec.open_size.is_some();
        let is_compressed = Compression::from_path(&path) != Compression::None;
        let mut decode_error = None;
        let inner_result = if want_open && is_compressed && !is_zck(&path) {
            let kind = rec
                .open_checksum
                .as_ref()
                .map(|c| c.kind)
                .unwrap_or(sum.kind);
            let dec = decoder(&mut outer).map_err(io_err(&path))?;
            let mut inner = HashingReader::new(dec, kind);
            match std::io::copy(&mut inner, &mut std::io::sink()) {
                Ok(_) => Some(inner.finish()),
                Err(e) => {
                    decode_error = Some(e);
                    None
                }
            }
        } else {
            None
        };
        // Hash whatever the decoder did not consume (trailing bytes).
        std::io::copy(&mut outer, &mut std::io::sink()).map_err(io_err(&path))?;
        let (got, size) = outer.finish();
        // The checksum decides; a size that disagrees is reported when it does
        // not match either (some generators write wrong sizes beside right sums).
        if got.hex != sum.hex {
            if let Some(want) = rec.size.filter(|&w| w != size) {
                return Err(Error::SizeMismatch {
                    path,
                    expected: want,
                    actual: size,
                });
            }
            return Err(Error::ChecksumMismatch {
                path,
                kind: "checksum",
                expected: sum.hex.clone(),
                actual: got.hex,
            });
        }
        if let Some(e) = decode_error {
            return Err(Error::Invalid {
                path,
                message: format!("cannot decompress: {e}"),
            });
        }
        if let Some((open_sum, open_size)) = inner_result {
            if let Some(want) = &rec.open_checksum {
                if want.hex != open_sum.hex {
                    if let Some(w) = rec.open_size.filter(|&w| w != open_size) {
                        return Err(Error::SizeMismatch {
                            path,
                            expected: w,
                            actual: open_size,
                        });
                    }
                    return Err(Error::ChecksumMismatch {
                        path,
                        kind: "open-checksum",
                        expected: want.hex.clone(),
                        actual: open_sum.hex,
                    });
                }
            }
        }
        Ok(())
    }

    /// Verifies every record of repomd.xml.
    pub fn verify_all(&self) -> Result<()> {
        for rec in &self.repomd.records {
            self.verify_record(rec)?;
        }
        Ok(())
    }

    fn record(&self, data_type: &str) -> Result<&RepomdRecord> {
        self.repomd
            .record(data_type)
            .ok_or_else(|| Error::MissingRecord {
                repomd: self.repomd_path.clone(),
                data_type: data_type.into(),
            })
    }

    /// Verifies and opens a record's decompressed content.
    pub fn open_verified(&self, data_type: &str) -> Result<(PathBuf, MetaStream)> {
        let rec = self.record(data_type)?;
        self.verify_record(rec)?;
        let (path, f) = self.open_record_file(rec)?;
        let dec = decoder(f).map_err(io_err(&path))?;
        Ok((path, dec))
    }

    /// Verified streaming reader of primary.xml.
    pub fn primary(&self) -> Result<PrimaryReader<MetaStream>> {
        let (path, s) = self.open_verified("primary")?;
        PrimaryReader::new(s, &path)
    }

    /// Verified streaming reader of filelists.xml.
    pub fn filelists(&self) -> Result<ExtraReader<MetaStream>> {
        let (path, s) = self.open_verified("filelists")?;
        ExtraReader::new(s, &path, ExtraKind::Filelists)
    }

    /// Verified streaming reader of other.xml.
    pub fn other(&self) -> Result<ExtraReader<MetaStream>> {
        let (path, s) = self.open_verified("other")?;
        ExtraReader::new(s, &path, ExtraKind::Other)
    }

    /// Builds the query index from the verified primary.xml.
    pub fn index(&self) -> Result<RepoIndex> {
        RepoIndex::build(self.primary()?)
    }

    /// Builds the query index of the packages of the verified primary.xml that `keep`
    /// accepts, streaming the rest ([`RepoIndex::build_where`]).
    pub fn index_where(&self, keep: impl FnMut(&Package) -> bool) -> Result<RepoIndex> {
        RepoIndex::build_where(self.primary()?, keep)
    }

    /// Reads every package completely (primary + filelists + other, joined by
    /// package id). Holds the whole repository in memory: for small
    /// repositories, tests and rewriting; use [`LocalRepo::primary`] to stream.
    pub fn load_all(&self) -> Result<Vec<Package>> {
        let mut pkgs: Vec<Package> = self.primary()?.collect::<Result<_>>()?;
        let mut by_id: HashMap<(String, String, String), usize> = HashMap::new();
        for (i, p) in pkgs.iter().enumerate() {
            by_id.insert((p.pkgid().to_string(), p.name.clone(), p.arch.clone()), i);
        }
        let mut join = |reader: ExtraReader<MetaStream>, files: bool| -> Result<()> {
            for e in reader {
                let e = e?;
                if let Some(&i) = by_id.get(&(e.pkgid.clone(), e.name.clone(), e.arch.clone())) {
                    if files {
                        pkgs[i].files = e.files;
                    } else {
                        pkgs[i].changelogs = e.changelogs;
                    }
                }
            }
            Ok(())
        };
        if self.repomd.record("filelists").is_some() {
            join(self.filelists()?, true)?;
        }
        if self.repomd.record("other").is_some() {
            join(self.other()?, false)?;
        }
        Ok(pkgs)
    }
}

fn is_zck(path: &Path) -> bool {
    path.to_string_lossy().ends_with(".zck")
}
