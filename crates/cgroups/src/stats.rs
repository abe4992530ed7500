//! Resource usage of a cgroup, in the shape of the `data` object of runc's
//! `runc events --stats` (runc's `types/events.go`): the same key names, the
//! same keys left out when zero (Go's `omitempty`/`omitzero`), so tools that
//! read runc's output read ours.
//!
//! What fills it: `stats/v1.rs` reads the v1 files (`cpuacct.*`, `cpu.stat`,
//! `memory.*`, `pids.*`, `blkio.*`, `hugetlb.*`), `stats/v2.rs` the v2 ones
//! (`cpu.stat`, `memory.*`, `pids.*`, `io.stat`, `hugetlb.*`, PSI), each
//! for the controllers that are in that version on this host. A controller
//! that is not mounted leaves its part zero, as in runc; so does a file the
//! kernel lacks. `intel_rdt` and `network_interfaces` are not cgroup data:
//! they stay empty here, for the runtime to fill.

mod v1;
mod v2;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize, Serializer};

use crate::resources::Version;
use crate::{files, Cgroup, Error};

/// `runc events --stats` data: everything below serializes with runc's
/// key names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    pub cpu: Cpu,
    pub cpuset: CpuSet,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    /// By page size as the kernel names it (`2MB`, `1GB`).
    pub hugetlb: BTreeMap<String, Hugetlb>,
    pub intel_rdt: IntelRdt,
    /// `null` unless the runtime fills it (runc reads the container's
    /// network namespace for these).
    pub network_interfaces: Option<Vec<NetworkInterface>>,
}

fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Cpu {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: CpuUsage,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttling: Throttling,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi: Option<PsiStats>,
}

/// Nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuSet {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub cpu_exclusive: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Memory {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: MemoryEntry,
    /// Memory+swap, as v1 counts it (v2's swap alone plus memory).
    #[serde(skip_serializing_if = "is_zero")]
    pub swap: MemoryEntry,
    #[serde(skip_serializing_if = "is_zero")]
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP", skip_serializing_if = "is_zero")]
    pub kernel_tcp: MemoryEntry,
    /// `memory.stat`, every key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi: Option<PsiStats>,
}

/// Bytes. An unlimited `limit` is the kernel's "no limit" number
/// (`u64::MAX` for v2's `max`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Pids {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    /// 0 when unlimited.
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Blkio {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
    /// runc's key is `ioQueueRecursive`.
    #[serde(rename = "ioQueueRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_queued_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_time_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_wait_time_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_merged_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_time_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sectors_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi: Option<PsiStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    /// `Read`, `Write`, `Sync`, `Async`, `Discard`, `Total`, or empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage (v1 only).
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

/// Pressure stall information (cgroup v2's `*.pressure` files).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PsiStats {
    #[serde(skip_serializing_if = "is_zero")]
    pub some: PsiData,
    #[serde(skip_serializing_if = "is_zero")]
    pub full: PsiData,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PsiData {
    #[serde(serialize_with = "go_float")]
    pub avg10: f64,
    #[serde(serialize_with = "go_float")]
    pub avg60: f64,
    #[serde(serialize_with = "go_float")]
    pub avg300: f64,
    pub total: u64,
}

/// Go prints a whole float64 without a fraction (`0`, not `0.0`).
fn go_float<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

/// Intel RDT is not a cgroup: always `{}` from this crate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntelRdt {}

/// One network interface of the container, as runc names the fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NetworkInterface {
    pub name: String,
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

impl Cgroup {
    /// Reads the cgroup's resource usage (see [`Stats`]). Controllers that
    /// are not mounted, and files this kernel lacks, leave their part zero;
    /// a cgroup that does not exist is [`ErrorKind::NotFound`](crate::ErrorKind).
    pub fn stats(&self) -> Result<Stats, Error> {
        let mut st = Stats::default();
        if let Some(dir) = self.paths().find(|p| !p.exists()) {
            return Err(Error::Read {
                path: dir.to_path_buf(),
                source: io::Error::from(io::ErrorKind::NotFound),
            });
        }
        match self.controller("cpu") {
            Some((d, Version::V1)) => {
                v1::cpu(d, &mut st.cpu)?;
                if let Some((acct, _)) = self.controller("cpuacct") {
                    v1::cpuacct(acct, &mut st.cpu)?;
                }
            }
            Some((d, Version::V2)) => v2::cpu(d, &mut st.cpu)?,
            None => {}
        }
        if let Some((d, Version::V1)) = self.controller("cpuset") {
            v1::cpuset(d, &mut st.cpuset)?;
        }
        match self.controller("memory") {
            Some((d, Version::V1)) => v1::memory(d, &mut st.memory)?,
            Some((d, Version::V2)) => v2::memory(d, &mut st.memory)?,
            None => {}
        }
        if let Some((d, version)) = self.controller("pids") {
            pids(d, version, &mut st.pids)?;
        }
        match self.controller("blkio") {
            Some((d, Version::V1)) => v1::blkio(d, &mut st.blkio)?,
            Some((d, Version::V2)) => v2::io(d, &mut st.blkio)?,
            None => {}
        }
        if let Some((d, version)) = self.controller("hugetlb") {
            hugetlb(d, version, &mut st.hugetlb)?;
        }
        Ok(st)
    }
}

fn pids(dir: &Path, version: Version, st: &mut Pids) -> Result<(), Error> {
    match read_u64(&dir.join("pids.current"))? {
        Some(current) => st.current = current,
        // v2 without the pids controller: count the processes
        None if version == Version::V2 => {
            st.current = files::read(&dir.join("cgroup.procs"))?.lines().count() as u64;
            return Ok(());
        }
        None => return Ok(()),
    }
    st.limit = match read_u64(&dir.join("pids.max"))? {
        Some(u64::MAX) | None => 0,
        Some(l) => l,
    };
    Ok(())
}

/// Page sizes as the hugetlb files name them (`2MB`, `1GB`), from
/// `/sys/kernel/mm/hugepages/hugepages-<N>kB`.
pub(crate) fn huge_page_sizes() -> Vec<String> {
    let Ok(entries) = fs::read_dir("/sys/kernel/mm/hugepages") else {
        return Vec::new();
    };
    let mut sizes: Vec<(u64, String)> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| {
            let kb: u64 = n
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some((kb, page_size_name(kb)))
        })
        .collect();
    sizes.sort();
    sizes.into_iter().map(|(_, n)| n).collect()
}

