//! Putting a container into a cgroup, limiting it, and finding, freezing and
//! killing its processes, on cgroup v1, v2 and hybrid hosts.
//!
//! A [`Cgroup`] is one container's cgroup across every hierarchy of the host.
//! It is plain data (serializable into the runtime's `state.json`), made by
//! [`Cgroup::resolve`] without touching the filesystem; the other methods act
//! on the directories it names:
//!
//! ```no_run
//! # fn main() -> Result<(), berth_cgroups::Error> {
//! # let (resources, pid) = (oci_spec::runtime::LinuxResources::default(), 1);
//! use berth_cgroups::Cgroup;
//!
//! let cg = Cgroup::resolve(Some("/berth/web"), "web")?;
//! cg.create()?;
//! cg.apply(&resources)?;
//! cg.add_process(pid)?;
//! // ... later
//! cg.signal_all(nix::sys::signal::Signal::SIGKILL)?;
//! cg.destroy()?;
//! # Ok(()) }
//! ```
//!
//! Layout: `error.rs` holds [`Error`], `mode.rs` detects the host's mode,
//! mounts and swap accounting ([`host`], once per process), `path.rs` resolves
//! `linux.cgroupsPath`, `resources.rs` turns `linux.resources` into file
//! writes, `v1.rs` and `v2.rs` hold what differs between the versions (cpuset
//! setup, controller delegation, freezers, `cgroup.kill`), `devices_bpf.rs`
//! the v2 device rules (an eBPF program), `files.rs` the shared file
//! operations.
//!
//! [`Cgroup::stats`] reads usage in the shape of runc's `events --stats`
//! (`stats.rs`); [`Cgroup::oom_watcher`] gives a pollable fd that reports
//! OOM kills (`events.rs`). `placement.rs` says which hierarchy holds each
//! controller (a hybrid host can have hugetlb in the unified one).
//!
//! Not here: the systemd cgroup driver ([`systemd_available`] lets the
//! runtime say why it refuses `--systemd-cgroup`).

#![forbid(unsafe_code)]

mod devices_bpf;
mod error;
mod events;
mod files;
mod mode;
mod path;
mod placement;
mod resources;
mod stats;
mod v1;
mod v2;

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

pub use crate::error::{Error, ErrorKind};
pub use crate::events::OomWatcher;
pub use crate::mode::{detect_mode, host, systemd_available, Hierarchy, Host, Mode};
use crate::path::CgroupPath;
pub use crate::path::{container_path, DEFAULT_PARENT};
pub use crate::stats::{
    Blkio, BlkioEntry, Cpu, CpuSet, CpuUsage, Hugetlb, IntelRdt, Memory, MemoryEntry,
    NetworkInterface, Pids, PsiData, PsiStats, Stats, Throttling,
};

/// One hierarchy's directory for the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Dir {
    /// v1: the controllers of the hierarchy as `/proc/self/cgroup` names them
    /// (`["cpu", "cpuacct"]`, `["name=systemd"]`); empty for the unified one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    controllers: Vec<String>,
    mount_point: PathBuf,
    path: PathBuf,
    /// The calling process's own cgroup in this hierarchy, when `resolve`d
    /// here (not stored: only `create` needs it, to keep its hands off it).
    #[serde(skip)]
    own_dir: Option<PathBuf>,
}

/// A container's cgroup across every hierarchy of the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cgroup {
    mode: Mode,
    /// v1 and hybrid: one directory per mounted v1 hierarchy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    v1: Vec<Dir>,
    /// v2: the directory; hybrid: the one in the controller-less unified
    /// hierarchy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unified: Option<Dir>,
}

impl Cgroup {
    /// Resolves the OCI `linux.cgroupsPath` the way runc's cgroupfs driver
    /// does: an absolute path is relative to each hierarchy's root; a relative
    /// path is relative to the calling process's own cgroup in that hierarchy
    /// (from `/proc/self/cgroup`, as [`host`] read it once per process);
    /// `None` or empty means
    /// `/berth/<container_id>` (absolute, unlike runc's relative default, so we
    /// never create cgroups under the cgroup we run in). Paths whose `..`
    /// climb out of their base, or that resolve to the base itself, are
    /// rejected. No filesystem changes.
    pub fn resolve(cgroups_path: Option<&str>, container_id: &str) -> Result<Self, Error> {
        let path = CgroupPath::parse(cgroups_path, container_id)?;
        Self::from_layout(&path, host()?)
    }

