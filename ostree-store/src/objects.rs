//! Encodings of OSTree objects: commit, dirtree, dirmeta, detached metadata and
//! file-object headers, plus the content checksum exactly as libostree computes it.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use crate::checksum::Checksum;
use crate::gvariant::{self as gv, GvError, Member, U32, U64, VAR1, VAR8};

/// File type bits of `st_mode`.
pub const S_IFMT: u32 = 0o170000;
/// Regular file type bits.
pub const S_IFREG: u32 = 0o100000;
/// Symbolic link type bits.
pub const S_IFLNK: u32 = 0o120000;
/// Directory type bits.
pub const S_IFDIR: u32 = 0o040000;

fn var(data: &[u8]) -> Member<'_> {
    Member {
        data,
        align: 1,
        fixed: false,
    }
}

fn checksum_field(data: &[u8], what: &str) -> Result<Checksum, GvError> {
    Checksum::from_slice(data)
        .ok_or_else(|| GvError(format!("{what} is {} bytes, not 32", data.len())))
}

/// Checks a file name from a dirtree the way libostree does: not empty, not
/// `.` or `..`, no `/` (and, for our safety, no NUL).
pub fn validate_filename(name: &str) -> Result<(), GvError> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(GvError(format!("invalid file name {name:?} in dirtree")));
    }
    Ok(())
}

/// A commit object (`(a{sv}aya(say)sstayay)`).
///
/// `metadata` (`a{sv}`) and `related` (`a(say)`) are kept as the raw serialized
/// bytes so that [`Commit::encode`] reproduces the original object exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    /// Serialized `a{sv}` commit metadata.
    pub metadata: Vec<u8>,
    /// Parent commit, if any.
    pub parent: Option<Checksum>,
    /// Serialized `a(say)` related objects (normally empty).
    pub related: Vec<u8>,
    /// One-line subject.
    pub subject: String,
    /// Body text.
    pub body: String,
    /// Seconds since the epoch (stored big-endian in the object).
    pub timestamp: u64,
    /// Root dirtree checksum.
    pub root_tree: Checksum,
    /// Root dirmeta checksum.
    pub root_meta: Checksum,
}

impl Commit {
    /// Decodes a commit object.
    pub fn decode(data: &[u8]) -> Result<Self, GvError> {
        let m = gv::read_tuple(data, &[VAR8, VAR1, VAR1, VAR1, VAR1, U64, VAR1, VAR1])?;
        // Validate the metadata dictionary shape now, so later lookups cannot fail oddly.
        parse_metadata(m[0])?;
        let parent = match m[1].len() {
            0 => None,
            _ => Some(checksum_field(m[1], "parent checksum")?),
        };
        let mut ts = [0u8; 8];
        ts.copy_from_slice(m[5]);
        Ok(Commit {
            metadata: m[0].to_vec(),
            parent,
            related: m[2].to_vec(),
            subject: gv::read_str(m[3])?.to_string(),
            body: gv::read_str(m[4])?.to_string(),
            timestamp: u64::from_be_bytes(ts),
            root_tree: checksum_field(m[6], "root tree checksum")?,
            root_meta: checksum_field(m[7], "root meta checksum")?,
        })
    }

    /// Encodes the commit object.
    pub fn encode(&self) -> Vec<u8> {
        let parent = self.parent.map(|c| c.0.to_vec()).unwrap_or_default();
        let subject = gv::write_str(&self.subject);
        let body = gv::write_str(&self.body);
        let ts = self.timestamp.to_be_bytes();
        gv::write_tuple(&[
            Member {
                data: &self.metadata,
                align: 8,
                fixed: false,
            },
            var(&parent),
            var(&self.related),
            var(&subject),
            var(&body),
            Member {
                data: &ts,
                align: 8,
                fixed: true,
            },
            var(&self.root_tree.0),
            var(&self.root_meta.0),
        ])
    }

    /// The commit's checksum (SHA-256 of its encoding).
    pub fn checksum(&self) -> Checksum {
        Checksum::of_bytes(&self.encode())
    }

    /// A string-typed metadata value (e.g. `version`), if present.
    pub fn metadata_string(&self, key: &str) -> Option<String> {
        metadata_string(&self.metadata, key)
    }

    /// The `version` metadata, if present.
    pub fn version(&self) -> Option<String> {
        self.metadata_string("version")
    }
}

/// One entry of an `a{sv}` dictionary: key, GVariant type string, value bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaEntry {
    /// Dictionary key.
    pub key: String,
    /// GVariant type of the value (e.g. `s`, `t`, `as`).
    pub type_str: String,
    /// Serialized value.
    pub value: Vec<u8>,
}

