//! Usage numbers for `berth stats`, computed as Docker computes them.
//!
//! Source: the container's cgroup files, read through `berth-cgroups`
//! (v1, v2 and hybrid hosts alike), not the runtime's `events --stats`:
//! crun has no `events` command, and reading files costs no process per
//! container per second. The cgroup is where every runtime puts it for
//! berth's absolute `cgroupsPath` (runc's cgroupfs rule). Network bytes
//! come from `/proc/<init>/net/dev` (the container's network namespace).

use std::path::Path;

pub use berth_cgroups::{BlkioEntry, Stats as CgroupStats};

use crate::error::{Error, Result};
use crate::model::{Container, State};
use crate::ops::cgroup::cgroup;

/// One reading of a container, Docker's `StatsJSON` reduced to what its
/// table shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// Container CPU time, nanoseconds.
    pub cpu_total: u64,
    /// Host CPU time (all CPUs, `/proc/stat`), nanoseconds.
    pub system_total: u64,
    pub online_cpus: u32,
    /// Usage without the inactive page cache (Docker's "no cache" number).
    pub memory: u64,
    /// The limit, or the host's memory when there is none (as Docker).
    pub memory_limit: u64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub block_read: u64,
    pub block_write: u64,
    pub pids: u64,
    /// The cgroup's numbers as read (the Engine API's `stats` shows them
    /// in full); None when not running.
    pub cgroup: Option<CgroupStats>,
    /// Per interface but `lo`.
    pub interfaces: Vec<Interface>,
}

/// One interface's counters from `/proc/<pid>/net/dev`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interface {
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

impl Sample {
    /// Docker's CPU %: container CPU delta over host CPU delta, times the
    /// online CPUs.
    pub fn cpu_percent(&self, previous: &Sample) -> f64 {
        let cpu = self.cpu_total as f64 - previous.cpu_total as f64;
        let system = self.system_total as f64 - previous.system_total as f64;
        if cpu > 0.0 && system > 0.0 {
            cpu / system * f64::from(self.online_cpus) * 100.0
        } else {
            0.0
        }
    }

    pub fn memory_percent(&self) -> f64 {
        if self.memory_limit == 0 {
            0.0
        } else {
            self.memory as f64 / self.memory_limit as f64 * 100.0
        }
    }
}

/// Reads a running container's numbers; a container that is not running
/// reads as zeros (Docker shows zeros for it).
pub fn sample(c: &Container) -> Result<Sample> {
    if c.state != State::Running {
        return Ok(Sample::default());
    }
    let cg = cgroup(c)?;
    let st: CgroupStats = cg.stats().map_err(|e| Error::Cgroup {
        id: c.id.clone(),
        source: e,
    })?;
    let (system_total, online_cpus) = system_cpu()?;
    let mem = &st.memory;
    let usage = mem.usage.usage;
    let inactive = mem
        .raw
        .get("total_inactive_file")
        .or_else(|| mem.raw.get("inactive_file"))
        .copied()
        .unwrap_or(0);
    let host_memory = host_memory();
    let limit = match mem.usage.limit {
        0 => host_memory,
        l if host_memory > 0 && l > host_memory => host_memory,
        l => l,
    };
    let (mut block_read, mut block_write) = (0, 0);
    for e in &st.blkio.io_service_bytes_recursive {
        match e.op.bytes().next() {
            Some(b'r' | b'R') => block_read += e.value,
            Some(b'w' | b'W') => block_write += e.value,
            _ => {}
        }
    }
    let pids = if st.pids.current > 0 {
        st.pids.current
    } else {
        cg.pids().map_or(0, |p| p.len() as u64)
    };
    let interfaces = network(c.pid);
    let net_rx = interfaces.iter().map(|i| i.rx_bytes).sum();
    let net_tx = interfaces.iter().map(|i| i.tx_bytes).sum();
    Ok(Sample {
        cpu_total: st.cpu.usage.total,
        system_total,
        online_cpus,
        memory: if inactive < usage {
            usage - inactive
        } else {
            usage
        },
        memory_limit: limit,
        net_rx,
        net_tx,
        block_read,
        block_write,
        pids,
        cgroup: Some(st),
        interfaces,
    })
}

