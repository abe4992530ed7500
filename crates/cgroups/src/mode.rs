//! What the host's cgroup layout is: the mode (v1, v2 or hybrid), where each
//! hierarchy is mounted, which cgroup the calling process sits in, and
//! whether swap is accounted: [`Host`], the one place the runtime, the
//! engine and the CLI learn these from.
//!
//! This module only reads `/proc/self/mountinfo`, `/proc/self/cgroup`,
//! `statfs(2)` of `/sys/fs/cgroup` and (when asked) a hierarchy root's
//! files; it never changes anything. Turning a
//! `linux.cgroupsPath` into directories is `path.rs`'s job.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC, TMPFS_MAGIC};
use serde::{Deserialize, Serialize};

use crate::{files, Error};

/// The usual place where the cgroup filesystems are mounted.
pub(crate) const CGROUP_ROOT: &str = "/sys/fs/cgroup";
const MOUNTINFO: &str = "/proc/self/mountinfo";
const PROC_SELF_CGROUP: &str = "/proc/self/cgroup";

/// How the host mounts its cgroup hierarchies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Only cgroup v1 hierarchies (one per controller or group of controllers).
    V1,
    /// Only the unified cgroup2 hierarchy, mounted at `/sys/fs/cgroup`.
    V2,
    /// cgroup v1 controllers, plus a cgroup2 hierarchy at
    /// `/sys/fs/cgroup/unified` that normally holds no controllers (what
    /// systemd calls "hybrid").
    Hybrid,
}

/// Detects the host's cgroup mode the way runc does: `/sys/fs/cgroup` itself
/// being cgroup2 means v2; otherwise a cgroup2 filesystem at
/// `/sys/fs/cgroup/unified` means hybrid; otherwise v1.
pub fn detect_mode() -> Result<Mode, Error> {
    let root = Path::new(CGROUP_ROOT);
    let fs = statfs(root).map_err(|errno| Error::Statfs {
        path: root.to_path_buf(),
        source: errno.into(),
    })?;
    if fs.filesystem_type() == CGROUP2_SUPER_MAGIC {
        return Ok(Mode::V2);
    }
    let unified = root.join("unified");
    match statfs(&unified) {
        Ok(fs) if fs.filesystem_type() == CGROUP2_SUPER_MAGIC => return Ok(Mode::Hybrid),
        _ => {}
    }
    if fs.filesystem_type() != TMPFS_MAGIC {
        // Some minimal systems mount a single v1 hierarchy straight at
        // /sys/fs/cgroup; that is still v1, but worth a trace.
        tracing::debug!(path = %root.display(), "cgroup root is neither cgroup2 nor tmpfs");
    }
    Ok(Mode::V1)
}

/// Whether systemd is the init system of this host (`/run/systemd/system`
/// exists, the test `sd_booted(3)` makes). This crate has no systemd cgroup
/// driver: a `slice:prefix:name` cgroups path is taken as one directory
/// name, as runc's cgroupfs driver does. The runtime uses this to explain
/// why it refuses `--systemd-cgroup`.
pub fn systemd_available() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// v1: the controllers as `/proc/self/cgroup` names them, e.g.
    /// `["cpu", "cpuacct"]` or `["name=systemd"]`; empty for the unified
    /// (cgroup2) hierarchy.
    pub controllers: Vec<String>,
    /// Where the hierarchy is mounted, e.g. `/sys/fs/cgroup/cpu,cpuacct`.
    pub mount_point: PathBuf,
    /// The cgroup the detecting process was in, as an absolute directory
    /// under `mount_point`, or `None` when that cgroup is not visible
    /// through the mount (the mount shows a different subtree).
    pub own_dir: Option<PathBuf>,
}

impl Hierarchy {
    /// The unified (cgroup2) hierarchy rather than a v1 one.
    pub fn is_unified(&self) -> bool {
        self.controllers.is_empty()
    }
}

