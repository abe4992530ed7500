#!/usr/bin/env bash
# Builds CRIU (the checkpoint/restore tool berth-runtime's `checkpoint` and
# `restore` talk to) from the source tarball in shared/third_party/criu into
# a cache directory, once: a second run with the same tarball only prints the
# binary's path. Debian 12's criu 3.17 cannot run on kernels >= 6.13 (see
# shared/third_party/criu/README.md), hence the build.
#
#   scripts/build-criu.sh            prints the path of the criu binary
#
# Environment:
#   CRIU_TARBALL   the source tarball (default: found under shared/third_party/criu)
#   CRIU_CACHE     where to build (default /var/cache/berth-test/criu)
#
# Needs the build packages listed in .ci/run (libprotobuf-c-dev, libnl-3-dev, ...).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "build-criu.sh: $*" >&2; exit 1; }

tarball=${CRIU_TARBALL:-}
if [ -z "$tarball" ]; then
    # shared/ lives beside the repo on the CI machine (as critest.sh finds
    # cri-tools).
    for base in "$repo/../shared" "$repo/shared" /work/shared; do
        for f in "$base"/third_party/criu/criu-*.tar.gz; do
            [ -f "$f" ] && tarball=$f && break 2
        done
    done
fi
[ -n "$tarball" ] && [ -f "$tarball" ] || die "no criu-*.tar.gz under shared/third_party/criu (set CRIU_TARBALL)"

cache=${CRIU_CACHE:-/var/cache/berth-test/criu}
stamp=$(sha256sum "$tarball" | cut -d' ' -f1)
bin=$cache/bin/criu
if [ "$(cat "$cache/stamp" 2>/dev/null)" != "$stamp" ] || [ ! -x "$bin" ]; then
    echo "building criu from $tarball" >&2
    rm -rf "$cache"
    mkdir -p "$cache/src" "$cache/bin"
    tar -xzf "$tarball" -C "$cache/src"
    src=$(find "$cache/src" -mindepth 1 -maxdepth 1 -type d | head -n1)
    make -C "$src" -j"$(nproc)" criu >"$cache/build.log" 2>&1 ||
        { tail -n 30 "$cache/build.log" >&2; die "make failed (log: $cache/build.log)"; }
    cp "$src/criu/criu" "$bin"
    rm -rf "$cache/src"
    echo "$stamp" >"$cache/stamp"
fi
echo "$bin"
