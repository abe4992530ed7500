#!/usr/bin/env bash
# Checkpoint and restore time of berth-runtime against runc, with the same
# CRIU, for containers with 1, 64 and 512 MiB of touched memory.
#
#   bench/checkpoint.sh [-n ROUNDS] [-s "1 64 512"] [-d DIR] [-c CRIU] BERTH_RUNTIME [RUNC]
#
# BERTH_RUNTIME is the binary to measure (target/release/berth-runtime);
# RUNC defaults to runc on PATH. CRIU defaults to what scripts/build-criu.sh
# prints (built once from shared/third_party/criu), else `criu` on PATH;
# both runtimes get it with `--criu`. Needs root, jq and /bin/busybox.
#
# One bundle per runtime (runc spec's default config over a writable busybox
# rootfs, no terminal), each container in its own cgroup under a private
# parent /berth-ckbench-PID (runc needs one on this host). The container
# runs busybox sh: `x=$(head -c SIZE /dev/zero | tr '\0' a)` (SIZE bytes of
# heap, written by the shell, as crates/runtime/tests/checkpoint.rs does for
# its 64 MiB), writes /ready, then `sleep 100000; echo ${#x}` (the shell,
# holding the heap, stays the init; without a use of x after the sleep,
# ash's heap is gone by the time the sleep runs). Its stdout and stderr are
# pipes (CRIU cannot dump a file of a mount the container does not see).
#
# Each round, for each size, the runtimes alternate (the order flips every
# round); for each: run -d, wait for /ready, sync, time `checkpoint
# --image-path` (the container ends), sync, time `restore -d --image-path
# --bundle` (the restored init must be running with VmRSS >= SIZE), then
# kill and delete it and remove the images. Round 0 warms caches (and
# berth-runtime's cached `criu check`) and is not counted. Images and state
# roots go in a temp dir under DIR (default /var/tmp).
#
# It prints min / median / max per runtime and size, the ratio of the
# medians (berth-runtime / runc), and CRIU's own share: the last timestamp
# of CRIU's log (dump.log, restore.log: seconds since CRIU began the
# request), so that total - CRIU is what the runtime adds around it.
# Everything it starts is killed and removed on exit, even a failed one.
set -uo pipefail
ROUNDS=5 SIZES="1 64 512" DIR=/var/tmp CRIU=
while getopts n:s:d:c: o; do
    case $o in
        n) ROUNDS=$OPTARG ;;
        s) SIZES=$OPTARG ;;
        d) DIR=$OPTARG ;;
        c) CRIU=$OPTARG ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: checkpoint.sh [-n ROUNDS] [-s SIZES] [-d DIR] [-c CRIU] BERTH_RUNTIME [RUNC]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "checkpoint.sh: needs root" >&2; exit 2; }
BERTH=$(realpath "$1")
RUNC=$(command -v "${2:-runc}") && RUNC=$(realpath "$RUNC") || { echo "checkpoint.sh: no ${2:-runc}" >&2; exit 2; }
for p in jq /bin/busybox; do
    command -v "$p" >/dev/null || { echo "checkpoint.sh: needs $p" >&2; exit 2; }
done
if [ -z "$CRIU" ]; then
    CRIU=$("$(dirname "$0")/../scripts/build-criu.sh" 2>/dev/null) || CRIU=$(command -v criu) ||
        { echo "checkpoint.sh: no CRIU (scripts/build-criu.sh, or -c PATH)" >&2; exit 2; }
fi
"$CRIU" check >/dev/null 2>&1 || { echo "checkpoint.sh: \`$CRIU check\` fails on this kernel" >&2; exit 2; }

