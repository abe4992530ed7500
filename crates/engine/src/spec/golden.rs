//! Golden specs: the `config.json` a container's runtime reads at start,
//! for Docker's defaults and each flag. The files under `golden/` were
//! written by the engine's earlier, untyped (`json!`) spec builder on the
//! host described in `golden/host.json`; the typed builder must produce
//! the same documents from the same host facts.
//!
//! Normalised on both sides before comparing (see [`normalise`]): the
//! capability lists are sorted (oci-spec holds them as a set), and a
//! `linux.seccomp` equal to the one of `defaults.json` is replaced by a
//! note (it is 30 KiB).
//!
//! `BERTH_WRITE_GOLDEN=1 cargo nextest run -p berth-engine typed_builder`
//! rewrites the documents from the current builder and `host.json`'s facts
//! (then review the diff; a change must be one the spec is meant to get).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::model::security::{Device, SeccompMode, SecurityConfig, Tmpfs, Ulimit};
use crate::model::{Container, ContainerConfig, Resources, State, StdioConfig, ThrottleDevice};

pub(super) const ID: &str = "c0ffee00d00d4a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a7b8c9d";
pub(super) const BUNDLE: &str =
    "/var/lib/berth/containers/c0ffee00d00d4a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a7b8c9d";
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n\
                      bob:x:1001:50::/:/bin/sh\n";
const GROUP: &str =
    "root:x:0:\nstaff:x:50:\nalice:x:1000:\nwheel:x:10:alice,bob\naudio:x:29:alice\n";
const CUSTOM_SECCOMP: &str = r#"{"defaultAction":"SCMP_ACT_ALLOW","defaultErrnoRet":1,
  "architectures":["SCMP_ARCH_X86_64"],"flags":["SECCOMP_FILTER_FLAG_LOG"],
  "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
   {"name":"personality","action":"SCMP_ACT_ALLOW","args":[
     {"index":0,"value":8,"valueTwo":0,"op":"SCMP_CMP_EQ"}]},
   {"names":["reboot"],"action":"SCMP_ACT_KILL","excludes":{"caps":["CAP_SYS_BOOT"]}}]}"#;

/// One golden: its file name and the container it describes.
pub(super) struct Case {
    pub name: &'static str,
    pub container: Container,
}

fn base() -> ContainerConfig {
    ContainerConfig {
        image: "alpine".into(),
        hostname: "c0ffee00d00d".into(),
        env: vec![
            "HOSTNAME=c0ffee00d00d".into(),
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        ],
        cmd: vec!["/bin/sh".into(), "-c".into(), "echo hi".into()],
        runtime: "/usr/local/bin/berth-runtime".into(),
        cgroup_parent: "/berth".into(),
        network_mode: "none".into(),
        ..Default::default()
    }
}

fn container(config: ContainerConfig) -> Container {
    Container {
        id: ID.into(),
        name: "golden".into(),
        image_id: "sha256:00".into(),
        config,
        state: State::Created,
        pid: 0,
        exit_code: 0,
        error: String::new(),
        created_at: String::new(),
        started_at: String::new(),
        finished_at: String::new(),
        paused: false,
        oom_killed: false,
        checkpoint: Default::default(),
    }
}

fn with(f: impl FnOnce(&mut ContainerConfig)) -> Container {
    let mut c = base();
    f(&mut c);
    container(c)
}

fn sec(f: impl FnOnce(&mut SecurityConfig)) -> Container {
    with(|c| f(&mut c.security))
}

