#!/usr/bin/env bash
# One critest run, as PID 1 of its own PID, mount and network namespaces
# (started by scripts/critest.sh through `unshare --kill-child`):
#
#   stack.sh HANDLER DIR
#
# DIR holds env (the settings below), the OCI layout and push list of the
# stand-in images; this script writes there the registry's storage,
# containerd's config/root/state/log, the CNI config and critest's report.
#
# Why the namespaces: the network namespace is this run's "host network"
# (hostNetwork pods, the fixed host ports 12000-12003, CNI's bridge and the
# iptables nat rules of its portmap plugin), so two runs can go side by side
# and nothing is left in the host's network; the mount namespace lays tmpfs
# over the fixed paths containerd 1.6 insists on (/run/containerd/s and
# /run/containerd/fifo, /var/lib/cni/results) and drops every mount with the
# last process; as PID 1, this script ends every process of the run (shims,
# containers, registry) before it exits.
set -euo pipefail

handler=$1
dir=$2
# shellcheck source=/dev/null
. "$dir/env" # RUNTIME, CRI_BIN, SKIP and FOCUS (ginkgo regexes), TIMEOUT

log() { printf '[critest %s] %s\n' "$handler" "$*"; }

teardown() {
    # Let containerd take down what critest left (runtime delete removes the
    # cgroups), then end whatever is left in this PID namespace.
    if [ -S "$dir/containerd.sock" ]; then
        timeout 60 "$CRI_BIN/crictl" --timeout 20s -r "unix://$dir/containerd.sock" \
            rmp -fa >/dev/null 2>&1 || log "crictl rmp -fa failed (what is left is killed)"
    fi
    local pid
    for pid in ${ctrd_pid:-} ${reg_pid:-}; do kill -TERM "$pid" 2>/dev/null || true; done
    sleep 1
    # As PID 1 of the namespace, -1 is every other process in it.
    kill -KILL -1 2>/dev/null || true
}
trap teardown EXIT

ip link set lo up
for d in /run/containerd /var/lib/cni; do
    mount -t tmpfs -o mode=0711 berth-critest "$d"
done
# TempDirs of the mount propagation specs.
export TMPDIR=$dir/tmp
mkdir -p "$TMPDIR"

# --- registry: the stand-in images, on this namespace's loopback ------------
# A fixed port is free here: the network namespace is this run's alone.
reg=127.0.0.1:5000
cat >"$dir/registry.yml" <<EOF
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $dir/registry}
http: {addr: "$reg"}
EOF
docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 200); do
    (echo >/dev/tcp/127.0.0.1/5000) 2>/dev/null && break
    sleep 0.05
done
copies=()
while read -r ref dest; do
    skopeo copy -q --dest-tls-verify=false "oci:$dir/layout:$ref" "docker://$reg/$dest" &
    copies+=($!)
done <"$dir/push.txt"
for job in "${copies[@]}"; do
    wait "$job" || { log "filling the registry failed"; exit 1; }
done

# Mirrors: every registry the suite names resolves to the local one.
for host in registry.k8s.io k8s.gcr.io gcr.io; do
    mkdir -p "$dir/certs.d/$host"
    cat >"$dir/certs.d/$host/hosts.toml" <<EOF
server = "https://$host"
[host."http://$reg"]
  capabilities = ["pull", "resolve"]
EOF
done

# --- CNI: a bridge with host-local addresses and port mappings --------------
mkdir -p "$dir/cni"
cat >"$dir/cni/10-berth-critest.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "berth-critest",
  "plugins": [
    {
      "type": "bridge", "bridge": "critest0", "isGateway": true, "ipMasq": false,
      "ipam": {
        "type": "host-local", "dataDir": "$dir/cni-ipam",
        "ranges": [[{"subnet": "10.88.0.0/16"}]], "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
EOF

# --- containerd with the CRI plugin and the two handlers --------------------
mkdir -p "$dir/root" "$dir/state" "$dir/runc-root" "$dir/berth-root"
cat >"$dir/containerd.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
]
[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.sock.ttrpc"
[debug]
  level = "debug"
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.9"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  # Without CAP_SYS_RESOURCE (this VM's root lacks it) runc cannot lower
  # oom_score_adj below containerd's own: every sandbox would fail.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$dir/certs.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        Root = "$dir/runc-root"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.berth]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.berth.options]
        BinaryName = "$RUNTIME"
        Root = "$dir/berth-root"
EOF
containerd --config "$dir/containerd.toml" >"$dir/containerd.log" 2>&1 &
ctrd_pid=$!
for _ in $(seq 300); do
    [ -S "$dir/containerd.sock" ] && break
    kill -0 "$ctrd_pid" 2>/dev/null || { log "containerd exited:"; tail -n 20 "$dir/containerd.log"; exit 1; }
    sleep 0.1
done
"$CRI_BIN/crictl" -r "unix://$dir/containerd.sock" info >/dev/null

# --- critest ----------------------------------------------------------------
log "critest --runtime-handler $handler"
set +e
timeout -k 10 "$TIMEOUT" "$CRI_BIN/critest" \
    --runtime-endpoint "unix://$dir/containerd.sock" \
    --image-endpoint "unix://$dir/containerd.sock" \
    --runtime-handler "$handler" \
    --ginkgo.skip "$SKIP" \
    ${FOCUS:+--ginkgo.focus "$FOCUS"} \
    --ginkgo.no-color \
    --ginkgo.json-report "$dir/report.json" \
    >"$dir/critest.log" 2>&1
rc=$?
set -e
log "critest exited $rc"
exit 0
