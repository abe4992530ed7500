//! Filling [`Stats`](super::Stats) from cgroup v1 files, as runc's `fs`
//! driver reads them.

use std::path::Path;

use super::{parse_err, parse_list, parse_u64, read_keyed, read_opt, read_u64};
use super::{Blkio, BlkioEntry, Cpu, CpuSet, Hugetlb, Memory, MemoryEntry};
use crate::Error;

/// `cpuacct.stat` counts in USER_HZ ticks, which is 100 on every Linux
/// architecture runc and we run on.
const NS_PER_TICK: u64 = 1_000_000_000 / 100;

/// `cpu.stat` of the cpu hierarchy: throttling.
pub(super) fn cpu(dir: &Path, st: &mut Cpu) -> Result<(), Error> {
    let Some(kv) = read_keyed(&dir.join("cpu.stat"))? else {
        return Ok(());
    };
    let get = |k: &str| kv.get(k).copied().unwrap_or(0);
    st.throttling.periods = get("nr_periods");
    st.throttling.throttled_periods = get("nr_throttled");
    st.throttling.throttled_time = get("throttled_time");
    Ok(())
}

/// The cpuacct hierarchy: usage in total, per CPU, and per mode.
pub(super) fn cpuacct(dir: &Path, st: &mut Cpu) -> Result<(), Error> {
    let Some(total) = read_u64(&dir.join("cpuacct.usage"))? else {
        return Ok(());
    };
    st.usage.total = total;
    if let Some(kv) = read_keyed(&dir.join("cpuacct.stat"))? {
        st.usage.user = kv.get("user").copied().unwrap_or(0) * NS_PER_TICK;
        st.usage.kernel = kv.get("system").copied().unwrap_or(0) * NS_PER_TICK;
    }
    let path = dir.join("cpuacct.usage_percpu");
    if let Some(text) = read_opt(&path)? {
        st.usage.percpu = text
            .split_whitespace()
            .map(|v| parse_u64(&path, v))
            .collect::<Result<_, _>>()?;
    }
    // `cpu user system` then one line per CPU
    let path = dir.join("cpuacct.usage_all");
    if let Some(text) = read_opt(&path)? {
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 3 {
                continue;
            }
            st.usage.percpu_user.push(parse_u64(&path, f[1])?);
            st.usage.percpu_kernel.push(parse_u64(&path, f[2])?);
        }
    }
    Ok(())
}

pub(super) fn cpuset(dir: &Path, st: &mut CpuSet) -> Result<(), Error> {
    let list = |f: &str| -> Result<Vec<u16>, Error> {
        let path = dir.join(f);
        Ok(match read_opt(&path)? {
            Some(s) => parse_list(&path, &s)?,
            None => Vec::new(),
        })
    };
    let num = |f: &str| -> Result<u64, Error> { Ok(read_u64(&dir.join(f))?.unwrap_or(0)) };
    st.cpus = list("cpuset.cpus")?;
    st.mems = list("cpuset.mems")?;
    st.cpu_exclusive = num("cpuset.cpu_exclusive")?;
    st.mem_hardwall = num("cpuset.mem_hardwall")?;
    st.mem_exclusive = num("cpuset.mem_exclusive")?;
    st.memory_migrate = num("cpuset.memory_migrate")?;
    st.memory_spread_page = num("cpuset.memory_spread_page")?;
    st.memory_spread_slab = num("cpuset.memory_spread_slab")?;
    st.memory_pressure = num("cpuset.memory_pressure")?;
    st.sched_load_balance = num("cpuset.sched_load_balance")?;
    let path = dir.join("cpuset.sched_relax_domain_level");
    if let Some(s) = read_opt(&path)? {
        st.sched_relax_domain_level = s.trim().parse().map_err(|_| parse_err(&path, &s))?;
    }
    Ok(())
}

/// `memory.<name>.{usage_in_bytes,max_usage_in_bytes,failcnt,limit_in_bytes}`
/// (`name` empty for memory itself); `None` when the kernel does not count
/// it (no swap accounting, no kmem).
fn memory_entry(dir: &Path, name: &str) -> Result<Option<MemoryEntry>, Error> {
    let prefix = if name.is_empty() {
        "memory".to_string()
    } else {
        format!("memory.{name}")
    };
    let file = |f: &str| dir.join(format!("{prefix}.{f}"));
    let Some(usage) = read_u64(&file("usage_in_bytes"))? else {
        return Ok(None);
    };
    Ok(Some(MemoryEntry {
        usage,
        max: read_u64(&file("max_usage_in_bytes"))?.unwrap_or(0),
        failcnt: read_u64(&file("failcnt"))?.unwrap_or(0),
        // kmem.limit_in_bytes is gone from newer kernels
        limit: read_u64(&file("limit_in_bytes"))?.unwrap_or(0),
    }))
}

