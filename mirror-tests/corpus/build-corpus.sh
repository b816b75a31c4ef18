#!/usr/bin/env bash
# Build the benchmark corpus: real Debian 12 software converted to RPMs, composed
# into two OSTree commits (v1 = release, v2 = with the updates/security suites).
# See README.md beside this file.
#
# Usage: build-corpus.sh [--force] [--large] [OUTDIR]  (default OUTDIR /var/tmp/jigdo-corpus)
#   --force   rebuild everything derived (resolution, RPMs, trees, commits,
#             repodata); the downloaded .deb cache in OUTDIR/debs is kept
#             (apt verified it when downloading; delete the folder to refetch).
#   --large   the desktop-scale corpus of issue 15 (default OUTDIR
#             /var/tmp/jigdo-corpus-large): CORPUS_EXTRA defaults to the small
#             corpus's extras plus task-gnome-desktop, CORPUS_RECOMMENDS to 1
#             (as tasksel installs a desktop), CORPUS_PAYLOAD to w3.zstdio.
# Environment:
#   CORPUS_RELEASE   Debian suite of v1 (default bookworm); v2 adds
#                    $CORPUS_RELEASE-updates and $CORPUS_RELEASE-security.
#   CORPUS_EXTRA     packages added to Priority required+important
#                    (default: see EXTRA_DEFAULT in the script).
#   CORPUS_RECOMMENDS  1: resolve with recommended packages (default 0).
#   CORPUS_PAYLOAD   rpmbuild payload of the converted RPMs (default w19.zstdio).
#   CORPUS_V2P_PACKAGE  the small library rebuilt for the one-package update
#                    v2' (default libexpat1).
#   CORPUS_JOBS      parallel conversions (default 2, at most 2 on this machine).
#   CORPUS_APT_SOURCES  apt source files to take mirror addresses from
#                    (default: the system's /etc/apt configuration).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FORCE=0
LARGE=0
OUTDIR=
for arg in "$@"; do
    case "$arg" in
    --force) FORCE=1 ;;
    --large) LARGE=1 ;;
    -h | --help)
        awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    -*)
        echo "error: unknown option $arg" >&2
        exit 2
        ;;
    *)
        [ -z "$OUTDIR" ] || {
            echo "error: more than one OUTDIR given" >&2
            exit 2
        }
        OUTDIR=$arg
        ;;
    esac
done
RELEASE=${CORPUS_RELEASE:-bookworm}
EXTRA_DEFAULT="openssh-server curl ca-certificates python3 sudo dbus systemd-timesyncd linux-image-cloud-amd64"
if [ "$LARGE" = 1 ]; then
    # A GNOME desktop as Debian's installer puts it (tasksel installs recommends):
    # about 1,560 packages, 3.7 GiB installed (bookworm, 2026-11).
    OUTDIR=${OUTDIR:-/var/tmp/jigdo-corpus-large}
    EXTRA_DEFAULT="$EXTRA_DEFAULT task-gnome-desktop"
    RECOMMENDS=${CORPUS_RECOMMENDS:-1}
    # zstd level 19 costs ~1 s of CPU per MiB installed here (hours for 3.7 GiB on two
    # shared cores); level 3 is zstd's own default and decompresses at the same speed.
    PAYLOAD=${CORPUS_PAYLOAD:-w3.zstdio}
else
    RECOMMENDS=${CORPUS_RECOMMENDS:-0}
    PAYLOAD=${CORPUS_PAYLOAD:-w19.zstdio}
fi
OUTDIR=${OUTDIR:-/var/tmp/jigdo-corpus}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
EXTRA=${CORPUS_EXTRA:-$EXTRA_DEFAULT}
[[ "$PAYLOAD" =~ ^w[0-9]*(T[0-9]*)?\.(zstdio|xzdio|gzdio|bzdio|ufdio)$ ]] || {
    echo "error: CORPUS_PAYLOAD '$PAYLOAD' is not an rpm payload spelling like w19.zstdio" >&2
    exit 2
}
case "$RECOMMENDS" in 0) APT_RECOMMENDS=false ;; 1) APT_RECOMMENDS=true ;; *)
    echo "error: CORPUS_RECOMMENDS must be 0 or 1" >&2
    exit 2
    ;;