fn res(r: Resources) -> Container {
    with(|c| c.resources = r)
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn throttle(path: &str, rate: u64) -> Vec<ThrottleDevice> {
    vec![ThrottleDevice {
        path: path.into(),
        rate,
    }]
}

pub(super) fn cases() -> Vec<Case> {
    let case = |name, container| Case { name, container };
    vec![
        case("defaults", container(base())),
        case(
            "process",
            with(|c| {
                c.entrypoint = s(&["/docker-entrypoint.sh"]);
                c.cmd = s(&["nginx", "-g", "daemon off;"]);
                c.env.push("A=1".into());
                c.working_dir = "/srv".into();
                c.labels = BTreeMap::from([("com.example".into(), "x".into())]);
                c.cgroup_parent = "/custom/".into();
            }),
        ),
        case("privileged", sec(|s| s.privileged = true)),
        case(
            "memory",
            res(Resources {
                memory: 64 << 20,
                memory_swap: 128 << 20,
                ..Default::default()
            }),
        ),
        case(
            "memory-swap-unlimited",
            res(Resources {
                memory: 64 << 20,
                memory_swap: -1,
                ..Default::default()
            }),
        ),
        case(
            "memory-reservation",
            res(Resources {
                memory_reservation: 32 << 20,
                ..Default::default()
            }),
        ),
        case(
            "cpus",
            res(Resources {
                nano_cpus: 1_500_000_000,
                ..Default::default()
            }),
        ),
        case(
            "cpu-shares",
            res(Resources {
                cpu_shares: 512,
                ..Default::default()
            }),
        ),
        case(
            "cpu-period-quota",
            res(Resources {
                cpu_period: 50_000,
                cpu_quota: 25_000,
                ..Default::default()
            }),
        ),
        case(
            "cpu-quota-unlimited",
            res(Resources {
                cpu_quota: -1,
                ..Default::default()
            }),
        ),
        case(
            "cpuset",
            res(Resources {
                cpuset_cpus: "0-1".into(),
                cpuset_mems: "0".into(),
                ..Default::default()
            }),
        ),
        case(
            "pids-limit",
            res(Resources {
                pids_limit: Some(20),
                ..Default::default()
            }),
        ),
        case(
            "blkio",
            res(Resources {
                blkio_weight: 300,
                blkio_device_read_bps: throttle("/dev/null", 1 << 20),
                blkio_device_write_bps: throttle("/dev/zero", 2 << 20),
                blkio_device_read_iops: throttle("/dev/null", 100),
                blkio_device_write_iops: throttle("/dev/zero", 200),
                ..Default::default()
            }),
        ),
        case(
            "cap-add",
            sec(|s| s.cap_add = strings(&["CAP_SYS_ADMIN", "CAP_NET_ADMIN"])),
        ),
        case(
            "cap-drop",
            sec(|s| s.cap_drop = strings(&["CAP_CHOWN", "CAP_KILL"])),
        ),
        case(
            "cap-drop-all",
            sec(|s| {
                s.cap_add = strings(&["CAP_NET_RAW"]);
                s.cap_drop = strings(&["ALL"]);
            }),
        ),
        case(
            "cap-add-all",
            sec(|s| {
                s.cap_add = strings(&["ALL"]);
                s.cap_drop = strings(&["CAP_MKNOD"]);
            }),
        ),
        case(
            "seccomp-unconfined",
            sec(|s| s.seccomp = SeccompMode::Unconfined),
        ),
        case(
            "seccomp-custom",
            sec(|s| s.seccomp = SeccompMode::Custom(CUSTOM_SECCOMP.into())),
        ),
        case("no-new-privileges", sec(|s| s.no_new_privileges = true)),
        case(
            "apparmor",
            sec(|s| s.apparmor_profile = "berth-test".into()),
        ),
        case(
            "apparmor-unconfined",
            sec(|s| s.apparmor_profile = "unconfined".into()),
        ),
        case("systempaths-unconfined", sec(|s| s.unconfined_paths = true)),
        case(
            "device",
            sec(|s| {
                s.devices = vec![Device {
                    path: "/dev/mynull".into(),
                    host_path: String::new(),
                    kind: "c".into(),
                    major: 1,
                    minor: 3,
                    file_mode: 0o666,
                    uid: 0,
                    gid: 0,
                    access: "rw".into(),
                }]
            }),
        ),
        case(
            "privileged-device",
            sec(|s| {
                s.privileged = true;
                s.devices = vec![Device {
                    path: "/dev/null".into(),
                    host_path: String::new(),
                    kind: "c".into(),
                    major: 1,
                    minor: 3,
                    file_mode: 0o600,
                    uid: 0,
                    gid: 0,
                    access: "r".into(),
                }]
            }),
        ),
        case(
            "tmpfs",
            sec(|s| {
                s.tmpfs = vec![
                    Tmpfs {
                        destination: "/run".into(),
                        options: strings(&["nosuid", "nodev", "rprivate", "exec", "size=1m"]),
                    },
                    Tmpfs {
                        destination: "/dev/shm".into(),
                        options: strings(&["noexec", "nosuid", "nodev", "rprivate"]),
                    },
                ]
            }),
        ),
        case("shm-size", sec(|s| s.shm_size = 128 << 20)),
        case(
            "ulimit",
            sec(|s| {
                s.ulimits = vec![
                    Ulimit {
                        kind: "RLIMIT_NOFILE".into(),
                        soft: 1024,
                        hard: 2048,
                    },
                    Ulimit {
                        kind: "RLIMIT_NPROC".into(),
                        soft: u64::MAX,
                        hard: u64::MAX,
                    },
                ]
            }),
        ),
        case("oom-score-adj", sec(|s| s.oom_score_adj = 500)),
        case(
            "sysctl",
            sec(|s| {
                s.sysctls = BTreeMap::from([
                    ("net.ipv4.ip_forward".into(), "1".into()),
                    ("kernel.shmmax".into(), "1024".into()),
                ])
            }),
        ),
        case(
            "init",
            sec(|s| s.init = Some("/usr/local/libexec/berth-init".into())),
        ),
        case("read-only", sec(|s| s.read_only = true)),
        case(
            "tty",
            with(|c| {
                c.stdio = StdioConfig {
                    tty: true,
                    console_size: Some((40, 120)),
                    ..Default::default()
                }
            }),
        ),
        case(
            "tty-with-term",
            with(|c| {
                c.env.push("TERM=vt100".into());
                c.stdio = StdioConfig {
                    tty: true,
                    open_stdin: true,
                    ..Default::default()
                }
            }),
        ),
        case(
            "interactive",
            with(|c| {
                c.stdio = StdioConfig {
                    open_stdin: true,
                    stdin_once: true,
                    ..Default::default()
                }
            }),
        ),
        case("network-host", with(|c| c.network_mode = "host".into())),
        case(
            "network-container",
            with(|c| c.network_mode = format!("container:{}", "ab".repeat(32))),
        ),
        case("user-name", with(|c| c.user = "alice".into())),
        case("user-uid", with(|c| c.user = "1000".into())),
        case("user-uid-gid", with(|c| c.user = "1000:27".into())),
        case("user-unknown-uid", with(|c| c.user = "4242".into())),
        case("user-name-group", with(|c| c.user = "alice:staff".into())),
        case(
            "user-group-add",
            with(|c| {
                c.user = "bob".into();
                c.security.group_add = strings(&["audio", "77"]);
            }),
        ),
    ]
}

fn strings(v: &[&str]) -> Vec<String> {
    s(v)
}

/// A root file system with the fixture's `/etc/passwd` and `/etc/group`.
pub(super) struct Rootfs(pub PathBuf);

impl Rootfs {
    pub fn new(tag: &str) -> Rootfs {
        let dir = std::env::temp_dir().join(format!(
            "berth-golden-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(dir.join("etc/passwd"), PASSWD).unwrap();
        std::fs::write(dir.join("etc/group"), GROUP).unwrap();
        Rootfs(dir)
    }
}

impl Drop for Rootfs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(super) fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/spec/golden")
}

/// Sorted capability lists; a default seccomp profile as a note.
pub(super) fn normalise(mut v: Value, default_seccomp: Option<&Value>) -> Value {
    if let Some(caps) = v["process"]["capabilities"].as_object_mut() {
        for list in caps.values_mut() {
            if let Some(a) = list.as_array_mut() {
                a.sort_by_key(|x| x.to_string());
            }
        }
    }
    if let (Some(d), Some(s)) = (default_seccomp, v["linux"].get_mut("seccomp")) {
        if s == d {
            *s = json!("<the seccomp of defaults.json>");
        }
    }
    v
}

pub(super) fn read_golden(name: &str) -> Value {
    let path = golden_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// Compares (or, with `BERTH_WRITE_GOLDEN=1`, writes) every golden from
/// `build` (the spec of a container whose rootfs is `rootfs`).
pub(super) fn check(build: impl Fn(&Container, &Path) -> Value) {
    let write = std::env::var_os("BERTH_WRITE_GOLDEN").is_some();
    let rootfs = Rootfs::new("check");
    let default_seccomp = if write {
        build(&container(base()), &rootfs.0)["linux"]["seccomp"].clone()
    } else {
        read_golden("defaults")["linux"]["seccomp"].clone()
    };
    let mut failed = Vec::new();
    for case in cases() {
        let mut got = build(&case.container, &rootfs.0);
        if case.name != "defaults" {
            got = normalise(got, Some(&default_seccomp));
        } else {
            got = normalise(got, None);
        }
        let path = golden_dir().join(format!("{}.json", case.name));
        if write {
            let text = serde_json::to_string_pretty(&got).unwrap() + "\n";
            std::fs::write(&path, text).unwrap();
            continue;
        }
        let want = read_golden(case.name);
        if got != want {
            eprintln!(
                "golden {} differs:\n got: {}\nwant: {}",
                case.name,
                serde_json::to_string(&got).unwrap(),
                serde_json::to_string(&want).unwrap()
            );
            failed.push(case.name);
        }
    }
    assert!(failed.is_empty(), "goldens differ: {failed:?}");
}