/// The host's cgroup facts, as one process sees them: the mode, every
/// mounted hierarchy, and (read when first asked) which controllers a
/// hybrid host's unified hierarchy has and whether swap is accounted.
/// [`host`] detects them once per process; [`Host::detect`] reads them
/// again (another mount namespace, or the cgroups of a process that moved).
#[derive(Debug, Clone)]
pub struct Host {
    pub(crate) mode: Mode,
    /// v1 and hybrid: the mounted v1 hierarchies.
    pub(crate) v1: Vec<Hierarchy>,
    /// v2: the hierarchy; hybrid: the (usually controller-less) unified one.
    pub(crate) unified: Option<Hierarchy>,
    unified_controllers: OnceLock<Vec<String>>,
    swap_accounting: OnceLock<bool>,
}

/// The host's cgroup facts, detected on the first call in this process
/// (a `statfs` and two short reads from `/proc`) and kept. A failed
/// detection is not kept: the next call tries again.
pub fn host() -> Result<&'static Host, Error> {
    static HOST: OnceLock<Host> = OnceLock::new();
    if let Some(h) = HOST.get() {
        return Ok(h);
    }
    let detected = Host::detect()?;
    Ok(HOST.get_or_init(|| detected))
}

impl Host {
    /// Reads the layout of the calling process's mount and cgroup namespaces.
    pub fn detect() -> Result<Self, Error> {
        let mode = detect_mode()?;
        let mountinfo = read(Path::new(MOUNTINFO))?;
        let self_cgroup = read(Path::new(PROC_SELF_CGROUP))?;
        Self::from_parts(mode, &mountinfo, &self_cgroup)
    }

    /// v1, v2 or hybrid.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Every mounted hierarchy: the v1 ones, then the unified one.
    pub fn hierarchies(&self) -> impl Iterator<Item = &Hierarchy> {
        self.v1.iter().chain(self.unified.as_ref())
    }

    /// The unified (cgroup2) hierarchy, on v2 and hybrid hosts.
    pub fn unified(&self) -> Option<&Hierarchy> {
        self.unified.as_ref()
    }