esac
JOBS=${CORPUS_JOBS:-2}
[ "$JOBS" -ge 1 ] && [ "$JOBS" -le 2 ] || JOBS=2
PYTHON=${PYTHON:-python3}
BRANCH=corpus/os
V2P_BRANCH=corpus/os-update
V2P_PACKAGE=${CORPUS_V2P_PACKAGE:-libexpat1}
DBPATH=/usr/lib/sysimage/rpm

for tool in apt-get apt-cache dpkg-deb rpm rpmbuild createrepo_c ostree cpio zstd "$PYTHON"; do
    command -v "$tool" >/dev/null || {
        echo "error: required tool '$tool' is not installed" >&2
        exit 1
    }
done
[ "$(id -u)" = 0 ] || {
    echo "error: must run as root (rpm --root keeps file owners; apt needs its lock)" >&2
    exit 1
}

APT=$OUTDIR/apt
DEBS=$OUTDIR/debs
LISTS=$OUTDIR/lists
WORK=$OUTDIR/work
RPMS=$OUTDIR/rpms
ROOTS=$OUTDIR/roots
REPO=$OUTDIR/ostree-repo
STATE=$OUTDIR/state
TIMINGS=$OUTDIR/timings.txt

if [ "$FORCE" = 1 ]; then
    echo "== --force: removing derived outputs (keeping $DEBS)"
    rm -rf "$LISTS" "$WORK" "$RPMS" "$ROOTS" "$REPO" "$STATE" "$OUTDIR/corpus.env" "$TIMINGS"
fi
mkdir -p "$APT" "$DEBS" "$LISTS" "$WORK" "$RPMS" "$ROOTS" "$STATE"
T_START=$(date +%s)

log() { printf '== %s\n' "$*"; }
# timed NAME CMD...: run CMD, append its wall and CPU (user+sys, children
# included) time to the timings file.
timed() {
    local name=$1 tf
    shift
    tf=$(mktemp)
    local TIMEFORMAT='%R %U %S'
    { time "$@" 2>&3; } 3>&2 2>"$tf"
    awk -v n="$name" '{printf "%-14s %8.1f s wall %8.1f s cpu\n", n, $1, $2 + $3}' "$tf" | tee -a "$TIMINGS"
    rm -f "$tf"
}

# apt options for version VER (v1: release suite only, v2: release+updates+security),
# all state private to $APT so the system's apt state is untouched.
apt_opts() {
    local ver=$1
    echo "-q -o Dir::State::status=$APT/empty-status -o Dir::State::Lists=$APT/lists" \
        "-o Dir::Cache=$APT/cache -o Dir::Etc::SourceList=/dev/null" \
        "-o Dir::Etc::SourceParts=$APT/sources-$ver -o Dir::Etc::Preferences=/dev/null" \
        "-o Dir::Etc::PreferencesParts=$APT/empty-prefs -o APT::Install-Recommends=$APT_RECOMMENDS" \
        "-o APT::Architecture=amd64 -o APT::Architectures=amd64 -o Debug::NoLocking=true"
}

step_apt() {
    mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/sources-v1" \
        "$APT/sources-v2" "$APT/empty-prefs"
    : >"$APT/empty-status"
    "$PYTHON" "$HERE/apt-sources.py" "$APT/sources-v1/corpus.sources" "$RELEASE"
    "$PYTHON" "$HERE/apt-sources.py" "$APT/sources-v2/corpus.sources" "$RELEASE" \
        "$RELEASE-updates" "$RELEASE-security"
    # shellcheck disable=SC2046
    apt-get $(apt_opts v2) update
}

