//! Object checksums and object types.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// A SHA-256 object checksum (OSTree object name).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Checksum(pub [u8; 32]);

impl Checksum {
    /// SHA-256 of `bytes` (how metadata object names are computed).
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Checksum(Sha256::digest(bytes).into())
    }

    /// The 64-character lowercase hex form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Builds a checksum from a 32-byte slice (as stored in GVariant `ay`).
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Checksum)
    }

    /// Whether `s` is a valid 64-character lowercase hex checksum.
    pub fn is_valid_hex(s: &str) -> bool {
        s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Checksum({})", self.to_hex())
    }
}

/// A string that is not a 64-character lowercase hex SHA-256.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid checksum {0:?}: expected 64 lowercase hex digits")]
pub struct ChecksumParseError(pub String);

impl FromStr for Checksum {
    type Err = ChecksumParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // One pass, lowercase only (package caches and object listings parse a name per
        // object: 260,000 at desktop scale).
        fn nibble(b: u8) -> Option<u8> {
            match b {
                b'0'..=b'9' => Some(b - b'0'),
                b'a'..=b'f' => Some(b - b'a' + 10),
                _ => None,
            }
        }
        let bytes = s.as_bytes();
        let mut out = [0u8; 32];
        if bytes.len() != 64 {
            return Err(ChecksumParseError(s.to_string()));
        }
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            match (nibble(pair[0]), nibble(pair[1])) {
                (Some(h), Some(l)) => *o = h << 4 | l,
                _ => return Err(ChecksumParseError(s.to_string())),
            }
        }
        Ok(Checksum(out))
    }
}

impl serde::Serialize for Checksum {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Checksum {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The kinds of OSTree objects (numbering as in libostree's `OstreeObjectType`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum ObjectType {
    /// Content object: a regular file or symlink with its metadata.
    File = 1,
    /// Directory listing (`(a(say)a(sayay))`).
    DirTree = 2,
    /// Directory metadata (`(uuua(ayay))`).
    DirMeta = 3,
    /// Commit (`(a{sv}aya(say)sstayay)`).
    Commit = 4,
    /// Marker for a deleted commit.
    TombstoneCommit = 5,
    /// Detached commit metadata (`a{sv}`).
    CommitMeta = 6,
    /// Symlink to a file object (payload link).
    PayloadLink = 7,
    /// Extended attributes of a file object (bare-split-xattrs).
    FileXattrs = 8,
    /// Hard link to a file-xattrs object (bare-split-xattrs).
    FileXattrsLink = 9,
}

impl ObjectType {
    /// File name extension of the loose object; `archive` selects `filez`
    /// for content objects.
    pub fn extension(self, archive: bool) -> &'static str {
        match self {
            ObjectType::File if archive => "filez",
            ObjectType::File => "file",
            ObjectType::DirTree => "dirtree",
            ObjectType::DirMeta => "dirmeta",
            ObjectType::Commit => "commit",
            ObjectType::TombstoneCommit => "commit-tombstone",
            ObjectType::CommitMeta => "commitmeta",
            ObjectType::PayloadLink => "payload-link",
            ObjectType::FileXattrs => "file-xattrs",
            ObjectType::FileXattrsLink => "file-xattrs-link",
        }
    }

    /// The object type for a loose-object extension (`file` and `filez` both
    /// map to [`ObjectType::File`]).
    pub fn from_extension(ext: &str) -> Option<Self> {
        Some(match ext {
            "file" | "filez" => ObjectType::File,
            "dirtree" => ObjectType::DirTree,
            "dirmeta" => ObjectType::DirMeta,
            "commit" => ObjectType::Commit,
            "commit-tombstone" => ObjectType::TombstoneCommit,
            "commitmeta" => ObjectType::CommitMeta,
            "payload-link" => ObjectType::PayloadLink,
            "file-xattrs" => ObjectType::FileXattrs,
            "file-xattrs-link" => ObjectType::FileXattrsLink,
            _ => return None,
        })
    }

    /// Whether the object is a metadata object, named by the SHA-256 of its bytes.
    pub fn is_meta(self) -> bool {
        !matches!(self, ObjectType::File)
    }

    /// Short name as libostree prints it (`file`, `dirtree`, …).
    pub fn name(self) -> &'static str {
        self.extension(false)
    }
}

/// Serialized as libostree's name (`file`, `dirtree`, `commitmeta`, …).
impl serde::Serialize for ObjectType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_roundtrip() {
        let c = Checksum::of_bytes(b"");
        let s = c.to_string();
        assert_eq!(
            s,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(s.parse::<Checksum>().unwrap(), c);
        assert!("E3B0".parse::<Checksum>().is_err());
        assert!(s.to_uppercase().parse::<Checksum>().is_err());
        for bad in [
            &s[..63],
            &format!("{s}0"),
            &format!("{}g", &s[..63]),
            &format!("{}/", &s[..63]),
        ] {
            assert!(bad.parse::<Checksum>().is_err(), "{bad}");
        }
        // A multi-byte character where a digit pair should be.
        assert!(format!("é{}", &s[2..]).parse::<Checksum>().is_err());
        for i in 0..=255u8 {
            let c = Checksum([i; 32]);
            assert_eq!(c.to_hex().parse::<Checksum>().unwrap(), c);
        }
    }

    #[test]
    fn extensions() {
        for t in [
            ObjectType::File,
            ObjectType::DirTree,
            ObjectType::DirMeta,
            ObjectType::Commit,
            ObjectType::TombstoneCommit,
            ObjectType::CommitMeta,
        ] {
            assert_eq!(ObjectType::from_extension(t.extension(false)), Some(t));
        }
        assert_eq!(ObjectType::File.extension(true), "filez");
    }
}
