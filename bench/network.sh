#!/usr/bin/env bash
# berth's networking against Podman's (netavark + aardvark-dns) and against
# the kernel's own paths, every comparison side by side in one run:
#   setup       latency of `run --rm --network NET IMAGE true`, alternating:
#               podman on a network of its own (with aardvark-dns), on its
#               default network `podman` (no DNS), berth on a network of its
#               own, on its default `bridge`, and both with `--network none`
#               (the floor each engine pays without a network);
#   throughput  iperf3 across a raw veth pair between two network
#               namespaces (the baseline), across two veths on a plain Linux
#               bridge, container <-> container across each engine's bridge,
#               and host loopback -> a port each engine published;
#   limits      berth's --network-bandwidth-egress/-ingress at 1, 10 and
#               100 Mbit/s, both directions, measured by iperf3 against the
#               limit set; beside it a tc tbf on the raw veth pair, which
#               checks the measurement itself.
#
#   bench/network.sh [-n RUNS] [-t SECONDS] [-r REPEATS] [-l SECONDS] [-o PARTS] BERTH [RUNTIME]
#
# BERTH is the berth binary to measure (e.g. target/release/berth); RUNTIME
# (default runc) is the OCI runtime of both engines. PARTS is a comma list
# of setup,throughput,limits (default all three). RUNS rounds of the setup
# part after a warm-up round (default 30); SECONDS per iperf3 test after one
# omitted second of TCP slow start (default 3); REPEATS of each throughput
# test, alternating (default 7); -l: SECONDS of each limit test (default 5:
# at 1 Mbit/s the shaper's burst is a visible part of a short test). Needs root, podman, conmon, netavark, aardvark-dns,
# iperf3, jq, /bin/busybox and iproute2's ip and tc.
#
# Everything runs in a network namespace and a mount namespace of its own
# (`unshare -m -n`): the engines' bridges, veths, nft/iptables rules and
# published ports live there and go with it, and no packet leaves it (every
# address used is in it). /run/netns and /run/containers/networks are
# tmpfs there. Both engines get
# their own roots in a temp dir, overlay storage, cgroupfs cgroups under a
# private parent, the same image (busybox plus the host's iperf3 and the
# libraries it links), the same ulimits for Podman as bench/engine-run.sh.
#
# berth's rows run once berth has the features (`berth network create`,
# `--network bridge`, `-p`, `--network-bandwidth-*`); until then the script
# says what is missing and runs the rest.
set -uo pipefail
RUNS=30 SECS=3 REPEATS=7 LSECS=5 PARTS=setup,throughput,limits
while getopts n:t:r:l:o: o; do
    case $o in
        n) RUNS=$OPTARG ;;
        t) SECS=$OPTARG ;;
        r) REPEATS=$OPTARG ;;
        l) LSECS=$OPTARG ;;
        o) PARTS=$OPTARG ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: network.sh [-n RUNS] [-t SECONDS] [-r REPEATS] [-l SECONDS] [-o setup,throughput,limits] BERTH [RUNTIME]" >&2; exit 2; }
BERTH=$(realpath "$1"); shift
RT=${1:-runc}
[ "$(id -u)" = 0 ] || { echo "network: needs root" >&2; exit 2; }
for p in podman conmon iperf3 jq ip tc unshare /bin/busybox /usr/lib/podman/netavark /usr/lib/podman/aardvark-dns; do
    command -v "$p" >/dev/null || { echo "network: needs $p (apt-get install podman conmon netavark aardvark-dns iperf3 jq iproute2 busybox-static)" >&2; exit 2; }
done
has_part() { case ",$PARTS," in *",$1,"*) return 0 ;; esac; return 1; }