# Resolve the dependency closure of the selection as apt would install it on an
# empty system (no recommends) and write NAME=VERSION ARCH lines to $LISTS/VER.pkgs.
step_resolve() {
    local ver=$1 sel
    # Priority required + important of the release suite: what debootstrap installs.
    # shellcheck disable=SC2046
    sel=$(apt-cache $(apt_opts v1) dumpavail |
        awk '/^Package:/{p=$2} /^Priority: (required|important)$/{print p}' | sort -u)
    [ -n "$sel" ] || {
        echo "error: no Priority required/important package found in $RELEASE" >&2
        return 1
    }
    # shellcheck disable=SC2046,SC2086
    apt-get $(apt_opts "$ver") -s install $sel $EXTRA >"$LISTS/$ver.sim"
    # Lines: Inst NAME (VERSION SUITE... [ARCH])
    awk '/^Inst /{v=$3; sub(/^\(/,"",v); a=""
        if (match($0, /\[[a-z0-9]+\]\)/)) a=substr($0, RSTART+1, RLENGTH-3)
        print $2"="v" "a}' \
        "$LISTS/$ver.sim" | LC_ALL=C sort >"$LISTS/$ver.pkgs.tmp"
    if awk 'NF != 2 {bad=1} END{exit !bad}' "$LISTS/$ver.pkgs.tmp"; then
        echo "error: cannot parse apt's plan in $LISTS/$ver.sim" >&2
        return 1
    fi
    [ -s "$LISTS/$ver.pkgs.tmp" ] || {
        echo "error: resolution for $ver installed nothing (see $LISTS/$ver.sim)" >&2
        return 1
    }
    mv "$LISTS/$ver.pkgs.tmp" "$LISTS/$ver.pkgs"
}

