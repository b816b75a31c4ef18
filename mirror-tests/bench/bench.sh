#!/usr/bin/env bash
# The benchmark table of issue 7: every row is our figure beside the peer's figure from the
# same run, and their ratio. Runs on the corpus that mirror-tests/corpus/build-corpus.sh
# builds (real Debian 12 software converted to RPMs, two versions, committed to OSTree).
#
# usage: mirror-tests/bench/bench.sh [CORPUS_DIR]     (default /var/tmp/jigdo-corpus)
# env:   JIGDO=path/to/jigdo (default: target/release/jigdo, built if missing)
#        BENCH_RUNS=N timed runs per figure, the median is reported (default 3)
#        BENCH_WORK=dir (default: CORPUS_DIR/bench, wiped per run)
# Needs: ostree, createrepo_c, rpm2cpio, /usr/bin/time, python3, nginx (all in .ci/deps.sh,
# plus `time`). Not run in CI: the corpus takes half an hour to build.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
corpus=${1:-/var/tmp/jigdo-corpus}
[ -f "$corpus/corpus.env" ] || { echo "error: $corpus/corpus.env not found: run mirror-tests/corpus/build-corpus.sh first" >&2; exit 1; }
# shellcheck disable=SC1091
. "$corpus/corpus.env"
jigdo=${JIGDO:-${CARGO_TARGET_DIR:-$top/target}/release/jigdo}
if [ ! -x "$jigdo" ]; then cargo build --release --manifest-path "$top/Cargo.toml" --bin jigdo; fi
command -v /usr/bin/time >/dev/null || { echo "error: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
work=${BENCH_WORK:-$corpus/bench}
rm -rf "$work"; mkdir -p "$work"
rows=()
# Trees written by a timed run are moved aside, not deleted, before the next one (aside.sh:
# on a journal-less ext4 the run right after a mass deletion pays for it).
# shellcheck source=aside.sh
. "$top/mirror-tests/bench/aside.sh"
trash=$work.trash-$$
trap 'rm -rf "$trash"' EXIT
aside_init "$trash" 1

# measure NAME CMD...  -> sets T_NAME (median wall seconds of $runs runs) and M_NAME (largest
# peak RSS in KiB). Caches are dropped before each run; if RESET is set (RESET='...' measure
# ...), it is evaluated before each run too (to remove what the previous run made).
runs=${BENCH_RUNS:-3}
measure() {
  local name=$1; shift
  local tf; tf=$(mktemp)
  local times=() mem=0 i t m
  for ((i = 0; i < ${RUNS:-$runs}; i++)); do
    if [ -n "${RESET:-}" ]; then eval "$RESET"; fi
    sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
    /usr/bin/time -f '%e %M' -o "$tf" "$@" > "$work/$name.out" 2> "$work/$name.err" || {
      echo "error: $name failed: $*" >&2; cat "$work/$name.err" >&2; exit 1; }
    read -r t m < "$tf"
    times+=("$t"); ((m > mem)) && mem=$m
  done
  rm -f "$tf"
  t=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
  printf -v "T_$name" '%s' "$t"; printf -v "M_$name" '%s' "$mem"
  echo "  $name: ${times[*]} s -> median ${t}s, peak $((mem / 1024)) MiB" >&2
}
row() {
  rows+=("$(printf '%-46s | %14s | %-34s | %14s | %7s' "$1" "$2" "$3" "$4" "$5")")
  echo "ROW ${rows[-1]}" >&2
}
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if b else 'n/a')" "$1" "$2"; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {'d': d}))" "$1" "$2"; }

echo "== setup: v1 alone in an archive repository (what pack reads and pull-local copies)" >&2
ostree init --repo="$work/v1-archive" --mode=archive
ostree pull-local --repo="$work/v1-archive" "$REPO" "$V1_COMMIT" >/dev/null
ostree refs --repo="$work/v1-archive" --create=corpus/os "$V1_COMMIT"
files_v1=$(ostree ls -R --repo="$work/v1-archive" "$V1_COMMIT" | grep -vc '^d')
commit_bytes=$(du -sb "$work/v1-archive/objects" | cut -f1)

