//! `linux.resources.memory`: v1 `memory.*_in_bytes`, `memory.swappiness`,
//! `memory.oom_control`, `memory.use_hierarchy`; v2 `memory.max`,
//! `memory.swap.max`, `memory.low`.

use oci_spec::runtime::{LinuxMemory, LinuxResources};

use super::{
    invalid, nonzero, unsupported, v2_limit, write, Controllers, Plan, Step, UsageCheck, Version,
};
use crate::Error;

pub(super) fn plan(res: &LinuxResources, host: &Controllers, plan: &mut Plan) -> Result<(), Error> {
    let Some(m) = res.memory() else { return Ok(()) };
    if !is_set(m) {
        return Ok(());
    }
    match host.require("memory", "memory")? {
        Version::V1 => v1(m, plan),
        Version::V2 => v2(m, plan),
    }
}

/// Anything to write (or to refuse). `memory.kernel` and
/// `memory.kernelTCP` are not: they set kernel memory limits that Linux
/// 5.16 stopped enforcing (and 6.x removed), so, as runc 1.2 and crun do,
/// nothing is written for them (kernel memory counts in `memory.limit`);
/// the runtime warns when a config sets them.
/// `disableOOMKiller: false` is what Docker always sends: on v2 it asks for
/// nothing.
fn is_set(m: &LinuxMemory) -> bool {
    nonzero(m.limit()).is_some()
        || nonzero(m.swap()).is_some()
        || nonzero(m.reservation()).is_some()
        || m.swappiness().is_some()
        || m.disable_oom_killer().is_some()
        || m.use_hierarchy().is_some()
}

fn check_before_update(m: &LinuxMemory) -> bool {
    m.check_before_update() == Some(true)
}

fn v1(m: &LinuxMemory, plan: &mut Plan) -> Result<(), Error> {
    let limit = nonzero(m.limit());
    let swap = nonzero(m.swap());
    let limit_w = limit.map(|l| write("memory.limit", "memory", "memory.limit_in_bytes", l));
    // runc: an unlimited memory without an explicit swap also lifts the
    // memory+swap limit, when the kernel accounts swap.
    let swap_w = match (swap, limit) {
        (Some(s), _) => Some(write(
            "memory.swap",
            "memory",
            "memory.memsw.limit_in_bytes",
            s,
        )),
        (None, Some(-1)) => {
            Some(write("memory.swap", "memory", "memory.memsw.limit_in_bytes", -1).optional())
        }
        _ => None,
    };
    match (limit_w, swap_w) {
        (Some(l), Some(s)) => plan.steps.push(Step::Together(vec![l, s])),
        (Some(w), None) | (None, Some(w)) => plan.steps.push(Step::One(w)),
        (None, None) => {}
    }
    if check_before_update(m) {
        if let Some(l) = limit.filter(|l| *l > 0) {
            plan.checks.push(UsageCheck {
                field: "memory.limit",
                usage_file: "memory.usage_in_bytes",
                limit: l as u64,
            });
        }
        if let Some(s) = swap.filter(|s| *s > 0) {
            plan.checks.push(UsageCheck {
                field: "memory.swap",
                usage_file: "memory.memsw.usage_in_bytes",
                limit: s as u64,
            });
        }
    }
    if let Some(r) = nonzero(m.reservation()) {
        plan.steps.push(Step::One(write(
            "memory.reservation",
            "memory",
            "memory.soft_limit_in_bytes",
            r,
        )));
    }
    if let Some(s) = m.swappiness() {
        // runc: -1 (as an unsigned 64-bit value) leaves it alone.
        if s != u64::MAX {
            if s > 100 {
                return Err(invalid(
                    "memory.swappiness",
                    format!("{s} is out of range 0-100"),
                ));
            }
            plan.steps.push(Step::One(write(
                "memory.swappiness",
                "memory",
                "memory.swappiness",
                s,
            )));
        }
    }
    if let Some(disable) = m.disable_oom_killer() {
        // `false` is written too, so that an update can turn the killer back on.
        plan.steps.push(Step::One(write(
            "memory.disableOOMKiller",
            "memory",
            "memory.oom_control",
            u8::from(disable),
        )));
    }
    if let Some(h) = m.use_hierarchy() {
        plan.steps.push(Step::One(write(
            "memory.useHierarchy",
            "memory",
            "memory.use_hierarchy",
            u8::from(h),
        )));
    }
    Ok(())
}

