//! `linux.resources.hugepageLimits`: v1 `hugetlb.<size>.limit_in_bytes`, v2
//! `hugetlb.<size>.max`, and the reservation limits (`.rsvd.`) beside them
//! when the kernel has them, as runc does. Which one depends on where the
//! hugetlb controller is: on hybrid hosts it is often in the unified
//! hierarchy.

use oci_spec::runtime::LinuxResources;

use super::{invalid, write, Controllers, Plan, Step, Version};
use crate::Error;

const FIELD: &str = "hugepageLimits";

pub(super) fn plan(res: &LinuxResources, host: &Controllers, plan: &mut Plan) -> Result<(), Error> {
    let limits = res.hugepage_limits().as_deref().unwrap_or_default();
    if limits.is_empty() {
        return Ok(());
    }
    let suffix = match host.require(FIELD, "hugetlb")? {
        Version::V1 => "limit_in_bytes",
        Version::V2 => "max",
    };
    for l in limits {
        let size = l.page_size();
        if size.is_empty() || !size.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(invalid(FIELD, format!("invalid page size {size:?}")));
        }
        if l.limit() < 0 {
            return Err(invalid(FIELD, format!("negative limit {}", l.limit())));
        }
        plan.steps.push(Step::Together(vec![
            write(
                FIELD,
                "hugetlb",
                &format!("hugetlb.{size}.{suffix}"),
                l.limit(),
            ),
            write(
                FIELD,
                "hugetlb",
                &format!("hugetlb.{size}.rsvd.{suffix}"),
                l.limit(),
            )
            .optional(),
        ]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{host, res, writes};
    use crate::Mode;

    #[test]
    fn files_follow_the_controllers_version() {
        let r = res(r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}"#);
        assert_eq!(
            writes(&super::super::plan(&r, &host(Mode::V1)).unwrap()),
            [
                ("hugetlb.2MB.limit_in_bytes", "4194304"),
                ("hugetlb.2MB.rsvd.limit_in_bytes", "4194304")
            ]
        );
        assert_eq!(
            writes(&super::super::plan(&r, &host(Mode::V2)).unwrap()),
            [
                ("hugetlb.2MB.max", "4194304"),
                ("hugetlb.2MB.rsvd.max", "4194304")
            ]
        );
        // hybrid with hugetlb in the unified hierarchy
        let mut h = host(Mode::Hybrid);
        h.v1.retain(|c| c != "hugetlb");
        h.unified = vec!["hugetlb".into()];
        assert_eq!(
            writes(&super::super::plan(&r, &h).unwrap())[0].0,
            "hugetlb.2MB.max"
        );
        h.unified.clear();
        let e = super::super::plan(&r, &h).unwrap_err();
        assert_eq!(e.to_string(), "linux.resources.hugepageLimits is not supported: no cgroup hierarchy has the hugetlb controller");
        let bad = res(r#"{"hugepageLimits": [{"pageSize": "../x", "limit": 1}]}"#);
        assert_eq!(
            super::super::plan(&bad, &host(Mode::V2))
                .unwrap_err()
                .kind(),
            crate::ErrorKind::InvalidInput
        );
    }
}
