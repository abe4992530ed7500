//! `linux.resources` from Docker's limits (moby `WithResources`,
//! `getCPUResources`); the device rules are `security.rs`'s. `update`
//! sends the runtime the same conversion of the fields it changes.

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources, LinuxThrottleDevice,
    LinuxThrottleDeviceBuilder,
};

use crate::error::{Error, Result};
use crate::resources::ThrottleDevice;
use crate::Resources;

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
