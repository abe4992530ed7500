#!/usr/bin/env bash
# Migration downtime: how long a small HTTP service does not answer while
# `berth migrate` moves it between two berth roots, each in a network
# namespace of its own standing for a host.
#
#   bench/migrate.sh [-n ROUNDS] [-m MIB] [-d DIR] BERTH
#
# BERTH is the binary to measure (target/release/berth; berth-runtime and
# berth-monitor beside it). CRIU is what scripts/build-criu.sh prints, else
# `criu` on PATH. Needs root, python3 and /bin/busybox (static).
#
# Root A and root B each run in a namespace made here (`ip netns add`,
# loopback up; berth runs under `nsenter --net`: `ip netns exec` would
# hide the cgroup mounts behind a new /sys); A gets a busybox image, B none (the first migration sends
# it, before the container stops; later rounds find it there). The
# service is busybox `httpd -f -p 8080` plus a shell holding MIB MiB of
# heap (default 16) in a container on the default bridge. Each round
# migrates it A -> B, then B -> A (each direction is one sample).
#
# A prober (python3, setns into each namespace) sends `GET /` to the
# container's address in the source namespace and in the destination's,
# alternately, every 5 ms, each try with a 50 ms limit; the downtime is
# the time from the last answer in the source to the first answer in the
# destination (the address stays the same: berth pins it). It also
# prints berth's own measure (from the dump's start to the destination's
# restore returning: `--log-level debug`'s `migrated downtime_ms`) and
# the whole command's time (which includes the checks before the dump).
# Round 0 is a warm-up and not counted. Everything it starts is removed
# on exit, even a failed one.
set -uo pipefail
ROUNDS=5 MIB=16 DIR=/var/tmp
while getopts n:m:d: o; do
    case $o in
        n) ROUNDS=$OPTARG ;;
        m) MIB=$OPTARG ;;
        d) DIR=$OPTARG ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: migrate.sh [-n ROUNDS] [-m MIB] [-d DIR] BERTH" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "migrate.sh: needs root" >&2; exit 2; }
BERTH=$(realpath "$1")
for p in python3 /bin/busybox ip; do
    command -v "$p" >/dev/null || { echo "migrate.sh: needs $p" >&2; exit 2; }
done
CRIU=$("$(dirname "$0")/../scripts/build-criu.sh" 2>/dev/null) || CRIU=$(command -v criu) ||
    { echo "migrate.sh: no CRIU (scripts/build-criu.sh)" >&2; exit 2; }
export PATH="$(dirname "$CRIU"):$PATH"

W=$(mktemp -d "$DIR/migbench.XXXXXX")
# Each namespace's name ends in its root's letter (root-a, root-b).
NSA=berth-migbench-$$-a NSB=berth-migbench-$$-b
NAME=svc
berth() { local ns=$1 root=$2; shift 2; nsenter --net="/run/netns/$ns" "$BERTH" --root "$W/root-$root" "$@"; }
cleanup() {
    for x in a b; do
        berth "berth-migbench-$$-$x" $x rm -f $NAME >/dev/null 2>&1
        ip netns del "berth-migbench-$$-$x" 2>/dev/null
    done
    grep -o " $W[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf "$W"
}
trap cleanup EXIT
for ns in $NSA $NSB; do
    ip netns add "$ns" && ip netns exec "$ns" ip link set lo up || exit 1
done

mkdir -p "$W/rootfs/bin" "$W/rootfs/etc" "$W/rootfs/tmp"
cp /bin/busybox "$W/rootfs/bin/"
for a in sh httpd sleep head tr mkdir echo; do ln -s busybox "$W/rootfs/bin/$a"; done
tar -C "$W/rootfs" -cf "$W/rootfs.tar" . && berth $NSA a import "$W/rootfs.tar" bb:mig >/dev/null || exit 1

SCRIPT="mkdir /www && echo up > /www/index.html && httpd -f -p 8080 -h /www & x=\$(head -c $((MIB << 20)) /dev/zero | tr '\\0' a); sleep 100000; echo \${#x}"
berth $NSA a run -d --name $NAME bb:mig sh -c "$SCRIPT" >/dev/null || exit 1
IP=$(berth $NSA a inspect --format '{{.NetworkSettings.IPAddress}}' $NAME)

