#!/usr/bin/env bash
# Volumes. For now the copy-up part only: berth's copy of an image
# directory into a new, empty volume (berth_volume::copy_up, driven by the
# crate's tiny example binary) against `cp -a` of the same tree, both
# reading through a mounted overlay rootfs, as the engine does.
#
#   bench/volumes.sh [-n RUNS] [-d DIR] [-c] COPY_UP
#
# COPY_UP is the example binary, built optimized:
#   cargo build --release -p berth-volume --example copy_up
#   sudo bench/volumes.sh target/release/examples/copy_up
#
# The tree (about 100 MB): 10000 small files (256 B to 4.3 KiB, in 200
# directories two levels deep), six 12 MiB and three 1 MiB files, 1000
# symlinks, 100 hard links, user.* attributes on 500 files and
# security.capability on 3, a few setuid/sticky modes and other owners. It
# is the lower layer of an overlay mounted in DIR (default /var/tmp, a disk
# filesystem like /var/lib/berth's); the copies go to fresh directories in
# DIR too. RUNS rounds (default 10) after a warm-up round and a check
# round, alternating berth and cp -a (cp first in odd rounds). The check
# round compares both copies (type, mode, owner, size, mtime, atime, link
# target, link count, xattrs) and stops the benchmark if they differ.
#
# Caches: by default both run warm (the warm-up round leaves the source in
# the page cache, which is where an image's files are when a container has
# just been created from it); -c drops the page cache before every timed
# copy instead (cold source). After each copy: the copy is removed and
# `sync` runs, untimed, so no run starts with another's dirty pages.
# Needs root, setfattr/getfattr (attr), setcap (libcap2-bin).
set -uo pipefail
RUNS=10 DIR=/var/tmp COLD=0
while getopts n:d:c o; do
    case $o in
        n) RUNS=$OPTARG ;;
        d) DIR=$OPTARG ;;
        c) COLD=1 ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { echo "usage: volumes.sh [-n RUNS] [-d DIR] [-c] COPY_UP" >&2; exit 2; }
BIN=$(realpath "$1")
[ -x "$BIN" ] || { echo "volumes: $1 is not executable" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "volumes: needs root" >&2; exit 2; }
for p in setfattr getfattr setcap cp split; do
    command -v "$p" >/dev/null || { echo "volumes: needs $p (apt-get install attr libcap2-bin coreutils)" >&2; exit 2; }
done

W=$(mktemp -d "$DIR/volbench.XXXXXX")
cleanup() {
    umount "$W/merged" 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT

# ---- the image's directory --------------------------------------------------
tree=$W/lower/data
mkdir -p "$tree" "$W/upper" "$W/work" "$W/merged"
for i in $(seq 0 199); do
    sub=$tree/small/d$((i / 20))/e$i
    mkdir -p "$sub"
    size=$((256 + (i * 397) % 4096))
    head -c $((size * 50)) /dev/urandom | split -b "$size" -a 2 - "$sub/f"
done
mkdir "$tree/large" "$tree/links" "$tree/hard"
for i in 1 2 3 4 5 6; do head -c 12M /dev/urandom >"$tree/large/blob$i"; done
for i in 1 2 3; do head -c 1M /dev/urandom >"$tree/large/mid$i"; done
(
    cd "$tree/links" || exit 1
    for i in $(seq 0 999); do
        case $((i % 3)) in
            0) echo "../small/d$((i % 10))/e$((i % 200))/faa l$i" ;;
            1) echo "/usr/lib/absolute/$i l$i" ;;
            2) echo "dangling-$i l$i" ;;
        esac
    done | xargs -n 2 ln -s
)
# split names its pieces faa, fab, ...: every e$k directory has faa..faj.
letters=(a b c d e f g h i j)
small() { echo "$tree/small/d$(($1 / 20))/e$1/fa${letters[$2]}"; } # K LETTER
for i in $(seq 0 99); do ln "$(small $((i % 20)) $((i % 10)))" "$tree/hard/h$i"; done
# Attributes: one setfattr for all (its --restore reads getfattr's dump).
for i in $(seq 0 499); do
    printf '# file: %s\nuser.bench="value-%d"\nuser.n="%d"\n\n' "$(small $((i % 200)) $((i / 200)))" "$i" "$i"
