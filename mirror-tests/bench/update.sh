#!/usr/bin/env bash
# Updating v1 -> v2 from a loopback mirror (nginx), one run, three ways:
#   1. jigdo install (v1 then v2 from an rpm-md repository served by nginx);
#   2. ostree pull of v2 over v1 from an archive repository served by the same nginx;
#   3. dnf download of the RPMs that v2 changed (the ones jigdo had to fetch).
# Prints wall time and bytes downloaded (bytes counted from nginx's access log). Each
# timed command starts after `sync`, so that none pays for the setup's dirty pages.
# The two versions come from versions.sh (the bench corpus, or the test packages).
# Usage: mirror-tests/bench/update.sh [JIGDO_BIN]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
jigdo=${1:-${JIGDO_BIN:-${CARGO_TARGET_DIR:-$here/target}/release/jigdo}}
[ -x "$jigdo" ] || jigdo=${CARGO_TARGET_DIR:-$here/target}/debug/jigdo
[ -x "$jigdo" ] || { echo "build jigdo first" >&2; exit 1; }
for t in nginx ostree rpmbuild dnf; do command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }; done
w=$(mktemp -d /var/tmp/jigdo-bench-update.XXXXXX)
# shellcheck source=nginx.sh
. "$here/mirror-tests/bench/nginx.sh"
trap 'stop_nginx; rm -rf "$w"' EXIT

# shellcheck source=versions.sh
. "$here/mirror-tests/bench/versions.sh"
load_versions "$w"
mkdir -p "$w/www/rpm/Packages"
"$jigdo" pack --repo "$compose" --rev "$c1" --from "$v1" --output "$w/www/rpm" --name bench-os >/dev/null
"$jigdo" pack --repo "$compose" --rev "$c2" --from "$v2" --output "$w/www/rpm" --name bench-os >/dev/null
cp -nl "$v1"/*.rpm "$v2"/*.rpm "$w/www/rpm/Packages/" 2>/dev/null || true
"$jigdo" repo create "$w/www/rpm" >/dev/null
ostree --repo="$w/www/archive" init --mode=archive
ostree --repo="$w/www/archive" pull-local "$compose" "$c1" >/dev/null
ostree --repo="$w/www/archive" pull-local "$compose" "$c2" >/dev/null
ostree --repo="$w/www/archive" refs --create=bench/os "$c2" 2>/dev/null || true

start_nginx "$w/www" "$w/ng"
url=$NGINX_URL
bytes() { nginx_bytes; }
reset() { nginx_clear_log; }
now() { date +%s.%N; }

# 1. jigdo install v1, then (measured) v2.
"$jigdo" install bench-os-1.0 --nogpgcheck --from "$url/rpm/" --repo "$w/client" --ref bench/os >/dev/null
sync; reset; t0=$(now)
"$jigdo" install bench-os --nogpgcheck --from "$url/rpm/" --repo "$w/client" --ref bench/os --json > "$w/jigdo.json"
t1=$(now); jb=$(bytes)
[ "$(ostree --repo="$w/client" rev-parse bench/os)" = "$c2" ] || { echo "jigdo gave the wrong commit" >&2; exit 1; }
dl=$(awk '$1 ~ /\/Packages\// {print $1}' "$w/ng/access.log" | sed 's|.*/||')

# 2. ostree pull of v2 over v1 from the archive repository.
ostree --repo="$w/pull" init --mode=bare-user
ostree --repo="$w/pull" remote add --no-gpg-verify bench "$url/archive"
ostree --repo="$w/pull" pull-local "$w/www/archive" "$c1" >/dev/null
sync; reset; t2=$(now)
ostree --repo="$w/pull" pull bench "$c2" >/dev/null
t3=$(now); ob=$(bytes)

# 3. dnf download of the same changed RPMs.
mkdir -p "$w/dnf"; printf '[main]\ngpgcheck=0\nreposdir=/dev/null\n' > "$w/dnf/dnf.conf"
names=$(for f in $dl; do rpm -qp --nosignature --nodigest --qf '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\n' "$w/www/rpm/Packages/$f"; done)
sync; reset; t4=$(now)
if [ -n "$names" ]; then
  dnf -q --config="$w/dnf/dnf.conf" --setopt=reposdir=/dev/null --setopt=cachedir="$w/dnf/cache" \
    --installroot="$w/dnf/root" --releasever=1 --repofrompath=m,"$url/rpm/" --repo=m \
    download --destdir "$w/dnf/out" $names >/dev/null
fi
t5=$(now); db=$(bytes)

printf '%-40s %10s %14s\n' "v1 -> v2 update over loopback" "wall s" "bytes"
printf '%-40s %10.2f %14d\n' "jigdo install (rpm-md, nginx)" "$(echo "$t1 - $t0" | bc)" "$jb"
printf '%-40s %10.2f %14d\n' "ostree pull (archive, nginx)" "$(echo "$t3 - $t2" | bc)" "$ob"
printf '%-40s %10.2f %14d\n' "dnf download (same RPMs, nginx)" "$(echo "$t5 - $t4" | bc)" "$db"
echo "changed RPMs: $(echo $dl | wc -w)"