/// Parses serialized `a{sv}` (commit or detached metadata).
pub fn parse_metadata(data: &[u8]) -> Result<Vec<MetaEntry>, GvError> {
    gv::read_array(data, VAR8)?
        .into_iter()
        .map(|e| {
            let kv = gv::read_tuple(e, &[VAR1, VAR8])?;
            let (value, ty) = gv::read_variant(kv[1])?;
            Ok(MetaEntry {
                key: gv::read_str(kv[0])?.to_string(),
                type_str: ty.to_string(),
                value: value.to_vec(),
            })
        })
        .collect()
}

/// Serializes `a{sv}` from entries, in the given order.
pub fn encode_metadata(entries: &[MetaEntry]) -> Vec<u8> {
    let elems: Vec<Vec<u8>> = entries
        .iter()
        .map(|e| {
            let k = gv::write_str(&e.key);
            let v = gv::write_variant(&e.value, &e.type_str);
            gv::write_tuple(&[
                var(&k),
                Member {
                    data: &v,
                    align: 8,
                    fixed: false,
                },
            ])
        })
        .collect();
    gv::write_array(elems.iter().map(|e| e.as_slice()), 8, false)
}

impl MetaEntry {
    /// A string-valued entry.
    pub fn string(key: &str, value: &str) -> Self {
        MetaEntry {
            key: key.to_string(),
            type_str: "s".to_string(),
            value: gv::write_str(value),
        }
    }
}

/// Looks up a string-typed key in serialized `a{sv}`.
pub fn metadata_string(data: &[u8], key: &str) -> Option<String> {
    parse_metadata(data)
        .ok()?
        .into_iter()
        .find(|e| e.key == key && e.type_str == "s")
        .and_then(|e| gv::read_str(&e.value).ok().map(str::to_string))
}

/// A directory listing object (`(a(say)a(sayay))`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirTree {
    /// Files: name and content object checksum.
    pub files: Vec<(String, Checksum)>,
    /// Subdirectories: name, dirtree checksum, dirmeta checksum.
    pub dirs: Vec<(String, Checksum, Checksum)>,
}

impl DirTree {
    /// Decodes a dirtree, rejecting unsafe names (`..`, `/`, …).
    pub fn decode(data: &[u8]) -> Result<Self, GvError> {
        let m = gv::read_tuple(data, &[VAR1, VAR1])?;
        let mut files = Vec::new();
        for e in gv::read_array(m[0], VAR1)? {
            let f = gv::read_tuple(e, &[VAR1, VAR1])?;
            let name = gv::read_str(f[0])?;
            validate_filename(name)?;
            files.push((name.to_string(), checksum_field(f[1], "file checksum")?));
        }
        let mut dirs = Vec::new();
        for e in gv::read_array(m[1], VAR1)? {
            let d = gv::read_tuple(e, &[VAR1, VAR1, VAR1])?;
            let name = gv::read_str(d[0])?;
            validate_filename(name)?;
            dirs.push((
                name.to_string(),
                checksum_field(d[1], "dirtree checksum")?,
                checksum_field(d[2], "dirmeta checksum")?,
            ));
        }
        Ok(DirTree { files, dirs })
    }

    /// Encodes the dirtree; entries are sorted by name (byte order) as
    /// libostree requires.
    pub fn encode(&self) -> Vec<u8> {
        let mut files: Vec<&(String, Checksum)> = self.files.iter().collect();
        files.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut dirs: Vec<&(String, Checksum, Checksum)> = self.dirs.iter().collect();
        dirs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let fe: Vec<Vec<u8>> = files
            .iter()
            .map(|(n, c)| gv::write_tuple(&[var(&gv::write_str(n)), var(&c.0)]))
            .collect();
        let de: Vec<Vec<u8>> = dirs
            .iter()
            .map(|(n, t, m)| gv::write_tuple(&[var(&gv::write_str(n)), var(&t.0), var(&m.0)]))
            .collect();
        let fa = gv::write_array(fe.iter().map(|e| e.as_slice()), 1, false);
        let da = gv::write_array(de.iter().map(|e| e.as_slice()), 1, false);
        gv::write_tuple(&[var(&fa), var(&da)])
    }

    /// Checksum of the encoded dirtree.
    pub fn checksum(&self) -> Checksum {
        Checksum::of_bytes(&self.encode())
    }
}

/// Directory metadata object (`(uuua(ayay))`, integers big-endian).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirMeta {
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Full `st_mode` including `S_IFDIR`.
    pub mode: u32,
    /// Extended attributes (name, value).
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

fn encode_uuu_xattrs(uid: u32, gid: u32, mode: u32, xattrs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let x = gv::write_xattrs(xattrs);
    let (u, g, m) = (uid.to_be_bytes(), gid.to_be_bytes(), mode.to_be_bytes());
    let fixed = |d| Member {
        data: d,
        align: 4,
        fixed: true,
    };
    gv::write_tuple(&[fixed(&u), fixed(&g), fixed(&m), var(&x)])
}

