//! A unique cgroup parent per test, removed from every hierarchy on drop.
//!
//! Tests put containers at `linux.cgroupsPath = /<parent>/<id>`, an absolute
//! path under a parent only this process uses, so cleanup never touches a
//! cgroup someone else owns (in particular not the machine's own cgroups).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::host::mountinfo;
use crate::id::unique_id;

/// Mount points of every cgroup hierarchy visible to this process: each v1
/// controller (co-mounted ones once) and the v2 hierarchy, on v1, hybrid and
/// v2-only hosts alike.
pub fn hierarchies() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = mountinfo()
        .into_iter()
        .filter(|m| m.fs_type == "cgroup" || m.fs_type == "cgroup2")
        .map(|m| PathBuf::from(m.mount_point))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `/berth-test-<pid>-<n>-<t>`: a cgroup parent for the containers of one
/// test. Dropping it kills whatever is left inside and removes the
/// directories it has in every hierarchy, deepest first.
#[derive(Debug)]
pub struct CgroupParent {
    name: String,
}

impl CgroupParent {
    pub fn new() -> CgroupParent {
        CgroupParent {
            name: unique_id("berth-test"),
        }
    }

    /// The parent's absolute cgroup path, e.g. `/berth-test-12-0-abcde`.
    pub fn path(&self) -> String {
        format!("/{}", self.name)
    }

    /// The absolute `cgroupsPath` for container `id` under this parent.
    pub fn path_for(&self, id: &str) -> String {
        format!("/{}/{id}", self.name)
    }

    /// The directories that exist for absolute cgroup path `cgroup`, one per
    /// hierarchy that has it.
    pub fn dirs_of(cgroup: &str) -> Vec<PathBuf> {
        hierarchies()
            .into_iter()
            .map(|h| h.join(cgroup.trim_start_matches('/')))
            .filter(|p| p.is_dir())
            .collect()
    }

    /// Pids listed in `cgroup.procs` of `cgroup` in any hierarchy.
    pub fn procs_of(cgroup: &str) -> Vec<u32> {
        let mut pids: Vec<u32> = CgroupParent::dirs_of(cgroup)
            .iter()
            .flat_map(|d| read_procs(d))
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Removes this parent now (also done on drop).
    pub fn remove(&self) {
        for h in hierarchies() {
            let dir = h.join(&self.name);
            if dir.is_dir() {
                if let Err(e) = remove_cgroup_tree(&dir) {
                    eprintln!("warning: could not remove cgroup {}: {e}", dir.display());
                }
            }
        }
    }
}

impl Default for CgroupParent {
    fn default() -> Self {
        CgroupParent::new()
    }
}

impl Drop for CgroupParent {
    fn drop(&mut self) {
        self.remove();
    }
}

fn read_procs(dir: &Path) -> Vec<u32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Removes `dir` and its child cgroups, deepest first. Processes still
/// inside are thawed and killed first; rmdir is retried for ~3 s because
/// the kernel releases a cgroup a moment after its last task exits.
fn remove_cgroup_tree(dir: &Path) -> io::Result<()> {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_cgroup_tree(&entry.path())?;
            }
        }
    }
    let mut last = None;
    for _ in 0..150 {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => last = Some(e),
        }
        // A frozen task cannot die: thaw first (v1 freezer, v2 cgroup.freeze).
        let _ = fs::write(dir.join("freezer.state"), "THAWED");
        let _ = fs::write(dir.join("cgroup.freeze"), "0");
        for pid in read_procs(dir) {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(last.unwrap_or_else(|| io::Error::other("rmdir kept failing")))
}
