#!/usr/bin/env bash
# berth's image paths beside the tools people use for the same job.
#
#   bench/images.sh [-n RUNS] [-l LAYERS] [-m MIB_PER_LAYER] [-d UNPACK_DIR] [-o pull|unpack] [BERTH]
#
# 1. pull: a LAYERS-layer image (each layer MIB_PER_LAYER of random data
#    plus 200 small files, gzip) from a local docker-registry on
#    127.0.0.1: `berth pull` into an empty store (download, verify,
#    unpack into snapshots) vs `skopeo copy docker://... oci:DIR`
#    (download and verify only: skopeo does not unpack), and vs that copy
#    followed by `umoci unpack` (the same work as berth's pull).
# 2. unpack: one large layer (the files of UNPACK_DIR, default
#    /usr/share, gzip), as an OCI archive: `berth load` (stage the
#    archive's blobs, verify, unpack) vs `umoci unpack` of the same
#    image from an OCI layout (decompress, unpack, write its mtree).
#
# -o runs only one of the two. BERTH defaults to target/release/berth of this repo. Needs root,
# docker-registry, skopeo, umoci. Prints each run and the medians, and the
# ratio berth / other (below 1: berth is faster). The page cache is warm
# (nothing is dropped: other work on the machine would pay for it).
set -euo pipefail

RUNS=5
LAYERS=8
MIB=16
UNPACK_DIR=/usr/share
ONLY=
while getopts n:l:m:d:o: o; do
    case $o in
        n) RUNS=$OPTARG ;;
        l) LAYERS=$OPTARG ;;
        m) MIB=$OPTARG ;;
        d) UNPACK_DIR=$OPTARG ;;
        o) ONLY=$OPTARG ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
here=$(cd "$(dirname "$0")/.." && pwd)
BERTH=${1:-$here/target/release/berth}
[ -x "$BERTH" ] || { echo "bench/images.sh: $BERTH not found (cargo build --release -p berth)" >&2; exit 2; }
for t in docker-registry skopeo umoci; do
    command -v $t >/dev/null || { echo "bench/images.sh: $t is not installed" >&2; exit 2; }
done