pub(super) fn memory(dir: &Path, st: &mut Memory) -> Result<(), Error> {
    if let Some(raw) = read_keyed(&dir.join("memory.stat"))? {
        st.cache = raw.get("cache").copied().unwrap_or(0);
        st.raw = raw;
    }
    st.usage = memory_entry(dir, "")?.unwrap_or_default();
    st.swap = memory_entry(dir, "memsw")?.unwrap_or_default();
    st.kernel = memory_entry(dir, "kmem")?.unwrap_or_default();
    st.kernel_tcp = memory_entry(dir, "kmem.tcp")?.unwrap_or_default();
    Ok(())
}

/// `8:0 Read 4096` (or `8:0 4096`) lines; `Total` lines are skipped.
fn blkio_entries(path: &Path) -> Result<Option<Vec<BlkioEntry>>, Error> {
    let Some(text) = read_opt(path)? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split([' ', ':']).filter(|s| !s.is_empty()).collect();
        if f.len() == 2 && f[0] == "Total" {
            continue;
        }
        let (op, value) = match f.len() {
            3 => ("", f[2]),
            4 => (f[2], f[3]),
            _ => return Err(parse_err(path, line)),
        };
        out.push(BlkioEntry {
            major: parse_u64(path, f[0])?,
            minor: parse_u64(path, f[1])?,
            op: op.to_string(),
            value: parse_u64(path, value)?,
        });
    }
    Ok((!out.is_empty()).then_some(out))
}

/// runc's order: BFQ's debug files, BFQ's, CFQ's, the throttle layer's
/// recursive and then plain counters; the first family whose first file has
/// entries wins.
pub(super) fn blkio(dir: &Path, st: &mut Blkio) -> Result<(), Error> {
    type Slot = fn(&mut Blkio) -> &mut Vec<BlkioEntry>;
    let bytes: Slot = |b| &mut b.io_service_bytes_recursive;
    let serviced: Slot = |b| &mut b.io_serviced_recursive;
    let families: [&[(&str, Slot)]; 5] = [
        &[
            ("blkio.bfq.sectors_recursive", |b| &mut b.sectors_recursive),
            ("blkio.bfq.io_service_time_recursive", |b| {
                &mut b.io_service_time_recursive
            }),
            ("blkio.bfq.io_wait_time_recursive", |b| {
                &mut b.io_wait_time_recursive
            }),
            ("blkio.bfq.io_merged_recursive", |b| {
                &mut b.io_merged_recursive
            }),
            ("blkio.bfq.io_queued_recursive", |b| {
                &mut b.io_queued_recursive
            }),
            ("blkio.bfq.time_recursive", |b| &mut b.io_time_recursive),
            ("blkio.bfq.io_serviced_recursive", serviced),
            ("blkio.bfq.io_service_bytes_recursive", bytes),
        ],
        &[
            ("blkio.bfq.io_serviced_recursive", serviced),
            ("blkio.bfq.io_service_bytes_recursive", bytes),
        ],
        &[
            ("blkio.sectors_recursive", |b| &mut b.sectors_recursive),
            ("blkio.io_service_time_recursive", |b| {
                &mut b.io_service_time_recursive
            }),
            ("blkio.io_wait_time_recursive", |b| {
                &mut b.io_wait_time_recursive
            }),
            ("blkio.io_merged_recursive", |b| &mut b.io_merged_recursive),
            ("blkio.io_queued_recursive", |b| &mut b.io_queued_recursive),
            ("blkio.time_recursive", |b| &mut b.io_time_recursive),
            ("blkio.io_serviced_recursive", serviced),
            ("blkio.io_service_bytes_recursive", bytes),
        ],
        &[
            ("blkio.throttle.io_serviced_recursive", serviced),
            ("blkio.throttle.io_service_bytes_recursive", bytes),
        ],
        &[
            ("blkio.throttle.io_serviced", serviced),
            ("blkio.throttle.io_service_bytes", bytes),
        ],
    ];
    for family in families {
        let Some(first) = blkio_entries(&dir.join(family[0].0))? else {
            continue;
        };
        *(family[0].1)(st) = first;
        for (file, slot) in &family[1..] {
            if let Some(entries) = blkio_entries(&dir.join(file))? {
                *slot(st) = entries;
            }
        }
        return Ok(());
    }
    Ok(())
}

/// `hugetlb.<size>.{usage_in_bytes,max_usage_in_bytes,failcnt}`, of the
/// reservation counters (`.rsvd.`) when the kernel has them, as runc reads.
pub(super) fn hugetlb(dir: &Path, size: &str) -> Result<Option<Hugetlb>, Error> {
    for prefix in [format!("hugetlb.{size}.rsvd"), format!("hugetlb.{size}")] {
        let file = |f: &str| dir.join(format!("{prefix}.{f}"));
        if let Some(usage) = read_u64(&file("usage_in_bytes"))? {
            return Ok(Some(Hugetlb {
                usage,
                max: read_u64(&file("max_usage_in_bytes"))?.unwrap_or(0),
                failcnt: read_u64(&file("failcnt"))?.unwrap_or(0),
            }));
        }
    }
    Ok(None)
}
