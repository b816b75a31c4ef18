//! Hashing while reading or writing: rpm-package's [`HashingReader`] and
//! [`HashingWriter`] (the one definition), named here for repodata's readers and writers.

pub use rpm_package::digest::{HashingReader, HashingWriter};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ChecksumType;
    use std::io::Read;

    #[test]
    fn known_digests() {
        let mut r = HashingReader::new(&b"abc"[..], ChecksumType::Sha256);
        let mut s = Vec::new();
        r.read_to_end(&mut s).unwrap();
        let (c, n) = r.finish();
        assert_eq!(n, 3);
        assert_eq!(
            c.hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut h = ChecksumType::Sha1.hasher();
        h.update(b"abc");
        assert_eq!(
            h.finish_checksum().hex,
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }
}
