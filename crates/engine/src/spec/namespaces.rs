//! `linux.namespaces`: Docker's (mount, network, uts, pid, ipc), the
//! host's network with `--network host`, another container's with
//! `--network container:<id>` (its path, known at start), and a private
//! cgroup namespace on a cgroup v2 host (so the container sees its own
//! cgroup and limits at /sys/fs/cgroup; the host's on v1).

use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};

use super::HostFacts;
use crate::model::{ContainerConfig, NetworkMode};

pub fn namespaces(cfg: &ContainerConfig, host: &HostFacts) -> Vec<LinuxNamespace> {
    use LinuxNamespaceType::*;
    let network = cfg.network();
    [Mount, Network, Uts, Pid, Ipc, Cgroup]
        .into_iter()
        .filter(|t| match t {
            Network => network != NetworkMode::Host,
            Cgroup => host.cgroup2,
            _ => true,
        })
        .map(|t| {
            let mut ns = LinuxNamespace::default();
            ns.set_typ(t);
            ns.set_path(match (t, network) {
                (Network, NetworkMode::Container(_)) => host.network_namespace.clone(),
                _ => None,
            });
            ns
        })
        .collect()
}
