#!/bin/bash
# Build the rpm-package test packages (specs/jt-*.spec) with the real rpmbuild.
#
#   specs/build-test-packages.sh OUTDIR [SPEC...]
#
# Without SPEC arguments builds every specs/jt-*.spec except jt-big.spec. Built packages
# land directly in OUTDIR as NAME-VERSION-RELEASE.ARCH.rpm; their paths are printed, one a
# line. Extra rpmbuild options can be passed in JT_RPMBUILD_OPTS (e.g.
# JT_RPMBUILD_OPTS='--define "jt_big_mb 200"'). Needs rpmbuild; fails clearly without it.
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "usage: $0 OUTDIR [SPEC...]" >&2
    exit 2
fi
command -v rpmbuild >/dev/null || { echo "error: rpmbuild not found (apt-get install rpm)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
shift
if [ $# -eq 0 ]; then
    set -- $(ls "$here"/jt-*.spec | grep -v '/jt-big.spec$')
fi
top=$(mktemp -d)
trap 'rm -rf "$top"' EXIT
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
for spec in "$@"; do
    log="$top/$(basename "$spec").log"
    if ! eval rpmbuild -bb --quiet \
        --define "'_topdir $top'" \
        --define "'_rpmdir $top/RPMS'" \
        --define "'_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm'" \
        --define "'_buildhost jigdo-test'" \
        --define "'use_source_date_epoch_as_buildtime 1'" \
        --define "'clamp_mtime_to_source_date_epoch 1'" \
        --define "'debug_package %{nil}'" \
        ${JT_RPMBUILD_OPTS:-} \
        "'$spec'" >"$log" 2>&1; then
        echo "error: rpmbuild failed for $spec:" >&2
        cat "$log" >&2
        exit 1
    fi
    for f in "$top"/RPMS/*.rpm; do
        mv -f "$f" "$out/"
        echo "$out/$(basename "$f")"
    done
done
