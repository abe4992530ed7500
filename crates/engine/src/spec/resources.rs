//! `linux.resources` from Docker's limits (moby `WithResources`,
//! `getCPUResources`); the device rules are `security.rs`'s. `update`
//! sends the runtime the same conversion of the fields it changes.

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources, LinuxThrottleDevice,
    LinuxThrottleDeviceBuilder,
};

use crate::error::{Error, Result};
use crate::model::{Resources, ThrottleDevice};

type BlockDevices = std::collections::BTreeMap<String, (u64, u64)>;

/// Docker's fixed period for `--cpus`.
const NANO_CPUS_PERIOD: i64 = 100_000;

/// The limits of `r`; `block_devices` has the numbers of the devices its
/// throttles name.
pub fn limits(r: &Resources, block_devices: &BlockDevices) -> Result<LinuxResources> {
    let mut out = LinuxResources::default();
    out.set_devices(None);
    out.set_memory(memory(r));
    out.set_cpu(cpu(r));
    out.set_pids(r.pids_limit.map(|limit| {
        let mut p = LinuxPids::default();
        // -1 is how the runtimes spell "no limit" in an update.
        p.set_limit(if limit > 0 { limit } else { -1 });
        p
    }));
    out.set_block_io(block_io(r, block_devices)?);
    Ok(out)
}

fn memory(r: &Resources) -> Option<LinuxMemory> {
    let positive = |v: i64| (v > 0).then_some(v);
    let mut m = LinuxMemory::default();
    m.set_limit(positive(r.memory));
    m.set_reservation(positive(r.memory_reservation));
    m.set_swap((r.memory_swap != 0).then_some(r.memory_swap));
    (m != LinuxMemory::default()).then_some(m)
}

fn cpu(r: &Resources) -> Option<LinuxCpu> {
    let mut c = LinuxCpu::default();
    c.set_shares((r.cpu_shares > 0).then_some(r.cpu_shares as u64));
    if r.nano_cpus > 0 {
        c.set_period(Some(NANO_CPUS_PERIOD as u64));
        c.set_quota(Some(r.nano_cpus * NANO_CPUS_PERIOD / 1_000_000_000));
    }
    if r.cpu_period > 0 {
        c.set_period(Some(r.cpu_period as u64));
    }
    if r.cpu_quota != 0 {
        c.set_quota(Some(r.cpu_quota));
    }
    c.set_cpus((!r.cpuset_cpus.is_empty()).then(|| r.cpuset_cpus.clone()));
    c.set_mems((!r.cpuset_mems.is_empty()).then(|| r.cpuset_mems.clone()));
    (c != LinuxCpu::default()).then_some(c)
}

fn block_io(r: &Resources, block_devices: &BlockDevices) -> Result<Option<LinuxBlockIo>> {
    let throttles = |list: &[ThrottleDevice]| -> Result<Option<Vec<LinuxThrottleDevice>>> {
        if list.is_empty() {
            return Ok(None);
        }
        list.iter()
            .map(|d| {
                let (major, minor) = block_devices.get(&d.path).copied().ok_or_else(|| {
                    Error::Resources(format!("stat {}: no such file or directory", d.path))
                })?;
                LinuxThrottleDeviceBuilder::default()
                    .major(major as i64)
                    .minor(minor as i64)
                    .rate(d.rate)
                    .build()
                    .map_err(|e| Error::Resources(e.to_string()))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    };
    let mut b = LinuxBlockIo::default();
    b.set_weight((r.blkio_weight > 0).then_some(r.blkio_weight));
    b.set_throttle_read_bps_device(throttles(&r.blkio_device_read_bps)?);
    b.set_throttle_write_bps_device(throttles(&r.blkio_device_write_bps)?);
    b.set_throttle_read_iops_device(throttles(&r.blkio_device_read_iops)?);
    b.set_throttle_write_iops_device(throttles(&r.blkio_device_write_iops)?);
    Ok((b != LinuxBlockIo::default()).then_some(b))
}

/// What `update` sends the runtime: the fields the change names, with the
/// values `merged` (the record after the change) has for them (a changed
/// `--cpus` is a period and a quota); never devices.
pub fn update_request(
    merged: &Resources,
    change: &Resources,
    block_devices: &BlockDevices,
) -> Result<LinuxResources> {
    let (u, mut r) = (change, merged.clone());
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
    limits(&r, block_devices)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_request_names_only_the_change() {
        let mut r = Resources {
            memory: 64 << 20,
            memory_swap: 128 << 20,
            ..Default::default()
        };
        // Only what was named goes to the runtime.
        let shares = Resources {
            cpu_shares: 256,
            ..Default::default()
        };
        r.merge_update(&shares).unwrap();
        let req = update_request(&r, &shares, &Default::default()).unwrap();
        assert_eq!(
            serde_json::to_value(req).unwrap(),
            serde_json::json!({"cpu": {"shares": 256}})
        );
    }
}
