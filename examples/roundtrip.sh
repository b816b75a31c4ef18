#!/usr/bin/env bash
# The main job on the bundled example, from a fresh Debian 12 machine:
#  1. installs the Debian packages needed (.ci/deps.sh; not the fuzzing toolchain) and
#     builds jigdo;
#  2. builds the example packages from specs/ with rpmbuild and publishes them as an rpm-md
#     repository with `jigdo repo create`;
#  3. composes an OS-like tree from them and commits it with `ostree commit`;
#  4. `jigdo pack`s the commit into a jigdo RPM, `jigdo unpack`s it into a fresh bare-user
#     repository, and checks that the checksum is identical and both fscks are clean.
# usage: examples/roundtrip.sh [WORKDIR]   (default: a temporary directory, removed after)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/.ci/deps.sh"
# The features of the README's test command: both commands share one build.
cargo build --release --manifest-path "$top/Cargo.toml" --bin jigdo --features librepo
jigdo=${CARGO_TARGET_DIR:-$top/target}/release/jigdo

if [ $# -ge 1 ]; then work=$1; mkdir -p "$work"; else
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
echo "== building the example packages (specs/) into $work/rpms"
"$top/specs/build-test-packages.sh" "$work/rpms" >/dev/null
"$jigdo" repo create "$work/rpms"

echo "== composing and committing the example tree"
commit=$("$top/examples/compose-tree.sh" "$work/rpms" "$work/compose-repo" example/os 1.0)
echo "ostree commit: $commit"

echo "== jigdo pack"
"$jigdo" pack --repo "$work/compose-repo" --rev example/os --from "$work/rpms" \
  --output "$work/jigdo" --name example-os
echo "== jigdo unpack into a fresh bare-user repository"
unpacked=$("$jigdo" unpack "$work"/jigdo/example-os-*.rpm --from "$work/rpms" \
  --repo "$work/client-repo" --mode bare-user --ref example/os)
echo "== checking"
[ "$unpacked" = "$commit" ] || { echo "MISMATCH: $unpacked != $commit" >&2; exit 1; }
ostree fsck --repo="$work/client-repo" >/dev/null
"$jigdo" fsck --repo "$work/client-repo"
echo "OK: the commit was rebuilt bit for bit ($commit)"
