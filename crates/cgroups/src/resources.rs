//! Turning `linux.resources` into the cgroup files to write, for v1 and v2.
//!
//! This module is pure: [`plan`] returns the list of writes (controller, file,
//! value) in the order they must happen, and `lib.rs` carries them out. That
//! keeps the conversions (shares → weight, swap semantics, device rules) unit
//! testable without root.
//!
//! Supported for now: `memory.{limit,reservation,swap}`,
//! `cpu.{shares,quota,period,cpus,mems}`, `pids.limit`, and `devices` (v1:
//! `devices.allow`/`devices.deny`; v2: accepted but not applied, see
//! [`Plan::devices_skipped`]). Every other field that is set is an
//! [`Error::Unsupported`], so nothing is silently ignored. Following runc, a
//! zero value means "unset" for the numeric fields (`memory.limit: 0` would
//! otherwise kill the container).

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

use crate::{Error, Mode};

/// One value to write to one cgroup file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Write {
    /// The controller whose hierarchy holds the file (v1) or that must be
    /// enabled for the file to exist (v2).
    pub controller: &'static str,
    pub file: &'static str,
    pub value: String,
    /// Skip the write when the file does not exist (used for defaults that
    /// only matter when the kernel has the feature).
    pub optional: bool,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    One(Write),
    /// Two values the kernel checks against each other (memory limit vs.
    /// memory+swap limit; CFS period vs. quota): write the first then the
    /// second, and if the kernel rejects the first with `EINVAL`, write the
    /// second first. This is the order-independence runc gets by reading the
    /// current values first.
    Pair(Write, Write),
}

/// What to write for a `LinuxResources`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub steps: Vec<Step>,
    /// Device rules were given but cannot be applied yet (cgroup v2 needs an
    /// eBPF program, a later issue).
    pub devices_skipped: bool,
}

/// Builds the plan for the host's mode: v1 files for [`Mode::V1`] and
/// [`Mode::Hybrid`], v2 files for [`Mode::V2`].
pub(crate) fn plan(res: &LinuxResources, mode: Mode) -> Result<Plan, Error> {
    reject_unsupported(res)?;
    let v2 = mode == Mode::V2;
    let mut plan = Plan::default();
    if v2 {
        memory_v2(res, &mut plan)?;
        cpu_v2(res, &mut plan);
    } else {
        memory_v1(res, &mut plan);
        cpu_v1(res, &mut plan);
    }
    cpuset(res, &mut plan);
    pids(res, &mut plan);
    if let Some(rules) = res.devices().as_ref().filter(|r| !r.is_empty()) {
        if v2 {
            plan.devices_skipped = true;
        } else {
            for rule in rules {
                plan.steps.push(Step::One(device_rule_v1(rule)?));
            }
        }
    }
    Ok(plan)
}

fn unsupported(field: &str) -> Error {
    Error::Unsupported(format!("linux.resources.{field} is not supported yet"))
}

fn invalid(field: &'static str, reason: String) -> Error {
    Error::InvalidResource { field, reason }
}

