#!/usr/bin/env bash
# `berth serve` against dockerd and Podman's Docker-compatible service, all
# three driven by the same docker CLI, with the same image and runc:
#   1. latency of `docker run --rm IMAGE true` (alternating servers);
#   2. latency of `GET /containers/json?all=1` with CONTAINERS created
#      containers on each server (a fresh connection per request);
#   3. VmRSS of each idle server: after start-up and one `docker version`,
#      after the run loop, after the list loop.
#
#   bench/api.sh [-n RUNS] [-c CONTAINERS] [-q REQUESTS] [-r ROUNDS] BERTH
#
# BERTH is the berth binary to measure (e.g. target/release/berth). Needs
# root, Debian's docker.io (the 20.10 CLI at /usr/bin/docker and dockerd),
# podman, conmon, runc, python3, /bin/busybox. Every server runs from a temp
# dir in /var/tmp of its own: its own root, state, socket and pidfile
# (dockerd: --data-root, --exec-root, --config-file, its own containerd);
# the host's /var/lib/docker and /var/lib/containers are not touched.
# dockerd gets --bridge=none and no iptables/ip-forward/masquerade setup,
# so nothing on the host's network changes; every container runs with
# --network none. Containers' cgroups go under one private parent
# (cgroupfs). The run happens in a private mount namespace, so every
# overlay mount goes with it.
set -uo pipefail
RUNS=30 CONTAINERS=50 REQUESTS=100 ROUNDS=5
DOCKER=${DOCKER:-/usr/bin/docker} DOCKERD=${DOCKERD:-/usr/sbin/dockerd}
while getopts n:c:q:r: o; do
    case $o in
        n) RUNS=$OPTARG ;;
        c) CONTAINERS=$OPTARG ;;
        q) REQUESTS=$OPTARG ;;
        r) ROUNDS=$OPTARG ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { echo "usage: api.sh [-n RUNS] [-c CONTAINERS] [-q REQUESTS] [-r ROUNDS] BERTH" >&2; exit 2; }
BERTH=$(realpath "$1")
[ "$(id -u)" = 0 ] || { echo "api: needs root" >&2; exit 2; }
for p in "$DOCKER" "$DOCKERD" podman conmon runc python3 /bin/busybox; do
    command -v "$p" >/dev/null || { echo "api: needs $p (apt-get install docker.io podman conmon runc busybox-static)" >&2; exit 2; }
done
if [ -z "${BENCH_PRIVATE_NS:-}" ]; then
    export BENCH_PRIVATE_NS=1
    exec unshare -m "$0" -n "$RUNS" -c "$CONTAINERS" -q "$REQUESTS" -r "$ROUNDS" "$BERTH"
fi

HERE=$(dirname "$(realpath "$0")")
W=$(mktemp -d /var/tmp/apibench.XXXXXX)
CG=/berth-apibench-$$
export DOCKER_CONFIG=$W/docker-config
SERVERS=(berth dockerd podman)
# A second berth server with berth's own runtime (its default), for one
# reference row, when the binary sits beside BERTH (as cargo builds it).
RT=$(dirname "$BERTH")/berth-runtime
ALL=("${SERVERS[@]}")
[ -x "$RT" ] && ALL+=(berth-rt)
declare -A PID SOCK
for s in "${ALL[@]}"; do SOCK[$s]=$W/$s.sock; done
RUNARGS=(--network none --cgroup-parent "$CG" --ulimit nofile=20000:20000 --ulimit nproc=4096:4096)
dk() { local s=$1; shift; "$DOCKER" -H "unix://${SOCK[$s]}" "$@"; }

