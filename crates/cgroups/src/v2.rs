//! The cgroup v2 driver: one directory in the unified hierarchy.
//!
//! Owns what differs from v1: delegating controllers down the tree through
//! `cgroup.subtree_control`, the core freezer (`cgroup.freeze` +
//! `cgroup.events`), `cgroup.kill`, and telling "controller not enabled"
//! apart from other missing files. Also used for the unified directory of a
//! hybrid host (which normally has no controllers to delegate).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::files::{self, Backoff};
use crate::Error;

/// Creates `dir` (and missing parents) under `mount_point`, and enables every
/// available controller in the `cgroup.subtree_control` of each ancestor, from
/// the root down to `dir`'s parent, so `dir` gets the controllers' files.
/// `dir` itself is left alone: the container's processes live there, and a
/// cgroup with processes cannot delegate controllers.
///
/// Which ancestors may be written: the root, the ones we just created, and
/// existing ones that are not `own_dir` (the calling process's cgroup,
/// typically owned by the machine or a service manager, which we must not
/// reconfigure) or one of its ancestors. Controllers already enabled are not
/// written again. A controller the kernel refuses (e.g. `cpu` while
/// real-time tasks exist) is skipped with a debug line: `apply` reports the
/// missing controller if the container's config needs it.
pub(crate) fn create(mount_point: &Path, dir: &Path, own_dir: Option<&Path>) -> Result<(), Error> {
    let created = files::create_dir_all(dir)?;
    let Ok(rel) = dir.strip_prefix(mount_point) else {
        return Ok(());
    };
    let mut level = mount_point.to_path_buf();
    // Every level above `dir`: the root, then each prefix of `rel` but the last.
    for comp in rel.components() {
        let writable = level == mount_point
            || created.contains(&level)
            || !own_dir.is_some_and(|own| own.starts_with(&level));
        if writable {
            enable_controllers(&level)?;
        } else {
            tracing::debug!(path = %level.display(), "not delegating controllers in a cgroup we do not own");
        }
        level.push(comp);
    }
    Ok(())
}

/// Enables in `level`'s `cgroup.subtree_control` every controller of its
/// `cgroup.controllers` that is not enabled yet.
fn enable_controllers(level: &Path) -> Result<(), Error> {
    let available = files::read(&level.join("cgroup.controllers"))?;
    let enabled = files::read(&level.join("cgroup.subtree_control"))?;
    let missing: Vec<&str> = available
        .split_whitespace()
        .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let control = level.join("cgroup.subtree_control");
    let all = missing
        .iter()
        .map(|c| format!("+{c}"))
        .collect::<Vec<_>>()
        .join(" ");
    if files::write(&control, &all).is_ok() {
        return Ok(());
    }
    // One refused controller fails the whole write: enable one at a time.
    for c in missing {
        if let Err(e) = files::write(&control, &format!("+{c}")) {
            tracing::debug!(error = %e, controller = c, "cannot enable controller");
        }
    }
    Ok(())
}

/// Whether `controller` is enabled for `dir` (listed in its
/// `cgroup.controllers`).
pub(crate) fn has_controller(dir: &Path, controller: &str) -> Result<bool, Error> {
    Ok(files::read(&dir.join("cgroup.controllers"))?
        .split_whitespace()
        .any(|c| c == controller))
}

const FREEZE_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether the kernel has the v2 freezer here (Linux 5.2+; not in the root).
pub(crate) fn can_freeze(dir: &Path) -> bool {
    dir.join("cgroup.freeze").exists()
}

/// Writes `1` to `cgroup.freeze` and waits for `cgroup.events` to report
/// `frozen 1`. On timeout, thaws and fails.
pub(crate) fn freeze(dir: &Path) -> Result<(), Error> {
    files::write(&dir.join("cgroup.freeze"), "1")?;
    let start = Instant::now();
    let mut backoff = Backoff::new();
    while !is_frozen(dir)? {
        if start.elapsed() > FREEZE_TIMEOUT {
            thaw(dir)?;
            return Err(Error::Timeout {
                path: dir.join("cgroup.events"),
                state: "frozen 1",
            });
        }
        backoff.sleep();
    }
    Ok(())
}

/// Writes `0` to `cgroup.freeze`. Does not wait: a frozen ancestor keeps the
/// cgroup frozen anyway, and unfreezing is immediate otherwise.
pub(crate) fn thaw(dir: &Path) -> Result<(), Error> {
    files::write(&dir.join("cgroup.freeze"), "0")
}

pub(crate) fn is_frozen(dir: &Path) -> Result<bool, Error> {
    let events = files::read(&dir.join("cgroup.events"))?;
    Ok(events.lines().any(|l| l.trim() == "frozen 1"))
}

/// Kills every process in `dir` and below in one step with `cgroup.kill`
/// (Linux 5.14+). Returns `false` when the kernel lacks it.
pub(crate) fn kill(dir: &Path) -> Result<bool, Error> {
    let file = dir.join("cgroup.kill");
    if !file.exists() {
        return Ok(false);
    }
    files::write(&file, "1")?;
    Ok(true)
}
