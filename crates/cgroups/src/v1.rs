//! The cgroup v1 driver: one directory per mounted hierarchy.
//!
//! Owns what differs from v2: creating a directory in each hierarchy (with
//! the cpuset quirk) and the `freezer` controller's states. Writing limits is
//! shared with v2 through `resources.rs`'s plans; moving processes, listing
//! them and removing directories are the same file operations on both.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::files::{self, Backoff};
use crate::Error;

/// Creates `dir` (and missing parents) in a v1 hierarchy. In the cpuset
/// hierarchy a new cgroup starts with empty `cpuset.cpus` and `cpuset.mems`,
/// and the kernel refuses to move tasks into it (`ENOSPC`): copy them from
/// the parent into each level we created, top down.
pub(crate) fn create(controllers: &[String], dir: &Path) -> Result<(), Error> {
    let created = files::create_dir_all(dir)?;
    if controllers.iter().any(|c| c == "cpuset") {
        for level in &created {
            let Some(parent) = level.parent() else {
                continue;
            };
            for file in ["cpuset.cpus", "cpuset.mems"] {
                let own = files::read(&level.join(file))?;
                if own.trim().is_empty() {
                    let inherited = files::read(&parent.join(file))?;
                    files::write(&level.join(file), &inherited)?;
                }
            }
        }
    }
    Ok(())
}

const FREEZER_STATE: &str = "freezer.state";

/// How long freezing may take before we give up and thaw again.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes `FROZEN` and waits until `freezer.state` reads `FROZEN` (it reads
/// `FREEZING` while tasks are still being stopped). Like runc, writes
/// `FROZEN` again now and then, since a freeze can stall on a task that is
/// busy in the kernel. On timeout, thaws and fails.
pub(crate) fn freeze(dir: &Path) -> Result<(), Error> {
    let state = dir.join(FREEZER_STATE);
    let start = Instant::now();
    let mut backoff = Backoff::new();
    let mut next_write = start;
    loop {
        if Instant::now() >= next_write {
            files::write(&state, "FROZEN")?;
            next_write = Instant::now() + Duration::from_millis(100);
        }
        if files::read(&state)?.trim() == "FROZEN" {
            return Ok(());
        }
        if start.elapsed() > FREEZE_TIMEOUT {
            files::write(&state, "THAWED")?;
            return Err(Error::Timeout {
                path: state,
                state: "FROZEN",
            });
        }
        backoff.sleep();
    }
}

pub(crate) fn thaw(dir: &Path) -> Result<(), Error> {
    files::write(&dir.join(FREEZER_STATE), "THAWED")
}

/// `true` only when fully frozen (`FREEZING` is not frozen yet).
pub(crate) fn is_frozen(dir: &Path) -> Result<bool, Error> {
    Ok(files::read(&dir.join(FREEZER_STATE))?.trim() == "FROZEN")
}
