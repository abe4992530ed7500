//! The typed builder against the goldens the untyped one wrote, and the
//! converters' own rules.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::golden;
use super::{build, HostFacts};
use crate::security::Device;

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
        seccomp: crate::seccomp::Host {
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
    }
}

fn typed(c: &crate::Container, rootfs: &Path, host: &HostFacts) -> Value {
    let user = crate::users::resolve(rootfs, &c.config.user, &c.config.security.group_add).unwrap();
    let spec = build(c, host, &user, Path::new(golden::BUNDLE)).unwrap();
    serde_json::to_value(&spec).unwrap()
}

#[test]
fn typed_builder_matches_goldens() {
    let host = golden_host();
    golden::check(|c, rootfs| typed(c, rootfs, &host));
}
