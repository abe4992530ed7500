//! `linux.resources.cpu`: v1 `cpu.shares`, `cpu.cfs_*`, `cpu.rt_*`,
//! `cpu.idle`; v2 `cpu.weight`, `cpu.max`, `cpu.max.burst`, `cpu.idle`; and
//! `cpus`/`mems`, which are the cpuset controller's.

use oci_spec::runtime::{LinuxCpu, LinuxResources};

use super::{nonzero, unsupported, write, Controllers, Plan, Step, Version, Write};
use crate::Error;

pub(super) fn plan(res: &LinuxResources, host: &Controllers, plan: &mut Plan) -> Result<(), Error> {
    let Some(c) = res.cpu() else { return Ok(()) };
    if is_set(c) {
        match host.require("cpu", "cpu")? {
            Version::V1 => v1(c, plan),
            Version::V2 => v2(c, plan)?,
        }
    }
    cpuset(c, host, plan)
}

fn is_set(c: &LinuxCpu) -> bool {
    nonzero(c.shares()).is_some()
        || nonzero(c.quota()).is_some()
        || nonzero(c.period()).is_some()
        || c.burst().is_some()
        || c.idle().is_some()
        || nonzero(c.realtime_runtime()).is_some()
        || nonzero(c.realtime_period()).is_some()
}

/// `cpu.idle` and `cpu.burst` are written whenever given (0 is a real
/// value), but a 0 on a kernel without the file asks for nothing.
fn zero_is_default(w: Write, value: i128) -> Write {
    if value == 0 {
        w.optional()
    } else {
        w
    }
}

fn v1(c: &LinuxCpu, plan: &mut Plan) {
    if let Some(shares) = nonzero(c.shares()) {
        plan.steps
            .push(Step::One(write("cpu.shares", "cpu", "cpu.shares", shares)));
    }
    // The kernel checks burst against quota and quota against period: write
    // them together (see `Step::Together`).
    let mut bandwidth = Vec::new();
    if let Some(p) = nonzero(c.period()) {
        bandwidth.push(write("cpu.period", "cpu", "cpu.cfs_period_us", p));
    }
    if let Some(q) = nonzero(c.quota()) {
        bandwidth.push(write("cpu.quota", "cpu", "cpu.cfs_quota_us", q));
    }
    if let Some(b) = c.burst() {
        bandwidth.push(zero_is_default(
            write("cpu.burst", "cpu", "cpu.cfs_burst_us", b),
            b.into(),
        ));
    }
    push_together(plan, bandwidth);
    let mut rt = Vec::new();
    if let Some(p) = nonzero(c.realtime_period()) {
        rt.push(write("cpu.realtimePeriod", "cpu", "cpu.rt_period_us", p));
    }
    if let Some(r) = nonzero(c.realtime_runtime()) {
        rt.push(write("cpu.realtimeRuntime", "cpu", "cpu.rt_runtime_us", r));
    }
    push_together(plan, rt);
    if let Some(idle) = c.idle() {
        plan.steps.push(Step::One(zero_is_default(
            write("cpu.idle", "cpu", "cpu.idle", idle),
            idle.into(),
        )));
    }
}

fn push_together(plan: &mut Plan, mut writes: Vec<Write>) {
    match writes.len() {
        0 => {}
        1 => plan.steps.push(Step::One(writes.remove(0))),
        _ => plan.steps.push(Step::Together(writes)),
    }
}

