#!/bin/bash
# Run the header+payload fuzz target for a bounded time (default 60 s), seeded with the
# real-world fixture RPMs. Needs a nightly toolchain and cargo-fuzz (.ci/deps.sh installs
# both); the README's test command (what CI runs) runs it for 60 s. The target links
# rpm-package without its `build` feature (readers only), so it compiles in about a minute.
#
#   fuzz/run.sh [SECONDS]
#
# The same entry point also runs in the test suite as a deterministic mutation test:
#   cargo test -p rpm-package --test bad_input mutated_packages_never_panic
set -euo pipefail
secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
shared=${JIGDO_SHARED_DIR:-$here/../../shared}
fixtures="$shared/fixtures/real-world"
[ -d "$fixtures" ] || { echo "error: fixtures not found at $fixtures (set JIGDO_SHARED_DIR)" >&2; exit 1; }
command -v cargo-fuzz >/dev/null || { echo "error: cargo-fuzz not installed (cargo install cargo-fuzz)" >&2; exit 1; }
rustup toolchain list | grep -q '^nightly' || { echo "error: no nightly toolchain (rustup toolchain install nightly)" >&2; exit 1; }
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
# small fixtures only, as seeds
find "$fixtures" -name '*.rpm' -size -64k -exec cp {} "$corpus/" \;
cd "$here"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$here/target}
cargo +nightly fuzz run header_payload "$corpus" -- \
    -max_total_time="$secs" -max_len=131072 -rss_limit_mb=1024 -timeout=10
