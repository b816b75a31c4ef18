# Sourced by the bench scripts whose timed runs write trees on disk: trees are moved aside,
# not deleted, before a timed run, and deleted when the script exits. ext4 without a
# journal (this machine's /) skips every inode freed in the last minute (six, while its
# inode table block is not written back) when it allocates one, so a 12k-131k-file tree
# deleted right before a run made every inode the run allocated cost a walk over the
# freed ones (40% of the CPU of jigdo unpack and of ostree pull-local alike, in perf; a
# jigdo install of the small corpus right after the previous round's repository was
# deleted: 6-8 s of system time instead of 1.3-1.7 s). Needs the disk space of every
# round's trees until the end.
#
#   aside_init TRASH GIB   trees go to the directory TRASH (the caller deletes it at exit);
#                          GIB: the size of one tree, in GiB
#   aside DIR...           moves each existing DIR into TRASH (deletes it when less than
#                          3 × GIB GiB are free there: the next run may pay for it)
#   gib_free PATH          GiB free on PATH's filesystem
gib_free() { df -B1G --output=avail "$1" | tail -n1 | tr -d ' '; }
aside_init() {
    ASIDE_TRASH=$1 ASIDE_GIB=$2
    mkdir -p "$ASIDE_TRASH"
}
aside() {
    local d
    for d in "$@"; do
        [ -e "$d" ] || continue
        if [ "$(gib_free "$ASIDE_TRASH")" -ge $((3 * ASIDE_GIB)) ]; then
            mv "$d" "$ASIDE_TRASH/$(date +%s%N)-$(basename "$d")"
        else
            echo "   (less than $((3 * ASIDE_GIB)) GiB free: $d deleted, the next run may pay for it)" >&2
            rm -rf "$d"
        fi
    done
}
