//! Reading a bundle's `config.json` and refusing, before anything is made,
//! what this runtime cannot honour: a clear error naming the field is
//! better than a container that silently lacks what was asked.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Error, Result};
use crate::namespaces::Plan;
pub use crate::rootfs::idmapped::MountMappings;

pub const CONFIG_FILE: &str = "config.json";

/// A parsed `config.json`.
#[derive(Debug)]
pub struct Config {
    pub spec: Spec,
    /// Each `mounts` entry's `uidMappings`/`gidMappings`, in order: fields
    /// oci-spec 0.8's `Mount` lacks (and would drop silently).
    pub mount_mappings: Vec<MountMappings>,
}

/// Parses `<bundle>/config.json`.
pub fn load(bundle: &Path) -> Result<Config> {
    let path = bundle.join(CONFIG_FILE);
    let bytes = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
    parse(&bytes).map_err(|e| Error::InvalidConfig(format!("malformed {}: {e}", path.display())))
}

fn parse(bytes: &[u8]) -> serde_json::Result<Config> {
    #[derive(serde::Deserialize)]
    struct Mounts {
        #[serde(default)]
        mounts: Option<Vec<MountMappings>>,
    }
    let spec = serde_json::from_slice(bytes)?;
    let mounts: Mounts = serde_json::from_slice(bytes)?;
    Ok(Config {
        spec,
        mount_mappings: mounts.mounts.unwrap_or_default(),
    })
}

/// The rootfs, absolute (a relative `root.path` is relative to the bundle).
pub fn rootfs(spec: &Spec, bundle: &Path) -> Result<PathBuf> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::InvalidConfig("config.json has no root".into()))?;
    let path = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    let path = std::fs::canonicalize(&path).map_err(|e| Error::io("open rootfs", &path, e))?;
    if !path.is_dir() {
        return Err(Error::InvalidConfig(format!(
            "rootfs {} is not a directory",
            path.display()
        )));
    }
    Ok(path)
}

/// Checks what the runtime needs and refuses what it does not implement.
pub fn validate(spec: &Spec, plan: &Plan) -> Result<()> {
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::InvalidConfig("config.json has no process".into()))?;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(Error::InvalidConfig(
            "process.args must not be empty".into(),
        ));
    }
    if !process.cwd().is_absolute() {
        return Err(Error::InvalidConfig(format!(
            "process.cwd {:?} is not absolute",
            process.cwd()
        )));
    }
    if !plan.has(LinuxNamespaceType::Mount) {
        without_mount_namespace(spec, plan)?;
    }
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty())
        && !plan.has(LinuxNamespaceType::Uts)
    {
        return Err(Error::InvalidConfig(
            "unable to set hostname without a private UTS namespace".into(),
        ));
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty())
        && !plan.has(LinuxNamespaceType::Uts)
    {
        return Err(Error::InvalidConfig(
            "unable to set domainname without a private UTS namespace".into(),
        ));
    }
    let linux = spec.linux().as_ref();
    if plan.new_user {
        let has = |m: Option<&Vec<_>>| m.is_some_and(|v: &Vec<_>| !v.is_empty());
        if !has(linux.and_then(|l| l.uid_mappings().as_ref()))
            || !has(linux.and_then(|l| l.gid_mappings().as_ref()))
        {
            return Err(Error::InvalidConfig(
                "user namespaces enabled, but no uid or gid mappings found".into(),
            ));
        }
    } else if linux.is_some_and(|l| l.uid_mappings().is_some() || l.gid_mappings().is_some())
        && !plan.has(LinuxNamespaceType::User)
    {
        return Err(Error::InvalidConfig(
            "uid/gid mappings given without a user namespace".into(),
        ));
    }
    if let Some(sysctl) = linux.and_then(|l| l.sysctl().as_ref()) {
        net_sysctls_not_on_the_host(sysctl, plan)?;
    }
    if linux.and_then(|l| l.time_offsets().as_ref()).is_some() && !plan.new_time {
        return Err(Error::InvalidConfig(
            "linux.timeOffsets needs a new time namespace".into(),
        ));
    }
    if let Some(name) = process
        .apparmor_profile()
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        crate::apparmor::check_available(name)?;
    }
    // Features berth does not have: refused by name rather than ignored.
    if process
        .selinux_label()
        .as_deref()
        .is_some_and(|p| !p.is_empty())
        || linux
            .and_then(|l| l.mount_label().as_deref())
            .is_some_and(|p| !p.is_empty())
    {
        return Err(Error::Unsupported(
            "SELinux labels (process.selinuxLabel, linux.mountLabel)".into(),
        ));
    }
    if linux.and_then(|l| l.intel_rdt().as_ref()).is_some() {
        return Err(Error::Unsupported("linux.intelRdt".into()));
    }
    if linux
        .and_then(|l| l.net_devices().as_ref())
        .is_some_and(|d| !d.is_empty())
    {
        return Err(Error::Unsupported("linux.netDevices".into()));
    }
    if linux.and_then(|l| l.memory_policy().as_ref()).is_some() {
        return Err(Error::Unsupported("linux.memoryPolicy".into()));
    }
    warn_ignored_resources(linux.and_then(|l| l.resources().as_ref()));
    if process.exec_cpu_affinity().is_some() {
        return Err(Error::Unsupported("process.execCPUAffinity".into()));
    }
    Ok(())
}