/// Host CPU time in nanoseconds (the first seven fields of `/proc/stat`'s
/// `cpu` line, as moby's `getSystemCPUUsage`) and the online CPU count.
fn system_cpu() -> Result<(u64, u32)> {
    let text =
        std::fs::read_to_string("/proc/stat").map_err(|e| Error::io("read", "/proc/stat", e))?;
    parse_proc_stat(&text).ok_or_else(|| Error::invalid("/proc/stat", "no cpu line"))
}

/// Clock ticks per second for `/proc/stat` (USER_HZ, 100 on Linux).
const USER_HZ: u64 = 100;

fn parse_proc_stat(text: &str) -> Option<(u64, u32)> {
    let mut total = None;
    let mut cpus = 0;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        match fields.next() {
            Some("cpu") => {
                let ticks: u64 = fields.take(7).filter_map(|f| f.parse::<u64>().ok()).sum();
                total = Some(ticks * (1_000_000_000 / USER_HZ));
            }
            Some(name) if name.starts_with("cpu") => cpus += 1,
            _ => {}
        }
    }
    Some((total?, cpus))
}

/// `MemTotal` in bytes (also `info`'s).
pub(crate) fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The counters of the container's interfaces but `lo`; none when it
/// shares the host's network namespace (Docker reports none then).
fn network(pid: i32) -> Vec<Interface> {
    if pid <= 0 {
        return Vec::new();
    }
    let ns = |p: &str| {
        std::fs::metadata(Path::new(p)).ok().map(|m| {
            use std::os::unix::fs::MetadataExt;
            (m.dev(), m.ino())
        })
    };
    let theirs = ns(&format!("/proc/{pid}/ns/net"));
    if theirs.is_none() || theirs == ns("/proc/self/ns/net") {
        return Vec::new();
    }
    std::fs::read_to_string(format!("/proc/{pid}/net/dev"))
        .map(|t| parse_net_dev(&t))
        .unwrap_or_default()
}

fn parse_net_dev(text: &str) -> Vec<Interface> {
    let mut out = Vec::new();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if f.len() >= 12 {
            out.push(Interface {
                name: name.trim().to_owned(),
                rx_bytes: f[0],
                rx_packets: f[1],
                rx_errors: f[2],
                rx_dropped: f[3],
                tx_bytes: f[8],
                tx_packets: f[9],
                tx_errors: f[10],
                tx_dropped: f[11],
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat() {
        let text = "cpu  10 0 5 80 5 0 0 7 0 0\ncpu0 5 0 2 40 3 0 0 0 0 0\ncpu1 5 0 3 40 2 0 0 0 0 0\nintr 1\n";
        // Steal (the eighth field) is not counted, as in moby.
        assert_eq!(parse_proc_stat(text), Some((100 * 10_000_000, 2)));
    }

    #[test]
    fn cpu_percent_as_docker() {
        let a = Sample {
            cpu_total: 0,
            system_total: 0,
            online_cpus: 2,
            ..Default::default()
        };
        let b = Sample {
            cpu_total: 500,
            system_total: 2000,
            online_cpus: 2,
            ..Default::default()
        };
        assert_eq!(b.cpu_percent(&a), 50.0);
        assert_eq!(a.cpu_percent(&b), 0.0);
    }

    #[test]
    fn net_dev() {
        let text = "Inter-|   Receive                            |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n  eth0:    2000      10    0    0    0     0          0         0      300       3    0    0    0     0       0          0\n";
        let list = parse_net_dev(text);
        assert_eq!(list.len(), 1);
        assert_eq!(
            (list[0].name.as_str(), list[0].rx_bytes, list[0].tx_bytes),
            ("eth0", 2000, 300)
        );
    }
}
