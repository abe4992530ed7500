//! `linux.resources.blockIO`: v1 `blkio.*` (CFQ's `blkio.weight` or BFQ's
//! `blkio.bfq.weight`, whichever the kernel has, and the throttle files);
//! v2 `io.bfq.weight` or `io.weight`, and `io.max`.

use std::collections::BTreeMap;

use oci_spec::runtime::{LinuxBlockIo, LinuxResources, LinuxThrottleDevice};

use super::{invalid, unsupported, write, Controllers, Plan, Step, Version};
use crate::Error;

pub(super) fn plan(res: &LinuxResources, host: &Controllers, plan: &mut Plan) -> Result<(), Error> {
    let Some(b) = res.block_io() else {
        return Ok(());
    };
    if !is_set(b) {
        return Ok(());
    }
    match host
        .require("blockIO", "blkio")
        .or_else(|e| match host.version("io") {
            Some(v) => Ok(v),
            None => Err(e),
        })? {
        Version::V1 => v1(b, plan),
        Version::V2 => v2(b, plan),
    }
}

fn list<T>(v: &Option<Vec<T>>) -> &[T] {
    v.as_deref().unwrap_or_default()
}

/// A weight of 0 means "not set", as in runc: Docker sends `weight: 0`
/// for every container without `--blkio-weight`, and the kernel refuses 0.
fn weight(w: Option<u16>) -> Option<u16> {
    w.filter(|&w| w != 0)
}

fn is_set(b: &LinuxBlockIo) -> bool {
    weight(b.weight()).is_some()
        || weight(b.leaf_weight()).is_some()
        || !list(b.weight_device()).is_empty()
        || !list(b.throttle_read_bps_device()).is_empty()
        || !list(b.throttle_write_bps_device()).is_empty()
        || !list(b.throttle_read_iops_device()).is_empty()
        || !list(b.throttle_write_iops_device()).is_empty()
}

fn device(field: &'static str, major: i64, minor: i64) -> Result<String, Error> {
    if major < 0 || minor < 0 {
        return Err(invalid(field, format!("invalid device {major}:{minor}")));
    }
    Ok(format!("{major}:{minor}"))
}

fn throttles(
    b: &LinuxBlockIo,
) -> [(
    &'static str,
    &'static str,
    &'static str,
    &[LinuxThrottleDevice],
); 4] {
    [
        (
            "blockIO.throttleReadBpsDevice",
            "blkio.throttle.read_bps_device",
            "rbps",
            list(b.throttle_read_bps_device()),
        ),
        (
            "blockIO.throttleWriteBpsDevice",
            "blkio.throttle.write_bps_device",
            "wbps",
            list(b.throttle_write_bps_device()),
        ),
        (
            "blockIO.throttleReadIOPSDevice",
            "blkio.throttle.read_iops_device",
            "riops",
            list(b.throttle_read_iops_device()),
        ),
        (
            "blockIO.throttleWriteIOPSDevice",
            "blkio.throttle.write_iops_device",
            "wiops",
            list(b.throttle_write_iops_device()),
        ),
    ]
}

fn v1(b: &LinuxBlockIo, plan: &mut Plan) -> Result<(), Error> {
    let field = "blockIO.weight";
    if let Some(w) = weight(b.weight()) {
        plan.steps.push(Step::One(
            write(field, "blkio", "blkio.weight", w).or_else(write(
                field,
                "blkio",
                "blkio.bfq.weight",
                w,
            )),
        ));
    }
    if let Some(w) = weight(b.leaf_weight()) {
        plan.steps.push(Step::One(write(
            "blockIO.leafWeight",
            "blkio",
            "blkio.leaf_weight",
            w,
        )));
    }
    let field = "blockIO.weightDevice";
    for wd in list(b.weight_device()) {
        let dev = device(field, wd.major(), wd.minor())?;
        if let Some(w) = weight(wd.weight()) {
            let value = format!("{dev} {w}");
            plan.steps.push(Step::One(
                write(field, "blkio", "blkio.weight_device", &value).or_else(write(
                    field,
                    "blkio",
                    "blkio.bfq.weight_device",
                    &value,
                )),
            ));
        }
        if let Some(w) = weight(wd.leaf_weight()) {
            plan.steps.push(Step::One(write(
                field,
                "blkio",
                "blkio.leaf_weight_device",
                format!("{dev} {w}"),
            )));
        }
    }
    for (field, file, _, devices) in throttles(b) {
        for t in devices {
            let dev = device(field, t.major(), t.minor())?;
            plan.steps.push(Step::One(write(
                field,
                "blkio",
                file,
                format!("{dev} {}", t.rate()),
            )));
        }
    }
    Ok(())
}

