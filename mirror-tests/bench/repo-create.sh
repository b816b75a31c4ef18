#!/usr/bin/env bash
# Benchmark: `jigdo repo create` against Debian's createrepo_c on the same
# directory of several hundred RPMs, full runs and `--update` runs, side by side.
#
#   mirror-tests/bench/repo-create.sh [COPIES]     (default 12 copies of ~45 RPMs)
#
# The RPMs: 30 small packages built here with rpmbuild plus the 13 real
# x86_64 packages of the xlibre fixture repository (9.6 MB), copied COPIES
# times under different directories. createrepo_c runs with --no-database
# (dnf does not need the sqlite files, and jigdo does not write them) and
# its default gzip; jigdo runs with gz (same work) and with its default zstd.
# Each timing is the best of 2 runs. Needs: rpmbuild, createrepo_c, and a
# release build of jigdo (JIGDO_BIN, default target/release/jigdo).
set -euo pipefail

copies=${1:-12}
root=$(cd "$(dirname "$0")/../.." && pwd)
jigdo=${JIGDO_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/jigdo}
shared=${JIGDO_SHARED_DIR:-$root/../shared}
xlibre=$shared/fixtures/real-world/repodata/xlibre-opensuse/x86_64
for t in rpmbuild createrepo_c; do
  command -v "$t" >/dev/null || { echo "error: $t is not installed" >&2; exit 1; }
done
[ -x "$jigdo" ] || { echo "error: $jigdo not built (cargo build --release --bin jigdo)" >&2; exit 1; }
[ -d "$xlibre" ] || { echo "error: fixtures not found at $xlibre" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/specs" "$work/built"
for i in $(seq 1 30); do
  cat > "$work/specs/p$i.spec" <<SPEC
Name: benchpkg$i
Version: 1.$i
Release: 1
Summary: bench package $i
License: MIT
BuildArch: noarch
Requires: benchpkg$(( (i % 30) + 1 )) >= 1.0
Provides: bench-cap-$i = $i
%description
Benchmark package number $i.
%install
mkdir -p %{buildroot}/usr/share/bench$i %{buildroot}/usr/bin
for f in \$(seq 1 40); do head -c 2000 /dev/urandom > %{buildroot}/usr/share/bench$i/f\$f; done
printf x > %{buildroot}/usr/bin/bench$i
%files
/usr/share/bench$i
/usr/bin/bench$i
%changelog
* Mon Jan 01 2024 Bench <b@example.com> - 1.$i-1
- entry
SPEC
done
rpmbuild -bb --quiet --define "_topdir $work/top" --define "_rpmdir $work/built" \
  --define "__os_install_post %{nil}" "$work"/specs/*.spec >/dev/null 2>&1
for c in $(seq 1 "$copies"); do
  mkdir -p "$work/a/c$c"
  cp "$work"/built/noarch/*.rpm "$xlibre"/*.rpm "$work/a/c$c/"
done
cp -a "$work/a" "$work/b"
cp -a "$work/a" "$work/z"
n=$(find "$work/a" -name '*.rpm' | wc -l)
mb=$(du -sm "$work/a" | cut -f1)

best() { # best-of-2 wall time of "$@", in seconds
  local best=999999 s e t
  for _ in 1 2; do
    s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc -l)
    if (( $(echo "$t < $best" | bc -l) )); then best=$t; fi
  done
  printf '%.3f' "$best"
}

cr_full=$(best createrepo_c --no-database "$work/a")
jg_full=$(best "$jigdo" repo create --compress gz "$work/b")
jz_full=$(best "$jigdo" repo create "$work/z")
cr_upd=$(best createrepo_c --no-database --update "$work/a")
jg_upd=$(best "$jigdo" repo create --update --compress gz "$work/b")
jz_upd=$(best "$jigdo" repo create --update "$work/z")

ratio() { echo "scale=2; $1 / $2" | bc -l; }
echo "packages: $n ($mb MB), cores: $(nproc)"
printf '%-34s %8s s\n' "createrepo_c --no-database" "$cr_full"
printf '%-34s %8s s   createrepo_c/jigdo = %s\n' "jigdo repo create --compress gz" "$jg_full" "$(ratio "$cr_full" "$jg_full")"
printf '%-34s %8s s   createrepo_c/jigdo = %s\n' "jigdo repo create (zstd)" "$jz_full" "$(ratio "$cr_full" "$jz_full")"
printf '%-34s %8s s\n' "createrepo_c --no-database --update" "$cr_upd"
printf '%-34s %8s s   createrepo_c/jigdo = %s\n' "jigdo repo create --update --compress gz" "$jg_upd" "$(ratio "$cr_upd" "$jg_upd")"
printf '%-34s %8s s   createrepo_c/jigdo = %s\n' "jigdo repo create --update (zstd)" "$jz_upd" "$(ratio "$cr_upd" "$jz_upd")"
