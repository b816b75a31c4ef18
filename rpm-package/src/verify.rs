//! The header and payload digests rpm records, and their verification.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::digest::{DigestAlgorithm, Hasher};
use crate::error::{io_kind, Error, ErrorKind, Result};
use crate::header::PackageHeader;
use crate::tags;

/// Which digests [`verify_digests`] checked (each one matched).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestReport {
    /// Header digests checked, e.g. `["header SHA-256", "header SHA-1"]`.
    pub header: Vec<String>,
    /// Payload digests checked, e.g. `["payload SHA-256"]` or `["header+payload MD5"]`.
    pub payload: Vec<String>,
}

fn hex_digest(h: &PackageHeader, tag: u32, sig: bool) -> Option<Vec<u8>> {
    let raw = if sig {
        h.signature_header()
    } else {
        h.main_header()
    };
    let s = raw.string(tag)?;
    hex::decode(s.trim()).ok()
}

/// Check the header digests of the signature header (SHA-256, SHA-1, SHA3-256) against
/// the main header bytes. Returns the names of those checked.
pub(crate) fn check_header_digests(h: &PackageHeader) -> Result<Vec<String>, ErrorKind> {
    let mut checked = Vec::new();
    let bytes = h.main_header().bytes();
    for (tag, algo, name) in [
        (tags::SIG_SHA256, DigestAlgorithm::Sha256, "header SHA-256"),
        (tags::SIG_SHA1, DigestAlgorithm::Sha1, "header SHA-1"),
        (
            tags::SIG_SHA3_256,
            DigestAlgorithm::Sha3_256,
            "header SHA3-256",
        ),
    ] {
        if !h.signature_header().has(tag) {
            continue;
        }
        let expected = hex_digest(h, tag, true).ok_or_else(|| {
            ErrorKind::BadHeader(format!("{name} in the signature header is not hex"))
        })?;
        let mut hasher = algo.hasher();
        hasher.update(bytes);
        let actual = hasher.finish();
        if actual != expected {
            return Err(ErrorKind::DigestMismatch {
                what: name.into(),
                expected: hex::encode(expected),
                actual: hex::encode(actual),
            });
        }
        checked.push(name.to_string());
    }
    Ok(checked)
}

/// The uncompressed-payload digest to check while streaming, used only when no digest of
/// the compressed payload exists.
pub(crate) fn alt_digest(h: &PackageHeader) -> Option<(Hasher, Vec<u8>)> {
    let m = h.main_header();
    if m.has(tags::PAYLOADDIGEST) || m.has(tags::PAYLOAD_SHA512) || m.has(tags::PAYLOAD_SHA3_256) {
        return None;
    }
    let algo = m
        .int(tags::PAYLOADDIGESTALGO)
        .and_then(DigestAlgorithm::from_rpm_id)
        .unwrap_or(DigestAlgorithm::Sha256);
    let expected = hex_digest(h, tags::PAYLOADDIGESTALT, false)?;
    Some((algo.hasher(), expected))
}

/// Running digests over the compressed payload (and, for MD5, the header before it).
#[derive(Default)]
pub(crate) struct PayloadDigests {
    checks: Vec<(String, Hasher, Vec<u8>)>,
    bytes: u64,
}

impl PayloadDigests {
    /// Set up the strongest digests the package records. The legacy MD5 over
    /// header+payload is used only when no payload digest exists.
    pub(crate) fn for_header(h: &PackageHeader) -> PayloadDigests {
        let m = h.main_header();
        let mut checks = Vec::new();
        if m.has(tags::PAYLOADDIGEST) {
            let algo = m
                .int(tags::PAYLOADDIGESTALGO)
                .and_then(DigestAlgorithm::from_rpm_id)
                .unwrap_or(DigestAlgorithm::Sha256);
            let expected = hex_digest(h, tags::PAYLOADDIGEST, false).unwrap_or_default();
            checks.push((format!("payload {algo}"), algo.hasher(), expected));
        }
        if m.has(tags::PAYLOAD_SHA512) {
            let expected = hex_digest(h, tags::PAYLOAD_SHA512, false).unwrap_or_default();
            checks.push((
                "payload sha512".into(),
                DigestAlgorithm::Sha512.hasher(),
                expected,
            ));
        }
        if checks.is_empty() && m.has(tags::PAYLOAD_SHA3_256) {
            let expected = hex_digest(h, tags::PAYLOAD_SHA3_256, false).unwrap_or_default();
            checks.push((
                "payload sha3-256".into(),
                DigestAlgorithm::Sha3_256.hasher(),
                expected,
            ));
        }
        if checks.is_empty() {
            if let Some(md5) = h.signature_header().bin(tags::SIG_MD5) {
                let mut hasher = DigestAlgorithm::Md5.hasher();
                hasher.update(m.bytes());
                checks.push(("header+payload MD5".into(), hasher, md5.to_vec()));
            }
        }
        PayloadDigests { checks, bytes: 0 }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.bytes += data.len() as u64;
        for (_, h, _) in &mut self.checks {
            h.update(data);
        }
    }

    /// Compare; returns the names of the digests checked.
    pub(crate) fn verify_named(self, h: &PackageHeader) -> Result<Vec<String>, ErrorKind> {
        if let Some(size) = h.signed_size {
            let actual = h.main_header().len() + self.bytes;
            if size != actual && size & 0xffff_ffff != actual & 0xffff_ffff {
                return Err(ErrorKind::Truncated(format!(
                    "header+payload is {actual} bytes, the signature header says {size}"
                )));
            }
        }
        let mut names = Vec::new();
        for (name, hasher, expected) in self.checks {
            let actual = hasher.finish();
            if actual != expected {
                return Err(ErrorKind::DigestMismatch {
                    what: name,
                    expected: hex::encode(expected),
                    actual: hex::encode(actual),
                });
            }
            names.push(name);
        }
        Ok(names)
    }

    pub(crate) fn verify(self, h: &PackageHeader) -> Result<(), ErrorKind> {
        self.verify_named(h).map(|_| ())
    }
}

/// Verify the header and payload digests recorded in the package at `path` (what
/// `rpm -K --nosignature` checks), without decompressing the payload.
pub fn verify_digests(path: impl AsRef<Path>) -> Result<DigestReport> {
    let path = path.as_ref();
    let label = path.display().to_string();
    let f = File::open(path).map_err(|e| Error::new(&label, io_kind("opening", e)))?;
    let mut r = BufReader::with_capacity(256 * 1024, f);
    let h = PackageHeader::read(&mut r, &label)?;
    verify_digests_of(&h, &mut r)
}

/// Like [`verify_digests`] for a header already read from `payload`, which must be
/// positioned at the start of the payload.
pub fn verify_digests_of(h: &PackageHeader, payload: &mut impl Read) -> Result<DigestReport> {
    let err = |k| Error::new(&h.label, k);
    let header = check_header_digests(h).map_err(err)?;
    let mut d = PayloadDigests::for_header(h);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = payload
            .read(&mut buf)
            .map_err(|e| err(io_kind("reading the payload", e)))?;
        if n == 0 {
            break;
        }
        d.update(&buf[..n]);
    }
    let payload = d.verify_named(h).map_err(err)?;
    if header.is_empty() && payload.is_empty() {
        return Err(err(ErrorKind::Unsupported(
            "the package records no header or payload digest".into(),
        )));
    }
    Ok(DigestReport { header, payload })
}
