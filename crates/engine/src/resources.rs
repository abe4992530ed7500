//! A container's resource limits as Docker records them (`HostConfig`'s
//! `Memory`, `NanoCpus`, `BlkioDeviceReadBps`, ...): the daemon's checks
//! (moby `verifyPlatformContainerResources`), its defaults (swap twice the
//! memory), the OCI `linux.resources` they become, and the live operations
//! that touch them: `update` (merged as `docker update` merges, applied
//! through the runtime's `update --resources`, then recorded), `pause` and
//! `unpause`, and the OOM kill count read when the container exits.
//!
//! Not here: parsing the flags (the CLI's `resource_args.rs`), usage
//! numbers (`stats.rs`).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::container::{Container, State};
use crate::error::{Error, Result};
use crate::Engine;

/// Docker's minimum for `--memory` and `--memory-reservation`.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// One `--device-read-bps`/`-iops` entry: a device path and its rate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ThrottleDevice {
    pub path: String,
    pub rate: u64,
}

/// Docker's resource fields, with Docker's names (so `inspect` shows them
/// as `HostConfig` does). Zero means "not set", as in Docker's API; for
/// an update it means "unchanged".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Resources {
    pub memory: i64,
    pub memory_reservation: i64,
    /// Memory plus swap; -1 is unlimited swap.
    pub memory_swap: i64,
    #[serde(rename = "NanoCpus")]
    pub nano_cpus: i64,
    #[serde(rename = "CpuShares")]
    pub cpu_shares: i64,
    #[serde(rename = "CpuPeriod")]
    pub cpu_period: i64,
    #[serde(rename = "CpuQuota")]
    pub cpu_quota: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    /// `None`: no limit. In an update, `Some(n <= 0)` asks for no limit.
    pub pids_limit: Option<i64>,
    pub blkio_weight: u16,
    pub blkio_device_read_bps: Vec<ThrottleDevice>,
    pub blkio_device_write_bps: Vec<ThrottleDevice>,
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Vec<ThrottleDevice>,
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Vec<ThrottleDevice>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::Resources(message.into())
}

impl Resources {
    /// The daemon's checks (moby `verifyPlatformContainerResources`), in
    /// its order and words. `update` skips the one that only applies to a
    /// new container.
    pub fn validate(&self, update: bool) -> Result<()> {
        let r = self;
        if r.memory != 0 && r.memory < MIN_MEMORY {
            return Err(invalid("Minimum memory limit allowed is 6MB"));
        }
        if r.memory > 0 && r.memory_swap > 0 && r.memory_swap < r.memory {
            return Err(invalid(
                "Minimum memoryswap limit should be larger than memory limit, see usage",
            ));
        }
        if r.memory == 0 && r.memory_swap > 0 && !update {
            return Err(invalid(
                "You should always set the Memory limit when using Memoryswap limit, see usage",
            ));
        }
        if r.memory > 0 && r.memory_reservation > 0 && r.memory < r.memory_reservation {
            return Err(invalid(
                "Minimum memory limit can not be less than memory reservation limit, see usage",
            ));
        }
        if r.memory_reservation != 0 && r.memory_reservation < MIN_MEMORY {
            return Err(invalid("Minimum memory reservation allowed is 6MB"));
        }
        if r.nano_cpus > 0 && r.cpu_period > 0 {
            return Err(invalid(
                "Conflicting options: Nano CPUs and CPU Period cannot both be set",
            ));
        }
        if r.nano_cpus > 0 && r.cpu_quota > 0 {
            return Err(invalid(
                "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
            ));
        }
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
        if r.nano_cpus < 0 || r.nano_cpus > cpus * 1_000_000_000 {
            return Err(invalid(format!(
                "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
            )));
        }
        if r.cpu_period != 0 && !(1000..=1_000_000).contains(&r.cpu_period) {
            return Err(invalid(
                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
            ));
        }
        if r.cpu_quota > 0 && r.cpu_quota < 1000 {
            return Err(invalid(
                "CPU cfs quota can not be less than 1ms (i.e. 1000)",
            ));
        }
        check_set(
            &r.cpuset_cpus,
            "cpus",
            "CPUs",
            "/sys/devices/system/cpu/online",
        )?;
        check_set(
            &r.cpuset_mems,
            "mems",
            "memory nodes",
            "/sys/devices/system/node/online",
        )?;
        if r.blkio_weight > 0 && !(10..=1000).contains(&r.blkio_weight) {
            return Err(invalid("Range of blkio weight is from 10 to 1000"));
        }
        for d in self.throttles().flat_map(|(_, list)| list) {
            device_numbers(&d.path)?;
        }
        Ok(())
    }

