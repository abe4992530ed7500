//! What the engine asks of the host's cgroups, all through `berth-cgroups`
//! (the one place that detects them, once per process): a container's
//! cgroup, whether swap is accounted, the cgroup version `info` shows.

use berth_cgroups::{Cgroup, Mode};

use crate::container::Container;
use crate::error::{Error, Result};

/// The container's cgroup, where the runtime made it: its `cgroupsPath`
/// is `berth_cgroups::container_path(cgroup_parent, id)`.
pub(crate) fn cgroup(c: &Container) -> Result<Cgroup> {
    let path = berth_cgroups::container_path(&c.config.cgroup_parent, &c.id);
    Cgroup::resolve(Some(&path), &c.id).map_err(|source| Error::Cgroup {
        id: c.id.clone(),
        source,
    })
}

/// Whether the kernel accounts swap per cgroup, as Docker's sysinfo
/// decides (`berth_cgroups::Host::swap_accounting`); `false` when the
/// host's cgroups cannot be read.
pub(crate) fn swap_accounted() -> bool {
    berth_cgroups::host().is_ok_and(|h| h.swap_accounting())
}

/// Docker's `CgroupVersion`: "2" on a pure cgroup v2 host, "1" otherwise
/// (v1, hybrid, or cgroups that cannot be read).
pub fn cgroup_version() -> &'static str {
    match berth_cgroups::host().map(|h| h.mode()) {
        Ok(Mode::V2) => "2",
        _ => "1",
    }
}