echo "== pack v1 vs ostree fsck (reading every object once)" >&2
measure pack "$jigdo" pack --repo "$work/v1-archive" --rev "$V1_COMMIT" --from "$RPMS" --output "$work/jigdo-v1" --name corpus-os --json
measure ostree_fsck ostree fsck --repo="$work/v1-archive"
row "pack v1 (s) vs ostree fsck" "$T_pack" "ostree fsck (s)" "$T_ostree_fsck" "$(ratio "$T_pack" "$T_ostree_fsck")"
jigdo_v1=$(json "$work/pack.out" "d['rpm']")
rpm_size=$(json "$work/pack.out" "d['rpm_size']")
mpf=$(json "$work/pack.out" "round(d['metadata_bytes_per_file'], 2)")
row "jigdo RPM v1 size (bytes)" "$rpm_size" "archive repo objects (bytes)" "$commit_bytes" "$(ratio "$rpm_size" "$commit_bytes")"
row "metadata bytes per file ($files_v1 files)" "$mpf" "goal" "16" "$(ratio "$mpf" 16)"

echo "== unpack v1 into bare-user vs ostree pull-local archive -> bare-user" >&2
RESET='aside "$work/unpacked"' measure unpack "$jigdo" unpack "$jigdo_v1" --from "$RPMS" --repo "$work/unpacked" --mode bare-user --json
[ "$(json "$work/unpack.out" "d['commit']")" = "$V1_COMMIT" ] || { echo "error: unpack rebuilt another commit" >&2; exit 1; }
RESET='aside "$work/pulled"; ostree init --repo="$work/pulled" --mode=bare-user' \
  measure pull_local ostree pull-local --repo="$work/pulled" "$work/v1-archive" "$V1_COMMIT"
row "unpack v1 -> bare-user (s)" "$T_unpack" "ostree pull-local (s)" "$T_pull_local" "$(ratio "$T_unpack" "$T_pull_local")"
"$jigdo" info "$jigdo_v1" --json > "$work/info-v1.json"
# The pinned RPMs' files (corpus file names are NAME-VERSION-RELEASE.ARCH.rpm, no epoch).
python3 - "$work/info-v1.json" "$RPMS" > "$work/set-v1.txt" <<'EOF'
import json, os, re, sys
for p in json.load(open(sys.argv[1]))["packages"]:
    print(os.path.join(sys.argv[2], re.sub(r"-\d+:", "-", p["nevra"]) + ".rpm"))
EOF
measure floor bash -c 'xargs -a "$1" -P "$(nproc)" -I{} sh -c "rpm2cpio {} | sha256sum >/dev/null"' _ "$work/set-v1.txt"
row "unpack v1 (s) vs floor" "$T_unpack" "rpm2cpio|sha256sum every pin (s)" "$T_floor" "$(ratio "$T_unpack" "$T_floor")"
row "peak memory pack (MiB)" "$((M_pack / 1024))" "goal (MiB)" "256" "$(ratio "$M_pack" $((256 * 1024)))"
row "peak memory unpack (MiB)" "$((M_unpack / 1024))" "ostree pull-local (MiB)" "$((M_pull_local / 1024))" "$(ratio "$M_unpack" "$M_pull_local")"

