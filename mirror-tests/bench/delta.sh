#!/usr/bin/env bash
# Delta RPM (specs/jigdo-format.md §6) against ostree's own static delta, for the same
# v1 -> v2 pair, one run:
#   size      the delta RPM vs the static delta (superblock + parts) vs the full update
#             (jigdo RPM + the RPMs v2 changed);
#   generate  jigdo pack --delta-from (minus a plain pack of v2) vs ostree static-delta
#             generate, wall time and peak memory;
#   apply     jigdo unpack DELTA vs ostree static-delta apply-offline, each into a
#             bare-user repository holding v1, wall time and peak memory;
#   install   over a loopback nginx: jigdo install v2 into a repository holding v1 (it
#             takes the delta RPM) vs ostree pull of the ref (it takes the static delta
#             the summary lists), wall time and bytes counted in nginx's access log;
#             DELTA_RUNS=N alternated rounds (default 1).
# The two versions come from versions.sh (the bench corpus, or the test packages;
# JIGDO_UPDATE=v2p the one-package update, JIGDO_UPDATE=v1v2p the two-step one).
# Usage: mirror-tests/bench/delta.sh [JIGDO_BIN]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
jigdo=${1:-${JIGDO_BIN:-${CARGO_TARGET_DIR:-$here/target}/release/jigdo}}
[ -x "$jigdo" ] || { echo "build jigdo first (cargo build --release --bin jigdo)" >&2; exit 1; }
for t in ostree rpmbuild nginx curl /usr/bin/time; do command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }; done
w=$(mktemp -d /var/tmp/jigdo-bench-delta.XXXXXX)
# shellcheck source=nginx.sh
. "$here/mirror-tests/bench/nginx.sh"
trap 'stop_nginx; rm -rf "$w"' EXIT
# shellcheck source=versions.sh
. "$here/mirror-tests/bench/versions.sh"
load_versions "$w"

# measure LABEL CMD...: runs CMD, records "seconds peak-KiB" in $w/LABEL.time.
measure() {
    local label=$1; shift
    /usr/bin/time -f "%e %M" -o "$w/$label.time" "$@" >/dev/null 2>"$w/$label.err" || { cat "$w/$label.err" >&2; return 1; }
}
secs() { cut -d' ' -f1 "$w/$1.time"; }
mib() { awk '{printf "%.0f", $2 / 1024}' "$w/$1.time"; }

# Producer side.
"$jigdo" pack --repo "$compose" --rev "$c1" --from "$v1" --output "$w/v1-jigdo" --name bench-os >/dev/null 2>&1
measure pack "$jigdo" pack --repo "$compose" --rev "$c2" --from "$v2" --output "$w/plain" --name bench-os
measure pack-delta "$jigdo" pack --repo "$compose" --rev "$c2" --from "$v2" --output "$w/out" \
    --name bench-os --delta-from "$c1"
delta=$(find "$w/out" -name '*-delta-*.rpm' | head -n1)
full=$(find "$w/out" -name '*.rpm' ! -name '*-delta-*' | head -n1)
[ -n "$delta" ] || { echo "pack wrote no delta RPM" >&2; exit 1; }

