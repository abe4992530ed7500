#!/usr/bin/env bash
# Kubernetes' CRI validation suite (critest, kubernetes-sigs/cri-tools 1.26.1)
# against containerd 1.6's CRI plugin, once with runc and once with
# berth-runtime as the runtime handler, side by side. Fails if berth-runtime
# fails a spec that runc passes (unless scripts/critest/exceptions.txt lists
# it with a reason), or if runc fails any spec that is not skipped
# (scripts/critest/skip.txt: then the test environment is broken).
#
#   sudo scripts/critest.sh            # the newer of target/{release,debug}/berth-runtime
#   sudo BERTH_RUNTIME=/path/berth-runtime scripts/critest.sh
#   sudo CRITEST_FOCUS='mount propagation' scripts/critest.sh   # a subset (ginkgo regex)
#
# Needs (Debian 12): golang-go, containerd, containernetworking-plugins,
# docker-registry, skopeo, runc, iptables, gcc, libc6-dev, jq, procps,
# util-linux, and the cri-tools source tarball in shared/third_party/cri-tools
# (beside the repository, or CRI_TOOLS_TARBALL). crictl and critest are built
# once into target/critest/bin; the stand-in images are made offline
# (scripts/critest/images.sh) and served by a local registry.
#
# Each run gets its own PID, mount and network namespaces
# (scripts/critest/stack.sh), so its containerd, shims, containers, registry,
# CNI bridge, nat rules and mounts all end with it; what outlives the
# namespaces (container cgroups, the mount points of containerd's fixed
# paths) is removed here on exit, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
start=$SECONDS

die() { echo "scripts/critest.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (containerd, namespaces, cgroups)"
for cmd in go containerd docker-registry skopeo runc iptables gcc jq unshare ip pgrep ipcs dpkg-deb; do
    command -v "$cmd" >/dev/null || die "$cmd is not installed (see the package list in .ci/run)"
done
for plugin in bridge host-local portmap loopback; do
    [ -x "/usr/lib/cni/$plugin" ] || die "/usr/lib/cni/$plugin missing (apt-get install containernetworking-plugins)"
done

target=${CARGO_TARGET_DIR:-$repo/target}
runtime=${BERTH_RUNTIME:-}
if [ -z "$runtime" ]; then
    # The newer of the release and debug builds: the one just built.
    runtime=$(ls -t "$target/release/berth-runtime" "$target/debug/berth-runtime" 2>/dev/null | head -n1 || true)
fi
[ -n "$runtime" ] && [ -x "$runtime" ] || die "no berth-runtime built (cargo build --release -p berth-runtime, or set BERTH_RUNTIME)"
runtime=$(realpath "$runtime")
echo "berth-runtime: $runtime"

# --- crictl and critest, built once ------------------------------------------
tarball=${CRI_TOOLS_TARBALL:-}
if [ -z "$tarball" ]; then
    for base in "$repo/../shared" "$repo/shared" /work/shared; do
        if [ -f "$base/third_party/cri-tools/cri-tools-1.26.1.tar.gz" ]; then
            tarball=$base/third_party/cri-tools/cri-tools-1.26.1.tar.gz
            break
        fi
    done
fi
cache=$target/critest
bin=$cache/bin
mkdir -p "$cache"
[ -n "$tarball" ] || die "cri-tools-1.26.1.tar.gz not found under shared/third_party/cri-tools (set CRI_TOOLS_TARBALL)"
stamp=$(sha256sum "$tarball" | cut -d' ' -f1)
if [ "$(cat "$bin/stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "building crictl and critest from $tarball"
    rm -rf "$cache/src" "$bin"
    mkdir -p "$cache/src" "$bin"
    tar -xzf "$tarball" -C "$cache/src"
    (
        cd "$cache/src/cri-tools-1.26.1"
        export GOFLAGS=-mod=vendor GOPROXY=off CGO_ENABLED=0 GOCACHE=$cache/go-cache GOPATH=$cache/gopath
        go build -o "$bin/crictl" ./cmd/crictl
        go test -c -o "$bin/critest" ./cmd/critest
    )
    rm -rf "$cache/src" "$cache/go-cache" "$cache/gopath"
    echo "$stamp" >"$bin/stamp"
fi
echo "crictl/critest: $bin ($((SECONDS - start))s)"

# --- skips and exceptions -----------------------------------------------------
# Each line of these files: "<ginkgo regex on the spec's full name>  # <reason>".
patterns() {
    local line
    while IFS= read -r line; do
        case $line in '' | '#'*) continue ;; esac
        case $line in *' # '?*) ;; *) die "$1: no ' # reason' in: $line" ;; esac
        printf '%s\n' "${line%% # *}" | sed 's/[[:space:]]*$//'
    done <"$1"
}
skip=$(patterns scripts/critest/skip.txt | paste -sd'|')
skip="benchmark${skip:+|$skip}"

