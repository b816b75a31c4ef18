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
# BENCH_RUNS rounds (default 3), alternated; each timed command starts after `sync`, page
# cache warm (the corpus RPMs are read once first).
# Usage: mirror-tests/bench/pipeline.sh [JIGDO_BIN]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
jigdo=${1:-${JIGDO_BIN:-${CARGO_TARGET_DIR:-$here/target}/release/jigdo}}
[ -x "$jigdo" ] || { echo "build jigdo first" >&2; exit 1; }
old=${JIGDO_OLD:-}
runs=${BENCH_RUNS:-3}
rate=${RATE:-50000000}
parallel=${PARALLEL:-4}
for t in nginx ostree bc; do command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }; done
w=$(mktemp -d /var/tmp/jigdo-bench-pipeline.XXXXXX)
# shellcheck source=nginx.sh
. "$here/mirror-tests/bench/nginx.sh"
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
echo "v1: $pkgs packages, $mb MiB; jigdo RPM $(stat -c %s "$jrpm") bytes; link $rate bytes/s (throttle.py), --parallel $parallel"
cat "$v1"/*.rpm "$jrpm" > /dev/null

start_nginx "$w/www" "$w/ng"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 "$here/mirror-tests/bench/throttle.py" "$port" "${NGINX_URL##*:}" "$rate" & tpid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
url=http://127.0.0.1:$port/rpm/
now() { date +%s.%N; }
el() { echo "$2 - $1" | bc; }
timed() { # VAR CMD...: runs CMD after sync, appends its wall time to the array VAR
  local var=$1 t0 t1; shift
  sync; t0=$(now)
  "$@" >"$w/out" 2>"$w/err" || { echo "error: $*:" >&2; cat "$w/err" >&2; exit 1; }
  t1=$(now); eval "$var+=(\$(el $t0 $t1))"
}
check() { [ "$(ostree --repo="$1" rev-parse bench/os)" = "$c1" ] || { echo "error: $1: wrong commit" >&2; exit 1; }; }
ti=() tm=() tr=() tu=() to=()
for ((r = 1; r <= runs; r++)); do
  rm -rf "$w/client"
  timed ti "$jigdo" install "bench-os-$ver" --nogpgcheck --from "$url" --repo "$w/client" \
    --ref bench/os --parallel "$parallel"
  check "$w/client"
  rm -rf "$w/mirror"; mkdir -p "$w/mirror"
  timed tm "$jigdo" mirror "bench-os-$ver" --nogpgcheck --from "$url" --to "$w/mirror" --parallel "$parallel"
  timed tr "$jigdo" repo create "$w/mirror"
  rm -rf "$w/unpacked"
  timed tu "$jigdo" unpack "$jrpm" --from "$v1" --repo "$w/unpacked" --ref bench/os
  check "$w/unpacked"
  if [ -n "$old" ]; then
    rm -rf "$w/client-old"
    timed to "$old" install "bench-os-$ver" --nogpgcheck --from "$url" --repo "$w/client-old" \
      --ref bench/os --parallel "$parallel"
    check "$w/client-old"
  fi
  d=$(el "${tr[-1]}" "${tm[-1]}")
  ratio=$(echo "scale=3; ${ti[-1]} / ($d + ${tu[-1]})" | bc)
  line="round $r: install ${ti[-1]} s; download ${d} s (mirror ${tm[-1]} - repo create ${tr[-1]}); unpack ${tu[-1]} s; install/(download+unpack) = $ratio"
  [ -z "$old" ] || line="$line; before (JIGDO_OLD) install ${to[-1]} s"
  echo "$line (load $(cut -d' ' -f1-3 /proc/loadavg))"
done