/// A container that shares the runtime's mount namespace (the runtime-spec
/// says namespaces left out are inherited) is mounted there, under a rootfs
/// bind `create` makes (see [`crate::shared_mounts`]). Refused, as runc
/// does or where berth cannot keep the host safe: masked and read-only
/// paths (runc: "unable to restrict sys entries without a private MNT
/// namespace"), a user namespace or an unprivileged runtime (neither may
/// mount in the host's mount namespace), and a root propagation that
/// would tie the container's mounts to the host's.
fn without_mount_namespace(spec: &Spec, plan: &Plan) -> Result<()> {
    let linux = spec.linux().as_ref();
    let listed = |v: Option<&Vec<String>>| v.is_some_and(|v| !v.is_empty());
    let need = |what: &str| {
        Err(Error::InvalidConfig(format!(
            "{what} needs a mount namespace of the container's own (linux.namespaces: mount)"
        )))
    };
    if listed(linux.and_then(|l| l.masked_paths().as_ref())) {
        return need("linux.maskedPaths");
    }
    if listed(linux.and_then(|l| l.readonly_paths().as_ref())) {
        return need("linux.readonlyPaths");
    }
    if plan.has(LinuxNamespaceType::User) {
        return need("a user namespace (its root cannot mount in the runtime's mount namespace)");
    }
    if crate::rootless::unprivileged() {
        return need("a rootless container (only the host's root may mount in the runtime's mount namespace)");
    }
    match linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        None | Some("" | "private" | "rprivate" | "slave" | "rslave") => Ok(()),
        Some(p) => need(&format!("linux.rootfsPropagation {p:?}")),
    }
}

/// `net.*` sysctls need a network namespace of the container's own. One
/// joined by path may still be the runtime's own (runc checks that too).
fn net_sysctls_not_on_the_host(
    sysctl: &std::collections::HashMap<String, String>,
    plan: &Plan,
) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let Some(key) = sysctl.keys().find(|k| k.starts_with("net.")) else {
        return Ok(());
    };
    let Some((_, path)) = plan
        .joins
        .iter()
        .find(|(t, _)| *t == LinuxNamespaceType::Network)
    else {
        return Ok(());
    };
    let id = |p: &Path| std::fs::metadata(p).map(|m| (m.dev(), m.ino()));
    let theirs = id(path).map_err(|e| Error::io("stat network namespace", path, e))?;
    if id(Path::new("/proc/self/ns/net")).is_ok_and(|ours| ours == theirs) {
        return Err(Error::InvalidConfig(format!(
            "sysctl {key:?} not allowed in the host's network namespace (linux.namespaces: network path {} is the runtime's own)",
            path.display()
        )));
    }
    Ok(())
}

/// Warns (runc 1.2's warning, in the `--log` file) about resource fields
/// that are accepted and ignored: `memory.kernel` and `memory.kernelTCP`,
/// kernel memory limits the kernel no longer enforces.
pub fn warn_ignored_resources(res: Option<&oci_spec::runtime::LinuxResources>) {
    let Some(m) = res.and_then(|r| r.memory().as_ref()) else {
        return;
    };
    if m.kernel().is_some() || m.kernel_tcp().is_some() {
        tracing::warn!(
            "kernel memory settings are ignored and will be removed \
             (linux.resources.memory.kernel, kernelTCP: the kernel no longer enforces them)"
        );
    }
}

/// The cgroup resources to apply: the config's, with the device rules
/// every container needs appended after the config's own (as runc does):
/// the default devices, ptys, and mknod of anything (the node is still
/// useless without rw). Nodes from `linux.devices` get no rule of their
/// own: the config's rules decide, as with runc.
pub fn resources(spec: &Spec) -> Option<oci_spec::runtime::LinuxResources> {
    let linux = spec.linux().as_ref()?;
    let res = linux.resources().clone()?;
    Some(with_default_device_rules(res))
}