type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;

fn decode_uuu_xattrs(data: &[u8]) -> Result<(u32, u32, u32, Xattrs), GvError> {
    let m = gv::read_tuple(data, &[U32, U32, U32, VAR1])?;
    Ok((
        gv::read_be_u32(m[0]),
        gv::read_be_u32(m[1]),
        gv::read_be_u32(m[2]),
        gv::read_xattrs(m[3])?,
    ))
}

impl DirMeta {
    /// Decodes a dirmeta object.
    pub fn decode(data: &[u8]) -> Result<Self, GvError> {
        let (uid, gid, mode, xattrs) = decode_uuu_xattrs(data)?;
        Ok(DirMeta {
            uid,
            gid,
            mode,
            xattrs,
        })
    }

    /// Encodes the dirmeta object.
    pub fn encode(&self) -> Vec<u8> {
        encode_uuu_xattrs(self.uid, self.gid, self.mode, &self.xattrs)
    }

    /// Checksum of the encoded dirmeta.
    pub fn checksum(&self) -> Checksum {
        Checksum::of_bytes(&self.encode())
    }
}

/// Metadata of a content (file) object: everything but the bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileHeader {
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Full `st_mode` (`S_IFREG` or `S_IFLNK` plus permission bits).
    pub mode: u32,
    /// Device number (always 0 in OSTree).
    pub rdev: u32,
    /// Symlink target; empty for regular files.
    pub symlink_target: String,
    /// Extended attributes (name, value).
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Prefixes a serialized variant with its size the way libostree streams file
/// headers: big-endian u32 size, 4 bytes of padding, then the variant.
fn with_size_prefix(variant: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(variant.len() + 8);
    out.extend_from_slice(&(variant.len() as u32).to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(variant);
    out
}

impl FileHeader {
    /// A regular file header.
    pub fn regular(uid: u32, gid: u32, mode: u32) -> Self {
        FileHeader {
            uid,
            gid,
            mode: S_IFREG | (mode & 0o7777),
            ..Default::default()
        }
    }

    /// A symlink header (mode `S_IFLNK | 0777`).
    pub fn symlink(uid: u32, gid: u32, target: &str) -> Self {
        FileHeader {
            uid,
            gid,
            mode: S_IFLNK | 0o777,
            symlink_target: target.to_string(),
            ..Default::default()
        }
    }

    /// Whether this is a symlink.
    pub fn is_symlink(&self) -> bool {
        self.mode & S_IFMT == S_IFLNK
    }

    /// Whether this is a regular file.
    pub fn is_regular(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }

    /// The `(uuuusa(ayay))` header variant hashed before the content.
    pub fn encode_checksum_header(&self) -> Vec<u8> {
        self.encode_tuple(None)
    }

    /// The archive-mode (`.filez`) header: size prefix plus
    /// `(tuuuusa(ayay))` with the uncompressed content size.
    pub fn encode_archive_header(&self, size: u64) -> Vec<u8> {
        with_size_prefix(&self.encode_tuple(Some(size)))
    }

    /// `(uuuusa(ayay))`, or `(tuuuusa(ayay))` led by `size`.
    fn encode_tuple(&self, size: Option<u64>) -> Vec<u8> {
        let t = size.map(u64::to_be_bytes);
        let fields = [self.uid, self.gid, self.mode, self.rdev].map(u32::to_be_bytes);
        let s = gv::write_str(&self.symlink_target);
        let x = gv::write_xattrs(&self.xattrs);
        fn fixed(data: &[u8], align: usize) -> Member<'_> {
            Member {
                data,
                align,
                fixed: true,
            }
        }
        let mut members: Vec<Member> = t.iter().map(|t| fixed(t, 8)).collect();
        members.extend(fields.iter().map(|f| fixed(f, 4)));
        members.extend([var(&s), var(&x)]);
        gv::write_tuple(&members)
    }

    /// Decodes the `(tuuuusa(ayay))` archive header variant (without the size
    /// prefix); returns the header and the uncompressed content size.
    pub fn decode_archive_header(data: &[u8]) -> Result<(Self, u64), GvError> {
        let m = gv::read_tuple(data, &[U64, U32, U32, U32, U32, VAR1, VAR1])?;
        let mut t = [0u8; 8];
        t.copy_from_slice(m[0]);
        let h = FileHeader {
            uid: gv::read_be_u32(m[1]),
            gid: gv::read_be_u32(m[2]),
            mode: gv::read_be_u32(m[3]),
            rdev: gv::read_be_u32(m[4]),
            symlink_target: gv::read_str(m[5])?.to_string(),
            xattrs: gv::read_xattrs(m[6])?,
        };
        Ok((h, u64::from_be_bytes(t)))
    }

    /// The bare-user `user.ostreemeta` xattr value (`(uuua(ayay))`).
    pub fn encode_bareuser_meta(&self) -> Vec<u8> {
        encode_uuu_xattrs(self.uid, self.gid, self.mode, &self.xattrs)
    }

    /// Decodes a bare-user `user.ostreemeta` value (symlink target and rdev
    /// are not in it and are left empty).
    pub fn decode_bareuser_meta(data: &[u8]) -> Result<Self, GvError> {
        let (uid, gid, mode, xattrs) = decode_uuu_xattrs(data)?;
        Ok(FileHeader {
            uid,
            gid,
            mode,
            rdev: 0,
            symlink_target: String::new(),
            xattrs,
        })
    }
}