    /// The hierarchy that holds `controller` (`"memory"`, `"cpuacct"`,
    /// `"name=systemd"`...): on v2 the one hierarchy; on v1 the one whose
    /// mount lists it; on a hybrid host a controller no v1 hierarchy has
    /// can be in the unified one (hugetlb, when its v1 one is not mounted).
    pub fn hierarchy_of(&self, controller: &str) -> Option<&Hierarchy> {
        if self.mode == Mode::V2 {
            return self.unified.as_ref();
        }
        if let Some(h) = self
            .v1
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == controller))
        {
            return Some(h);
        }
        let u = self.unified.as_ref()?;
        self.unified_controllers()
            .iter()
            .any(|c| c == controller)
            .then_some(u)
    }

    /// Hybrid: the controllers the unified hierarchy's root offers (read
    /// once). Empty on v1; on v2 every controller is there anyway.
    pub(crate) fn unified_controllers(&self) -> &[String] {
        self.unified_controllers
            .get_or_init(|| match (&self.mode, &self.unified) {
                (Mode::Hybrid, Some(u)) => unified_controllers(&u.mount_point),
                _ => Vec::new(),
            })
    }

    /// Whether the kernel accounts swap per cgroup, so that a memory+swap
    /// limit can be set (Docker's sysinfo rule): v1, the memory hierarchy
    /// has `memory.memsw.limit_in_bytes`; v2, the memory controller is
    /// available (every non-root cgroup then has `memory.swap.max`; the
    /// root has none to look at). Read once.
    pub fn swap_accounting(&self) -> bool {
        *self.swap_accounting.get_or_init(|| {
            let Some(h) = self.hierarchy_of("memory") else {
                return false;
            };
            if h.is_unified() {
                files::read(&h.mount_point.join("cgroup.controllers"))
                    .is_ok_and(|c| c.split_whitespace().any(|c| c == "memory"))
            } else {
                h.mount_point.join("memory.memsw.limit_in_bytes").exists()
            }
        })
    }

    /// Builds the layout from the text of `/proc/self/mountinfo` and
    /// `/proc/self/cgroup`.
    pub(crate) fn from_parts(
        mode: Mode,
        mountinfo: &str,
        self_cgroup: &str,
    ) -> Result<Self, Error> {
        let mounts = parse_mountinfo(mountinfo)?;
        let memberships = parse_proc_cgroup(self_cgroup)?;
        let mut layout = Host {
            mode,
            v1: Vec::new(),
            unified: None,
            unified_controllers: OnceLock::new(),
            swap_accounting: OnceLock::new(),
        };

        if mode != Mode::V2 {
            // (position in mountinfo, hierarchy): listed in mount order,
            // the order a container's /sys/fs/cgroup shows them in.
            let mut v1 = Vec::new();
            for m in memberships.iter().filter(|m| m.hierarchy_id != 0) {
                // A hierarchy can be mounted more than once (bind mounts into
                // containers); the first mount under /sys/fs/cgroup wins, then
                // any.
                let candidates = mounts.iter().enumerate().filter(|(_, mnt)| {
                    mnt.fs_type == "cgroup"
                        && m.controllers
                            .iter()
                            .all(|c| mnt.super_options.iter().any(|o| o == c))
                });
                let chosen = candidates
                    .clone()
                    .find(|(_, mnt)| mnt.mount_point.starts_with(CGROUP_ROOT))
                    .or_else(|| candidates.clone().next());
                let Some((position, mnt)) = chosen else {
                    tracing::debug!(controllers = ?m.controllers, "v1 hierarchy is not mounted");
                    continue;
                };
                v1.push((
                    position,
                    Hierarchy {
                        controllers: m.controllers.clone(),
                        mount_point: mnt.mount_point.clone(),
                        own_dir: own_dir(mnt, &m.path),
                    },
                ));
            }
            v1.sort_by_key(|(position, _)| *position);
            layout.v1 = v1.into_iter().map(|(_, h)| h).collect();
        }

        if mode != Mode::V1 {
            let want = match mode {
                Mode::V2 => PathBuf::from(CGROUP_ROOT),
                _ => Path::new(CGROUP_ROOT).join("unified"),
            };
            let mnt = mounts
                .iter()
                .find(|mnt| mnt.fs_type == "cgroup2" && mnt.mount_point == want)
                .or_else(|| mounts.iter().find(|mnt| mnt.fs_type == "cgroup2"));
            if let Some(mnt) = mnt {
                let own = memberships.iter().find(|m| m.hierarchy_id == 0);
                layout.unified = Some(Hierarchy {
                    controllers: Vec::new(),
                    mount_point: mnt.mount_point.clone(),
                    own_dir: own.and_then(|m| own_dir(mnt, &m.path)),
                });
            } else if mode == Mode::V2 {
                // statfs said cgroup2 but mountinfo disagrees: trust statfs.
                layout.unified = Some(Hierarchy {
                    controllers: Vec::new(),
                    mount_point: want,
                    own_dir: None,
                });
            }
        }
        Ok(layout)
    }
}

/// The controllers a cgroup2 hierarchy mounted at `mount_point` offers
/// (its root's `cgroup.controllers`); none when unreadable.
pub(crate) fn unified_controllers(mount_point: &Path) -> Vec<String> {
    files::read(&mount_point.join("cgroup.controllers"))
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// `/proc/self/cgroup` says the process is in `cgroup_path` of a hierarchy;
/// the mount shows that hierarchy from `mount.root` down. Returns the
/// directory under the mount point, if visible.
fn own_dir(mount: &MountEntry, cgroup_path: &str) -> Option<PathBuf> {
    let rel = Path::new(cgroup_path).strip_prefix(&mount.root).ok()?;
    Some(mount.mount_point.join(rel))
}

/// One line of `/proc/self/mountinfo`, the fields this crate uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountEntry {
    /// The root of the mount within the filesystem (for cgroup filesystems:
    /// the cgroup shown at the mount point).
    pub root: PathBuf,
    pub mount_point: PathBuf,
    pub fs_type: String,
    pub super_options: Vec<String>,
}