ostree --repo="$w/archive" init --mode=archive
ostree --repo="$w/archive" pull-local "$compose" "$c1" >/dev/null
ostree --repo="$w/archive" pull-local "$compose" "$c2" >/dev/null
measure static "ostree" --repo="$w/archive" static-delta generate --from="$c1" --to="$c2"
static_bytes=$(find "$w/archive/deltas" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
superblock=$(find "$w/archive/deltas" -name superblock | head -n1)

# What the full update downloads: the jigdo RPM and the RPMs v2 has and v1 lacks.
changed_bytes=$(comm -13 <(ls "$v1") <(ls "$v2") | while read -r f; do stat -c %s "$v2/$f"; done |
    awk '{s += $1} END {print s + 0}')
full_bytes=$(( $(stat -c %s "$full") + changed_bytes ))

# Consumer side: two bare-user repositories holding v1.
for r in jigdo-client ostree-client; do
    ostree --repo="$w/$r" init --mode=bare-user
    ostree --repo="$w/$r" pull-local "$w/archive" "$c1" >/dev/null
    ostree --repo="$w/$r" refs --create=bench/os "$c1"
done
measure apply "$jigdo" unpack "$delta" --repo "$w/jigdo-client" --ref bench/os
[ "$(ostree --repo="$w/jigdo-client" rev-parse bench/os)" = "$c2" ] || { echo "jigdo gave the wrong commit" >&2; exit 1; }
measure static-apply ostree --repo="$w/ostree-client" static-delta apply-offline "$superblock"
ostree --repo="$w/ostree-client" show "$c2" >/dev/null || { echo "ostree did not apply its delta" >&2; exit 1; }

# Over the network, from one loopback nginx: an rpm-md repository with both jigdo RPMs,
# the delta RPM and the packages, and the archive repository with the static delta.
mkdir -p "$w/www/rpm/Packages"
cp -l "$w/v1-jigdo"/*.rpm "$w/out"/*.rpm "$w/www/rpm/"
cp -nl "$v1"/*.rpm "$v2"/*.rpm "$w/www/rpm/Packages/" 2>/dev/null || true
"$jigdo" repo create "$w/www/rpm" >/dev/null
# The ref the commit is bound to (ostree pull refuses another).
ref=$(ostree --repo="$w/archive" show --print-metadata-key=ostree.ref-binding "$c2" 2>/dev/null |
    grep -o "'[^']*'" | head -n1 | tr -d "'" || true)
ref=${ref:-bench/os}
ostree --repo="$w/archive" refs --create="$ref" "$c2"
ostree --repo="$w/archive" summary -u
ln -s "$w/archive" "$w/www/archive"
start_nginx "$w/www" "$w/ng"
now() { date +%s.%N; }
# The base's jigdo RPM by its version (the commit's "version" metadata).
base_ver=$(ostree --repo="$compose" show --print-metadata-key=version "$c1" | tr -d "'")
"$jigdo" install "bench-os-$base_ver" --nogpgcheck --from "$NGINX_URL/rpm/" --repo "$w/net-jigdo" \
    --ref bench/os >/dev/null
ostree --repo="$w/net-ostree" init --mode=bare-user
ostree --repo="$w/net-ostree" remote add --no-gpg-verify bench "$NGINX_URL/archive"
ostree --repo="$w/net-ostree" pull-local "$w/archive" "$c1" >/dev/null
ostree --repo="$w/net-ostree" refs --create="bench:$ref" "$c1"
# DELTA_RUNS rounds (default 1), alternated, each from copies of the two clients holding v1.
runs=${DELTA_RUNS:-1}
tj=() to=()
for ((round = 1; round <= runs; round++)); do
    rm -rf "$w/net-jigdo-r" "$w/net-ostree-r" "$w/net.json"
    cp -a "$w/net-jigdo" "$w/net-jigdo-r"
    cp -a "$w/net-ostree" "$w/net-ostree-r"
    sync; nginx_clear_log; t0=$(now)
    "$jigdo" install bench-os --nogpgcheck --from "$NGINX_URL/rpm/" --repo "$w/net-jigdo-r" \
        --ref bench/os --json >"$w/net.json"
    t1=$(now); net_jigdo_bytes=$(nginx_bytes)
    [ "$(ostree --repo="$w/net-jigdo-r" rev-parse bench/os)" = "$c2" ] || { echo "jigdo install gave the wrong commit" >&2; exit 1; }
    grep -q '"path": "delta"' "$w/net.json" || { echo "jigdo install did not take the delta:" >&2; cat "$w/net.json" >&2; exit 1; }
    sync; nginx_clear_log; t2=$(now)
    ostree --repo="$w/net-ostree-r" pull bench "$ref" >/dev/null
    t3=$(now); net_ostree_bytes=$(nginx_bytes)
    [ "$(ostree --repo="$w/net-ostree-r" rev-parse "bench:$ref")" = "$c2" ] || { echo "ostree pull gave the wrong commit" >&2; exit 1; }
    grep -q '/deltas/' "$w/ng/access.log" || { echo "ostree pull did not use the static delta" >&2; exit 1; }
    tj+=("$(echo "$t1 - $t0" | bc)") to+=("$(echo "$t3 - $t2" | bc)")
    echo "round $round: jigdo install ${tj[-1]} s, ostree pull ${to[-1]} s (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
done

printf '%-44s %14s\n' "$(ostree --repo="$compose" show --print-metadata-key=version "$c1" | tr -d "'") -> $(ostree --repo="$compose" show --print-metadata-key=version "$c2" | tr -d "'")" "bytes"
printf '%-44s %14d\n' "delta RPM" "$(stat -c %s "$delta")"
printf '%-44s %14d\n' "ostree static delta (superblock + parts)" "$static_bytes"
printf '%-44s %14d\n' "full update (jigdo RPM + changed RPMs)" "$full_bytes"
printf 'ratio delta RPM / static delta: %.2f\n' "$(echo "$(stat -c %s "$delta") / $static_bytes" | bc -l)"
printf '%-44s %10s %10s\n' "" "wall s" "peak MiB"
printf '%-44s %10s %10s\n' "jigdo pack v2 (no delta)" "$(secs pack)" "$(mib pack)"
printf '%-44s %10s %10s\n' "jigdo pack v2 --delta-from v1" "$(secs pack-delta)" "$(mib pack-delta)"
printf '%-44s %10s %10s\n' "ostree static-delta generate" "$(secs static)" "$(mib static)"
printf '%-44s %10s %10s\n' "jigdo unpack DELTA (bare-user, holds v1)" "$(secs apply)" "$(mib apply)"
printf '%-44s %10s %10s\n' "ostree static-delta apply-offline" "$(secs static-apply)" "$(mib static-apply)"
printf '%-44s %10s %14s\n' "over loopback nginx (last round)" "wall s" "bytes"
printf '%-44s %10.2f %14d\n' "jigdo install (takes the delta RPM)" "${tj[-1]}" "$net_jigdo_bytes"
printf '%-44s %10.2f %14d\n' "ostree pull (takes the static delta)" "${to[-1]}" "$net_ostree_bytes"
python3 - "${tj[*]}" "${to[*]}" <<'EOF'
import statistics, sys
j, o = ([float(x) for x in a.split()] for a in sys.argv[1:])
r = [a / b for a, b in zip(j, o)]
print("ratio install / pull, wall time, per round: %s (median %.2f)" % (" ".join("%.2f" % x for x in r), statistics.median(r)))
EOF