    fn from_layout(path: &CgroupPath, layout: &Host) -> Result<Self, Error> {
        let mut v1 = Vec::new();
        for m in &layout.v1 {
            v1.push(Dir {
                controllers: m.controllers.clone(),
                mount_point: m.mount_point.clone(),
                path: path.dir_in(&m.mount_point, m.own_dir.as_deref())?,
                own_dir: m.own_dir.clone(),
            });
        }
        let unified = match &layout.unified {
            Some(u) => Some(Dir {
                controllers: Vec::new(),
                mount_point: u.mount_point.clone(),
                path: path.dir_in(&u.mount_point, u.own_dir.as_deref())?,
                own_dir: u.own_dir.clone(),
            }),
            None => None,
        };
        if v1.is_empty() && unified.is_none() {
            return Err(Error::NoHierarchy {
                controller: "any".to_string(),
            });
        }
        Ok(Self {
            mode: layout.mode,
            v1,
            unified,
        })
    }

    /// The host's mode when this cgroup was resolved.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Directory of the cgroup in the hierarchy that holds `controller`
    /// (`"memory"`, `"cpuacct"`, `"name=systemd"`...). On v2 every controller
    /// maps to the one directory (whether or not the controller is enabled).
    pub fn path_of(&self, controller: &str) -> Option<PathBuf> {
        if let Some(d) = self
            .v1
            .iter()
            .find(|d| d.controllers.iter().any(|c| c == controller))
        {
            return Some(d.path.clone());
        }
        match self.mode {
            Mode::V2 => self.unified.as_ref().map(|d| d.path.clone()),
            _ => None,
        }
    }

    /// Directory of the cgroup in the unified (cgroup2) hierarchy, on v2 and
    /// hybrid hosts.
    pub fn unified_path(&self) -> Option<&Path> {
        self.unified.as_ref().map(|d| d.path.as_path())
    }

