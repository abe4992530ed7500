//! Rootless mode: what changes when the runtime has no privileges over the
//! host, either because it runs as an unprivileged user or because it is
//! root inside a user namespace.
//!
//! Two separate questions, as in runc. Whether the caller is unprivileged
//! ([`unprivileged`]: effective uid not 0) decides how id maps are written
//! (`idmap.rs`), the order namespaces are joined in, and how long the init
//! stays dumpable. Whether cgroups are "rootless" (`--rootless`, or
//! [`auto_detect`]) decides whether a cgroup the caller may not create is
//! an error: rootless, it is not, as long as no limit was asked for.
//! This module owns those decisions, not the code that acts on them.

use std::path::PathBuf;

use oci_spec::runtime::LinuxResources;

/// The state root berth uses when `--root` is not given (runc's rule:
/// `$XDG_RUNTIME_DIR/runc` for an unprivileged caller, or for root in a
/// user namespace unless `$USER` is `root`; else `/run/runc`).
pub fn default_state_root() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) if honours_xdg_runtime_dir() => PathBuf::from(dir).join("berth-runtime"),
        _ => PathBuf::from(SYSTEM_STATE_ROOT),
    }
}

/// The state root of a privileged runtime.
pub const SYSTEM_STATE_ROOT: &str = "/run/berth-runtime";

fn honours_xdg_runtime_dir() -> bool {
    if unprivileged() {
        return true;
    }
    if !running_in_user_namespace() {
        // Real root: /run/berth-runtime, whatever XDG_RUNTIME_DIR says.
        return false;
    }
    std::env::var("USER").map_or(true, |u| u != "root")
}

/// Whether the effective uid is not 0.
pub fn unprivileged() -> bool {
    !nix::unistd::geteuid().is_root()
}

/// Whether this process runs in a user namespace other than the initial
/// one: its uid map is not the identity map of all 2^32 ids.
pub fn running_in_user_namespace() -> bool {
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(map) => !is_identity_map(&map),
        Err(_) => false,
    }
}

fn is_identity_map(map: &str) -> bool {
    let fields: Vec<&str> = map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

/// `--rootless auto`: rootless cgroups when unprivileged or in a user
/// namespace (root there cannot be sure to own its cgroups).
pub fn auto_detect() -> bool {
    unprivileged() || running_in_user_namespace()
}

/// A rootless container's resources split in two: the limits (`None`
/// when there are none) and the device rules (`None` when there are none).
/// Device rules cannot be written without privileges over the host (v1
/// `devices.allow`, a v2 BPF program), and are moot there: a user
/// namespace cannot make device nodes, only bind the host's, which the
/// host's own permissions guard. So, as runc does, they are written when
/// the kernel lets us and skipped when it refuses.
pub fn split_device_rules(
    resources: LinuxResources,
) -> (Option<LinuxResources>, Option<LinuxResources>) {
    let rules = resources.devices().clone().filter(|d| !d.is_empty());
    let mut limits = resources;
    limits.set_devices(None);
    let limits = first_limit(&limits).is_some().then_some(limits);
    let devices = rules.map(|r| {
        let mut only = LinuxResources::default();
        only.set_devices(Some(r));
        only
    });
    (limits, devices)
}

/// The first limit `resources` asks for, by its OCI name, if any.
pub fn first_limit(resources: &LinuxResources) -> Option<&'static str> {
    let r = resources;
    [
        ("memory", r.memory().is_some()),
        ("cpu", r.cpu().is_some()),
        ("pids", r.pids().is_some()),
        ("blockIO", r.block_io().is_some()),
        (
            "hugepageLimits",
            r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()),
        ),
        ("network", r.network().is_some()),
        ("rdma", r.rdma().as_ref().is_some_and(|m| !m.is_empty())),
        (
            "unified",
            r.unified().as_ref().is_some_and(|m| !m.is_empty()),
        ),
        (
            "devices",
            r.devices().as_ref().is_some_and(|d| !d.is_empty()),
        ),
    ]
    .into_iter()
    .find_map(|(name, set)| set.then_some(name))
}

/// Whether a cgroup failure is the kernel saying we may not (EACCES, EPERM,
/// or a read-only cgroup filesystem), the failure rootless mode tolerates.
pub fn is_permission_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return matches!(
                io.raw_os_error(),
                Some(libc::EACCES | libc::EPERM | libc::EROFS)
            );
        }
        cause = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_identity_map() {
        assert!(is_identity_map("         0          0 4294967295\n"));
        assert!(!is_identity_map("         0       1000          1\n"));
        assert!(!is_identity_map("0 0 4294967295\n1 1 1\n"));
    }

    #[test]
    fn device_rules_are_split_from_limits() {
        let r: LinuxResources =
            serde_json::from_str(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#).unwrap();
        assert_eq!(first_limit(&r), Some("devices"));
        let (limits, devices) = split_device_rules(r);
        assert!(limits.is_none());
        assert_eq!(devices.unwrap().devices().as_ref().map(Vec::len), Some(1));
        let r: LinuxResources = serde_json::from_str(r#"{"pids":{"limit":10}}"#).unwrap();
        assert_eq!(first_limit(&r), Some("pids"));
        let (limits, devices) = split_device_rules(r);
        assert_eq!(limits.as_ref().and_then(first_limit), Some("pids"));
        assert!(devices.is_none());
    }

    #[test]
    fn permission_errors_are_found_in_the_chain() {
        let e = berth_cgroups::Error::Create {
            path: "/sys/fs/cgroup/x".into(),
            source: std::io::Error::from_raw_os_error(libc::EACCES),
        };
        assert!(is_permission_error(&e));
        let e = berth_cgroups::Error::Create {
            path: "/sys/fs/cgroup/x".into(),
            source: std::io::Error::from_raw_os_error(libc::ENOSPC),
        };
        assert!(!is_permission_error(&e));
    }
}
