#!/usr/bin/env bash
# Regenerates scripts/berth-runtime.order, the function order the static-pie
# runtime is linked with (scripts/build-release.sh): which functions a
# run/create/state/start/exec/kill/delete (and a run with a seccomp
# profile) executes, recorded with one uprobe
# per function, laid out as [runtime only][both][init and other forked
# children only]. Functions missing from the list only cost page faults.
#
#   sudo bench/symbol-order.sh BIN > scripts/berth-runtime.order
#
# BIN: an unstripped build of the same code, e.g.
#   LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH=/usr/lib/x86_64-linux-gnu \
#   RUSTFLAGS="-C target-feature=+crt-static" cargo rustc --release \
#     -p berth-runtime --bin berth-runtime --target x86_64-unknown-linux-gnu -- -C strip=none
# (copy it out of target/ before scripts/build-release.sh overwrites it),
# then touch crates/runtime/src/main.rs so the next build-release.sh relinks.
#
# Functions called thousands of times per run (allocator, string routines,
# clap's builder, serde_json's scanner: bench/symbol-order.hot) get no probe,
# which would make a run take hours; they go into the shared part. Takes a
# few minutes under load. Needs root, jq, runc (for `runc spec`),
# /bin/busybox. The uprobes live in a tracefs instance of its own and are
# removed at the end, also on failure.
set -uo pipefail
BIN=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "symbol-order: needs root" >&2; exit 2; }
if [ -z "${SYMORDER_NS:-}" ]; then
    export SYMORDER_NS=1
    exec unshare -m --propagation private bash -c \
        'if grep -q " /sys/fs/cgroup/unified " /proc/mounts; then umount /sys/fs/cgroup/unified || exit 1; fi; exec "$0" "$@"' \
        "$0" "$BIN"