/// Every field that is set (and not to its no-op value) but not handled
/// below is an error.
fn reject_unsupported(res: &LinuxResources) -> Result<(), Error> {
    if let Some(b) = res.block_io() {
        let set = b.weight().is_some()
            || b.leaf_weight().is_some()
            || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
            || b.throttle_read_bps_device()
                .as_ref()
                .is_some_and(|v| !v.is_empty())
            || b.throttle_write_bps_device()
                .as_ref()
                .is_some_and(|v| !v.is_empty())
            || b.throttle_read_iops_device()
                .as_ref()
                .is_some_and(|v| !v.is_empty())
            || b.throttle_write_iops_device()
                .as_ref()
                .is_some_and(|v| !v.is_empty());
        if set {
            return Err(unsupported("blockIO"));
        }
    }
    if res
        .hugepage_limits()
        .as_ref()
        .is_some_and(|v| !v.is_empty())
    {
        return Err(unsupported("hugepageLimits"));
    }
    if let Some(n) = res.network() {
        if n.class_id().is_some() || n.priorities().as_ref().is_some_and(|v| !v.is_empty()) {
            return Err(unsupported("network"));
        }
    }
    if res.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(unsupported("rdma"));
    }
    if res.unified().as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(unsupported("unified"));
    }
    if let Some(m) = res.memory() {
        // Docker always sends `disableOOMKiller: false`: the default, accepted.
        if m.kernel().is_some_and(|v| v != 0) {
            return Err(unsupported("memory.kernel"));
        }
        if m.kernel_tcp().is_some_and(|v| v != 0) {
            return Err(unsupported("memory.kernelTCP"));
        }
        if m.swappiness().is_some() {
            return Err(unsupported("memory.swappiness"));
        }
        if m.disable_oom_killer() == Some(true) {
            return Err(unsupported("memory.disableOOMKiller"));
        }
        if m.use_hierarchy().is_some() {
            return Err(unsupported("memory.useHierarchy"));
        }
        if m.check_before_update() == Some(true) {
            return Err(unsupported("memory.checkBeforeUpdate"));
        }
    }
    if let Some(c) = res.cpu() {
        if c.idle().is_some_and(|v| v != 0) {
            return Err(unsupported("cpu.idle"));
        }
        if c.burst().is_some_and(|v| v != 0) {
            return Err(unsupported("cpu.burst"));
        }
        if c.realtime_runtime().is_some_and(|v| v != 0) {
            return Err(unsupported("cpu.realtimeRuntime"));
        }
        if c.realtime_period().is_some_and(|v| v != 0) {
            return Err(unsupported("cpu.realtimePeriod"));
        }
    }
    Ok(())
}

fn write(controller: &'static str, file: &'static str, value: impl ToString) -> Write {
    Write {
        controller,
        file,
        value: value.to_string(),
        optional: false,
    }
}

/// A set, non-zero value (runc treats 0 as unset).
fn nonzero<T: Default + PartialEq>(v: Option<T>) -> Option<T> {
    v.filter(|v| *v != T::default())
}

fn memory_v1(res: &LinuxResources, plan: &mut Plan) {
    let Some(m) = res.memory() else { return };
    let limit = nonzero(m.limit());
    let swap = nonzero(m.swap());
    if let Some(limit) = limit {
        let limit_w = write("memory", "memory.limit_in_bytes", limit);
        match swap {
            Some(swap) => plan.steps.push(Step::Pair(
                limit_w,
                write("memory", "memory.memsw.limit_in_bytes", swap),
            )),
            // runc: an unlimited memory without an explicit swap also lifts the
            // memory+swap limit, when the kernel accounts swap.
            None if limit == -1 => {
                let mut swap_w = write("memory", "memory.memsw.limit_in_bytes", -1);
                swap_w.optional = true;
                plan.steps.push(Step::Pair(limit_w, swap_w));
            }
            None => plan.steps.push(Step::One(limit_w)),
        }
    } else if let Some(swap) = swap {
        plan.steps.push(Step::One(write(
            "memory",
            "memory.memsw.limit_in_bytes",
            swap,
        )));
    }
    if let Some(r) = nonzero(m.reservation()) {
        plan.steps
            .push(Step::One(write("memory", "memory.soft_limit_in_bytes", r)));
    }
}

/// `-1` means no limit; v2 spells it `max`.
fn v2_limit(v: i64) -> String {
    if v < 0 {
        "max".to_string()
    } else {
        v.to_string()
    }
}

fn memory_v2(res: &LinuxResources, plan: &mut Plan) -> Result<(), Error> {
    let Some(m) = res.memory() else { return Ok(()) };
    let limit = nonzero(m.limit());
    if let Some(limit) = limit {
        plan.steps
            .push(Step::One(write("memory", "memory.max", v2_limit(limit))));
    }
    if let Some(swap) = swap_v2(nonzero(m.swap()), limit)? {
        plan.steps.push(Step::One(write(
            "memory",
            "memory.swap.max",
            v2_limit(swap),
        )));
    }
    if let Some(r) = nonzero(m.reservation()) {
        plan.steps
            .push(Step::One(write("memory", "memory.low", v2_limit(r))));
    }
    Ok(())
}

