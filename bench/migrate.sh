#!/usr/bin/env bash
# Migration downtime: how long a small HTTP service does not answer while
# `berth migrate` moves it between two berth roots, each in a network
# namespace of its own standing for a host.
#
#   bench/migrate.sh [-n ROUNDS] [-m MIB] [-d DIR] [-P] BERTH
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
# Each round also moves the service once while nobody asks it ("idle":
# the time of the `migrate` command).
#
# With -P, Podman (with runc and the same CRIU) moves the same service
# between two Podman stores, each in a namespace of its own, the way
# Podman migrates: `container checkpoint --export FILE` there, `container
# restore --import FILE` here (the image loaded into both stores first),
# idle only: Debian's Podman 4.3 has no `--tcp-skip-in-flight` nor
# `--tcp-close`, so it cannot dump a service while it is being asked.
# The ratio is berth's idle migrate over Podman's two commands.
# Round 0 is a warm-up and not counted. Everything it starts is removed
# on exit, even a failed one.
set -uo pipefail
ROUNDS=5 MIB=16 DIR=/var/tmp PODMAN=
while getopts n:m:d:P o; do
    case $o in
        n) ROUNDS=$OPTARG ;;
        m) MIB=$OPTARG ;;
        d) DIR=$OPTARG ;;
        P) PODMAN=$(command -v podman) || { echo "migrate.sh: -P needs podman" >&2; exit 2; } ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: migrate.sh [-n ROUNDS] [-m MIB] [-d DIR] [-P] BERTH" >&2; exit 2; }
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
# Podman's stores pa and pb, in namespaces ...-pa and ...-pb.
podman() {
    local x=$1; shift
    nsenter --net="/run/netns/berth-migbench-$$-p$x" "$PODMAN" --root "$W/podman-$x" \
        --runroot "$W/podman-run-$x" --runtime runc --cgroup-manager cgroupfs "$@"
}
cleanup() {
    for x in a b; do
        berth "berth-migbench-$$-$x" $x rm -f $NAME >/dev/null 2>&1
        ip netns del "berth-migbench-$$-$x" 2>/dev/null
        if [ -n "$PODMAN" ] && [ -d "$W/podman-$x" ]; then
            podman $x rm -f -a >/dev/null 2>&1
            podman $x system reset -f >/dev/null 2>&1
        fi
        ip netns del "berth-migbench-$$-p$x" 2>/dev/null
    done
    grep -o " $W[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf "$W"
}
trap cleanup EXIT
spaces="a b"
[ -z "$PODMAN" ] || spaces="a b pa pb"
for x in $spaces; do
    ip netns add "berth-migbench-$$-$x" && ip netns exec "berth-migbench-$$-$x" ip link set lo up || exit 1
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

ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# One berth migration of the service from root $1 to root $2; with $3
# (probe) under the prober. Sets LAST (printed line) and the times.
berth_move() {
    local from=$1 to=$2 probed=${3:-} nsf=berth-migbench-$$-$1 nst=berth-migbench-$$-$2 probe t0 log
    if [ -n "$probed" ]; then
        rm -f "$W/probe.ready"
        python3 "$W/probe.py" "$IP" "$nsf" "$nst" "$W/probe.ready" > "$W/probe.out" &
        probe=$!
        for _ in $(seq 100); do [ -e "$W/probe.ready" ] && break; sleep 0.05; done
        [ -e "$W/probe.ready" ] || { echo "migrate.sh: the prober did not start" >&2; return 1; }
    fi
    t0=$(date +%s%N)
    log=$(berth $nsf $from --log-level debug migrate $NAME "nsenter --net=/run/netns/$nst $BERTH --root $W/root-$to" 2>&1 >/dev/null) ||
        { echo "migrate.sh: migrate $from -> $to failed: $log" >&2; return 1; }
    MOVE_MS=$(ms_since "$t0")
    answering "$nst" || return 1
    OWN_MS=$(printf '%s\n' "$log" | grep -o 'downtime_ms=[0-9]*' | cut -d= -f2)
    PROBE_MS=
    if [ -n "$probed" ]; then
        wait "$probe"
        PROBE_MS=$(cat "$W/probe.out")
    fi
    # The stopped source goes: the name is free for the way back.
    berth $nsf $from rm $NAME >/dev/null
}

# The same move by Podman: checkpoint --export there, restore --import here.
podman_move() {
    local from=$1 to=$2 t0
    t0=$(date +%s%N)
    podman $from container checkpoint --export "$W/podman.tar.gz" $NAME >/dev/null &&
        podman $to container restore --import "$W/podman.tar.gz" >/dev/null ||
        { echo "migrate.sh: podman's move $from -> $to failed" >&2; return 1; }
    MOVE_MS=$(ms_since "$t0")
    answering "berth-migbench-$$-p$to" || return 1
    podman $from rm $NAME >/dev/null && rm -f "$W/podman.tar.gz"
}

if [ -n "$PODMAN" ]; then
    berth $NSA a save bb:mig > "$W/bb.tar" || exit 1
    for x in a b; do podman $x load -q -i "$W/bb.tar" >/dev/null 2>&1 || exit 1; done
    podman a run -d --name $NAME --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 \
        docker.io/library/bb:mig sh -c "$SCRIPT" >/dev/null || exit 1
    PIP=$(podman a inspect --format '{{.NetworkSettings.IPAddress}}' $NAME)
fi

probe_ms=() own_ms=() probed_ms=() idle_ms=() podman_ms=()
answering $NSA || exit 1
for round in $(seq 0 "$ROUNDS"); do
    berth_move a b || exit 1
    line="round $round: berth idle $MOVE_MS ms (own $OWN_MS)"
    [ "$round" -gt 0 ] && idle_ms+=("$MOVE_MS")
    berth_move b a probe || exit 1
    line+=", asked: downtime $PROBE_MS ms (own $OWN_MS, command $MOVE_MS)"
    [ "$round" -gt 0 ] && probe_ms+=("$PROBE_MS") own_ms+=("$OWN_MS") probed_ms+=("$MOVE_MS")
    if [ -n "$PODMAN" ]; then
        save=$IP IP=$PIP
        for dir in "a b" "b a"; do
            podman_move $dir || exit 1
            line+=", podman $MOVE_MS ms"
            [ "$round" -gt 0 ] && podman_ms+=("$MOVE_MS")
        done
        IP=$save
    fi
    echo "$line"
done

stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "min %d  median %d  max %d", a[1], a[int((NR+1)/2)], a[NR]}'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
echo "migration of a ${MIB} MiB httpd container between two roots, $ROUNDS rounds:"
echo "  asked every 5 ms: downtime (no answer), ms:  $(stats "${probe_ms[@]}")"
echo "                    berth's dump->restored, ms: $(stats "${own_ms[@]}")"
echo "                    whole migrate command, ms:  $(stats "${probed_ms[@]}")"
echo "  idle: berth migrate, ms:                       $(stats "${idle_ms[@]}")"
if [ -n "$PODMAN" ]; then
    echo "  idle: podman checkpoint --export + restore --import, ms: $(stats "${podman_ms[@]}")"
    awk -v b="$(median "${idle_ms[@]}")" -v p="$(median "${podman_ms[@]}")" \
        'BEGIN {printf "  berth / podman (medians): %.2f\n", b / p}'
fi
