//! The OCI spec as JSON (`config.json`): Docker's defaults with the
//! container's process, patched per area (`security`, `resources`,
//! `stdio`, `users`, `exec`). Temporary: being replaced by typed oci-spec
//! converters in `spec/`.

mod exec;
mod resources;
mod security;
mod stdio;
mod users;

use std::path::Path;

use serde_json::{json, Value};

pub(crate) use exec::{exec_process, exec_user, process_of};
pub(crate) use resources::write_spec;
pub(crate) use stdio::add_term;
pub(crate) use users::apply as apply_user;

use crate::error::{Error, Result};
use crate::model::security::DEFAULT_CAPABILITIES;
use crate::model::Container;

/// Docker's masked paths (moby `oci/defaults.go`).
const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

fn bind(dest: &str, source: &Path, readonly: bool) -> Value {
    let mut options = vec!["rbind", "rprivate"];
    if readonly {
        options.push("ro");
    }
    json!({ "destination": dest, "type": "bind", "source": source, "options": options })
}

/// The OCI runtime spec: Docker's defaults (moby `oci/defaults.go`,
/// `daemon/oci_linux.go`) with the container's process.
pub fn spec(c: &Container, dir: &Path) -> Result<Value> {
    let cfg = &c.config;
    let args = cfg.args();
    if args.is_empty() {
        return Err(Error::invalid("container command", "no command specified"));
    }
    // Names are resolved in the image's files when the container starts.
    let (uid, gid) = crate::users::numeric(&cfg.user);
    let caps = DEFAULT_CAPABILITIES;
    let cwd = if cfg.working_dir.is_empty() {
        "/"
    } else {
        &cfg.working_dir
    };
    let mut spec = json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": uid, "gid": gid },
            "args": args,
            "env": cfg.env,
            "cwd": cwd,
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps,
            },
            "noNewPrivileges": false,
            "oomScoreAdj": 0,
        },
        "root": { "path": "rootfs", "readonly": false },
        "hostname": cfg.hostname,
        "mounts": mounts(dir),
        "linux": {
            "cgroupsPath": format!("{}/{}", cfg.cgroup_parent.trim_end_matches('/'), c.id),
            "resources": { "devices": [ { "allow": false, "access": "rwm" } ] },
            "namespaces": [
                { "type": "mount" }, { "type": "network" }, { "type": "uts" },
                { "type": "pid" }, { "type": "ipc" },
            ],
            "maskedPaths": MASKED_PATHS,
            "readonlyPaths": READONLY_PATHS,
        },
        "annotations": cfg.labels,
    });
    stdio::apply_to_spec(&cfg.stdio, &mut spec);
    if cfg.network_mode == "host" {
        spec["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .retain(|n| n["type"] != "network");
    }
    security::apply(&mut spec, &cfg.security)?;
    resources::add_to_spec(&mut spec, &cfg.resources)?;
    // Docker's default cgroupns: private on a cgroup v2 host (so the
    // container sees its own cgroup and limits at /sys/fs/cgroup), the
    // host's on v1.
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        if let Some(ns) = spec["linux"]["namespaces"].as_array_mut() {
            ns.push(json!({ "type": "cgroup" }));
        }
    }
    Ok(spec)
}

fn mounts(dir: &Path) -> Vec<Value> {
    vec![
        json!({ "destination": "/proc", "type": "proc", "source": "proc",
                "options": ["nosuid", "noexec", "nodev"] }),
        json!({ "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] }),
        json!({ "destination": "/dev/pts", "type": "devpts", "source": "devpts",
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] }),
        json!({ "destination": "/sys", "type": "sysfs", "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"] }),
        json!({ "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                "options": ["ro", "nosuid", "noexec", "nodev"] }),
        json!({ "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
                "options": ["nosuid", "noexec", "nodev"] }),
        json!({ "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] }),
        bind("/etc/resolv.conf", &dir.join("resolv.conf"), false),
        bind("/etc/hostname", &dir.join("hostname"), false),
        bind("/etc/hosts", &dir.join("hosts"), false),
    ]
}
