//! Turning `linux.resources` into the cgroup files to write, for v1 and v2,
//! and writing them.
//!
//! [`plan`] is pure: it returns the writes (OCI field, controller, file,
//! value) in the order they must happen, so the conversions (shares →
//! weight, swap semantics, io.max lines, device rules) are unit tested
//! without root. [`carry_out`] then finds every file before writing any, so
//! a field the host cannot honour (controller not mounted or not enabled,
//! file missing from this kernel) fails with
//! [`Error::ResourceUnsupported`] naming the field, and nothing written.
//!
//! Each controller's part lives in its own file under `resources/`, and is
//! planned for the cgroup version that controller is in on this host (a
//! hybrid host can have `hugetlb` in the unified hierarchy and everything
//! else in v1).
//!
//! Update semantics: only the fields that are set are written, so applying
//! a partial `LinuxResources` to a running container changes just those.
//! Following runc, a zero value means "unset" for the numeric limits
//! (`memory.limit: 0` would otherwise kill the container); the fields where
//! zero is a real value (`cpu.idle`, `cpu.burst`, `memory.swappiness`,
//! `pids.limit`, where 0 means no limit) are written whenever present.

mod blkio;
mod cpu;
mod hugetlb;
mod memory;
mod network;
mod rdma;
mod unified;

use std::io;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

use crate::{files, v2, Error, ErrorKind, Mode};

/// Which cgroup version a controller is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    V1,
    V2,
}

/// What the planner needs to know about the host: which controllers are
/// where.
#[derive(Debug, Clone)]
pub(crate) struct Controllers {
    pub mode: Mode,
    /// Controllers of the mounted v1 hierarchies.
    pub v1: Vec<String>,
    /// Hybrid hosts: the controllers the unified hierarchy offers (its
    /// root's `cgroup.controllers`).
    pub unified: Vec<String>,
}

impl Controllers {
    /// The version `controller` is used in. On v2 hosts every controller is
    /// v2: whether it is enabled is found out when its files are looked for.
    pub fn version(&self, controller: &str) -> Option<Version> {
        if self.mode == Mode::V2 {
            Some(Version::V2)
        } else if self.v1.iter().any(|c| c == controller) {
            Some(Version::V1)
        } else if self.unified.iter().any(|c| c == controller) {
            Some(Version::V2)
        } else {
            None
        }
    }

    /// Like [`Controllers::version`], or the error saying `field` cannot be set.
    pub fn require(&self, field: &str, controller: &str) -> Result<Version, Error> {
        self.version(controller).ok_or_else(|| {
            unsupported(
                field,
                format!("no cgroup hierarchy has the {controller} controller"),
            )
        })
    }
}

/// One value to write to one cgroup file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Write {
    /// The OCI field this write sets, below `linux.resources` (for errors).
    pub field: String,
    /// The controller whose hierarchy holds the file (v1) or that must be
    /// enabled for the file to exist (v2); `cgroup` for core files.
    pub controller: String,
    pub file: String,
    pub value: String,
    pub if_missing: IfMissing,
}

/// What a missing file means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IfMissing {
    /// The host cannot honour the field: [`Error::ResourceUnsupported`].
    Fail,
    /// Nothing to do (a default that only matters when the kernel has the
    /// feature).
    Skip,
    /// Write this instead (`blkio.weight` → `blkio.bfq.weight`).
    Try(Box<Write>),
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    One(Write),
    /// Values the kernel checks against each other (memory vs.
    /// memory+swap limit; CFS period, quota and burst): written in order,
    /// and those the kernel refuses with `EINVAL` are written again after
    /// the others. This is the order-independence runc gets by reading the
    /// current values first.
    Together(Vec<Write>),
}

impl Step {
    fn writes(&self) -> &[Write] {
        match self {
            Step::One(w) => std::slice::from_ref(w),
            Step::Together(v) => v,
        }
    }
}

/// `memory.checkBeforeUpdate`: refuse a limit below the current usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UsageCheck {
    pub field: &'static str,
    pub usage_file: &'static str,
    pub limit: u64,
}

