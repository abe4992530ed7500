//! The typed builder against the goldens the untyped one wrote, and the
//! converters' own rules.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::golden;
use super::{build, HostFacts};
use crate::model::security::Device;

/// The facts of the host the goldens were written on (`golden/host.json`).
fn golden_host() -> HostFacts {
    let v = golden::read_golden("host");
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    let arch: &'static str = match v["arch"].as_str().unwrap() {
        "amd64" => "amd64",
        other => panic!("goldens written on {other}"),
    };
    let devices = v["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| Device {
            path: d["path"].as_str().unwrap().into(),
            host_path: String::new(),
            kind: d["type"].as_str().unwrap().into(),
            major: d["major"].as_u64().unwrap(),
            minor: d["minor"].as_u64().unwrap(),
            file_mode: d["fileMode"].as_u64().unwrap() as u32,
            uid: d["uid"].as_u64().unwrap() as u32,
            gid: d["gid"].as_u64().unwrap() as u32,
            access: "rwm".into(),
        })
        .collect();
    HostFacts {
        cgroup2: v["cgroup2"].as_bool().unwrap(),
        capabilities: strings(&v["capabilities"]),
        seccomp: crate::model::seccomp::Host {
            arch,
            kernel: (
                v["kernel"][0].as_u64().unwrap(),
                v["kernel"][1].as_u64().unwrap(),
            ),
        },
        devices,
        // The throttles' devices of `blkio.json`.
        block_devices: BTreeMap::from([
            ("/dev/null".to_owned(), (1, 3)),
            ("/dev/zero".to_owned(), (1, 5)),
        ]),
        // The namespace of `network-container.json`'s other container.
        network_namespace: Some("/proc/4242/ns/net".into()),
    }
}

fn typed(c: &crate::model::Container, rootfs: &Path, host: &HostFacts) -> Value {
    let user = crate::users::resolve(rootfs, &c.config.user, &c.config.security.group_add).unwrap();
    let spec = build(c, host, &user, Path::new(golden::BUNDLE)).unwrap();
    serde_json::to_value(&spec).unwrap()
}

#[test]
fn typed_builder_matches_goldens() {
    let host = golden_host();
    golden::check(|c, rootfs| typed(c, rootfs, &host));
}

/// `defaults.json` was written on a cgroup v1 host: on v2 the container
/// gets a private cgroup namespace, after Docker's others.
#[test]
fn cgroup2_host_adds_a_cgroup_namespace() {
    let rootfs = golden::Rootfs::new("cgroupns");
    let mut host = golden_host();
    let c = &golden::cases()[0].container;
    host.cgroup2 = false;
    let v1 = typed(c, &rootfs.0, &host);
    host.cgroup2 = true;
    let v2 = typed(c, &rootfs.0, &host);
    let types = |v: &Value| -> Vec<String> {
        v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(types(&v1), ["mount", "network", "uts", "pid", "ipc"]);
    assert_eq!(
        types(&v2),
        ["mount", "network", "uts", "pid", "ipc", "cgroup"]
    );
}

#[test]
fn numeric_user_before_the_image_is_mounted() {
    let u = |s| super::ResolvedUser::numeric(s);
    assert_eq!((u("1000:27").uid, u("1000:27").gid), (1000, 27));
    assert_eq!((u("alice").uid, u("alice").gid), (0, 0));
    assert_eq!((u("7").uid, u("7").gid), (7, 0));
    assert!(u("1000:27").additional_gids.is_empty());
}

#[test]
fn update_resources_shape() {
    let r = crate::model::Resources {
        memory: 64 << 20,
        memory_swap: 128 << 20,
        nano_cpus: 1_500_000_000,
        cpu_shares: 512,
        pids_limit: Some(20),
        ..Default::default()
    };
    let v = serde_json::to_value(super::update_request(&r, &r).unwrap()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "memory": {"limit": 64 << 20, "swap": 128 << 20},
            "cpu": {"shares": 512, "period": 100000, "quota": 150000},
            "pids": {"limit": 20},
        })
    );
    // An update lifting the pids limit says -1; nothing named, nothing sent.
    let lift = crate::model::Resources {
        pids_limit: Some(0),
        ..Default::default()
    };
    let v = serde_json::to_value(super::update_request(&lift, &lift).unwrap()).unwrap();
    assert_eq!(v, serde_json::json!({"pids": {"limit": -1}}));
    let none = super::update_request(&Default::default(), &Default::default()).unwrap();
    assert_eq!(serde_json::to_value(none).unwrap(), serde_json::json!({}));
    let missing = crate::model::Resources {
        blkio_device_read_bps: vec![crate::model::ThrottleDevice {
            path: "/nonexistent".into(),
            rate: 1,
        }],
        ..Default::default()
    };
    assert!(super::update_request(&missing, &missing)
        .unwrap_err()
        .to_string()
        .contains("stat /nonexistent: no such file or directory"));
}

