#!/usr/bin/env bash
# Builds berth-init, the init `berth run --init` bind-mounts into the
# container as PID 1, as a static binary (it must run in any image, with
# or without a libc), and prints its path. berth finds it at $BERTH_INIT,
# else as `berth-init` next to the `berth` binary; ship it there.
#
#   scripts/build-init.sh            # release build, prints the path
#
# crt-static with an explicit --target applies to the binary only, not to
# build scripts and proc-macros (as in scripts/build-release.sh, whose
# target directory this shares).
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(rustc -vV | awk '/^host:/ {print $2}')
case $target in
    *-linux-gnu) ;;
    *) echo "build-init: the static build is set up for *-linux-gnu hosts, not $target" >&2; exit 2 ;;
esac
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --release -p berth-init --target "$target" >&2
echo "${CARGO_TARGET_DIR:-$PWD/target}/$target/release/berth-init"