# --- cleanup -------------------------------------------------------------------
work=$(mktemp -d /tmp/berth-critest.XXXXXX)
made_dirs=()
pids=()
# rmcg DIR: removes a cgroup, waiting a little for its killed processes to go.
rmcg() {
    local _
    for _ in $(seq 25); do
        rmdir "$1" 2>/dev/null && return 0
        [ -d "$1" ] || return 0
        [ -n "$(cat "$1/cgroup.procs" 2>/dev/null)" ] || return 1
        sleep 0.2
    done
    return 1
}
cleanup() {
    local rc=${1:-$?} pid id d cg
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    # The runtimes remove a container's cgroup (k8s.io/<id>) on delete and
    # leave the k8s.io parent; this catches what a failed or cut run left.
    # Under a k8s.io made during this run every cgroup is this run's; under
    # one that was there before, only those of the ids the runs recorded.
    for d in "${made_dirs[@]}"; do
        case $d in
        /sys/*)
            for cg in $(find "$d" -mindepth 1 -depth -type d 2>/dev/null) "$d"; do
                rmcg "$cg" || echo "critest: cgroup $cg left behind" >&2
            done
            ;;
        *) rmdir "$d" 2>/dev/null || true ;;
        esac
    done
    for id in $(cat "$work"/*/ids 2>/dev/null | sort -u); do
        for cg in /sys/fs/cgroup/k8s.io/"$id" /sys/fs/cgroup/*/k8s.io/"$id"; do
            [ -d "$cg" ] || continue
            rmcg "$cg" || echo "critest: cgroup $cg left behind" >&2
        done
    done
    if [ -z "${CRITEST_KEEP:-}" ]; then rm -rf "$work"; else echo "critest: kept $work"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'cleanup 130' INT
trap 'cleanup 143' TERM

# The fixed paths get a tmpfs inside each run's mount namespace; a missing
# mount point is made here and removed on exit, as are the k8s.io parent
# cgroups the runtimes make.
for d in /run/containerd /var/lib/cni; do
    if [ ! -d "$d" ]; then
        mkdir "$d"
        made_dirs+=("$d")
    fi
done
for d in $(awk '$3 ~ /^cgroup2?$/ {print $2 "/k8s.io"}' /proc/self/mounts); do
    [ -d "$d" ] || made_dirs+=("$d")
done

# --- images ------------------------------------------------------------------
scripts/critest/images.sh "$work/layout" "$cache/debs" >"$work/push.txt"
echo "stand-in images: $(wc -l <"$work/push.txt") tags ($((SECONDS - start))s)"

# --- the runs, side by side ----------------------------------------------------
handlers=(runc berth)
for h in "${handlers[@]}"; do
    mkdir -p "$work/$h"
    ln -s "$work/layout" "$work/$h/layout"
    cp "$work/push.txt" "$work/$h/push.txt"
    {
        printf 'RUNTIME=%q\nCRI_BIN=%q\nSKIP=%q\nFOCUS=%q\nTIMEOUT=%q\n' \
            "$runtime" "$bin" "$skip" "${CRITEST_FOCUS:-}" "${CRITEST_TIMEOUT:-900}"
    } >"$work/$h/env"
    unshare --pid --fork --kill-child --mount --propagation private --mount-proc --net \
        bash scripts/critest/stack.sh "$h" "$work/$h" >"$work/$h/stack.log" 2>&1 &
    pids+=($!)
done
# Record the ids the runs create while they run, for the cgroup cleanup.
while [ -n "$(jobs -rp)" ]; do
    for h in "${handlers[@]}"; do
        ls "$work/$h/state/io.containerd.runtime.v2.task/k8s.io" 2>/dev/null >>"$work/$h/ids" || true
    done
    sleep 2
done
for pid in "${pids[@]}"; do wait "$pid" || true; done
pids=()
for h in "${handlers[@]}"; do cat "$work/$h/stack.log"; done
echo "critest runs done ($((SECONDS - start))s)"

# --- results -------------------------------------------------------------------
# "<state>\t<full spec name>" for each spec of a run.
results() {
    jq -r '.[].SpecReports[] | select(.LeafNodeType == "It")
        | [.State, ((.ContainerHierarchyTexts + [.LeafNodeText]) | join(" "))] | @tsv' \
        "$work/$1/report.json"
}
matches_any() { # NAME FILE: does NAME match a pattern of FILE?
    local p
    while IFS= read -r p; do
        [[ $1 =~ $p ]] && return 0
    done < <(patterns "$2")
    return 1
}
failed=0
for h in "${handlers[@]}"; do
    if [ ! -s "$work/$h/report.json" ]; then
        echo "critest $h: no report; the end of its log:" >&2
        tail -n 40 "$work/$h/critest.log" "$work/$h/stack.log" >&2 || true
        for f in containerd.log registry.log; do tail -n 20 "$work/$h/$f" >&2 2>/dev/null || true; done
        die "the $h run produced no result"
    fi
    results "$h" >"$work/$h/results.tsv"
    n() { grep -c "^$1"$'\t' "$work/$h/results.tsv" || true; }
    echo "critest-$h: $(n passed) passed, $(($(wc -l <"$work/$h/results.tsv") - $(n passed) - $(n skipped))) failed, $(n skipped) skipped"
    grep -v -e "^passed"$'\t' -e "^skipped"$'\t' "$work/$h/results.tsv" | sed 's/^/  /' || true
    # Errors the runtime gave containerd that no spec looks at (for the eye).
    echo "  containerd errors in the $h run: $(grep -c 'level=error' "$work/$h/containerd.log" || true)," \
        "of which 'OCI runtime killall failed': $(grep -c 'OCI runtime killall failed' "$work/$h/containerd.log" || true)"
done

passed() { awk -F'\t' '$1 == "passed" {print $2}' "$work/$1/results.tsv" | sort; }
ran() { awk -F'\t' '$1 != "skipped" {print $2}' "$work/$1/results.tsv" | sort; }
# runc is the reference: a spec it fails means the environment is broken.
if [ -n "$(comm -23 <(ran runc) <(passed runc))" ]; then
    echo "FAIL: runc failed specs; the test environment (images, CNI, containerd) is broken:" >&2
    comm -23 <(ran runc) <(passed runc) | sed 's/^/  /' >&2
    failed=1
fi
if [ "$(ran runc | wc -l)" = 0 ] || [ "$(ran runc)" != "$(ran berth)" ]; then
    echo "FAIL: the two runs did not run the same specs" >&2
    failed=1
fi
while IFS= read -r spec; do
    if matches_any "$spec" scripts/critest/exceptions.txt; then
        echo "berth-runtime fails (listed in scripts/critest/exceptions.txt): $spec"
    else
        echo "FAIL: berth-runtime fails a spec runc passes: $spec" >&2
        failed=1
    fi
done < <(comm -23 <(passed runc) <(passed berth))
# An exception berth-runtime no longer needs is removed from the list.
while IFS= read -r pattern; do
    if passed berth | grep -qE -- "$pattern"; then
        echo "FAIL: berth-runtime passes '$pattern' now: remove it from scripts/critest/exceptions.txt" >&2
        failed=1
    fi
done < <(patterns scripts/critest/exceptions.txt)

# Runtime commands that containerd saw fail, which no spec checks (the shim's
# `kill --all` after every exit was one): berth-runtime may not fail more of
# them than runc in the same suite.
runtime_errors() { grep -cE 'OCI runtime [a-z]+ failed' "$work/$1/containerd.log" || true; }
if [ "$(runtime_errors berth)" -gt "$(runtime_errors runc)" ]; then
    echo "FAIL: containerd logged $(runtime_errors berth) failed OCI runtime commands with berth-runtime, $(runtime_errors runc) with runc:" >&2
    grep -E 'OCI runtime [a-z]+ failed' "$work/berth/containerd.log" | head -n 10 | sed 's/^/  /' >&2
    failed=1
fi

if [ "$failed" != 0 ] && [ -z "${CRITEST_KEEP:-}" ]; then
    for h in "${handlers[@]}"; do cp "$work/$h/critest.log" "$cache/critest-$h.log" 2>/dev/null || true; done
    echo "critest logs: $cache/critest-{runc,berth}.log (CRITEST_KEEP=1 keeps everything)" >&2
fi
echo "critest took $((SECONDS - start))s"
exit "$failed"
