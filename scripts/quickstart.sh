#!/usr/bin/env bash
# Quick start: build berth-runtime, make a busybox bundle with `spec`, run a
# container in it, clean up. Needs root (uses sudo when not root).
#
#   scripts/quickstart.sh               # with target/release/berth-runtime
#   RUNTIME=runc scripts/quickstart.sh  # the same steps with runc (no build)
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# 1. Packages: a static busybox for the rootfs, jq to edit config.json.
if [ ! -x /bin/busybox ] || ! command -v jq >/dev/null; then
    $SUDO apt-get update
    $SUDO apt-get install -y busybox-static jq
fi

# 2. The runtime.
if [ -n "${RUNTIME:-}" ]; then
    RT="$(command -v "$RUNTIME" || echo "$RUNTIME")"
else
    cargo build --release
    RT="${CARGO_TARGET_DIR:-$PWD/target}/release/berth-runtime"
fi
echo "runtime: $RT ($("$RT" --version | head -n1))"

# 3. A bundle: rootfs from busybox, config.json from `spec`.
BUNDLE="$(mktemp -d /tmp/berth-quickstart-XXXXXX)"
chmod 755 "$BUNDLE"
STATE="$BUNDLE/state"
ID="quickstart-$$"
cleanup() {
    $SUDO "$RT" --root "$STATE" delete --force "$ID" >/dev/null 2>&1 || true
    $SUDO rm -rf "$BUNDLE"
}
trap cleanup EXIT

mkdir -p "$BUNDLE"/rootfs/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$BUNDLE/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$BUNDLE/rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$BUNDLE/rootfs/etc/passwd"

(cd "$BUNDLE" && "$RT" spec)
jq '.process.terminal = false
    | .process.args = ["sh", "-c", "echo hostname: $(hostname); ps; ls -l /proc/self/ns"]' \
    "$BUNDLE/config.json" > "$BUNDLE/config.json.new"
mv "$BUNDLE/config.json.new" "$BUNDLE/config.json"

# 4. Run it in the foreground; `run` deletes the container when it exits.
echo "+ $RT --root $STATE run --bundle $BUNDLE $ID"
$SUDO "$RT" --root "$STATE" run --bundle "$BUNDLE" "$ID"
