#!/usr/bin/env bash
# Latency and memory of OCI runtimes side by side, on one busybox bundle.
#
#   bench/runtime-bench.sh [-n RUNS] [-r ROUNDS] [-p PARALLEL] [RUNTIME...]
#
# RUNTIME is a path or a name on PATH of a runc-compatible binary; default:
# this repo's target/release/berth-runtime, runc and crun. Needs root,
# /bin/busybox (busybox-static), jq and /usr/bin/time.
#
# Rows (min / median / max per runtime, and the ratio of medians to crun's):
#   run /bin/true      RUNS sequential `run` of /bin/true (foreground, exit 0)
#   create, start,     RUNS containers running `sleep`: each step timed alone;
#   exec, delete       exec runs /bin/true in it; delete is of the stopped one
#   N parallel runs    N `run /bin/true` started together, until the last ends
#                      (ROUNDS times)
#   peak RSS runtime   max RSS of the `run` process tree (/usr/bin/time %M), KiB
#   peak RSS init      VmHWM of the container's init after `create`, before
#                      it execs the program (what a created container costs)
#   floor              `unshare -fpmiun --mount-proc /bin/true`: the kernel's
#                      own cost for the same namespaces plus one exec
#
# Every container gets its own cgroup under /berth-bench-<pid>/ (removed at
# the end), so no runtime creates cgroups inside the cgroup it runs in.
# Rounds are interleaved (A B C A B C ...) so machine noise hits all alike.
#
# The whole benchmark runs in a private mount namespace (the host's mounts
# are not touched), where the state roots (`--root`) sit on a tmpfs, as
# /run is on a normal host: state files cost no disk I/O for any runtime.
# crun 1.8 refuses this host's hybrid cgroup layout (an empty cgroup2 at
# /sys/fs/cgroup/unified), so that mount is removed there when present,
# and every runtime is measured without it alike.
set -uo pipefail
RUNS=100 ROUNDS=5 PAR=20
while getopts n:r:p: o; do
    case $o in
        n) RUNS=$OPTARG ;;
        r) ROUNDS=$OPTARG ;;
        p) PAR=$OPTARG ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
