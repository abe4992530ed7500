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

/// True on a pure cgroup v2 host (`/sys/fs/cgroup` is the unified
/// hierarchy), false on v1 and hybrid hosts, whose controllers are v1 ones.
/// Checks `BERTH_REQUIRE_CGROUP` like [`cgroup_mode`].
pub fn cgroup_v2() -> bool {
    cgroup_mode() == "v2"
}

/// The host's cgroup layout: `v2` (cgroup2 at `/sys/fs/cgroup`), `hybrid`
/// (v1 controllers plus cgroup2 at `/sys/fs/cgroup/unified`) or `v1`.
///
/// Panics when `BERTH_REQUIRE_CGROUP` (`v1`, `hybrid` or `v2`) names
/// another layout, so a CI pass meant for one layout cannot pass by
/// skipping the tests of that layout on a runner that has another.
pub fn cgroup_mode() -> &'static str {
    let cgroup2_at = |dir: &str| Path::new(dir).join("cgroup.controllers").exists();
    let mode = if cgroup2_at("/sys/fs/cgroup") {
        "v2"
    } else if cgroup2_at("/sys/fs/cgroup/unified") {
        "hybrid"
    } else {
        "v1"
    };
    if let Ok(want) = std::env::var("BERTH_REQUIRE_CGROUP") {
        let want = want.trim().to_ascii_lowercase();
        assert!(
            want.is_empty() || want == mode,
            "BERTH_REQUIRE_CGROUP={want} but this host is cgroup {mode}"
        );
    }
    mode
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

    /// The path of controller file `file` (`memory.max`, `cpu.shares`,
    /// `pids.max`...) of absolute cgroup `cgroup`, as the host sees it: in
    /// the v2 hierarchy on a pure v2 host, else in whichever v1 controller
    /// hierarchy has it (a hybrid host's empty cgroup2 mount is skipped, so
    /// `cpu.stat` means the v1 cpu controller's there). `None` if no
    /// hierarchy has that file for `cgroup`.
    pub fn file_of(cgroup: &str, file: &str) -> Option<PathBuf> {
        let v2 = cgroup_v2();
        mountinfo()
            .into_iter()
            .filter(|m| (m.fs_type == "cgroup2") == v2 && m.fs_type.starts_with("cgroup"))
            .map(|m| {
                Path::new(&m.mount_point)
                    .join(cgroup.trim_start_matches('/'))
                    .join(file)
            })
            .find(|p| p.exists())
    }

    /// The trimmed content of controller file `file` of `cgroup` (see
    /// [`file_of`](Self::file_of)); panics if there is no such file.
    pub fn read_file(cgroup: &str, file: &str) -> String {
        let path = CgroupParent::file_of(cgroup, file)
            .unwrap_or_else(|| panic!("no cgroup file {file} for {cgroup}"));
        fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
            .trim()
            .to_owned()
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

/// The CPU-time counter of one cgroup (`cpuacct.usage` on v1, `usage_usec`
/// of `cpu.stat` on v2), located once so that each reading is one read of
/// one file: tests that compare two cgroups read them close together.
#[derive(Debug, Clone)]
pub struct CpuUsage {
    path: PathBuf,
    v2: bool,
}

impl CpuUsage {
    /// The counter of absolute cgroup `cgroup`; panics if it has none.
    pub fn of(cgroup: &str) -> CpuUsage {
        let v2 = cgroup_v2();
        let file = if v2 { "cpu.stat" } else { "cpuacct.usage" };
        let path = CgroupParent::file_of(cgroup, file)
            .unwrap_or_else(|| panic!("no cgroup file {file} for {cgroup}"));
        CpuUsage { path, v2 }
    }

    /// The CPU time the cgroup's tasks have used so far.
    pub fn read(&self) -> Duration {
        let text = fs::read_to_string(&self.path)
            .unwrap_or_else(|e| panic!("read {}: {e}", self.path.display()));
        let parsed = if self.v2 {
            text.lines()
                .find_map(|l| l.strip_prefix("usage_usec "))
                .and_then(|v| v.trim().parse().ok())
                .map(Duration::from_micros)
        } else {
            text.trim().parse().ok().map(Duration::from_nanos)
        };
        parsed.unwrap_or_else(|| panic!("no CPU time in {}: {text}", self.path.display()))
    }
}