/// Parses `/proc/self/mountinfo` (see proc(5)), keeping only cgroup
/// filesystems.
pub(crate) fn parse_mountinfo(text: &str) -> Result<Vec<MountEntry>, Error> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let bad = || Error::Parse {
            path: PathBuf::from(MOUNTINFO),
            line: line.to_string(),
        };
        let (left, right) = line.split_once(" - ").ok_or_else(bad)?;
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        if left.len() < 6 || right.len() < 3 {
            return Err(bad());
        }
        let fs_type = right[0];
        if fs_type != "cgroup" && fs_type != "cgroup2" {
            continue;
        }
        out.push(MountEntry {
            root: PathBuf::from(unescape(left[3])),
            mount_point: PathBuf::from(unescape(left[4])),
            fs_type: fs_type.to_string(),
            super_options: right[2].split(',').map(str::to_string).collect(),
        });
    }
    Ok(out)
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() {
            let oct = &bytes[i + 1..i + 4];
            let value = oct.iter().try_fold(0u16, |acc, b| {
                (b'0'..=b'7')
                    .contains(b)
                    .then(|| acc * 8 + u16::from(b - b'0'))
            });
            if let Some(v) = value.and_then(|v| u8::try_from(v).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One line of `/proc/<pid>/cgroup`: `hierarchy-id:controllers:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Membership {
    pub hierarchy_id: u32,
    /// Empty for the unified hierarchy (id 0).
    pub controllers: Vec<String>,
    pub path: String,
}

pub(crate) fn parse_proc_cgroup(text: &str) -> Result<Vec<Membership>, Error> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let bad = || Error::Parse {
            path: PathBuf::from(PROC_SELF_CGROUP),
            line: line.to_string(),
        };
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let hierarchy_id = id.parse().map_err(|_| bad())?;
        let controllers = controllers
            .split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>();
        if hierarchy_id != 0 && controllers.is_empty() {
            // A v1 hierarchy without controllers or name: nothing to join.
            continue;
        }
        out.push(Membership {
            hierarchy_id,
            controllers,
            path: path.to_string(),
        });
    }
    Ok(out)
}

fn read(path: &Path) -> Result<String, Error> {
    fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTINFO: &str = "\
23 1 0:21 / /sys rw,nosuid - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime shared:9 - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
";
    const HYBRID_SELF: &str = "\
9:name=systemd:/user.slice
4:memory:/process_api/abc
3:cpuset:/
2:cpu,cpuacct:/
7:blkio:/
0::/user.slice
";

    #[test]
    fn hybrid_layout_maps_every_mounted_hierarchy() {
        let l = Host::from_parts(Mode::Hybrid, HYBRID_MOUNTINFO, HYBRID_SELF).unwrap();
        let names: Vec<String> = l.v1.iter().map(|m| m.controllers.join(",")).collect();
        // blkio is in /proc/self/cgroup but not mounted: skipped. In mount
        // order.
        assert_eq!(names, ["cpu,cpuacct", "cpuset", "memory", "name=systemd"]);
        let mem = &l.v1[2];
        assert_eq!(mem.mount_point, Path::new("/sys/fs/cgroup/memory"));
        assert_eq!(
            mem.own_dir.as_deref(),
            Some(Path::new("/sys/fs/cgroup/memory/process_api/abc"))
        );
        let u = l.unified.unwrap();
        assert_eq!(u.mount_point, Path::new("/sys/fs/cgroup/unified"));
        assert_eq!(
            u.own_dir.as_deref(),
            Some(Path::new("/sys/fs/cgroup/unified/user.slice"))
        );
    }

    #[test]
    fn v2_layout_ignores_v1_lines() {
        let mi = "35 31 0:30 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n";
        let l = Host::from_parts(Mode::V2, mi, "0::/a/b\n").unwrap();
        assert!(l.v1.is_empty());
        let u = l.unified.unwrap();
        assert_eq!(u.mount_point, Path::new("/sys/fs/cgroup"));
        assert_eq!(u.own_dir.as_deref(), Some(Path::new("/sys/fs/cgroup/a/b")));
    }

    #[test]
    fn mount_root_is_stripped_from_own_cgroup() {
        // A container that sees only its own subtree, bind-mounted.
        let mi = "35 31 0:30 /docker/x /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let l = Host::from_parts(Mode::V2, mi, "0::/docker/x/sub\n").unwrap();
        assert_eq!(
            l.unified.unwrap().own_dir.as_deref(),
            Some(Path::new("/sys/fs/cgroup/sub"))
        );
        // Own cgroup outside the mounted subtree: not visible.
        let l = Host::from_parts(Mode::V2, mi, "0::/other\n").unwrap();
        assert_eq!(l.unified.unwrap().own_dir, None);
    }

    #[test]
    fn mountinfo_escapes_are_decoded() {
        let mi = "1 2 0:1 / /mnt/a\\040b rw - cgroup cgroup rw,pids\n";
        let m = parse_mountinfo(mi).unwrap();
        assert_eq!(m[0].mount_point, Path::new("/mnt/a b"));
        assert_eq!(unescape("x\\134y\\"), "x\\y\\");
    }

    #[test]
    fn malformed_lines_are_errors() {
        assert!(parse_mountinfo("garbage\n").is_err());
        assert!(parse_proc_cgroup("x:y\n").is_err());
        assert!(parse_proc_cgroup("nan:memory:/\n").is_err());
    }

    /// A scratch directory standing in for `/sys/fs/cgroup`.
    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("berth-cg-host-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn swap_accounting_v1_is_the_memsw_file() {
        let root = scratch("v1swap");
        fs::create_dir_all(root.join("memory")).unwrap();
        let mi = format!(
            "35 31 0:32 / {}/memory rw - cgroup cgroup rw,memory\n",
            root.display()
        );
        let self_cg = "4:memory:/\n";
        let h = Host::from_parts(Mode::V1, &mi, self_cg).unwrap();
        assert!(!h.swap_accounting());
        fs::write(root.join("memory/memory.memsw.limit_in_bytes"), "").unwrap();
        // Read once per Host: a new detection sees the file.
        assert!(!h.swap_accounting());
        assert!(Host::from_parts(Mode::V1, &mi, self_cg)
            .unwrap()
            .swap_accounting());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn swap_accounting_v2_is_the_memory_controller() {
        let root = scratch("v2swap");
        let mi = format!("35 31 0:30 / {} rw - cgroup2 cgroup2 rw\n", root.display());
        fs::write(root.join("cgroup.controllers"), "cpu io pids\n").unwrap();
        assert!(!Host::from_parts(Mode::V2, &mi, "0::/\n")
            .unwrap()
            .swap_accounting());
        fs::write(root.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        let h = Host::from_parts(Mode::V2, &mi, "0::/\n").unwrap();
        assert!(h.swap_accounting());
        assert_eq!(h.hierarchy_of("memory").unwrap().mount_point, root);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn hybrid_hugetlb_can_be_in_the_unified_hierarchy() {
        let root = scratch("hybrid");
        fs::create_dir_all(root.join("unified")).unwrap();
        fs::write(root.join("unified/cgroup.controllers"), "hugetlb\n").unwrap();
        let mi = format!(
            "32 31 0:29 / {r}/memory rw - cgroup cgroup rw,memory\n\
             41 31 0:38 / {r}/unified rw - cgroup2 cgroup2 rw\n",
            r = root.display()
        );
        let h = Host::from_parts(Mode::Hybrid, &mi, "4:memory:/a\n0::/a\n").unwrap();
        let names: Vec<_> = h.hierarchies().map(|x| x.controllers.join(",")).collect();
        assert_eq!(names, ["memory", ""]);
        assert!(h.unified().unwrap().is_unified());
        assert_eq!(
            h.hierarchy_of("memory").unwrap().mount_point,
            root.join("memory")
        );
        assert_eq!(
            h.hierarchy_of("hugetlb").unwrap().mount_point,
            root.join("unified")
        );
        assert_eq!(h.hierarchy_of("pids"), None);
        assert_eq!(
            h.hierarchy_of("memory").unwrap().own_dir.as_deref(),
            Some(root.join("memory/a").as_path())
        );
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn host_is_detected_once() {
        let (a, b) = (host().unwrap(), host().unwrap());
        assert!(std::ptr::eq(a, b));
        assert_eq!(a.mode(), detect_mode().unwrap());
    }
}
