#!/usr/bin/env bash
# Quick start: build berth, make a busybox image locally (there is no
# registry to pull from), and `berth run` a container from it; clean up.
# Needs root (uses sudo when not root).
#
#   scripts/quickstart.sh               # with berth's own runtime, berth-runtime
#   RUNTIME=runc scripts/quickstart.sh  # the same container under runc (or crun, a path)
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# 1. Packages: a static busybox for the image; libseccomp-dev (libseccomp.a
#    for the static runtime) and pkg-config for the build; libnftables1 for
#    the default bridge network's nftables table (berth loads it at run time).
if [ ! -x /bin/busybox ] || ! [ -f "$(gcc -print-file-name=libseccomp.a)" ] || ! command -v pkg-config >/dev/null \
    || ! ldconfig -p | grep -q 'libnftables\.so\.1 '; then
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends busybox-static libseccomp-dev pkg-config libnftables1
fi

# 2. berth, berth-monitor, the static berth-runtime and berth-init, side by
#    side in target/dist/bin (scripts/build-dist.sh); berth uses the ones
#    next to it.
BERTH="$(scripts/build-dist.sh)/berth"

# 3. An image: a busybox root filesystem as a tarball, imported.
WORK="$(mktemp -d /tmp/berth-quickstart-XXXXXX)"
ROOT="$WORK/root"
NAME="quickstart-$$"
B=("$BERTH" --root "$ROOT" --runtime "${RUNTIME:-berth}")
# The default network's bridge, berth0, stays after a container (as
# docker0 does); this throwaway root's goes with it unless it was there.
had_bridge=0
if [ -e /sys/class/net/berth0 ]; then had_bridge=1; fi
cleanup() {
    $SUDO "${B[@]}" rm -f "$NAME" >/dev/null 2>&1 || true
    if [ "$had_bridge" = 0 ] && [ -e /sys/class/net/berth0 ]; then
        $SUDO ip link delete berth0 || true
    fi
    $SUDO rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK"/rootfs/{bin,proc,sys,dev,tmp,etc,root}
cp /bin/busybox "$WORK/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$WORK/rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$WORK/rootfs/etc/passwd"
echo 'root:x:0:' > "$WORK/rootfs/etc/group"
tar -C "$WORK/rootfs" -cf "$WORK/rootfs.tar" .
$SUDO "${B[@]}" import "$WORK/rootfs.tar" busybox:quickstart
$SUDO "${B[@]}" images

# 4. Run a container from it in the foreground; --rm removes it at exit.
echo "+ berth run --rm --name $NAME busybox:quickstart sh -c '...'"
$SUDO "${B[@]}" run --rm --name "$NAME" busybox:quickstart \
    sh -c 'echo hostname: $(hostname); ps; ls -l /proc/self/ns; ip -o -4 addr show eth0'
