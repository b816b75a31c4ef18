#!/usr/bin/env bash
# Benchmark (not a test): `jigdo fsck` against `ostree fsck` on one large commit.
#
# Builds (once, cached) a commit of a big tree — by default /usr/share of this
# machine — in an archive repository and a bare-user repository, then times
# both tools verifying the same repository and prints the ratio.
#
# Environment:
#   JIGDO               jigdo binary to use (default: cargo build --release)
#   JIGDO_BENCH_TREE    tree to commit (default: /usr/share; /usr works but takes long to commit)
#   JIGDO_BENCH_CACHE   where the repos are kept (default: /var/tmp/jigdo-bench-fsck)
#   JIGDO_BENCH_MODES   modes to measure (default: "archive bare-user")
set -euo pipefail

TREE=${JIGDO_BENCH_TREE:-/usr/share}
CACHE=${JIGDO_BENCH_CACHE:-/var/tmp/jigdo-bench-fsck}
MODES=${JIGDO_BENCH_MODES:-archive bare-user}
HERE=$(cd "$(dirname "$0")/../.." && pwd)

command -v ostree >/dev/null || { echo "error: ostree is not installed" >&2; exit 1; }
if [ -z "${JIGDO:-}" ]; then
    (cd "$HERE" && cargo build --release --bin jigdo >&2)
    JIGDO="${CARGO_TARGET_DIR:-$HERE/target}/release/jigdo"
fi
[ -x "$JIGDO" ] || { echo "error: jigdo binary $JIGDO not found" >&2; exit 1; }

now() { date +%s.%N; }
timed() { # timed OUTVAR cmd... ; runs cmd, stores seconds in OUTVAR, fails if cmd fails
    local __var=$1; shift
    local t0 t1
    t0=$(now)
    "$@" >/dev/null
    t1=$(now)
    printf -v "$__var" '%s' "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')"
}

mkdir -p "$CACHE"
key=$(echo "$TREE" | tr '/' '_')
printf '%-10s %10s %8s %12s %12s %8s\n' mode objects size ostree_s jigdo_s ratio
for mode in $MODES; do
    repo="$CACHE/$mode$key"
    if [ ! -s "$repo/refs/heads/bench" ]; then
        echo "building $mode repository of $TREE in $repo (once) ..." >&2
        rm -rf "$repo"
        ostree --repo="$repo" init --mode="$mode"
        ostree --repo="$repo" commit --fsync=false -b bench -s bench \
            --tree=dir="$TREE" >/dev/null
    fi
    objects=$(find "$repo/objects" -type f | wc -l)
    size=$(du -sh "$repo" | cut -f1)
    # Warm the page cache with one ostree run, then time each tool.
    ostree fsck --repo="$repo" >/dev/null
    timed t_ostree ostree fsck --repo="$repo"
    timed t_jigdo "$JIGDO" fsck --repo="$repo"
    ratio=$(awk -v a="$t_ostree" -v b="$t_jigdo" 'BEGIN{printf "%.2f", (b > 0 ? a/b : 0)}')
    printf '%-10s %10s %8s %12s %12s %7sx\n' "$mode" "$objects" "$size" "$t_ostree" "$t_jigdo" "$ratio"
done
echo "(ratio = ostree fsck time / jigdo fsck time; >1 means jigdo is faster; $(nproc) CPUs)"
