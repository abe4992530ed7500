//! CPU limits the kernel enforces, measured from the host: a CFS quota caps
//! a spinning container, cpu.shares (cpu.weight on v2) split a contended
//! CPU, a cpuset restricts where the container runs, and `update` moves
//! each of them while the container runs.
//!
//! The two measuring tests (`*_measured`) spin for a few seconds each. They
//! pin their containers to different CPUs (the quota test to the last CPU,
//! the shares test to CPU 0) so they do not disturb each other when libtest
//! runs them side by side, and `.config/nextest.toml` puts them in a
//! one-at-a-time test group.

mod common;

use std::fs;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// The program both measuring tests run: an ash loop of builtins, so it
/// never forks and is always runnable.
const SPIN: &[&str] = &["sh", "-c", "while :; do :; done"];

/// How long one measurement lasts.
const WINDOW: Duration = Duration::from_secs(3);

/// The shares test cuts its measurement into this many windows and takes
/// the median split: on an emulated guest, a vCPU the host does not run
/// for a while charges that time to whichever task was current, and the
/// scheduler pays it back later; the median leaves such a window out.
const SPLIT_WINDOWS: u32 = 6;

/// The highest CPU number this process may use (1 on a 2-CPU host).
fn last_cpu() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) - 1
}

/// A running container spinning with `linux.resources.cpu = cpu`.
fn spinner(rt: &Runtime, cpu: Value, sibling_of: Option<&Bundle>) -> Bundle {
    let mut b = Bundle::new(rt);
    b.config_mut()["linux"]["resources"]["cpu"] = cpu;
    b.set_args(SPIN);
    if let Some(other) = sibling_of {
        b.share_cgroup_parent(other);
    }
    rt.run_detached(&b).ok();
    let pid = rt.state(b.id())["pid"].as_u64().expect("pid") as u32;
    wait_for_exec(pid, SPIN);
    b
}

