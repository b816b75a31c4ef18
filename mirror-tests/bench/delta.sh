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
#             DELTA_RUNS=N alternated rounds (default 1);
#   floor     in the same rounds, alternated with the two installs: the zstd CLI
#             compressing the delta's largest recompressed object (the initramfs) again
#             from its decompressed bytes, with the parameters its record gives (level,
#             frame flags) on 1 and 2 workers (-T1, -T2: the same frame, checked with
#             cmp), i.e. the work the client cannot skip to rebuild the exact object.
#             Skipped when the delta has no recompressed object.
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
# Each round's client copies are moved aside, not deleted, before the next timed run
# (aside.sh: on a journal-less ext4 the run right after a mass deletion pays for it).
# shellcheck source=aside.sh
. "$here/mirror-tests/bench/aside.sh"
aside_init "$w/trash" 1
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

# The floor: the delta's largest recompressed object, decompressed once (the client gets
# these bytes from the patch), and the zstd CLI's options for its record's parameters.
"$jigdo" info --json "$delta" >"$w/delta-info.json"
floor_args=$(python3 - "$w/delta-info.json" <<'EOF'
import json, sys
r = sorted(json.load(open(sys.argv[1])).get("recompressed", []), key=lambda o: o["size"])
if r:
    o = r[-1]
    flags = ["-%d" % o["level"], "--no-check" if not o["checksum"] else "--check",
             "--content-size" if o["content_size"] else "--no-content-size"]
    print(o["object"], o["size"], o["raw_size"], "yes" if o["multithreaded"] else "no", *flags)
EOF
)
floor_obj="" floor_mt=""
floor_opts=()
if [ -n "$floor_args" ]; then
    read -r floor_obj floor_size floor_raw floor_mt floor_level floor_check floor_cs <<<"$floor_args"
    floor_opts=("$floor_level" "$floor_check" "$floor_cs")
    # A bare-user repository stores a regular file's bytes as they are.
    cp "$w/jigdo-client/objects/${floor_obj:0:2}/${floor_obj:2}.file" "$w/floor.zst"
    zstd -q -d -c "$w/floor.zst" >"$w/floor.raw"
    [ "$(stat -c %s "$w/floor.raw")" = "$floor_raw" ] || { echo "floor: decompressed size differs from the record's" >&2; exit 1; }
fi
# floor_zstd THREADS: compresses floor.raw again (from a pipe, as the record's stream was
# made), to OUT (default /dev/null).
floor_zstd() {
    local t
    if [ "$floor_mt" = yes ]; then t=(-T"$1"); else t=(--single-thread); fi
    zstd -q "${floor_opts[@]}" "${t[@]}" -c <"$w/floor.raw" >"${2:-/dev/null}"
}
# Both thread counts must give the object's exact bytes (else the row times other work).
for t in 1 2; do
    [ -z "$floor_obj" ] && break
    floor_zstd "$t" "$w/floor-T$t.zst"
    cmp -s "$w/floor-T$t.zst" "$w/floor.zst" ||
        { echo "floor: zstd ${floor_opts[*]} -T$t does not reproduce object $floor_obj" >&2; exit 1; }
    rm -f "$w/floor-T$t.zst"
done

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
tj=() to=() tz1=() tz2=()
for ((round = 1; round <= runs; round++)); do
    aside "$w/net-jigdo-r" "$w/net-ostree-r"; rm -f "$w/net.json"
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
    floor_msg=""
    if [ -n "$floor_obj" ]; then
        t4=$(now); floor_zstd 1; t5=$(now); floor_zstd 2; t6=$(now)
        tz1+=("$(echo "$t5 - $t4" | bc)") tz2+=("$(echo "$t6 - $t5" | bc)")
        floor_msg=", zstd again ${tz1[-1]} s (-T1) ${tz2[-1]} s (-T2)"
    fi
    echo "round $round: jigdo install ${tj[-1]} s, ostree pull ${to[-1]} s$floor_msg (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
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
if [ -n "$floor_obj" ]; then
    printf '%-44s %10.2f %14s\n' "floor: zstd ${floor_opts[*]} -T1, $((floor_raw / 1048576)) MiB" "${tz1[-1]}" "$floor_size"
    printf '%-44s %10.2f\n' "floor: the same frame with -T2" "${tz2[-1]}"
fi
python3 - "${tj[*]}" "${to[*]}" "${tz1[*]}" "${tz2[*]}" <<'EOF'
import statistics, sys
j, o, z1, z2 = ([float(x) for x in a.split()] for a in sys.argv[1:])
def show(what, a):
    r = [x / y for x, y in zip(a, o)]
    print("ratio %s / pull, wall time, per round: %s (median %.2f)" % (what, " ".join("%.2f" % x for x in r), statistics.median(r)))
show("install", j)
if z1:
    show("zstd again -T1", z1)
    show("zstd again -T2", z2)
EOF
