#!/usr/bin/env bash
# Installs what building, running and testing ostree-jigdo need on Debian 12: the real
# peers the tests use as oracles (ostree, rpm/rpmbuild, createrepo_c, dnf, nginx, man,
# bash/zsh/fish completion, systemd-analyze) and small tools. Idempotent; run as root (or
# via sudo).
#
#   .ci/deps.sh          Debian packages only: enough for examples/roundtrip.sh
#   .ci/deps.sh --fuzz   also cargo-fuzz and the nightly toolchain, for the bounded fuzz
#                        run of the test command (fuzz/run.sh)
set -euo pipefail

fuzz=0
case "${1:-}" in
  "") ;;
  --fuzz) fuzz=1 ;;
  *) echo "usage: $0 [--fuzz]" >&2; exit 2 ;;
esac

packages=(
  ostree rpm cpio createrepo-c dnf dnf-plugins-core nginx
  zstd xz-utils bzip2 gzip gnupg attr e2fsprogs libarchive-tools curl pkg-config openssl time
  strace  # counts the syncs of ostree-store's fsync_policies test
  librepo0  # opened at run time by --backend librepo (librepo-sys)
  libzstd-dev  # the libzstd jigdo links (jigdo-format/Cargo.toml: deltas rebuild the system zstd's frames)
  # man pages, shell completions and systemd units of the packaged jigdo (mirror-tests)
  man-db groff-base bash-completion zsh fish systemd
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "deps: cargo not found: install a Rust toolchain (rustup, Rust >= 1.88) first" >&2
  exit 1
fi

((fuzz)) || exit 0
# The bounded fuzz run of the test command (fuzz/run.sh) needs cargo-fuzz and nightly.
if ! command -v cargo-fuzz >/dev/null; then
  echo "deps: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked --quiet
fi
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "deps: installing the nightly toolchain (for cargo fuzz)" >&2
  rustup toolchain install nightly --profile minimal
fi
