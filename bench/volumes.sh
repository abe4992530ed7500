#!/usr/bin/env bash
# Volumes, in two parts (-o PARTS, a comma list; default both):
#   copyup  berth's copy of an image directory into a new, empty volume
#           (berth_volume::copy_up, driven by the crate's tiny example
#           binary COPY_UP) against `cp -a` of the same tree, both reading
#           through a mounted overlay rootfs, as the engine does;
#   run     latency of `run --rm IMAGE true` through the engines, alternating:
#           berth without a volume, with a named volume (`-v VOL:/data`,
#           created once beforehand) and with a fresh anonymous one
#           (`-v /data`, made and removed by every run), and Podman the same
#           three ways; the overhead of a volume on berth's own run and
#           berth against Podman.
#
#   bench/volumes.sh [-o PARTS] [-n RUNS] [-d DIR] [-c] [-r RUNS] [-R RUNTIME] [-b BERTH] [COPY_UP]
#
# COPY_UP (copyup part) is the example binary, BERTH (-b, run part) the
# berth binary, both built optimized:
#   cargo build --release -p berth -p berth-volume --example copy_up
#   sudo bench/volumes.sh -b target/release/berth target/release/examples/copy_up
#
# copyup: the tree (about 100 MB): 10000 small files (256 B to 4.3 KiB, in
# 200 directories two levels deep), six 12 MiB and three 1 MiB files, 1000
# symlinks, 100 hard links, user.* attributes on 500 files and
# security.capability on 3, a few setuid/sticky modes and other owners. It
# is the lower layer of an overlay mounted in DIR (default /var/tmp, a disk
# filesystem like /var/lib/berth's); the copies go to fresh directories in
# DIR too. -n RUNS rounds (default 10) after a warm-up round and a check
# round, alternating berth and cp -a (cp first in odd rounds). The check
# round compares both copies (type, mode, owner, size, mtime, atime, link
# target, link count, xattrs) and stops the benchmark if they differ.
#
# Caches: by default both run warm (the warm-up round leaves the source in
# the page cache, which is where an image's files are when a container has
# just been created from it); -c drops the page cache before every timed
# copy instead (cold source). After each copy: the copy is removed and
# `sync` runs, untimed, so no run starts with another's dirty pages.
#
# run: -r RUNS rounds (default 30) after a warm-up round, the six cases in
# each round in an order rotated by one every round, so that neither engine
# always follows the other. Both engines get their own roots in a temp dir
# in DIR, the same busybox image imported into each, overlay storage,
# cgroupfs cgroups under a private parent, `--network none` (the network
# would dominate), the OCI runtime RUNTIME (-R, default runc: the runtimes
# match), and Podman the ulimits of bench/engine-run.sh. Before timing, a
# file written into each named volume by one container is read back by
# another, so the volume is really mounted.
#
# The whole script runs in a mount namespace of its own (`unshare -m`):
# the overlay, the engines' mounts and volumes go with it; on a hybrid host
# without /sys/fs/cgroup/unified there (crun 1.8 refuses hybrid hosts), as
# bench/engine-run.sh does. Needs root, unshare; copyup: setfattr/getfattr
# (attr), setcap (libcap2-bin); run: podman, conmon, /bin/busybox.
set -uo pipefail
ARGS=("$@")
RUNS=10 DIR=/var/tmp COLD=0 PARTS=copyup,run RRUNS=30 RT=runc BERTH=
while getopts o:n:d:cr:R:b: o; do
    case $o in
        o) PARTS=$OPTARG ;;
        n) RUNS=$OPTARG ;;
        d) DIR=$OPTARG ;;
        c) COLD=1 ;;
        r) RRUNS=$OPTARG ;;
        R) RT=$OPTARG ;;
        b) BERTH=$OPTARG ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
usage() { echo "usage: volumes.sh [-o copyup,run] [-n RUNS] [-d DIR] [-c] [-r RUNS] [-R RUNTIME] [-b BERTH] [COPY_UP]" >&2; exit 2; }
has_part() { case ",$PARTS," in *",$1,"*) return 0 ;; esac; return 1; }
for p in ${PARTS//,/ }; do
    case $p in copyup | run) ;; *) echo "volumes: unknown part $p (copyup, run)" >&2; usage ;; esac