/// runc's `ConvertBlkIOToIOWeightValue`: blkio weight 10..=1000 to io.weight
/// 1..=10000.
pub(crate) fn blkio_to_io_weight(weight: u16) -> u64 {
    let w = u64::from(weight.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}

fn v2(b: &LinuxBlockIo, plan: &mut Plan) -> Result<(), Error> {
    if weight(b.leaf_weight()).is_some()
        || list(b.weight_device())
            .iter()
            .any(|d| weight(d.leaf_weight()).is_some())
    {
        return Err(unsupported(
            "blockIO.leafWeight",
            "cgroup v2 has no leaf weights",
        ));
    }
    let field = "blockIO.weight";
    // BFQ takes blkio weights as they are; io.weight (the io cost model) has
    // its own range.
    if let Some(w) = weight(b.weight()) {
        plan.steps.push(Step::One(
            write(field, "io", "io.bfq.weight", w).or_else(write(
                field,
                "io",
                "io.weight",
                blkio_to_io_weight(w),
            )),
        ));
    }
    let field = "blockIO.weightDevice";
    for wd in list(b.weight_device()) {
        let dev = device(field, wd.major(), wd.minor())?;
        if let Some(w) = weight(wd.weight()) {
            plan.steps.push(Step::One(
                write(field, "io", "io.bfq.weight", format!("{dev} {w}")).or_else(write(
                    field,
                    "io",
                    "io.weight",
                    format!("{dev} {}", blkio_to_io_weight(w)),
                )),
            ));
        }
    }
    // One io.max line per device with every limit given for it. A rate of 0
    // removes the limit in v1; v2 spells that `max`.
    let mut lines: BTreeMap<(i64, i64), (&'static str, Vec<String>)> = BTreeMap::new();
    for (field, _, key, devices) in throttles(b) {
        for t in devices {
            device(field, t.major(), t.minor())?;
            let rate = match t.rate() {
                0 => "max".to_string(),
                r => r.to_string(),
            };
            lines
                .entry((t.major(), t.minor()))
                .or_insert((field, Vec::new()))
                .1
                .push(format!("{key}={rate}"));
        }
    }
    for ((major, minor), (field, limits)) in lines {
        plan.steps.push(Step::One(write(
            field,
            "io",
            "io.max",
            format!("{major}:{minor} {}", limits.join(" ")),
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{host, res, writes};
    use super::super::IfMissing;
    use super::*;
    use crate::Mode;

    const ALL: &str = r#"{"blockIO": {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 300}],
        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
        "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 2097152}],
        "throttleReadIOPSDevice": [{"major": 8, "minor": 16, "rate": 100}],
        "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 0}]}}"#;

    #[test]
    fn v1_blkio_files() {
        let p = super::super::plan(&res(ALL), &host(Mode::V1)).unwrap();
        assert_eq!(
            writes(&p),
            [
                ("blkio.weight", "500"),
                ("blkio.weight_device", "8:0 300"),
                ("blkio.throttle.read_bps_device", "8:0 1048576"),
                ("blkio.throttle.write_bps_device", "8:0 2097152"),
                ("blkio.throttle.read_iops_device", "8:16 100"),
                ("blkio.throttle.write_iops_device", "8:0 0"),
            ]
        );
        let Step::One(w) = &p.steps[0] else { panic!() };
        assert!(matches!(&w.if_missing, IfMissing::Try(b) if b.file == "blkio.bfq.weight"));
    }

    #[test]
    fn zero_weights_are_not_set() {
        // Docker's config for a container without --blkio-weight.
        let zero = r#"{"blockIO": {"weight": 0, "leafWeight": 0,
            "weightDevice": [{"major": 8, "minor": 0, "weight": 0, "leafWeight": 0}]}}"#;
        for mode in [Mode::V1, Mode::V2] {
            let p = super::super::plan(&res(zero), &host(mode)).unwrap();
            assert!(writes(&p).0.is_empty(), "{mode:?}: {:?}", writes(&p));
        }
    }

    #[test]
    fn v2_io_files() {
        let p = super::super::plan(&res(ALL), &host(Mode::V2)).unwrap();
        assert_eq!(
            writes(&p),
            [
                ("io.bfq.weight", "500"),
                ("io.bfq.weight", "8:0 300"),
                ("io.max", "8:0 rbps=1048576 wbps=2097152 wiops=max"),
                ("io.max", "8:16 riops=100"),
            ]
        );
        let Step::One(w) = &p.steps[0] else { panic!() };
        assert!(
            matches!(&w.if_missing, IfMissing::Try(b) if b.file == "io.weight" && b.value == "4950")
        );
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10000);
        let e = super::super::plan(&res(r#"{"blockIO": {"leafWeight": 10}}"#), &host(Mode::V2))
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("linux.resources.blockIO.leafWeight is not supported"),
            "{e}"
        );
        let e = super::super::plan(
            &res(
                r#"{"blockIO": {"throttleReadBpsDevice": [{"major": -1, "minor": 0, "rate": 1}]}}"#,
            ),
            &host(Mode::V2),
        )
        .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
    }
}