/// Incremental content checksum: feed the header, then stream the content.
///
/// The checksum is SHA-256 over the size-prefixed `(uuuusa(ayay))` header
/// followed by the file bytes (nothing for symlinks), as in libostree's
/// `ostree_checksum_file_from_input`.
pub struct ContentHasher {
    sha: Sha256,
    len: u64,
}

impl ContentHasher {
    /// Starts a checksum for a file with `header`.
    pub fn new(header: &FileHeader) -> Self {
        let mut sha = Sha256::new();
        sha.update(with_size_prefix(&header.encode_checksum_header()));
        ContentHasher { sha, len: 0 }
    }

    /// Adds content bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.sha.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// Number of content bytes fed so far.
    pub fn content_len(&self) -> u64 {
        self.len
    }

    /// The content object checksum.
    pub fn finish(self) -> Checksum {
        Checksum(self.sha.finalize().into())
    }
}

impl Write for ContentHasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Computes the content checksum of `header` + all bytes of `content`, streaming.
pub fn content_checksum(header: &FileHeader, mut content: impl Read) -> io::Result<Checksum> {
    let mut h = ContentHasher::new(header);
    io::copy(&mut content, &mut h)?;
    Ok(h.finish())
}

/// Validates the shape of a metadata object of `objtype` (decodes it).
pub fn validate_metadata(objtype: crate::ObjectType, data: &[u8]) -> Result<(), GvError> {
    use crate::ObjectType as T;
    match objtype {
        T::Commit => Commit::decode(data).map(|_| ()),
        T::DirTree => DirTree::decode(data).map(|_| ()),
        T::DirMeta => DirMeta::decode(data).map(|_| ()),
        T::CommitMeta => parse_metadata(data).map(|_| ()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirmeta_roundtrip() {
        let d = DirMeta {
            uid: 0,
            gid: 0,
            mode: S_IFDIR | 0o755,
            xattrs: vec![(b"user.a\0".to_vec(), b"x".to_vec())],
        };
        let e = d.encode();
        assert_eq!(DirMeta::decode(&e).unwrap(), d);
    }

    #[test]
    fn empty_root_dirmeta_matches_libostree() {
        // The well-known checksum of the dirmeta for a root-owned 0755 dir
        // without xattrs (appears in every ostree test repo).
        let d = DirMeta {
            uid: 0,
            gid: 0,
            mode: S_IFDIR | 0o755,
            xattrs: vec![],
        };
        assert_eq!(
            d.checksum().to_string(),
            "446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488"
        );
    }

    #[test]
    fn dirtree_sorts_and_roundtrips() {
        let c = Checksum([7; 32]);
        let t = DirTree {
            files: vec![("b".into(), c), ("a".into(), c)],
            dirs: vec![("z".into(), c, c)],
        };
        let back = DirTree::decode(&t.encode()).unwrap();
        assert_eq!(back.files[0].0, "a");
        assert_eq!(back.dirs.len(), 1);
        let bad = DirTree {
            files: vec![("..".into(), c)],
            dirs: vec![],
        };
        assert!(DirTree::decode(&bad.encode()).is_err());
    }

    #[test]
    fn commit_roundtrip_and_metadata() {
        let md = encode_metadata(&[MetaEntry::string("version", "1.2")]);
        let c = Commit {
            metadata: md,
            parent: Some(Checksum([1; 32])),
            related: vec![],
            subject: "s".into(),
            body: String::new(),
            timestamp: 1234,
            root_tree: Checksum([2; 32]),
            root_meta: Checksum([3; 32]),
        };
        let e = c.encode();
        let back = Commit::decode(&e).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.version().as_deref(), Some("1.2"));
        assert!(Commit::decode(&e[..e.len() - 3]).is_err());
    }

    #[test]
    fn archive_header_roundtrip() {
        let h = FileHeader::symlink(1, 2, "target");
        let e = h.encode_archive_header(0);
        let (back, size) = FileHeader::decode_archive_header(&e[8..]).unwrap();
        assert_eq!(back, h);
        assert_eq!(size, 0);
    }
}
