#!/usr/bin/env bash
# Issue 13, pipelined download and import: the full install of v1 into an empty repository
# from a loopback nginx behind a link of RATE bytes/s (default 50000000 = 50 MB/s: the
# forwarder mirror-tests/bench/throttle.py, one token bucket for every response together;
# nginx's own `limit_rate` limits each response separately and lets each send a second's
# worth at once, so on a corpus of small packages it limits nothing), with jigdo's default
# --parallel 4 (PARALLEL), against the same two halves measured apart:
#   (a) install   jigdo install of v1 into an empty repository (metadata, jigdo RPM,
#                 packages, import, ref) from nginx;
#   (b) download  jigdo mirror of the same jigdo RPM from the same nginx into an empty
#                 directory (metadata, jigdo RPM, the same pinned packages through the same
#                 downloader, each verified while fetched), minus the `jigdo repo create`
#                 that mirror ends with (timed apart on its output: mirror publishes the
#                 directory, which install does not do);
#   (c) unpack    jigdo unpack of the same jigdo RPM from the local v1 RPMs into an empty
#                 repository (it hashes each package once more, which install does not: the
#                 download verified it);
# ratio = install / (download + unpack); the goal is <= 0.7. With JIGDO_OLD=BIN (a jigdo
# built before the pipelining) the same install is also timed with it (before/after).
# Several links in one run: RATES="50 100 200" (MB/s, 10^6 bytes/s; 0 = no throttle,
# nginx directly) instead of RATE; each rate gets its own forwarder and BENCH_RUNS rounds.
# The install runs with JIGDO_LOG=jigdo_install=debug,jigdo_unpack=debug and its tail is
# read from that log's timestamps: from the last package in place (downloaded and
# verified) to the end of the command, split into the imports still running then (to the
# last "package imported"), the rest of the rebuild up to the ref (tree, transaction
# commit, completeness check: to "commit checked"), and what follows (install record,
# kept repomd state, removing the downloads, exit).
# BENCH_RUNS rounds (default 3), alternated; each timed command starts after `sync`, page
# cache warm (the corpus RPMs are read once first). The repositories and the mirror of
# earlier runs are moved aside, not deleted, until the script exits (aside.sh: a
# repository of the small corpus deleted right before a run cost that run 5-6 s of system
# time on this machine's journal-less ext4, the "disk outliers" of earlier sessions; it
# needs about 1.4 GB of disk per round). A table per rate at the end.
# Usage: mirror-tests/bench/pipeline.sh [JIGDO_BIN]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
jigdo=${1:-${JIGDO_BIN:-${CARGO_TARGET_DIR:-$here/target}/release/jigdo}}
[ -x "$jigdo" ] || { echo "build jigdo first" >&2; exit 1; }
old=${JIGDO_OLD:-}
runs=${BENCH_RUNS:-3}
if [ -n "${RATES:-}" ]; then
  rates=()
  for m in $RATES; do rates+=("$((m * 1000000))"); done
else
  rates=("${RATE:-50000000}")
fi
parallel=${PARALLEL:-4}
for t in nginx ostree bc; do command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }; done
w=$(mktemp -d /var/tmp/jigdo-bench-pipeline.XXXXXX)
# shellcheck source=nginx.sh
. "$here/mirror-tests/bench/nginx.sh"
# shellcheck source=aside.sh
. "$here/mirror-tests/bench/aside.sh"
aside_init "$w/trash" 1
tpid=
trap 'stop_nginx; [ -z "$tpid" ] || kill "$tpid"; rm -rf "$w"' EXIT

