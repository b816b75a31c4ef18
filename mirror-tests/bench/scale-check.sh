#!/usr/bin/env bash
# Update checks beside a distribution-sized package repository (issue 13), one run.
#
# Serves with nginx on 127.0.0.1 a jigdo repository (the jigdo RPMs, `jigdo repo create`)
# and a package repository of $COUNT (default 65,000) generated packages plus the real
# pinned RPMs (bigrepo.py: primary.xml.gz about 22 MB, checked by `dnf repoquery`), then
# prints, with bytes (response bodies) and requests counted in nginx's access log:
#   - the first install (v1), pins served at their locations: bytes, requests, max RSS;
#   - the first install on the primary-fallback path (the real RPMs stored elsewhere in
#     the package repository, so the client must read its 65k-package primary): max RSS
#     (goal < 128 MiB);
#   - a check with nothing new: `jigdo install --check` (twice: the first after the
#     install, then again) vs `dnf makecache` with a fresh cache and with a warm one
#     (`--refresh`) on the same two repositories (goal ≤ 16 KB, ≤ 4 requests);
#   - a check after an update was published (v2 packed into the jigdo repository, its
#     changed RPMs added to the package repository, whose metadata is generated again):
#     ours vs `dnf makecache --refresh` on the warm cache;
#   - the update v1 -> v2 itself: its bytes beyond the v2 jigdo RPM and the changed RPMs
#     (goal: at most 64 KB of metadata).
# Versions come from versions.sh (the bench corpus if built, else the test packages).
# Usage: mirror-tests/bench/scale-check.sh [JIGDO_BIN]   (COUNT=N for another size)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
jigdo=${1:-${JIGDO_BIN:-${CARGO_TARGET_DIR:-$here/target}/release/jigdo}}
[ -x "$jigdo" ] || { echo "build jigdo first (cargo build --release --bin jigdo --features librepo)" >&2; exit 1; }
for t in nginx ostree rpmbuild dnf createrepo_c python3 /usr/bin/time; do
    command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }
done
count=${COUNT:-65000}
w=$(mktemp -d /var/tmp/jigdo-bench-scale.XXXXXX)
# shellcheck source=nginx.sh
. "$here/mirror-tests/bench/nginx.sh"
trap 'stop_nginx; rm -rf "$w"' EXIT
# shellcheck source=versions.sh
. "$here/mirror-tests/bench/versions.sh"
load_versions "$w"
big() { nice -n 5 python3 "$here/mirror-tests/bench/bigrepo.py" --count "$count" "$@"; }

