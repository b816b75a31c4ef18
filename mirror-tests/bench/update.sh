#!/usr/bin/env bash
# Updating v1 -> v2 from a loopback mirror (nginx), one run, three ways:
#   1. jigdo install (v1 then v2 from an rpm-md repository served by nginx);
#   2. ostree pull of v2 over v1 from an archive repository served by the same nginx;
#   3. dnf download of the RPMs that v2 changed (the ones jigdo had to fetch).
# Prints wall time and bytes downloaded (bytes counted from nginx's access log). Each
# timed command starts after `sync`, so that none pays for the setup's dirty pages.
# The two versions come from versions.sh (the bench corpus, or the test packages;
# JIGDO_CORPUS=DIR picks the corpus, JIGDO_UPDATE=v2p its one-package update v2 -> v2').
# UPDATE_RUNS=N: N rounds from fresh clients (each also times the full install of the base).
# UPDATE_DELTA=1: v2 is published with a delta RPM from v1 (jigdo pack --delta-from), as a
# publisher of updates would, so the jigdo update takes the delta path.
# Usage: mirror-tests/bench/update.sh [JIGDO_BIN]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
jigdo=${1:-${JIGDO_BIN:-${CARGO_TARGET_DIR:-$here/target}/release/jigdo}}
[ -x "$jigdo" ] || jigdo=${CARGO_TARGET_DIR:-$here/target}/debug/jigdo
[ -x "$jigdo" ] || { echo "build jigdo first" >&2; exit 1; }
for t in nginx ostree rpmbuild dnf /usr/bin/time; do command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }; done
w=$(mktemp -d /var/tmp/jigdo-bench-update.XXXXXX)
# shellcheck source=nginx.sh
. "$here/mirror-tests/bench/nginx.sh"
trap 'stop_nginx; rm -rf "$w"' EXIT
# Each round's client repositories are moved aside, not deleted (aside.sh: on a
# journal-less ext4 the run right after a mass deletion pays for it).
# shellcheck source=aside.sh
. "$here/mirror-tests/bench/aside.sh"
aside_init "$w/trash" 1

