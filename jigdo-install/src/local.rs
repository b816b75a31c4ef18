//! `jigdo unpack` with the trust step: a jigdo RPM and its packages, or a delta RPM, as
//! local files, checked by the same [`TrustPolicy`] as `install` before anything is
//! written.

use std::path::Path;

use jigdo_unpack::{
    DeltaApplyReport, DeltaJob, UnpackEvent, UnpackJob, UnpackOptions, UnpackReport,
};
use serde::Serialize;

use crate::error::InstallError;
use crate::trust::{JigdoOrigin, TrustPolicy, TrustReport};

/// What `jigdo unpack` did (its `--json` document).
#[derive(Debug, Clone, Serialize)]
pub struct LocalUnpackReport {
    /// What the rebuild did.
    #[serde(flatten)]
    pub unpack: UnpackReport,
    /// What authenticated the commit (or that nothing did).
    pub trust: TrustReport,
}

/// Unpacks `opts.jigdo_rpm` (see [`jigdo_unpack::unpack`]) after the trust step: the
/// jigdo RPM's signature and the commit's signatures are checked with `policy`'s keys
/// before anything is written ([`TrustPolicy::decide_local`]: with keys one link must
/// verify, without keys the commit is unpacked unverified). `on_trust` receives the
/// decision before the packages are read.
pub fn unpack_local(
    opts: &UnpackOptions,
    policy: &TrustPolicy,
    on_trust: &dyn Fn(&TrustReport),
    progress: &(dyn Fn(&UnpackEvent) + Sync),
) -> Result<LocalUnpackReport, InstallError> {
    let untrusted = |reason| InstallError::Untrusted {
        what: opts.jigdo_rpm.display().to_string(),
        reason,
    };
    let mut trust = TrustReport::default();
    policy
        .check_jigdo_rpm(&opts.jigdo_rpm, &JigdoOrigin::File, &mut trust)
        .map_err(untrusted)?;
    let job = UnpackJob::open(&opts.jigdo_rpm, opts.target())?;
    policy
        .check_commit(job.jigdo(), &JigdoOrigin::File, &mut trust)
        .map_err(untrusted)?;
    policy.decide_local(&mut trust).map_err(untrusted)?;
    on_trust(&trust);
    let unpack = jigdo_unpack::finish_local(job, opts, trust.verified_by(), progress)?;
    Ok(LocalUnpackReport { unpack, trust })
}

/// What `jigdo unpack` of a delta RPM did (its `--json` document).
#[derive(Debug, Clone, Serialize)]
pub struct LocalDeltaReport {
    /// What applying the delta did.
    #[serde(flatten)]
    pub apply: DeltaApplyReport,
    /// What authenticated the target commit (or that nothing did).
    pub trust: TrustReport,
}

/// Applies the delta RPM at `path` to the repository `repo` (see
/// [`jigdo_unpack::apply_delta`]) after the same trust step as [`unpack_local`]: the
/// delta RPM's signature and the target commit's signatures, checked with `policy`'s
/// keys before anything is written.
pub fn apply_delta_local(
    path: &Path,
    repo: &Path,
    ref_name: Option<&str>,
    policy: &TrustPolicy,
    on_trust: &dyn Fn(&TrustReport),
) -> Result<LocalDeltaReport, InstallError> {
    let untrusted = |reason| InstallError::Untrusted {
        what: path.display().to_string(),
        reason,
    };
    let mut trust = TrustReport::default();
    policy
        .check_jigdo_rpm(path, &JigdoOrigin::File, &mut trust)
        .map_err(untrusted)?;
    let job = DeltaJob::open(path)?;
    policy
        .check_commit(&job.delta().target, &JigdoOrigin::File, &mut trust)
        .map_err(untrusted)?;
    policy.decide_local(&mut trust).map_err(untrusted)?;
    on_trust(&trust);
    let apply = job.apply(repo, ref_name)?;
    Ok(LocalDeltaReport { apply, trust })
}