    /// What a new container gets beyond the flags: swap twice the memory
    /// when swap is accounted, unlimited swap when it is not (Docker's
    /// defaults); a pids limit of 0 or less means none.
    pub fn with_defaults(mut self) -> Resources {
        if self.memory > 0 && self.memory_swap == 0 {
            self.memory_swap = self.memory * 2;
        }
        if self.memory_swap != 0 && !swap_accounted() {
            self.memory_swap = -1;
        }
        if self.pids_limit.is_some_and(|n| n <= 0) {
            self.pids_limit = None;
        }
        self
    }

    fn throttles(&self) -> impl Iterator<Item = (&'static str, &Vec<ThrottleDevice>)> {
        [
            ("throttleReadBpsDevice", &self.blkio_device_read_bps),
            ("throttleWriteBpsDevice", &self.blkio_device_write_bps),
            ("throttleReadIOPSDevice", &self.blkio_device_read_iops),
            ("throttleWriteIOPSDevice", &self.blkio_device_write_iops),
        ]
        .into_iter()
    }

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

    /// `docker update`'s merge (moby `container.UpdateContainer`): only the
    /// fields given change, with its conflict checks.
    pub fn merge_update(&mut self, u: &Resources) -> Result<()> {
        let c = self.clone();
        if u.nano_cpus > 0 && c.cpu_period > 0 {
            return Err(invalid("Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set"));
        }
        if u.nano_cpus > 0 && c.cpu_quota > 0 {
            return Err(invalid("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set"));
        }
        if u.cpu_period > 0 && c.nano_cpus > 0 {
            return Err(invalid("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set"));
        }
        if u.cpu_quota > 0 && c.nano_cpus > 0 {
            return Err(invalid(
                "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set",
            ));
        }
        if u.blkio_weight != 0 {
            self.blkio_weight = u.blkio_weight;
        }
        if u.cpu_shares != 0 {
            self.cpu_shares = u.cpu_shares;
        }
        if u.nano_cpus != 0 {
            self.nano_cpus = u.nano_cpus;
        }
        if u.cpu_period != 0 {
            self.cpu_period = u.cpu_period;
        }
        if u.cpu_quota != 0 {
            self.cpu_quota = u.cpu_quota;
        }
        if !u.cpuset_cpus.is_empty() {
            self.cpuset_cpus = u.cpuset_cpus.clone();
        }
        if !u.cpuset_mems.is_empty() {
            self.cpuset_mems = u.cpuset_mems.clone();
        }
        if u.memory != 0 {
            if u.memory > c.memory_swap && u.memory_swap == 0 {
                return Err(invalid("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"));
            }
            self.memory = u.memory;
        }
        if u.memory_swap != 0 {
            self.memory_swap = u.memory_swap;
        }
        if u.memory_reservation != 0 {
            self.memory_reservation = u.memory_reservation;
        }
        if let Some(n) = u.pids_limit {
            self.pids_limit = (n > 0).then_some(n);
        }
        Ok(())
    }

