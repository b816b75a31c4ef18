//! The trust step: whether a jigdo RPM may be installed, decided before anything of it is
//! written to the repository. One rule, [`SignatureRule`], for every way a jigdo RPM
//! arrives; other rules (signed repomd.xml, commit signatures) plug in as further
//! [`Trust`] implementations.

use std::path::{Path, PathBuf};

use jigdo_unpack::JigdoRpm;

use crate::error::TrustFailure;

/// Where a jigdo RPM came from.
#[derive(Debug, Clone)]
pub enum JigdoOrigin {
    /// A file given by path (`jigdo install ./os.rpm`).
    File,
    /// A repository of the run.
    Repository {
        /// Its name (SOURCE or `.repo` section id).
        name: String,
        /// Whether its `.repo` section asks for signed packages (`gpgcheck=1`).
        gpgcheck: bool,
        /// Its `.repo` section's public keys (`gpgkey=`).
        gpgkeys: Vec<PathBuf>,
    },
}

/// Decides whether a jigdo RPM may be installed. Both checks run before anything of the
/// jigdo RPM is written to the repository.
pub trait Trust: Send + Sync {
    /// Checks the jigdo RPM file before it is read as a jigdo RPM (e.g. its OpenPGP
    /// signature).
    fn check_file(&self, path: &Path, origin: &JigdoOrigin) -> Result<(), TrustFailure>;

    /// Checks the jigdo RPM once it is read and checked (e.g. the commit's own
    /// signature in its detached metadata). Accepts by default.
    fn check_commit(&self, _jigdo: &JigdoRpm, _origin: &JigdoOrigin) -> Result<(), TrustFailure> {
        Ok(())
    }
}

/// dnf's rule: a jigdo RPM must carry an OpenPGP signature by one of the keys when its
/// repository's `.repo` section says `gpgcheck=1` (keys from its `gpgkey=`), and always
/// when keys are given on the command line (`--gpgkey`, added to every source's keys).
#[derive(Debug, Clone, Default)]
pub struct SignatureRule {
    /// Keys that every jigdo RPM must be signed with one of (`--gpgkey`).
    pub keys: Vec<PathBuf>,
}

impl SignatureRule {
    /// The rule with `keys` from the command line.
    pub fn new(keys: Vec<PathBuf>) -> SignatureRule {
        SignatureRule { keys }
    }
}

impl Trust for SignatureRule {
    fn check_file(&self, path: &Path, origin: &JigdoOrigin) -> Result<(), TrustFailure> {
        let (required, mut keys) = match origin {
            JigdoOrigin::File => (false, Vec::new()),
            JigdoOrigin::Repository {
                gpgcheck, gpgkeys, ..
            } => (*gpgcheck, gpgkeys.clone()),
        };
        keys.extend(self.keys.iter().cloned());
        if !required && self.keys.is_empty() {
            return Ok(());
        }
        rpm_package::build::verify_signature(path, &keys).map_err(TrustFailure::Signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_required_by_gpgcheck_or_by_given_keys_only() {
        let unsigned = Path::new("/nonexistent/unsigned.rpm");
        let repo = |gpgcheck| JigdoOrigin::Repository {
            name: "r".into(),
            gpgcheck,
            gpgkeys: Vec::new(),
        };
        let none = SignatureRule::default();
        assert!(none.check_file(unsigned, &JigdoOrigin::File).is_ok());
        assert!(none.check_file(unsigned, &repo(false)).is_ok());
        assert!(none.check_file(unsigned, &repo(true)).is_err());
        let keys = SignatureRule::new(vec![PathBuf::from("/nonexistent/key.asc")]);
        assert!(keys.check_file(unsigned, &JigdoOrigin::File).is_err());
        assert!(keys.check_file(unsigned, &repo(false)).is_err());
    }
}
