//! A container's resource limits as Docker records them (`HostConfig`'s
//! `Memory`, `NanoCpus`, `BlkioDeviceReadBps`, ...): the daemon's checks
//! (moby `verifyPlatformContainerResources`), its defaults (swap twice the
//! memory) and `docker update`'s merge.
//!
//! Not here: parsing the flags (the CLI's `resource_args.rs`), the OCI
//! `linux.resources` they become (`spec/resources.rs`), the `update`,
//! `pause` and `unpause` verbs (`ops/`), usage numbers (`ops/stats.rs`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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

    pub(crate) fn throttles(&self) -> impl Iterator<Item = (&'static str, &Vec<ThrottleDevice>)> {
        [
            ("throttleReadBpsDevice", &self.blkio_device_read_bps),
            ("throttleWriteBpsDevice", &self.blkio_device_write_bps),
            ("throttleReadIOPSDevice", &self.blkio_device_read_iops),
            ("throttleWriteIOPSDevice", &self.blkio_device_write_iops),
        ]
        .into_iter()
    }

    /// Every device a blkio throttle names.
    pub(crate) fn throttle_devices(&self) -> impl Iterator<Item = &ThrottleDevice> {
        self.throttles().flat_map(|(_, list)| list)
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
pub(crate) fn device_numbers(path: &str) -> Result<(u64, u64)> {
    let st = nix::sys::stat::stat(path)
        // Go's wording: "stat /dev/x: no such file or directory".
        .map_err(|e| invalid(format!("stat {path}: {}", e.desc().to_lowercase())))?;
    Ok((
        nix::sys::stat::major(st.st_rdev),
        nix::sys::stat::minor(st.st_rdev),
    ))
}

/// Whether the kernel accounts swap per cgroup, as Docker's sysinfo
/// decides (`berth_cgroups::Host::swap_accounting`); `false` when the
/// host's cgroups cannot be read.
fn swap_accounted() -> bool {
    berth_cgroups::host().is_ok_and(|h| h.swap_accounting())
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
    }

    #[test]
    fn lists() {
        assert_eq!(parse_list("0-2,4"), Some(vec![0, 1, 2, 4]));
        assert_eq!(parse_list("2-1"), None);
        assert_eq!(parse_list(""), None);
    }
}
