//! The security settings in the JSON spec.

use std::path::Path;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::model::seccomp;
use crate::model::security::{
    capabilities, devices, SeccompMode, SecurityConfig, INIT_IN_CONTAINER,
};

/// Writes the settings into the OCI spec `bundle::spec` made.
pub fn apply(spec: &mut Value, c: &SecurityConfig) -> Result<()> {
    let caps = capabilities(c);
    let process = &mut spec["process"];
    process["capabilities"] = json!({ "bounding": caps, "effective": caps, "permitted": caps });
    process["noNewPrivileges"] = json!(c.no_new_privileges);
    process["oomScoreAdj"] = json!(c.oom_score_adj);
    if !c.apparmor_profile.is_empty() && c.apparmor_profile != "unconfined" {
        process["apparmorProfile"] = json!(c.apparmor_profile);
    }
    if !c.ulimits.is_empty() {
        process["rlimits"] = json!(c
            .ulimits
            .iter()
            .map(|u| json!({ "type": u.kind, "soft": u.soft, "hard": u.hard }))
            .collect::<Vec<_>>());
    }
    if let Some(init) = &c.init {
        let mut args = vec![json!(INIT_IN_CONTAINER), json!("--")];
        args.extend(process["args"].as_array().cloned().unwrap_or_default());
        process["args"] = json!(args);
        push_mount(
            spec,
            json!({ "destination": INIT_IN_CONTAINER, "type": "bind", "source": init,
                    "options": ["rbind", "ro", "rprivate"] }),
        );
    }
    if c.read_only {
        spec["root"]["readonly"] = json!(true);
    }
    if c.shm_size > 0 {
        for m in spec["mounts"].as_array_mut().into_iter().flatten() {
            if m["destination"] == "/dev/shm" {
                let mut opts: Vec<Value> = m["options"].as_array().cloned().unwrap_or_default();
                opts.retain(|o| !o.as_str().is_some_and(|o| o.starts_with("size=")));
                opts.push(json!(format!("size={}", c.shm_size)));
                m["options"] = json!(opts);
            }
        }
    }
    for t in &c.tmpfs {
        push_mount(
            spec,
            json!({ "destination": t.destination, "type": "tmpfs", "source": "tmpfs",
                    "options": t.options }),
        );
    }
    let linux = &mut spec["linux"];
    if !c.sysctls.is_empty() {
        linux["sysctl"] = json!(c.sysctls);
    }
    if c.privileged || c.unconfined_paths {
        linux["maskedPaths"] = json!([]);
        linux["readonlyPaths"] = json!([]);
    }
    let mut devices = c.devices.clone();
    let mut rules: Vec<Value> = c
        .devices
        .iter()
        .map(|d| json!({ "allow": true, "type": d.kind, "major": d.major, "minor": d.minor, "access": d.access }))
        .collect();
    if c.privileged {
        devices::walk_devices(Path::new("/dev"), &mut |host, rel| {
            if let Some(d) = devices::device(host, &format!("/dev/{rel}"), "rwm") {
                if !devices.iter().any(|x| x.path == d.path) {
                    devices.push(d);
                }
            }
        })
        .map_err(|e| Error::io("list", "/dev", e))?;
        rules = vec![json!({ "allow": true, "access": "rwm" })];
    }
    if !devices.is_empty() {
        linux["devices"] = json!(devices
            .iter()
            .map(
                |d| json!({ "path": d.path, "type": d.kind, "major": d.major, "minor": d.minor,
                             "fileMode": d.file_mode, "uid": d.uid, "gid": d.gid })
            )
            .collect::<Vec<_>>());
    }
    let cgroup_rules = &mut linux["resources"]["devices"];
    if c.privileged {
        *cgroup_rules = json!(rules);
    } else if let Some(list) = cgroup_rules.as_array_mut() {
        list.extend(rules);
    }
    if !c.privileged {
        let profile = match &c.seccomp {
            SeccompMode::Default => Some(seccomp::DEFAULT_PROFILE),
            SeccompMode::Custom(p) => Some(p.as_str()),
            SeccompMode::Unconfined => None,
        };
        if let Some(p) = profile {
            if let Some(s) = seccomp::to_oci(p, &caps, &seccomp::Host::current())? {
                linux["seccomp"] = s;
            }
        }
    } else {
        // A privileged container's /sys and /sys/fs/cgroup are writable.
        for m in spec["mounts"].as_array_mut().into_iter().flatten() {
            if m["type"] == "sysfs" || m["type"] == "cgroup" {
                if let Some(opts) = m["options"].as_array_mut() {
                    opts.retain(|o| o != "ro");
                    opts.push(json!("rw"));
                }
            }
        }
    }
    Ok(())
}

/// Adds a mount, replacing one at the same destination (Docker's user
/// mounts win over its defaults).
fn push_mount(spec: &mut Value, m: Value) {
    if let Some(list) = spec["mounts"].as_array_mut() {
        list.retain(|x| x["destination"] != m["destination"]);
        list.push(m);
    }
}
