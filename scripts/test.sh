#!/usr/bin/env bash
# Runs the whole test suite the way CI does. The integration tests start
# real containers, so this needs root; CI/BERTH_REQUIRE_ROOT are set so that
# a root test fails instead of printing SKIPPED. Any other skip is written to
# the skip ledger, and the run fails on a skip .ci/skip-allowlist does not
# list (BERTH_SKIP_PASS names the pass whose entries apply: host by default).
#
#   sudo scripts/test.sh                      # berth-runtime
#   sudo BERTH_TEST_RUNTIME=runc scripts/test.sh   # check the tests with runc
#   sudo scripts/test.sh -E 'binary(lifecycle)'    # extra args go to nextest
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CI="${CI:-1}"
export BERTH_REQUIRE_ROOT=1
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

if [ "$(id -u)" != 0 ]; then
    echo "scripts/test.sh: the integration tests run containers and need root (try: sudo -E $0)" >&2
    exit 1
fi

# Every skip lands in the ledger; after the run the skips are counted,
# printed, and checked against .ci/skip-allowlist for pass
# BERTH_SKIP_PASS (default host).
target=${CARGO_TARGET_DIR:-$PWD/target}
export BERTH_SKIP_LEDGER="${BERTH_SKIP_LEDGER:-$target/skips/${BERTH_SKIP_PASS:-host}.txt}"
mkdir -p "$(dirname "$BERTH_SKIP_LEDGER")"
: >"$BERTH_SKIP_LEDGER"

rc=0
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast "$@" || rc=$?
    # nextest does not run doctests.
    cargo test --workspace --doc || rc=$?
else
    echo "scripts/test.sh: cargo-nextest not found, using cargo test" >&2
    cargo test --workspace --no-fail-fast "$@" || rc=$?
fi
.ci/check-skips "${BERTH_SKIP_PASS:-host}" "$BERTH_SKIP_LEDGER" || rc=$((rc ? rc : 1))
exit "$rc"