# shellcheck source=versions.sh
. "$here/mirror-tests/bench/versions.sh"
load_versions "$w"
mkdir -p "$w/www/rpm/Packages"
jrpm=$("$jigdo" pack --repo "$compose" --rev "$c1" --from "$v1" --output "$w/www/rpm" --name bench-os | tail -n1)
cp -l "$v1"/*.rpm "$w/www/rpm/Packages/"
"$jigdo" repo create "$w/www/rpm" >/dev/null
ver=$(ostree --repo="$compose" show --print-metadata-key=version "$c1" | tr -d "'")
pkgs=$(find "$v1" -name '*.rpm' | wc -l)
mb=$(du -smL "$v1" | cut -f1)
echo "v1: $pkgs packages, $mb MiB; jigdo RPM $(stat -c %s "$jrpm") bytes; links ${rates[*]} bytes/s (throttle.py; 0: none), --parallel $parallel"
cat "$v1"/*.rpm "$jrpm" > /dev/null

start_nginx "$w/www" "$w/ng"
now() { date +%s.%N; }
el() { echo "$2 - $1" | bc; }
timed() { # VAR CMD...: runs CMD after sync, appends its wall time to the array VAR
  local var=$1 t0 t1; shift
  sync; t0=$(now)
  "$@" >"$w/out" 2>"$w/err" || { echo "error: $*:" >&2; cat "$w/err" >&2; exit 1; }
  t1=$(now); eval "$var+=(\$(el $t0 $t1))"
  tend=$t1
}
check() { [ "$(ostree --repo="$1" rev-parse bench/os)" = "$c1" ] || { echo "error: $1: wrong commit" >&2; exit 1; }; }
# The epoch time (s.ns) of the last line of the debug log $w/err matching PATTERN.
stamp() {
  local ts
  ts=$(grep -a "$1" "$w/err" | tail -n1 | cut -d' ' -f1)
  [ -n "$ts" ] || { echo "error: no '$1' in the install's debug log" >&2; exit 1; }
  date -d "$ts" +%s.%N
}
# The tail of the install whose debug log is $w/err and which ended at $tend:
# sets tail_s and tail_parts (imports still running + rebuild to the ref + the rest).
tails() {
  local last_in last_imp checked
  last_in=$(stamp 'package in place')
  last_imp=$(stamp 'package imported')
  checked=$(stamp 'unpack: commit checked')
  tail_s=$(printf %.3f "$(el "$last_in" "$tend")")
  tail_parts=$(printf '%.3f + %.3f + %.3f' "$(el "$last_in" "$last_imp")" "$(el "$last_imp" "$checked")" "$(el "$checked" "$tend")")
}
f3() { printf %.3f "$1"; }
table=()
for rate in "${rates[@]}"; do
  if [ "$rate" = 0 ]; then
    url=$NGINX_URL/rpm/
  else
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    python3 "$here/mirror-tests/bench/throttle.py" "$port" "${NGINX_URL##*:}" "$rate" & tpid=$!
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
    url=http://127.0.0.1:$port/rpm/
  fi
  echo "== link $rate bytes/s"
  ti=() tm=() tr=() tu=() to=() tt=()
  for ((r = 1; r <= runs; r++)); do
    aside "$w/client"
    JIGDO_LOG=jigdo_install=debug,jigdo_unpack=debug timed ti "$jigdo" install "bench-os-$ver" \
      --nogpgcheck --from "$url" --repo "$w/client" --ref bench/os --parallel "$parallel"
    check "$w/client"
    tails
    tail=$tail_s tparts=$tail_parts
    tt+=("$tail")
    aside "$w/mirror"; mkdir -p "$w/mirror"
    timed tm "$jigdo" mirror "bench-os-$ver" --nogpgcheck --from "$url" --to "$w/mirror" --parallel "$parallel"
    timed tr "$jigdo" repo create "$w/mirror"
    aside "$w/unpacked"
    timed tu "$jigdo" unpack "$jrpm" --from "$v1" --repo "$w/unpacked" --ref bench/os
    check "$w/unpacked"
    if [ -n "$old" ]; then
      aside "$w/client-old"
      JIGDO_LOG=jigdo_install=debug,jigdo_unpack=debug timed to "$old" install "bench-os-$ver" \
        --nogpgcheck --from "$url" --repo "$w/client-old" --ref bench/os --parallel "$parallel"
      check "$w/client-old"
      tails
    fi
    d=$(el "${tr[-1]}" "${tm[-1]}")
    ratio=$(echo "scale=3; ${ti[-1]} / ($d + ${tu[-1]})" | bc)
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    line="round $r: install $(f3 "${ti[-1]}") s (tail $tail s = imports after the last download + rebuild to the ref + the rest: $tparts); download $(f3 "$d") s (mirror $(f3 "${tm[-1]}") - repo create $(f3 "${tr[-1]}")); unpack $(f3 "${tu[-1]}") s; install/(download+unpack) = $(f3 "$ratio")"
    [ -z "$old" ] || line="$line; before (JIGDO_OLD) install $(f3 "${to[-1]}") s (tail $tail_s s = $tail_parts)"
    echo "$line (load $load)"
    row="| $((rate / 1000000)) | $r | $(printf %.2f "$d") | $(printf %.2f "${tu[-1]}") | $(printf %.2f "${ti[-1]}") | $(printf %.2f "$ratio") | $(printf %.2f "$tail") |"
    [ -z "$old" ] || row="$row $(printf %.2f "${to[-1]}") | $(printf %.2f "$tail_s") |"
    table+=("$row $load |")
  done
  if [ -n "$tpid" ]; then kill "$tpid"; wait "$tpid" 2>/dev/null || true; tpid=; fi
done
echo
head="| MB/s | round | download s | unpack s | install s | install/(download+unpack) | tail s |"
sep="|---:|---:|---:|---:|---:|---:|---:|"
[ -z "$old" ] || { head="$head before s | before tail s |"; sep="$sep---:|---:|"; }
echo "$head load |"
echo "$sep---|"
printf '%s\n' "${table[@]}"
