# Sourced by the bench scripts that compare two versions of a tree (update.sh, delta.sh):
#
#   load_versions WORKDIR   sets v1, v2 (directories of each version's RPMs), compose (an
#                           OSTree repository holding both commits), c1 and c2 (the
#                           commits), and prints where they come from.
#
# The corpus of mirror-tests/corpus/build-corpus.sh ($JIGDO_CORPUS, default
# /var/tmp/jigdo-corpus) if it exists, else the test packages built with rpmbuild, v2 being
# v1 with jt-xz rebuilt. JIGDO_UPDATE (corpus only) picks another pair: v2p, the corpus's
# one-package update ("v1" is the corpus's v2 and "v2" its v2', one small library
# rebuilt); v1v2p, the two-step update from v1 straight to v2' (both updates at once).
load_versions() {
    local w=$1 here corpus new
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    corpus=${JIGDO_CORPUS:-/var/tmp/jigdo-corpus}
    mkdir -p "$w/v1" "$w/v2"
    v1=$w/v1; v2=$w/v2
    if [ -f "$corpus/corpus.env" ]; then
        echo "corpus: $corpus (see mirror-tests/corpus/README.md)"
        # shellcheck disable=SC1091
        . "$corpus/corpus.env"
        # The two versions' package sets, linked (not copied) out of the corpus pool.
        local l1=$V1_RPMS_LIST l2=$V2_RPMS_LIST
        compose=$REPO; c1=$V1_COMMIT; c2=$V2_COMMIT
        case "${JIGDO_UPDATE:-}" in
        "") ;;
        v2p | v1v2p)
            [ -n "${V2P_COMMIT:-}" ] || {
                echo "error: $corpus has no one-package update (rerun build-corpus.sh)" >&2
                return 1
            }
            l2=$V2P_RPMS_LIST c2=$V2P_COMMIT
            if [ "$JIGDO_UPDATE" = v2p ]; then
                echo "pair: v2 -> v2' (one package: $(basename "$V2P_CHANGED_RPMS"))"
                l1=$V2_RPMS_LIST c1=$V2_COMMIT
            else
                echo "pair: v1 -> v2' (two steps: the v2 update and $(basename "$V2P_CHANGED_RPMS"))"
            fi
            ;;
        *)
            echo "error: JIGDO_UPDATE=$JIGDO_UPDATE: v2p or v1v2p" >&2
            return 1
            ;;
        esac
        while read -r f; do ln "$RPMS/$f" "$w/v1/$f"; done < "$l1"
        while read -r f; do ln "$RPMS/$f" "$w/v2/$f"; done < "$l2"
        return
    fi
    [ -z "${JIGDO_UPDATE:-}" ] || { echo "error: JIGDO_UPDATE needs the corpus" >&2; return 1; }
    echo "packages: the test packages (specs/build-test-packages.sh), v2 = v1 with jt-xz rebuilt"
    bash "$here/specs/build-test-packages.sh" "$w/v1" >/dev/null
    cp "$w"/v1/*.rpm "$w/v2/"
    # v2: one package changed (a new release of jt-xz with other content).
    sed -e 's/^Release:.*/Release: 99/' "$here/specs/jt-xz.spec" > "$w/jt-xz-v2.spec"
    rpmbuild -bb --quiet --define "_topdir $w/rb" --define "_rpmdir $w/rbout" "$w/jt-xz-v2.spec" >/dev/null 2>&1 || true
    new=$(find "$w/rbout" -name 'jt-xz-*.rpm' 2>/dev/null | head -n1)
    if [ -n "$new" ]; then rm -f "$w"/v2/jt-xz-*.rpm; cp "$new" "$w/v2/"; fi
    compose=$w/compose
    bash "$here/examples/compose-tree.sh" "$v1" "$compose" bench/os 1.0 >/dev/null
    bash "$here/examples/compose-tree.sh" "$v2" "$compose" bench/os 2.0 bench/os >/dev/null
    c2=$(ostree --repo="$compose" rev-parse bench/os)
    c1=$(ostree --repo="$compose" rev-parse bench/os^)
}
