#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing ostree-jigdo need: the real
# peers the tests use as oracles (ostree, rpm/rpmbuild, createrepo_c, dnf, nginx) and small
# tools. Idempotent; run as root (or via sudo).
set -euo pipefail

packages=(
  ostree rpm cpio createrepo-c dnf dnf-plugins-core nginx
  zstd xz-utils bzip2 gzip gnupg attr libarchive-tools curl pkg-config openssl time
  librepo-dev
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

# The bounded fuzz run of the test command (fuzz/run.sh) needs cargo-fuzz and nightly.
if ! command -v cargo-fuzz >/dev/null; then
  echo "deps: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked --quiet
fi
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "deps: installing the nightly toolchain (for cargo fuzz)" >&2
  rustup toolchain install nightly --profile minimal
fi