/// What to write for a `LinuxResources`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub steps: Vec<Step>,
    /// Checked before anything is written.
    pub checks: Vec<UsageCheck>,
    /// cgroup v2 device rules were given: they are not files to write but an
    /// eBPF program, which `Cgroup::apply` makes (`devices_bpf.rs`).
    pub devices_skipped: bool,
}

/// Builds the plan: each controller's fields for the version that
/// controller is in on `host`.
pub(crate) fn plan(res: &LinuxResources, host: &Controllers) -> Result<Plan, Error> {
    let mode = host.mode;
    let v2 = mode == Mode::V2;
    let mut plan = Plan::default();
    memory::plan(res, host, &mut plan)?;
    cpu::plan(res, host, &mut plan)?;
    pids(res, host, &mut plan)?;
    blkio::plan(res, host, &mut plan)?;
    hugetlb::plan(res, host, &mut plan)?;
    network::plan(res, host, &mut plan)?;
    rdma::plan(res, host, &mut plan)?;
    if let Some(rules) = res.devices().as_ref().filter(|r| !r.is_empty()) {
        if v2 {
            plan.devices_skipped = true;
        } else {
            devices_v1(rules, &mut plan)?;
        }
    }
    // Last, as runc does, so it can override what the fields above set.
    unified::plan(res, mode, &mut plan)?;
    Ok(plan)
}

pub(crate) fn unsupported(field: &str, reason: impl Into<String>) -> Error {
    Error::ResourceUnsupported {
        field: field.to_string(),
        reason: reason.into(),
    }
}

pub(crate) fn invalid(field: &'static str, reason: String) -> Error {
    Error::InvalidResource { field, reason }
}

/// A write that fails with [`Error::ResourceUnsupported`] when its file is
/// missing.
pub(crate) fn write(field: &str, controller: &str, file: &str, value: impl ToString) -> Write {
    Write {
        field: field.to_string(),
        controller: controller.to_string(),
        file: file.to_string(),
        value: value.to_string(),
        if_missing: IfMissing::Fail,
    }
}

impl Write {
    /// Skipped when the file is missing.
    pub fn optional(mut self) -> Self {
        self.if_missing = IfMissing::Skip;
        self
    }

    /// `other` is written instead when this file is missing.
    pub fn or_else(mut self, other: Write) -> Self {
        self.if_missing = IfMissing::Try(Box::new(other));
        self
    }
}

/// A set, non-zero value (runc treats 0 as unset).
pub(crate) fn nonzero<T: Default + PartialEq>(v: Option<T>) -> Option<T> {
    v.filter(|v| *v != T::default())
}

/// `-1` (any negative) means no limit; v2 spells it `max`.
pub(crate) fn v2_limit(v: i64) -> String {
    if v < 0 {
        "max".to_string()
    } else {
        v.to_string()
    }
}

/// `pids.limit`: 0 and negative mean no limit (the spec's default is "no
/// limit" and the field is not optional), as for runc.
fn pids(res: &LinuxResources, host: &Controllers, plan: &mut Plan) -> Result<(), Error> {
    let Some(p) = res.pids() else { return Ok(()) };
    host.require("pids.limit", "pids")?;
    let value = if p.limit() > 0 {
        p.limit().to_string()
    } else {
        "max".to_string()
    };
    plan.steps
        .push(Step::One(write("pids.limit", "pids", "pids.max", value)));
    Ok(())
}

/// v1 device rules. Like runc, an update starts from "deny everything", so
/// the result is the given list and not the list added to what was allowed
/// before; when the rules already start by denying everything (the usual
/// first rule), that rule is the start.
fn devices_v1(rules: &[LinuxDeviceCgroup], plan: &mut Plan) -> Result<(), Error> {
    let first = device_rule_v1(&rules[0])?;
    if !(first.file == "devices.deny" && first.value == "a *:* rwm") {
        plan.steps.push(Step::One(write(
            "devices",
            "devices",
            "devices.deny",
            "a *:* rwm",
        )));
    }
    for rule in rules {
        plan.steps.push(Step::One(device_rule_v1(rule)?));
    }
    Ok(())
}

