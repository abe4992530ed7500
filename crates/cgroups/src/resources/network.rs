//! `linux.resources.network`: v1 `net_cls.classid` and
//! `net_prio.ifpriomap`, when those hierarchies are mounted. cgroup v2 has
//! neither (it classifies traffic with eBPF instead).

use oci_spec::runtime::LinuxResources;

use super::{invalid, unsupported, write, Controllers, Plan, Step, Version};
use crate::Error;

pub(super) fn plan(res: &LinuxResources, host: &Controllers, plan: &mut Plan) -> Result<(), Error> {
    let Some(n) = res.network() else {
        return Ok(());
    };
    let priorities = n.priorities().as_deref().unwrap_or_default();
    let v2 = "cgroup v2 has no net_cls/net_prio controllers";
    if let Some(id) = n.class_id() {
        let field = "network.classID";
        match host.require(field, "net_cls")? {
            Version::V1 => {
                plan.steps
                    .push(Step::One(write(field, "net_cls", "net_cls.classid", id)))
            }
            Version::V2 => return Err(unsupported(field, v2)),
        }
    }
    let field = "network.priorities";
    if !priorities.is_empty() && host.require(field, "net_prio")? == Version::V2 {
        return Err(unsupported(field, v2));
    }
    for p in priorities {
        if p.name().is_empty() || p.name().contains(char::is_whitespace) {
            return Err(invalid(
                "network.priorities",
                format!("invalid interface name {:?}", p.name()),
            ));
        }
        plan.steps.push(Step::One(write(
            field,
            "net_prio",
            "net_prio.ifpriomap",
            format!("{} {}", p.name(), p.priority()),
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{host, res, writes};
    use crate::Mode;

    #[test]
    fn v1_files_and_v2_refusal() {
        let r = res(
            r#"{"network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]}}"#,
        );
        assert_eq!(
            writes(&super::super::plan(&r, &host(Mode::V1)).unwrap()),
            [
                ("net_cls.classid", "1048577"),
                ("net_prio.ifpriomap", "eth0 5")
            ]
        );
        let e = super::super::plan(&r, &host(Mode::V2)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.network.classID is not supported: cgroup v2 has no net_cls/net_prio controllers"
        );
        let mut h = host(Mode::Hybrid);
        h.v1.retain(|c| c != "net_cls");
        let e = super::super::plan(&r, &h).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.network.classID is not supported: no cgroup hierarchy has the net_cls controller"
        );
    }
}
