#!/bin/bash
# Run every fuzz target for a bounded time, each seeded with real files: the real-world
# fixtures of ../shared (RPMs, repomd/primary/filelists/other XML, metalinks, mirrorlists,
# .repo files, OSTree objects) and fuzz/seeds/ (jigdo_index: the index of the jigdo RPM that
# examples/roundtrip.sh packs). Needs a nightly toolchain and
# cargo-fuzz (.ci/deps.sh --fuzz installs both). The targets link only parsing code (no HTTP
# client, TLS or OpenPGP), so the one build of all of them stays short.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# SECONDS is the total run time (default 60; the README's test command, what CI runs, uses
# 60), split evenly between the targets, at least 5 s each. A campaign of a fixed number of
# executions per target instead (the counts are printed):
#   FUZZ_RUNS=1000000 fuzz/run.sh 0 jigdo_index repomd
# The RPM header target also runs in the test suite as a deterministic mutation test:
#   cargo test -p rpm-package --test bad_input mutated_packages_never_panic
set -euo pipefail
secs=${1:-60}
shift || true
all=(header_payload jigdo_index repomd rpmmd_xml metalink repo_file ostree_objects)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
here=$(cd "$(dirname "$0")" && pwd)
shared=${JIGDO_SHARED_DIR:-$here/../../shared}
fixtures="$shared/fixtures/real-world"
[ -d "$fixtures" ] || { echo "error: fixtures not found at $fixtures (set JIGDO_SHARED_DIR)" >&2; exit 1; }
command -v cargo-fuzz >/dev/null || { echo "error: cargo-fuzz not installed (cargo install cargo-fuzz)" >&2; exit 1; }
rustup toolchain list | grep -q '^nightly' || { echo "error: no nightly toolchain (rustup toolchain install nightly)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# seed TARGET PREFIX_BYTE FILE...: copy small files as seeds, optionally behind a selector
# byte (targets that fuzz several formats pick one by their first byte).
seed() {
    local target=$1 prefix=$2 f n=0
    shift 2
    mkdir -p "$work/$target"
    for f in "$@"; do
        [ -f "$f" ] && [ "$(stat -c %s "$f")" -le 131072 ] || continue
        n=$((n + 1))
        if [ -n "$prefix" ]; then
            { printf "\\x$prefix"; cat "$f"; } >"$work/$target/$prefix-$n"
        else
            cp "$f" "$work/$target/$n"
        fi
    done
}
mapfile -t rpms < <(find "$fixtures" -name '*.rpm' -size -64k)
seed header_payload "" "${rpms[@]}"
seed jigdo_index "" "$here"/seeds/jigdo_index/*
mapfile -t repomds < <(find "$fixtures" -name 'repomd.xml')
seed repomd "" "${repomds[@]}"
for kind in primary:00 filelists:01 other:02; do
    mapfile -t xml < <(find "$fixtures" -name "*${kind%:*}.xml")
    seed rpmmd_xml "${kind#*:}" "${xml[@]}"
done
mapfile -t metalinks < <(find "$fixtures/mirrors" -path '*metalink*' -type f)
seed metalink "" "${metalinks[@]}"
mapfile -t repofiles < <(find "$fixtures" -name '*.repo' -o -path '*mirrorlist*' -type f)
seed repo_file "" "${repofiles[@]}"
for kind in commit:00 dirtree:01 dirmeta:02 commitmeta:03 filez:04; do
    mapfile -t objects < <(find "$fixtures/ostree" -name "*.${kind%:*}")
    seed ostree_objects "${kind#*:}" "${objects[@]}"
done

cd "$here"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$here/target}
cargo +nightly fuzz build
each=$((secs / ${#targets[@]}))
[ "$each" -ge 5 ] || each=5
for target in "${targets[@]}"; do
    if [ -n "${FUZZ_RUNS:-}" ]; then limit=(-runs="$FUZZ_RUNS"); else limit=(-max_total_time="$each"); fi
    echo "== fuzz $target: ${limit[0]#-} ($(find "$work/$target" -type f | wc -l) seeds)"
    if ! cargo +nightly fuzz run "$target" "$work/$target" -- \
        "${limit[@]}" -max_len=131072 -rss_limit_mb=1024 -timeout=10 \
        -print_final_stats=1 >"$work/$target.log" 2>&1; then
        tail -n 40 "$work/$target.log" >&2
        echo "error: fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E '^stat::number_of_executed_units|^Done ' "$work/$target.log" || true
done