    /// Every directory of the cgroup, one per hierarchy.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.v1
            .iter()
            .chain(self.unified.as_ref())
            .map(|d| d.path.as_path())
    }

    /// Creates the directories (`mkdir -p`) in every hierarchy: v1, every
    /// mounted one including named ones such as `name=systemd`; hybrid, also
    /// the unified one; v2, the one directory, with the controllers enabled in
    /// the ancestors' `cgroup.subtree_control` (see `v2::create` for which
    /// ancestors it writes). On v1, each new cpuset level gets its parent's
    /// `cpuset.cpus` and `cpuset.mems`. Existing directories are fine.
    pub fn create(&self) -> Result<(), Error> {
        for d in &self.v1 {
            v1::create(&d.controllers, &d.path)?;
        }
        if let Some(u) = &self.unified {
            let own = match &u.own_dir {
                Some(own) => Some(own.clone()),
                // deserialized from state: look again
                None => host()?.unified.as_ref().and_then(|u| u.own_dir.clone()),
            };
            v2::create(&u.mount_point, &u.path, own.as_deref())?;
        }
        tracing::debug!(cgroup = ?self.paths().collect::<Vec<_>>(), "created cgroup");
        Ok(())
    }

    /// Moves process `pid` (all its threads) into the cgroup in every
    /// hierarchy.
    pub fn add_process(&self, pid: i32) -> Result<(), Error> {
        let value = pid.to_string();
        for dir in self.paths() {
            files::write(&dir.join("cgroup.procs"), &value)?;
        }
        Ok(())
    }

    /// Applies `linux.resources`: every field, on v1 and v2 (`resources.rs`
    /// and the files beside it say which cgroup files each field writes).
    ///
    /// This is also the live update: only the fields that are set are
    /// written, so a partial `LinuxResources` changes just those limits.
    /// Device rules: v1 writes them to `devices.allow`/`devices.deny` in
    /// order; v2 compiles them into an eBPF program that replaces the
    /// cgroup's previous one (`devices_bpf.rs` says how the rules read).
    /// A field the host cannot honour (controller not mounted or not
    /// enabled, file missing from this kernel, no such knob in this cgroup
    /// version) is an [`Error::ResourceUnsupported`] naming it, and nothing
    /// is written then. A value the kernel refuses fails with that write's
    /// error, after the fields before it were written.
    pub fn apply(&self, resources: &LinuxResources) -> Result<(), Error> {
        let plan = resources::plan(resources, &self.host())?;
        // The plan leaves v2 device rules out: they become an eBPF program,
        // compiled before any write so that invalid rules change nothing.
        let device_filter = match resources.devices() {
            Some(rules) if plan.devices_skipped => Some(devices_bpf::Program::compile(rules)?),
            _ => None,
        };
        resources::carry_out(&plan, |c| self.controller_dir(c))?;
        if let Some(program) = &device_filter {
            devices_bpf::attach(self.resource_dir("devices")?, program)?;
        }
        Ok(())
    }

    fn resource_dir(&self, controller: &str) -> Result<&Path, Error> {
        let dir = match self.mode {
            Mode::V2 => self.unified.as_ref(),
            Mode::V1 | Mode::Hybrid => self
                .v1
                .iter()
                .find(|d| d.controllers.iter().any(|c| c == controller)),
        };
        dir.map(|d| d.path.as_path())
            .ok_or_else(|| Error::NoHierarchy {
                controller: controller.to_string(),
            })
    }

    /// The directory to list processes from: the unified one on v2; on v1 the
    /// pids, freezer or memory hierarchy (every process is in every
    /// hierarchy; these are the ones a container always joins).
    fn procs_dir(&self) -> Result<&Path, Error> {
        if self.mode == Mode::V2 {
            return self.resource_dir("pids");
        }
        ["pids", "freezer", "memory"]
            .iter()
            .find_map(|c| {
                self.v1
                    .iter()
                    .find(|d| d.controllers.iter().any(|x| x == c))
            })
            .or_else(|| self.v1.first())
            .or(self.unified.as_ref())
            .map(|d| d.path.as_path())
            .ok_or_else(|| Error::NoHierarchy {
                controller: "pids".to_string(),
            })
    }

    /// PIDs in the cgroup and in every cgroup below it, sorted. A cgroup that
    /// does not exist has no processes.
    pub fn pids(&self) -> Result<Vec<i32>, Error> {
        files::procs_recursive(self.procs_dir()?)
    }

    fn freezer(&self) -> Result<Freezer<'_>, Error> {
        if let Some(d) = self
            .v1
            .iter()
            .find(|d| d.controllers.iter().any(|c| c == "freezer"))
        {
            return Ok(Freezer::V1(&d.path));
        }
        match &self.unified {
            Some(u) if v2::can_freeze(&u.path) => Ok(Freezer::V2(&u.path)),
            _ => Err(Error::NoHierarchy {
                controller: "freezer".to_string(),
            }),
        }
    }

    /// Freezes every process in the cgroup and waits until they all are
    /// (v1: `freezer.state` reads `FROZEN`; v2: `cgroup.events` says
    /// `frozen 1`). Hybrid hosts use the v1 freezer when mounted, else the
    /// unified hierarchy's.
    pub fn freeze(&self) -> Result<(), Error> {
        match self.freezer()? {
            Freezer::V1(d) => v1::freeze(d),
            Freezer::V2(d) => v2::freeze(d),
        }
    }

    /// Thaws the cgroup (does not wait).
    pub fn thaw(&self) -> Result<(), Error> {
        match self.freezer()? {
            Freezer::V1(d) => v1::thaw(d),
            Freezer::V2(d) => v2::thaw(d),
        }
    }

    /// Whether the cgroup is fully frozen (a freeze still in progress is not).
    pub fn is_frozen(&self) -> Result<bool, Error> {
        match self.freezer()? {
            Freezer::V1(d) => v1::is_frozen(d),
            Freezer::V2(d) => v2::is_frozen(d),
        }
    }

    /// Sends `signal` to every process in the cgroup and below.
    ///
    /// `SIGKILL` on v2 uses `cgroup.kill` when the kernel has it (atomic, no
    /// race with forks; frozen processes die too, the freeze state is left
    /// as is). Otherwise, for `SIGKILL`, the cgroup is frozen first (when a
    /// freezer is available) so nothing forks between listing and killing,
    /// then thawed so the killed processes can die; this also ends a pause. Other signals are sent without freezing, and a paused
    /// container receives them when resumed. Processes that exit meanwhile
    /// are not an error.
    pub fn signal_all(&self, signal: Signal) -> Result<(), Error> {
        if signal == Signal::SIGKILL {
            if let (Mode::V2, Some(u)) = (self.mode, &self.unified) {
                if u.path.exists() && v2::kill(&u.path)? {
                    return Ok(());
                }
            }
            // Nothing to kill (the usual case when deleting a stopped
            // container): skip the freeze and thaw. An empty cgroup stays
            // empty, since only its own members can fork into it.
            if self.pids()?.is_empty() {
                return Ok(());
            }
            let frozen = match self.freeze() {
                Ok(()) => true,
                Err(e) => {
                    tracing::debug!(error = %e, "killing without freezing first");
                    false
                }
            };
            let sent = self.send_to_each(signal);
            let thawed = if frozen { self.thaw() } else { Ok(()) };
            return sent.and(thawed);
        }
        self.send_to_each(signal)
    }

    fn send_to_each(&self, signal: Signal) -> Result<(), Error> {
        let mut first_err = None;
        for pid in self.pids()? {
            match signal::kill(Pid::from_raw(pid), signal) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(source) => {
                    first_err.get_or_insert(Error::Signal {
                        pid,
                        signal,
                        source,
                    });
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Removes the cgroup's directory in every hierarchy, with any child
    /// cgroups left in it, deepest first. `rmdir` is retried a few times on
    /// `EBUSY` (processes still being reaped). A missing directory is not an
    /// error. Parents (such as `/berth`) are left in place. Tries every
    /// hierarchy and returns the first error.
    pub fn destroy(&self) -> Result<(), Error> {
        let mut first_err = None;
        for dir in self.paths() {
            if let Err(e) = files::remove_tree(dir) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

enum Freezer<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";
    const SELF: &str = "4:memory:/process_api/x\n2:cpu,cpuacct:/\n1:name=systemd:/\n0::/\n";

    fn hybrid(path: Option<&str>) -> Result<Cgroup, Error> {
        let layout = Host::from_parts(Mode::Hybrid, MOUNTINFO, SELF).unwrap();
        Cgroup::from_layout(&CgroupPath::parse(path, "c1")?, &layout)
    }

    #[test]
    fn resolve_maps_each_hierarchy() {
        let cg = hybrid(None).unwrap();
        assert_eq!(cg.path_of("cpu"), cg.path_of("cpuacct"));
        assert_eq!(
            cg.path_of("cpuacct").unwrap(),
            Path::new("/sys/fs/cgroup/cpu,cpuacct/berth/c1")
        );
        assert_eq!(
            cg.path_of("name=systemd").unwrap(),
            Path::new("/sys/fs/cgroup/systemd/berth/c1")
        );
        assert_eq!(
            cg.unified_path().unwrap(),
            Path::new("/sys/fs/cgroup/unified/berth/c1")
        );
        assert_eq!(cg.path_of("pids"), None);
        assert_eq!(cg.paths().count(), 4);

        let cg = hybrid(Some("sub/c")).unwrap();
        assert_eq!(
            cg.path_of("memory").unwrap(),
            Path::new("/sys/fs/cgroup/memory/process_api/x/sub/c")
        );
        assert_eq!(
            cg.path_of("cpu").unwrap(),
            Path::new("/sys/fs/cgroup/cpu,cpuacct/sub/c")
        );
    }

    #[test]
    fn state_round_trips_through_json() {
        let cg = hybrid(Some("/a/b")).unwrap();
        let json = serde_json::to_string(&cg).unwrap();
        assert!(json.contains(r#""mode":"hybrid""#), "{json}");
        let back: Cgroup = serde_json::from_str(&json).unwrap();
        assert_eq!(
            back.paths().collect::<Vec<_>>(),
            cg.paths().collect::<Vec<_>>()
        );
        assert_eq!(back.mode(), Mode::Hybrid);
    }

    #[test]
    fn error_kinds() {
        assert_eq!(
            hybrid(Some("/..")).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        let e = Error::Write {
            path: "/x".into(),
            value: "1".into(),
            source: std::io::Error::from_raw_os_error(libc::EINVAL),
        };
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(e.to_string(), r#"failed to write "1" to /x"#);
        assert_eq!(
            Error::Unsupported("x".into()).kind(),
            ErrorKind::Unsupported
        );
    }
}