# The prober: prints the downtime in ms between the last answer in FROM
# and the first in TO (nan if there was none within 60 s); it has begun
# when READY exists.
cat > "$W/probe.py" <<'EOF'
import ctypes, os, socket, sys, time
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
ip, src, dst, ready = sys.argv[1:5]
fds = {n: os.open(f"/run/netns/{n}", os.O_RDONLY) for n in (src, dst)}
def answers(ns):
    if libc.setns(fds[ns], CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")
    try:
        with socket.create_connection((ip, 8080), timeout=0.05) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.")
    except OSError:
        return False
last_src = first_dst = None
deadline = time.monotonic() + 60
open(ready, "w").close()
# The source answers until it stops answering; then only the
# destination is asked (each try at most 50 ms), until it answers.
src_up = True
while time.monotonic() < deadline and first_dst is None:
    t = time.monotonic()
    if src_up:
        if answers(src):
            last_src = t
        elif last_src is not None:
            src_up = False
    elif answers(dst):
        first_dst = time.monotonic()
    time.sleep(0.005)
if last_src is None or first_dst is None:
    print("nan", flush=True)
else:
    print(f"{(first_dst - last_src) * 1000:.0f}", flush=True)
EOF

# Waits until the service answers in namespace $1.
answering() {
    for _ in $(seq 200); do
        nsenter --net="/run/netns/$1" timeout 1 bash -c \
            "exec 3<>/dev/tcp/$IP/8080 && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && grep -q '^up' <&3" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "migrate.sh: the service does not answer in $1" >&2
    return 1
}

probe_ms=() berth_ms=() total_ms=()
from=a to=b
answering $NSA || exit 1
for round in $(seq 0 "$ROUNDS"); do
    for _ in 1 2; do
        nsf=$NSA nst=$NSB
        [ $from = b ] && nsf=$NSB nst=$NSA
        rm -f "$W/probe.ready"
        python3 "$W/probe.py" "$IP" "$nsf" "$nst" "$W/probe.ready" > "$W/probe.out" &
        probe=$!
        for _ in $(seq 100); do [ -e "$W/probe.ready" ] && break; sleep 0.05; done
        [ -e "$W/probe.ready" ] || { echo "migrate.sh: the prober did not start" >&2; exit 1; }
        t0=$(date +%s%N)
        log=$(berth $nsf $from --log-level debug migrate $NAME "nsenter --net=/run/netns/$nst $BERTH --root $W/root-$to" 2>&1 >/dev/null) ||
            { echo "migrate.sh: migrate $from -> $to failed: $log" >&2; exit 1; }
        t1=$(date +%s%N)
        answering $nst || exit 1
        wait $probe
        ms=$(cat "$W/probe.out")
        own=$(printf '%s\n' "$log" | grep -o 'downtime_ms=[0-9]*' | cut -d= -f2)
        # The stopped source goes: the name is free for the way back.
        berth $nsf $from rm $NAME >/dev/null || exit 1
        if [ "$round" -gt 0 ]; then
            probe_ms+=("$ms") berth_ms+=("$own") total_ms+=($(((t1 - t0) / 1000000)))
        fi
        printf 'round %d %s -> %s: downtime %s ms (berth: %s ms), migrate %d ms\n' \
            "$round" $from $to "$ms" "$own" $(((t1 - t0) / 1000000))
        tmp=$from from=$to to=$tmp
    done
done

stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "min %d  median %d  max %d", a[1], a[int((NR+1)/2)], a[NR]}'; }
echo
echo "migration of a ${MIB} MiB httpd container between two roots, $((ROUNDS * 2)) samples:"
echo "  downtime (no answer), ms:      $(stats "${probe_ms[@]}")"
echo "  berth's dump->restored, ms:    $(stats "${berth_ms[@]}")"
echo "  whole migrate command, ms:     $(stats "${total_ms[@]}")"
