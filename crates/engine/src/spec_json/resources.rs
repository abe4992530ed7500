//! A container's resource limits in the JSON spec's `linux.resources`
//! (moby `WithResources`), and the request `update` sends the runtime.

use std::path::Path;

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::model::resources::device_numbers;
use crate::model::{Container, Resources};

impl Resources {
    /// The OCI `linux.resources` fields for these limits (moby
    /// `WithResources`/`getCPUResources`); devices are not here.
    pub fn to_oci(&self) -> Result<Map<String, Value>> {
        let mut out = Map::new();
        let mut memory = Map::new();
        if self.memory > 0 {
            memory.insert("limit".into(), json!(self.memory));
        }
        if self.memory_reservation > 0 {
            memory.insert("reservation".into(), json!(self.memory_reservation));
        }
        if self.memory_swap != 0 {
            memory.insert("swap".into(), json!(self.memory_swap));
        }
        if !memory.is_empty() {
            out.insert("memory".into(), Value::Object(memory));
        }
        let mut cpu = Map::new();
        if self.cpu_shares > 0 {
            cpu.insert("shares".into(), json!(self.cpu_shares));
        }
        if self.nano_cpus > 0 {
            // Docker's fixed 100ms period for --cpus.
            let period: i64 = 100_000;
            cpu.insert("period".into(), json!(period));
            cpu.insert(
                "quota".into(),
                json!(self.nano_cpus * period / 1_000_000_000),
            );
        }
        if self.cpu_period > 0 {
            cpu.insert("period".into(), json!(self.cpu_period));
        }
        if self.cpu_quota != 0 {
            cpu.insert("quota".into(), json!(self.cpu_quota));
        }
        if !self.cpuset_cpus.is_empty() {
            cpu.insert("cpus".into(), json!(self.cpuset_cpus));
        }
        if !self.cpuset_mems.is_empty() {
            cpu.insert("mems".into(), json!(self.cpuset_mems));
        }
        if !cpu.is_empty() {
            out.insert("cpu".into(), Value::Object(cpu));
        }
        if let Some(limit) = self.pids_limit {
            // -1 is how the runtimes spell "no limit" in an update.
            out.insert(
                "pids".into(),
                json!({ "limit": if limit > 0 { limit } else { -1 } }),
            );
        }
        let mut blkio = Map::new();
        if self.blkio_weight > 0 {
            blkio.insert("weight".into(), json!(self.blkio_weight));
        }
        for (key, list) in self.throttles() {
            if list.is_empty() {
                continue;
            }
            let mut entries = Vec::new();
            for d in list {
                let (major, minor) = device_numbers(&d.path)?;
                entries.push(json!({ "major": major, "minor": minor, "rate": d.rate }));
            }
            blkio.insert(key.into(), Value::Array(entries));
        }
        if !blkio.is_empty() {
            out.insert("blockIO".into(), Value::Object(blkio));
        }
        Ok(out)
    }

    /// What an update sends to the runtime: the fields given, with the
    /// values now in force (a changed --cpus is a period and a quota).
    pub(crate) fn update_request(&self, u: &Resources) -> Result<Map<String, Value>> {
        let mut r = self.clone();
        // Fields the update did not name are left out of the request.
        if u.memory == 0 && u.memory_swap == 0 {
            r.memory = 0;
            r.memory_swap = 0;
        }
        if u.memory_reservation == 0 {
            r.memory_reservation = 0;
        }
        if u.nano_cpus == 0 {
            r.nano_cpus = 0;
        }
        if u.cpu_period == 0 {
            r.cpu_period = 0;
        }
        if u.cpu_quota == 0 {
            r.cpu_quota = 0;
        }
        if u.cpu_shares == 0 {
            r.cpu_shares = 0;
        }
        if u.cpuset_cpus.is_empty() {
            r.cpuset_cpus.clear();
        }
        if u.cpuset_mems.is_empty() {
            r.cpuset_mems.clear();
        }
        if u.blkio_weight == 0 {
            r.blkio_weight = 0;
        }
        r.pids_limit = u.pids_limit;
        r.blkio_device_read_bps.clear();
        r.blkio_device_write_bps.clear();
        r.blkio_device_read_iops.clear();
        r.blkio_device_write_iops.clear();
        r.to_oci()
    }
}

/// Rewrites only `config.json` (temp file + rename), so the next start
/// creates the cgroup with the updated limits; the files bind-mounted into
/// a running container are left alone.
pub(crate) fn write_spec(bundle_dir: &Path, c: &Container) -> Result<()> {
    let spec = super::spec(c, bundle_dir)?;
    let path = bundle_dir.join("config.json");
    let tmp = bundle_dir.join(".config.json.update");
    let text = serde_json::to_vec_pretty(&spec).expect("spec serializes");
    std::fs::write(&tmp, text).map_err(|e| Error::io("write", &tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io("rename", &path, e))
}

/// Adds the container's limits to the spec's `linux.resources` (which
/// already holds the device rules).
pub(crate) fn add_to_spec(spec: &mut Value, r: &Resources) -> Result<()> {
    let limits = r.to_oci()?;
    if let Some(resources) = spec["linux"]["resources"].as_object_mut() {
        resources.extend(limits);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem(memory: i64, swap: i64) -> Resources {
        Resources {
            memory,
            memory_swap: swap,
            ..Default::default()
        }
    }

    #[test]
    fn oci_shape() {
        let r = Resources {
            memory: 64 << 20,
            memory_swap: 128 << 20,
            nano_cpus: 1_500_000_000,
            cpu_shares: 512,
            pids_limit: Some(20),
            ..Default::default()
        };
        let v = Value::Object(r.to_oci().unwrap());
        assert_eq!(v["memory"], json!({"limit": 64 << 20, "swap": 128 << 20}));
        assert_eq!(
            v["cpu"],
            json!({"shares": 512, "period": 100000, "quota": 150000})
        );
        assert_eq!(v["pids"], json!({"limit": 20}));
    }

    #[test]
    fn update_request_names_only_the_change() {
        let mut r = mem(64 << 20, 128 << 20);
        // Only what was named goes to the runtime.
        let shares = Resources {
            cpu_shares: 256,
            ..Default::default()
        };
        r.merge_update(&shares).unwrap();
        let req = Value::Object(r.update_request(&shares).unwrap());
        assert_eq!(req, json!({"cpu": {"shares": 256}}));
    }
}