fi
W=$(mktemp -d /tmp/symorder.XXXXXX)
T=$W/tracefs I=$W/tracefs/instances/symorder$$ G=symorder$$
mkdir "$T" "$W/state"
mount -t tracefs nodev "$T" && mount -t tmpfs st "$W/state" || exit 1
cleanup() {
    [ -d "$I" ] && { echo 0 >"$I/tracing_on"; echo 0 >"$I/events/enable"; rmdir "$I"; }
    grep "^p:$G/" "$T/uprobe_events" | sed 's/^p:/-:/; s/ .*//' | split -l 500 - "$W/rm."
    for c in "$W"/rm.*; do [ -f "$c" ] && cat "$c" >>"$T/uprobe_events"; done
    for d in /sys/fs/cgroup/*/"$G"; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
    umount "$T" "$W/state"
    rm -rf "$W"
}
trap cleanup EXIT

# Every sized FUNC symbol in an executable section, by file offset:
# "index offset name", minus the hot list.
python3 - "$BIN" "$here/symbol-order.hot" >"$W/syms" <<'EOF'
import re, subprocess, sys
binary, hotfile = sys.argv[1], sys.argv[2]
hot = set(open(hotfile).read().split())
secs = []
for l in subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True).stdout.splitlines():
    m = re.match(r"\s*\[\s*\d+\]\s+\S+\s+PROGBITS\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+\S+\s+(\S+)", l)
    if m and "X" in m.group(4):
        secs.append(tuple(int(m.group(k), 16) for k in (1, 2, 3)))
seen = set()
for l in subprocess.run(["readelf", "-sW", binary], capture_output=True, text=True).stdout.splitlines():
    p = l.split()
    if len(p) < 8 or p[3] != "FUNC" or p[2] == "0" or p[7] in hot:
        continue
    a = int(p[1], 16)
    for va, off, size in secs:
        if va <= a < va + size and (a - va + off) not in seen:
            seen.add(a - va + off)
            print(len(seen), hex(a - va + off), p[7])
EOF
awk -v b="$BIN" -v g="$G" '{printf "p:%s/f%s %s:%s\n", g, $1, b, $2}' "$W/syms" | split -l 500 - "$W/up."
for c in "$W"/up.*; do cat "$c" >>"$T/uprobe_events" || exit 1; done
mkdir "$I" && echo 65536 >"$I/buffer_size_kb" || exit 1
echo 1 >"$I/events/$G/enable"
echo 1 >"$I/events/sched/sched_process_fork/enable"
echo 1 >"$I/events/sched/sched_process_exec/enable"

# The workload: runc's default bundle, as bench/runtime-bench.sh runs it.
rootfs=$W/rootfs
mkdir -p "$rootfs"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$rootfs/bin/" && for a in sh true sleep; do ln -s busybox "$rootfs/bin/$a"; done
(cd "$W" && runc spec) || exit 1
bundle() { # bundle ID ARGS-JSON [JQ-FILTER]
    mkdir -p "$W/b/$1"
    jq --arg root "$rootfs" --arg cg "/$G/$1" --argjson args "$2" '.root = {path: $root, readonly: true}
        | .process.terminal = false | .linux.cgroupsPath = $cg | .process.args = $args'" | ${3:-.}" \
        "$W/config.json" >"$W/b/$1/config.json"
    echo "$W/b/$1"
}
# Engines always pass a seccomp profile: its compile and load paths too.
seccomp='.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"],
    syscalls: [{names: ["reboot", "kexec_load", "add_key", "keyctl"], action: "SCMP_ACT_ERRNO", errnoRet: 1}]}'

R="timeout -s KILL 300 $BIN --root $W/state"
echo 1 >"$I/tracing_on"
$R run --bundle "$(bundle r1 '["/bin/true"]')" r1 || echo "symbol-order: run failed" >&2
$R delete -f r1
$R create --bundle "$(bundle c1 '["/bin/sleep", "60"]')" c1 || echo "symbol-order: create failed" >&2
$R state c1 >/dev/null
$R start c1
$R exec c1 /bin/true || echo "symbol-order: exec failed" >&2
$R kill c1 KILL
for _ in $(seq 100); do [ "$($R state c1 | jq -r .status)" = stopped ] && break; sleep 0.1; done
$R delete c1 || echo "symbol-order: delete failed" >&2
$R run --bundle "$(bundle r2 '["/bin/true"]' "$seccomp")" r2 || echo "symbol-order: run with seccomp failed" >&2
$R delete -f r2
echo 0 >"$I/tracing_on"

# First hits per process kind, in order.
python3 - "$W/syms" "$here/symbol-order.hot" "$I/trace" "$BIN" <<'EOF'
import os, re, sys
names = {}
for l in open(sys.argv[1]):
    i, _, n = l.split(" ", 2)
    names[i] = n.rstrip("\n")
hot = [n for n in open(sys.argv[2]).read().split("\n") if n]
exe = os.path.basename(sys.argv[4])
berth, child = set(), set()
main, kids = [], []
for l in open(sys.argv[3]):
    m = re.search(r"-(\d+)\s+\[\d+\].*?: (sched_process_fork|sched_process_exec|f\d+):(.*)", l)
    if not m:
        continue
    pid, ev, rest = m.groups()
    if ev == "sched_process_exec":
        # The sealed re-exec runs the same file through /dev/fd/N.
        if rest.split()[0].endswith(("/" + exe, exe)) or "filename=/dev/fd/" in rest:
            berth.add(pid)
        else:
            berth.discard(pid)
            child.discard(pid)
    elif ev == "sched_process_fork":
        if pid in berth or pid in child:
            child.add(re.search(r"child_pid=(\d+)", rest).group(1))
    elif pid in berth or pid in child:
        (kids if pid in child else main).append(ev[1:])
first = lambda xs: list(dict.fromkeys(xs))
main, kids = first(main), first(kids)
M, K = set(main), set(kids)
if len(M) < 100 or len(K) < 20:
    sys.exit(f"symbol-order: too few functions recorded ({len(M)}, {len(K)}); did the workload run?")
out = [f for f in main if f not in K] + [f for f in main if f in K]
print("\n".join([names[f] for f in out] + hot + [names[f] for f in kids if f not in M]))
EOF
