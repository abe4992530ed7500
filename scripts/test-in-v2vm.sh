#!/usr/bin/env bash
# Runs the test binaries (unit and integration) of the crates runtime,
# cgroups, sys, engine, testutil and init (not net or volume), and of the cli
# crate only engine_resources and two of engine_checkpoint's tests (none of
# the image crate: see below), as root on a pure
# cgroup v2 guest (../shared/tools/cgv2vm), the layout most users have and
# a v1/hybrid host cannot show, with AppArmor and loop block devices, which
# the CI host lacks. Builds on the host, boots the guest once, runs the
# binaries one after the other there, and exits non-zero if any of them
# failed, the guest is not pure cgroup v2 or lacks AppArmor or loop
# devices, or a test skipped what .ci/skip-allowlist does not allow the
# guest to skip (docs/testing.md).
#
#   scripts/test-in-v2vm.sh                    # everything
#   scripts/test-in-v2vm.sh lifecycle          # a libtest filter, every binary
#   scripts/test-in-v2vm.sh -- --nocapture     # extra libtest arguments
#
# BERTH_REQUIRE_CGROUP=v2 makes mode-aware tests fail rather than skip when
# the guest is not v2, BERTH_REQUIRE_FEATURES=apparmor,blockdev,io-weight
# the AppArmor, block device and I/O weight tests; CI/BERTH_REQUIRE_ROOT=1
# forbid root skips.
#
# Environment:
#   CARGO_TARGET_DIR   where to build (default: <repo>/target, the same dir
#                      scripts/test.sh uses, so CI builds once). The guest must
#                      see it: anywhere on this machine but /tmp, /run,
#                      /var/lib and /var/tmp, which are the guest's own tmpfs.
#   V2VM               the launcher (default ../shared/tools/cgv2vm/run-in-v2vm.sh beside the repo)
#   V2VM_CPUS, V2VM_MEM   guest size (default: this machine's CPUs, 4096 MiB)
#   V2VM_BIN_TIMEOUT   seconds one test binary may run in the guest (default 900)
#   PATH               `criu` on it is the CRIU the checkpoint tests use (the
#                      guest shares this machine's root, so its libraries
#                      too); without one, scripts/build-criu.sh's (built once).
#
# The doctests are not run here: they are not binaries cargo can hand over,
# and scripts/test.sh runs them.
set -euo pipefail

# The checkpoint tests the guest runs (why: below, where the binaries are
# chosen). Of the runtime's (crates/runtime/tests/checkpoint.rs), all but
# these (libtest --skip patterns); of the engine's
# (crates/cli/tests/engine_checkpoint.rs), only these (exact names).
ck_runtime_skip=(podman_ containerd_ a_64_mib_heap_)
ck_engine_only=(
    a_counter_survives_checkpoint_and_restore_in_place
    an_exported_checkpoint_restores_under_a_new_name_in_another_root
)