    /// What an update sends to the runtime: the fields given, with the
    /// values now in force (a changed --cpus is a period and a quota).
    fn update_request(&self, u: &Resources) -> Result<Map<String, Value>> {
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

    /// True when an update names nothing.
    pub fn is_empty(&self) -> bool {
        *self == Resources::default()
    }
}

/// `--cpuset-cpus`/`--cpuset-mems`: a list like `0-2,4` whose members the
/// host has.
fn check_set(value: &str, what: &str, plural: &str, online: &str) -> Result<()> {
    if value.is_empty() {
        return Ok(());
    }
    let requested = parse_list(value).ok_or_else(|| {
        invalid(format!(
            "Invalid value {value} for cpuset {what}: invalid format: {value}"
        ))
    })?;
    // No NUMA information means one node, 0.
    let available_text = std::fs::read_to_string(online).unwrap_or_else(|_| "0".into());
    let available_text = available_text.trim();
    let available = parse_list(available_text).unwrap_or_default();
    if requested.iter().any(|n| !available.contains(n)) {
        let label = if what == "cpus" { "CPUs" } else { plural };
        return Err(invalid(format!(
            "Requested {label} are not available - requested {value}, available: {available_text}"
        )));
    }
    Ok(())
}

/// `0-2,4` → [0, 1, 2, 4] (moby `parsers.ParseUintList`).
fn parse_list(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if b < a {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// A device's major and minor numbers, as Docker finds them (stat).
fn device_numbers(path: &str) -> Result<(u64, u64)> {
    let st = nix::sys::stat::stat(path)
        // Go's wording: "stat /dev/x: no such file or directory".
        .map_err(|e| invalid(format!("stat {path}: {}", e.desc().to_lowercase())))?;
    Ok((
        nix::sys::stat::major(st.st_rdev),
        nix::sys::stat::minor(st.st_rdev),
    ))
}

/// Whether the kernel accounts swap per cgroup, as Docker's sysinfo
/// decides: v1 has `memory.memsw.*`; on v2 the memory controller does
/// (the root cgroup has no swap files to look at).
fn swap_accounted() -> bool {
    if Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists() {
        return true;
    }
    std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
        .is_ok_and(|c| c.split_whitespace().any(|c| c == "memory"))
}

/// Rewrites only `config.json` (temp file + rename), so the next start
/// creates the cgroup with the updated limits; the files bind-mounted into
/// a running container are left alone.
fn write_spec(bundle: &crate::Bundle, c: &Container) -> Result<()> {
    let spec = crate::bundle::spec(c, bundle.dir())?;
    let path = bundle.file("config.json");
    let tmp = bundle.file(".config.json.update");
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

/// The container's cgroup, where the runtime made it (`cgroupsPath`).
pub(crate) fn cgroup(c: &Container) -> Result<berth_cgroups::Cgroup> {
    let path = format!("{}/{}", c.config.cgroup_parent.trim_end_matches('/'), c.id);
    berth_cgroups::Cgroup::resolve(Some(&path), &c.id).map_err(|e| Error::Cgroup {
        id: c.id.clone(),
        source: e,
    })
}

/// Whether the OOM killer killed a process of the container: read by the
/// monitor after the init exits, before `runtime delete` removes the
/// cgroup. Records it, and that the container is no longer paused.
pub(crate) fn record_exit(engine: &Engine, c: &Container) -> Result<()> {
    let oom_killed = cgroup(c)
        .and_then(|cg| {
            cg.oom_kill_count().map_err(|e| Error::Cgroup {
                id: c.id.clone(),
                source: e,
            })
        })
        .is_ok_and(|n| n > 0);
    engine.db.set_oom_killed(&c.id, oom_killed)
}

fn not_running(c: &Container) -> Error {
    Error::StateConflict(format!("container {} is not running", c.id))
}

impl Engine {
    /// `docker update`: merges the change into the recorded limits, applies
    /// it to a running container through the runtime, then records it and
    /// rewrites the bundle (so the next start keeps it). A failure leaves
    /// the record as it was.
    pub fn update(&mut self, key: &str, change: &Resources) -> Result<Container> {
        let mut c = self.find(key)?;
        let cannot = |id: &str, e: Error| Error::UpdateFailed {
            id: id.to_owned(),
            message: e.to_string(),
        };
        change.validate(true).map_err(|e| cannot(&c.id, e))?;
        let mut merged = c.config.resources.clone();
        merged.merge_update(change).map_err(|e| cannot(&c.id, e))?;
        merged.validate(true).map_err(|e| cannot(&c.id, e))?;
        if c.state == State::Running {
            let request = merged.update_request(change)?;
            let file = self.bundle(&c.id).file("update.json");
            std::fs::write(&file, Value::Object(request).to_string())
                .map_err(|e| Error::io("write", &file, e))?;
            let applied = self.runtime_for(&c).update(&c.id, &file);
            let _ = std::fs::remove_file(&file);
            applied.map_err(|e| cannot(&c.id, e))?;
        }
        c.config.resources = merged;
        self.db.set_config(&c.id, &c.config)?;
        write_spec(&self.bundle(&c.id), &c)?;
        Ok(c)
    }

    /// `docker pause`: freezes the container (`runtime pause`).
    pub fn pause(&mut self, key: &str) -> Result<Container> {
        let mut c = self.find(key)?;
        if c.state != State::Running {
            return Err(not_running(&c));
        }
        if c.paused {
            return Err(Error::StateConflict(format!(
                "container {} is already paused",
                c.id
            )));
        }
        self.runtime_for(&c).pause(&c.id)?;
        self.db.set_paused(&c.id, true)?;
        c.paused = true;
        Ok(c)
    }

    /// `docker unpause` (`runtime resume`).
    pub fn unpause(&mut self, key: &str) -> Result<Container> {
        let mut c = self.find(key)?;
        if c.state != State::Running || !c.paused {
            return Err(Error::StateConflict(format!(
                "Container {} is not paused",
                c.id
            )));
        }
        self.runtime_for(&c).resume(&c.id)?;
        self.db.set_paused(&c.id, false)?;
        c.paused = false;
        Ok(c)
    }

    /// After a signal reached a paused container (`kill`, `stop`, `run`'s
    /// signal proxy): Docker resumes it so the signal is delivered, when the
    /// signal is SIGKILL or the container's stop signal (SIGTERM unless
    /// set); others wait for `unpause`. It stays marked paused when the
    /// resume fails (Docker only warns then).
    pub(crate) fn resume_after_signal(&self, c: &Container, signal: &str) {
        if !c.paused || !crate::restart::ends_restarts(&c.config.stop_signal, signal) {
            return;
        }
        match self.runtime_for(c).resume(&c.id) {
            Ok(()) => {
                let _ = self.db.set_paused(&c.id, false);
            }
            Err(e) => tracing::warn!(id = %c.id, "cannot unpause the container: {e}"),
        }
    }
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
    fn docker_checks() {
        let msg = |r: Resources| r.validate(false).unwrap_err().to_string();
        assert_eq!(
            msg(mem(1024 * 1024, 0)),
            "Minimum memory limit allowed is 6MB"
        );
        assert!(msg(mem(0, 100 << 20)).starts_with("You should always set the Memory limit"));
        assert!(msg(mem(100 << 20, 50 << 20)).starts_with("Minimum memoryswap limit"));
        let both = Resources {
            nano_cpus: 500_000_000,
            cpu_quota: 50_000,
            ..Default::default()
        };
        assert_eq!(
            msg(both),
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set"
        );
        let period = Resources {
            cpu_period: 10,
            ..Default::default()
        };
        assert!(msg(period).starts_with("CPU cfs period can not be less than 1ms"));
        let cpus = Resources {
            cpuset_cpus: "0-x".into(),
            ..Default::default()
        };
        assert_eq!(
            msg(cpus),
            "Invalid value 0-x for cpuset cpus: invalid format: 0-x"
        );
        mem(6 << 20, -1).validate(false).unwrap();
        mem(0, 100 << 20).validate(true).unwrap();
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
    fn update_merges_like_docker() {
        let mut r = mem(64 << 20, 128 << 20);
        r.merge_update(&mem(100 << 20, 0)).unwrap();
        assert_eq!(r.memory, 100 << 20);
        let err = r.merge_update(&mem(200 << 20, 0)).unwrap_err().to_string();
        assert!(err.starts_with("Memory limit should be smaller"), "{err}");
        // A container without limits needs the swap with the memory.
        let mut none = Resources::default();
        assert!(none.merge_update(&mem(100 << 20, 0)).is_err());
        none.merge_update(&mem(100 << 20, -1)).unwrap();
        let mut pids = Resources {
            pids_limit: Some(5),
            ..Default::default()
        };
        pids.merge_update(&Resources {
            pids_limit: Some(-1),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(pids.pids_limit, None);
        // Only what was named goes to the runtime.
        let shares = Resources {
            cpu_shares: 256,
            ..Default::default()
        };
        r.merge_update(&shares).unwrap();
        let req = Value::Object(r.update_request(&shares).unwrap());
        assert_eq!(req, json!({"cpu": {"shares": 256}}));
    }

    #[test]
    fn lists() {
        assert_eq!(parse_list("0-2,4"), Some(vec![0, 1, 2, 4]));
        assert_eq!(parse_list("2-1"), None);
        assert_eq!(parse_list(""), None);
    }
}
