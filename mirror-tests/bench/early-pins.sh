#!/usr/bin/env bash
# Issue 13, pins downloading before the whole jigdo RPM is in: the update v1 -> v2 of an
# existing repository from a loopback nginx behind a link of RATE bytes/s (default
# 50000000: mirror-tests/bench/throttle.py, one token bucket for every response), jigdo's
# default --parallel 4, timed with JIGDO_BIN (default target/release/jigdo) and with
# JIGDO_OLD (a build whose install waits for the whole jigdo RPM before fetching any pin),
# alternated, BENCH_RUNS rounds (default 3). Each round copies one v1 repository (installed
# once, untimed) for each binary; each timed install starts after `sync`.
# Usage: JIGDO_OLD=BIN mirror-tests/bench/early-pins.sh [JIGDO_BIN]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
jigdo=${1:-${JIGDO_BIN:-${CARGO_TARGET_DIR:-$here/target}/release/jigdo}}
old=${JIGDO_OLD:?set JIGDO_OLD to the jigdo to compare with}
runs=${BENCH_RUNS:-3}
rate=${RATE:-50000000}
for t in nginx ostree bc curl; do command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }; done
w=$(mktemp -d /var/tmp/jigdo-bench-early.XXXXXX)
# shellcheck source=nginx.sh
. "$here/mirror-tests/bench/nginx.sh"
tpid=
trap 'stop_nginx; [ -z "$tpid" ] || kill "$tpid"; rm -rf "$w"' EXIT
# Trees written by a timed run are moved aside, not deleted, before the next one (aside.sh:
# on a journal-less ext4 the run right after a mass deletion pays for it).
# shellcheck source=aside.sh
. "$here/mirror-tests/bench/aside.sh"
aside_init "$w/trash" 1
# shellcheck source=versions.sh
. "$here/mirror-tests/bench/versions.sh"
load_versions "$w"
mkdir -p "$w/www/rpm/Packages"
"$jigdo" pack --repo "$compose" --rev "$c1" --from "$v1" --output "$w/www/rpm" --name bench-os >/dev/null
j2=$("$jigdo" pack --repo "$compose" --rev "$c2" --from "$v2" --output "$w/www/rpm" --name bench-os | tail -n1)
cp -l "$v1"/*.rpm "$v2"/*.rpm "$w/www/rpm/Packages/" 2>/dev/null || cp -n "$v1"/*.rpm "$v2"/*.rpm "$w/www/rpm/Packages/"
"$jigdo" repo create "$w/www/rpm" >/dev/null
start_nginx "$w/www" "$w/ng"
ver1=$(ostree --repo="$compose" show --print-metadata-key=version "$c1" | tr -d "'")
"$jigdo" install "bench-os-$ver1" --nogpgcheck --from "$NGINX_URL/rpm/" --repo "$w/v1" --ref bench/os >/dev/null 2>&1
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 "$here/mirror-tests/bench/throttle.py" "$port" "${NGINX_URL##*:}" "$rate" & tpid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
url=http://127.0.0.1:$port/rpm/
echo "update v1 -> v2: jigdo RPM $(stat -c %s "$j2") bytes; link $rate bytes/s (throttle.py)"
now() { date +%s.%N; }
timed() { # BIN: the update of a copy of the v1 repository; prints its wall time
  aside "$w/client"; cp -a "$w/v1" "$w/client"; sync
  local t0 t1; t0=$(now)
  "$1" install bench-os --nogpgcheck --from "$url" --repo "$w/client" --ref bench/os >"$w/out" 2>"$w/err" \
    || { echo "error: $1:" >&2; cat "$w/err" >&2; exit 1; }
  t1=$(now)
  [ "$(ostree --repo="$w/client" rev-parse bench/os)" = "$c2" ] || { echo "error: wrong commit" >&2; exit 1; }
  echo "$t1 - $t0" | bc
}
for ((r = 1; r <= runs; r++)); do
  a=$(timed "$jigdo"); b=$(timed "$old")
  echo "round $r: new $a s, old $b s, new/old $(echo "scale=3; $a / $b" | bc) (load $(cut -d' ' -f1-3 /proc/loadavg))"
done
