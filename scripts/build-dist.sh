#!/usr/bin/env bash
# Builds the binaries to ship, together in one directory, and prints it:
#
#   berth, berth-monitor   release build (dynamic glibc; they start once per
#                          command or container, and berth resolves registry
#                          names through NSS, which a static glibc cannot)
#   berth-runtime          static-pie (scripts/build-release.sh): no dynamic
#                          loader at each of the two process starts of a
#                          sealed create/run/exec (docs/benchmarks.md)
#   berth-init             static (scripts/build-init.sh): it runs inside
#                          any image, with or without a libc
#
# berth finds berth-runtime, berth-monitor and berth-init next to itself, so
# running `DIR/berth` uses the fast runtime. A plain `cargo build --release`
# still works, but its target/release/berth-runtime is the slower dynamic one.
#
#   scripts/build-dist.sh                # prints target/dist/bin
#   scripts/install.sh [PREFIX]          # builds this and copies it to PREFIX/bin
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -p berth >&2
runtime=$(scripts/build-release.sh)
init=$(scripts/build-init.sh)
dist="$target_dir/dist/bin"
mkdir -p "$dist"
# Copy to a temporary name, then rename: a running berth keeps its old file.
for src in "$target_dir/release/berth" "$target_dir/release/berth-monitor" "$runtime" "$init"; do
    name=$(basename "$src")
    cp "$src" "$dist/.$name.new"
    mv -f "$dist/.$name.new" "$dist/$name"
done
echo "$dist"