/// 2048 (kB) → `2MB`, 1048576 → `1GB`, 64 → `64KB`: the kernel's names.
fn page_size_name(kb: u64) -> String {
    let units = ["KB", "MB", "GB", "TB", "PB"];
    let (mut v, mut i) = (kb, 0);
    while v >= 1024 && v % 1024 == 0 && i + 1 < units.len() {
        v /= 1024;
        i += 1;
    }
    format!("{v}{}", units[i])
}

fn hugetlb(dir: &Path, version: Version, out: &mut BTreeMap<String, Hugetlb>) -> Result<(), Error> {
    for size in huge_page_sizes() {
        let h = match version {
            Version::V1 => v1::hugetlb(dir, &size)?,
            Version::V2 => v2::hugetlb(dir, &size)?,
        };
        if let Some(h) = h {
            out.insert(size, h);
        }
    }
    Ok(())
}

/// Reads a file, `None` when it does not exist.
pub(crate) fn read_opt(path: &Path) -> Result<Option<String>, Error> {
    match files::read(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if files::is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

fn parse_err(path: &Path, line: &str) -> Error {
    Error::Parse {
        path: path.to_path_buf(),
        line: line.to_string(),
    }
}

/// A number as runc reads cgroup numbers: `max` is `u64::MAX`, a negative
/// number is 0.
pub(crate) fn parse_u64(path: &Path, s: &str) -> Result<u64, Error> {
    let s = s.trim();
    if s == "max" {
        return Ok(u64::MAX);
    }
    s.parse::<u64>().or_else(|_| match s.parse::<i64>() {
        Ok(n) if n < 0 => Ok(0),
        _ if s.starts_with('-') && s[1..].bytes().all(|b| b.is_ascii_digit()) => Ok(0),
        _ => Err(parse_err(path, s)),
    })
}

/// A file holding one number; `None` when missing.
pub(crate) fn read_u64(path: &Path) -> Result<Option<u64>, Error> {
    read_opt(path)?.map(|s| parse_u64(path, &s)).transpose()
}

/// A flat keyed file (`key value` lines), e.g. `memory.stat`; `None` when
/// missing.
pub(crate) fn read_keyed(path: &Path) -> Result<Option<BTreeMap<String, u64>>, Error> {
    let Some(text) = read_opt(path)? else {
        return Ok(None);
    };
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (k, v) = line.split_once(' ').ok_or_else(|| parse_err(path, line))?;
        out.insert(k.to_string(), parse_u64(path, v)?);
    }
    Ok(Some(out))
}

/// `0-3,8,10-11` → every number in it.
pub(crate) fn parse_list(path: &Path, s: &str) -> Result<Vec<u16>, Error> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        let num = |x: &str| x.trim().parse::<u16>().map_err(|_| parse_err(path, s));
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(parse_err(path, s));
                }
                out.extend(a..=b);
            }
            None => out.push(num(part)?),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_stats_serialize_like_runc() {
        // runc events --stats of an idle, unlimited container on a host
        // without hugetlb pages, trimmed of values: what is always there.
        let json = serde_json::to_value(Stats::default()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "cpu": {},
                "cpuset": {"cpu_exclusive": 0, "mem_hardwall": 0, "mem_exclusive": 0,
                           "memory_migrate": 0, "memory_spread_page": 0, "memory_spread_slab": 0,
                           "memory_pressure": 0, "sched_load_balance": 0,
                           "sched_relax_domain_level": 0},
                "memory": {},
                "pids": {},
                "blkio": {},
                "hugetlb": {},
                "intel_rdt": {},
                "network_interfaces": null
            })
        );
    }

    #[test]
    fn filled_stats_use_runcs_key_names() {
        let mut st = Stats::default();
        st.cpu.usage = CpuUsage {
            total: 5,
            percpu: vec![2, 3],
            kernel: 1,
            user: 4,
            ..Default::default()
        };
        st.cpu.throttling.throttled_periods = 2;
        st.cpu.psi = Some(PsiStats {
            some: PsiData {
                avg10: 1.5,
                avg60: 0.0,
                avg300: 0.25,
                total: 9,
            },
            full: PsiData::default(),
        });
        st.cpuset.cpus = vec![0, 1];
        st.memory.cache = 7;
        st.memory.usage = MemoryEntry {
            limit: 100,
            usage: 50,
            max: 60,
            failcnt: 0,
        };
        st.memory.kernel_tcp = MemoryEntry {
            limit: 1,
            ..Default::default()
        };
        st.memory.raw.insert("anon".into(), 3);
        st.pids = Pids {
            current: 2,
            limit: 0,
        };
        st.blkio.io_queued_recursive.push(BlkioEntry {
            major: 8,
            minor: 0,
            op: "Read".into(),
            value: 0,
        });
        st.hugetlb.insert(
            "2MB".into(),
            Hugetlb {
                usage: 0,
                max: 0,
                failcnt: 0,
            },
        );
        let json = serde_json::to_string(&st).unwrap();
        let want = r#"{"cpu":{"usage":{"total":5,"percpu":[2,3],"kernel":1,"user":4},"throttling":{"throttledPeriods":2},"psi":{"some":{"avg10":1.5,"avg60":0,"avg300":0.25,"total":9}}},"cpuset":{"cpus":[0,1],"cpu_exclusive":0,"mem_hardwall":0,"mem_exclusive":0,"memory_migrate":0,"memory_spread_page":0,"memory_spread_slab":0,"memory_pressure":0,"sched_load_balance":0,"sched_relax_domain_level":0},"memory":{"cache":7,"usage":{"limit":100,"usage":50,"max":60,"failcnt":0},"kernelTCP":{"limit":1,"failcnt":0},"raw":{"anon":3}},"pids":{"current":2},"blkio":{"ioQueueRecursive":[{"major":8,"op":"Read"}]},"hugetlb":{"2MB":{"failcnt":0}},"intel_rdt":{},"network_interfaces":null}"#;
        assert_eq!(json, want);
        let back: Stats = serde_json::from_str(&json).unwrap();
        assert_eq!(back, st);
        let nic = NetworkInterface {
            name: "eth0".into(),
            rx_bytes: 1,
            ..Default::default()
        };
        let v = serde_json::to_value(nic).unwrap();
        assert_eq!(v["Name"], "eth0");
        assert_eq!(v["RxBytes"], 1);
    }

    #[test]
    fn numbers_lists_and_page_sizes() {
        let p = Path::new("/x");
        assert_eq!(parse_u64(p, "max").unwrap(), u64::MAX);
        assert_eq!(parse_u64(p, "-1").unwrap(), 0);
        assert_eq!(parse_u64(p, "42\n").unwrap(), 42);
        assert!(parse_u64(p, "4x").is_err());
        assert_eq!(parse_list(p, "0-2,5").unwrap(), [0, 1, 2, 5]);
        assert_eq!(parse_list(p, "").unwrap(), Vec::<u16>::new());
        assert!(parse_list(p, "3-1").is_err());
        assert_eq!(page_size_name(2048), "2MB");
        assert_eq!(page_size_name(1_048_576), "1GB");
        assert_eq!(page_size_name(64), "64KB");
    }
}
