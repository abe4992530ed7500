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

/// The `level: warning` lines of a `--log-format json` log.
fn warnings(log: &std::path::Path) -> Vec<String> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["level"] == "warning")
        .map(|l| l["msg"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// `memory.kernel` and `memory.kernelTCP` (kernel memory limits the kernel
/// dropped) are ignored with a warning in the log, as runc 1.2 and crun do,
/// so the configs of older clients run; the other limits still apply. The
/// same for `update --kernel-memory` / `--kernel-memory-tcp`.
#[test]
fn kernel_memory_limits_are_ignored_with_a_warning() {
    require_root!();
    let rt = runtime();
    let dir = TempDir::new("berth-log").unwrap();
    let log = dir.path().join("log.json");
    let log_args = ["--log", log.to_str().unwrap(), "--log-format", "json"];
    let mut b = Bundle::new(&rt);
    b.config_mut()["linux"]["resources"]["memory"] =
        json!({ "limit": 67108864, "kernel": 33554432, "kernelTCP": 16777216 });
    b.set_args(&["sleep", "1000"]);
    let run = [
        &log_args[..],
        &["run", "-d", "--bundle", b.path().to_str().unwrap(), b.id()],
    ]
    .concat();
    rt.cmd(&run).ok();
    let limit = ["memory.limit_in_bytes", "memory.max"]
        .iter()
        .find_map(|f| {
            CgroupParent::dirs_of(&b.cgroup_path())
                .iter()
                .map(|d| d.join(f))
                .find(|p| p.exists())
        })
        .map(|p| fs::read_to_string(p).unwrap().trim().to_owned());
    assert_eq!(limit.as_deref(), Some("67108864"));
    // runc 1.1 ignores the fields without a word; runc 1.2 warns.
    let berth = rt.is_berth();
    let kernel_warnings = || {
        warnings(&log)
            .into_iter()
            .filter(|w| w.to_lowercase().contains("kernel memory"))
            .count()
    };
    if berth {
        assert_eq!(kernel_warnings(), 1, "{:?}", fs::read_to_string(&log));
    }
    let update = [
        &log_args[..],
        &[
            "update",
            "--kernel-memory",
            "64m",
            "--kernel-memory-tcp",
            "-1",
            b.id(),
        ],
    ]
    .concat();
    rt.cmd(&update).ok();
    if berth {
        assert_eq!(kernel_warnings(), 2, "{:?}", fs::read_to_string(&log));
    }
    assert_eq!(rt.state(b.id())["status"], "running");
}