# Inside the guest: run the binaries named after the filter (the libtest
# filter, or empty) and before `--`, passing the filter and what follows to
# each, and report.
if [ "${1:-}" = --in-guest ]; then
    shift
    # The guest's init chroots into its root instead of moving it onto /
    # (switch_root), so every process here is "chrooted": clone(CLONE_NEWUSER)
    # fails with EPERM, and setns(CLONE_NEWNS) lands on the initramfs, not
    # on the container's pivoted root, for runc and berth alike. Real hosts
    # are not like that: redo what switch_root does, in a mount namespace of
    # our own, then come back here.
    root_id=$(awk '$5 == "/" { print $1 }' /proc/self/mountinfo)
    root_at=$(awk -v id="$root_id" '$1 == id { print $5 }' /proc/1/mountinfo)
    if [ -n "$root_at" ] && [ "$root_at" != / ]; then
        exec nsenter --target 1 --root /bin/busybox unshare --mount --propagation private \
            /bin/busybox sh -c 'cd "$1" && mount --move . / && shift && exec chroot . "$@"' \
            sh "$root_at" bash "$0" --in-guest "$@"
    fi
    cd "$CARGO_TARGET_DIR"
    filter=$1
    shift
    bins=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do bins+=("$1"); shift; done
    [ $# -eq 0 ] || shift
    fs=$(stat -fc %T /sys/fs/cgroup)
    if [ "$fs" != cgroup2fs ] || grep -q ' cgroup ' /proc/self/mounts; then
        echo "test-in-v2vm: the guest is not pure cgroup v2 (/sys/fs/cgroup is $fs)" >&2
        exit 1
    fi
    # What BERTH_REQUIRE_FEATURES promises the tests: AppArmor (Debian's
    # kernel enables it; securityfs is where apparmor_parser, installed on
    # the host whose root this is, loads profiles) and block devices (the
    # guest has no disk: loop devices, for the blkio, io.weight and device
    # tests).
    if ! grep -qx Y /sys/module/apparmor/parameters/enabled 2>/dev/null; then
        echo "test-in-v2vm: the guest kernel has no AppArmor enabled" >&2
        exit 1
    fi
    mountpoint -q /sys/kernel/security || mount -t securityfs securityfs /sys/kernel/security
    command -v apparmor_parser >/dev/null || {
        echo "test-in-v2vm: no apparmor_parser (apt-get install apparmor on the host)" >&2
        exit 1
    }
    [ -e /dev/loop-control ] || modprobe loop
    # Networks (the default bridge of every engine test): a Debian host
    # loads these on first use (request_module); this guest's kernel cannot
    # reach a modprobe, so they are loaded here, as loop is.
    modprobe -a nfnetlink nf_tables nf_conntrack nf_conntrack_netlink nf_nat nft_chain_nat nft_nat \
        nft_masq nft_ct nft_fib nft_fib_inet nft_fib_ipv4 nft_fib_ipv6 \
        bridge veth macvlan sch_tbf \
        tun unix_diag inet_diag tcp_diag udp_diag netlink_diag af_packet_diag || {
        echo "test-in-v2vm: cannot load the network modules" >&2
        exit 1
    }
    # CRIU (the checkpoint tests): the same binary as on the host. Its
    # `criu check` needs the socket diag modules and tun loaded above, and
    # a dump of a network namespace nf_conntrack_netlink (without it
    # nfnetlink answers EINVAL: "-22 reported by netlink").
    criu=$(command -v criu) || { echo "test-in-v2vm: no criu on PATH" >&2; exit 1; }
    if ! criu_says=$(criu check 2>&1); then
        echo "test-in-v2vm: \`$criu check\` fails on the guest's kernel:" >&2
        echo "$criu_says" >&2
        exit 1
    fi
    ls /sys/block | grep -q '^loop' || { echo "test-in-v2vm: no loop block devices" >&2; exit 1; }
    echo "guest: $(uname -r), $(nproc) CPUs, cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
    echo "guest: LSMs $(cat /sys/kernel/security/lsm), block devices: $(ls /sys/block | tr '\n' ' ')"
    echo "guest: $(busybox | head -n1)"
    echo "guest: $(runc --version | head -n1)"
    echo "guest: CRIU $("$criu" --version | sed -n 's/^Version: //p') at $criu"
    limit=${V2VM_BIN_TIMEOUT:-900}
    failed=()
    for bin in "${bins[@]}"; do
        name=${bin#"$CARGO_TARGET_DIR"/}
        echo
        # The checkpoint binaries run their chosen tests only (above).
        run=(${filter:+"$filter"})
        case "$name" in
            */deps/checkpoint-*)
                for t in "${ck_runtime_skip[@]}"; do run+=(--skip "$t"); done ;;
            */deps/engine_checkpoint-*)
                run=()
                for t in "${ck_engine_only[@]}"; do
                    [[ $t == *"$filter"* ]] && run+=("$t")
                done
                if [ ${#run[@]} -eq 0 ]; then
                    echo "=== $name: none of its guest tests matches '$filter'"
                    continue
                fi
                run+=(--exact) ;;
        esac
        echo "=== $name ($SECONDS s)"
        "$bin" "${run[@]}" "$@" &
        pid=$!
        # A hung test shows what it waits for, then dies.
        (
            sleep "$limit"
            echo "test-in-v2vm: $name still running after ${limit}s, killing it:" >&2
            ps -eo pid,ppid,stat,wchan:24,args >&2
            kill -KILL "$pid"
        ) &
        dog=$!
        rc=0
        wait "$pid" || rc=$?
        kill "$dog" 2>/dev/null || true
        wait "$dog" 2>/dev/null || true
        [ "$rc" = 0 ] || failed+=("$name (exit $rc)")
    done
    echo
    echo "=== ${#bins[@]} test binaries in ${SECONDS}s on cgroup v2, ${#failed[@]} failed"
    for f in "${failed[@]}"; do echo "FAILED: $f"; done
    [ ${#failed[@]} -eq 0 ] || exit 1
    exit 0
fi

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# The tool lives in ../shared beside the repo (as on the CI machine).
vm=${V2VM:-$repo/../shared/tools/cgv2vm/run-in-v2vm.sh}
[ -x "$vm" ] || vm=/work/shared/tools/cgv2vm/run-in-v2vm.sh
[ -x "$vm" ] || { echo "test-in-v2vm: no cgv2vm launcher at $vm (set V2VM)" >&2; exit 2; }
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
mkdir -p "$CARGO_TARGET_DIR"
CARGO_TARGET_DIR=$(cd "$CARGO_TARGET_DIR" && pwd)
case "$CARGO_TARGET_DIR/" in
    /tmp/* | /run/* | /var/lib/* | /var/tmp/*)
        echo "test-in-v2vm: CARGO_TARGET_DIR=$CARGO_TARGET_DIR is hidden by a tmpfs in the guest: use a dir under the repo" >&2
        exit 2 ;;
esac
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

# Build, keeping only the test binaries (profile.test), not the runtime's
# own executable. Compiler messages still reach stderr.
json=$(cd "$repo" && cargo test --workspace --no-run --message-format=json-render-diagnostics)
# The image store and the berth CLI's image commands do not touch cgroups:
# their tests (minutes of emulated hashing and unpacking) run on the host
# only. Of the engine's tests (crates/cli/tests/engine_*.rs, a minute of
# emulation each) the ones where cgroup v2 makes a difference run here: the
# resource limits, stats, update, pause and OOM kills, with berth-runtime,
# runc and crun. berth-net's tests (netlink, nftables, DNS: nothing of
# cgroups) run on the host only too; the guest's Debian kernel has
# br_netfilter as a module nobody loads, which their traffic tests toggle.
# berth-volume's (copies, mounts, sizes: nothing of cgroups either) run on
# the host only: they set user.* attributes in the temp dir, which the
# guest's tmpfs before Linux 6.6 does not hold. The runtime's idmapped
# mounts (crates/runtime/tests/idmapped_mounts.rs) run on the host only
# (which requires them: BERTH_REQUIRE_FEATURES=idmap): the guest runs its
# command in a chroot, where the kernel refuses new user namespaces
# (clone(CLONE_NEWUSER) is EPERM), and idmapping has nothing of cgroups.
# berth-build's (the Dockerfile parser, .dockerignore, COPY into plain
# directories: nothing of cgroups) run on the host only; `berth build`'s
# own tests are CLI tests (crates/cli/tests/build_*.rs), host only as well:
# a RUN step is an engine container, which engine_resources covers here.
# Checkpoint/restore (CRIU) on v2 freezes through the container's cgroup2
# directory (cgroup.freeze), restores into the cgroupsPath's (CRIU's
# cgroup roots) and removes it afterwards: the runtime's checkpoint tests
# run here, with the same CRIU 4.2 as the host's (see the guest part for
# the modules it needs), less three (ck_runtime_skip, ~60 s each under
# emulation, nothing of cgroups: Podman's and containerd's command flows,
# which drive the runtime as the other tests do, and the 64 MiB heap, a
# memory copy), and of the engine's the in-place counter and the export
# restored in a second root (ck_engine_only: the engine's cgroup parent,
# the monitor adopting the restored tree); the rest run on the host. The
# guest's kernel tracks dirty memory, which the host's does not: the
# incremental checkpoint (--pre-dump, --parent-path) runs only here.
mapfile -t bins < <(printf '%s\n' "$json" \
    | grep '"reason":"compiler-artifact"' \
    | grep '"profile":{[^}]*"test":true' \
    | grep -v '"manifest_path":"[^"]*/crates/image/Cargo.toml"' \
    | grep -v '"manifest_path":"[^"]*/crates/net/Cargo.toml"' \
    | grep -v '"manifest_path":"[^"]*/crates/volume/Cargo.toml"' \
    | grep -v '"manifest_path":"[^"]*/crates/build/Cargo.toml"' \
    | grep -vP '"executable":"[^"]*/deps/idmapped_mounts-[^/"]*"' \
    | grep -vP '"manifest_path":"[^"]*/crates/cli/Cargo.toml".*"executable":"[^"]*/deps/(?!engine_resources-|engine_checkpoint-)[^/"]*"' \
    | grep -o '"executable":"[^"]*"' | sed 's/^"executable":"\(.*\)"$/\1/')
[ ${#bins[@]} -gt 0 ] || { echo "test-in-v2vm: no test binaries built" >&2; exit 2; }

filter=
if [ $# -gt 0 ] && [ "$1" != -- ]; then filter=$1; shift; fi
[ "${1:-}" != -- ] || shift
args=("$@")

# The CRIU of the checkpoint tests: criu on PATH, else the one
# scripts/build-criu.sh builds (.ci/run has built it and put it in PATH).
if ! command -v criu >/dev/null; then
    criu_bin=$("$here/build-criu.sh")
    PATH="$(dirname "$criu_bin"):$PATH"
fi

export CI=1 BERTH_REQUIRE_ROOT=1 BERTH_REQUIRE_CGROUP=v2
# The guest has AppArmor (Debian's kernel) and loop block devices: the
# tests that need them fail here rather than skip.
export BERTH_REQUIRE_FEATURES=apparmor,blockdev,io-weight
# Each skip is one ledger line, checked against .ci/skip-allowlist's guest
# entries once the guest is down (the ledger is in the shared target dir).
mkdir -p "$CARGO_TARGET_DIR/skips"
export BERTH_SKIP_LEDGER="$CARGO_TARGET_DIR/skips/guest.txt"
: >"$BERTH_SKIP_LEDGER"
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}
# The guest shares the current directory read-write (9p without a page
# cache) and sees the rest of this machine read-only (cached). Share only
# the skip ledger's directory: the binaries, and the berth, berth-runtime
# and berth-monitor executables every test execs again and again, then come
# through the cached read-only mount, which made the engine tests 2.7x
# faster (update_berth: 65 s from the shared target dir, 24 s this way).
cd "$(dirname "$BERTH_SKIP_LEDGER")"
rc=0
"$vm" --cpus "${V2VM_CPUS:-$(nproc)}" --mem "${V2VM_MEM:-4096}" \
    bash "$here/test-in-v2vm.sh" --in-guest "$filter" "${bins[@]}" -- "${args[@]}" || rc=$?
"$repo/.ci/check-skips" guest "$BERTH_SKIP_LEDGER" || rc=$((rc ? rc : 1))
exit "$rc"
