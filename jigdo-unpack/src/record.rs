//! The install record: what a repository knows about each commit jigdo put there, so
//! that `jigdo status` and `jigdo diff` need neither the jigdo RPM nor the network later.
//!
//! For commit `C` the record is `REPO/extensions/jigdo/commits/C.json` (an
//! [`InstallRecord`]) and, beside it, `C.index`: the commit's jigdo index
//! (`jigdo_format::Index`, encoded as in the jigdo RPM). Both are written after the
//! commit is complete, each atomically (temporary file, then rename); the index first,
//! so a `.json` always has its `.index`. `jigdo install` and `jigdo unpack` are the only
//! writers, both through [`PendingRecord::write`].

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use jigdo_format::Index;
use serde::{Deserialize, Serialize};

use crate::error::{IoContext, Result, UnpackError};
use crate::jigdo_rpm::JigdoRpm;

/// Largest `.json` record read (it is held in memory).
const MAX_RECORD_FILE: u64 = 64 << 20;
/// Largest `.index` read (as for the index inside a jigdo RPM).
const MAX_INDEX_FILE: u64 = 1 << 30;

/// One package of a recorded commit's pinned set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedPackage {
    /// `name-[epoch:]version-release.arch`.
    pub nevra: String,
    /// Package name.
    pub name: String,
    /// Epoch (0 when none).
    pub epoch: u64,
    /// Version.
    pub version: String,
    /// Release.
    pub release: String,
    /// Architecture.
    pub arch: String,
    /// SHA-256 of the package file (its pin), lowercase hex.
    pub sha256: String,
    /// Size of the package file.
    pub size: u64,
}

/// What jigdo knew when it put a commit into a repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallRecord {
    /// The commit checksum.
    pub commit: String,
    /// The NEVRA of the jigdo RPM it came from.
    pub jigdo_rpm: String,
    /// Size of that jigdo RPM file.
    pub jigdo_rpm_size: u64,
    /// The commit's `version` metadata, if any.
    pub version: Option<String>,
    /// The commit's subject.
    pub subject: String,
    /// The commit's timestamp (seconds since the epoch, UTC).
    pub timestamp: u64,
    /// The parent commit, if any.
    pub parent: Option<String>,
    /// The pinned package set.
    pub packages: Vec<RecordedPackage>,
    /// Where the jigdo RPM came from: a source name (SOURCE or `.repo` section id), or
    /// the path of the file given.
    pub source: String,
    /// What authenticated the jigdo RPM (e.g. the key that signed it); `None` when
    /// nothing did.
    pub verified_by: Option<String>,
}

impl InstallRecord {
    /// The record of `jigdo`, which came from `source` and was authenticated by
    /// `verified_by`.
    pub fn of(jigdo: &JigdoRpm, source: String, verified_by: Option<String>) -> InstallRecord {
        let c = &jigdo.commit_object;
        InstallRecord {
            commit: jigdo.commit.to_hex(),
            jigdo_rpm: jigdo.nevra(),
            jigdo_rpm_size: jigdo.file_size,
            version: c.version(),
            subject: c.subject.clone(),
            timestamp: c.timestamp,
            parent: c.parent.map(|p| p.to_hex()),
            packages: jigdo
                .index
                .packages
                .iter()
                .map(|p| RecordedPackage {
                    nevra: p.nevra(),
                    name: p.name.clone(),
                    epoch: p.epoch,
                    version: p.version.clone(),
                    release: p.release.clone(),
                    arch: p.arch.clone(),
                    sha256: p.id_hex(),
                    size: p.size,
                })
                .collect(),
            source,
            verified_by,
        }
    }

    /// The record of `commit_hex` in the repository at `repo`, if jigdo wrote one.
    pub fn load(repo: &Path, commit_hex: &str) -> Result<Option<InstallRecord>> {
        let path = record_path(repo, commit_hex, "json")?;
        let Some(data) = read_bounded(&path, MAX_RECORD_FILE)? else {
            return Ok(None);
        };
        let record: InstallRecord = serde_json::from_slice(&data).map_err(|e| bad(&path, e))?;
        if record.commit != commit_hex {
            return Err(bad(&path, format!("it is for commit {}", record.commit)));
        }
        Ok(Some(record))
    }

    /// The jigdo index recorded beside the record of `commit_hex`.
    pub fn load_index(repo: &Path, commit_hex: &str) -> Result<Index> {
        let path = record_path(repo, commit_hex, "index")?;
        let data = read_bounded(&path, MAX_INDEX_FILE)?
            .ok_or_else(|| bad(&path, "the file is missing"))?;
        let index = Index::decode(&data).map_err(|e| bad(&path, e))?;
        if index.commit_hex() != commit_hex {
            return Err(bad(
                &path,
                format!("it is for commit {}", index.commit_hex()),
            ));
        }
        Ok(index)
    }
}

/// A record made before the commit is written, for [`PendingRecord::write`] once it is.
pub struct PendingRecord {
    /// The record.
    pub record: InstallRecord,
    index: Vec<u8>,
}

impl PendingRecord {
    /// The record of `jigdo` (see [`InstallRecord::of`]) with its encoded index: the
    /// `2-index` bytes of the jigdo RPM, which decoded into `jigdo.index` (compressing
    /// the index again cost 0.4 s at 131,000 files).
    pub fn new(
        jigdo: &JigdoRpm,
        source: String,
        verified_by: Option<String>,
    ) -> Result<PendingRecord> {
        Ok(PendingRecord {
            record: InstallRecord::of(jigdo, source, verified_by),
            index: jigdo.index_zstd.clone(),
        })
    }

    /// Writes the `.index` and then the `.json` into `repo`, each atomically.
    pub fn write(&self, repo: &Path) -> Result<()> {
        let commit = &self.record.commit;
        let json = serde_json::to_vec_pretty(&self.record)
            .map_err(|e| bad(&record_path(repo, commit, "json").unwrap_or_default(), e))?;
        write_atomic(&record_path(repo, commit, "index")?, &self.index)?;
        write_atomic(&record_path(repo, commit, "json")?, &json)
    }
}

/// `REPO/extensions/jigdo/commits`.
pub fn records_dir(repo: &Path) -> PathBuf {
    crate::unpack::state_dir(repo).join("commits")
}

/// The record file of `commit_hex` with extension `ext`; the checksum is checked to be
/// 64 lowercase hex digits, as it becomes a file name.
fn record_path(repo: &Path, commit_hex: &str, ext: &str) -> Result<PathBuf> {
    let dir = records_dir(repo);
    if commit_hex.len() != 64
        || !commit_hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(bad(
            &dir,
            format!("{commit_hex:?} is not a commit checksum"),
        ));
    }
    Ok(dir.join(format!("{commit_hex}.{ext}")))
}

fn bad(path: &Path, reason: impl ToString) -> UnpackError {
    UnpackError::Record {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// The file at `path` (`None` if absent), refused when bigger than `max`.
fn read_bounded(path: &Path, max: u64) -> Result<Option<Vec<u8>>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).at(path),
    };
    let mut data = Vec::new();
    file.take(max + 1).read_to_end(&mut data).at(path)?;
    if data.len() as u64 > max {
        return Err(bad(path, format!("bigger than {max} bytes")));
    }
    Ok(Some(data))
}

fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().ok_or(UnpackError::Internal("record path"))?;
    std::fs::create_dir_all(dir).at(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).at(dir)?;
    tmp.write_all(data).at(tmp.path().to_path_buf())?;
    tmp.as_file().sync_all().at(path)?;
    tmp.persist(path).map_err(|e| e.error).at(path)?;
    Ok(())
}
