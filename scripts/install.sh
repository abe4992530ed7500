#!/usr/bin/env bash
# Builds the shipping binaries (scripts/build-dist.sh: static-pie
# berth-runtime, static berth-init, berth and berth-monitor) and installs
# them side by side into PREFIX/bin (default /usr/local), where berth finds
# the other three. DESTDIR is honoured for packaging.
#
#   sudo scripts/install.sh              # /usr/local/bin/{berth,berth-monitor,berth-runtime,berth-init}
#   scripts/install.sh "$HOME/.local"    # PREFIX
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${1:-/usr/local}"
dist=$(scripts/build-dist.sh)
dest="${DESTDIR:-}$prefix/bin"
mkdir -p "$dest"
for name in berth berth-monitor berth-runtime berth-init; do
    install -m 0755 "$dist/$name" "$dest/.$name.new"
    mv -f "$dest/.$name.new" "$dest/$name"
    echo "$dest/$name"
done
