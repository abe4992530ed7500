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
# Link options for the binary only (`cargo rustc` passes them to the final
# crate, so the dependencies' builds stay shared with `cargo build`):
# - pack-relative-relocs (RELR): the ~11,500 relative relocations of the
#   static-pie take 3.5 KB instead of 278 KB, which every start reads;
# - symbol-ordering-file: the functions a create/start/exec/delete/run
#   executes, laid out together (runtime-only ones, then shared, then
#   init-only), so a process faults in ~600 KB of hot text instead of most
#   of the 2.7 MB the kernel's fault-around would otherwise touch. A name
#   the build no longer has is skipped; the list only affects layout, never
#   behaviour. Regenerate it with bench/symbol-order.sh after large changes.
# The ordering needs LLD, rustc's own linker on x86_64 Linux since 1.90;
# an older rustc links with the system's ld, which gets RELR only.
link=(-C link-arg=-Wl,-z,pack-relative-relocs)
minor=$(rustc -vV | awk -F. '/^release:/ {print $2}')
if [ "${minor:-0}" -ge 90 ]; then
    link+=(-C link-arg=-Wl,--symbol-ordering-file="$PWD/scripts/berth-runtime.order"
        -C link-arg=-Wl,--no-warn-symbol-ordering)
fi
LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH=$libdir RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo rustc --release -p berth-runtime --bin berth-runtime --target "$target" -- "${link[@]}" >&2
echo "${CARGO_TARGET_DIR:-$PWD/target}/$target/release/berth-runtime"
