#!/usr/bin/env bash
# The cost of berth-runtime's CVE-2019-5736 protection, timed by itself.
#
#   bench/exe-seal-cost.sh [-n RUNS] [BERTH_RUNTIME]
#
# `exec` re-executes the runtime from a sealed view of its binary before it
# looks at its arguments' container; `state` does not. Both are asked about
# a container that does not exist, so both start, parse, find nothing and
# exit 1: the difference between them is the sealing (overlayfs mount,
# second execve, second start-up, teardown). The memfd fallback is timed by
# running a copy of the binary from a directory that holds the state root
# (overlayfs refuses overlapping layers, so the runtime falls back to a
# sealed memfd copy). Prints min / median / max in ms, interleaved runs.
set -uo pipefail
RUNS=200
while getopts n: o; do
    case $o in
        n) RUNS=$OPTARG ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=$(command -v "${1:-$repo/target/release/berth-runtime}") || { echo "exe-seal-cost: no runtime" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "exe-seal-cost: needs root" >&2; exit 2; }
W=$(mktemp -d /tmp/sealcost.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/overlay/state" "$W/memfd"
cp "$bin" "$W/memfd/berth-runtime"
declare -A S
now() { echo "${EPOCHREALTIME/./}"; }
for _ in $(seq "$RUNS"); do
    for v in no-seal overlay memfd; do
        case $v in
            no-seal) cmd=("$bin" --root "$W/overlay/state" state nosuch) ;;
            overlay) cmd=("$bin" --root "$W/overlay/state" exec nosuch true) ;;
            memfd) cmd=("$W/memfd/berth-runtime" --root "$W/memfd/state" exec nosuch true) ;;
        esac
        t0=$(now)
        "${cmd[@]}" 2>/dev/null
        t1=$(now)
        S[$v]+=" $((t1 - t0))"
    done
done
strace -f -e trace=fsopen,memfd_create -o "$W/trace" "$W/memfd/berth-runtime" --root "$W/memfd/state" exec nosuch true 2>/dev/null
grep -q memfd_create "$W/trace" || echo "exe-seal-cost: the memfd case did not use a memfd" >&2
echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs; $bin ($(stat -c %s "$bin") bytes); runs=$RUNS"
echo "| command (container missing) | min / median / max (ms) |"
echo "|---|---|"
for v in no-seal overlay memfd; do
    case $v in
        no-seal) label='`state` (no sealing)' ;;
        overlay) label='`exec`, sealed by overlayfs' ;;
        memfd) label='`exec`, sealed memfd fallback' ;;
    esac
    echo "${S[$v]}" | tr ' ' '\n' | grep -v '^$' | sort -n |
        awk -v l="$label" '{a[NR]=$1} END{printf "| %s | %.2f / %.2f / %.2f |\n", l, a[1]/1000, a[int((NR+1)/2)]/1000, a[NR]/1000}'
done
