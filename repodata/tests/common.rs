//! Shared helpers of the cross-tool tests: building small RPMs with the real
//! rpmbuild, running createrepo_c, locating the real-world fixtures.

#![allow(dead_code, unused_imports)] // each test binary uses a subset

use std::path::{Path, PathBuf};
use std::process::Command;

pub use dev_support::{require_tool, run};

pub use dev_support::real_world_fixtures as fixtures;

/// Spec files exercising every field rpm-md carries.
pub const SPECS: &[(&str, &str)] = &[
    (
        "alpha",
        r#"Name: alpha
Epoch: 3
Version: 1.2.3
Release: 4.test
Summary: Alpha & <omega> "quoted"
License: MIT AND (GPL-2.0-or-later OR Apache-2.0)
URL: https://example.com/alpha?x=1&y=2
Vendor: Jigdo Test Vendor
Packager: Test Packager <test@example.com>
Group: Applications/Test
BuildArch: noarch
Provides: alpha-cap = 7.0
Provides: alpha-unversioned
Requires: beta >= 1:2.0
Requires: /bin/sh
Requires(pre): /usr/bin/env
Requires(post): coreutils
Requires(preun): beta
Requires: (gamma or delta)
Conflicts: alpha-old < 1.0
Obsoletes: alpha-legacy <= 2.0-1
Recommends: rec-pkg
Suggests: sug-pkg > 1
Supplements: sup-pkg
Enhances: enh-pkg = 2-3
%description
Line one of the description.

Line three with <markup> & ampersand.
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/etc/alpha %{buildroot}/usr/share/alpha/sub
printf 'x' > %{buildroot}/usr/bin/alpha
printf 'c' > %{buildroot}/etc/alpha/alpha.conf
printf 'd' > %{buildroot}/usr/share/alpha/data
ln -s data %{buildroot}/usr/share/alpha/link
%files
/usr/bin/alpha
%config(noreplace) /etc/alpha/alpha.conf
%dir /etc/alpha
/usr/share/alpha
%ghost /var/log/alpha.log
%ghost %dir /var/lib/alpha
%changelog
* Tue Jan 02 2024 Third Person <t@example.com> - 3:1.2.3-4
- same day one
* Tue Jan 02 2024 Second Person <s@example.com>   - 3:1.2.3-3
- same day two
* Mon Jan 01 2024 First <f@example.com> - 1-1
- first
"#,
    ),
    (
        "beta",
        r#"Name: beta
Epoch: 1
Version: 2.5
Release: 1
Summary: beta
License: MIT
%description
beta arch package
%install
mkdir -p %{buildroot}/usr/sbin
printf 'b' > %{buildroot}/usr/sbin/beta
%files
/usr/sbin/beta
"#,
    ),
    (
        "gamma",
        r#"Name: gamma
Version: 1.0~rc1^git2
Release: 1
Summary: gamma
License: MIT
BuildArch: noarch
Requires: beta(x86-64) = 1:2.5-1
%description
gamma
%files
"#,
    ),
    (
        // Requires the package itself provides: createrepo_c drops only those
        // equal to a provide in name, comparison and EVR (like `perl` requiring
        // `perl >= 5.006`, kept; `selfcap = 1.0`, dropped).
        "selfdep",
        r#"Name: selfdep
Version: 1.0
Release: 1
Summary: selfdep
License: MIT
BuildArch: noarch
Provides: selfcap = 1.0
Provides: plaincap
Provides: perl(Self::Mod)
Requires: selfcap = 1.0
Requires: selfcap >= 0.5
Requires: plaincap
Requires: plaincap > 0
Requires: selfdep >= 0.9
Requires: perl(Self::Mod)
%description
selfdep
%files
"#,
    ),
];

/// Builds the spec packages into `out` with the real rpmbuild; returns their paths.
pub fn build_specs(out: &Path) -> Vec<PathBuf> {
    require_tool("rpmbuild");
    let work = out.join(".rpmbuild");
    std::fs::create_dir_all(&work).unwrap();
    let mut cmd = Command::new("rpmbuild");
    cmd.arg("-bb")
        .arg("--quiet")
        .arg("--define")
        .arg(format!("_topdir {}", work.display()))
        .arg("--define")
        .arg(format!("_rpmdir {}", out.display()))
        .arg("--define")
        .arg("_build_id_links none")
        .arg("--define")
        .arg("__os_install_post %{nil}");
    for (name, text) in SPECS {
        let p = work.join(format!("{name}.spec"));
        std::fs::write(&p, text).unwrap();
        cmd.arg(&p);
    }
    run(&mut cmd);
    std::fs::remove_dir_all(&work).unwrap();
    let mut v: Vec<PathBuf> = walk(out)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
        .collect();
    v.sort();
    v
}

pub use dev_support::files_under as walk;

/// Copies `src` to `dst` recursively.
pub fn copy_tree(src: &Path, dst: &Path) {
    for f in walk(src) {
        let rel = f.strip_prefix(src).unwrap();
        let t = dst.join(rel);
        std::fs::create_dir_all(t.parent().unwrap()).unwrap();
        std::fs::copy(&f, &t).unwrap();
    }
}
