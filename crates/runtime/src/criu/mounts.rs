//! Which of a container's mounts CRIU must treat as external, and where
//! they come from on the host.
//!
//! CRIU dumps the mounts it can rebuild (proc, sysfs, tmpfs with its
//! content, devpts, mqueue, fresh cgroup mounts). A bind mount of a host
//! path it cannot: at checkpoint each one is named as external (`ext_mnt`,
//! key = its destination), and at restore the key is mapped to the host
//! path to bind again. Which ones are binds is decided the way `create`
//! made them (rootfs/mod.rs, rootfs/cgroupfs.rs, rootfs/devices.rs):
//! the config's bind mounts, the v1 cgroup hierarchies bound from the
//! container's cgroup, device nodes (bound in a user namespace), and
//! masked files (`/dev/null` bound over them), as runc marks them.

use std::path::{Component, Path, PathBuf};

use berth_cgroups::{Cgroup, Mode};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::namespaces::Plan;
use crate::rootfs::options;

/// Where the host's cgroup hierarchies are mounted (as in cgroupfs.rs).
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Devices `create` makes when the config mounts its own `/dev`.
const DEFAULT_DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

/// One external mount: `dest` in the container, `source` on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct External {
    pub dest: PathBuf,
    pub source: PathBuf,
}

/// The container's external mounts. `cgroup` is the container's cgroup
/// (the source of its v1 hierarchy binds), `bundle` resolves relative bind
/// sources.
pub fn externals(
    spec: &Spec,
    plan: &Plan,
    cgroup: Option<&Cgroup>,
    bundle: &Path,
) -> Vec<External> {
    let mut out = Vec::new();
    let mut dev_mounted = false;
    for m in spec.mounts().as_deref().unwrap_or_default() {
        let dest = clean(m.destination());
        let fstype = m.typ().as_deref().unwrap_or("");
        let opts = m.options().as_deref().unwrap_or_default();
        let bind = fstype == "bind"
            || opts
                .iter()
                .any(|o| matches!(options::lookup(o), Some(options::Effect::Bind { .. })));
        if dest == Path::new("/dev") && !bind {
            dev_mounted = true;
        }
        if bind {
            let Some(source) = m.source() else { continue };
            let source = if source.is_absolute() {
                source.clone()
            } else {
                bundle.join(source)
            };
            out.push(External { dest, source });
        } else if fstype == "cgroup" || fstype == "cgroup2" {
            out.extend(cgroup_binds(&dest, plan, cgroup));
        }
    }
    let devices = spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
        .map(|d| clean(d.path()));
    let defaults = DEFAULT_DEVICES
        .iter()
        .filter(|_| dev_mounted)
        .map(PathBuf::from);
    for path in devices.chain(defaults) {
        if !out.iter().any(|e| e.dest == path) {
            out.push(External {
                dest: path.clone(),
                source: path,
            });
        }
    }
    out
}

/// The binds `cgroupfs::mount` makes for a `cgroup` mount at `dest`: on
/// v1 and hybrid hosts one per v1 hierarchy (unless fresh mounts in a
/// cgroup namespace replace them); on v2 the container's directory when
/// it has no cgroup namespace.
fn cgroup_binds(dest: &Path, plan: &Plan, cgroup: Option<&Cgroup>) -> Vec<External> {
    let Some(cg) = cgroup else { return Vec::new() };
    let Ok(host) = berth_cgroups::host() else {
        return Vec::new();
    };
    let userns = plan.has(LinuxNamespaceType::User);
    let fresh = plan.new_cgroup;
    let mut out = Vec::new();
    let pure_v2 = host.mode() == Mode::V2;
    for h in host.hierarchies() {
        if !h.mount_point.starts_with(CGROUP_ROOT) {
            continue;
        }
        if pure_v2 {
            if !fresh || userns {
                if let Some(p) = cg.unified_path() {
                    out.push(External {
                        dest: dest.to_path_buf(),
                        source: p.to_path_buf(),
                    });
                }
            }
            continue;
        }
        let name = h
            .mount_point
            .strip_prefix(CGROUP_ROOT)
            .unwrap_or(&h.mount_point);
        if name.as_os_str().is_empty() || h.is_unified() || (fresh && !userns) {
            continue;
        }
        let Some(source) = h.controllers.first().and_then(|c| cg.path_of(c)) else {
            continue;
        };
        out.push(External {
            dest: dest.join(name),
            source,
        });
    }
    out
}

/// The masked paths that are files in the running container (a masked
/// directory is a tmpfs, which CRIU dumps itself): `init` is the
/// container's init on the host, to look through its root.
pub fn masked_files(spec: &Spec, init: i32) -> Vec<PathBuf> {
    let root = PathBuf::from(format!("/proc/{init}/root"));
    spec.linux()
        .as_ref()
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
        .map(|p| clean(Path::new(p)))
        .filter(|p| {
            let inside = root.join(p.strip_prefix("/").unwrap_or(p));
            std::fs::metadata(inside).is_ok_and(|m| !m.is_dir())
        })
        .collect()
}

/// `dest` made absolute and lexically clean (no `.`, `..` kept at the
/// root), as the mount table shows it.
fn clean(dest: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in dest.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_and_devices_are_external() {
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "mounts": [
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"},
                {"destination": "/data/", "type": "bind", "source": "/srv/data", "options": ["rbind"]},
                {"destination": "/etc/x", "source": "rel/x", "options": ["bind", "ro"]},
                {"destination": "/proc", "type": "proc", "source": "proc"}
            ],
            "linux": {"devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]}
        }))
        .unwrap();
        let plan = Plan::default();
        let ext = externals(&spec, &plan, None, Path::new("/b"));
        let pairs: Vec<(String, String)> = ext
            .iter()
            .map(|e| (e.dest.display().to_string(), e.source.display().to_string()))
            .collect();
        assert_eq!(pairs[0], ("/data".into(), "/srv/data".into()));
        assert_eq!(pairs[1], ("/etc/x".into(), "/b/rel/x".into()));
        assert_eq!(pairs[2], ("/dev/fuse".into(), "/dev/fuse".into()));
        assert!(pairs.iter().any(|p| p.0 == "/dev/null"));
        assert!(!pairs.iter().any(|p| p.0 == "/proc"));
    }
}
