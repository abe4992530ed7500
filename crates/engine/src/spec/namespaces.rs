//! `linux.namespaces`: Docker's (mount, network, uts, pid, ipc), the
//! host's network with `--network host`, and a private cgroup namespace
//! on a cgroup v2 host (so the container sees its own cgroup and limits at
//! /sys/fs/cgroup; the host's on v1).

use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};

use super::HostFacts;
use crate::model::ContainerConfig;

pub fn namespaces(cfg: &ContainerConfig, host: &HostFacts) -> Vec<LinuxNamespace> {
    use LinuxNamespaceType::*;
    let host_network = cfg.network_mode == "host";
    [Mount, Network, Uts, Pid, Ipc, Cgroup]
        .into_iter()
        .filter(|t| match t {
            Network => !host_network,
            Cgroup => host.cgroup2,
            _ => true,
        })
        .map(|t| {
            let mut ns = LinuxNamespace::default();
            ns.set_typ(t);
            ns.set_path(None);
            ns
        })
        .collect()
}
