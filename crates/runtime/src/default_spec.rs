//! The example `config.json` that `berth-runtime spec` writes, matching
//! `runc spec` (runc's `libcontainer/specconv/example.go`) field for field
//! and in runc's key order, plus the `--rootless` variant (runc's
//! `ToRootless`). This module only produces and writes the template; it does
//! not validate or load a bundle's configuration.
//!
//! The template is a set of private serde structs rather than an
//! [`oci_spec::runtime::Spec`], because `Spec` serializes its fields in
//! another order and keeps capabilities in a `HashSet`, so its output would
//! neither look like runc's nor be stable from run to run.
//! [`ExampleSpec::to_oci`] gives the typed form.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use serde::Serialize;

/// The file name `runc spec` writes in the bundle.
pub const CONFIG_FILE: &str = "config.json";

/// The hostname of the example container (runc uses "runc").
pub const DEFAULT_HOSTNAME: &str = "berth";

const DEFAULT_CAPABILITIES: [&str; 3] = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// A failed `spec` command.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// runc's exact wording, which scripts may match on.
    #[error("File {} exists. Remove it first", CONFIG_FILE)]
    Exists { path: PathBuf },

    #[error("failed to write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("failed to serialize the example spec")]
    Serialize(#[source] serde_json::Error),

    #[error("failed to parse the example spec as an OCI spec")]
    Parse(#[source] serde_json::Error),
}

/// The example configuration, serialized in runc's key order by
/// [`ExampleSpec::to_json`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExampleSpec {
    oci_version: String,
    process: Process,
    root: Root,
    hostname: String,
    mounts: Vec<Mount>,
    linux: Linux,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
struct Process {
    terminal: bool,
    user: User,
    args: Vec<String>,
    env: Vec<String>,
    cwd: String,
    capabilities: Capabilities,
    rlimits: Vec<Rlimit>,
    no_new_privileges: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct User {
    uid: u32,
    gid: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Capabilities {
    bounding: Vec<String>,
    effective: Vec<String>,
    permitted: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Rlimit {
    #[serde(rename = "type")]
    kind: String,
    hard: u64,
    soft: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Root {
    path: String,
    readonly: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Mount {
    destination: String,
    #[serde(rename = "type")]
    kind: String,
    source: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    options: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
struct Linux {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    uid_mappings: Vec<IdMapping>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    gid_mappings: Vec<IdMapping>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<Resources>,
    namespaces: Vec<Namespace>,
    masked_paths: Vec<String>,
    readonly_paths: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
struct IdMapping {
    #[serde(rename = "containerID")]
    container_id: u32,
    #[serde(rename = "hostID")]
    host_id: u32,
    size: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Resources {
    devices: Vec<DeviceRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct DeviceRule {
    allow: bool,
    access: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Namespace {
    #[serde(rename = "type")]
    kind: String,
}

impl ExampleSpec {
    /// The JSON text `spec` writes: tab-indented like runc's
    /// `json.MarshalIndent(spec, "", "\t")`, without a trailing newline.
    pub fn to_json(&self) -> Result<String, SpecError> {
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
        self.serialize(&mut serializer)
            .map_err(SpecError::Serialize)?;
        // serde_json writes only valid UTF-8.
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// The example as a typed OCI spec.
    pub fn to_oci(&self) -> Result<Spec, SpecError> {
        let value = serde_json::to_value(self).map_err(SpecError::Serialize)?;
        serde_json::from_value(value).map_err(SpecError::Parse)
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn mount(destination: &str, kind: &str, source: &str, options: &[&str]) -> Mount {
    Mount {
        destination: destination.to_owned(),
        kind: kind.to_owned(),
        source: source.to_owned(),
        options: strings(options),
    }
}

fn namespaces(kinds: &[&str]) -> Vec<Namespace> {
    kinds
        .iter()
        .map(|kind| Namespace {
            kind: (*kind).to_owned(),
        })
        .collect()
}

/// What `runc spec` writes: a read-only `rootfs`, `sh` on a terminal, the
/// three default capabilities, all devices denied, and new pid, network,
/// ipc, uts, mount and cgroup namespaces.
pub fn default_spec() -> ExampleSpec {
    ExampleSpec {
        oci_version: oci_spec::runtime::VERSION.to_owned(),
        process: Process {
            terminal: true,
            user: User { uid: 0, gid: 0 },
            args: strings(&["sh"]),
            env: strings(&[
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm",
            ]),
            cwd: "/".to_owned(),
            capabilities: Capabilities {
                bounding: strings(&DEFAULT_CAPABILITIES),
                effective: strings(&DEFAULT_CAPABILITIES),
                permitted: strings(&DEFAULT_CAPABILITIES),
            },
            rlimits: vec![Rlimit {
                kind: "RLIMIT_NOFILE".to_owned(),
                hard: 1024,
                soft: 1024,
            }],
            no_new_privileges: true,
        },
        root: Root {
            path: "rootfs".to_owned(),
            readonly: true,
        },
        hostname: DEFAULT_HOSTNAME.to_owned(),
        mounts: vec![
            mount("/proc", "proc", "proc", &[]),
            mount(
                "/dev",
                "tmpfs",
                "tmpfs",
                &["nosuid", "strictatime", "mode=755", "size=65536k"],
            ),
            mount(
                "/dev/pts",
                "devpts",
                "devpts",
                &[
                    "nosuid",
                    "noexec",
                    "newinstance",
                    "ptmxmode=0666",
                    "mode=0620",
                    "gid=5",
                ],
            ),
            mount(
                "/dev/shm",
                "tmpfs",
                "shm",
                &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
            ),
            mount(
                "/dev/mqueue",
                "mqueue",
                "mqueue",
                &["nosuid", "noexec", "nodev"],
            ),
            mount(
                "/sys",
                "sysfs",
                "sysfs",
                &["nosuid", "noexec", "nodev", "ro"],
            ),
            mount(
                "/sys/fs/cgroup",
                "cgroup",
                "cgroup",
                &["nosuid", "noexec", "nodev", "relatime", "ro"],
            ),
        ],
        linux: Linux {
            uid_mappings: Vec::new(),
            gid_mappings: Vec::new(),
            resources: Some(Resources {
                devices: vec![DeviceRule {
                    allow: false,
                    access: "rwm".to_owned(),
                }],
            }),
            namespaces: namespaces(&["pid", "network", "ipc", "uts", "mount", "cgroup"]),
            masked_paths: strings(&[
                "/proc/acpi",
                "/proc/asound",
                "/proc/kcore",
                "/proc/keys",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/timer_stats",
                "/proc/sched_debug",
                "/sys/firmware",
                "/proc/scsi",
                "/sys/devices/virtual/tpm",
            ]),
            readonly_paths: strings(&[
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger",
            ]),
        },
    }
}

/// What `runc spec --rootless` writes for a user whose effective ids are
/// `host_uid` and `host_gid`: the default spec with a user namespace mapping
/// that user to root, no network namespace, the host's `/sys` bind-mounted
/// read-only (an unprivileged user cannot mount sysfs), no `uid=`/`gid=`
/// mount options (those ids would not be mapped) and no cgroup resources.
pub fn rootless_spec(host_uid: u32, host_gid: u32) -> ExampleSpec {
    let mut spec = default_spec();
    let linux = &mut spec.linux;
    linux
        .namespaces
        .retain(|ns| ns.kind != "network" && ns.kind != "user");
    linux.namespaces.push(Namespace {
        kind: "user".to_owned(),
    });
    linux.uid_mappings = vec![IdMapping {
        container_id: 0,
        host_id: host_uid,
        size: 1,
    }];
    linux.gid_mappings = vec![IdMapping {
        container_id: 0,
        host_id: host_gid,
        size: 1,
    }];
    linux.resources = None;

    for mount in &mut spec.mounts {
        if mount.destination == "/sys" {
            *mount = self::mount(
                "/sys",
                "none",
                "/sys",
                &["rbind", "nosuid", "noexec", "nodev", "ro"],
            );
        } else {
            mount
                .options
                .retain(|option| !option.starts_with("uid=") && !option.starts_with("gid="));
        }
    }
    spec
}

/// Writes the example spec to `bundle/config.json` as `runc spec` does
/// (mode 0666 before umask), refusing to replace an existing file. The
/// rootless variant maps the caller's effective uid and gid.
pub fn write_spec(bundle: &Path, rootless: bool) -> Result<(), SpecError> {
    let spec = if rootless {
        rootless_spec(
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    } else {
        default_spec()
    };
    let json = spec.to_json()?;
    let path = bundle.join(CONFIG_FILE);
    // create_new (O_EXCL) makes the existence check and the creation one
    // step, and refuses a dangling symlink too.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|source| {
            if source.kind() == io::ErrorKind::AlreadyExists {
                SpecError::Exists { path: path.clone() }
            } else {
                SpecError::Write {
                    path: path.clone(),
                    source,
                }
            }
        })?;
    file.write_all(json.as_bytes())
        .map_err(|source| SpecError::Write { path, source })
}

#[cfg(test)]
mod tests {
    use std::fs;

    use oci_spec::runtime::{Capability, LinuxNamespaceType};
    use serde_json::{json, Value};

    use super::*;

    use berth_testutil::TempDir;

    fn temp_dir() -> TempDir {
        TempDir::new("berth-spec-test").unwrap()
    }

    fn value(spec: &ExampleSpec) -> Value {
        serde_json::from_str(&spec.to_json().unwrap()).unwrap()
    }

    #[test]
    fn default_spec_parses_as_an_oci_spec() {
        let spec = default_spec().to_oci().unwrap();
        assert_eq!(spec.version(), oci_spec::runtime::VERSION);
        assert_eq!(spec.hostname().as_deref(), Some(DEFAULT_HOSTNAME));
        let process = spec.process().as_ref().unwrap();
        assert_eq!(process.args().as_deref(), Some(&["sh".to_owned()][..]));
        let caps = process.capabilities().as_ref().unwrap();
        let expected = [
            Capability::AuditWrite,
            Capability::Kill,
            Capability::NetBindService,
        ]
        .into_iter()
        .collect();
        assert_eq!(caps.bounding().as_ref(), Some(&expected));
        assert_eq!(caps.effective().as_ref(), Some(&expected));
        assert_eq!(caps.permitted().as_ref(), Some(&expected));
        let namespaces: Vec<LinuxNamespaceType> = spec
            .linux()
            .as_ref()
            .unwrap()
            .namespaces()
            .as_ref()
            .unwrap()
            .iter()
            .map(|ns| ns.typ())
            .collect();
        assert_eq!(
            namespaces,
            [
                LinuxNamespaceType::Pid,
                LinuxNamespaceType::Network,
                LinuxNamespaceType::Ipc,
                LinuxNamespaceType::Uts,
                LinuxNamespaceType::Mount,
                LinuxNamespaceType::Cgroup,
            ]
        );
        assert!(rootless_spec(1000, 1000).to_oci().is_ok());
    }

    #[test]
    fn default_spec_has_runcs_values() {
        let v = value(&default_spec());
        let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
        let process = &v["process"];
        assert_eq!(process["terminal"], json!(true));
        assert_eq!(process["user"], json!({"uid": 0, "gid": 0}));
        assert_eq!(process["args"], json!(["sh"]));
        assert_eq!(
            process["env"],
            json!([
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ])
        );
        assert_eq!(process["cwd"], json!("/"));
        assert_eq!(
            process["capabilities"],
            json!({"bounding": caps, "effective": caps, "permitted": caps})
        );
        assert_eq!(
            process["rlimits"],
            json!([{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}])
        );
        assert_eq!(process["noNewPrivileges"], json!(true));
        assert_eq!(v["root"], json!({"path": "rootfs", "readonly": true}));
        assert_eq!(v["hostname"], json!("berth"));
        assert_eq!(
            v["mounts"][0],
            json!({"destination": "/proc", "type": "proc", "source": "proc"})
        );
        assert_eq!(
            v["mounts"][2]["options"],
            json!([
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5"
            ])
        );
        let destinations: Vec<&str> = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["destination"].as_str().unwrap())
            .collect();
        assert_eq!(
            destinations,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/dev/shm",
                "/dev/mqueue",
                "/sys",
                "/sys/fs/cgroup"
            ]
        );
        assert_eq!(
            v["linux"]["resources"],
            json!({"devices": [{"allow": false, "access": "rwm"}]})
        );
        assert_eq!(v["linux"]["maskedPaths"].as_array().unwrap().len(), 11);
        assert_eq!(
            v["linux"]["readonlyPaths"],
            json!([
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger"
            ])
        );
    }

    #[test]
    fn json_is_tab_indented_in_runcs_key_order() {
        let text = default_spec().to_json().unwrap();
        assert!(text.starts_with("{\n\t\"ociVersion\": \""), "{text}");
        assert!(!text.ends_with('\n'));
        let top_keys: Vec<&str> = text
            .lines()
            .filter(|line| line.starts_with("\t\""))
            .map(|line| line.trim().split('"').nth(1).unwrap())
            .collect();
        assert_eq!(
            top_keys,
            [
                "ociVersion",
                "process",
                "root",
                "hostname",
                "mounts",
                "linux"
            ]
        );
    }

    #[test]
    fn rootless_spec_maps_the_given_ids() {
        let v = value(&rootless_spec(1234, 5678));
        let linux = &v["linux"];
        assert_eq!(
            linux["uidMappings"],
            json!([{"containerID": 0, "hostID": 1234, "size": 1}])
        );
        assert_eq!(
            linux["gidMappings"],
            json!([{"containerID": 0, "hostID": 5678, "size": 1}])
        );
        assert_eq!(
            linux["namespaces"],
            json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}, {"type": "user"}])
        );
        assert!(linux.get("resources").is_none());
        let sys = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/sys")
            .unwrap();
        assert_eq!(
            *sys,
            json!({"destination": "/sys", "type": "none", "source": "/sys",
                   "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
        );
        assert_eq!(
            v["mounts"][2]["options"],
            json!([
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620"
            ])
        );
        // The default spec is untouched by the rootless variant.
        assert!(value(&default_spec())["linux"].get("uidMappings").is_none());
    }

    #[test]
    fn write_spec_writes_config_json_once() {
        let dir = temp_dir();
        write_spec(dir.path(), false).unwrap();
        let written = fs::read_to_string(dir.join(CONFIG_FILE)).unwrap();
        assert_eq!(written, default_spec().to_json().unwrap());

        let err = write_spec(dir.path(), true).unwrap_err();
        assert!(matches!(err, SpecError::Exists { .. }), "{err:?}");
        assert_eq!(err.to_string(), "File config.json exists. Remove it first");
        // The existing file is left alone.
        assert_eq!(fs::read_to_string(dir.join(CONFIG_FILE)).unwrap(), written);
    }

    #[test]
    fn write_spec_rootless_uses_the_effective_ids() {
        let dir = temp_dir();
        write_spec(dir.path(), true).unwrap();
        let v: Value =
            serde_json::from_str(&fs::read_to_string(dir.join(CONFIG_FILE)).unwrap()).unwrap();
        assert_eq!(
            v["linux"]["uidMappings"][0]["hostID"],
            json!(nix::unistd::geteuid().as_raw())
        );
        assert_eq!(
            v["linux"]["gidMappings"][0]["hostID"],
            json!(nix::unistd::getegid().as_raw())
        );
    }

    #[test]
    fn write_spec_into_a_missing_bundle_fails() {
        let dir = temp_dir();
        let err = write_spec(&dir.join("missing"), false).unwrap_err();
        assert!(matches!(err, SpecError::Write { .. }), "{err:?}");
    }
}