/// Appends, after `res`'s own device rules (if it has any), the rules
/// every container needs (see [`resources`]).
pub fn with_default_device_rules(
    mut res: oci_spec::runtime::LinuxResources,
) -> oci_spec::runtime::LinuxResources {
    use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
    let rule = |typ, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(true);
        r.set_typ(Some(typ));
        r.set_major(major);
        r.set_minor(minor);
        r.set_access(Some(access.to_string()));
        r
    };
    let mut rules = res.devices().clone().unwrap_or_default();
    if rules.is_empty() {
        // No device rules at all: the host's defaults stay as they are.
        return res;
    }
    rules.push(rule(LinuxDeviceType::C, None, None, "m"));
    rules.push(rule(LinuxDeviceType::B, None, None, "m"));
    for (major, minor) in [
        (1, 3),
        (1, 5),
        (1, 7),
        (1, 8),
        (1, 9),
        (5, 0),
        (5, 1),
        (5, 2),
    ] {
        rules.push(rule(LinuxDeviceType::C, Some(major), Some(minor), "rwm"));
    }
    rules.push(rule(LinuxDeviceType::C, Some(136), None, "rwm"));
    res.set_devices(Some(rules));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Spec {
        let mut base = serde_json::json!({
            "ociVersion": "1.0.2",
            "process": { "args": ["true"], "cwd": "/", "user": { "uid": 0, "gid": 0 } },
            "root": { "path": "rootfs" },
            "linux": { "namespaces": [] }
        });
        for (k, v) in json.as_object().unwrap() {
            if k == "linux" {
                for (lk, lv) in v.as_object().unwrap() {
                    base["linux"][lk] = lv.clone();
                }
            } else {
                base[k] = v.clone();
            }
        }
        serde_json::from_value(base).unwrap()
    }

    fn check(json: serde_json::Value) -> Result<()> {
        let s = spec(json);
        let plan = Plan::from_config(s.linux().as_ref())?;
        validate(&s, &plan)
    }

    #[test]
    fn mount_mappings_are_read_beside_the_spec() {
        let c = parse(
            br#"{"ociVersion": "1.0.2", "mounts": [
            {"destination": "/a", "type": "bind", "source": "/x", "options": ["rbind"]},
            {"destination": "/b", "type": "bind", "source": "/y", "options": ["rbind", "idmap"],
             "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}],
             "gidMappings": [{"containerID": 0, "hostID": 2000, "size": 10}]}]}"#,
        )
        .unwrap();
        assert_eq!(c.spec.mounts().as_ref().unwrap().len(), 2);
        assert_eq!(c.mount_mappings.len(), 2);
        assert_eq!(c.mount_mappings[0], MountMappings::default());
        assert_eq!(c.mount_mappings[1].uid.as_ref().unwrap()[0].host_id(), 1000);
        assert_eq!(c.mount_mappings[1].gid.as_ref().unwrap()[0].host_id(), 2000);
        let c = parse(br#"{"ociVersion": "1.0.2"}"#).unwrap();
        assert!(c.mount_mappings.is_empty());
        assert!(parse(
            br#"{"ociVersion": "1.0.2", "mounts": [{"destination": "/a", "uidMappings": 5}]}"#
        )
        .is_err());
    }

    #[test]
    fn no_namespaces_at_all_is_valid() {
        // Unprivileged, the runtime may not mount in its own namespace.
        if crate::rootless::unprivileged() {
            let err = check(serde_json::json!({})).unwrap_err().to_string();
            assert!(err.contains("a rootless container"), "{err}");
            return;
        }
        check(serde_json::json!({})).unwrap();
        for p in ["private", "rprivate", "slave", "rslave"] {
            check(serde_json::json!({ "linux": { "rootfsPropagation": p } })).unwrap();
        }
    }

    #[test]
    fn without_a_mount_namespace_what_needs_one_is_refused() {
        for (json, what) in [
            (
                serde_json::json!({ "linux": { "maskedPaths": ["/proc/kcore"] } }),
                "linux.maskedPaths needs a mount namespace",
            ),
            (
                serde_json::json!({ "linux": { "readonlyPaths": ["/proc/sys"] } }),
                "linux.readonlyPaths needs a mount namespace",
            ),
            (
                serde_json::json!({ "linux": { "namespaces": [{ "type": "user" }],
                    "uidMappings": [{ "containerID": 0, "hostID": 1000, "size": 1 }],
                    "gidMappings": [{ "containerID": 0, "hostID": 1000, "size": 1 }] } }),
                "a user namespace",
            ),
            (
                serde_json::json!({ "linux": { "rootfsPropagation": "rshared" } }),
                "linux.rootfsPropagation \"rshared\" needs a mount namespace",
            ),
            (
                serde_json::json!({ "hostname": "box" }),
                "unable to set hostname without a private UTS namespace",
            ),
        ] {
            let err = check(json).unwrap_err().to_string();
            // Unprivileged, the first refusal may be the rootless one.
            let rootless = crate::rootless::unprivileged() && err.contains("a rootless container");
            assert!(err.contains(what) || rootless, "{what}: {err}");
        }
    }

    #[test]
    fn a_mount_namespace_lifts_the_refusals() {
        check(serde_json::json!({ "linux": {
            "namespaces": [{ "type": "mount" }],
            "maskedPaths": ["/proc/kcore"],
            "rootfsPropagation": "rshared"
        } }))
        .unwrap();
    }
}