# A private network and mount namespace for the whole run (see above); on a
# hybrid host also without /sys/fs/cgroup/unified, as bench/engine-run.sh
# does (crun 1.8 refuses hybrid hosts).
if [ -z "${BENCH_PRIVATE_NS:-}" ]; then
    export BENCH_PRIVATE_NS=1
    exec unshare -m -n bash -c '
        if grep -q " /sys/fs/cgroup/unified " /proc/mounts; then umount /sys/fs/cgroup/unified || exit 1; fi
        exec "$0" "$@"' "$0" -n "$RUNS" -t "$SECS" -r "$REPEATS" -l "$LSECS" -o "$PARTS" "$BERTH" "$RT"
fi
ip link set lo up || exit 1
# Rootful Podman keeps its IPAM database and aardvark-dns's config and pid
# file in /run/containers/networks whatever its --runroot: a tmpfs of this
# run's there too.
for d in /run/netns /run/containers/networks; do
    mkdir -p "$d" && mount -t tmpfs -o mode=755 netbench "$d" || exit 1
done
rtp=$(command -v "$RT") && rtp=$(realpath "$rtp") || { echo "network: no runtime $RT" >&2; exit 2; }

W=$(mktemp -d /tmp/netbench.XXXXXX)
CG=/berth-netbench-$$
# Podman's network backend and its network configs pinned to this run.
cat >"$W/containers.conf" <<EOF
[network]
network_backend = "netavark"
network_config_dir = "$W/podman/networks"
EOF
export CONTAINERS_CONF=$W/containers.conf
B=("$BERTH" --root "$W/berth" --runtime "$rtp")
P=(podman --root "$W/podman/root" --runroot "$W/podman/run" --cgroup-manager cgroupfs
    --events-backend file --storage-driver overlay --runtime "$rtp")
