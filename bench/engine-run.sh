#!/usr/bin/env bash
# berth against Podman, end to end through the engines, from the same
# image and with the same OCI runtime:
#   1. latency of `run --rm IMAGE /bin/true`, alternating berth and podman;
#   2. memory of the per-container monitor (`berth-monitor`
#      vs Podman's conmon) with IDLE containers running `sleep` each;
#   3. latency of `ps` listing those IDLE containers, alternating.
#
#   bench/engine-run.sh [-n RUNS] [-m IDLE] BERTH [RUNTIME...]
#
# BERTH is the berth binary to measure (e.g. target/release/berth).
# RUNTIME defaults to crun. Needs root, podman, conmon, /bin/busybox. Both
# engines get their own roots in a temp dir, overlay storage, cgroupfs
# cgroups under a private parent, no network, the same ulimits (the host's
# hard nofile limit is below Podman's default). Runs in a private mount
# namespace without /sys/fs/cgroup/unified when the host has it (crun 1.8
# refuses hybrid hosts), for both engines alike.
#
# Memory: Pss and Rss summed from /proc/PID/smaps_rollup over every monitor
# process, divided by the number of containers.
set -uo pipefail
RUNS=50 IDLE=50
while getopts n:m: o; do
    case $o in
        n) RUNS=$OPTARG ;;
        m) IDLE=$OPTARG ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: engine-run.sh [-n RUNS] [-m IDLE] BERTH [RUNTIME...]" >&2; exit 2; }
