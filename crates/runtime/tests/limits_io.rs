//! Block I/O limits on a loop device of the test's own: a write bandwidth
//! throttle the kernel enforces (measured inside the container), and the
//! proportional weight, written and read back, at create and by `update
//! --blkio-weight`.
//!
//! The weight's effect is not measured: it only divides a device's time
//! between cgroups competing for it under a proportional scheduler (BFQ,
//! or iocost on v2), and a loop device has neither, queues nothing (it
//! hands each request to a worker that writes the backing file through the
//! page cache), so two weighted writers to it get no dependable split.

mod common;

use common::*;
use serde_json::json;

const MIB: u64 = 1 << 20;

/// The device node a container sees for the test's loop device.
const INSIDE: &str = "/dev/blk";

/// Gives the container `dev` as [`INSIDE`] (a `linux.devices` node) and a
/// device rule allowing `access` to it.
fn add_block_device(b: &mut Bundle, dev: &LoopDevice, access: &str) {
    let mut config = b.config_mut();
    let linux = &mut config["linux"];
    linux["devices"] = json!([{
        "path": INSIDE, "type": "b", "major": dev.major(), "minor": dev.minor(),
        "fileMode": 0o660, "uid": 0, "gid": 0
    }]);
    linux["resources"]["devices"]
        .as_array_mut()
        .expect("device rules")
        .push(json!({
            "allow": true, "type": "b", "major": dev.major(), "minor": dev.minor(),
            "access": access
        }));
}

/// A `throttleWriteBpsDevice` of 2 MiB/s on the loop device holds direct
/// writes to it to that rate: `dd oflag=direct` of 6 MiB in 64 KiB blocks
/// (3 s worth), timed inside the container with /proc/uptime, runs at
/// 2 MiB/s ± 15%.
#[test]
fn write_throttle_holds_the_rate_measured() {
    require_root!();
    let rt = runtime();
    let dev = LoopDevice::new(16 * MIB);
    let rate = 2 * MIB;
    let mut b = Bundle::new(&rt);
    add_block_device(&mut b, &dev, "rwm");
    b.config_mut()["linux"]["resources"]["blockIO"] = json!({
        "throttleWriteBpsDevice": [{ "major": dev.major(), "minor": dev.minor(), "rate": rate }]
    });
    let blocks = 6 * MIB / (64 << 10);
    b.set_script(&format!(
        "read t0 _ < /proc/uptime; \
         dd if=/dev/zero of={INSIDE} bs=64k count={blocks} oflag=direct 2>/dev/null || exit 1; \
         read t1 _ < /proc/uptime; echo $t0 $t1"
    ));
    let out = rt.run(&b).ok();
    let times: Vec<f64> = out
        .stdout
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    let [t0, t1] = times[..] else {
        panic!("no timestamps:\n{out}")
    };
    let measured = (blocks * (64 << 10)) as f64 / (t1 - t0);
    eprintln!(
        "write throttle {:.2} MiB/s: measured {:.2} MiB/s over {:.2} s",
        rate as f64 / MIB as f64,
        measured / MIB as f64,
        t1 - t0
    );
    let ratio = measured / rate as f64;
    assert!(
        (0.85..=1.15).contains(&ratio),
        "limit {rate} B/s, measured {measured:.0} B/s ({:.0}% of it) over {:.2} s",
        ratio * 100.0,
        t1 - t0
    );
}

/// The file the runtime writes `blockIO.weight` to, and what it should
/// read for `weight`, the way runc picks them: the BFQ weight where BFQ
/// offers one (`blkio.bfq.weight` / `io.bfq.weight`), else v1
/// `blkio.weight`, or v2 `io.weight` with the weight converted from
/// 10..1000 to 1..10000. `None` when this kernel has no weight file.
fn weight_file(cgroup: &str, weight: u64) -> Option<(&'static str, Vec<String>)> {
    // BFQ prints "default <w>" (older kernels: just "<w>").
    let bfq = |w: u64| vec![format!("default {w}"), w.to_string()];
    let candidates: &[(&str, Vec<String>)] = if cgroup_v2() {
        let converted = 1 + (weight - 10) * 9999 / 990;
        &[
            ("io.bfq.weight", bfq(weight)),
            ("io.weight", vec![format!("default {converted}")]),
        ]
    } else {
        &[
            ("blkio.weight", vec![weight.to_string()]),
            ("blkio.bfq.weight", bfq(weight)),
        ]
    };
    candidates
        .iter()
        .find(|(f, _)| CgroupParent::file_of(cgroup, f).is_some())
        .cloned()
}

/// A running `sleep` with `linux.resources.blockIO = block_io` (none if
/// null).
fn running(rt: &Runtime, block_io: serde_json::Value) -> Bundle {
    let mut b = Bundle::new(rt);
    if !block_io.is_null() {
        b.config_mut()["linux"]["resources"]["blockIO"] = block_io;
    }
    b.set_args(&["sleep", "1000"]);
    rt.run_detached(&b).ok();
    b
}

/// `blockIO.weight` reaches the cgroup's weight file, and `update
/// --blkio-weight` rewrites it on a running container. (Read back only:
/// see the module comment for why the effect is not measured.)
#[test]
fn blkio_weight_written_and_updated_live() {
    require_root!();
    let rt = runtime();
    // Which weight file this kernel has, asked of a plain container's
    // cgroup: a runtime that fails on the weight must not look like a
    // kernel without one.
    let probe = running(&rt, json!(null));
    let Some((file, _)) = weight_file(&probe.cgroup_path(), 300) else {
        skipped("blkio_weight_written_and_updated_live: no BFQ or io.weight file on this kernel");
        return;
    };
    drop(probe);

    let b = running(&rt, json!({ "weight": 300 }));
    let cg = b.cgroup_path();
    let read = || CgroupParent::read_file(&cg, file);
    let (_, want) = weight_file(&cg, 300).expect("weight file");
    eprintln!("blockIO.weight 300: {file} reads {:?}", read());
    assert!(
        want.contains(&read()),
        "{file}: {:?}, want {want:?}",
        read()
    );

    rt.cmd(&["update", "--blkio-weight", "500", b.id()]).ok();
    let (_, want) = weight_file(&cg, 500).expect("weight file");
    assert!(
        want.contains(&read()),
        "{file}: {:?}, want {want:?}",
        read()
    );
}

/// The throttle reaches the cgroup file too: `blkio.throttle.
/// write_bps_device` on v1, `io.max` on v2, for the device's major:minor.
#[test]
fn write_throttle_is_written() {
    require_root!();
    let rt = runtime();
    let dev = LoopDevice::new(MIB);
    let mut b = Bundle::new(&rt);
    b.config_mut()["linux"]["resources"]["blockIO"] = json!({
        "throttleWriteBpsDevice": [{ "major": dev.major(), "minor": dev.minor(), "rate": 2 * MIB }]
    });
    b.set_args(&["sleep", "1000"]);
    rt.run_detached(&b).ok();
    let (major, minor) = (dev.major(), dev.minor());
    let rate = 2 * MIB;
    let cg = b.cgroup_path();
    let (file, want) = if cgroup_v2() {
        (
            "io.max",
            format!("{major}:{minor} rbps=max wbps={rate} riops=max wiops=max"),
        )
    } else {
        (
            "blkio.throttle.write_bps_device",
            format!("{major}:{minor} {rate}"),
        )
    };
    let content = CgroupParent::read_file(&cg, file);
    assert!(
        content.lines().any(|l| l == want),
        "{file}:\n{content}\nwant the line {want:?}"
    );
}