/// Gives the test's own cgroup parent of `b` the highest CPU weight
/// (cpu.shares 262144 on v1, cpu.weight 10000 on v2), so that the
/// containers under it win their CPU from whatever else runs there (other
/// tests, the runtime starting their containers): what is left to see is
/// the limit under test, not the contention.
fn boost_parent(b: &Bundle) {
    let parent = b.cgroup_parent().path();
    let (file, value) = if cgroup_v2() {
        ("cpu.weight", "10000")
    } else {
        ("cpu.shares", "262144")
    };
    let path = CgroupParent::file_of(&parent, file)
        .unwrap_or_else(|| panic!("no {file} for the test's cgroup parent {parent}"));
    fs::write(&path, value).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// The counters of `cgroups` read at (nearly) one instant: in order, then
/// in reverse, averaging each counter's two readings. Both averages are
/// centred on the same moment, so a delay of this thread between the
/// reads (a loaded machine) does not give one cgroup a longer window.
fn sample(counters: &[CpuUsage]) -> Vec<Duration> {
    let forward: Vec<Duration> = counters.iter().map(CpuUsage::read).collect();
    let backward: Vec<Duration> = counters.iter().rev().map(CpuUsage::read).collect();
    forward
        .iter()
        .zip(backward.iter().rev())
        .map(|(a, b)| (*a + *b) / 2)
        .collect()
}

/// CPU time each of `counters` counted during one `window` of wall time,
/// and the wall time it really took.
fn measure(counters: &[CpuUsage], window: Duration) -> (Vec<Duration>, Duration) {
    let start = Instant::now();
    let before = sample(counters);
    sleep(window);
    let after = sample(counters);
    let wall = start.elapsed();
    let used = after.iter().zip(&before).map(|(a, b)| *a - *b).collect();
    (used, wall)
}

/// Percentage of `part` in `whole`.
fn percent(part: Duration, whole: Duration) -> f64 {
    100.0 * part.as_secs_f64() / whole.as_secs_f64()
}

/// The `Cpus_allowed_list` of process `pid` (a `/proc/<pid>/status` line).
fn cpus_allowed(status: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no Cpus_allowed_list in:\n{status}"))
}

fn pid_of(rt: &Runtime, b: &Bundle) -> u32 {
    rt.state(b.id())["pid"].as_u64().expect("pid in state") as u32
}

/// The relative CPU weight the kernel holds for `cgroup`: `cpu.shares` on
/// v1, `cpu.weight` on v2 (where the runtime converted OCI shares with
/// runc's formula: 512 → 20, 1024 → 39).
fn cpu_weight(cgroup: &str) -> f64 {
    let file = if cgroup_v2() {
        "cpu.weight"
    } else {
        "cpu.shares"
    };
    let v = CgroupParent::read_file(cgroup, file);
    v.parse()
        .unwrap_or_else(|_| panic!("{file} of {cgroup}: {v:?}"))
}

/// A CFS quota of 50 ms per 100 ms period holds a spinning container to
/// half a CPU: its cgroup's CPU time over 3 s of wall time is 50% ± 10%.
///
/// The container's cgroup parent gets the top CPU weight, so other load
/// on that CPU does not starve it below its quota. Load can only lower the
/// reading anyway (the quota is a cap, not a guarantee), so a reading under
/// the band is measured once more before failing; one over it fails at
/// once.
#[test]
fn quota_half_cpu_measured() {
    require_root!();
    let rt = runtime();
    let cpu = last_cpu().to_string();
    let b = spinner(
        &rt,
        json!({ "quota": 50000, "period": 100000, "cpus": cpu }),
        None,
    );
    boost_parent(&b);
    // Let the loop run a few periods before the window opens.
    sleep(Duration::from_millis(300));
    let mut readings = Vec::new();
    for _ in 0..2 {
        let (used, wall) = measure(&[CpuUsage::of(&b.cgroup_path())], WINDOW);
        let pct = percent(used[0], wall);
        eprintln!("quota 0.5 CPU: {pct:.1}% of a CPU over {wall:?}");
        readings.push(pct);
        assert!(
            pct <= 55.0,
            "quota 0.5 CPU, measured {pct:.1}% over {wall:?}: the cap does not hold"
        );
        if pct >= 45.0 {
            return;
        }
    }
    panic!("quota 0.5 CPU, measured {readings:.1?}% (want 45..55%): starved or throttled too hard");
}

/// Two spinning containers pinned to CPU 0, siblings under one cgroup
/// parent, with cpu.shares 512 and 1024 (weights 20 and 39 on v2), split
/// CPU 0 as their weights say: A's part of the pair's CPU time over 3 s is
/// 33.3% ± 3 points (33.9% on v2, from the converted weights). After
/// `update --cpu-share 1024` on A the split moves to 50% ± 3.
///
/// The test measures the ratio between the two containers, not each one's
/// part of the CPU: other load on CPU 0 (tests running in parallel)
/// competes with their common parent, so it takes time from the pair as a
/// whole and leaves usage_a / (usage_a + usage_b) where the weights put
/// it (their parent gets the top CPU weight as well, so that other load
/// cuts in rarely). The shared parent matters: shares only divide time
/// between siblings, so containers under two different parents would get
/// 1:1. The split is the median of six 0.5 s windows (see
/// [`SPLIT_WINDOWS`]).
#[test]
fn shares_split_cpu_measured() {
    require_root!();
    let rt = runtime();
    let pinned = |shares: u64| json!({ "shares": shares, "cpus": "0" });
    let a = spinner(&rt, pinned(512), None);
    let b = spinner(&rt, pinned(1024), Some(&a));
    let cgroups = [a.cgroup_path(), b.cgroup_path()];
    let counters = [CpuUsage::of(&cgroups[0]), CpuUsage::of(&cgroups[1])];

    boost_parent(&a);

    let check_split = |what: &str| {
        let (wa, wb) = (cpu_weight(&cgroups[0]), cpu_weight(&cgroups[1]));
        let want = 100.0 * wa / (wa + wb);
        sleep(Duration::from_millis(300));
        let mut splits: Vec<f64> = (0..SPLIT_WINDOWS)
            .map(|_| {
                let (used, _) = measure(&counters, WINDOW / SPLIT_WINDOWS);
                percent(used[0], used[0] + used[1])
            })
            .collect();
        splits.sort_by(f64::total_cmp);
        let got = splits[SPLIT_WINDOWS as usize / 2];
        eprintln!("{what}: A {got:.1}% (want {want:.1}%), windows {splits:.1?}");
        assert!(
            (got - want).abs() <= 3.0,
            "{what}: weights {wa}:{wb}, A got {got:.1}% of the pair's CPU time \
             (want {want:.1}% ± 3); sorted windows {splits:.1?}"
        );
        want
    };

    let want = check_split("shares 512:1024");
    assert!((want - 33.3).abs() < 1.0, "weights for 1:2 give {want:.1}%");

    rt.cmd(&["update", "--cpu-share", "1024", a.id()]).ok();
    let want = check_split("after update --cpu-share 1024 on A");
    assert!((want - 50.0).abs() < 0.1, "equal weights give {want:.1}%");
}

/// `cpu.cpus` restricts the container to the CPUs it names: the
/// `Cpus_allowed_list` the container reads from /proc/self/status is the
/// configured set.
#[test]
fn cpuset_restricts_the_container() {
    require_root!();
    let rt = runtime();
    let cpu = last_cpu().to_string();
    let mut b = Bundle::new(&rt);
    b.config_mut()["linux"]["resources"]["cpu"] = json!({ "cpus": cpu, "mems": "0" });
    b.set_args(&["cat", "/proc/self/status"]);
    let out = rt.run(&b).ok();
    assert_eq!(cpus_allowed(&out.stdout), cpu, "{out}");
}

/// `update --cpu-quota/--cpu-period` rewrites the CFS bandwidth of a
/// running container (`cpu.cfs_quota_us`/`cpu.cfs_period_us` on v1,
/// `cpu.max` on v2).
#[test]
fn update_cpu_quota_live() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.config_mut()["linux"]["resources"]["cpu"] = json!({ "quota": 50000, "period": 100000 });
    b.set_args(&["sleep", "1000"]);
    rt.run_detached(&b).ok();
    rt.cmd(&[
        "update",
        "--cpu-quota",
        "20000",
        "--cpu-period",
        "50000",
        b.id(),
    ])
    .ok();
    let cg = b.cgroup_path();
    if cgroup_v2() {
        assert_eq!(CgroupParent::read_file(&cg, "cpu.max"), "20000 50000");
    } else {
        assert_eq!(CgroupParent::read_file(&cg, "cpu.cfs_quota_us"), "20000");
        assert_eq!(CgroupParent::read_file(&cg, "cpu.cfs_period_us"), "50000");
    }
    // -1 lifts the cap again.
    rt.cmd(&["update", "--cpu-quota", "-1", b.id()]).ok();
    if cgroup_v2() {
        assert_eq!(CgroupParent::read_file(&cg, "cpu.max"), "max 50000");
    } else {
        assert_eq!(CgroupParent::read_file(&cg, "cpu.cfs_quota_us"), "-1");
    }
}