cleanup() {
    for s in "${ALL[@]}"; do
        [ -n "${PID[$s]:-}" ] || continue
        dk "$s" ps -aq 2>/dev/null | xargs -r "$DOCKER" -H "unix://${SOCK[$s]}" rm -f >/dev/null 2>&1
        kill "${PID[$s]}" 2>/dev/null
    done
    for s in "${ALL[@]}"; do
        [ -n "${PID[$s]:-}" ] || continue
        for _ in $(seq 100); do kill -0 "${PID[$s]}" 2>/dev/null || break; sleep 0.1; done
        kill -9 "${PID[$s]}" 2>/dev/null
    done
    # Whatever they left: containerd and its shims, conmon, berth-monitor;
    # only processes whose command line names this run's temp dir.
    pgrep -f -- "$W/" | xargs -r kill -9 2>/dev/null
    sleep 0.2
    grep -o " $W/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
    for d in /sys/fs/cgroup/*"$CG"; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_socket() { # server, log
    for _ in $(seq 300); do
        [ -S "${SOCK[$1]}" ] && dk "$1" version >/dev/null 2>&1 && return 0
        kill -0 "${PID[$1]}" 2>/dev/null || break
        sleep 0.1
    done
    echo "api: $1 did not start:" >&2; tail -20 "$2" >&2; exit 1
}

mkdir -p "$W/docker" "$DOCKER_CONFIG"
# daemon.json of its own: the trust key would go to /etc/docker otherwise.
echo "{\"deprecated-key-path\": \"$W/docker/key.json\"}" >"$W/docker/daemon.json"
"$BERTH" --root "$W/berth" --runtime runc serve -H "unix://${SOCK[berth]}" >"$W/berth.log" 2>&1 &
PID[berth]=$!
"$DOCKERD" --config-file "$W/docker/daemon.json" --data-root "$W/docker/root" \
    --exec-root "$W/docker/run" --pidfile "$W/docker/pid" -H "unix://${SOCK[dockerd]}" \
    --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
    --default-runtime runc --storage-driver overlay2 >"$W/dockerd.log" 2>&1 &
PID[dockerd]=$!
podman --root "$W/podman/root" --runroot "$W/podman/run" --runtime runc --cgroup-manager cgroupfs \
    --events-backend file --storage-driver overlay system service --time 0 "unix://${SOCK[podman]}" \
    >"$W/podman.log" 2>&1 &
PID[podman]=$!
if [ -x "$RT" ]; then
    "$BERTH" --root "$W/berth-rt" --runtime berth serve -H "unix://${SOCK[berth-rt]}" >"$W/berth-rt.log" 2>&1 &
    PID[berth-rt]=$!
fi
for s in "${ALL[@]}"; do wait_socket "$s" "$W/$s.log"; done

# dockerd's memory is its own plus the containerd it started.
containerd_pid() { pgrep -P "${PID[dockerd]}" -x containerd | head -1; }
rss() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
hwm() { awk '/^VmHWM:/{print $2}' "/proc/$1/status"; }
declare -A MEM
mem() { # label
    for s in "${SERVERS[@]}"; do MEM[$s $1]=$(rss "${PID[$s]}"); done
    MEM[containerd $1]=$(rss "$(containerd_pid)")
}
mem idle

ver() { dk "$1" version -f '{{.Server.Version}}' 2>/dev/null; }
echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs; runs=$RUNS containers=$CONTAINERS requests=$REQUESTS rounds=$ROUNDS"
echo "# berth $(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null) ($BERTH); client: $("$DOCKER" --version)"
echo "# dockerd $(ver dockerd), containerd $(containerd --version | awk '{print $3}'); podman $(ver podman); $(runc --version | head -1)"
echo "# load at start:$(uptime | sed 's/.*load average//')"

# One image for all: a busybox rootfs imported into each server.
rootfs=$W/rootfs
mkdir -p "$rootfs"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$rootfs/bin/busybox"
for a in sh true sleep; do ln -s busybox "$rootfs/bin/$a"; done
echo 'root:x:0:0:root:/:/bin/sh' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"
tar -C "$rootfs" -cf "$W/rootfs.tar" .
for s in "${ALL[@]}"; do
    dk "$s" import "$W/rootfs.tar" bench:1 >/dev/null 2>>"$W/err-$s" || { echo "api: import into $s failed" >&2; tail -3 "$W/err-$s" >&2; exit 1; }
done

declare -A S
add() { S[$1]="${S[$1]:-} $2"; }
now() { echo "${EPOCHREALTIME/./}"; }
stat3() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{printf "%s %s %s\n", a[1], a[int((NR+1)/2)], a[NR]}'; }
median() { echo "$1" | stat3 | awk '{print $2}'; }
table() { # key-suffix unit-divisor [extra rows...]
    local k=$1 d=$2; shift 2
    echo "| server | min / median / max | failures |"
    echo "|---|---|---|"
    for s in "${SERVERS[@]}" "$@"; do
        read -r a b c <<<"$(echo "${S[$s $k]}" | stat3)"
        awk -v e="$s" -v a="$a" -v b="$b" -v c="$c" -v d="$d" -v f="$(echo "${S[$s failures $k]:-}" | wc -w)" \
            'BEGIN{printf "| %s | %.2f / %.2f / %.2f | %d |\n", e, a/d, b/d, c/d, f}'
    done
    for o in dockerd podman; do
        awk -v a="$(median "${S[berth $k]}")" -v b="$(median "${S[$o $k]}")" -v o="$o" \
            'BEGIN{printf "berth / %s (medians): %.2f\n", o, a / b}'
    done
}

# 1. docker run --rm; round 0 warms caches and is not counted. The order
# rotates every round. Two reference rows beside the servers: berth's own
# CLI running the same container on the same root with no API in between
# (`berth run --rm`), and the docker client starting and exiting without a
# request (`docker --version`), a cost every server's row includes; and
# when there is one, `berth serve` with berth-runtime instead of runc.
CASES=("${SERVERS[@]}" "berth run (CLI)" "docker --version")
[ -x "$RT" ] && CASES+=("berth, berth-runtime")
one() { # case
    case $1 in
        "berth run (CLI)") "$BERTH" --root "$W/berth" --runtime runc run --rm "${RUNARGS[@]}" bench:1 true ;;
        "docker --version") "$DOCKER" --version ;;
        "berth, berth-runtime") dk berth-rt run --rm "${RUNARGS[@]}" bench:1 true ;;
        *) dk "$1" run --rm "${RUNARGS[@]}" bench:1 true ;;
    esac
}
for r in $(seq 0 "$RUNS"); do
    for i in $(seq 0 $((${#CASES[@]} - 1))); do
        s=${CASES[$(((r + i) % ${#CASES[@]}))]}
        t0=$(now)
        one "$s" >/dev/null 2>>"$W/err-${s%% *}" || add "$s failures run" 1
        t1=$(now)
        [ "$r" = 0 ] || add "$s run" $((t1 - t0))
    done
done
mem run
echo
echo "## docker run --rm --network none bench:1 true (ms)"
table run 1000 "${CASES[@]:3}"

# 2. GET /containers/json?all=1 with CONTAINERS created containers each.
for s in "${SERVERS[@]}"; do
    for _ in $(seq "$CONTAINERS"); do
        dk "$s" create "${RUNARGS[@]}" bench:1 true >/dev/null 2>>"$W/err-$s" || { echo "api: create on $s failed" >&2; exit 1; }
    done
done
# Prints one line per server: "server t1 t2 ..." (microseconds), each
# request on a new connection, as the CLI makes them; checks that every
# answer is 200 and lists exactly CONTAINERS containers.
python3 - "$ROUNDS" "$REQUESTS" "$CONTAINERS" "berth=${SOCK[berth]}" \
    "dockerd=${SOCK[dockerd]}" "podman=${SOCK[podman]}" >"$W/list.out" <<'EOF' || exit 1
import http.client, json, socket, sys, time
rounds, requests, want = map(int, sys.argv[1:4])
servers = [a.split("=", 1) for a in sys.argv[4:]]

class Unix(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("docker")
        self.path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)

def get(path):
    c = Unix(path)
    c.request("GET", "/v1.41/containers/json?all=1")
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body

times = {name: [] for name, _ in servers}
for rnd in range(rounds + 1):  # round 0 warms up and is not counted
    for i in range(len(servers)):
        name, path = servers[(rnd + i) % len(servers)]
        for _ in range(requests):
            t0 = time.perf_counter_ns()
            status, body = get(path)
            t1 = time.perf_counter_ns()
            n = len(json.loads(body)) if status == 200 else -1
            if n != want:
                sys.exit(f"api: {name} answered {status} with {n} containers, not {want}")
            if rnd:
                times[name].append((t1 - t0) // 1000)
for name, _ in servers:
    print(name, *times[name])
EOF
while read -r s ts; do S[$s list]=$ts; done <"$W/list.out"
mem list
echo
echo "## GET /containers/json?all=1, $CONTAINERS containers, new connection per request (ms)"
table list 1000

echo
echo "## server memory (VmRSS, MiB)"
echo "| server | idle (after start + version) | after the run loop | after the list loop | peak (VmHWM) |"
echo "|---|---|---|---|---|"
for s in "${SERVERS[@]}" containerd; do
    p=${PID[$s]:-$(containerd_pid)}
    label=$s; [ "$s" = containerd ] && label="containerd (dockerd's)"
    awk -v e="$label" -v a="${MEM[$s idle]}" -v b="${MEM[$s run]}" -v c="${MEM[$s list]}" -v h="$(hwm "$p")" \
        'BEGIN{printf "| %s | %.1f | %.1f | %.1f | %.1f |\n", e, a/1024, b/1024, c/1024, h/1024}'
done
for l in idle run list; do
    awk -v l="$l" -v b="${MEM[berth $l]}" -v d="${MEM[dockerd $l]}" -v c="${MEM[containerd $l]}" -v p="${MEM[podman $l]}" \
        'BEGIN{printf "%s: berth / dockerd %.2f, berth / (dockerd + containerd) %.2f, berth / podman %.2f\n", l, b/d, b/(d+c), b/p}'
done
echo
echo "# load at end:$(uptime | sed 's/.*load average//')"
for f in "$W"/err-*; do [ -s "$f" ] && { echo "== $(basename "$f")"; tail -3 "$f"; }; done
exit 0
