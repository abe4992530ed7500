#!/usr/bin/env bash
# `berth build` against Debian's `buildah bud` (1.28) on the same
# Dockerfiles of the build corpus (crates/cli/tests/build), side by side in
# one run, three scenarios per case:
#   cold     a build with --no-cache (base images present, nothing cached);
#   cached   the same build again right after a cached build: every step
#            is a cache hit (buildah with --layers, so that it caches);
#   changed  one source file of the context edited (a line appended, new
#            each time), then a build: the steps from its COPY on run again.
# Each timed build also records the builder's peak RSS (GNU time's %M: the
# largest resident set of the builder and the children it waited for).
#
#   bench/build.sh [-n RUNS] [-c CASES] [-R RUNTIME] [-d DIR] [-o berth,buildah] BERTH
#
# BERTH is the berth binary (e.g. target/release/berth): it makes the base
# images for both builders (`berth import`/`load`, `berth save`, then
# `buildah pull docker-archive:`), and is measured when it has `build` (until
# then the script says so and measures buildah alone; -o buildah does the
# same on purpose). CASES is a comma list of corpus directories (default
# copy-flags,user-names,multistage-gcc,debian-steps: two on busybox, a
# multi-stage gcc build and a multi-step Debian one); RUNS rounds (default
# 5) after a warm-up round, the builders alternating (berth first in odd
# rounds). RUNTIME (default runc) runs every RUN step of both: berth
# `--runtime RUNTIME build --network none`, buildah `--isolation oci
# --runtime RUNTIME --network none`; both with overlay storage in their own
# roots in a temp dir in DIR (default /var/tmp), cgroupfs.
#
# The Debian base image is the tests' (berth_testutil::import_debian):
# /var/cache/berth-test/debian-bookworm-minbase-gcc-v1.oci.tar when it
# exists (BERTH_TEST_CACHE moves it), else made here with mmdebstrap and
# `berth import` (not timed). The busybox one is made from /bin/busybox as
# the tests make `bb:1`.
#
# Everything runs in a mount namespace of its own (`unshare -m`), without
# /sys/fs/cgroup/unified on a hybrid host (crun 1.8 refuses those), as
# bench/engine-run.sh does. Needs root, buildah, /usr/bin/time, unshare,
# /bin/busybox; mmdebstrap when the Debian archive is not cached.
set -uo pipefail
ARGS=("$@")
RUNS=5 CASES=copy-flags,user-names,multistage-gcc,debian-steps RT=runc DIR=/var/tmp ONLY=berth,buildah
while getopts n:c:R:d:o: o; do
    case $o in
        n) RUNS=$OPTARG ;;
        c) CASES=$OPTARG ;;
        R) RT=$OPTARG ;;
        d) DIR=$OPTARG ;;
        o) ONLY=$OPTARG ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
