#!/usr/bin/env bash
# How exactly a runtime's cpu.shares divide a contended CPU.
#
#   bench/cpu-share.sh [-n ROUNDS] [-w SECONDS] [RUNTIME]
#
# RUNTIME is a path or a name on PATH of a runc-compatible binary
# (default: target/release/berth-runtime of this repo; `runc` works too).
# Needs root and /bin/busybox (busybox-static).
#
# Each round starts two busybox containers spinning in a shell loop, pinned
# to CPU 0 (cpuset), siblings under one cgroup parent (shares only divide
# time between siblings), with cpu.shares 512 (A) and 1024 (B): cpu.weight
# 20 and 39 on cgroup v2, converted by the runtime. It measures each
# container's CPU time over a window from the host (cpuacct.usage on v1,
# cpu.stat usage_usec on v2), then runs `update --cpu-share 1024` on A and
# measures again. Other load on CPU 0 takes time from the pair as a whole,
# so the split between the two (A / (A + B)) is what is reported.
#
# Prints each round, then min / median / max of the B:A ratio and of A's
# part, for 1:2 (want 2.00 and 33.3%; 33.9% with v2's weights) and for 1:1
# after the update (want 1.00 and 50%).
set -euo pipefail

ROUNDS=5
WINDOW=3
while getopts n:w: o; do
    case $o in
        n) ROUNDS=$OPTARG ;;
        w) WINDOW=$OPTARG ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
repo=$(cd "$(dirname "$0")/.." && pwd)
rt=${1:-$repo/target/release/berth-runtime}
command -v "$rt" >/dev/null || { echo "cpu-share: no runtime $rt (build with cargo build --release)" >&2; exit 2; }
rt=$(command -v "$rt")
[ "$(id -u)" = 0 ] || { echo "cpu-share: needs root" >&2; exit 2; }
[ -x /bin/busybox ] || { echo "cpu-share: needs /bin/busybox (busybox-static)" >&2; exit 2; }

work=$(mktemp -d /tmp/cpushare.XXXXXX)
parent=berth-bench-$$
R=("$rt" --root "$work/state")

if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
    mode=v2
    usage() { awk '$1 == "usage_usec" { print $2 "000" }' "/sys/fs/cgroup/$parent/$1/cpu.stat"; }
    weight() { cat "/sys/fs/cgroup/$parent/$1/cpu.weight"; }
else
    mode=v1
    acct=$(awk '$9 ~ /^cgroup$/ && $NF ~ /cpuacct/ { print $5; exit }' /proc/self/mountinfo)
    cpu=$(awk '$9 ~ /^cgroup$/ && $NF ~ /(^|,)cpu(,|$)/ { print $5; exit }' /proc/self/mountinfo)
    usage() { cat "$acct/$parent/$1/cpuacct.usage"; }
    weight() { cat "$cpu/$parent/$1/cpu.shares"; }
fi

cleanup() {
    for c in a b; do "${R[@]}" delete --force "$c" >/dev/null 2>&1 || true; done
    for h in $(awk '$9 ~ /^cgroup2?$/ { print $5 }' /proc/self/mountinfo); do
        [ -d "$h/$parent" ] || continue
        rmdir "$h/$parent"/* "$h/$parent" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/rootfs/bin" "$work/rootfs/proc" "$work/rootfs/dev" "$work/rootfs/sys"
cp /bin/busybox "$work/rootfs/bin/busybox"
ln -s busybox "$work/rootfs/bin/sh"

bundle() { # bundle NAME SHARES
    mkdir -p "$work/$1"
    cat >"$work/$1/config.json" <<EOF
{
  "ociVersion": "1.0.2-dev",
  "process": {
    "terminal": false, "user": { "uid": 0, "gid": 0 },
    "args": ["sh", "-c", "while :; do :; done"],
    "env": ["PATH=/bin"], "cwd": "/", "noNewPrivileges": true
  },
  "root": { "path": "$work/rootfs", "readonly": true },
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"] }
  ],
  "linux": {
    "cgroupsPath": "/$parent/$1",
    "resources": {
      "devices": [{ "allow": false, "access": "rwm" }],
      "cpu": { "shares": $2, "cpus": "0" }
    },
    "namespaces": [{ "type": "pid" }, { "type": "mount" }, { "type": "ipc" }, { "type": "uts" }]
  }
}
EOF
}
bundle a 512
bundle b 1024

# measure LABEL: prints "ratio A%" for one window, and a line to stderr.
measure() {
    local a0 b0 a1 b1
    a0=$(usage a); b0=$(usage b)
    sleep "$WINDOW"
    a1=$(usage a); b1=$(usage b)
    awk -v a=$((a1 - a0)) -v b=$((b1 - b0)) -v wa="$(weight a)" -v wb="$(weight b)" -v l="$1" 'BEGIN {
        printf "  %-22s weights %5s:%-5s A %5.1f%%  B %5.1f%%  B/A %.3f  (pair used %.2f s)\n",
            l, wa, wb, 100 * a / (a + b), 100 * b / (a + b), b / a, (a + b) / 1e9 > "/dev/stderr"
        printf "%.4f %.2f %s %s\n", b / a, 100 * a / (a + b), wa, wb
    }'
}

echo "cpu-share: $("${R[@]}" --version 2>/dev/null | head -n1 || basename "$rt"), cgroup $mode, $(nproc) CPUs, $ROUNDS rounds of ${WINDOW}s windows" >&2
: >"$work/half" && : >"$work/even"
for r in $(seq "$ROUNDS"); do
    echo "round $r" >&2
    "${R[@]}" run -d --bundle "$work/a" a >/dev/null
    "${R[@]}" run -d --bundle "$work/b" b >/dev/null
    sleep 0.5
    measure "shares 512:1024" >>"$work/half"
    "${R[@]}" update --cpu-share 1024 a
    sleep 0.3
    measure "update a to 1024" >>"$work/even"
    "${R[@]}" delete --force a
    "${R[@]}" delete --force b
done

stats() { # stats COLUMN FILE: "min median max" of one column
    cut -d' ' -f"$1" "$2" | sort -g | awk '{ v[NR] = $1 } END { print v[1], v[int((NR + 1) / 2)], v[NR] }'
}
summary() { # summary LABEL FILE
    local r p want
    r=$(stats 1 "$2"); p=$(stats 2 "$2")
    want=$(tail -n1 "$2" | awk '{ printf "want %.3f and %.1f%% (weights %s:%s)", $4 / $3, 100 * $3 / ($3 + $4), $3, $4 }')
    printf '%-4s B/A ratio min %.3f  median %.3f  max %.3f    A %% min %.1f  median %.1f  max %.1f    %s\n' \
        "$1" $r $p "$want"
}
summary "1:2" "$work/half"
summary "1:1" "$work/even"