done >"$W/attrs"
setfattr --restore="$W/attrs" || exit 1
for i in 1 2 3; do setcap cap_net_bind_service+ep "$tree/large/mid$i" || exit 1; done
chmod 4755 "$tree/large/mid1"
chmod 1777 "$tree/small/d1"
chown -R 1000:1000 "$tree/small/d2"
chown 0:50 "$tree/large"
mount -t overlay overlay -o "lowerdir=$W/lower,upperdir=$W/upper,workdir=$W/work" "$W/merged" || exit 1
src=$W/merged/data
bytes=$(du -sb --apparent-size "$src" | cut -f1)
files=$(find "$src" -type f | wc -l)
links=$(find "$src" -type l | wc -l)

# ---- timing ------------------------------------------------------------------
declare -A S
add() { S[$1]="${S[$1]:-} $2"; }
now() { echo "${EPOCHREALTIME/./}"; }
stat3() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{printf "%s %s %s\n", a[1], a[int((NR+1)/2)], a[NR]}'; }
n=0
copy() { # berth|cp -> prints the destination it made
    local dst=$W/dst-$n-$1
    n=$((n + 1))
    mkdir "$dst"
    [ $COLD = 1 ] && { sync; echo 3 >/proc/sys/vm/drop_caches; }
    local t0 t1
    t0=$(now)
    if [ "$1" = berth ]; then
        "$BIN" "$W/merged" /data "$dst" >/dev/null || { echo "volumes: copy_up failed" >&2; exit 1; }
    else
        cp -a "$src/." "$dst/" || { echo "volumes: cp -a failed" >&2; exit 1; }
    fi
    t1=$(now)
    LAST=$((t1 - t0)) LASTDIR=$dst
}
settle() { rm -rf "$LASTDIR"; sync; }
listing() { # DIR: everything both copies must agree on (a directory's
    # size is the filesystem's business: it depends on the creation order)
    (cd "$1" && find . -printf '%y %m %U %G %s %T@ %A@ %n %p -> %l\n' |
        awk '$1 == "d" { $5 = "-" } 1' | sort &&
        getfattr -R -h -d -m - . 2>/dev/null | sed -n '/^# file/,$p')
}

echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs; $(cp --version | head -1); runs=$RUNS; $( [ $COLD = 1 ] && echo "cold (page cache dropped before each copy)" || echo "warm (source in the page cache)")"
echo "# tree: $bytes bytes, $files files, $links symlinks; source: overlay in $DIR ($(df --output=fstype "$DIR" | tail -1)), copies to $DIR"
echo "# load at start:$(uptime | sed 's/.*load average//')"

# Warm-up round, then the check round (both read the source as warm as
# every later round does).
copy berth; settle
copy cp; settle
copy berth; a=$LASTDIR
copy cp; b=$LASTDIR
if ! diff <(listing "$a") <(listing "$b") >"$W/diff"; then
    echo "volumes: copy_up and cp -a made different trees:" >&2
    head -20 "$W/diff" >&2
    exit 1
fi
echo "# check: copy_up and cp -a made identical trees ($(listing "$a" | wc -l) lines of metadata)"
rm -rf "$a" "$b"; sync

for r in $(seq 1 "$RUNS"); do
    if [ $((r % 2)) = 1 ]; then order="cp berth"; else order="berth cp"; fi
    for who in $order; do
        copy "$who"
        add "$who" "$LAST"
        echo "round $r $who $((LAST / 1000)) ms" >&2
        settle
    done
done

echo
echo "## copy-up of a $((bytes / 1000000)) MB image directory into an empty volume (ms)"
echo "| copier | min / median / max |"
echo "|---|---|"
for who in berth cp; do
    read -r lo med hi <<<"$(echo "${S[$who]}" | stat3)"
    label=$who; [ "$who" = berth ] && label="berth copy_up"; [ "$who" = cp ] && label="cp -a"
    awk -v l="$label" -v a="$lo" -v b="$med" -v c="$hi" 'BEGIN{printf "| %s | %.1f / %.1f / %.1f |\n", l, a/1000, b/1000, c/1000}'
done
awk -v a="$(echo "${S[berth]}" | stat3 | awk '{print $2}')" -v b="$(echo "${S[cp]}" | stat3 | awk '{print $2}')" \
    'BEGIN{printf "copy_up / cp -a: medians %.2f  (goal 1.2)\n", a / b}'
echo "# load at end:$(uptime | sed 's/.*load average//')"