fn v2(c: &LinuxCpu, plan: &mut Plan) -> Result<(), Error> {
    for (field, set) in [
        (
            "cpu.realtimeRuntime",
            nonzero(c.realtime_runtime()).is_some(),
        ),
        ("cpu.realtimePeriod", nonzero(c.realtime_period()).is_some()),
    ] {
        if set {
            return Err(unsupported(
                field,
                "cgroup v2 has no real-time CPU bandwidth control (cpu.rt_* are v1 only)",
            ));
        }
    }
    if let Some(shares) = nonzero(c.shares()) {
        plan.steps.push(Step::One(write(
            "cpu.shares",
            "cpu",
            "cpu.weight",
            shares_to_weight(shares),
        )));
    }
    let quota = nonzero(c.quota());
    let period = nonzero(c.period());
    let mut bandwidth = Vec::new();
    if quota.is_some() || period.is_some() {
        // "max" alone keeps the current period, as runc writes it.
        let mut value = match quota {
            Some(q) if q > 0 => q.to_string(),
            _ => "max".to_string(),
        };
        if let Some(p) = period {
            value.push_str(&format!(" {p}"));
        }
        let field = if quota.is_some() {
            "cpu.quota"
        } else {
            "cpu.period"
        };
        bandwidth.push(write(field, "cpu", "cpu.max", value));
    }
    if let Some(b) = c.burst() {
        bandwidth.push(zero_is_default(
            write("cpu.burst", "cpu", "cpu.max.burst", b),
            b.into(),
        ));
    }
    push_together(plan, bandwidth);
    if let Some(idle) = c.idle() {
        plan.steps.push(Step::One(zero_is_default(
            write("cpu.idle", "cpu", "cpu.idle", idle),
            idle.into(),
        )));
    }
    Ok(())
}

/// cpu.shares (2..=262144) to cpu.weight (1..=10000), runc's linear formula.
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

fn cpuset(c: &LinuxCpu, host: &Controllers, plan: &mut Plan) -> Result<(), Error> {
    let cpus = c.cpus().as_ref().filter(|s| !s.is_empty());
    let mems = c.mems().as_ref().filter(|s| !s.is_empty());
    if cpus.is_none() && mems.is_none() {
        return Ok(());
    }
    host.require("cpu.cpus", "cpuset")?;
    if let Some(cpus) = cpus {
        plan.steps
            .push(Step::One(write("cpu.cpus", "cpuset", "cpuset.cpus", cpus)));
    }
    if let Some(mems) = mems {
        plan.steps
            .push(Step::One(write("cpu.mems", "cpuset", "cpuset.mems", mems)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{host, res, writes};
    use super::*;
    use crate::Mode;

    #[test]
    fn weight_conversion_matches_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1), 1);
        assert_eq!(shares_to_weight(u64::MAX), 10_000);
    }

    #[test]
    fn v1_cpu_fields() {
        let r = res(
            r#"{"cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 1000,
            "realtimeRuntime": 5000, "realtimePeriod": 10000, "idle": 1, "cpus": "0", "mems": "0"}}"#,
        );
        let p = super::super::plan(&r, &host(Mode::V1)).unwrap();
        assert_eq!(
            writes(&p),
            [
                ("cpu.shares", "512"),
                ("cpu.cfs_period_us", "100000"),
                ("cpu.cfs_quota_us", "50000"),
                ("cpu.cfs_burst_us", "1000"),
                ("cpu.rt_period_us", "10000"),
                ("cpu.rt_runtime_us", "5000"),
                ("cpu.idle", "1"),
                ("cpuset.cpus", "0"),
                ("cpuset.mems", "0"),
            ]
        );
        assert!(matches!(&p.steps[1], Step::Together(v) if v.len() == 3));
    }

    #[test]
    fn v2_cpu_fields() {
        let r = res(
            r#"{"cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 0,
            "idle": 0, "cpus": "0-1"}}"#,
        );
        let p = super::super::plan(&r, &host(Mode::V2)).unwrap();
        assert_eq!(
            writes(&p),
            [
                ("cpu.weight", "39"),
                ("cpu.max", "50000 100000"),
                ("cpu.max.burst", "0"),
                ("cpu.idle", "0"),
                ("cpuset.cpus", "0-1"),
            ]
        );
        let r = res(r#"{"cpu": {"period": 250000}}"#);
        assert_eq!(
            writes(&super::super::plan(&r, &host(Mode::V2)).unwrap()),
            [("cpu.max", "max 250000")]
        );
        let r = res(r#"{"cpu": {"quota": -1}}"#);
        assert_eq!(
            writes(&super::super::plan(&r, &host(Mode::V2)).unwrap()),
            [("cpu.max", "max")]
        );
        for json in [
            r#"{"cpu": {"realtimeRuntime": 5}}"#,
            r#"{"cpu": {"realtimePeriod": 5}}"#,
        ] {
            let e = super::super::plan(&res(json), &host(Mode::V2)).unwrap_err();
            assert!(e.to_string().contains("real-time"), "{e}");
        }
    }
}
