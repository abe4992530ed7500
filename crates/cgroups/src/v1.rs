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
/// and the kernel refuses to move tasks into it (`ENOSPC`): fill every empty
/// level from its parent, top down. Not only the levels we created: when two
/// runtimes create siblings at once (containerd starting pods in parallel
/// under `k8s.io`), the one that loses the `mkdir` race must not trust the
/// winner to have filled the shared parent yet.
pub(crate) fn create(controllers: &[String], dir: &Path) -> Result<(), Error> {
    files::create_dir_all(dir)?;
    if controllers.iter().any(|c| c == "cpuset") {
        fill_cpuset(dir)?;
    }
    Ok(())
}

/// Walks up from `dir` to the first level whose `cpuset.cpus` and
/// `cpuset.mems` are both set (the hierarchy's root always is), then copies
/// them down into each empty level below it. Writing a value another process
/// also writes is harmless: both copy the same parent.
fn fill_cpuset(dir: &Path) -> Result<(), Error> {
    const FILES: [&str; 2] = ["cpuset.cpus", "cpuset.mems"];
    let is_set = |level: &Path| -> Result<bool, Error> {
        for file in FILES {
            if files::read(&level.join(file))?.trim().is_empty() {
                return Ok(false);
            }
        }
        Ok(true)
    };
    let mut empty = Vec::new();
    let mut level = dir;
    while !is_set(level)? {
        empty.push(level);
        match level.parent() {
            Some(parent) => level = parent,
            None => break,
        }
    }
    for level in empty.into_iter().rev() {
        let Some(parent) = level.parent() else {
            continue;
        };
        for file in FILES {
            if files::read(&level.join(file))?.trim().is_empty() {
                let inherited = files::read(&parent.join(file))?;
                files::write(&level.join(file), &inherited)?;
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
