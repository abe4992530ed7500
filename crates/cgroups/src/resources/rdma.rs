//! `linux.resources.rdma`: `rdma.max` lines (`<device> hca_handle=N
//! hca_object=M`), the same on v1 and v2.

use oci_spec::runtime::LinuxResources;

use super::{invalid, write, Controllers, Plan, Step};
use crate::Error;

const FIELD: &str = "rdma";

pub(super) fn plan(res: &LinuxResources, host: &Controllers, plan: &mut Plan) -> Result<(), Error> {
    let Some(map) = res.rdma().as_ref().filter(|m| !m.is_empty()) else {
        return Ok(());
    };
    host.require(FIELD, "rdma")?;
    let mut devices: Vec<_> = map.iter().collect();
    devices.sort_by(|a, b| a.0.cmp(b.0));
    for (dev, limits) in devices {
        if dev.is_empty() || dev.contains(char::is_whitespace) {
            return Err(invalid(FIELD, format!("invalid device name {dev:?}")));
        }
        let mut line = dev.clone();
        if let Some(h) = limits.hca_handles() {
            line.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = limits.hca_objects() {
            line.push_str(&format!(" hca_object={o}"));
        }
        if line == *dev {
            continue;
        }
        plan.steps
            .push(Step::One(write(FIELD, "rdma", "rdma.max", line)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{host, res, writes};
    use crate::Mode;

    #[test]
    fn rdma_max_lines() {
        let r = res(
            r#"{"rdma": {"mlx5_1": {"hcaHandles": 3}, "mlx4_0": {"hcaHandles": 2, "hcaObjects": 100}}}"#,
        );
        assert_eq!(
            writes(&super::super::plan(&r, &host(Mode::V2)).unwrap()),
            [
                ("rdma.max", "mlx4_0 hca_handle=2 hca_object=100"),
                ("rdma.max", "mlx5_1 hca_handle=3")
            ]
        );
        let mut h = host(Mode::V1);
        h.v1.retain(|c| c != "rdma");
        assert!(super::super::plan(&r, &h)
            .unwrap_err()
            .to_string()
            .contains("rdma controller"));
    }
}