/// OCI's `memory.swap` is memory+swap (v1 semantics); v2's `memory.swap.max`
/// is swap alone. Same conversion as runc's `ConvertMemorySwapToCgroupV2Value`.
fn swap_v2(swap: Option<i64>, limit: Option<i64>) -> Result<Option<i64>, Error> {
    match (swap, limit) {
        (None, Some(-1)) => Ok(Some(-1)),
        (None, _) => Ok(None),
        (Some(-1), _) => Ok(Some(-1)),
        (Some(_), None | Some(-1)) => Err(invalid(
            "memory.swap",
            "a swap limit needs a memory limit".into(),
        )),
        (Some(_), Some(l)) if l < 0 => Err(invalid("memory.limit", format!("{l} is negative"))),
        (Some(s), Some(l)) if s < l => Err(invalid(
            "memory.swap",
            format!("memory+swap limit {s} is lower than the memory limit {l}"),
        )),
        (Some(s), Some(l)) => Ok(Some(s - l)),
    }
}

fn cpu_v1(res: &LinuxResources, plan: &mut Plan) {
    let Some(c) = res.cpu() else { return };
    if let Some(shares) = nonzero(c.shares()) {
        plan.steps
            .push(Step::One(write("cpu", "cpu.shares", shares)));
    }
    let period = nonzero(c.period()).map(|p| write("cpu", "cpu.cfs_period_us", p));
    let quota = nonzero(c.quota()).map(|q| write("cpu", "cpu.cfs_quota_us", q));
    match (period, quota) {
        (Some(p), Some(q)) => plan.steps.push(Step::Pair(p, q)),
        (Some(w), None) | (None, Some(w)) => plan.steps.push(Step::One(w)),
        (None, None) => {}
    }
}

fn cpu_v2(res: &LinuxResources, plan: &mut Plan) {
    let Some(c) = res.cpu() else { return };
    if let Some(shares) = nonzero(c.shares()) {
        plan.steps.push(Step::One(write(
            "cpu",
            "cpu.weight",
            shares_to_weight(shares),
        )));
    }
    let quota = nonzero(c.quota());
    let period = nonzero(c.period());
    if quota.is_some() || period.is_some() {
        // "max" alone keeps the current period, as runc writes it.
        let mut value = match quota {
            Some(q) if q > 0 => q.to_string(),
            _ => "max".to_string(),
        };
        if let Some(p) = period {
            value.push_str(&format!(" {p}"));
        }
        plan.steps.push(Step::One(write("cpu", "cpu.max", value)));
    }
}

/// cpu.shares (2..=262144) to cpu.weight (1..=10000), runc's linear formula.
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

fn cpuset(res: &LinuxResources, plan: &mut Plan) {
    let Some(c) = res.cpu() else { return };
    if let Some(cpus) = c.cpus().as_ref().filter(|s| !s.is_empty()) {
        plan.steps
            .push(Step::One(write("cpuset", "cpuset.cpus", cpus)));
    }
    if let Some(mems) = c.mems().as_ref().filter(|s| !s.is_empty()) {
        plan.steps
            .push(Step::One(write("cpuset", "cpuset.mems", mems)));
    }
}

fn pids(res: &LinuxResources, plan: &mut Plan) {
    let Some(p) = res.pids() else { return };
    // runc: 0 leaves the limit alone, negative means no limit.
    if p.limit() != 0 {
        plan.steps
            .push(Step::One(write("pids", "pids.max", v2_limit(p.limit()))));
    }
}