/// Writes a plan's steps to the directories `dir_of` gives for each
/// controller. Every file is looked for first (and every usage check made),
/// so a field the host cannot honour fails before anything is written.
pub(crate) fn carry_out(
    plan: &Plan,
    dir_of: impl Fn(&str) -> Option<PathBuf>,
) -> Result<(), Error> {
    let mut located = Vec::with_capacity(plan.steps.len());
    for step in &plan.steps {
        let mut group = Vec::new();
        for w in step.writes() {
            if let Some(found) = locate(w, &dir_of)? {
                group.push(found);
            }
        }
        located.push(group);
    }
    for check in &plan.checks {
        if let Some(dir) = dir_of("memory") {
            check_usage(check, &dir)?;
        }
    }
    for group in &located {
        write_together(group)?;
    }
    Ok(())
}

/// The file to write for `w` (or its fallback), `None` to skip it.
fn locate<'a>(
    w: &'a Write,
    dir_of: &impl Fn(&str) -> Option<PathBuf>,
) -> Result<Option<(&'a Write, PathBuf)>, Error> {
    let dir = dir_of(&w.controller).ok_or_else(|| {
        unsupported(
            &w.field,
            format!("no cgroup hierarchy has the {} controller", w.controller),
        )
    })?;
    let mut tried = Vec::new();
    let mut cur = w;
    loop {
        let path = dir.join(&cur.file);
        if path.exists() {
            return Ok(Some((cur, path)));
        }
        tried.push(cur.file.as_str());
        match &cur.if_missing {
            IfMissing::Skip => return Ok(None),
            IfMissing::Try(next) => cur = next,
            IfMissing::Fail => break,
        }
    }
    if !dir.is_dir() {
        return Err(Error::Write {
            path: dir.join(&w.file),
            value: w.value.clone(),
            source: io::Error::from(io::ErrorKind::NotFound),
        });
    }
    Err(unsupported(
        &w.field,
        why_missing(&dir, &w.controller, &tried),
    ))
}

fn why_missing(dir: &Path, controller: &str, tried: &[&str]) -> String {
    let is_v2 = dir.join("cgroup.controllers").exists();
    if is_v2 && controller != "cgroup" && v2::has_controller(dir, controller).ok() == Some(false) {
        return format!(
            "the {controller} controller is not enabled for {}",
            dir.display()
        );
    }
    format!(
        "this kernel has no {} in {}",
        tried.join(" or "),
        dir.display()
    )
}

