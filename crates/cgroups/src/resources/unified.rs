//! `linux.resources.unified`: cgroup v2 files written verbatim, after the
//! fields above (so they can override them), as runc does. Only on cgroup
//! v2 hosts: a hybrid host's unified hierarchy is not where the limits are.

use oci_spec::runtime::LinuxResources;

use super::{invalid, write, Plan, Step};
use crate::{Error, Mode};

const FIELD: &str = "unified";

pub(super) fn plan(res: &LinuxResources, mode: Mode, plan: &mut Plan) -> Result<(), Error> {
    let Some(map) = res.unified().as_ref().filter(|m| !m.is_empty()) else {
        return Ok(());
    };
    if mode != Mode::V2 {
        return Err(invalid(
            FIELD,
            format!("unified resources need cgroup v2, and this host is {mode:?}"),
        ));
    }
    let mut keys: Vec<_> = map.iter().collect();
    keys.sort_by(|a, b| a.0.cmp(b.0));
    for (key, value) in keys {
        // A file name of the cgroup's own directory: `memory.high`,
        // `cgroup.freeze`; the part before the dot names the controller.
        let controller = match key.split_once('.') {
            Some((c, rest)) if !c.is_empty() && !rest.is_empty() => c,
            _ => return Err(invalid(FIELD, format!("{key:?} is not a cgroup file name"))),
        };
        if key.contains('/') || key.contains("..") || key.contains('\0') {
            return Err(invalid(
                FIELD,
                format!("{key:?} is not a file of the cgroup"),
            ));
        }
        plan.steps.push(Step::One(write(
            &format!("unified[{key:?}]"),
            controller,
            key,
            value,
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{host, res, writes};
    use crate::{ErrorKind, Mode};

    #[test]
    fn verbatim_on_v2_only_with_checked_keys() {
        let r = res(
            r#"{"unified": {"memory.high": "50000000", "pids.max": "9"}, "pids": {"limit": 5}}"#,
        );
        let p = super::super::plan(&r, &host(Mode::V2)).unwrap();
        assert_eq!(
            writes(&p),
            [
                ("pids.max", "5"),
                ("memory.high", "50000000"),
                ("pids.max", "9")
            ]
        );
        for mode in [Mode::V1, Mode::Hybrid] {
            let e = super::super::plan(&r, &host(mode)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            assert!(
                e.to_string().contains("unified resources need cgroup v2"),
                "{e}"
            );
        }
        for key in ["../memory.max", "a/b.c", "memory", ".max", "x..y"] {
            let r = res(&format!(r#"{{"unified": {{"{key}": "1"}}}}"#));
            let e = super::super::plan(&r, &host(Mode::V2)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{key}");
        }
    }
}