/// One OCI device rule as a v1 `devices.allow`/`devices.deny` line:
/// `type major:minor access`, `*` for a missing number, `a` for a missing
/// type, `rwm` for a missing access.
fn device_rule_v1(rule: &LinuxDeviceCgroup) -> Result<Write, Error> {
    let typ = match rule.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => 'a',
        LinuxDeviceType::B => 'b',
        // unbuffered character devices are character devices to the kernel
        LinuxDeviceType::C | LinuxDeviceType::U => 'c',
        LinuxDeviceType::P => {
            return Err(invalid(
                "devices",
                "the devices cgroup has no rules for FIFOs (type p)".into(),
            ))
        }
    };
    let number = |n: Option<i64>| match n {
        None | Some(-1) => Ok("*".to_string()),
        Some(n) if n >= 0 => Ok(n.to_string()),
        Some(n) => Err(invalid("devices", format!("invalid device number {n}"))),
    };
    let access = rule
        .access()
        .as_deref()
        .filter(|a| !a.is_empty())
        .unwrap_or("rwm");
    if !access.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
        return Err(invalid(
            "devices",
            format!("invalid access {access:?}, want a subset of rwm"),
        ));
    }
    let value = if typ == 'a' {
        format!("a *:* {access}")
    } else {
        format!(
            "{typ} {}:{} {access}",
            number(rule.major())?,
            number(rule.minor())?
        )
    };
    let file = if rule.allow() {
        "devices.allow"
    } else {
        "devices.deny"
    };
    Ok(write("devices", file, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn writes(plan: &Plan) -> Vec<(String, String)> {
        plan.steps
            .iter()
            .flat_map(|s| match s {
                Step::One(w) => vec![w.clone()],
                Step::Pair(a, b) => vec![a.clone(), b.clone()],
            })
            .map(|w| (w.file.to_string(), w.value))
            .collect()
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn weight_conversion_matches_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1), 1);
        assert_eq!(shares_to_weight(u64::MAX), 10_000);
    }

    #[test]
    fn v1_plan_covers_memory_cpu_pids_devices_in_order() {
        let r = res(r#"{
            "memory": {"limit": 104857600, "reservation": 52428800, "swap": 209715200,
                       "disableOOMKiller": false},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
            "pids": {"limit": 32},
            "devices": [{"allow": false, "access": "rwm"},
                        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                        {"allow": true, "type": "c", "major": 136, "access": "rw"}],
            "blockIO": {}, "hugepageLimits": []
        }"#);
        let p = plan(&r, Mode::V1).unwrap();
        assert!(!p.devices_skipped);
        assert_eq!(
            writes(&p),
            pairs(&[
                ("memory.limit_in_bytes", "104857600"),
                ("memory.memsw.limit_in_bytes", "209715200"),
                ("memory.soft_limit_in_bytes", "52428800"),
                ("cpu.shares", "512"),
                ("cpu.cfs_period_us", "100000"),
                ("cpu.cfs_quota_us", "50000"),
                ("cpuset.cpus", "0"),
                ("cpuset.mems", "0"),
                ("pids.max", "32"),
                ("devices.deny", "a *:* rwm"),
                ("devices.allow", "c 1:3 rwm"),
                ("devices.allow", "c 136:* rw"),
            ])
        );
        // Hybrid hosts use the v1 files
        assert_eq!(plan(&r, Mode::Hybrid).unwrap(), p);
    }

    #[test]
    fn v2_plan_converts_values_and_skips_devices() {
        let r = res(r#"{
            "memory": {"limit": 104857600, "reservation": 52428800, "swap": 209715200},
            "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1"},
            "pids": {"limit": -1},
            "devices": [{"allow": false, "access": "rwm"}]
        }"#);
        let p = plan(&r, Mode::V2).unwrap();
        assert!(p.devices_skipped);
        assert_eq!(
            writes(&p),
            pairs(&[
                ("memory.max", "104857600"),
                ("memory.swap.max", "104857600"),
                ("memory.low", "52428800"),
                ("cpu.weight", "39"),
                ("cpu.max", "50000 100000"),
                ("cpuset.cpus", "0-1"),
                ("pids.max", "max"),
            ])
        );
    }

    #[test]
    fn v2_cpu_max_and_unlimited_memory() {
        let r = res(r#"{"cpu": {"period": 250000}, "memory": {"limit": -1}}"#);
        assert_eq!(
            writes(&plan(&r, Mode::V2).unwrap()),
            pairs(&[
                ("memory.max", "max"),
                ("memory.swap.max", "max"),
                ("cpu.max", "max 250000")
            ])
        );
        let r = res(r#"{"cpu": {"quota": -1}}"#);
        assert_eq!(
            writes(&plan(&r, Mode::V2).unwrap()),
            pairs(&[("cpu.max", "max")])
        );
        // v1: unlimited memory also lifts memsw, when it exists
        let r = res(r#"{"memory": {"limit": -1}}"#);
        let p = plan(&r, Mode::V1).unwrap();
        match &p.steps[0] {
            Step::Pair(a, b) => {
                assert_eq!(
                    (a.file, a.value.as_str(), a.optional),
                    ("memory.limit_in_bytes", "-1", false)
                );
                assert_eq!(
                    (b.file, b.value.as_str(), b.optional),
                    ("memory.memsw.limit_in_bytes", "-1", true)
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn zero_values_are_unset() {
        let r = res(
            r#"{"memory": {"limit": 0, "swap": 0}, "cpu": {"shares": 0, "quota": 0},
                        "pids": {"limit": 0}}"#,
        );
        assert!(plan(&r, Mode::V1).unwrap().steps.is_empty());
        assert!(plan(&r, Mode::V2).unwrap().steps.is_empty());
    }

    #[test]
    fn bad_swap_is_invalid_on_v2() {
        let r = res(r#"{"memory": {"limit": 200, "swap": 100}}"#);
        let e = plan(&r, Mode::V2).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "{e}");
        let r = res(r#"{"memory": {"swap": 100}}"#);
        assert!(plan(&r, Mode::V2).is_err());
    }

    #[test]
    fn unsupported_fields_are_named() {
        for (json, field) in [
            (r#"{"blockIO": {"weight": 10}}"#, "blockIO"),
            (
                r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}"#,
                "hugepageLimits",
            ),
            (r#"{"network": {"classID": 1}}"#, "network"),
            (r#"{"unified": {"memory.high": "1"}}"#, "unified"),
            (r#"{"rdma": {"x": {"hcaHandles": 1}}}"#, "rdma"),
            (r#"{"memory": {"swappiness": 10}}"#, "memory.swappiness"),
            (
                r#"{"memory": {"disableOOMKiller": true}}"#,
                "memory.disableOOMKiller",
            ),
            (r#"{"cpu": {"realtimeRuntime": 5}}"#, "cpu.realtimeRuntime"),
            (r#"{"cpu": {"idle": 1}}"#, "cpu.idle"),
        ] {
            for mode in [Mode::V1, Mode::V2] {
                let e = plan(&res(json), mode).unwrap_err();
                assert_eq!(e.kind(), crate::ErrorKind::Unsupported);
                assert_eq!(
                    e.to_string(),
                    format!("linux.resources.{field} is not supported yet")
                );
            }
        }
    }

    #[test]
    fn device_rules_are_validated() {
        for json in [
            r#"{"devices": [{"allow": true, "type": "p", "access": "rwm"}]}"#,
            r#"{"devices": [{"allow": true, "type": "c", "access": "rwx"}]}"#,
            r#"{"devices": [{"allow": true, "type": "c", "major": -5, "access": "r"}]}"#,
        ] {
            assert!(plan(&res(json), Mode::V1).is_err(), "{json}");
        }
        let r = res(r#"{"devices": [{"allow": true, "type": "b", "major": 8, "minor": 0}]}"#);
        assert_eq!(
            writes(&plan(&r, Mode::V1).unwrap()),
            pairs(&[("devices.allow", "b 8:0 rwm")])
        );
    }
}
