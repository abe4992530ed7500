#!/usr/bin/env bash
# End to end through the engines: `ctr run` (containerd, shim
# io.containerd.runc.v2 with --runc-binary) and `podman --runtime`, each
# running /bin/true in a busybox rootfs, with each runtime in turn.
#
#   bench/engines-bench.sh [-n RUNS] [RUNTIME...]
#
# Default runtimes: this repo's target/release/berth-runtime, runc, crun.
# Needs root, containerd + ctr, podman, /bin/busybox. containerd runs with
# its own root, state and socket under a temp dir (CRI plugin off); Podman
# with its own --root/--runroot, cgroupfs manager, no network. Both use the
# rootfs directly (`ctr run --rootfs`, `podman run --rootfs`), so no image
# store is involved. Like runtime-bench.sh, it runs in a private mount
# namespace without /sys/fs/cgroup/unified when the host has it (crun 1.8
# refuses hybrid hosts), for every runtime alike.
#
# Prints min / median / max wall time per engine and runtime, and the ratio
# of medians to crun's.
set -uo pipefail
RUNS=20
while getopts n: o; do
    case $o in
        n) RUNS=$OPTARG ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
repo=$(cd "$(dirname "$0")/.." && pwd)
[ $# -gt 0 ] || set -- "$repo/target/release/berth-runtime" runc crun
[ "$(id -u)" = 0 ] || { echo "engines-bench: needs root" >&2; exit 2; }
for p in containerd ctr podman /bin/busybox; do
    command -v "$p" >/dev/null || { echo "engines-bench: needs $p (apt-get install containerd podman busybox-static)" >&2; exit 2; }
done
if [ -z "${BENCH_PRIVATE_NS:-}" ] && grep -q ' /sys/fs/cgroup/unified ' /proc/mounts; then
    export BENCH_PRIVATE_NS=1
    exec unshare -m bash -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$0" -n "$RUNS" "$@"
fi
names=() paths=()
for rt in "$@"; do
    p=$(command -v "$rt") || { echo "engines-bench: no runtime $rt" >&2; exit 2; }
    names+=("$(basename "$p")") paths+=("$p")
done
ref=$((${#names[@]} - 1))
for i in "${!names[@]}"; do [ "${names[$i]}" = crun ] && ref=$i; done

W=$(mktemp -d /tmp/engbench.XXXXXX)
cpid=
cleanup() {
    podman --root "$W/podman/root" --runroot "$W/podman/run" rm -af >/dev/null 2>&1
    [ -n "$cpid" ] && kill "$cpid" 2>/dev/null && wait "$cpid" 2>/dev/null
    umount -R "$W"/containerd/* 2>/dev/null
    for d in /sys/fs/cgroup/*/berth-engbench-$$; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
    rm -rf "$W"
}
trap cleanup EXIT

rootfs=$W/rootfs
mkdir -p "$rootfs"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$rootfs/bin/busybox"
for a in sh true sleep; do ln -s busybox "$rootfs/bin/$a"; done
echo 'root:x:0:0:root:/:/bin/sh' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"

mkdir -p "$W/containerd"
cat >"$W/containerd/config.toml" <<EOF
version = 2
root = "$W/containerd/root"
state = "$W/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$W/containerd/sock"
EOF
containerd --config "$W/containerd/config.toml" >"$W/containerd/log" 2>&1 &
cpid=$!
for _ in $(seq 100); do [ -S "$W/containerd/sock" ] && break; sleep 0.05; done
CTR=(ctr --address "$W/containerd/sock" --namespace bench)
PODMAN=(podman --root "$W/podman/root" --runroot "$W/podman/run" --cgroup-manager cgroupfs
    --events-backend file --storage-driver vfs)

declare -A S
add() { S[$1,$2]="${S[$1,$2]:-} $3"; }
now() { echo "${EPOCHREALTIME/./}"; }
for r in $(seq 0 "$RUNS"); do # round 0 warms caches and is not counted
    for i in "${!paths[@]}"; do
        t0=$(now)
        "${CTR[@]}" run --rm --rootfs --runc-binary "${paths[$i]}" --cgroup "/berth-engbench-$$/c$r-$i" \
            "$rootfs" "c$r-$i" /bin/true >/dev/null 2>>"$W/err-ctr-$i" || add "ctr failures" "$i" 1
        t1=$(now)
        [ "$r" = 0 ] || add "ctr run --rm /bin/true" "$i" $((t1 - t0))
        t0=$(now)
        "${PODMAN[@]}" --runtime "${paths[$i]}" run --rm --network none --cgroup-parent "/berth-engbench-$$" \
            --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 \
            --rootfs "$rootfs" /bin/true >/dev/null 2>>"$W/err-podman-$i" || add "podman failures" "$i" 1
        t1=$(now)
        [ "$r" = 0 ] || add "podman run --rm /bin/true" "$i" $((t1 - t0))
    done
done

stat3() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{printf "%s %s %s\n", a[1], a[int((NR+1)/2)], a[NR]}'; }
echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs; runs=$RUNS; $(containerd --version | awk '{print $1, $3}'); $(podman --version)"
printf '| %s |' "engine (ms)"
for n in "${names[@]}"; do printf ' %s min / med / max |' "$n"; done
for i in "${!names[@]}"; do [ "$i" != "$ref" ] && printf ' %s / %s |' "${names[$i]}" "${names[$ref]}"; done
echo
printf '|---|'; for _ in "${names[@]}"; do printf -- '---|'; done
for i in "${!names[@]}"; do [ "$i" != "$ref" ] && printf -- '---|'; done
echo
for m in "ctr failures" "podman failures" "ctr run --rm /bin/true" "podman run --rm /bin/true"; do
    any=0
    for i in "${!paths[@]}"; do [ -n "${S[$m,$i]:-}" ] && any=1; done
    [ $any = 1 ] || continue
    printf '| %s |' "$m"
    meds=()
    for i in "${!paths[@]}"; do
        if [ -z "${S[$m,$i]:-}" ]; then printf ' |'; meds+=(""); continue; fi
        read -r a b c <<<"$(echo "${S[$m,$i]}" | stat3)"
        if [[ $m == *failures ]]; then printf ' %s |' "$(echo "${S[$m,$i]}" | wc -w)"; else
            awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN{printf " %.1f / %.1f / %.1f |", a/1000, b/1000, c/1000}'; fi
        meds+=("$b")
    done
    for i in "${!paths[@]}"; do
        [ "$i" = "$ref" ] && continue
        if [[ $m != *failures ]] && [ -n "${meds[$i]}" ] && [ -n "${meds[$ref]}" ]; then
            awk -v a="${meds[$i]}" -v b="${meds[$ref]}" 'BEGIN{printf " %.2f |", a / b}'
        else printf ' |'; fi
    done
    echo
done
for f in "$W"/err-*; do [ -s "$f" ] && { echo "== $(basename "$f")"; tail -3 "$f"; }; done
exit 0
