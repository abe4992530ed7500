//! `pause` and `resume`: freeze and thaw every process of the container
//! through its cgroup.

use std::path::Path;

use super::Container;
use crate::error::{Error, Result};
use crate::state::Status;

pub fn pause(root: &Path, id: &str) -> Result<()> {
    let c = Container::load(root, id)?;
    match c.status() {
        Status::Running | Status::Created => {}
        _ => return Err(Error::NotRunning),
    }
    cgroup(&c)?.freeze()?;
    Ok(())
}

pub fn resume(root: &Path, id: &str) -> Result<()> {
    let c = Container::load(root, id)?;
    if c.status() != Status::Paused {
        return Err(Error::Container("container not paused".into()));
    }
    cgroup(&c)?.thaw()?;
    Ok(())
}

fn cgroup(c: &Container) -> Result<&berth_cgroups::Cgroup> {
    c.record()?
        .cgroup
        .as_ref()
        .ok_or_else(|| Error::Unsupported(format!("pausing container {} without a cgroup", c.id())))
}
