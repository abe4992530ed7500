//! `update --resources FILE|-`: a JSON `LinuxResources` (runc's format)
//! applied to a running container in one go, read back from the host.
//! Each single-flag `update` is tested beside the limit it moves
//! (limits_cpu.rs, limits_memory.rs, limits_pids.rs, limits_io.rs).

mod common;

use std::fs::{self, File};

use common::*;
use serde_json::json;

const MIB: u64 = 1 << 20;

/// The cgroup files (v1 or v2 names) and the values `resources` below
/// should leave in them: memory `mem`, cpu.shares `shares` (with runc's
/// conversion to cpu.weight on v2), quota/period 30000/100000, cpuset
/// `cpus`, pids `pids`.
fn expected(mem: u64, shares: u64, cpus: &str, pids: u64) -> Vec<(&'static str, String)> {
    if cgroup_v2() {
        let weight = 1 + (shares - 2) * 9999 / 262_142;
        vec![
            ("memory.max", mem.to_string()),
            ("cpu.weight", weight.to_string()),
            ("cpu.max", "30000 100000".to_owned()),
            ("cpuset.cpus", cpus.to_owned()),
            ("pids.max", pids.to_string()),
        ]
    } else {
        vec![
            ("memory.limit_in_bytes", mem.to_string()),
            ("cpu.shares", shares.to_string()),
            ("cpu.cfs_quota_us", "30000".to_owned()),
            ("cpu.cfs_period_us", "100000".to_owned()),
            ("cpuset.cpus", cpus.to_owned()),
            ("pids.max", pids.to_string()),
        ]
    }
}

fn resources(mem: u64, shares: u64, cpus: &str, pids: u64) -> serde_json::Value {
    json!({
        "memory": { "limit": mem },
        "cpu": { "shares": shares, "quota": 30000, "period": 100000, "cpus": cpus },
        "pids": { "limit": pids }
    })
}

#[track_caller]
fn assert_cgroup(b: &Bundle, want: &[(&str, String)], how: &str) {
    for (file, value) in want {
        assert_eq!(
            &CgroupParent::read_file(&b.cgroup_path(), file),
            value,
            "{file} after {how}"
        );
    }
}

/// `update --resources FILE` and then `update --resources -` (the JSON on
/// stdin) each set memory, cpu shares, quota, period, cpuset and pids of a
/// running container at once.
#[test]
fn update_resources_from_file_and_stdin() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_args(&["sleep", "1000"]);
    rt.run_detached(&b).ok();
    let dir = b.host_dir("update");

    let file = dir.join("resources.json");
    fs::write(&file, resources(64 * MIB, 300, "0", 42).to_string()).unwrap();
    rt.cmd(&["update", "--resources", file.to_str().unwrap(), b.id()])
        .ok();
    assert_cgroup(&b, &expected(64 * MIB, 300, "0", 42), "--resources FILE");

    // The last CPU: a move when there are two.
    let last = (std::thread::available_parallelism().map_or(1, |n| n.get()) - 1).to_string();
    let stdin = dir.join("stdin.json");
    fs::write(&stdin, resources(96 * MIB, 700, &last, 24).to_string()).unwrap();
    rt.spawn_with(&["update", "--resources", "-", b.id()], |c| {
        c.stdin(File::open(&stdin).expect("open stdin json"));
    })
    .wait()
    .ok();
    assert_cgroup(&b, &expected(96 * MIB, 700, &last, 24), "--resources -");
}