fn v2(m: &LinuxMemory, plan: &mut Plan) -> Result<(), Error> {
    if m.swappiness().is_some_and(|s| s != 0 && s != u64::MAX) {
        return Err(unsupported(
            "memory.swappiness",
            "cgroup v2 has no per-cgroup swappiness",
        ));
    }
    if m.disable_oom_killer() == Some(true) {
        return Err(unsupported(
            "memory.disableOOMKiller",
            "cgroup v2 cannot disable the OOM killer",
        ));
    }
    if m.use_hierarchy() == Some(false) {
        return Err(unsupported(
            "memory.useHierarchy",
            "cgroup v2 is always hierarchical",
        ));
    }
    let limit = nonzero(m.limit());
    let swap = swap_v2(nonzero(m.swap()), limit)?;
    if let Some(limit) = limit {
        plan.steps.push(Step::One(write(
            "memory.limit",
            "memory",
            "memory.max",
            v2_limit(limit),
        )));
    }
    if let Some(swap) = swap {
        let w = write("memory.swap", "memory", "memory.swap.max", v2_limit(swap));
        // Lifting the swap limit along with the memory limit only matters
        // when the kernel accounts swap.
        let w = if nonzero(m.swap()).is_none() {
            w.optional()
        } else {
            w
        };
        plan.steps.push(Step::One(w));
    }
    if check_before_update(m) {
        if let Some(l) = limit.filter(|l| *l > 0) {
            plan.checks.push(UsageCheck {
                field: "memory.limit",
                usage_file: "memory.current",
                limit: l as u64,
            });
        }
        if let Some(s) = swap.filter(|s| *s >= 0) {
            plan.checks.push(UsageCheck {
                field: "memory.swap",
                usage_file: "memory.swap.current",
                limit: s as u64,
            });
        }
    }
    if let Some(r) = nonzero(m.reservation()) {
        plan.steps.push(Step::One(write(
            "memory.reservation",
            "memory",
            "memory.low",
            v2_limit(r),
        )));
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

#[cfg(test)]
mod tests {
    use super::super::tests::{host, res, writes};
    use super::*;
    use crate::Mode;

    #[test]
    fn v1_memory_fields() {
        let r = res(r#"{"memory": {"limit": 100, "swap": 200, "reservation": 50,
            "swappiness": 10, "disableOOMKiller": true, "useHierarchy": true}}"#);
        let p = super::super::plan(&r, &host(Mode::V1)).unwrap();
        assert_eq!(
            writes(&p),
            [
                ("memory.limit_in_bytes", "100"),
                ("memory.memsw.limit_in_bytes", "200"),
                ("memory.soft_limit_in_bytes", "50"),
                ("memory.swappiness", "10"),
                ("memory.oom_control", "1"),
                ("memory.use_hierarchy", "1"),
            ]
        );
        assert!(matches!(p.steps[0], Step::Together(_)));
        let e = super::super::plan(&res(r#"{"memory": {"swappiness": 101}}"#), &host(Mode::V1))
            .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
    }

    #[test]
    fn v2_memory_fields_and_refusals() {
        let r = res(r#"{"memory": {"limit": 100, "swap": 300, "reservation": 50,
            "swappiness": 0, "disableOOMKiller": false, "useHierarchy": true}}"#);
        let p = super::super::plan(&r, &host(Mode::V2)).unwrap();
        assert_eq!(
            writes(&p),
            [
                ("memory.max", "100"),
                ("memory.swap.max", "200"),
                ("memory.low", "50"),
            ]
        );
        for (json, field) in [
            (r#"{"memory": {"swappiness": 10}}"#, "memory.swappiness"),
            (
                r#"{"memory": {"disableOOMKiller": true}}"#,
                "memory.disableOOMKiller",
            ),
            (
                r#"{"memory": {"useHierarchy": false}}"#,
                "memory.useHierarchy",
            ),
        ] {
            let e = super::super::plan(&res(json), &host(Mode::V2)).unwrap_err();
            assert!(
                e.to_string()
                    .starts_with(&format!("linux.resources.{field} is not supported: ")),
                "{e}"
            );
        }
    }

    #[test]
    fn kernel_memory_is_ignored() {
        // The kernel dropped kmem limits; runc >= 1.2 and crun ignore them
        // (the runtime logs the warning): nothing is planned or refused.
        for mode in [Mode::V1, Mode::V2] {
            for json in [
                r#"{"memory": {"kernel": 1000}}"#,
                r#"{"memory": {"kernelTCP": 1}}"#,
                r#"{"memory": {"kernel": 0}}"#,
            ] {
                let p = super::super::plan(&res(json), &host(mode)).unwrap();
                assert!(p.steps.is_empty(), "{json}: {:?}", p.steps);
            }
            let p = super::super::plan(
                &res(r#"{"memory": {"kernel": 1000, "limit": 1048576}}"#),
                &host(mode),
            )
            .unwrap();
            assert_eq!(
                p.steps.len(),
                1,
                "only the memory limit is written: {:?}",
                p.steps
            );
        }
    }

    #[test]
    fn check_before_update_adds_usage_checks() {
        let r = res(r#"{"memory": {"limit": 100, "swap": 300, "checkBeforeUpdate": true}}"#);
        let p = super::super::plan(&r, &host(Mode::V2)).unwrap();
        assert_eq!(
            p.checks,
            [
                UsageCheck {
                    field: "memory.limit",
                    usage_file: "memory.current",
                    limit: 100
                },
                UsageCheck {
                    field: "memory.swap",
                    usage_file: "memory.swap.current",
                    limit: 200
                },
            ]
        );
        let p = super::super::plan(&r, &host(Mode::V1)).unwrap();
        assert_eq!(p.checks[0].usage_file, "memory.usage_in_bytes");
        assert_eq!(p.checks[1].limit, 300);
    }

    #[test]
    fn bad_swap_is_invalid_on_v2() {
        let r = res(r#"{"memory": {"limit": 200, "swap": 100}}"#);
        let e = super::super::plan(&r, &host(Mode::V2)).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "{e}");
        let r = res(r#"{"memory": {"swap": 100}}"#);
        assert!(super::super::plan(&r, &host(Mode::V2)).is_err());
    }
}
