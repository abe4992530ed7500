//! `ps`: the processes of a container, found through its cgroup.

use std::path::Path;

use super::Container;
use crate::error::{Error, Result};

/// Host pids of every process in the container, sorted.
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>> {
    let c = Container::read(root, id)?;
    let record = c.record()?;
    let cg = record.cgroup.as_ref().ok_or_else(|| {
        Error::Unsupported(format!(
            "listing the processes of container {id} without a cgroup (rootless)"
        ))
    })?;
    let mut pids = cg.pids()?;
    pids.sort_unstable();
    Ok(pids)
}