BERTH=$(realpath "$1"); shift
[ $# -gt 0 ] || set -- crun
[ "$(id -u)" = 0 ] || { echo "engine-run: needs root" >&2; exit 2; }
for p in podman conmon /bin/busybox; do
    command -v "$p" >/dev/null || { echo "engine-run: needs $p (apt-get install podman conmon busybox-static)" >&2; exit 2; }
done
if [ -z "${BENCH_PRIVATE_NS:-}" ] && grep -q ' /sys/fs/cgroup/unified ' /proc/mounts; then
    export BENCH_PRIVATE_NS=1
    exec unshare -m bash -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$0" -n "$RUNS" -m "$IDLE" "$BERTH" "$@"
fi

W=$(mktemp -d /tmp/engrun.XXXXXX)
CG=/berth-engrun-$$
B=("$BERTH" --root "$W/berth")
P=(podman --root "$W/podman/root" --runroot "$W/podman/run" --cgroup-manager cgroupfs
    --events-backend file --storage-driver overlay)
PRUN=(--network none --cgroup-parent "$CG" --ulimit nofile=20000:20000 --ulimit nproc=4096:4096)
cleanup() {
    "${P[@]}" rm -af -t 0 >/dev/null 2>&1
    "${B[@]}" ps -aq --no-trunc 2>/dev/null | xargs -r "${B[@]}" rm -f >/dev/null 2>&1
    umount -R "$W"/podman/root/overlay/*/merged 2>/dev/null
    umount "$W"/podman/root/overlay 2>/dev/null
    for d in /sys/fs/cgroup/*"$CG"; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
    rm -rf "$W"
}
trap cleanup EXIT

# One image for both: a busybox rootfs imported into each store.
rootfs=$W/rootfs
mkdir -p "$rootfs"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$rootfs/bin/busybox"
for a in sh true sleep; do ln -s busybox "$rootfs/bin/$a"; done
echo 'root:x:0:0:root:/:/bin/sh' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"
tar -C "$rootfs" -cf "$W/rootfs.tar" .
"${B[@]}" import "$W/rootfs.tar" bench:1 >/dev/null || exit 1
"${P[@]}" import "$W/rootfs.tar" localhost/bench:1 >/dev/null 2>&1 || exit 1

declare -A S
add() { S[$1]="${S[$1]:-} $2"; }
now() { echo "${EPOCHREALTIME/./}"; }
stat3() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{printf "%s %s %s\n", a[1], a[int((NR+1)/2)], a[NR]}'; }
median() { echo "$1" | stat3 | awk '{print $2}'; }

echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs; runs=$RUNS idle=$IDLE; $(podman --version); $(conmon --version | head -1)"
echo "# load at start:$(uptime | sed 's/.*load average//')"
for rt in "$@"; do
    rtp=$(command -v "$rt") && rtp=$(realpath "$rtp") || { echo "engine-run: no runtime $rt" >&2; exit 2; }
    rtn=$(basename "$rtp")
    for r in $(seq 0 "$RUNS"); do # round 0 warms caches and is not counted
        t0=$(now)
        "${B[@]}" --runtime "$rtp" run --rm --network none --cgroup-parent "$CG" bench:1 /bin/true \
            >/dev/null 2>>"$W/err-berth" || add "berth failures $rtn" 1
        t1=$(now)
        "${P[@]}" --runtime "$rtp" run --rm "${PRUN[@]}" localhost/bench:1 /bin/true \
            >/dev/null 2>>"$W/err-podman" || add "podman failures $rtn" 1
        t2=$(now)
        [ "$r" = 0 ] && continue
        add "berth $rtn" $((t1 - t0))
        add "podman $rtn" $((t2 - t1))
    done
    echo
    echo "## run --rm /bin/true, runtime $rtn (ms)"
    echo "| engine | min / median / max | failures |"
    echo "|---|---|---|"
    for e in berth podman; do
        read -r a b c <<<"$(echo "${S[$e $rtn]}" | stat3)"
        awk -v e="$e" -v a="$a" -v b="$b" -v c="$c" -v f="$(echo "${S[$e failures $rtn]:-}" | wc -w)" \
            'BEGIN{printf "| %s | %.1f / %.1f / %.1f | %d |\n", e, a/1000, b/1000, c/1000, f}'
    done
    awk -v a="$(median "${S[berth $rtn]}")" -v b="$(median "${S[podman $rtn]}")" \
        'BEGIN{printf "berth / podman (medians): %.2f\n", a / b}'
done

# Memory of the monitors: IDLE sleeping containers per engine, first runtime.
rtp=$(realpath "$(command -v "$1")")
sum_mem() { # prints "pss_kib rss_kib count" over the given pids
    local pss=0 rss=0 n=0
    for pid in "$@"; do
        read -r p r <<<"$(awk '/^Pss:/{p=$2} /^Rss:/{r=$2} END{print p, r}' "/proc/$pid/smaps_rollup" 2>/dev/null)"
        [ -n "$p" ] || continue
        pss=$((pss + p)) rss=$((rss + r)) n=$((n + 1))
    done
    echo "$pss $rss $n"
}
for i in $(seq "$IDLE"); do
    "${B[@]}" --runtime "$rtp" run -d --network none --cgroup-parent "$CG" bench:1 sleep 3600 >/dev/null 2>>"$W/err-berth" || echo "berth run -d failed" >&2
    "${P[@]}" --runtime "$rtp" run -d "${PRUN[@]}" localhost/bench:1 sleep 3600 >/dev/null 2>>"$W/err-podman" || echo "podman run -d failed" >&2
done
sleep 2
# Only this run's monitors: both carry the temp dir in their arguments.
mapfile -t bp < <(pgrep -f -- "berth-monitor --root $W/berth ")
mapfile -t pp < <(pgrep -f -- "^/usr/bin/conmon .*$W/")
read -r bpss brss bn <<<"$(sum_mem "${bp[@]}")"
read -r ppss prss pn <<<"$(sum_mem "${pp[@]}")"
echo
echo "## monitor memory, $IDLE idle containers each, runtime $(basename "$rtp") (KiB per container)"
echo "| monitor | processes | Pss | Rss |"
echo "|---|---|---|---|"
awk -v n="$IDLE" -v c="$bn" -v p="$bpss" -v r="$brss" 'BEGIN{printf "| berth-monitor | %d | %.0f | %.0f |\n", c, p/n, r/n}'
awk -v n="$IDLE" -v c="$pn" -v p="$ppss" -v r="$prss" 'BEGIN{printf "| conmon | %d | %.0f | %.0f |\n", c, p/n, r/n}'
awk -v a="$bpss" -v b="$ppss" 'BEGIN{printf "berth / conmon (Pss): %.2f\n", a / b}'

# `ps` with the IDLE containers running, alternating as above.
for r in $(seq 0 "$RUNS"); do
    t0=$(now)
    "${B[@]}" ps >/dev/null 2>>"$W/err-berth" || add "berth failures ps" 1
    t1=$(now)
    "${P[@]}" ps >/dev/null 2>>"$W/err-podman" || add "podman failures ps" 1
    t2=$(now)
    [ "$r" = 0 ] && continue
    add "berth ps" $((t1 - t0))
    add "podman ps" $((t2 - t1))
done
echo
echo "## ps with $IDLE running containers (ms)"
echo "| engine | min / median / max | failures |"
echo "|---|---|---|"
for e in berth podman; do
    read -r a b c <<<"$(echo "${S[$e ps]}" | stat3)"
    awk -v e="$e" -v a="$a" -v b="$b" -v c="$c" -v f="$(echo "${S[$e failures ps]:-}" | wc -w)" \
        'BEGIN{printf "| %s | %.1f / %.1f / %.1f | %d |\n", e, a/1000, b/1000, c/1000, f}'
done
awk -v a="$(median "${S[berth ps]}")" -v b="$(median "${S[podman ps]}")" \
    'BEGIN{printf "berth / podman (medians): %.2f\n", a / b}'
echo
echo "# load at end:$(uptime | sed 's/.*load average//')"
for f in "$W"/err-*; do [ -s "$f" ] && { echo "== $(basename "$f")"; tail -3 "$f"; }; done
exit 0