# The .deb file name apt-get download writes for NAME=VERSION ARCH.
deb_name() {
    local nv=$1 arch=$2
    local name=${nv%%=*} version=${nv#*=}
    printf '%s_%s_%s.deb\n' "$name" "${version//:/%3a}" "$arch"
}

step_download() {
    local missing=() nv arch f
    while read -r nv arch; do
        f=$(deb_name "$nv" "$arch")
        [ -s "$DEBS/$f" ] || missing+=("$nv")
    done < <(LC_ALL=C sort -u "$LISTS/v1.pkgs" "$LISTS/v2.pkgs")
    if [ "${#missing[@]}" -gt 0 ]; then
        log "downloading ${#missing[@]} packages"
        # apt-get download verifies each file against the signed indexes.
        # shellcheck disable=SC2046
        (cd "$DEBS" && apt-get $(apt_opts v2) download "${missing[@]}")
    fi
    for v in v1 v2; do
        while read -r nv arch; do
            f=$(deb_name "$nv" "$arch")
            [ -s "$DEBS/$f" ] || {
                echo "error: $DEBS/$f missing after download" >&2
                return 1
            }
            echo "$f"
        done <"$LISTS/$v.pkgs" >"$LISTS/$v.debs"
    done
}

# Convert one .deb (argument: file name in $DEBS) unless already converted.
convert_one() {
    local f=$1 rpmpath
    if [ -s "$WORK/map/$f" ] && [ -s "$RPMS/$(cat "$WORK/map/$f")" ]; then
        return 0
    fi
    rpmpath=$("$PYTHON" "$HERE/deb2rpm.py" "$DEBS/$f" "$RPMS" "$WORK/deb2rpm")
    basename "$rpmpath" >"$WORK/map/$f.tmp"
    mv "$WORK/map/$f.tmp" "$WORK/map/$f"
}

step_convert() {
    mkdir -p "$WORK/map" "$WORK/deb2rpm"
    export -f convert_one
    export DEBS RPMS WORK PYTHON HERE
    export DEB2RPM_PAYLOAD=$PAYLOAD
    LC_ALL=C sort -u "$LISTS/v1.debs" "$LISTS/v2.debs" |
        xargs -r -P "$JOBS" -I{} bash -c 'convert_one "$1"' _ {}
    for v in v1 v2; do
        while read -r f; do cat "$WORK/map/$f"; done <"$LISTS/$v.debs" >"$LISTS/$v.rpms"
    done
}

# The .deb of package NAME in version VER's list.
deb_of() {
    grep -m1 "^$1_" "$LISTS/$2.debs"
}

# Compose version VER (v1|v2|v2p) into $ROOTS/VER and commit it on BRANCH
# (default $BRANCH).
step_compose() {
    local ver=$1 version=$2 parent=$3 branch=${4:-$BRANCH} root=$ROOTS/$1 bp kver n want
    rm -rf "$root"
    mkdir -p "$root/etc"
    chmod 0755 "$root"
    # Account databases as base-passwd's postinst would create them (no package
    # ships them); rpm needs them to map the RPMs' owner/group names to ids.
    bp=$DEBS/$(deb_of base-passwd "$ver")
    dpkg-deb --fsys-tarfile "$bp" | tar -xO ./usr/share/base-passwd/passwd.master >"$root/etc/passwd"
    dpkg-deb --fsys-tarfile "$bp" | tar -xO ./usr/share/base-passwd/group.master >"$root/etc/group"
    awk -F: '{print $1":*:19500:0:99999:7:::"}' "$root/etc/passwd" >"$root/etc/shadow"
    awk -F: '{print $1":*::"}' "$root/etc/group" >"$root/etc/gshadow"
    chmod 0644 "$root/etc/passwd" "$root/etc/group"
    chmod 0640 "$root/etc/shadow" "$root/etc/gshadow"
    chgrp "$(awk -F: '$1=="shadow"{print $3}' "$root/etc/group")" "$root/etc/shadow" "$root/etc/gshadow"

    # Install as a user would, with the rpmdb inside the tree. Maintainer scripts
    # are not part of the converted RPMs; --noscripts keeps rpm from looking.
    # --replacefiles: Debian packages may ship the same directory with other
    # owners (the large corpus: /etc/ppp root:dip in ppp, root:root in
    # exim4-config); dpkg accepts that, rpm calls it a conflict. The later
    # package's entry wins, as with dpkg. The small corpus has no such case.
    rpm --root "$root" --dbpath "$DBPATH" --initdb
    (cd "$RPMS" && xargs -a "$LISTS/$ver.rpms" rpm --root "$root" --dbpath "$DBPATH" \
        -i --nodeps --noscripts --notriggers --nosignature --replacefiles)
    # sqlite leaves its shared-memory index and an empty write-ahead log behind;
    # they are runtime files (sqlite recreates them), not part of the database.
    if [ -s "$root$DBPATH/rpmdb.sqlite-wal" ]; then
        echo "error: $root$DBPATH/rpmdb.sqlite-wal is not empty" >&2
        return 1
    fi
    rm -f "$root$DBPATH/rpmdb.sqlite-wal" "$root$DBPATH/rpmdb.sqlite-shm"
    n=$(rpm --root "$root" --dbpath "$DBPATH" -qa | wc -l)
    want=$(wc -l <"$LISTS/$ver.rpms")
    [ "$n" = "$want" ] || {
        echo "error: $n packages in $root's rpmdb, expected $want" >&2
        return 1
    }

    rm -f "$root$DBPATH/rpmdb.sqlite-wal" "$root$DBPATH/rpmdb.sqlite-shm"

    # Content no package provides.
    : >"$root/etc/machine-id"
    chmod 0444 "$root/etc/machine-id"
    rm -f "$root/etc/os-release" # base-files ships a symlink to ../usr/lib/os-release
    {
        cat "$root/usr/lib/os-release"
        echo 'VARIANT="ostree-jigdo benchmark corpus"'
        echo 'VARIANT_ID=jigdo-corpus'
        echo "IMAGE_VERSION=$version"
        echo "OSTREE_VERSION='$version'"
    } >"$root/etc/os-release"
    chmod 0644 "$root/etc/os-release"
    make_initramfs "$root"

    local subject="Debian $RELEASE corpus $ver ($(wc -l <"$LISTS/$ver.rpms") packages)"
    ostree --repo="$REPO" commit --branch="$branch" --parent="$parent" \
        --subject="$subject" --add-metadata-string=version="$version" \
        --tree=dir="$root" >"$STATE/$ver.commit.tmp"
    mv "$STATE/$ver.commit.tmp" "$STATE/$ver.commit"
}

# An initramfs-like file: newc cpio (an /init script, then binaries, libraries
# and storage/virtio modules of the tree) compressed with zstd, written where
# initramfs-tools would put it.
make_initramfs() {
    local root=$1 kver stage p d list
    kver=$(ls "$root/lib/modules" | head -n1)
    [ -n "$kver" ] || {
        echo "error: no kernel modules in $root/lib/modules" >&2
        return 1
    }
    stage=$WORK/initramfs-stage
    rm -rf "$stage"
    mkdir -p "$stage"
    printf '#!/bin/sh\n# corpus initramfs: mount the root and switch to it\nexec /sbin/init "$@"\n' >"$stage/init"
    chmod 0755 "$stage/init"
    touch -d @0 "$stage/init"
    list=$WORK/initramfs.list
    (
        cd "$root"
        for p in bin sbin lib64 lib/x86_64-linux-gnu etc/os-release etc/passwd etc/group \
            lib/modules/"$kver"/kernel/drivers/block lib/modules/"$kver"/kernel/drivers/virtio \
            lib/modules/"$kver"/kernel/drivers/scsi lib/modules/"$kver"/kernel/drivers/nvme \
            lib/modules/"$kver"/kernel/fs lib/modules/"$kver"/kernel/lib \
            lib/modules/"$kver"/modules.dep lib/modules/"$kver"/modules.alias \
            lib/modules/"$kver"/modules.order lib/modules/"$kver"/modules.builtin; do
            if [ -e "$p" ] || [ -L "$p" ]; then
                d=$(dirname "$p")
                while [ "$d" != . ]; do
                    echo "$d"
                    d=$(dirname "$d")
                done
                find "$p"
            fi
        done | LC_ALL=C sort -u
    ) >"$list"
    # cpio records mtimes. Files keep the ones rpm set from the headers; directories
    # (changed by rpm while filling them) and the files generated here get the
    # kernel's, so the initramfs is the same for the same packages.
    local stamp
    stamp=$(stat -c %Y "$root/boot/vmlinuz-$kver")
    (cd "$root" && touch -h -d "@$stamp" etc/os-release etc/passwd etc/group &&
        while read -r p; do
            if [ -d "$p" ] && [ ! -L "$p" ]; then touch -d "@$stamp" "$p"; fi
        done <"$list")
    mkdir -p "$root/boot"
    {
        (cd "$stage" && echo init | cpio -o -H newc --reproducible --quiet)
        (cd "$root" && cpio -o -H newc --reproducible --quiet <"$list")
    } | zstd -q -12 -T1 >"$root/boot/initrd.img-$kver"
    chmod 0644 "$root/boot/initrd.img-$kver"
}

# The one-package update v2 -> v2': v2's package set with $V2P_PACKAGE (a small
# library) rebuilt (deb2rpm.py --rebuild 1: Release + ".1", its ELF files carry a
# rebuild note), composed like the others on $V2P_BRANCH with parent v2.
step_v2p_rpm() {
    local deb old new
    deb=$(deb_of "$V2P_PACKAGE" v2) || {
        echo "error: CORPUS_V2P_PACKAGE $V2P_PACKAGE is not in v2 (see $LISTS/v2.debs)" >&2
        return 1
    }
    old=$(cat "$WORK/map/$deb")
    mkdir -p "$WORK/map-v2p" "$WORK/deb2rpm-v2p"
    if ! { [ -s "$WORK/map-v2p/$deb" ] && [ -s "$RPMS/$(cat "$WORK/map-v2p/$deb")" ]; }; then
        new=$(DEB2RPM_PAYLOAD=$PAYLOAD "$PYTHON" "$HERE/deb2rpm.py" --rebuild 1 "$DEBS/$deb" \
            "$RPMS" "$WORK/deb2rpm-v2p")
        basename "$new" >"$WORK/map-v2p/$deb"
    fi
    new=$(cat "$WORK/map-v2p/$deb")
    [ "$new" != "$old" ] || {
        echo "error: the rebuilt $V2P_PACKAGE has v2's file name $old" >&2
        return 1
    }
    awk -v old="$old" -v new="$new" '$0 == old {print new; next} {print}' "$LISTS/v2.rpms" \
        >"$LISTS/v2p.rpms"
    cp "$LISTS/v2.debs" "$LISTS/v2p.debs" # the same .debs (deb_of reads it while composing)
    grep -qxF "$new" "$LISTS/v2p.rpms"
}

step_createrepo() {
    rm -rf "$RPMS/repodata" "$RPMS/.repodata"
    createrepo_c --quiet --workers "$JOBS" "$RPMS"
    date +%s >"$STATE/createrepo.stamp"
}

# ---------------------------------------------------------------- main flow
if [ -s "$APT/sources-v2/corpus.sources" ] && ls "$APT"/lists/*_Packages* >/dev/null 2>&1 &&
    [ "$FORCE" = 0 ]; then
    log "apt indexes: cached"
else
    log "apt indexes: update"
    timed apt-update step_apt
fi

for v in v1 v2; do
    if [ -s "$LISTS/$v.pkgs" ]; then
        log "resolve $v: cached ($(wc -l <"$LISTS/$v.pkgs") packages)"
    else
        log "resolve $v"
        timed "resolve-$v" step_resolve "$v"
    fi
done

log "download"
timed download step_download

log "convert .deb -> .rpm ($JOBS jobs)"
timed convert step_convert

if [ -s "$STATE/v1.commit" ] && ostree --repo="$REPO" rev-parse "$(cat "$STATE/v1.commit")" >/dev/null 2>&1; then
    log "compose v1: cached"
else
    [ -d "$REPO/objects" ] || ostree --repo="$REPO" init --mode=archive
    rm -f "$STATE/v2.commit"
    log "compose v1"
    timed compose-v1 step_compose v1 1.0 none
fi
V1_COMMIT=$(cat "$STATE/v1.commit")
if [ -s "$STATE/v2.commit" ] && ostree --repo="$REPO" rev-parse "$(cat "$STATE/v2.commit")" >/dev/null 2>&1; then
    log "compose v2: cached"
else
    log "compose v2"
    timed compose-v2 step_compose v2 2.0 "$V1_COMMIT"
fi
V2_COMMIT=$(cat "$STATE/v2.commit")
[ "$(ostree --repo="$REPO" rev-parse "$BRANCH")" = "$V2_COMMIT" ] || {
    echo "error: $BRANCH does not point at the v2 commit $V2_COMMIT; rerun with --force" >&2
    exit 1
}

log "v2': $V2P_PACKAGE rebuilt"
timed v2p-rpm step_v2p_rpm
if [ -s "$STATE/v2p.commit" ] && ostree --repo="$REPO" rev-parse "$(cat "$STATE/v2p.commit")" >/dev/null 2>&1 &&
    [ "$(ostree --repo="$REPO" rev-parse "$(cat "$STATE/v2p.commit")^")" = "$V2_COMMIT" ]; then
    log "compose v2': cached"
else
    log "compose v2'"
    timed compose-v2p step_compose v2p 2.1 "$V2_COMMIT" "$V2P_BRANCH"
fi
V2P_COMMIT=$(cat "$STATE/v2p.commit")
ostree --repo="$REPO" summary -u >/dev/null

if [ -s "$RPMS/repodata/repomd.xml" ] && [ -s "$STATE/createrepo.stamp" ] &&
    [ -z "$(find "$RPMS" -maxdepth 1 -name '*.rpm' -newer "$STATE/createrepo.stamp" -print -quit)" ]; then
    log "createrepo_c: cached"
else
    log "createrepo_c"
    timed createrepo step_createrepo
fi

log "ostree fsck"
run_fsck() {
    ostree --repo="$REPO" fsck --quiet >"$STATE/fsck.log" 2>&1 || {
        cat "$STATE/fsck.log" >&2
        return 1
    }
}
timed ostree-fsck run_fsck
grep -v '^fsck objects' "$STATE/fsck.log" || true

# ------------------------------------------------------------------ outputs
# RPMs only v2 has (updated packages, the new kernel ABI) and only v1 has.
CHANGED=$(LC_ALL=C comm -13 <(LC_ALL=C sort "$LISTS/v1.rpms") <(LC_ALL=C sort "$LISTS/v2.rpms") |
    sed "s|^|$RPMS/|" | tr '\n' ' ')
CHANGED=${CHANGED% }
REMOVED=$(LC_ALL=C comm -23 <(LC_ALL=C sort "$LISTS/v1.rpms") <(LC_ALL=C sort "$LISTS/v2.rpms") |
    sed "s|^|$RPMS/|" | tr '\n' ' ')
REMOVED=${REMOVED% }
V2P_NEW=$(LC_ALL=C comm -13 <(LC_ALL=C sort "$LISTS/v2.rpms") <(LC_ALL=C sort "$LISTS/v2p.rpms"))
[ "$(wc -l <<<"$V2P_NEW")" = 1 ] || {
    echo "error: v2' should differ from v2 by one RPM, found: $V2P_NEW" >&2
    exit 1
}
# Shell-safe as plain double-quoted strings (checked), so the file stays readable.
envvar() {
    if [[ "$2" =~ ^[A-Za-z0-9_./+~:\ -]*$ ]]; then
        printf '%s="%s"\n' "$1" "$2"
    else
        printf '%s=%q\n' "$1" "$2"
    fi
}
{
    echo "# Written by build-corpus.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ); source it."
    envvar CORPUS "$OUTDIR"
    envvar REPO "$REPO"
    envvar RPMS "$RPMS"
    envvar BRANCH "$BRANCH"
    envvar V1_COMMIT "$V1_COMMIT"
    envvar V2_COMMIT "$V2_COMMIT"
    echo "# One RPM file name per line (in \$RPMS) for each version."
    envvar V1_RPMS_LIST "$LISTS/v1.rpms"
    envvar V2_RPMS_LIST "$LISTS/v2.rpms"
    echo "# Space-separated paths: RPMs in v2 but not in v1, and in v1 but not in v2."
    envvar CHANGED_RPMS "$CHANGED"
    envvar REMOVED_RPMS "$REMOVED"
    echo "# The one-package update v2 -> v2' ($V2P_PACKAGE rebuilt), on its own branch."
    envvar V2P_BRANCH "$V2P_BRANCH"
    envvar V2P_COMMIT "$V2P_COMMIT"
    envvar V2P_RPMS_LIST "$LISTS/v2p.rpms"
    envvar V2P_CHANGED_RPMS "$RPMS/$V2P_NEW"
} >"$OUTDIR/corpus.env"

count_commit() { # prints: files symlinks dirs bytes-of-regular-files
    ostree --repo="$REPO" ls -R "$1" / |
        awk '{t=substr($1,1,1)} t=="-"{f++; b+=$4} t=="l"{l++} t=="d"{d++} END{print f+0, l+0, d+0, b+0}'
}
read -r f1 l1 d1 b1 < <(count_commit "$V1_COMMIT")
read -r f2 l2 d2 b2 < <(count_commit "$V2_COMMIT")
NRPMS=$(find "$RPMS" -maxdepth 1 -name '*.rpm' | wc -l)
RPMBYTES=$(find "$RPMS" -maxdepth 1 -name '*.rpm' -printf '%s\n' | awk '{s+=$1} END{print s+0}')
NCHANGED=$(wc -w <<<"$CHANGED")
CHANGEDBYTES=0
[ "$NCHANGED" = 0 ] || CHANGEDBYTES=$(stat -c %s $CHANGED | awk '{s+=$1} END{print s+0}')
T_END=$(date +%s)
mib() { awk -v b="$1" 'BEGIN{printf "%.1f", b / 1048576}'; }

echo
echo "================ corpus summary ($OUTDIR)"
printf 'packages v1 / v2 / union:  %s / %s / %s RPMs (%s MiB in rpms/)\n' \
    "$(wc -l <"$LISTS/v1.rpms")" "$(wc -l <"$LISTS/v2.rpms")" "$NRPMS" "$(mib "$RPMBYTES")"
printf 'changed in v2:             %s RPMs, %s MiB\n' "$NCHANGED" "$(mib "$CHANGEDBYTES")"
printf 'v1 commit %s: %s files (%s MiB), %s symlinks, %s dirs\n' "$V1_COMMIT" "$f1" "$(mib "$b1")" "$l1" "$d1"
printf 'v2 commit %s: %s files (%s MiB), %s symlinks, %s dirs\n' "$V2_COMMIT" "$f2" "$(mib "$b2")" "$l2" "$d2"
printf "v2' commit %s (%s): %s\n" "$V2P_COMMIT" "$V2P_BRANCH" "$V2P_NEW"
printf 'ostree repo (archive):     %s MiB\n' "$(mib "$(du -sb "$REPO" | cut -f1)")"
printf 'time this run:             %s s (per step: %s)\n' "$((T_END - T_START))" "$TIMINGS"
echo "env for the bench:         $OUTDIR/corpus.env"