W=$(mktemp -d "$DIR/ckbench.XXXXXX")
CG=/berth-ckbench-$$
RT=(berth runc)
declare -A BIN=([berth]="$BERTH" [runc]="$RUNC")
cleanup() {
    for r in "${RT[@]}"; do
        [ -d "$W/state-$r" ] || continue
        for id in $("${BIN[$r]}" --root "$W/state-$r" list -q 2>/dev/null); do
            "${BIN[$r]}" --root "$W/state-$r" kill "$id" KILL >/dev/null 2>&1
            "${BIN[$r]}" --root "$W/state-$r" delete -f "$id" >/dev/null 2>&1
        done
    done
    # A restore interrupted half-way may leave its bind of the rootfs.
    grep -o " $W/[^ ]*" /proc/self/mountinfo 2>/dev/null | sort -r | xargs -r -n1 umount -l 2>/dev/null
    for d in /sys/fs/cgroup/*"$CG"; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One busybox rootfs per runtime (the container writes /ready into it).
for r in "${RT[@]}"; do
    b=$W/bundle-$r
    mkdir -p "$b/rootfs"/{bin,proc,sys,dev,tmp,etc} "$W/state-$r"
    cp /bin/busybox "$b/rootfs/bin/busybox"
    for a in sh head tr sleep; do ln -s busybox "$b/rootfs/bin/$a"; done
    echo 'root:x:0:0:root:/:/bin/sh' >"$b/rootfs/etc/passwd"
    (cd "$b" && "$RUNC" spec) || exit 1
done
# The config for SIZE MiB and container ID.
configure() {
    jq --arg cg "$CG/$3" --arg s "x=\$(head -c $(($2 << 20)) /dev/zero | tr '\\0' a); echo \${#x} > /ready; sleep 100000; echo \${#x}" \
        '.process.terminal = false | .process.args = ["/bin/sh", "-c", $s]
         | .root.readonly = false | .linux.cgroupsPath = $cg' \
        "$W/bundle-$1/config.json" >"$W/bundle-$1/config.json.new" &&
        mv "$W/bundle-$1/config.json.new" "$W/bundle-$1/config.json"
}

declare -A S
add() { S[$1]="${S[$1]:-} $2"; }
now() { echo "${EPOCHREALTIME/./}"; }
stat3() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{printf "%s %s %s\n", a[1], a[int((NR+1)/2)], a[NR]}'; }
median() { echo "$1" | stat3 | awk '{print $2}'; }
# CRIU's last log timestamp, "(12.345678)", in microseconds.
criu_us() { grep -o '^([ 0-9]*\.[0-9]*)' "$1" 2>/dev/null | tail -1 | tr -d '() ' | awk '{printf "%d", $1 * 1000000}'; }
fail() { add "$1 failures $2" 1; echo "== $1 $2 MiB round $3: $4" >&2; }

# One measurement: runtime R, SIZE MiB, round N; whatever happened, the
# container and its images are gone afterwards.
measure() {
    measure_one "$@"
    local rt=("${BIN[$1]}" --root "$W/state-$1") id=ck-$1-$2-$3 i
    "${rt[@]}" kill "$id" KILL >/dev/null 2>&1
    for ((i = 0; i < 50; i++)); do
        "${rt[@]}" state "$id" >/dev/null 2>&1 || break
        "${rt[@]}" delete -f "$id" >/dev/null 2>&1 && break
        sleep 0.1
    done
    rm -rf "$W/img-$1-$2-$3"
}
measure_one() {
    local r=$1 size=$2 n=$3 bin=${BIN[$1]} id=ck-$1-$2-$3 img=$W/img-$1-$2-$3 t0 t1 t2 t3 pid rss
    local rt=("$bin" --root "$W/state-$r" --criu "$CRIU")
    local b=$W/bundle-$r
    rm -f "$b/rootfs/ready"
    configure "$r" "$size" "$id" || exit 1
    "${rt[@]}" run -d --bundle "$b" "$id" </dev/null > >(cat >>"$W/out-$r") 2>&1 ||
        { fail "$r" "$size" "$n" "run failed"; return; }
    local i
    for ((i = 0; i < 1200; i++)); do [ -s "$b/rootfs/ready" ] && break; sleep 0.1; done
    [ -s "$b/rootfs/ready" ] || { fail "$r" "$size" "$n" "never ready"; return; }
    sync
    t0=$(now)
    "${rt[@]}" checkpoint --image-path "$img" "$id" >>"$W/err-$r" 2>&1
    local ok=$?
    t1=$(now)
    [ $ok = 0 ] || { fail "$r" "$size" "$n" "checkpoint failed: $(tail -2 "$W/err-$r"; grep Error "$img/dump.log" | tail -2)"; return; }
    sync
    t2=$(now)
    "${rt[@]}" restore -d --image-path "$img" --bundle "$b" "$id" </dev/null > >(cat >>"$W/out-$r") 2>&1
    ok=$?
    t3=$(now)
    [ $ok = 0 ] || { fail "$r" "$size" "$n" "restore failed: $(tail -2 "$W/out-$r"; grep Error "$img/restore.log" | tail -2)"; return; }
    pid=$("${rt[@]}" state "$id" | jq -r .pid)
    rss=$(awk '/^VmRSS:/{print $2}' "/proc/$pid/status" 2>/dev/null)
    [ "${rss:-0}" -ge $((size * 1024)) ] || fail "$r" "$size" "$n" "restored VmRSS ${rss:-?} KiB < $size MiB"
    if [ "$n" != 0 ]; then
        add "$r ck $size" $((t1 - t0))
        add "$r rs $size" $((t3 - t2))
        add "$r ckcriu $size" "$(criu_us "$img/dump.log")"
        add "$r rscriu $size" "$(criu_us "$img/restore.log")"
        add "$r img $size" "$(du -sk "$img" | cut -f1)"
    fi
}

fstype=$(df --output=fstype "$W" | tail -1)
echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs, $(free -g | awk '/^Mem:/{print $2}') GiB; rounds=$ROUNDS sizes=$SIZES"
echo "# berth-runtime: $BERTH ($("$BERTH" --version | head -1)); runc: $RUNC ($("$RUNC" --version | head -1)); criu: $CRIU ($("$CRIU" --version | head -1))"
echo "# images and state in $W ($fstype); cgroup parent $CG; $(grep -q ' /sys/fs/cgroup/unified ' /proc/mounts && echo 'cgroup hybrid' || stat -f -c %T /sys/fs/cgroup)"
echo "# load at start:$(uptime | sed 's/.*load average//')"
for n in $(seq 0 "$ROUNDS"); do
    for size in $SIZES; do
        if [ $((n % 2)) = 0 ]; then order="berth runc"; else order="runc berth"; fi
        for r in $order; do measure "$r" "$size" "$n"; done
    done
    echo "round $n done $(date -u +%T)" >&2
done

ms() { awk -v a="$1" -v b="$2" -v c="$3" 'BEGIN{printf "%.0f / %.0f / %.0f", a/1000, b/1000, c/1000}'; }
for op in ck rs; do
    [ $op = ck ] && title=checkpoint || title="restore -d"
    echo
    echo "## $title (ms; CRIU = the last timestamp of its log)"
    echo "| MiB | berth-runtime min / med / max | runc min / med / max | berth / runc | CRIU med berth / runc | runtime's own med berth / runc | failures berth / runc |"
    echo "|---|---|---|---|---|---|---|"
    for size in $SIZES; do
        read -r ba bb bc <<<"$(echo "${S[berth $op $size]:-0}" | stat3)"
        read -r ra rb rc <<<"$(echo "${S[runc $op $size]:-0}" | stat3)"
        bcr=$(median "${S[berth ${op}criu $size]:-0}") rcr=$(median "${S[runc ${op}criu $size]:-0}")
        awk -v s="$size" -v b="$(ms "$ba" "$bb" "$bc")" -v r="$(ms "$ra" "$rb" "$rc")" -v bm="$bb" -v rm="$rb" \
            -v bc="$bcr" -v rc="$rcr" \
            -v bf="$(echo "${S[berth failures $size]:-}" | wc -w)" -v rf="$(echo "${S[runc failures $size]:-}" | wc -w)" \
            'BEGIN{printf "| %s | %s | %s | **%.2f** | %.0f / %.0f | %.0f / %.0f | %d / %d |\n",
                s, b, r, (rm > 0 ? bm / rm : 0), bc/1000, rc/1000, (bm-bc)/1000, (rm-rc)/1000, bf, rf}'
    done
done
echo
for size in $SIZES; do
    echo "image size $size MiB (KiB, median): berth $(median "${S[berth img $size]:-0}"), runc $(median "${S[runc img $size]:-0}")"
done
echo "# load at end:$(uptime | sed 's/.*load average//')"
exit 0