PRUN=(--cgroup-parent "$CG" --ulimit nofile=20000:20000 --ulimit nproc=4096:4096)
BRUN=(--cgroup-parent "$CG")
# Addresses: only inside this run's network namespace.
PNET=nbp PSUB=10.89.77.0/24 BNET=nbb BSUB=10.89.78.0/24
PPORT=15201 BPORT=15202
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid"; done
    "${P[@]}" rm -af -t 0 >/dev/null 2>&1
    "${P[@]}" network rm -f "$PNET" >/dev/null 2>&1
    "${B[@]}" ps -aq --no-trunc 2>/dev/null | xargs -r "${B[@]}" rm -f >/dev/null 2>&1
    "${B[@]}" network rm "$BNET" >/dev/null 2>&1
    # aardvark-dns outlives its last container for a moment; it was started
    # by this run's netavark, with this run's config dir (the tmpfs above).
    f=/run/containers/networks/aardvark-dns/aardvark.pid
    [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
    umount -R "$W"/podman/root/overlay/*/merged 2>/dev/null
    umount "$W"/podman/root/overlay 2>/dev/null
    for d in /sys/fs/cgroup/*"$CG"; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
    rm -rf "$W"
}
trap cleanup EXIT

# One image for both: busybox plus the host's iperf3 and every library it
# links, imported into each store.
rootfs=$W/rootfs
mkdir -p "$rootfs"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$rootfs/bin/busybox"
for a in sh true sleep ip cat; do ln -s busybox "$rootfs/bin/$a"; done
cp "$(command -v iperf3)" "$rootfs/bin/iperf3"
for lib in $(ldd "$(command -v iperf3)" | grep -o '/[^ ]*'); do
    mkdir -p "$rootfs$(dirname "$lib")" && cp -L "$lib" "$rootfs$lib"
done
echo 'root:x:0:0:root:/:/bin/sh' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"
tar -C "$rootfs" -cf "$W/rootfs.tar" .
"${B[@]}" import "$W/rootfs.tar" netbench:1 >/dev/null || exit 1
"${P[@]}" import "$W/rootfs.tar" localhost/netbench:1 >/dev/null 2>&1 || exit 1
"${P[@]}" network create --subnet "$PSUB" "$PNET" >/dev/null 2>>"$W/err-podman" || { echo "network: podman network create failed" >&2; exit 1; }

# What berth supports yet: a user network and the default bridge (a
# container on it has an address on eth0), -p and the bandwidth flags
# (accepted: whether they work, the measurements below show).
B_NET=no B_BRIDGE=no B_PORT=no B_LIMIT=no
has_eth0() { # NETWORK
    "${B[@]}" run --rm --network "$1" "${BRUN[@]}" netbench:1 ip -4 -o addr show eth0 2>>"$W/err-berth" |
        grep -q ' inet '
}
"${B[@]}" network create --subnet "$BSUB" "$BNET" >/dev/null 2>>"$W/err-berth" && has_eth0 "$BNET" && B_NET=yes
has_eth0 bridge && B_BRIDGE=yes
BN=$BNET # the network berth's throughput and limit tests use
[ $B_NET = yes ] || BN=bridge
if [ $B_NET = yes ] || [ $B_BRIDGE = yes ]; then
    "${B[@]}" run --rm --network "$BN" -p "127.0.0.1:$BPORT:5201" "${BRUN[@]}" netbench:1 true >/dev/null 2>>"$W/err-berth" && B_PORT=yes
    "${B[@]}" run --rm --network "$BN" --network-bandwidth-egress 10mbit --network-bandwidth-ingress 10mbit \
        "${BRUN[@]}" netbench:1 true >/dev/null 2>>"$W/err-berth" && B_LIMIT=yes
fi

declare -A S
add() { S[$1]="${S[$1]:-} $2"; }
now() { echo "${EPOCHREALTIME/./}"; }
stat3() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{printf "%s %s %s\n", a[1], a[int((NR+1)/2)], a[NR]}'; }
median() { echo "$1" | stat3 | awk '{print $2}'; }
ratio() { # NUM_KEY DEN_KEY LABEL GOAL [best]: the ratio of the medians, if both
    # exist, and with "best" also of the maxima (throughput: under load the
    # best run is the closest to what the path itself can do)
    [ -n "${S[$1]:-}" ] && [ -n "${S[$2]:-}" ] || return 0
    local best=
    [ "${5:-}" = best ] && best=$(awk -v a="$(echo "${S[$1]}" | stat3 | awk '{print $3}')" \
        -v b="$(echo "${S[$2]}" | stat3 | awk '{print $3}')" 'BEGIN{printf ", maxima %.2f", a / b}')
    awk -v a="$(median "${S[$1]}")" -v b="$(median "${S[$2]}")" -v l="$3" -v g="$4" -v x="$best" \
        'BEGIN{printf "%s: medians %.2f%s%s\n", l, a / b, x, g == "" ? "" : "  (goal " g ")"}'
}

echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs; runtime $(basename "$rtp"); runs=$RUNS secs=$SECS repeats=$REPEATS limit-secs=$LSECS"
echo "# $(podman --version); netavark $(/usr/lib/podman/netavark --version 2>/dev/null | awk '{print $2}'); $(/usr/lib/podman/aardvark-dns --version 2>/dev/null); $(iperf3 --version | head -1)"
echo "# berth: user networks $B_NET, --network bridge $B_BRIDGE, -p accepted $B_PORT, bandwidth flags accepted $B_LIMIT"
echo "# load at start:$(uptime | sed 's/.*load average//')"
if [ $B_NET = no ] && [ $B_BRIDGE = no ]; then
    echo "berth: networks not supported yet"
fi

# ---- setup: run --rm --network NET IMAGE true --------------------------------
if has_part setup; then
    cases=("podman none" "podman podman" "podman $PNET")
    cases+=("berth none")
    [ $B_NET = yes ] && cases+=("berth $BNET")
    [ $B_BRIDGE = yes ] && cases+=("berth bridge")
    for r in $(seq 0 "$RUNS"); do # round 0 warms caches and is not counted
        for c in "${cases[@]}"; do
            read -r e net <<<"$c"
            ok=1 t0=$(now)
            if [ "$e" = podman ]; then
                "${P[@]}" run --rm --network "$net" "${PRUN[@]}" localhost/netbench:1 true \
                    >/dev/null 2>>"$W/err-podman" || ok=0
            else
                "${B[@]}" run --rm --network "$net" "${BRUN[@]}" netbench:1 true \
                    >/dev/null 2>>"$W/err-berth" || ok=0
            fi
            t1=$(now)
            [ "$r" = 0 ] && continue
            if [ $ok = 1 ]; then add "$c" $((t1 - t0)); else add "$c failures" 1; fi
        done
    done
    echo
    echo "## run --rm --network NET IMAGE true, runtime $(basename "$rtp") (ms)"
    echo "| engine | network | min / median / max | failures |"
    echo "|---|---|---|---|"
    for c in "${cases[@]}"; do
        read -r e net <<<"$c"
        read -r a b m <<<"$(echo "${S[$c]:-}" | stat3)"
        awk -v e="$e" -v n="$net" -v a="$a" -v b="$b" -v m="$m" -v f="$(echo "${S[$c failures]:-}" | wc -w)" '
            BEGIN{ if (b == "") printf "| %s | %s | - | %d |\n", e, n, f
                   else printf "| %s | %s | %.1f / %.1f / %.1f | %d |\n", e, n, a/1000, b/1000, m/1000, f }'
    done
    ratio "podman $PNET" "podman none" "podman network / podman none" ""
    ratio "podman podman" "podman none" "podman default network (no DNS) / podman none" ""
    ratio "berth none" "podman $PNET" "berth none / podman network" ""
    if [ $B_NET = yes ]; then
        ratio "berth $BNET" "podman $PNET" "berth network / podman network" "<= 0.3"
    else
        echo "berth network / podman network: berth has no user networks yet"
    fi
    if [ $B_BRIDGE = yes ]; then
        ratio "berth bridge" "berth none" "berth bridge / berth none" "<= 1.3"
        ratio "berth bridge" "podman podman" "berth bridge / podman default network" ""
    else
        echo "berth bridge / berth none: berth has no --network bridge yet"
    fi
fi

# ---- helpers for iperf3 -------------------------------------------------------
# iperf3 client JSON -> received bits per second (the receiver's count, the
# first second left out), and those per CPU-second its two ends used (user +
# system time of both iperf3 processes, which includes the softirq work the
# kernel does in their context): a rate the other load on the machine moves
# less than the throughput itself.
bps() {
    jq -r 'select(.error == null) | .end | select((.sum_received.bits_per_second // 0) > 0) | "\(.sum_received.bits_per_second) \(
        .sum_received.bits_per_second * 100 / ((.cpu_utilization_percent.host_total
            + .cpu_utilization_percent.remote_total) + 1e-9))"' 2>/dev/null
}
ip_of() { # ENGINE CONTAINER: its address on its first network (from inspect,
    # else from eth0 inside it)
    local e=("${P[@]}") a
    [ "$1" = berth ] && e=("${B[@]}")
    a=$("${e[@]}" inspect --type container "$2" 2>/dev/null | jq -r '.[0].NetworkSettings |
        ((.Networks // {}) | to_entries | map(.value.IPAddress // "" | select(. != "")) | .[0])
        // (.IPAddress // "" | select(. != "")) // empty' 2>/dev/null)
    [ -n "$a" ] || a=$("${e[@]}" exec "$2" ip -4 -o addr show eth0 2>/dev/null | awk '{sub("/.*", "", $4); print $4; exit}')
    echo "$a"
}
measure() { # KEY CMD...: run one iperf3 client, record Gbit/s under KEY
    local out v try
    for try in 1 2 3 4 5; do # a server still closing the last test says busy
        out=$("${@:2}" 2>>"$W/err-iperf3")
        echo "$out" | grep -q 'server is busy' || break
        sleep 1
    done
    read -r v c <<<"$(echo "$out" | bps)"
    if [ -n "$v" ]; then
        add "$1" "$v"
        add "$1 cpu" "$c"
    else
        add "$1 failures" 1
        echo "$1: $(echo "$out" | jq -c '{error, sum_received: .end.sum_received}' 2>/dev/null || echo "$out" | tail -3)" >>"$W/err-iperf3"
    fi
}
IPERF=(iperf3 -J -O 1 -t "$SECS")
# The iperf3 processes outside containers run in cgroups of their own under
# the containers' parent, as the containers' do: the scheduler then weighs
# every end of every path alike against the rest of the machine.
cg_dirs() {
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        echo "+cpu" >"/sys/fs/cgroup$CG/cgroup.subtree_control" 2>/dev/null
        echo "/sys/fs/cgroup$CG/$1"
    else
        for c in cpu cpuacct; do [ -d "/sys/fs/cgroup/$c" ] && echo "$(realpath "/sys/fs/cgroup/$c")$CG/$1"; done | sort -u
    fi
}
cg_join() { # NAME: move this (sub)shell into the cgroup $CG/NAME
    local d
    for d in $(cg_dirs "$1"); do mkdir -p "$d" && echo "$BASHPID" >"$d/cgroup.procs"; done
}
in_cg() { # NAME CMD...: run CMD in the cgroup $CG/NAME
    local name=$1
    shift
    (cg_join "$name" && exec "$@")
}
LIPERF=(iperf3 -J -O 1 -t "$LSECS")

# Two network namespaces joined by a raw veth pair (the baseline), and two
# more on a plain Linux bridge in this run's namespace.
raw_up() {
    ip netns add nbA && ip netns add nbB && ip netns add nbC && ip netns add nbD || return 1
    ip link add nbva netns nbA type veth peer name nbvb netns nbB || return 1
    ip -n nbA addr add 10.99.0.1/24 dev nbva && ip -n nbB addr add 10.99.0.2/24 dev nbvb || return 1
    for n in A B C D; do ip -n "nb$n" link set lo up; done
    ip -n nbA link set nbva up && ip -n nbB link set nbvb up || return 1
    ip link add nbbr type bridge && ip link set nbbr up || return 1
    ip link add nbvc type veth peer name eth0 netns nbC && ip link add nbvd type veth peer name eth0 netns nbD || return 1
    for v in nbvc nbvd; do ip link set "$v" master nbbr up || return 1; done
    ip -n nbC addr add 10.99.1.1/24 dev eth0 && ip -n nbD addr add 10.99.1.2/24 dev eth0 || return 1
    ip -n nbC link set eth0 up && ip -n nbD link set eth0 up || return 1
    (cg_join raw-srv1 && exec ip netns exec nbB iperf3 -s) >/dev/null 2>>"$W/err-iperf3" &
    PIDS+=($!)
    (cg_join raw-srv2 && exec ip netns exec nbD iperf3 -s) >/dev/null 2>>"$W/err-iperf3" &
    PIDS+=($!)
    sleep 0.5
}
RAW=no
if has_part throughput || has_part limits; then
    raw_up && RAW=yes || echo "network: the raw veth pair could not be made" >&2
    # An iperf3 server per engine, on its network and published on the
    # host's loopback; a client container beside it that sleeps, to exec into.
    "${P[@]}" run -d --name nb-srv --network "$PNET" -p "127.0.0.1:$PPORT:5201" "${PRUN[@]}" \
        localhost/netbench:1 iperf3 -s >/dev/null 2>>"$W/err-podman" &&
        "${P[@]}" run -d --name nb-cli --network "$PNET" "${PRUN[@]}" localhost/netbench:1 sleep 3600 \
            >/dev/null 2>>"$W/err-podman" || echo "network: podman's iperf3 containers did not start" >&2
    PIP=$(ip_of podman nb-srv)
    BIP=
    if [ $B_NET = yes ] || [ $B_BRIDGE = yes ]; then
        pub=()
        [ $B_PORT = yes ] && pub=(-p "127.0.0.1:$BPORT:5201")
        "${B[@]}" run -d --name nb-srv --network "$BN" "${pub[@]}" "${BRUN[@]}" netbench:1 iperf3 -s \
            >/dev/null 2>>"$W/err-berth" &&
            "${B[@]}" run -d --name nb-cli --network "$BN" "${BRUN[@]}" netbench:1 sleep 3600 \
                >/dev/null 2>>"$W/err-berth" || echo "network: berth's iperf3 containers did not start" >&2
        BIP=$(ip_of berth nb-srv)
    fi
    sleep 1
fi

# ---- throughput ----------------------------------------------------------------
if has_part throughput; then
    paths=()
    [ $RAW = yes ] && paths+=("raw veth" "raw bridge")
    [ -n "$PIP" ] && paths+=("podman bridge" "podman port")
    [ -n "$BIP" ] && paths+=("berth bridge")
    [ -n "$BIP" ] && [ $B_PORT = yes ] && paths+=("berth port")
    for r in $(seq "$REPEATS"); do # alternating, so load hits every path alike
        for p in "${paths[@]}"; do
            case $p in
                "raw veth") measure "tp $p" in_cg raw-cli1 ip netns exec nbA "${IPERF[@]}" -c 10.99.0.2 ;;
                "raw bridge") measure "tp $p" in_cg raw-cli2 ip netns exec nbC "${IPERF[@]}" -c 10.99.1.2 ;;
                "podman bridge") measure "tp $p" "${P[@]}" exec nb-cli "${IPERF[@]}" -c "$PIP" ;;
                "podman port") measure "tp $p" in_cg host-cli "${IPERF[@]}" -c 127.0.0.1 -p "$PPORT" ;;
                "berth bridge") measure "tp $p" "${B[@]}" exec nb-cli "${IPERF[@]}" -c "$BIP" ;;
                "berth port") measure "tp $p" in_cg host-cli "${IPERF[@]}" -c 127.0.0.1 -p "$BPORT" ;;
            esac
        done
    done
    echo
    echo "## iperf3 TCP throughput, ${SECS}s x $REPEATS (Gbit/s)"
    echo "| path | min / median / max | vs raw veth: medians, maxima | per CPU-second: median | vs raw veth | failures |"
    echo "|---|---|---|---|---|---|"
    read -r _ base bmax <<<"$(echo "${S[tp raw veth]:-}" | stat3)"
    ceff=$(median "${S[tp raw veth cpu]:-}")
    for p in "${paths[@]}"; do
        read -r a b m <<<"$(echo "${S[tp $p]:-}" | stat3)"
        awk -v p="$p" -v a="$a" -v b="$b" -v m="$m" -v base="$base" -v bmax="$bmax" \
            -v c="$(median "${S[tp $p cpu]:-}")" -v ceff="$ceff" -v f="$(echo "${S[tp $p failures]:-}" | wc -w)" '
            BEGIN{ if (b == "") { printf "| %s | - | - | - | - | %d |\n", p, f; exit }
                   printf "| %s | %.2f / %.2f / %.2f | %s | %.2f | %s | %d |\n", p, a/1e9, b/1e9, m/1e9,
                       base == "" ? "-" : sprintf("%.2f, %.2f", b / base, m / bmax), c/1e9,
                       ceff == "" ? "-" : sprintf("%.2f", c / ceff), f }'
    done
    ratio "tp berth bridge" "tp raw veth" "berth container <-> container / raw veth" ">= 0.95" best
    ratio "tp berth bridge cpu" "tp raw veth cpu" "  the same per CPU-second" ">= 0.95"
    ratio "tp berth port" "tp raw veth" "berth loopback -> published port / raw veth" ">= 0.9" best
    ratio "tp berth port cpu" "tp raw veth cpu" "  the same per CPU-second" ">= 0.9"
    ratio "tp podman bridge" "tp raw veth" "podman container <-> container / raw veth" "" best
    ratio "tp podman port" "tp raw veth" "podman loopback -> published port / raw veth" "" best
    [ -n "$BIP" ] || echo "berth container <-> container: berth has no bridge networks yet"
    [ $B_PORT = yes ] || echo "berth loopback -> published port: berth has no -p yet"
fi

# ---- limits ----------------------------------------------------------------------
# Egress: the limited side sends; ingress: it receives (iperf3 -R).
if has_part limits; then
    rates=(1 10 100)
    if [ $RAW = yes ]; then
        # The measurement checked on the kernel's own shaper: a tbf on the
        # sending veth end (nbva for A's egress, nbvb for A's ingress),
        # 10 ms of burst (at least 10 full frames), 50 ms of queue.
        for mbit in "${rates[@]}"; do
            burst=$((mbit * 1000000 / 8 / 100))
            [ $burst -ge 15140 ] || burst=15140
            for dir in egress ingress; do
                dev=nbva ns=nbA rev=()
                [ $dir = ingress ] && dev=nbvb ns=nbB rev=(-R)
                tc -n "$ns" qdisc replace dev "$dev" root tbf rate "${mbit}mbit" burst "$burst" latency 50ms || continue
                measure "raw tbf $dir $mbit" in_cg raw-cli1 ip netns exec nbA "${LIPERF[@]}" "${rev[@]}" -c 10.99.0.2
                tc -n "$ns" qdisc del dev "$dev" root
            done
        done
    fi
    if [ $B_LIMIT = yes ] && [ -n "$BIP" ]; then
        for mbit in "${rates[@]}"; do
            "${B[@]}" run -d --name "nb-lim$mbit" --network "$BN" "${BRUN[@]}" \
                --network-bandwidth-egress "${mbit}mbit" --network-bandwidth-ingress "${mbit}mbit" \
                netbench:1 sleep 3600 >/dev/null 2>>"$W/err-berth" || { echo "network: berth run with limits failed" >&2; continue; }
            measure "berth egress $mbit" "${B[@]}" exec "nb-lim$mbit" "${LIPERF[@]}" -c "$BIP"
            measure "berth ingress $mbit" "${B[@]}" exec "nb-lim$mbit" "${LIPERF[@]}" -R -c "$BIP"
            "${B[@]}" rm -f "nb-lim$mbit" >/dev/null 2>>"$W/err-berth"
        done
    fi
    echo
    echo "## bandwidth limits: iperf3 TCP, ${LSECS}s, measured vs set (Mbit/s)"
    echo "| limit | set | egress measured | egress / set | ingress measured | ingress / set |"
    echo "|---|---|---|---|---|---|"
    for who in "raw tbf" berth; do
        for mbit in "${rates[@]}"; do
            e=$(median "${S[$who egress $mbit]:-}") i=$(median "${S[$who ingress $mbit]:-}")
            [ -n "$e$i" ] || continue
            label="berth --network-bandwidth-*"
            [ "$who" = "raw tbf" ] && label="tc tbf on the raw veth (reference)"
            awk -v l="$label" -v s="$mbit" -v e="$e" -v i="$i" 'BEGIN{
                printf "| %s | %d | %s | %s | %s | %s |\n", l, s,
                    e == "" ? "-" : sprintf("%.2f", e/1e6), e == "" ? "-" : sprintf("%.3f", e/1e6/s),
                    i == "" ? "-" : sprintf("%.2f", i/1e6), i == "" ? "-" : sprintf("%.3f", i/1e6/s) }'
        done
    done
    echo "(iperf3 counts TCP payload; a shaper that counts whole frames passes 1448 of"
    echo " every 1514 bytes as payload at MTU 1500: 0.956 of its rate)"
    [ $B_LIMIT = yes ] || echo "berth bandwidth limits: berth has no --network-bandwidth-egress/-ingress yet (goal: within 10 % of the limit)"
fi

echo
echo "# load at end:$(uptime | sed 's/.*load average//')"
[ -n "${BENCH_DEBUG:-}" ] && for k in "${!S[@]}"; do echo "$k: ${S[$k]}"; done | sort >&2
for f in "$W"/err-*; do [ -s "$f" ] && { echo "== $(basename "$f")"; grep -v 'failed to connect to syslog' "$f" | tail -3; }; done
exit 0
