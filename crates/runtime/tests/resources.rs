//! `linux.resources` reach the container's cgroup (read back from the host
//! side of cgroupfs), and a process inside cannot escape them.

mod common;

use std::fs;

use common::*;
use serde_json::json;

/// The value of `file` in the first hierarchy that has it for `bundle`.
fn cgroup_file(b: &Bundle, file: &str) -> String {
    CgroupParent::dirs_of(&b.cgroup_path())
        .iter()
        .map(|d| d.join(file))
        .find(|p| p.exists())
        .map(|p| fs::read_to_string(p).unwrap().trim().to_owned())
        .unwrap_or_else(|| panic!("no {file} for {}", b.cgroup_path()))
}

fn running_with(rt: &Runtime, resources: serde_json::Value) -> Bundle {
    let mut b = Bundle::new(rt);
    b.config_mut()["linux"]["resources"] = resources;
    b.set_args(&["sleep", "1000"]);
    rt.run_detached(&b).ok();
    b
}

#[test]
fn memory_and_pids_limits_are_written() {
    require_root!();
    let rt = runtime();
    let b = running_with(
        &rt,
        json!({
            "devices": [{ "allow": false, "access": "rwm" }],
            "memory": { "limit": 67108864 },
            "pids": { "limit": 64 }
        }),
    );
    let is_v1 = CgroupParent::dirs_of(&b.cgroup_path())
        .iter()
        .any(|d| d.join("memory.limit_in_bytes").exists());
    if is_v1 {
        assert_eq!(cgroup_file(&b, "memory.limit_in_bytes"), "67108864");
    } else {
        assert_eq!(cgroup_file(&b, "memory.max"), "67108864");
    }
    assert_eq!(cgroup_file(&b, "pids.max"), "64");
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.config_mut()["linux"]["resources"]["pids"] = json!({ "limit": 10 });
    // ash exits when a fork fails, so fork from a subshell; count with
    // builtins only, since at the limit nothing can fork.
    b.set_script(
        "(i=0; while [ $i -lt 20 ]; do sleep 100 & i=$((i+1)); done) 2>/dev/null; \
         set -- /proc/[0-9]*; echo $#; exit 0",
    );
    let out = rt.run(&b).ok();
    let n: u32 = out
        .stdout
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{out}"));
    assert!((5..=10).contains(&n), "{n} processes with pids.max=10");
}

#[test]
fn cpu_shares_are_written() {
    require_root!();
    let rt = runtime();
    let b = running_with(
        &rt,
        json!({
            "devices": [{ "allow": false, "access": "rwm" }],
            "cpu": { "shares": 512, "quota": 50000, "period": 100000 }
        }),
    );
    let dirs = CgroupParent::dirs_of(&b.cgroup_path());
    if dirs.iter().any(|d| d.join("cpu.shares").exists()) {
        assert_eq!(cgroup_file(&b, "cpu.shares"), "512");
        assert_eq!(cgroup_file(&b, "cpu.cfs_quota_us"), "50000");
        assert_eq!(cgroup_file(&b, "cpu.cfs_period_us"), "100000");
    } else {
        assert_eq!(cgroup_file(&b, "cpu.max"), "50000 100000");
    }
}
