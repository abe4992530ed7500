//! Filling [`Stats`](super::Stats) from cgroup v2 files, as runc's `fs2`
//! driver reads them (values in the units and v1-compatible shapes runc
//! reports: nanoseconds, memory+swap).

use std::path::Path;

use super::{parse_err, parse_u64, read_keyed, read_opt, read_u64};
use super::{Blkio, BlkioEntry, Cpu, Hugetlb, Memory, MemoryEntry, PsiData, PsiStats};
use crate::Error;

/// `cpu.stat` (there even without the cpu controller) and `cpu.pressure`.
pub(super) fn cpu(dir: &Path, st: &mut Cpu) -> Result<(), Error> {
    if let Some(kv) = read_keyed(&dir.join("cpu.stat"))? {
        let get = |k: &str| kv.get(k).copied().unwrap_or(0);
        st.usage.total = get("usage_usec") * 1000;
        st.usage.user = get("user_usec") * 1000;
        st.usage.kernel = get("system_usec") * 1000;
        st.throttling.periods = get("nr_periods");
        st.throttling.throttled_periods = get("nr_throttled");
        st.throttling.throttled_time = get("throttled_usec") * 1000;
    }
    st.psi = psi(&dir.join("cpu.pressure"))?;
    Ok(())
}

/// `memory.{current,max,peak}` or `memory.swap.{current,max,peak}`.
fn memory_entry(dir: &Path, prefix: &str) -> Result<Option<MemoryEntry>, Error> {
    let file = |f: &str| dir.join(format!("{prefix}.{f}"));
    let Some(usage) = read_u64(&file("current"))? else {
        return Ok(None);
    };
    Ok(Some(MemoryEntry {
        usage,
        limit: read_u64(&file("max"))?.unwrap_or(0),
        // memory.peak since Linux 5.19, memory.swap.peak since 6.5
        max: read_u64(&file("peak"))?.unwrap_or(0),
        failcnt: 0,
    }))
}

pub(super) fn memory(dir: &Path, st: &mut Memory) -> Result<(), Error> {
    let Some(raw) = read_keyed(&dir.join("memory.stat"))? else {
        return Ok(());
    };
    st.cache = raw.get("file").copied().unwrap_or(0);
    st.raw = raw;
    let usage = memory_entry(dir, "memory")?.unwrap_or_default();
    let swap_only = memory_entry(dir, "memory.swap")?.unwrap_or_default();
    // v1 reports memory+swap; runc does the same on v2 for compatibility.
    st.swap = MemoryEntry {
        usage: swap_only.usage + usage.usage,
        limit: if swap_only.limit == u64::MAX {
            u64::MAX
        } else {
            swap_only.limit.saturating_add(usage.limit)
        },
        max: 0,
        failcnt: swap_only.failcnt,
    };
    st.usage = usage;
    st.psi = psi(&dir.join("memory.pressure"))?;
    Ok(())
}

/// `io.stat`: `8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0`.
pub(super) fn io(dir: &Path, st: &mut Blkio) -> Result<(), Error> {
    let path = dir.join("io.stat");
    if let Some(text) = read_opt(&path)? {
        for line in text.lines() {
            let mut fields = line.split_whitespace();
            let Some((major, minor)) = fields.next().and_then(|d| d.split_once(':')) else {
                continue;
            };
            let (major, minor) = (parse_u64(&path, major)?, parse_u64(&path, minor)?);
            for item in fields {
                let Some((key, value)) = item.split_once('=') else {
                    continue;
                };
                let (op, list) = match key {
                    "rbytes" => ("Read", &mut st.io_service_bytes_recursive),
                    "wbytes" => ("Write", &mut st.io_service_bytes_recursive),
                    "rios" => ("Read", &mut st.io_serviced_recursive),
                    "wios" => ("Write", &mut st.io_serviced_recursive),
                    _ => continue,
                };
                list.push(BlkioEntry {
                    major,
                    minor,
                    op: op.to_string(),
                    value: parse_u64(&path, value)?,
                });
            }
        }
    }
    st.psi = psi(&dir.join("io.pressure"))?;
    Ok(())
}

/// `hugetlb.<size>.current` (of the reservations, `.rsvd.`, when the kernel
/// has them) and the `max` count of `hugetlb.<size>.events` as failcnt.
pub(super) fn hugetlb(dir: &Path, size: &str) -> Result<Option<Hugetlb>, Error> {
    let usage = match read_u64(&dir.join(format!("hugetlb.{size}.rsvd.current")))? {
        Some(u) => u,
        None => match read_u64(&dir.join(format!("hugetlb.{size}.current")))? {
            Some(u) => u,
            None => return Ok(None),
        },
    };
    let events = read_keyed(&dir.join(format!("hugetlb.{size}.events")))?.unwrap_or_default();
    Ok(Some(Hugetlb {
        usage,
        max: 0,
        failcnt: events.get("max").copied().unwrap_or(0),
    }))
}

/// A `*.pressure` file: `some avg10=0.00 avg60=0.00 avg300=0.00 total=0`
/// and a `full` line. `None` when the kernel has no PSI (or it is off).
pub(crate) fn psi(path: &Path) -> Result<Option<PsiStats>, Error> {
    let text = match read_opt(path) {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(None),
        // PSI compiled in but disabled at boot: reading fails with EOPNOTSUPP
        Err(Error::Read { source, .. }) if source.raw_os_error() == Some(libc::EOPNOTSUPP) => {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    let mut st = PsiStats::default();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let data = match fields.next() {
            Some("some") => &mut st.some,
            Some("full") => &mut st.full,
            _ => continue,
        };
        *data = psi_data(path, line, fields)?;
    }
    Ok(Some(st))
}

fn psi_data<'a>(
    path: &Path,
    line: &str,
    fields: impl Iterator<Item = &'a str>,
) -> Result<PsiData, Error> {
    let mut d = PsiData::default();
    for f in fields {
        let (k, v) = f.split_once('=').ok_or_else(|| parse_err(path, line))?;
        let float = || v.parse::<f64>().map_err(|_| parse_err(path, line));
        match k {
            "avg10" => d.avg10 = float()?,
            "avg60" => d.avg60 = float()?,
            "avg300" => d.avg300 = float()?,
            "total" => d.total = parse_u64(path, v)?,
            _ => {}
        }
    }
    Ok(d)
}
