#!/usr/bin/env bash
# Runs this crate's tests (unit + privileged) as root on a pure cgroup v2 guest
# (../shared/tools/cgv2vm). BERTH_REQUIRE_CGROUP=v2 makes every test fail if the
# guest is not v2; BERTH_REQUIRE_ROOT=1 forbids root skips.
#
#   crates/cgroups/scripts/test-in-v2vm.sh [TEST-FILTER] [-- LIBTEST-ARGS]
#
# V2VM (default /work/shared/tools/cgv2vm/run-in-v2vm.sh) locates the launcher.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
vm=${V2VM:-/work/shared/tools/cgv2vm/run-in-v2vm.sh}
target=${CARGO_TARGET_DIR:-$repo/target}
export CARGO_TARGET_DIR=$target
# The guest sees the host's / read-only, except /tmp, /run, /var/lib and
# /var/tmp (fresh tmpfs) and the current directory (shared): run from the
# target dir so the test binaries are visible wherever it is.
bins=$(cd "$repo" && cargo test -p berth-cgroups --no-run --message-format=json 2>/dev/null \
  | grep -o '"executable":"[^"]*"' | sed 's/"executable":"\(.*\)"/\1/')
[ -n "$bins" ] || { echo "no test binaries built" >&2; exit 2; }
args=""
[ $# -eq 0 ] || args=$(printf ' %q' "$@")
script="set -e"
for b in $bins; do script="$script; echo \"== ${b#$target/}\"; $(printf '%q' "$b")$args"; done
cd "$target"
BERTH_REQUIRE_CGROUP=v2 BERTH_REQUIRE_ROOT=1 exec "$vm" bash -c "$script"