repo=$(cd "$(dirname "$0")/.." && pwd)
[ $# -gt 0 ] || set -- "$repo/target/release/berth-runtime" runc crun
[ "$(id -u)" = 0 ] || { echo "runtime-bench: needs root" >&2; exit 2; }
for p in jq /bin/busybox /usr/bin/time; do
    command -v "$p" >/dev/null || { echo "runtime-bench: needs $p (apt-get install jq busybox-static time)" >&2; exit 2; }
done

if [ -z "${BENCH_PRIVATE_NS:-}" ]; then
    export BENCH_PRIVATE_NS=1
    exec unshare -m --propagation private bash -c \
        'if grep -q " /sys/fs/cgroup/unified " /proc/mounts; then umount /sys/fs/cgroup/unified || exit 1; fi; exec "$0" "$@"' \
        "$0" -n "$RUNS" -r "$ROUNDS" -p "$PAR" "$@"
fi

names=() paths=()
for rt in "$@"; do
    p=$(command -v "$rt") || { echo "runtime-bench: no runtime $rt" >&2; exit 2; }
    names+=("$(basename "$p")") paths+=("$p")
done
ref=$((${#names[@]} - 1))
for i in "${!names[@]}"; do [ "${names[$i]}" = crun ] && ref=$i; done

W=$(mktemp -d /tmp/rtbench.XXXXXX)
mkdir "$W/state" && mount -t tmpfs -o mode=0711 bench-state "$W/state" || exit 1
parent=berth-bench-$$
cleanup() {
    for i in "${!paths[@]}"; do
        for id in $("${paths[$i]}" --root "$W/state/$i" list -q 2>/dev/null); do
            "${paths[$i]}" --root "$W/state/$i" delete -f "$id" >/dev/null 2>&1
        done
    done
    for d in /sys/fs/cgroup/*/"$parent" /sys/fs/cgroup/"$parent"; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    umount "$W/state"
    rm -rf "$W"
}
trap cleanup EXIT

# One rootfs, read-only, shared by every container; a bundle per container
# is only its config.json (root.path is absolute). The config is runc's
# default (`runc spec`: 5 namespaces, default capabilities, masked and
# read-only paths, no seccomp) with a cgroup of its own.
rootfs=$W/rootfs
mkdir -p "$rootfs"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$rootfs/bin/busybox"
for a in sh true sleep; do ln -s busybox "$rootfs/bin/$a"; done
(cd "$W" && runc spec) || exit 1
jq --arg root "$rootfs" '.root = {path: $root, readonly: true} | .process.terminal = false
    | .linux.cgroupsPath = "/PARENT/ID" | .process.args = ["ARGS"]' "$W/config.json" >"$W/template.json"
bundle() { # bundle ID ARG... -> prints the bundle dir
    local id=$1 dir=$W/b/$1
    shift
    mkdir -p "$dir"
    local args
    args=$(printf '"%s",' "$@")
    sed -e "s|/PARENT/ID|/$parent/$id|" -e "s|\"ARGS\"|${args%,}|" "$W/template.json" >"$dir/config.json"
    echo "$dir"
}

declare -A S # S[metric,i] = samples (us, or KiB)
add() { S[$1,$2]="${S[$1,$2]:-} $3"; }
now() { echo "${EPOCHREALTIME/./}"; }
fail() { add "failures" "$1" 1; echo "runtime-bench: ${names[$1]}: $2" >>"$W/errors"; }
stopped() { # stopped R ID: wait until the container is stopped
    for _ in $(seq 500); do
        [ "$($1 state "$2" 2>/dev/null | jq -r .status)" = stopped ] && return 0
        sleep 0.01
    done
    return 1
}

for r in $(seq "$RUNS"); do
    for i in "${!paths[@]}"; do
        R="${paths[$i]} --root $W/state/$i"
        id=t$r-$i b=$(bundle "$id" /bin/true)
        t0=$(now)
        $R run --bundle "$b" "$id" >/dev/null 2>>"$W/err-$i" || fail "$i" "run $id"
        t1=$(now)
        add "run /bin/true" "$i" $((t1 - t0))
        $R delete -f "$id" >/dev/null 2>&1

        id=s$r-$i b=$(bundle "$id" /bin/sleep 600)
        t0=$(now)
        $R create --bundle "$b" "$id" >/dev/null 2>>"$W/err-$i" || fail "$i" "create $id"
        t1=$(now)
        if [ "$r" -le "$ROUNDS" ]; then
            pid=$($R state "$id" | jq -r .pid)
            add "peak RSS init (KiB)" "$i" "$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")"
        fi
        t2=$(now)
        $R start "$id" >/dev/null 2>>"$W/err-$i" || fail "$i" "start $id"
        t3=$(now)
        $R exec "$id" /bin/true >/dev/null 2>>"$W/err-$i" || fail "$i" "exec $id"
        t4=$(now)
        $R kill "$id" KILL >/dev/null 2>&1
        stopped "$R" "$id" || fail "$i" "kill $id"
        t5=$(now)
        $R delete "$id" >/dev/null 2>>"$W/err-$i" || fail "$i" "delete $id"
        t6=$(now)
        add create "$i" $((t1 - t0))
        add start "$i" $((t3 - t2))
        add exec "$i" $((t4 - t3))
        add delete "$i" $((t6 - t5))
    done
    t0=$(now)
    unshare -fpmiun --mount-proc /bin/true
    t1=$(now)
    add "floor: unshare+exec" "$ref" $((t1 - t0))
done

for r in $(seq "$ROUNDS"); do
    for i in "${!paths[@]}"; do
        R="${paths[$i]} --root $W/state/$i"
        ids=()
        for k in $(seq "$PAR"); do ids+=("p$r-$i-$k"); bundle "p$r-$i-$k" /bin/true >/dev/null; done
        t0=$(now)
        for id in "${ids[@]}"; do $R run --bundle "$W/b/$id" "$id" >/dev/null 2>>"$W/err-$i" & done
        wait
        t1=$(now)
        add "$PAR parallel runs" "$i" $((t1 - t0))
        for id in "${ids[@]}"; do $R delete -f "$id" >/dev/null 2>&1; done

        id=m$r-$i b=$(bundle "$id" /bin/true)
        /usr/bin/time -o "$W/rss" -f '%M' $R run --bundle "$b" "$id" >/dev/null 2>&1
        add "peak RSS runtime (KiB)" "$i" "$(tail -1 "$W/rss")"
        $R delete -f "$id" >/dev/null 2>&1
    done
done

stat3() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{printf "%s %s %s\n", a[1], a[int((NR+1)/2)], a[NR]}'; }
fmt() { awk -v u="$1" -v x="$2" 'BEGIN{ if (u == "KiB") print x; else printf "%.1f", x / 1000 }'; }
echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs; runs=$RUNS rounds=$ROUNDS parallel=$PAR"
for i in "${!paths[@]}"; do echo "# ${names[$i]}: ${paths[$i]} ($("${paths[$i]}" --version 2>/dev/null | head -1))"; done
printf '| %s |' "metric (ms, RSS KiB)"
for n in "${names[@]}"; do printf ' %s min / med / max |' "$n"; done
for i in "${!names[@]}"; do [ "$i" != "$ref" ] && printf ' %s / %s |' "${names[$i]}" "${names[$ref]}"; done
echo
printf '|---|'; for _ in "${names[@]}"; do printf -- '---|'; done
for i in "${!names[@]}"; do [ "$i" != "$ref" ] && printf -- '---|'; done
echo
for m in failures "run /bin/true" create start exec delete "$PAR parallel runs" \
    "peak RSS runtime (KiB)" "peak RSS init (KiB)" "floor: unshare+exec"; do
    u=ms
    [[ $m == *KiB* || $m == failures ]] && u=KiB
    any=0
    for i in "${!paths[@]}"; do [ -n "${S[$m,$i]:-}" ] && any=1; done
    [ $any = 1 ] || continue
    printf '| %s |' "$m"
    meds=()
    for i in "${!paths[@]}"; do
        if [ -z "${S[$m,$i]:-}" ]; then printf ' |'; meds+=(""); continue; fi
        read -r a b c <<<"$(echo "${S[$m,$i]}" | stat3)"
        printf ' %s / %s / %s |' "$(fmt $u "$a")" "$(fmt $u "$b")" "$(fmt $u "$c")"
        meds+=("$b")
    done
    for i in "${!paths[@]}"; do
        [ "$i" = "$ref" ] && continue
        if [ -n "${meds[$i]}" ] && [ -n "${meds[$ref]}" ] && [ "$m" != failures ]; then
            awk -v a="${meds[$i]}" -v b="${meds[$ref]}" 'BEGIN{printf " %.2f |", a / b}'
        else printf ' |'; fi
    done
    echo
done
[ -s "$W/errors" ] && { echo; sort "$W/errors" | uniq -c | head -20; for i in "${!paths[@]}"; do tail -3 "$W/err-$i" 2>/dev/null; done; }
exit 0