#[test]
fn no_command_is_refused() {
    let mut c = golden::cases()[0].container.clone();
    c.config.cmd.clear();
    let e = build(&c, &golden_host(), &Default::default(), Path::new("/b"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no command specified"), "{e}");
}

/// Volumes and binds become bind mounts of their host paths, parents
/// before children, replacing a default at the same place; a `--mount`
/// tmpfs gets Docker's options.
#[test]
fn user_mounts_follow_mobys_options() {
    use crate::model::mounts::{MountKind, MountPoint, Propagation};
    let m = |kind, source: &str, destination: &str| MountPoint {
        kind,
        source: source.into(),
        destination: destination.into(),
        rw: true,
        ..Default::default()
    };
    let user = vec![
        MountPoint {
            propagation: Some(Propagation::Rprivate),
            rw: false,
            ..m(MountKind::Bind, "/srv/a", "/data/sub")
        },
        m(MountKind::Volume, "/var/lib/berth/volumes/v/_data", "/data"),
        MountPoint {
            bind_nonrecursive: true,
            propagation: Some(Propagation::Rshared),
            ..m(MountKind::Bind, "/srv/hosts", "/etc/hosts")
        },
        MountPoint {
            tmpfs_size: Some(1 << 20),
            tmpfs_mode: Some(0o1770),
            ..m(MountKind::Tmpfs, "", "/scratch")
        },
    ];
    let list = super::mounts::mounts(&Default::default(), &user, Path::new("/b"));
    let find = |d: &str| -> Vec<(String, String, Vec<String>)> {
        list.iter()
            .filter(|x| x.destination() == Path::new(d))
            .map(|x| {
                (
                    x.typ().clone().unwrap(),
                    x.source().clone().unwrap().display().to_string(),
                    x.options().clone().unwrap(),
                )
            })
            .collect()
    };
    let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        find("/data"),
        [(
            "bind".into(),
            "/var/lib/berth/volumes/v/_data".into(),
            owned(&["rbind"])
        )]
    );
    assert_eq!(
        find("/data/sub"),
        [(
            "bind".into(),
            "/srv/a".into(),
            owned(&["rbind", "ro", "rprivate"])
        )]
    );
    // the default /etc/hosts is replaced, not doubled
    assert_eq!(
        find("/etc/hosts"),
        [(
            "bind".into(),
            "/srv/hosts".into(),
            owned(&["bind", "rshared"])
        )]
    );
    assert_eq!(
        find("/scratch"),
        [(
            "tmpfs".into(),
            "tmpfs".into(),
            owned(&["noexec", "nosuid", "nodev", "size=1048576", "mode=1770"])
        )]
    );
    let order: Vec<_> = list.iter().map(|x| x.destination().clone()).collect();
    let at = |d: &str| order.iter().position(|p| p == Path::new(d)).unwrap();
    assert!(at("/data") < at("/data/sub"), "{order:?}");
}