usage() { echo "usage: build.sh [-n RUNS] [-c CASES] [-R RUNTIME] [-d DIR] [-o berth,buildah] BERTH" >&2; exit 2; }
[ $# -eq 1 ] || usage
BERTH=$(realpath "$1")
[ -x "$BERTH" ] || { echo "build: $1 is not executable" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "build: needs root" >&2; exit 2; }
for p in buildah unshare /usr/bin/time /bin/busybox "$RT"; do
    command -v "$p" >/dev/null || { echo "build: needs $p (apt-get install buildah time util-linux busybox-static)" >&2; exit 2; }
done
CORPUS=$(cd "$(dirname "$0")/../crates/cli/tests/build" && pwd)
# The file each case's "changed" scenario edits (a COPY reads it).
declare -A CHANGED=([copy-flags]=files/b.txt [user-names]=owned.txt [multistage-gcc]=hello.c
    [debian-steps]=src/util.c [dockerignore]=a.txt [symlink-outside]=dir/file
    [onbuild/child]=trigger.txt [copy-link]=files.txt)
for c in ${CASES//,/ }; do
    [ -f "$CORPUS/$c/Dockerfile" ] || { echo "build: no corpus case $c" >&2; exit 2; }
    [ -n "${CHANGED[$c]:-}" ] || { echo "build: case $c has no file to change (known: ${!CHANGED[*]})" >&2; exit 2; }
done

# A private mount namespace for the whole run (see above).
if [ -z "${BENCH_PRIVATE_NS:-}" ]; then
    export BENCH_PRIVATE_NS=1
    exec unshare -m --propagation private bash -c '
        if grep -q " /sys/fs/cgroup/unified " /proc/mounts; then umount /sys/fs/cgroup/unified || exit 1; fi
        exec "$0" "$@"' "$0" "${ARGS[@]}"
fi

rtp=$(command -v "$RT") && rtp=$(realpath "$rtp") || { echo "build: no runtime $RT" >&2; exit 2; }
W=$(mktemp -d "$DIR/buildbench.XXXXXX")
CG=/berth-buildbench-$$
B=("$BERTH" --root "$W/berth" --runtime "$rtp")
# buildah: storage, run root, registries and temp files in $W only.
cat >"$W/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$W/buildah/root"
runroot = "$W/buildah/run"
EOF
printf 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n' >"$W/registries.conf"
mkdir -p "$W/buildah/tmp" "$W/ctx"
export CONTAINERS_STORAGE_CONF=$W/storage.conf CONTAINERS_REGISTRIES_CONF=$W/registries.conf
H=(buildah --root "$W/buildah/root" --runroot "$W/buildah/run" --storage-driver overlay)
cleanup() {
    TMPDIR=$W/buildah/tmp "${H[@]}" rm --all >/dev/null 2>&1
    "${B[@]}" ps -aq --no-trunc 2>/dev/null | xargs -r "${B[@]}" rm -f >/dev/null 2>&1
    grep -o " $W[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null
    for d in /sys/fs/cgroup/*"$CG"; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
    rm -rf "$W"
}
trap cleanup EXIT

declare -A S
add() { S[$1]="${S[$1]:-} $2"; }
now() { echo "${EPOCHREALTIME/./}"; }
stat3() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{printf "%s %s %s\n", a[1], a[int((NR+1)/2)], a[NR]}'; }
median() { echo "$1" | stat3 | awk '{print $2}'; }

echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs; cases $CASES; runs=$RUNS; runtime $rtp ($("$rtp" --version | head -1)); temp dir in $DIR ($(df --output=fstype "$DIR" | tail -1))"
echo "# $("$BERTH" --version); $(buildah --version)"
echo "# load at start:$(uptime | sed 's/.*load average//')"

# ---- which builders ----------------------------------------------------------
BUILDERS=()
case ",$ONLY," in *,berth,*)
    if "$BERTH" build --help >/dev/null 2>&1; then BUILDERS+=(berth)
    else echo "# berth: $BERTH has no \`build\` command yet: measuring buildah alone"; fi ;;
esac
case ",$ONLY," in *,buildah,*) BUILDERS+=(buildah) ;; esac
[ ${#BUILDERS[@]} -gt 0 ] || { echo "build: nothing to measure" >&2; exit 2; }

# ---- base images ---------------------------------------------------------------
rootfs=$W/rootfs
mkdir -p "$rootfs"/{bin,proc,sys,dev,etc,mnt,root,tmp,home/user}
chmod 1777 "$rootfs/tmp"; chmod 700 "$rootfs/root"
cp /bin/busybox "$rootfs/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
chown 1000:1000 "$rootfs/home/user"
tar -C "$rootfs" -cf "$W/bb.tar" .
"${B[@]}" import "$W/bb.tar" bb:1 >/dev/null || { echo "build: berth import of busybox failed" >&2; exit 1; }
if grep -q 'deb:12' $(for c in ${CASES//,/ }; do echo "$CORPUS/$c/Dockerfile"; done); then
    cache=${BERTH_TEST_CACHE:-/var/cache/berth-test}/debian-bookworm-minbase-gcc-v1.oci.tar
    if [ -f "$cache" ]; then
        "${B[@]}" load -i "$cache" >/dev/null || { echo "build: berth load $cache failed" >&2; exit 1; }
    else
        command -v mmdebstrap >/dev/null || { echo "build: needs mmdebstrap (or $cache)" >&2; exit 2; }
        echo "# making the Debian image with mmdebstrap (not timed)"
        mmdebstrap --quiet --variant=minbase --include=gcc,libc6-dev --mode=root --format=tar bookworm "$W/deb.tar" >"$W/mmdebstrap.log" 2>&1 ||
            { echo "build: mmdebstrap failed:" >&2; tail -5 "$W/mmdebstrap.log" >&2; exit 1; }
        "${B[@]}" import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'CMD ["bash"]' "$W/deb.tar" deb:12 >/dev/null || { echo "build: berth import of Debian failed" >&2; exit 1; }
        rm -f "$W/deb.tar"
    fi
    IMAGES="bb:1 deb:12"
else
    IMAGES="bb:1"
fi
if [[ " ${BUILDERS[*]} " == *" buildah "* ]]; then
    for i in $IMAGES; do
        "${B[@]}" save -o "$W/img.tar" "$i" && TMPDIR=$W/buildah/tmp "${H[@]}" pull -q "docker-archive:$W/img.tar" >/dev/null ||
            { echo "build: loading $i into buildah failed" >&2; exit 1; }
        rm -f "$W/img.tar"
    done
fi

# ---- builds ----------------------------------------------------------------------
# build WHO CASE [--no-cache]: one timed build; sets LAST (us), RSS (KiB), OK.
build() {
    local who=$1 case=$2 ctx=$W/ctx/$who/$2 tag=bench-${2//\//-}:1 flags=() t0 t1
    shift 2
    [ -f "$CORPUS/$case/build-flags" ] && mapfile -t flags <"$CORPUS/$case/build-flags"
    t0=$(now)
    if [ "$who" = berth ]; then
        /usr/bin/time -f %M -o "$W/rss" "${B[@]}" build -q --network none -t "$tag" "${flags[@]}" "$@" "$ctx" \
            >/dev/null 2>>"$W/err-berth"
    else
        TMPDIR=$W/buildah/tmp /usr/bin/time -f %M -o "$W/rss" "${H[@]}" bud -q --pull=false --layers --format docker \
            --isolation oci --runtime "$rtp" --network none --cgroup-parent "$CG" \
            -t "$tag" "${flags[@]}" "$@" "$ctx" >/dev/null 2>>"$W/err-buildah"
    fi
    OK=$?
    t1=$(now)
    LAST=$((t1 - t0)) RSS=$(tail -1 "$W/rss")
}
# Each builder edits its own copy of the contexts.
for who in "${BUILDERS[@]}"; do
    for c in ${CASES//,/ }; do
        mkdir -p "$W/ctx/$who/$(dirname "$c")"
        cp -a "$CORPUS/$c" "$W/ctx/$who/$c"
    done
done
# The onbuild child needs its parent image.
for c in ${CASES//,/ }; do
    [ "$c" = onbuild/child ] || continue
    for who in "${BUILDERS[@]}"; do
        cp -a "$CORPUS/onbuild/parent" "$W/ctx/$who/onbuild/parent"
        build "$who" onbuild/parent
        [ $OK = 0 ] || { echo "build: $who could not build onbuild/parent" >&2; exit 1; }
        if [ "$who" = berth ]; then "${B[@]}" tag bench-onbuild-parent:1 onbuild-parent:1
        else TMPDIR=$W/buildah/tmp "${H[@]}" tag bench-onbuild-parent:1 onbuild-parent:1; fi
    done
done

for r in $(seq 0 "$RUNS"); do # round 0 warms caches and is not counted
    if [ $((r % 2)) = 1 ]; then order=("${BUILDERS[@]}"); else order=($(printf '%s\n' "${BUILDERS[@]}" | tac)); fi
    for c in ${CASES//,/ }; do
        for who in "${order[@]}"; do
            for sc in cold cached changed; do
                case $sc in
                    cold) build "$who" "$c" --no-cache ;;
                    cached) build "$who" "$c" ;;
                    changed)
                        echo "/* round $r $RANDOM */" >>"$W/ctx/$who/$c/${CHANGED[$c]}"
                        build "$who" "$c" ;;
                esac
                echo "round $r $c $who $sc $((LAST / 1000)) ms ${RSS} KiB $([ $OK = 0 ] || echo FAILED)" >&2
                [ "$r" = 0 ] && continue
                if [ $OK = 0 ]; then add "$c $who $sc" "$LAST"; add "$c $who $sc rss" "$RSS"
                else add "$c $who $sc failures" 1; fi
            done
        done
    done
done

# ---- report ------------------------------------------------------------------------
declare -A GOAL=([cold]="<= 1.0" [cached]="<= 0.5" [changed]="<= 0.7")
echo
echo "## build time, ms (min / median / max) and peak RSS of the builder, MiB (median)"
echo "| case | scenario | $(printf '%s | ' "${BUILDERS[@]}")$([ ${#BUILDERS[@]} = 2 ] && echo "berth / buildah | goal |")"
echo "|---|---|$(printf -- '---|%.0s' "${BUILDERS[@]}")$([ ${#BUILDERS[@]} = 2 ] && echo "---|---|")"
for c in ${CASES//,/ }; do
    for sc in cold cached changed; do
        row="| $c | $sc |"
        for who in "${BUILDERS[@]}"; do
            k="$c $who $sc"
            f=$(echo "${S[$k failures]:-}" | wc -w)
            if [ -z "${S[$k]:-}" ]; then row="$row - ($f failed) |"; continue; fi
            read -r a b m <<<"$(echo "${S[$k]}" | stat3)"
            row="$row $(awk -v a="$a" -v b="$b" -v m="$m" -v r="$(median "${S[$k rss]}")" -v f="$f" \
                'BEGIN{printf "%.0f / %.0f / %.0f, %.1f MiB%s", a/1000, b/1000, m/1000, r/1024, f ? " (" f " failed)" : ""}') |"
        done
        if [ ${#BUILDERS[@]} = 2 ]; then
            if [ -n "${S[$c berth $sc]:-}" ] && [ -n "${S[$c buildah $sc]:-}" ]; then
                row="$row $(awk -v a="$(median "${S[$c berth $sc]}")" -v b="$(median "${S[$c buildah $sc]}")" 'BEGIN{printf "%.2f", a/b}') | ${GOAL[$sc]} |"
            else
                row="$row - | ${GOAL[$sc]} |"
            fi
        fi
        echo "$row"
    done
done

echo
echo "# load at end:$(uptime | sed 's/.*load average//')"
for f in "$W"/err-*; do [ -s "$f" ] && { echo "== $(basename "$f") (last lines)"; tail -3 "$f"; }; done
exit 0
