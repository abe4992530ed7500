//! The container's cgroup: for `stats`, and the OOM kill count the
//! monitor records at exit.

use crate::error::{Error, Result};
use crate::model::Container;
use crate::Engine;

/// The container's cgroup, where the runtime made it (`cgroupsPath`).
pub(crate) fn cgroup(c: &Container) -> Result<berth_cgroups::Cgroup> {
    let path = format!("{}/{}", c.config.cgroup_parent.trim_end_matches('/'), c.id);
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