done
[ "$(id -u)" = 0 ] || { echo "volumes: needs root" >&2; exit 2; }
command -v unshare >/dev/null || { echo "volumes: needs unshare (util-linux)" >&2; exit 2; }
if has_part copyup; then
    [ $# -eq 1 ] || usage
    BIN=$(realpath "$1")
    [ -x "$BIN" ] || { echo "volumes: $1 is not executable" >&2; exit 2; }
    for p in setfattr getfattr setcap cp split; do
        command -v "$p" >/dev/null || { echo "volumes: needs $p (apt-get install attr libcap2-bin coreutils)" >&2; exit 2; }
    done
fi
if has_part run; then
    [ -n "$BERTH" ] || { echo "volumes: the run part needs -b BERTH" >&2; usage; }
    BERTH=$(realpath "$BERTH")
    [ -x "$BERTH" ] || { echo "volumes: $BERTH is not executable" >&2; exit 2; }
    for p in podman conmon /bin/busybox "$RT"; do
        command -v "$p" >/dev/null || { echo "volumes: needs $p (apt-get install podman conmon busybox-static)" >&2; exit 2; }
    done
fi

# A private mount namespace for the whole run (see above).
if [ -z "${BENCH_PRIVATE_NS:-}" ]; then
    export BENCH_PRIVATE_NS=1
    exec unshare -m bash -c '
        if grep -q " /sys/fs/cgroup/unified " /proc/mounts; then umount /sys/fs/cgroup/unified || exit 1; fi
        exec "$0" "$@"' "$0" "${ARGS[@]}"
fi

W=$(mktemp -d "$DIR/volbench.XXXXXX")
CG=/berth-volbench-$$
B=() P=()
cleanup() {
    if [ ${#P[@]} -gt 0 ]; then
        "${P[@]}" rm -af -t 0 >/dev/null 2>&1
        "${P[@]}" volume rm -af >/dev/null 2>&1
        umount -R "$W"/podman/root/overlay/*/merged 2>/dev/null
        umount "$W"/podman/root/overlay 2>/dev/null
    fi
    if [ ${#B[@]} -gt 0 ]; then
        "${B[@]}" ps -aq --no-trunc 2>/dev/null | xargs -r "${B[@]}" rm -f >/dev/null 2>&1
    fi
    for d in /sys/fs/cgroup/*"$CG"; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
    umount "$W/merged" 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT

declare -A S
add() { S[$1]="${S[$1]:-} $2"; }
now() { echo "${EPOCHREALTIME/./}"; }
stat3() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{printf "%s %s %s\n", a[1], a[int((NR+1)/2)], a[NR]}'; }
median() { echo "$1" | stat3 | awk '{print $2}'; }
ratio() { # NUM_KEY DEN_KEY LABEL GOAL: the ratio of the medians, if both exist
    [ -n "${S[$1]:-}" ] && [ -n "${S[$2]:-}" ] || return 0
    awk -v a="$(median "${S[$1]}")" -v b="$(median "${S[$2]}")" -v l="$3" -v g="$4" \
        'BEGIN{printf "%s: medians %.2f%s\n", l, a / b, g == "" ? "" : "  (goal " g ")"}'
}

echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs; parts $PARTS; temp dir in $DIR ($(df --output=fstype "$DIR" | tail -1))"
echo "# load at start:$(uptime | sed 's/.*load average//')"

if has_part copyup; then
    # ---- copyup: the image's directory ------------------------------------------
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

    # ---- copyup: timing -----------------------------------------------------------
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

    echo
    echo "# copyup: $(cp --version | head -1); runs=$RUNS; $( [ $COLD = 1 ] && echo "cold (page cache dropped before each copy)" || echo "warm (source in the page cache)")"
    echo "# tree: $bytes bytes, $files files, $links symlinks; source: overlay in $DIR ($(df --output=fstype "$DIR" | tail -1)), copies to $DIR"

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
            add "cu $who" "$LAST"
            echo "round $r $who $((LAST / 1000)) ms" >&2
            settle
        done
    done

    echo
    echo "## copy-up of a $((bytes / 1000000)) MB image directory into an empty volume (ms)"
    echo "| copier | min / median / max |"
    echo "|---|---|"
    for who in berth cp; do
        read -r lo med hi <<<"$(echo "${S[cu $who]}" | stat3)"
        label=$who; [ "$who" = berth ] && label="berth copy_up"; [ "$who" = cp ] && label="cp -a"
        awk -v l="$label" -v a="$lo" -v b="$med" -v c="$hi" 'BEGIN{printf "| %s | %.1f / %.1f / %.1f |\n", l, a/1000, b/1000, c/1000}'
    done
    ratio "cu berth" "cu cp" "copy_up / cp -a" "<= 1.2"
fi

# ---- run: run --rm [-v ...] IMAGE true ------------------------------------------
if has_part run; then
    rtp=$(command -v "$RT") && rtp=$(realpath "$rtp") || { echo "volumes: no runtime $RT" >&2; exit 2; }
    B=("$BERTH" --root "$W/berth" --runtime "$rtp")
    P=(podman --root "$W/podman/root" --runroot "$W/podman/run" --cgroup-manager cgroupfs
        --events-backend file --storage-driver overlay --runtime "$rtp")
    BRUN=(--network none --cgroup-parent "$CG")
    PRUN=(--network none --cgroup-parent "$CG" --ulimit nofile=20000:20000 --ulimit nproc=4096:4096)
    # One image for both: a busybox rootfs imported into each store.
    rootfs=$W/rootfs
    mkdir -p "$rootfs"/{bin,proc,sys,dev,tmp,etc}
    cp /bin/busybox "$rootfs/bin/busybox"
    for a in sh true cat rm; do ln -s busybox "$rootfs/bin/$a"; done
    echo 'root:x:0:0:root:/:/bin/sh' >"$rootfs/etc/passwd"
    echo 'root:x:0:' >"$rootfs/etc/group"
    tar -C "$rootfs" -cf "$W/rootfs.tar" .
    "${B[@]}" import "$W/rootfs.tar" volbench:1 >/dev/null || exit 1
    "${P[@]}" import "$W/rootfs.tar" localhost/volbench:1 >/dev/null 2>&1 || exit 1
    "${B[@]}" volume create vb >/dev/null || { echo "volumes: berth volume create failed" >&2; exit 1; }
    "${P[@]}" volume create vb >/dev/null || { echo "volumes: podman volume create failed" >&2; exit 1; }
    engine() { # berth|podman VOLUME CMD...: run --rm [-v VOLUME] IMAGE CMD
        local e=$1 v=()
        [ -n "$2" ] && v=(-v "$2")
        shift 2
        if [ "$e" = berth ]; then
            "${B[@]}" run --rm "${BRUN[@]}" "${v[@]}" volbench:1 "$@"
        else
            "${P[@]}" run --rm "${PRUN[@]}" "${v[@]}" localhost/volbench:1 "$@"
        fi
    }
    # The named volume is really there: one container writes into it,
    # another one reads it back (and removes it, so the volume stays empty).
    for e in berth podman; do
        engine "$e" vb:/data sh -c "echo $e-$$ >/data/probe" 2>>"$W/err-$e" &&
            [ "$(engine "$e" vb:/data cat /data/probe 2>>"$W/err-$e")" = "$e-$$" ] &&
            engine "$e" vb:/data rm /data/probe 2>>"$W/err-$e" ||
            { echo "volumes: $e: a file written into volume vb was not read back by a second container" >&2; tail -3 "$W/err-$e" >&2; exit 1; }
    done
    cases=("berth plain" "berth named" "berth anonymous" "podman plain" "podman named" "podman anonymous")
    for r in $(seq 0 "$RRUNS"); do # round 0 warms caches and is not counted
        for i in "${!cases[@]}"; do
            c=${cases[$(((i + r) % ${#cases[@]}))]}
            read -r e how <<<"$c"
            v=
            [ "$how" = named ] && v=vb:/data
            [ "$how" = anonymous ] && v=/data
            ok=1 t0=$(now)
            engine "$e" "$v" true >/dev/null 2>>"$W/err-$e" || ok=0
            t1=$(now)
            [ "$r" = 0 ] && continue
            if [ $ok = 1 ]; then add "$c" $((t1 - t0)); else add "$c failures" 1; fi
        done
    done
    # --rm removed every anonymous volume: only the named one is left.
    for e in berth podman; do
        if [ "$e" = berth ]; then left=$("${B[@]}" volume ls -q 2>/dev/null); else left=$("${P[@]}" volume ls -q 2>/dev/null); fi
        [ "$left" = vb ] || echo "volumes: $e left volumes behind: $(echo "$left" | grep -vx vb | wc -l) besides vb" >&2
    done
    echo
    echo "# run: $("$BERTH" --version); $(podman --version); $(conmon --version | head -1); runtime $("$rtp" --version | head -1) for both; runs=$RRUNS"
    echo "## run --rm --network none [-v ...] IMAGE true, runtime $(basename "$rtp") (ms)"
    echo "| engine | volume | min / median / max | failures |"
    echo "|---|---|---|---|"
    for c in "${cases[@]}"; do
        read -r e how <<<"$c"
        label="none"
        [ "$how" = named ] && label="-v vb:/data (named)"
        [ "$how" = anonymous ] && label="-v /data (anonymous, new each run)"
        read -r a b m <<<"$(echo "${S[$c]:-}" | stat3)"
        awk -v e="$e" -v l="$label" -v a="$a" -v b="$b" -v m="$m" -v f="$(echo "${S[$c failures]:-}" | wc -w)" '
            BEGIN{ if (b == "") printf "| %s | %s | - | %d |\n", e, l, f
                   else printf "| %s | %s | %.1f / %.1f / %.1f | %d |\n", e, l, a/1000, b/1000, m/1000, f }'
    done
    ratio "berth named" "berth plain" "berth named volume / berth no volume" "<= 1.1"
    ratio "berth anonymous" "berth plain" "berth anonymous volume / berth no volume" ""
    ratio "berth named" "podman named" "berth named volume / podman named volume" "<= 0.3"
    ratio "berth anonymous" "podman anonymous" "berth anonymous volume / podman anonymous volume" ""
    ratio "podman named" "podman plain" "podman named volume / podman no volume" ""
    ratio "podman anonymous" "podman plain" "podman anonymous volume / podman no volume" ""
fi

echo
echo "# load at end:$(uptime | sed 's/.*load average//')"
for f in "$W"/err-*; do [ -s "$f" ] && { echo "== $(basename "$f")"; tail -3 "$f"; }; done
exit 0
