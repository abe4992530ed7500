//! `update`: change a container's cgroup limits while it runs. Only the
//! fields given are written; they are also merged into the recorded config,
//! so that later commands see the limits in force.

use std::path::Path;

use oci_spec::runtime::LinuxResources;
use serde_json::Value;

use super::Container;
use crate::config;
use crate::error::{Error, Result};
use crate::state::Status;

pub fn update(root: &Path, id: &str, resources: &LinuxResources) -> Result<()> {
    let mut c = Container::load(root, id)?;
    if matches!(c.status(), Status::Stopped | Status::Creating) {
        return Err(Error::NotRunning);
    }
    let record = c
        .record
        .as_mut()
        .ok_or_else(|| Error::NotExist(id.to_string()))?;
    let cgroup = record
        .cgroup
        .as_ref()
        .ok_or_else(|| Error::Unsupported(format!("updating container {id} without a cgroup")))?;
    config::warn_ignored_resources(Some(resources));
    let effective = config::with_default_device_rules(resources.clone());
    cgroup.apply(&effective)?;
    // Record what is now in force.
    let mut spec = serde_json::to_value(&record.config)
        .map_err(|e| Error::sys("encode config", std::io::Error::other(e)))?;
    let update = serde_json::to_value(resources)
        .map_err(|e| Error::sys("encode resources", std::io::Error::other(e)))?;
    merge(&mut spec["linux"]["resources"], update);
    record.config = serde_json::from_value(spec)
        .map_err(|e| Error::sys("decode updated config", std::io::Error::other(e)))?;
    c.dir.save(c.record.as_ref().expect("checked above"))
}

/// Deep-merges `from` into `into`: objects key by key, anything else
/// (numbers, strings, arrays) replaced; nulls in `from` change nothing.
fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (_, Value::Null) => {}
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merges_only_what_is_given() {
        let mut cur = json!({"memory": {"limit": 100, "swap": 200}, "pids": {"limit": 5}});
        merge(
            &mut cur,
            json!({"memory": {"limit": 300}, "cpu": {"shares": 512}, "pids": null}),
        );
        assert_eq!(
            cur,
            json!({"memory": {"limit": 300, "swap": 200}, "pids": {"limit": 5}, "cpu": {"shares": 512}})
        );
        let mut empty = Value::Null;
        merge(&mut empty, json!({"pids": {"limit": 1}}));
        assert_eq!(empty, json!({"pids": {"limit": 1}}));
    }
}
