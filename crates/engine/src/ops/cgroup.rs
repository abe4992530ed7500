//! The container's cgroup: for `stats`, the OOM kill count the monitor
//! records at exit, and the reconcile's clean-up; and the host's cgroup
//! version for `info`. All through `berth-cgroups`, which detects the
//! host once per process.

use berth_cgroups::Mode;

use crate::error::{Error, Result};
use crate::model::Container;
use crate::Engine;

/// The container's cgroup, where the runtime made it: its `cgroupsPath`
/// is `berth_cgroups::container_path(cgroup_parent, id)`.
pub(crate) fn cgroup(c: &Container) -> Result<berth_cgroups::Cgroup> {
    let path = berth_cgroups::container_path(&c.config.cgroup_parent, &c.id);
    berth_cgroups::Cgroup::resolve(Some(&path), &c.id).map_err(|e| Error::Cgroup {
        id: c.id.clone(),
        source: e,
    })
}

/// Whether the OOM killer killed a process of the container: read by the
/// monitor after the init exits, before `runtime delete` removes the
/// cgroup. Records it, and that the container is no longer paused.
pub(crate) fn record_exit(engine: &Engine, c: &Container) -> Result<()> {
    let oom_killed = cgroup(c)
        .and_then(|cg| {
            cg.oom_kill_count().map_err(|e| Error::Cgroup {
                id: c.id.clone(),
                source: e,
            })
        })
        .is_ok_and(|n| n > 0);
    engine.db.set_oom_killed(&c.id, oom_killed)
}

impl Engine {
    /// Docker's `CgroupVersion`: "2" on a pure cgroup v2 host, "1"
    /// otherwise (v1, hybrid, or cgroups that cannot be read).
    pub fn cgroup_version() -> &'static str {
        match berth_cgroups::host().map(|h| h.mode()) {
            Ok(Mode::V2) => "2",
            _ => "1",
        }
    }
}
