//! The OCI bundle of a container, `<root>/containers/<id>/`: `config.json`
//! written from the image config and the flags with Docker's defaults, the
//! `rootfs` mount point, and the `hostname`, `hosts` and `resolv.conf` files
//! bind-mounted into the container.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::container::Container;
use crate::error::{Error, Result};

/// Docker's default capability set (moby `oci/caps/defaults.go`).
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

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

pub struct Bundle {
    dir: PathBuf,
}

impl Bundle {
    pub fn new(containers_dir: &Path, id: &str) -> Bundle {
        Bundle {
            dir: containers_dir.join(id),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn log_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}-json.log"))
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes the directory, the files the container sees in `/etc` and
    /// `config.json`.
    pub fn write(&self, c: &Container) -> Result<()> {
        fs::create_dir_all(self.rootfs()).map_err(|e| Error::io("create", self.rootfs(), e))?;
        let hostname = &c.config.hostname;
        self.write_file("hostname", &format!("{hostname}\n"))?;
        self.write_file(
            "hosts",
            &format!(
                "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
                 fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
                 ff02::2\tip6-allrouters\n127.0.1.1\t{hostname}\n"
            ),
        )?;
        self.write_file("resolv.conf", &resolv_conf())?;
        if c.config.network_mode == "host" {
            // The host's own files, as Docker does with --network host.
            let host = |f: &str| fs::read_to_string(f).unwrap_or_default();
            self.write_file("hosts", &host("/etc/hosts"))?;
            self.write_file("resolv.conf", &host("/etc/resolv.conf"))?;
        }
        let spec = serde_json::to_vec_pretty(&spec(c, &self.dir)?).expect("spec serializes");
        self.write_file(
            "config.json",
            std::str::from_utf8(&spec).expect("json is utf-8"),
        )
    }

    fn write_file(&self, name: &str, content: &str) -> Result<()> {
        let path = self.file(name);
        berth_sys::write_atomic(&path, content.as_bytes()).map_err(|e| Error::io("write", &path, e))
    }
}

/// The host's resolv.conf without loopback name servers (they mean nothing
/// in the container's network namespace), as Docker does.
fn resolv_conf() -> String {
    let host = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    host.lines()
        .filter(|l| {
            let mut w = l.split_whitespace();
            !(w.next() == Some("nameserver")
                && w.next()
                    .is_some_and(|a| a.starts_with("127.") || a == "::1"))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

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
    crate::stdio::apply_to_spec(&cfg.stdio, &mut spec);
    if cfg.network_mode == "host" {
        spec["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .retain(|n| n["type"] != "network");
    }
    crate::security::apply(&mut spec, &cfg.security)?;
    crate::resources::add_to_spec(&mut spec, &cfg.resources)?;
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