fn check_usage(check: &UsageCheck, dir: &Path) -> Result<(), Error> {
    let path = dir.join(check.usage_file);
    let text = match files::read(&path) {
        Ok(t) => t,
        // no swap accounting: nothing to compare with
        Err(e) if files::is_not_found(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    let usage: u64 = text.trim().parse().map_err(|_| Error::Parse {
        path: path.clone(),
        line: text.clone(),
    })?;
    if check.limit < usage {
        return Err(invalid(
            check.field,
            format!(
                "{} is below the current usage {usage} ({}) and memory.checkBeforeUpdate is set",
                check.limit,
                path.display()
            ),
        ));
    }
    Ok(())
}

/// Writes a group; values refused with `EINVAL` are retried once after the
/// others were written (when at least one other was).
fn write_together(group: &[(&Write, PathBuf)]) -> Result<(), Error> {
    let mut refused = Vec::new();
    for (w, path) in group {
        match files::write(path, &w.value) {
            Ok(()) => {}
            Err(e) if group.len() > 1 && e.kind() == ErrorKind::InvalidInput => {
                tracing::debug!(error = %e, "writing it again after the others");
                refused.push((w, path, e));
            }
            Err(e) => return Err(e),
        }
    }
    if refused.len() == group.len() {
        return refused
            .into_iter()
            .next()
            .map_or(Ok(()), |(_, _, e)| Err(e));
    }
    for (w, path, _) in refused {
        files::write(path, &w.value)?;
    }
    Ok(())
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
    Ok(write("devices", "devices", file, value))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::fs;

    use super::*;

    pub(crate) fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    /// A host with every controller in `mode`'s usual place.
    pub(crate) fn host(mode: Mode) -> Controllers {
        let all = [
            "cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "devices", "freezer", "hugetlb",
            "net_cls", "net_prio", "rdma",
        ];
        Controllers {
            mode,
            v1: if mode == Mode::V2 {
                Vec::new()
            } else {
                all.iter().map(|c| c.to_string()).collect()
            },
            unified: Vec::new(),
        }
    }

    /// A plan's writes as (file, value), comparable with a list of pairs.
    #[derive(Debug)]
    pub(crate) struct Writes(pub Vec<(String, String)>);

    pub(crate) fn writes(plan: &Plan) -> Writes {
        Writes(
            plan.steps
                .iter()
                .flat_map(|s| s.writes().to_vec())
                .map(|w| (w.file, w.value))
                .collect(),
        )
    }

    impl<const N: usize> PartialEq<[(&str, &str); N]> for Writes {
        fn eq(&self, other: &[(&str, &str); N]) -> bool {
            self.0.len() == N
                && self
                    .0
                    .iter()
                    .zip(other)
                    .all(|(a, b)| a.0 == b.0 && a.1 == b.1)
        }
    }

    impl std::ops::Index<usize> for Writes {
        type Output = (String, String);
        fn index(&self, i: usize) -> &Self::Output {
            &self.0[i]
        }
    }

    #[test]
    fn v1_plan_covers_memory_cpu_pids_devices_in_order() {
        let r = res(r#"{
            "memory": {"limit": 104857600, "reservation": 52428800, "swap": 209715200},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
            "pids": {"limit": 32},
            "devices": [{"allow": false, "access": "rwm"},
                        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                        {"allow": true, "type": "c", "major": 136, "access": "rw"}],
            "blockIO": {}, "hugepageLimits": []
        }"#);
        let p = plan(&r, &host(Mode::V1)).unwrap();
        assert!(!p.devices_skipped);
        assert_eq!(
            writes(&p),
            [
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
            ]
        );
        assert_eq!(plan(&r, &host(Mode::Hybrid)).unwrap(), p);
    }

    #[test]
    fn v2_plan_converts_values_and_skips_devices() {
        let r = res(r#"{
            "memory": {"limit": 104857600, "reservation": 52428800, "swap": 209715200},
            "pids": {"limit": -1},
            "devices": [{"allow": false, "access": "rwm"}]
        }"#);
        let p = plan(&r, &host(Mode::V2)).unwrap();
        assert!(p.devices_skipped);
        assert_eq!(
            writes(&p),
            [
                ("memory.max", "104857600"),
                ("memory.swap.max", "104857600"),
                ("memory.low", "52428800"),
                ("pids.max", "max"),
            ]
        );
        // unlimited memory also lifts swap, where swap is accounted
        let p = plan(&res(r#"{"memory": {"limit": -1}}"#), &host(Mode::V2)).unwrap();
        assert_eq!(
            writes(&p),
            [("memory.max", "max"), ("memory.swap.max", "max")]
        );
        assert_eq!(p.steps[1].writes()[0].if_missing, IfMissing::Skip);
        let p = plan(&res(r#"{"memory": {"limit": -1}}"#), &host(Mode::V1)).unwrap();
        assert_eq!(
            writes(&p),
            [
                ("memory.limit_in_bytes", "-1"),
                ("memory.memsw.limit_in_bytes", "-1")
            ]
        );
        assert_eq!(p.steps[0].writes()[1].if_missing, IfMissing::Skip);
    }

    #[test]
    fn zero_values_are_unset_but_pids_zero_is_no_limit() {
        let r = res(r#"{"memory": {"limit": 0, "swap": 0}, "cpu": {"shares": 0, "quota": 0}}"#);
        assert!(plan(&r, &host(Mode::V1)).unwrap().steps.is_empty());
        assert!(plan(&r, &host(Mode::V2)).unwrap().steps.is_empty());
        let r = res(r#"{"pids": {"limit": 0}}"#);
        assert_eq!(
            writes(&plan(&r, &host(Mode::V1)).unwrap()),
            [("pids.max", "max")]
        );
    }

    #[test]
    fn v1_devices_start_from_deny_all() {
        let r = res(r#"{"devices": [{"allow": true, "type": "b", "major": 8, "minor": 0}]}"#);
        assert_eq!(
            writes(&plan(&r, &host(Mode::V1)).unwrap()),
            [
                ("devices.deny", "a *:* rwm"),
                ("devices.allow", "b 8:0 rwm")
            ]
        );
        for json in [
            r#"{"devices": [{"allow": true, "type": "p", "access": "rwm"}]}"#,
            r#"{"devices": [{"allow": true, "type": "c", "access": "rwx"}]}"#,
            r#"{"devices": [{"allow": true, "type": "c", "major": -5, "access": "r"}]}"#,
        ] {
            assert!(plan(&res(json), &host(Mode::V1)).is_err(), "{json}");
        }
    }

    #[test]
    fn missing_controller_names_the_field() {
        let mut h = host(Mode::V1);
        h.v1.retain(|c| c != "pids");
        let e = plan(&res(r#"{"pids": {"limit": 3}}"#), &h).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert_eq!(
            e.to_string(),
            "linux.resources.pids.limit is not supported: no cgroup hierarchy has the pids controller"
        );
    }

    /// A scratch directory standing in for a cgroup.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(files: &[&str]) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "berth-cgroups-unit-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            for f in files {
                fs::write(dir.join(f), "").unwrap();
            }
            Scratch(dir)
        }

        fn read(&self, f: &str) -> String {
            fs::read_to_string(self.0.join(f)).unwrap()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn carry_out_finds_every_file_before_writing() {
        let dir = Scratch::new(&["pids.max", "blkio.bfq.weight", "cpu.shares"]);
        let dir_of = |_: &str| Some(dir.0.clone());
        let r = res(r#"{"pids": {"limit": 4}, "blockIO": {"weight": 300}}"#);
        carry_out(&plan(&r, &host(Mode::V1)).unwrap(), dir_of).unwrap();
        assert_eq!(dir.read("pids.max"), "4");
        assert_eq!(
            dir.read("blkio.bfq.weight"),
            "300",
            "the BFQ file is the fallback"
        );

        let r = res(r#"{"pids": {"limit": 5}, "cpu": {"shares": 5, "idle": 1}}"#);
        let e = carry_out(&plan(&r, &host(Mode::V1)).unwrap(), dir_of).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert_eq!(
            e.to_string(),
            format!(
                "linux.resources.cpu.idle is not supported: this kernel has no cpu.idle in {}",
                dir.0.display()
            )
        );
        assert_eq!(dir.read("pids.max"), "4", "nothing is written on error");
        assert_eq!(dir.read("cpu.shares"), "");

        // a 0 for cpu.idle on a kernel without it asks for nothing
        let r = res(r#"{"cpu": {"shares": 5, "idle": 0}}"#);
        carry_out(&plan(&r, &host(Mode::V1)).unwrap(), dir_of).unwrap();
        assert_eq!(dir.read("cpu.shares"), "5");

        let r = res(r#"{"blockIO": {"leafWeight": 300}}"#);
        let e = carry_out(&plan(&r, &host(Mode::V1)).unwrap(), dir_of).unwrap_err();
        assert!(
            e.to_string()
                .contains("this kernel has no blkio.leaf_weight"),
            "{e}"
        );
        let none = |_: &str| None;
        let e = carry_out(
            &plan(&res(r#"{"pids": {"limit": 1}}"#), &host(Mode::V1)).unwrap(),
            none,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("linux.resources.pids.limit is not supported"),
            "{e}"
        );
    }

    #[test]
    fn check_before_update_refuses_limits_below_usage() {
        let dir = Scratch::new(&["memory.max", "memory.current"]);
        fs::write(dir.0.join("memory.current"), "5000\n").unwrap();
        let dir_of = |_: &str| Some(dir.0.clone());
        let r = res(r#"{"memory": {"limit": 4096, "checkBeforeUpdate": true}}"#);
        let e = carry_out(&plan(&r, &host(Mode::V2)).unwrap(), dir_of).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(
            e.to_string().contains("below the current usage 5000"),
            "{e}"
        );
        assert_eq!(dir.read("memory.max"), "");
        let r = res(r#"{"memory": {"limit": 8192, "checkBeforeUpdate": true}}"#);
        carry_out(&plan(&r, &host(Mode::V2)).unwrap(), dir_of).unwrap();
        assert_eq!(dir.read("memory.max"), "8192");
    }
}
