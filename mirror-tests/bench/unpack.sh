#!/usr/bin/env bash
# Benchmark: `jigdo unpack` from local RPMs into a fresh bare-user repository, side by side
# with `ostree pull-local` of the same commit from an archive repository into a fresh
# bare-user repository. Prints wall time and peak memory (GNU time -v) of each, and the
# ratio.
#
# usage: mirror-tests/bench/unpack.sh [WORKDIR]
#
# The commit: if the benchmark corpus exists (mirror-tests/corpus; its corpus.env at
# $CORPUS_ENV, default /var/tmp/jigdo-corpus/corpus.env), its V1 commit and RPMs;
# otherwise a synthetic one: the specs/ test packages plus jt-big (JT_BIG_MB MiB, default
# 64), composed with examples/compose-tree.sh. The jigdo binary: $JIGDO_BIN, or the
# release build in ${CARGO_TARGET_DIR:-target} (built if missing).
# Both sides run with warm page caches (inputs are read once before timing); each is run
# RUNS times (default 2), alternating, and the best run is reported.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
command -v /usr/bin/time >/dev/null || { echo "error: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
command -v ostree >/dev/null || { echo "error: ostree missing" >&2; exit 1; }
runs=${RUNS:-2}

jigdo=${JIGDO_BIN:-${CARGO_TARGET_DIR:-$top/target}/release/jigdo}
if [ ! -x "$jigdo" ]; then
  cargo build --release --manifest-path "$top/Cargo.toml" --bin jigdo
fi

if [ $# -ge 1 ]; then work=$1; mkdir -p "$work"; trap 'rm -rf "$work/trash"' EXIT; else
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
# Each run's repositories are moved aside, not deleted, before the next (aside.sh: on a
# journal-less ext4 the run right after a mass deletion pays for it).
# shellcheck source=aside.sh
. "$top/mirror-tests/bench/aside.sh"
aside_init "$work/trash" 1

corpus_env=${CORPUS_ENV:-/var/tmp/jigdo-corpus/corpus.env}
if [ -f "$corpus_env" ]; then
  # shellcheck disable=SC1090
  . "$corpus_env"
  src_repo=$REPO commit=$V1_COMMIT rpms=$RPMS
  echo "== corpus commit $commit from $src_repo"
else
  rpms=$work/rpms
  if [ ! -d "$rpms" ]; then
    "$top/specs/build-test-packages.sh" "$rpms" >/dev/null
    JT_RPMBUILD_OPTS="--define 'jt_big_mb ${JT_BIG_MB:-64}'" \
      "$top/specs/build-test-packages.sh" "$rpms" "$top/specs/jt-big.spec" >/dev/null
  fi
  src_repo=$work/compose
  if [ ! -d "$src_repo" ]; then
    "$top/examples/compose-tree.sh" "$rpms" "$src_repo" bench/os 1.0 >/dev/null
  fi
  commit=$(ostree --repo="$src_repo" rev-parse bench/os)
  echo "== synthetic commit $commit"
fi
files=$(ostree --repo="$src_repo" ls -R "$commit" | grep -vc '^d' || true)
echo "   $files entries; source repo mode: $(ostree --repo="$src_repo" config get core.mode)"

rm -rf "$work/jigdo"
"$jigdo" pack --repo "$src_repo" --rev "$commit" --from "$rpms" --output "$work/jigdo" \
  --name bench-os >"$work/pack.out" 2>"$work/pack.err"
jrpm=$(tail -n1 "$work/pack.out")
cat "$work/pack.err"
"$jigdo" info "$jrpm" | sed -n '1,9p'

# Warm the page cache for both inputs.
cat "$rpms"/*.rpm "$jrpm" >/dev/null 2>&1 || true
find "$src_repo/objects" -type f -exec cat {} + >/dev/null

measure() { # NAME CMD...: prints "seconds peak_kib"
  local name=$1; shift
  /usr/bin/time -v -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err" || {
    echo "error: $name failed:" >&2; cat "$work/$name.err" >&2; exit 1; }
  local wall rss
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/$name.time" |
    awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/$name.time")
  echo "$wall $rss"
}

best_u=999999 best_p=999999 rss_u=0 rss_p=0
for i in $(seq "$runs"); do
  aside "$work/unpack-bu" "$work/pull-bu"
  read -r t r < <(measure unpack "$jigdo" unpack "$jrpm" --from "$rpms" --repo "$work/unpack-bu" \
    --mode bare-user --ref bench/os)
  [ "$(cat "$work/unpack.out")" = "$commit" ] || { echo "error: unpack gave $(cat "$work/unpack.out")" >&2; exit 1; }
  echo "   run $i: jigdo unpack     ${t}s  peak ${r} KiB"
  if awk "BEGIN{exit !($t < $best_u)}"; then best_u=$t rss_u=$r; fi
  ostree --repo="$work/pull-bu" init --mode=bare-user
  read -r t r < <(measure pull ostree --repo="$work/pull-bu" pull-local "$src_repo" "$commit")
  echo "   run $i: ostree pull-local ${t}s  peak ${r} KiB"
  if awk "BEGIN{exit !($t < $best_p)}"; then best_p=$t rss_p=$r; fi
done
ostree --repo="$work/unpack-bu" fsck >/dev/null
echo "== result (best of $runs, warm cache)"
echo "jigdo unpack (local RPMs -> bare-user):      ${best_u} s, peak RSS ${rss_u} KiB"
echo "ostree pull-local (archive -> bare-user):    ${best_p} s, peak RSS ${rss_p} KiB"
awk "BEGIN{printf \"ratio unpack/pull-local: %.2f (below 1 = jigdo faster)\n\", $best_u/$best_p}"