echo "== update v1 -> v2" >&2
measure pack2 "$jigdo" pack --repo "$REPO" --rev "$V2_COMMIT" --from "$RPMS" --output "$work/jigdo-v2" --name corpus-os --json
jigdo_v2=$(json "$work/pack2.out" "d['rpm']")
RUNS=1 measure update "$jigdo" unpack "$jigdo_v2" --from "$RPMS" --repo "$work/unpacked" --json
"$jigdo" info "$jigdo_v2" --json > "$work/info-v2.json"
client_bytes=$(python3 - "$work/info-v2.json" "$work/update.out" "$jigdo_v2" <<'EOF'
import json, os, sys
sizes = {p["nevra"]: p["size"] for p in json.load(open(sys.argv[1]))["packages"]}
imported = json.load(open(sys.argv[2]))["imported"]
print(os.path.getsize(sys.argv[3]) + sum(sizes[n] for n in imported))
EOF
)
imported=$(json "$work/update.out" "d['packages_imported']")
# The delta is generated in the v2 repository copy, and its size taken from what ostree
# prints (compressed parts plus loose objects).
ostree init --repo="$work/delta" --mode=archive
ostree pull-local --repo="$work/delta" "$REPO" "$V1_COMMIT" "$V2_COMMIT" >/dev/null
ostree static-delta generate --repo="$work/delta" --from="$V1_COMMIT" --to="$V2_COMMIT" > "$work/delta.out" 2>&1
delta_bytes=$(awk '/^uncompressed=/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "compressed" || kv[1] == "loose") s += kv[2] } } END { print s + 0 }' "$work/delta.out")
row "update v1->v2 bytes ($imported RPMs + jigdo RPM)" "$client_bytes" "ostree static-delta (bytes)" "$delta_bytes" "$(ratio "$client_bytes" "$delta_bytes")"
# ostree pull over loopback HTTP (nginx): v2 into a repository holding v1; the bytes are
# what nginx's access log says it sent (ostree prints no byte count when not on a terminal).
# shellcheck source=nginx.sh
. "$top/mirror-tests/bench/nginx.sh"
start_nginx "$REPO" "$work/ng"
trap 'stop_nginx; rm -rf "$trash"' EXIT
ostree init --repo="$work/pull-v2" --mode=archive
ostree pull-local --repo="$work/pull-v2" "$work/v1-archive" "$V1_COMMIT" >/dev/null
ostree remote add --repo="$work/pull-v2" --no-gpg-verify corpus "$NGINX_URL/"
nginx_clear_log
ostree pull --repo="$work/pull-v2" --disable-static-deltas corpus "$V2_COMMIT" > "$work/pull.out" 2>&1
ostree show --repo="$work/pull-v2" "$V2_COMMIT" >/dev/null 2>&1 || { echo "error: ostree pull failed" >&2; cat "$work/pull.out" >&2; exit 1; }
pull_bytes=$(nginx_bytes)
stop_nginx
row "update v1->v2 bytes" "$client_bytes" "ostree pull v2 over v1 (bytes)" "$pull_bytes" "$(ratio "$client_bytes" "$pull_bytes")"
changed_bytes=0
for r in $CHANGED_RPMS; do changed_bytes=$((changed_bytes + $(stat -c %s "$r"))); done
row "update v1->v2 bytes" "$client_bytes" "sum of changed RPMs (bytes)" "$changed_bytes" "$(ratio "$client_bytes" "$changed_bytes")"

echo "== repo create vs createrepo_c; jigdo fsck vs ostree fsck" >&2
mkdir -p "$work/repo-ours" "$work/repo-theirs"
cp -l "$RPMS"/*.rpm "$work/repo-ours/"; cp -l "$RPMS"/*.rpm "$work/repo-theirs/"
RESET='rm -rf "$work/repo-ours/repodata"' measure repo_create "$jigdo" repo create "$work/repo-ours"
RESET='rm -rf "$work/repo-theirs/repodata"' measure createrepo createrepo_c --quiet "$work/repo-theirs"
row "jigdo repo create (s)" "$T_repo_create" "createrepo_c (s)" "$T_createrepo" "$(ratio "$T_repo_create" "$T_createrepo")"
measure jigdo_fsck "$jigdo" fsck --repo "$work/v1-archive"
row "jigdo fsck v1 archive (s)" "$T_jigdo_fsck" "ostree fsck (s)" "$T_ostree_fsck" "$(ratio "$T_jigdo_fsck" "$T_ostree_fsck")"
measure jigdo_fsck_bu "$jigdo" fsck --repo "$work/unpacked"
measure ostree_fsck_bu ostree fsck --repo="$work/unpacked"
row "jigdo fsck bare-user (s)" "$T_jigdo_fsck_bu" "ostree fsck (s)" "$T_ostree_fsck_bu" "$(ratio "$T_jigdo_fsck_bu" "$T_ostree_fsck_bu")"

echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); corpus: $(wc -l < "$V1_RPMS_LIST") RPMs in v1, $files_v1 files"
printf '%-46s | %14s | %-34s | %14s | %7s\n' "ours" "figure" "peer" "figure" "ratio"
printf '%s\n' "${rows[@]}"
