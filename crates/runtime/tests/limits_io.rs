//! Block I/O limits on a loop device of the test's own: a write bandwidth
//! throttle the kernel enforces (measured from the host), and the
//! proportional weight, written and read back, at create and by `update
//! --blkio-weight`.
//!
//! The weight's effect is not measured: it only divides a device's time
//! between cgroups competing for it under a proportional scheduler (BFQ,
//! or iocost on v2), and a loop device has neither, queues nothing (it
//! hands each request to a worker that writes the backing file through the
//! page cache), so two weighted writers to it get no dependable split.

mod common;

use std::fs;
use std::thread::sleep;
use std::time::{Duration, Instant};

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

/// Bytes the tasks of `cgroup` have written to `dev` so far, as the host's
/// cgroup files count them: `wbytes=` of the device's line in `io.stat`
/// on v2, its `Write` line in `blkio.throttle.io_service_bytes` on v1.
fn written(cgroup: &str, dev: &LoopDevice) -> u64 {
    let id = format!("{}:{}", dev.major(), dev.minor());
    let v2 = cgroup_v2();
    let file = if v2 {
        "io.stat"
    } else {
        "blkio.throttle.io_service_bytes"
    };
    let Some(path) = CgroupParent::file_of(cgroup, file) else {
        return 0;
    };
    let text = fs::read_to_string(path).unwrap_or_default();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let value = match fields[..] {
            // v2: `7:3 rbytes=0 wbytes=1048576 rios=0 wios=16 ...`
            [dev_id, ref rest @ ..] if v2 && dev_id == id => {
                rest.iter().find_map(|f| f.strip_prefix("wbytes="))
            }
            // v1: `7:3 Write 1048576`
            [dev_id, "Write", n] if !v2 && dev_id == id => Some(n),
            _ => None,
        };
        if let Some(n) = value.and_then(|n| n.parse().ok()) {
            return n;
        }
    }
    0
}

/// Bytes per second four parallel `dd oflag=direct` writers push at `dev`
/// from the host, with no throttle (the same pattern the test uses).
fn unthrottled_rate(dev: &LoopDevice) -> f64 {
    let start = Instant::now();
    let writers: Vec<_> = (0..4)
        .map(|i| {
            std::process::Command::new("dd")
                .args([
                    "if=/dev/zero",
                    &format!("of={}", dev.path().display()),
                    "bs=64k",
                    "count=16",
                ])
                .args([
                    &format!("seek={}", i * 16),
                    "oflag=direct",
                    "conv=notrunc",
                    "status=none",
                ])
                .spawn()
                .expect("spawn dd")
        })
        .collect();
    for mut w in writers {
        assert!(w.wait().unwrap().success(), "dd to the loop device failed");
    }
    (4 * 16 * (64 << 10)) as f64 / start.elapsed().as_secs_f64()
}

/// A `throttleWriteBpsDevice` of 2 MiB/s (less on a slow device, see
/// `unthrottled_rate`) on the loop device holds direct
/// writes to it to that rate: while four `dd oflag=direct` writers in the
/// container push 64 KiB blocks at it, the bytes the host counts for the
/// container's cgroup grow by 2 MiB/s ± 15% over a 2.5 s window.
///
/// The window opens once the writers are going, so starting them does not
/// count; four writers keep a request always waiting in the throttle, so
/// the time each request spends in the loop device (long under emulation)
/// overlaps the throttle's delay instead of adding to it. The throttle is a
/// cap: a starved machine can only lower the reading (an emulated guest
/// whose vCPUs the host does not run loses throttle slices it cannot make
/// up), so a reading under the band is taken once more before failing, and
/// one over it fails at once.
#[test]
fn write_throttle_holds_the_rate_measured() {
    require_root!();
    let rt = runtime();
    let dev = LoopDevice::new(32 * MIB);
    // The throttle can only be seen below what the device does unthrottled:
    // 2 MiB/s, or a third of the device's own direct-write rate where that
    // is slow (an emulated guest's loop device manages about 2 MiB/s).
    let capacity = unthrottled_rate(&dev);
    let rate = (2 * MIB)
        .min((capacity / 3.0) as u64 / (64 << 10) * (64 << 10))
        .max(128 << 10);
    eprintln!(
        "loop device: {:.2} MiB/s unthrottled, limit {:.2} MiB/s",
        capacity / MIB as f64,
        rate as f64 / MIB as f64
    );
    let mut b = Bundle::new(&rt);
    add_block_device(&mut b, &dev, "rwm");
    b.config_mut()["linux"]["resources"]["blockIO"] = json!({
        "throttleWriteBpsDevice": [{ "major": dev.major(), "minor": dev.minor(), "rate": rate }]
    });
    // 4 x 4 MiB: 8 s at the limit, more than the test watches (at most
    // 0.5 + 2 x 2.5 s).
    let (writers, blocks) = (4, 64);
    let total = writers * blocks * (64 << 10);
    b.set_script(&format!(
        "for i in $(seq 0 {last}); do \
           dd if=/dev/zero of={INSIDE} bs=64k seek=$((i * {blocks})) count={blocks} \
              oflag=direct conv=notrunc 2>/dev/null & \
         done; wait",
        last = writers - 1
    ));
    rt.run_detached(&b).ok();
    let cg = b.cgroup_path();
    assert!(
        wait_until(STATE_TIMEOUT, || written(&cg, &dev) > 0),
        "the writers never wrote"
    );
    sleep(Duration::from_millis(500));

    let mut readings = Vec::new();
    for _ in 0..2 {
        let (t0, b0) = (Instant::now(), written(&cg, &dev));
        sleep(Duration::from_millis(2500));
        let (t1, b1) = (Instant::now(), written(&cg, &dev));
        let measured = (b1 - b0) as f64 / (t1 - t0).as_secs_f64();
        eprintln!(
            "write throttle {:.2} MiB/s: measured {:.2} MiB/s ({} bytes in {:?})",
            rate as f64 / MIB as f64,
            measured / MIB as f64,
            b1 - b0,
            t1 - t0
        );
        assert!(
            b1 < total,
            "the writers were done before the window closed ({b1} of {total} bytes): no throttle"
        );
        let ratio = measured / rate as f64;
        assert!(
            ratio <= 1.15,
            "limit {rate} B/s, measured {measured:.0} B/s ({:.0}% of it): the throttle does not hold",
            ratio * 100.0
        );
        readings.push(ratio * 100.0);
        if ratio >= 0.85 {
            return;
        }
    }
    panic!("limit {rate} B/s, measured {readings:.0?}% of it (want 85..115%)");
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
        skipped_for_lack_of("io-weight", "no BFQ or io.weight file on this kernel");
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

/// Docker writes `blockIO.weight: 0` for every container started without
/// `--blkio-weight`: like runc, 0 means "not set", not a value for the
/// kernel (which refuses it with ERANGE, so the container failed to start).
#[test]
fn zero_blkio_weight_means_unset() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_script("echo started");
    b.config_mut()["linux"]["resources"]["blockIO"] = json!({
        "weight": 0,
        "weightDevice": [{"major": 7, "minor": 0, "weight": 0}]
    });
    let out = rt.run(&b);
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout.trim(), "started");
}
