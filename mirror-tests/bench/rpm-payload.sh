#!/bin/bash
# Payload streaming throughput of rpm-package (decompress + cpio parse + digest-check every
# file + payload digest) against `rpm2cpio PKG | cpio -idm` into tmpfs and `rpm -K`, on
# ~200 MB packages built with rpmbuild (specs/jt-big.spec) with zstd and xz payloads.
#
#   mirror-tests/bench/rpm-payload.sh [MB] [WORKDIR]     (defaults: 200, /tmp/rpm-payload-bench)
#
# Prints seconds (best of 3) per tool and the ratio tool-time / our-time (> 1: we are faster).
set -euo pipefail
mb=${1:-200}
work=${2:-/tmp/rpm-payload-bench}
root=$(cd "$(dirname "$0")/../.." && pwd)
for t in rpmbuild rpm rpm2cpio cpio; do
    command -v $t >/dev/null || { echo "error: $t not found (apt-get install rpm cpio)" >&2; exit 1; }
done
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
cargo build --quiet --release -p rpm-package --example stream --manifest-path "$root/Cargo.toml"
stream="$CARGO_TARGET_DIR/release/examples/stream"
mkdir -p "$work"
declare -A payloads=([zstd]=w19T2.zstdio [xz]=w6T2.xzdio)
pkgs=()
for c in zstd xz; do
    out="$work/$c"
    pkg=$(ls "$out"/jt-big-"$mb"-1.noarch.rpm 2>/dev/null || true)
    if [ -z "$pkg" ]; then
        echo "building a $mb MB $c package..." >&2
        JT_RPMBUILD_OPTS="--define 'jt_big_mb $mb' --define '_binary_payload ${payloads[$c]}'" \
            "$root/specs/build-test-packages.sh" "$out" "$root/specs/jt-big.spec" >/dev/null
        pkg="$out/jt-big-$mb-1.noarch.rpm"
    fi
    pkgs+=("$c:$pkg")
done
tmpfs=${TMPFS_DIR:-/dev/shm}
best() { # best wall time of 3 runs of "$@", in seconds
    local b=""
    for _ in 1 2 3; do
        local s e
        s=$(date +%s.%N)
        "$@" >/dev/null 2>&1 || { echo "error: $* failed" >&2; exit 1; }
        e=$(date +%s.%N)
        b=$(echo "$s $e ${b:-999999}" | awk '{d=$2-$1; print (d<$3)?d:$3}')
    done
    echo "$b"
}
extract() { # rpm2cpio | cpio -idm into a fresh tmpfs dir
    local d
    d=$(mktemp -d -p "$tmpfs" rpm-bench.XXXXXX)
    rpm2cpio "$1" | cpio -idm --quiet -D "$d"
    rm -rf "$d"
}
printf '%-5s %9s %10s | %-22s %8s %9s %7s\n' payload "size MB" "ours s" tool "tool s" "ours MB/s" ratio
for p in "${pkgs[@]}"; do
    c=${p%%:*}; pkg=${p#*:}
    size=$(stat -c %s "$pkg")
    ours=$(best "$stream" "$pkg")
    mbps=$(awk -v t="$ours" -v m="$mb" 'BEGIN{printf "%.0f", m*1.048576/t}')
    for tool in "rpm2cpio|cpio -idm" "rpm -K"; do
        case $tool in
            rpm2cpio*) t=$(best extract "$pkg") ;;
            "rpm -K") t=$(best rpm -K --nosignature "$pkg") ;;
        esac
        ratio=$(awk -v a="$t" -v b="$ours" 'BEGIN{printf "%.2f", a/b}')
        printf '%-5s %9.1f %10.3f | %-22s %8.3f %9s %7s\n' "$c" "$(awk -v s="$size" 'BEGIN{print s/1048576}')" "$ours" "$tool" "$t" "$mbps" "$ratio"
    done
done