/// `update --cpu-share` rewrites a running container's weight:
/// `cpu.shares` on v1, `cpu.weight` converted with runc's formula on v2
/// (256 → 10, 2048 → 79). Its effect on a CPU split is measured by
/// `shares_split_cpu_measured`.
#[test]
fn update_cpu_shares_live() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.config_mut()["linux"]["resources"]["cpu"] = json!({ "shares": 256 });
    b.set_args(&["sleep", "1000"]);
    rt.run_detached(&b).ok();
    let cg = b.cgroup_path();
    let (before, after) = if cgroup_v2() {
        (10.0, 79.0)
    } else {
        (256.0, 2048.0)
    };
    assert_eq!(cpu_weight(&cg), before);
    rt.cmd(&["update", "--cpu-share", "2048", b.id()]).ok();
    assert_eq!(cpu_weight(&cg), after);
}

/// `update --cpuset-cpus` moves a running container to other CPUs: the
/// cgroup's `cpuset.cpus` and the `Cpus_allowed_list` of its init (read
/// from the host) follow.
#[test]
fn update_cpuset_live() {
    require_root!();
    let rt = runtime();
    if last_cpu() == 0 {
        skipped("update_cpuset_live: needs two CPUs to move between");
        return;
    }
    let mut b = Bundle::new(&rt);
    b.config_mut()["linux"]["resources"]["cpu"] = json!({ "cpus": "0" });
    b.set_args(&["sleep", "1000"]);
    rt.run_detached(&b).ok();
    let pid = pid_of(&rt, &b);
    let status = || fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    assert_eq!(cpus_allowed(&status()), "0");

    let last = last_cpu().to_string();
    rt.cmd(&["update", "--cpuset-cpus", &last, b.id()]).ok();
    assert_eq!(
        CgroupParent::read_file(&b.cgroup_path(), "cpuset.cpus"),
        last
    );
    assert_eq!(cpus_allowed(&status()), last);
}