W=$(mktemp -d /var/tmp/berth-bench-images.XXXXXX)
REG_PID=
cleanup() {
    [ -z "$REG_PID" ] || kill "$REG_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT

now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { print a - b }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

if [ "$ONLY" != unpack ]; then
# --- a registry on a free port ---------------------------------------------
for _ in 1 2 3 4 5; do
    PORT=$((20000 + RANDOM % 30000))
    cat > "$W/registry.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $W/registry
http:
  addr: 127.0.0.1:$PORT
EOF
    docker-registry serve "$W/registry.yml" > "$W/registry.log" 2>&1 &
    REG_PID=$!
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break 2; fi
        kill -0 "$REG_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill "$REG_PID" 2>/dev/null || true
    REG_PID=
done
[ -n "$REG_PID" ] || { echo "bench/images.sh: docker-registry did not start" >&2; cat "$W/registry.log" >&2; exit 1; }
REG=127.0.0.1:$PORT

# --- the multi-layer image, built with umoci, pushed with skopeo -----------
echo "building a $LAYERS-layer image ($MIB MiB random + 200 files per layer)..." >&2
umoci init --layout "$W/src"
umoci new --image "$W/src:t"
for i in $(seq "$LAYERS"); do
    umoci unpack --image "$W/src:t" "$W/bundle" >/dev/null
    mkdir -p "$W/bundle/rootfs/layer$i"
    head -c "$((MIB << 20))" /dev/urandom > "$W/bundle/rootfs/layer$i/blob"
    for f in $(seq 200); do echo "layer $i file $f" > "$W/bundle/rootfs/layer$i/f$f"; done
    umoci repack --image "$W/src:t" "$W/bundle" >/dev/null
    rm -rf "$W/bundle"
done
skopeo copy -q --dest-tls-verify=false "oci:$W/src:t" "docker://$REG/bench/multi:t"

pull_berth=()
pull_skopeo=()
pull_umoci=()
for r in $(seq "$RUNS"); do
    t0=$(now)
    "$BERTH" --root "$W/b" pull -q --tls-verify=false "$REG/bench/multi:t" >/dev/null
    t1=$(now)
    skopeo copy -q --src-tls-verify=false "docker://$REG/bench/multi:t" "oci:$W/s:t"
    t2=$(now)
    umoci unpack --image "$W/s:t" "$W/u" >/dev/null
    t3=$(now)
    rm -rf "$W/b" "$W/s" "$W/u"
    b=$(sub "$t1" "$t0"); s=$(sub "$t2" "$t1"); u=$(sub "$t3" "$t1")
    pull_berth+=("$b"); pull_skopeo+=("$s"); pull_umoci+=("$u")
    printf 'pull run %d: berth %.3fs  skopeo %.3fs  skopeo+umoci unpack %.3fs\n' "$r" "$b" "$s" "$u" >&2
done

fi

if [ "$ONLY" != pull ]; then
# --- one large layer ---------------------------------------------------------
echo "building a one-layer image of $UNPACK_DIR..." >&2
umoci init --layout "$W/big"
umoci new --image "$W/big:t"
umoci unpack --image "$W/big:t" "$W/bundle" >/dev/null
cp -a "$UNPACK_DIR" "$W/bundle/rootfs/payload"
umoci repack --image "$W/big:t" "$W/bundle" >/dev/null
rm -rf "$W/bundle"
# umoci's index names the image "t"; berth wants a full reference to tag it
# (a bare ref.name loads untagged, which is fine here).
tar -C "$W/big" -cf "$W/big.tar" .
layer_size=$(du -sm "$W/big/blobs" | cut -f1)
files=$(find "$UNPACK_DIR" -xdev | wc -l)

unpack_berth=()
unpack_umoci=()
for r in $(seq "$RUNS"); do
    t0=$(now)
    "$BERTH" --root "$W/b" load -q -i "$W/big.tar" >/dev/null
    t1=$(now)
    umoci unpack --image "$W/big:t" "$W/u" >/dev/null
    t2=$(now)
    rm -rf "$W/b" "$W/u"
    b=$(sub "$t1" "$t0"); u=$(sub "$t2" "$t1")
    unpack_berth+=("$b"); unpack_umoci+=("$u")
    printf 'unpack run %d: berth load %.3fs  umoci unpack %.3fs\n' "$r" "$b" "$u" >&2
done

fi

echo
echo "medians of $RUNS runs"
if [ "$ONLY" != unpack ]; then
pb=$(printf '%s\n' "${pull_berth[@]}" | median)
ps=$(printf '%s\n' "${pull_skopeo[@]}" | median)
pu=$(printf '%s\n' "${pull_umoci[@]}" | median)
printf 'pull   %d layers x %d MiB:  berth pull %.2fs  skopeo copy %.2fs (ratio %.2f)  skopeo copy + umoci unpack %.2fs (ratio %.2f)\n' \
    "$LAYERS" "$MIB" "$pb" "$ps" "$(awk -v a="$pb" -v b="$ps" 'BEGIN { print a / b }')" \
    "$pu" "$(awk -v a="$pb" -v b="$pu" 'BEGIN { print a / b }')"
fi
if [ "$ONLY" != pull ]; then
ub=$(printf '%s\n' "${unpack_berth[@]}" | median)
uu=$(printf '%s\n' "${unpack_umoci[@]}" | median)
printf 'unpack %s (%d files, %d MiB of blobs):  berth load %.2fs  umoci unpack %.2fs  ratio %.2f\n' \
    "$UNPACK_DIR" "$files" "$layer_size" "$ub" "$uu" "$(awk -v a="$ub" -v b="$uu" 'BEGIN { print a / b }')"
fi