# The jigdo repository (v1), the package repository with the v1 RPMs at their pinned
# locations, and the same packages stored under Packages/real/ (the fallback path).
"$jigdo" pack --repo "$compose" --rev "$c1" --from "$v1" --output "$w/www/jigdo" --name bench-os >/dev/null
"$jigdo" repo create "$w/www/jigdo" >/dev/null
big "$w/www/os" "$v1"/*.rpm
big --real-dir Packages/real "$w/www/osfb" "$v1"/*.rpm

start_nginx "$w/www" "$w/ng"
url=$NGINX_URL
reqs() { wc -l < "$NGINX_LOG"; }
rss() { awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$1"; }
row() { printf '%-58s %12s %9s %10s\n' "$@"; }
mkdir -p "$w/dnf"; printf '[main]\ngpgcheck=0\nreposdir=/dev/null\n' > "$w/dnf/dnf.conf"
timed=() # a command prefix for dnf_on (/usr/bin/time)
dnf_on() { # CACHE ARGS...: dnf on the jigdo and the package repository
    local cache=$1; shift
    "${timed[@]}" dnf -q --config="$w/dnf/dnf.conf" --setopt=reposdir=/dev/null --setopt=cachedir="$cache" \
        --installroot="$w/dnf/root" --releasever=1 \
        --repofrompath=jigdo,"$url/jigdo/" --repofrompath=os,"$url/os/" --repo=jigdo --repo=os "$@"
}
n=$(dnf_on "$w/dnf/q" repoquery --repo=os --qf '%{name}' 2>/dev/null | wc -l)
echo "package repository: $n packages as dnf repoquery lists them"
[ "$n" -ge "$count" ] || { echo "dnf sees $n packages, expected at least $count" >&2; exit 1; }
rm -rf "$w/dnf/q"
jig() { "$jigdo" install bench-os --nogpgcheck --repo "$w/client" --ref bench/os "$@"; }

row "issue 13: $count packages + the pinned RPMs" "bytes" "requests" "max RSS MiB"
# First installs: at the pins' locations, then (fresh client) through the primary.
sync; nginx_clear_log
/usr/bin/time -v -o "$w/t.loc" "$jigdo" install bench-os --nogpgcheck --repo "$w/client" \
    --ref bench/os --from "$url/jigdo/" --from "$url/os/" >/dev/null
row "install v1 (pins at their locations)" "$(nginx_bytes)" "$(reqs)" "$(rss "$w/t.loc")"
sync; nginx_clear_log
/usr/bin/time -v -o "$w/t.fb" "$jigdo" install bench-os --nogpgcheck --repo "$w/fb" \
    --ref bench/os --from "$url/jigdo/" --from "$url/osfb/" >/dev/null
row "install v1 (primary fallback, goal < 128 MiB)" "$(nginx_bytes)" "$(reqs)" "$(rss "$w/t.fb")"
[ "$(ostree --repo="$w/fb" rev-parse bench/os)" = "$c1" ] || { echo "fallback install gave the wrong commit" >&2; exit 1; }

# Nothing new: ours twice, dnf with a fresh and with a warm cache.
check() { # LABEL: jigdo install --check on the client of the first install
    local rc=0
    sync; nginx_clear_log
    /usr/bin/time -v -o "$w/t.chk" "$jigdo" install bench-os --nogpgcheck --repo "$w/client" \
        --ref bench/os --from "$url/jigdo/" --from "$url/os/" --check --json > "$w/check.json" || rc=$?
    row "$1 (exit $rc)" "$(nginx_bytes)" "$(reqs)" "$(rss "$w/t.chk")"
}
makecache() { # LABEL CACHE [--refresh]
    local label=$1 cache=$2; shift 2
    sync; nginx_clear_log
    timed=(/usr/bin/time -v -o "$w/t.dnf")
    dnf_on "$cache" makecache "$@" >/dev/null 2>&1
    timed=()
    row "$label" "$(nginx_bytes)" "$(reqs)" "$(rss "$w/t.dnf")"
}
check "nothing new: jigdo install --check"
makecache "nothing new: dnf makecache (fresh cache)" "$w/dnf/cache"
check "nothing new: jigdo install --check, again"
makecache "nothing new: dnf makecache --refresh (warm cache)" "$w/dnf/cache" --refresh

# An update is published: v2 in the jigdo repository, its RPMs in the package repository.
sleep 1 # nginx validators have 1-second resolution
"$jigdo" pack --repo "$compose" --rev "$c2" --from "$v2" --output "$w/www/jigdo" --name bench-os >/dev/null
"$jigdo" repo create "$w/www/jigdo" >/dev/null
big "$w/www/os" "$v1"/*.rpm "$v2"/*.rpm >/dev/null
check "update published: jigdo install --check"
jq -r '"  ours: update_available=\(.update_available) version=\(.version) update_bytes=\(.update_bytes) packages_needed=\(.packages_needed)"' "$w/check.json" 2>/dev/null || true
makecache "update published: dnf makecache --refresh (warm cache)" "$w/dnf/cache" --refresh

# The update itself. Everything it downloads beyond the v2 jigdo RPM and the RPMs v2 has
# and v1 lacks is metadata (goal: at most 64 KB).
sync; nginx_clear_log
/usr/bin/time -v -o "$w/t.upd" "$jigdo" install bench-os --nogpgcheck --repo "$w/client" \
    --ref bench/os --from "$url/jigdo/" --from "$url/os/" >/dev/null
[ "$(ostree --repo="$w/client" rev-parse bench/os)" = "$c2" ] || { echo "the update gave the wrong commit" >&2; exit 1; }
upd_bytes=$(nginx_bytes)
row "update v1 -> v2: jigdo install" "$upd_bytes" "$(reqs)" "$(rss "$w/t.upd")"
v2_jigdo=$(find "$w/www/jigdo" -name 'bench-os-2.0-*.rpm' -printf '%s\n' | head -n1)
changed=$(comm -13 <(ls "$v1") <(ls "$v2") | while read -r f; do stat -c %s "$v2/$f"; done |
    awk '{s += $1} END {print s + 0}')
row "  the v2 jigdo RPM + the RPMs v2 changed" "$((v2_jigdo + changed))" "" ""
row "  metadata and anything else (goal <= 65536)" "$((upd_bytes - v2_jigdo - changed))" "" ""
echo "bytes: response bodies in nginx's access log; dnf $(dnf --version | head -n1), RSS of /usr/bin/time -v"