# shellcheck source=versions.sh
. "$here/mirror-tests/bench/versions.sh"
load_versions "$w"
mkdir -p "$w/www/rpm/Packages"
"$jigdo" pack --repo "$compose" --rev "$c1" --from "$v1" --output "$w/www/rpm" --name bench-os >/dev/null
delta_from=()
[ "${UPDATE_DELTA:-0}" = 1 ] && delta_from=(--delta-from "$c1")
"$jigdo" pack --repo "$compose" --rev "$c2" --from "$v2" --output "$w/www/rpm" --name bench-os "${delta_from[@]}" >/dev/null
cp -nl "$v1"/*.rpm "$v2"/*.rpm "$w/www/rpm/Packages/" 2>/dev/null || true
"$jigdo" repo create "$w/www/rpm" >/dev/null
ostree --repo="$w/www/archive" init --mode=archive
ostree --repo="$w/www/archive" pull-local "$compose" "$c1" >/dev/null
ostree --repo="$w/www/archive" pull-local "$compose" "$c2" >/dev/null
ostree --repo="$w/www/archive" refs --create=bench/os "$c2" 2>/dev/null || true

start_nginx "$w/www" "$w/ng"
url=$NGINX_URL
bytes() { nginx_bytes; }
reset() { nginx_clear_log; }
now() { date +%s.%N; }

# One round: 1. jigdo install v1 (timed: a full install), then (timed) v2; 2. ostree pull of
# v2 over v1 from the archive repository; 3. dnf download of the RPMs jigdo fetched.
# UPDATE_RUNS rounds (default 1), alternated; each starts from fresh client repositories.
runs=${UPDATE_RUNS:-1}
# The base's jigdo RPM by its version (the commit's "version": 1.0 for v1, 2.0 for v2).
base_ver=$(ostree --repo="$compose" show --print-metadata-key=version "$c1" | tr -d "'")
el() { echo "$2 - $1" | bc; }
# mem CMD...: run CMD under GNU time; peak RSS in MiB appended to the array named by $MEMS.
mem() { /usr/bin/time -f '%M' -o "$w/peak" "$@"; eval "$MEMS+=(\$((\$(tail -n1 "\$w/peak") / 1024)))"; }
tj=() tf=() to=() td=() mj=() mf=() mo=()
for ((r = 1; r <= runs; r++)); do
  aside "$w/client" "$w/pull" "$w/dnf"
  sync; t0=$(now)
  MEMS=mf mem "$jigdo" install "bench-os-$base_ver" --nogpgcheck --from "$url/rpm/" --repo "$w/client" --ref bench/os >/dev/null
  t1=$(now); tf+=("$(el "$t0" "$t1")")
  sync; reset; t0=$(now)
  MEMS=mj mem "$jigdo" install bench-os --nogpgcheck --from "$url/rpm/" --repo "$w/client" --ref bench/os --json > "$w/jigdo.json"
  t1=$(now); jb=$(bytes); tj+=("$(el "$t0" "$t1")")
  [ "$(ostree --repo="$w/client" rev-parse bench/os)" = "$c2" ] || { echo "jigdo gave the wrong commit" >&2; exit 1; }
  dl=$(awk '$1 ~ /\/Packages\// {print $1}' "$w/ng/access.log" | sed 's|.*/||')
  path=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["path"])' "$w/jigdo.json")

  ostree --repo="$w/pull" init --mode=bare-user
  ostree --repo="$w/pull" remote add --no-gpg-verify bench "$url/archive"
  ostree --repo="$w/pull" pull-local "$w/www/archive" "$c1" >/dev/null
  sync; reset; t2=$(now)
  MEMS=mo mem ostree --repo="$w/pull" pull bench "$c2" >/dev/null
  t3=$(now); ob=$(bytes); to+=("$(el "$t2" "$t3")")

  mkdir -p "$w/dnf"; printf '[main]\ngpgcheck=0\nreposdir=/dev/null\n' > "$w/dnf/dnf.conf"
  names=$(for f in $dl; do rpm -qp --nosignature --nodigest --qf '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\n' "$w/www/rpm/Packages/$f"; done)
  sync; reset; t4=$(now)
  if [ -n "$names" ]; then
    dnf -q --config="$w/dnf/dnf.conf" --setopt=reposdir=/dev/null --setopt=cachedir="$w/dnf/cache" \
      --installroot="$w/dnf/root" --releasever=1 --repofrompath=m,"$url/rpm/" --repo=m \
      download --destdir "$w/dnf/out" $names >/dev/null
  fi
  t5=$(now); db=$(bytes); td+=("$(el "$t4" "$t5")")
  echo "round $r: full install ${tf[-1]} s, jigdo update ${tj[-1]} s, ostree pull ${to[-1]} s, dnf download ${td[-1]} s (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
done
t0=0; t1=${tj[-1]}; t2=0; t3=${to[-1]}; t4=0; t5=${td[-1]}

new_ver=$(ostree --repo="$compose" show --print-metadata-key=version "$c2" | tr -d "'")
printf '%-40s %10s %14s\n' "$base_ver -> $new_ver update over loopback" "wall s" "bytes"
printf '%-40s %10.2f %14d\n' "jigdo install (rpm-md, nginx; $path path)" "$(echo "$t1 - $t0" | bc)" "$jb"
printf '%-40s %10.2f %14d\n' "ostree pull (archive, nginx)" "$(echo "$t3 - $t2" | bc)" "$ob"
printf '%-40s %10.2f %14d\n' "dnf download (same RPMs, nginx)" "$(echo "$t5 - $t4" | bc)" "$db"
echo "changed RPMs: $(echo $dl | wc -w)"
if [ "$runs" -gt 1 ]; then
  echo "all rounds (s): full install ${tf[*]}; jigdo update ${tj[*]}; ostree pull ${to[*]}; dnf download ${td[*]}"
  echo "peak MiB: full install ${mf[*]}; jigdo update ${mj[*]}; ostree pull ${mo[*]}"
  python3 - "${tj[*]}" "${to[*]}" "${tf[*]}" <<'EOF'
import statistics, sys
j, o, f = ([float(x) for x in a.split()] for a in sys.argv[1:])
r = [a / b for a, b in zip(j, o)]
q = [a / b for a, b in zip(j, f)]
print("jigdo update / ostree pull per round: %s (median %.2f)" % (" ".join("%.2f" % x for x in r), statistics.median(r)))
print("jigdo update / full install per round: %s (median %.2f)" % (" ".join("%.2f" % x for x in q), statistics.median(q)))
EOF
fi
