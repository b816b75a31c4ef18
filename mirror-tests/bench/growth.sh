#!/usr/bin/env bash
# How time and peak memory grow with the tree (issue 15): the per-command rows of the bench
# (pack, unpack on disk and on tmpfs, fsck, repo create, each beside its ostree/createrepo_c
# peer) on each corpus given, in alternated runs, then a growth table per 1,000 files.
#
# usage: mirror-tests/bench/growth.sh [CORPUS_DIR...]
#        (default: /var/tmp/jigdo-corpus /var/tmp/jigdo-corpus-large, the ones that exist;
#        each built by mirror-tests/corpus/build-corpus.sh [--large])
# env:   JIGDO=path/to/jigdo (default: target/release/jigdo, built if missing)
#        GROWTH_RUNS=N rounds (default 3); in each round every command of a group runs once,
#          one after the other (pack, jigdo fsck, ostree fsck; unpack, pull-local; ...), so
#          both sides of a ratio see the same machine state
#        GROWTH_WORK=dir (default /var/tmp/jigdo-growth; one subdirectory per corpus, wiped;
#          the trees of every round are kept there until the script exits, see below)
#        GROWTH_TMPFS=dir on a tmpfs for the tmpfs unpack rows (default /dev/shm/jigdo-growth;
#          empty: no tmpfs rows). Needs about the tree's size free (3.7 GiB for the large one).
#        GROWTH_GROUPS="pack unpack tmpfs repo" (default: all four)
#        GROWTH_COLD=1 (default): drop the page cache before every timed command, as bench.sh
#        GROWTH_REUSE=1: keep GROWTH_WORK/results.txt and measure only the corpora it has no
#          figures for (to measure one corpus now and the other later, then print both)
# Prints, per corpus, every run (seconds, peak RSS) and a table with medians, ranges and the
# ratio of each round; then the growth table. Raw figures: GROWTH_WORK/results.txt.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
if [ $# -gt 0 ]; then corpora=("$@"); else
  corpora=()
  for c in /var/tmp/jigdo-corpus /var/tmp/jigdo-corpus-large; do
    [ -f "$c/corpus.env" ] && corpora+=("$c")
  done
fi
[ "${#corpora[@]}" -gt 0 ] || { echo "error: no corpus (run mirror-tests/corpus/build-corpus.sh)" >&2; exit 1; }
for c in "${corpora[@]}"; do
  [ -f "$c/corpus.env" ] || { echo "error: $c/corpus.env not found: run mirror-tests/corpus/build-corpus.sh first" >&2; exit 1; }
done
for t in /usr/bin/time ostree createrepo_c python3; do
  command -v "$t" >/dev/null || { echo "error: $t missing" >&2; exit 1; }
done
jigdo=${JIGDO:-${CARGO_TARGET_DIR:-$top/target}/release/jigdo}
if [ ! -x "$jigdo" ]; then cargo build --release --manifest-path "$top/Cargo.toml" --bin jigdo --features librepo; fi
runs=${GROWTH_RUNS:-3}
groups=${GROWTH_GROUPS:-pack unpack tmpfs repo}
tmpfs=${GROWTH_TMPFS-/dev/shm/jigdo-growth}
cold=${GROWTH_COLD:-1}
base=${GROWTH_WORK:-/var/tmp/jigdo-growth}
mkdir -p "$base"
results=$base/results.txt
# Trees on disk are moved aside, not deleted, before a timed run (see aside.sh).
# shellcheck source=aside.sh
. "$top/mirror-tests/bench/aside.sh"
trash=$base/trash-$$
trap 'rm -rf "$trash"' EXIT
aside_init "$trash" 1 # the size of the corpus's tree, set per corpus below
if [ "${GROWTH_REUSE:-0}" = 1 ]; then touch "$results"; else : > "$results"; fi

# run CORPUS NAME ROUND CMD...: one timed run; appends "CORPUS NAME ROUND SECONDS PEAK_KIB".
# $RESET (if set) is evaluated first, untimed.
run() {
  local corpus=$1 name=$2 round=$3 tf t m
  shift 3
  if [ -n "${RESET:-}" ]; then eval "$RESET"; fi
  sync
  if [ "$cold" = 1 ]; then echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; fi
  tf=$(mktemp)
  /usr/bin/time -f '%e %M' -o "$tf" "$@" > "$work/$name.out" 2> "$work/$name.err" || {
    echo "error: $name failed: $*" >&2; cat "$work/$name.err" >&2; exit 1; }
  read -r t m < "$tf"
  rm -f "$tf"
  echo "$corpus $name $round $t $m" >> "$results"
  printf '  %-14s round %s: %7.2f s  %5d MiB  (load %s)\n' "$name" "$round" "$t" $((m / 1024)) \
    "$(cut -d' ' -f1-3 /proc/loadavg)" >&2
}

declare -A files_of
for corpus in "${corpora[@]}"; do
  # shellcheck disable=SC1091
  . "$corpus/corpus.env"
  key=$(basename "$corpus")
  if grep -q "^$key files " "$results"; then
    echo "== $corpus: figures kept from $results (GROWTH_REUSE=1)" >&2
    continue
  fi
  work=$base/$key
  ASIDE_GIB=$(( $(du -s --block-size=1G "$corpus/roots/v1" 2>/dev/null | cut -f1 || echo 1) + 1 ))
  aside "$work"; mkdir -p "$work"
  echo "== $corpus: setup (v1 alone in an archive repository, as bench.sh)" >&2
  ostree init --repo="$work/v1-archive" --mode=archive
  ostree pull-local --repo="$work/v1-archive" "$REPO" "$V1_COMMIT" >/dev/null
  ostree refs --repo="$work/v1-archive" --create=corpus/os "$V1_COMMIT"
  files=$(ostree ls -R --repo="$work/v1-archive" "$V1_COMMIT" | grep -vc '^d')
  files_of[$key]=$files
  echo "$key files $files" >> "$results"
  "$jigdo" pack --repo "$work/v1-archive" --rev "$V1_COMMIT" --from "$RPMS" --output "$work/jigdo" \
    --name corpus-os --json > "$work/pack0.json"
  jrpm=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rpm"])' "$work/pack0.json")
  echo "   $files files and symlinks in v1; jigdo RPM $jrpm" >&2
  if [[ " $groups " == *" repo "* ]]; then
    mkdir -p "$work/repo-ours" "$work/repo-theirs"
    cp -l "$RPMS"/*.rpm "$work/repo-ours/"; cp -l "$RPMS"/*.rpm "$work/repo-theirs/"
  fi
  use_tmpfs=0
  if [[ " $groups " == *" tmpfs "* ]] && [ -n "$tmpfs" ]; then
    mkdir -p "$tmpfs"
    [ "$(stat -f -c %T "$tmpfs")" = tmpfs ] || { echo "error: GROWTH_TMPFS $tmpfs is not on a tmpfs" >&2; exit 1; }
    need=$(( $(du -s --block-size=1G "$corpus/roots/v1" 2>/dev/null | cut -f1 || echo 1) + 1 ))
    if [ "$(gib_free "$tmpfs")" -ge "$need" ]; then use_tmpfs=1; else
      echo "   (no tmpfs rows: $tmpfs has less than $need GiB free)" >&2; fi
  fi
  for ((r = 1; r <= runs; r++)); do
    echo "== $corpus: round $r of $runs" >&2
    if [[ " $groups " == *" pack "* ]]; then
      RESET='rm -rf "$work/jigdo-run"' run "$key" pack "$r" "$jigdo" pack --repo "$work/v1-archive" \
        --rev "$V1_COMMIT" --from "$RPMS" --output "$work/jigdo-run" --name corpus-os --json
      run "$key" jigdo_fsck "$r" "$jigdo" fsck --repo "$work/v1-archive"
      run "$key" ostree_fsck "$r" ostree fsck --repo="$work/v1-archive"
    fi
    if [[ " $groups " == *" unpack "* ]]; then
      RESET='aside "$work/unpacked" "$work/pulled"' run "$key" unpack "$r" "$jigdo" unpack "$jrpm" \
        --from "$RPMS" --repo "$work/unpacked" --mode bare-user --json
      RESET='aside "$work/unpacked" "$work/pulled"; ostree init --repo="$work/pulled" --mode=bare-user' \
        run "$key" pull_local "$r" ostree pull-local --repo="$work/pulled" "$work/v1-archive" "$V1_COMMIT"
    fi
    if [ "$use_tmpfs" = 1 ]; then
      RESET='rm -rf "$tmpfs/unpacked" "$tmpfs/pulled"' run "$key" unpack_tmpfs "$r" "$jigdo" unpack "$jrpm" \
        --from "$RPMS" --repo "$tmpfs/unpacked" --mode bare-user --json
      RESET='rm -rf "$tmpfs/unpacked" "$tmpfs/pulled"; ostree init --repo="$tmpfs/pulled" --mode=bare-user' \
        run "$key" pull_local_tmpfs "$r" ostree pull-local --repo="$tmpfs/pulled" "$work/v1-archive" "$V1_COMMIT"
    fi
    if [[ " $groups " == *" repo "* ]]; then
      RESET='rm -rf "$work/repo-ours/repodata"' run "$key" repo_create "$r" "$jigdo" repo create "$work/repo-ours"
      RESET='rm -rf "$work/repo-theirs/repodata"' run "$key" createrepo_c "$r" createrepo_c --quiet "$work/repo-theirs"
    fi
  done
  # The unpacked tree must be the commit.
  if [ -d "$work/unpacked" ]; then
    got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["commit"])' "$work/unpack.out")
    [ "$got" = "$V1_COMMIT" ] || { echo "error: unpack rebuilt $got, not $V1_COMMIT" >&2; exit 1; }
  fi
  aside "$work/unpacked" "$work/pulled"; rm -rf "$work/jigdo-run"
  [ -z "$tmpfs" ] || rm -rf "$tmpfs/unpacked" "$tmpfs/pulled"
done

echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); $runs alternated rounds, $([ "$cold" = 1 ] && echo "page cache dropped before each command" || echo "warm page cache"); load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
keys=()
for c in "${corpora[@]}"; do keys+=("$(basename "$c")"); done
python3 - "$results" "${keys[@]}" <<'EOF'
import statistics, sys
from collections import defaultdict
files, runs = {}, defaultdict(list)
corpora = sys.argv[2:]
for line in open(sys.argv[1]):
    w = line.split()
    if w[1] == "files":
        files[w[0]] = int(w[2]); continue
    runs[(w[0], w[1])].append((int(w[2]), float(w[3]), int(w[4])))
pairs = [("pack", "ostree_fsck", "pack v1 vs ostree fsck (archive)"),
         ("jigdo_fsck", "ostree_fsck", "jigdo fsck vs ostree fsck (archive)"),
         ("unpack", "pull_local", "unpack -> bare-user vs pull-local, disk"),
         ("unpack_tmpfs", "pull_local_tmpfs", "unpack -> bare-user vs pull-local, tmpfs"),
         ("repo_create", "createrepo_c", "jigdo repo create vs createrepo_c")]
def rng(xs, fmt="%.2f"):
    return (fmt % statistics.median(xs)) + " [" + (fmt % min(xs)) + "–" + (fmt % max(xs)) + "]"
for c in corpora:
    print(f"\n{c}: {files[c]} files and symlinks in v1 (median [min–max] of the rounds; ratio of each round)")
    print(f"| {'row':42} | {'ours s':>22} | {'peer s':>22} | {'ratio':>19} | {'peak MiB ours / peer':>20} |")
    print(f"|{'-'*44}|{'-'*23}:|{'-'*23}:|{'-'*20}:|{'-'*21}:|")
    for a, b, label in pairs:
        if (c, a) not in runs or (c, b) not in runs:
            continue
        ra, rb = dict((r, t) for r, t, _ in runs[(c, a)]), dict((r, t) for r, t, _ in runs[(c, b)])
        ratios = [ra[r] / rb[r] for r in ra if r in rb and rb[r] > 0]
        ma = max(m for _, _, m in runs[(c, a)]) // 1024
        mb = max(m for _, _, m in runs[(c, b)]) // 1024
        print(f"| {label:42} | {rng([t for _, t, _ in runs[(c, a)]]):>22} | {rng([t for _, t, _ in runs[(c, b)]]):>22} | {rng(ratios):>19} | {str(ma) + ' / ' + str(mb):>20} |")
if len(corpora) >= 2:
    s, l = corpora[0], corpora[-1]
    print(f"\ngrowth {s} ({files[s]} files) -> {l} ({files[l]} files, {files[l] / files[s]:.1f}x): "
          "median seconds and peak MiB per 1,000 files")
    print(f"| {'command':18} | {'s/1k ' + s:>26} | {'s/1k ' + l:>26} | {'x':>5} | {'MiB ' + s:>22} | {'MiB ' + l:>22} | {'MiB x':>6} |")
    print(f"|{'-'*20}|{'-'*27}:|{'-'*27}:|{'-'*6}:|{'-'*23}:|{'-'*23}:|{'-'*7}:|")
    names = [n for n in ["pack", "jigdo_fsck", "ostree_fsck", "unpack", "pull_local", "unpack_tmpfs",
                         "pull_local_tmpfs", "repo_create", "createrepo_c"]
             if (s, n) in runs and (l, n) in runs]
    for n in names:
        ts = statistics.median(t for _, t, _ in runs[(s, n)]) * 1000 / files[s]
        tl = statistics.median(t for _, t, _ in runs[(l, n)]) * 1000 / files[l]
        ms = max(m for _, _, m in runs[(s, n)]) / 1024
        ml = max(m for _, _, m in runs[(l, n)]) / 1024
        print(f"| {n:18} | {ts:26.4f} | {tl:26.4f} | {tl / ts:5.2f} | {ms:22.0f} | {ml:22.0f} | {ml / ms:6.2f} |")
    print("(x: per-file time at the large scale over the small one, 1.00 = linear growth; "
          "MiB x: peak memory ratio, below the file ratio = sub-linear)")
EOF
