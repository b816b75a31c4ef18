#!/usr/bin/env bash
# Composes an OS-like tree the way a release engineer would, and commits it to OSTree:
# installs every RPM in PKGDIR with `rpm -i --root`, adds content no package provides
# (the rpmdb rpm wrote, a generated config file, a "kernel" and an initramfs, user
# xattrs, a file whose metadata differs from its package's), then `ostree commit`s it
# with a version and a detached metadata entry.
#
# usage: [COMPOSE_USR_ETC=1] compose-tree.sh PKGDIR REPO REF VERSION [PARENT_REF]
# REPO is created (archive mode) if absent. Prints the commit checksum.
set -euo pipefail
pkgdir=$1 repo=$2 ref=$3 version=$4 parent=${5:-}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"

# rpm writes its database inside the tree (content that no package provides).
rpm --root "$root" --dbpath /usr/lib/sysimage/rpm -i --nodeps --noscripts --nosignature \
    --ignorearch --ignoreos "$pkgdir"/*.rpm >&2

mkdir -p "$root/etc" "$root/usr/lib/modules/6.1.0-example" "$root/var/lib"
printf 'NAME="Example OS"\nVERSION_ID="%s"\n' "$version" > "$root/etc/os-release.generated"
head -c 3000000 /dev/urandom > "$root/usr/lib/modules/6.1.0-example/vmlinuz"
# An initramfs-like file: a compressed cpio of part of the tree.
(cd "$root" && find etc -print | cpio -o -H newc --quiet | gzip -n) \
    > "$root/usr/lib/modules/6.1.0-example/initramfs.img"
# A generated file with user xattrs, and package files whose metadata the compose changed.
echo "generated at compose time" > "$root/etc/generated.conf"
if command -v setfattr >/dev/null; then
  setfattr -n user.jigdo.example -v "compose" "$root/etc/generated.conf"
fi
first_file=$(find "$root/usr" -type f -size +0 ! -path '*/modules/*' | sort | head -n 1)
if [ -n "$first_file" ]; then
  chmod 0600 "$first_file"
  chown 1000:1000 "$first_file"
fi

# COMPOSE_USR_ETC=1: move /etc to /usr/etc as bootable OSTree commits have it (what
# `ostree admin deploy` needs).
if [ "${COMPOSE_USR_ETC:-0}" = 1 ]; then
  mv "$root/etc" "$root/usr/etc"
  printf 'NAME="Example OS"\nID=example\nVERSION_ID="%s"\n' "$version" > "$root/usr/etc/os-release"
fi

[ -d "$repo/objects" ] || ostree init --repo="$repo" --mode=archive >&2
args=(--repo="$repo" --branch="$ref" --subject="Example OS $version"
      --add-metadata-string=version="$version" --add-detached-metadata-string=example.signed-by=compose
      --timestamp="2026-01-01T00:00:00Z")
if [ -n "$parent" ]; then
  args+=(--parent="$(ostree --repo="$repo" rev-parse "$parent")")
fi
ostree commit "${args[@]}" "$root"
