#!/usr/bin/env bash
# Builds the berth-runtime binary to ship: release profile, statically
# linked (static-pie glibc, libseccomp.a). A static binary starts about
# 1.4 ms (CPU) faster per process than the dynamic one `cargo build
# --release` makes, mostly the dynamic loader's symbol binding; create, run
# and exec start two processes (see docs/benchmarks.md). Behaviour is the
# same: berth-runtime uses no NSS, iconv or dlopen.
#
#   scripts/build-release.sh     # prints the binary's path
#
# crt-static is passed with an explicit --target so that it applies to the
# binary only, not to proc-macros and build scripts (rustc cannot build a
# proc-macro with crt-static). Needs libseccomp-dev (for libseccomp.a).
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(rustc -vV | awk '/^host:/ {print $2}')
case $target in
    *-linux-gnu) ;;
    *) echo "build-release: static build is set up for *-linux-gnu hosts, not $target" >&2; exit 2 ;;
esac
libdir=$(dirname "$(gcc -print-file-name=libseccomp.a)")
[ -f "$libdir/libseccomp.a" ] || { echo "build-release: libseccomp.a not found (apt-get install libseccomp-dev)" >&2; exit 2; }
LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH=$libdir RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --release -p berth-runtime --target "$target" >&2
echo "${CARGO_TARGET_DIR:-$PWD/target}/$target/release/berth-runtime"
