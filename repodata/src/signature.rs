//! Detached OpenPGP signatures of repomd.xml (`repomd.xml.asc`): verification
//! against given public keys, and signing with a secret key. Uses the `pgp`
//! crate, the same OpenPGP implementation the `rpm` crate uses.

use crate::error::{io_err, Error, Result};
use pgp::composed::{Deserializable, DetachedSignature, SignedPublicKey, SignedSecretKey};
use pgp::types::{KeyDetails, Password};
use std::path::Path;

/// Drops anything after the last `-----END PGP ...-----` line: real key files
/// sometimes carry commentary there, which gpg ignores.
fn trim_armor(text: &[u8]) -> &[u8] {
    let s = text;
    let marker = b"-----END PGP ";
    let mut end = None;
    let mut i = 0;
    while i + marker.len() <= s.len() {
        if &s[i..i + marker.len()] == marker {
            end = Some(i);
        }
        i += 1;
    }
    match end {
        Some(start) => match s[start..].iter().position(|&b| b == b'\n') {
            Some(nl) => &s[..start + nl + 1],
            None => s,
        },
        None => s,
    }
}

fn is_armored(data: &[u8]) -> bool {
    data.windows(11).take(4096).any(|w| w == b"-----BEGIN ")
}

/// Loads every public key (armored or binary) from a key file.
pub fn load_public_keys(path: &Path) -> Result<Vec<SignedPublicKey>> {
    let data = std::fs::read(path).map_err(io_err(path))?;
    let bad = |m: String| Error::BadKey {
        path: path.to_path_buf(),
        message: m,
    };
    let keys: Vec<SignedPublicKey> = if is_armored(&data) {
        let trimmed = trim_armor(&data);
        let (iter, _) =
            SignedPublicKey::from_armor_many(trimmed).map_err(|e| bad(e.to_string()))?;
        iter.collect::<std::result::Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?
    } else {
        SignedPublicKey::from_bytes_many(&data[..])
            .map_err(|e| bad(e.to_string()))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?
    };
    if keys.is_empty() {
        return Err(bad("no public key in file".into()));
    }
    Ok(keys)
}

fn load_signature(sig_path: &Path) -> Result<DetachedSignature> {
    let data = std::fs::read(sig_path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::BadSignature {
            path: sig_path.to_path_buf(),
            message: "signature file is missing".into(),
        },
        _ => Error::Io {
            path: sig_path.to_path_buf(),
            source: e,
        },
    })?;
    parse_signature(&data, sig_path)
}

/// Parses one detached signature, armored or binary; `label` names it in errors.
fn parse_signature(data: &[u8], label: &Path) -> Result<DetachedSignature> {
    let bad = |m: String| Error::BadSignature {
        path: label.to_path_buf(),
        message: format!("not an OpenPGP signature: {m}"),
    };
    if is_armored(data) {
        let (sig, _) = DetachedSignature::from_armor_single(trim_armor(data))
            .map_err(|e| bad(e.to_string()))?;
        Ok(sig)
    } else {
        DetachedSignature::from_bytes(data).map_err(|e| bad(e.to_string()))
    }
}

/// Verifies the detached signature `sig_path` over `data` with any of the
/// keys (primary keys and their subkeys) in `keys`. Returns the fingerprint
/// (upper-case hex) of the primary key whose key verified it.
pub fn verify_detached(data: &[u8], sig_path: &Path, keys: &[SignedPublicKey]) -> Result<String> {
    let sig = load_signature(sig_path)?;
    verify_parsed(data, &sig, sig_path, keys)
}

/// Verifies the detached signature `sig` (armored or binary bytes, e.g. one of the
/// `ostree.gpgsigs` of an OSTree commit) over `data` with any of `keys`; `label` names
/// the signature in errors. Returns the fingerprint (upper-case hex) of the primary key
/// whose key verified it.
pub fn verify_detached_bytes(
    data: &[u8],
    sig: &[u8],
    label: &Path,
    keys: &[SignedPublicKey],
) -> Result<String> {
    let sig = parse_signature(sig, label)?;
    verify_parsed(data, &sig, label, keys)
}

fn verify_parsed(
    data: &[u8],
    sig: &DetachedSignature,
    label: &Path,
    keys: &[SignedPublicKey],
) -> Result<String> {
    let mut last_err = String::from("no key matches the signature's issuer");
    for key in keys {
        let fingerprint = || format!("{:X}", key.primary_key.fingerprint());
        match sig.verify(&key.primary_key, data) {
            Ok(()) => return Ok(fingerprint()),
            Err(e) => last_err = e.to_string(),
        }
        for sub in &key.public_subkeys {
            if sig.verify(&sub.key, data).is_ok() {
                return Ok(fingerprint());
            }
        }
    }
    let issuers: Vec<String> = sig
        .signature
        .issuer_key_id()
        .into_iter()
        .map(|k| format!("{k:?}"))
        .collect();
    Err(Error::BadSignature {
        path: label.to_path_buf(),
        message: format!(
            "does not verify with the given key(s) (signature issuer {}): {last_err}",
            if issuers.is_empty() {
                "unknown".to_string()
            } else {
                issuers.join(", ")
            }
        ),
    })
}

/// Verifies `data_path` against `sig_path` with the keys in `key_path`; returns the
/// fingerprint of the key that verified it.
pub fn verify_file(data_path: &Path, sig_path: &Path, key_path: &Path) -> Result<String> {
    let keys = load_public_keys(key_path)?;
    let data = std::fs::read(data_path).map_err(io_err(data_path))?;
    verify_detached(&data, sig_path, &keys)
}

/// Makes an ASCII-armored detached signature of `data` with the (unprotected)
/// secret key in `key_path` (armored or binary).
pub fn sign_detached(data: &[u8], key_path: &Path) -> Result<String> {
    let raw = std::fs::read(key_path).map_err(io_err(key_path))?;
    let bad = |m: String| Error::BadKey {
        path: key_path.to_path_buf(),
        message: m,
    };
    let key = if is_armored(&raw) {
        SignedSecretKey::from_armor_single(trim_armor(&raw))
            .map_err(|e| bad(e.to_string()))?
            .0
    } else {
        SignedSecretKey::from_bytes(&raw[..]).map_err(|e| bad(e.to_string()))?
    };
    let sig = DetachedSignature::sign_binary_data(
        rand::thread_rng(),
        &key.primary_key,
        &Password::empty(),
        pgp::crypto::hash::HashAlgorithm::Sha256,
        data,
    )
    .map_err(|e| bad(format!("cannot sign: {e}")))?;
    let _ = key.primary_key.fingerprint();
    sig.to_armored_string(Default::default())
        .map_err(|e| bad(format!("cannot armor signature: {e}")))
}
