//! Privileged tests of the cgroup interface on the real host: one suite that
//! runs on v1, hybrid and v2 alike through the public API, plus a few
//! mode-specific tests (gated by [`require_mode`], which prints a visible
//! `SKIPPED` line when it skips).
//!
//! Every test works under its own absolute parent `/berth-test-<pid>-<n>-<t>`
//! ([`CgroupParent`]), removed from every hierarchy on drop, even when the
//! test panics; test processes are killed on drop too.
//!
//! `BERTH_REQUIRE_CGROUP=v1|v2|hybrid` makes every test fail when the host is
//! not in that mode (so a CI job meant for v2 cannot pass on a v1 machine);
//! `CI` / `BERTH_REQUIRE_ROOT` make the root gate fail instead of skip.

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

mod common;

use berth_cgroups::{Cgroup, ErrorKind, Mode};
use berth_testutil::{require_root, skipped, CgroupParent};
use common::{container, host_mode, read, require_mode, resources};
use nix::sys::signal::Signal;

/// A `sleep` child, killed and reaped on drop.
struct Sleeper(Child);

impl Sleeper {
    fn spawn() -> Self {
        Sleeper(
            Command::new("sleep")
                .arg("1000")
                .spawn()
                .expect("spawn sleep"),
        )
    }

    fn pid(&self) -> i32 {
        self.0.id() as i32
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn existing(cg: &Cgroup) -> Vec<PathBuf> {
    cg.paths()
        .filter(|p| p.exists())
        .map(Path::to_path_buf)
        .collect()
}

/// Waits for `child` to be killed by a signal; returns the signal number.
fn wait_killed(child: &mut Sleeper) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.0.try_wait().expect("try_wait") {
            return status.signal().expect("killed by a signal");
        }
        assert!(
            Instant::now() < deadline,
            "process {} survived",
            child.pid()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn resolve_absolute_relative_and_default_paths() {
    require_root!();
    let mode = host_mode();

    let abs = Cgroup::resolve(Some("/berth-test-resolve/a/../c1"), "ignored").unwrap();
    assert_eq!(abs.mode(), mode);
    assert!(abs.paths().count() > 0);
    for p in abs.paths() {
        assert!(p.ends_with("berth-test-resolve/c1"), "{}", p.display());
        assert!(!p.exists(), "resolve must not create {}", p.display());
    }
    if mode != Mode::V1 {
        assert!(abs.unified_path().is_some());
    }
    if mode == Mode::V2 {
        assert_eq!(abs.path_of("memory").as_deref(), abs.unified_path());
    } else {
        assert!(abs.path_of("memory").is_some() && abs.path_of("memory") != abs.path_of("cpuset"));
    }

    let default = Cgroup::resolve(None, "ctr-1").unwrap();
    assert_eq!(Cgroup::resolve(Some(""), "ctr-1").unwrap(), default);
    for p in default.paths() {
        assert!(p.ends_with("berth/ctr-1"), "{}", p.display());
    }

    // Relative: below our own cgroup in each hierarchy, which lists our pid.
    let rel = Cgroup::resolve(Some("x/y"), "ignored").unwrap();
    let me = std::process::id().to_string();
    for p in rel.paths() {
        let own = p.parent().and_then(Path::parent).unwrap();
        assert!(p.ends_with("x/y"));
        assert!(
            read(own, "cgroup.procs").lines().any(|l| l == me),
            "{} is not this process's cgroup",
            own.display()
        );
    }

    for bad in ["/..", "../escape", "a/../..", "/"] {
        let e = Cgroup::resolve(Some(bad), "x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}: {e}");
    }
    assert_eq!(
        Cgroup::resolve(None, "a/b").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn create_add_pids_kill_destroy() {
    require_root!();
    host_mode();
    let parent = CgroupParent::new();
    let cg = container(&parent, "c1");
    for p in cg.paths() {
        assert!(p.is_dir(), "{} not created", p.display());
    }
    cg.create().expect("create is idempotent");

    let mut child = Sleeper::spawn();
    cg.add_process(child.pid()).unwrap();
    assert_eq!(cg.pids().unwrap(), vec![child.pid()]);
    let proc_cgroup = fs::read_to_string(format!("/proc/{}/cgroup", child.pid())).unwrap();
    assert!(
        proc_cgroup.contains(&parent.path_for("c1")),
        "{proc_cgroup}"
    );

    // The runtime keeps the cgroup in state.json and acts on what it reads back.
    let cg: Cgroup = serde_json::from_str(&serde_json::to_string(&cg).unwrap()).unwrap();
    cg.signal_all(Signal::SIGKILL).unwrap();
    assert_eq!(wait_killed(&mut child), libc::SIGKILL);
    assert!(
        !cg.is_frozen().unwrap(),
        "signal_all must leave the cgroup thawed"
    );

    cg.destroy().unwrap();
    assert_eq!(existing(&cg), Vec::<PathBuf>::new());
    cg.destroy().expect("destroying a missing cgroup is fine");
    assert_eq!(cg.pids().unwrap(), Vec::<i32>::new());
}

#[test]
fn signal_all_sends_other_signals_too() {
    require_root!();
    host_mode();
    let parent = CgroupParent::new();
    let cg = container(&parent, "c1");
    let mut a = Sleeper::spawn();
    let mut b = Sleeper::spawn();
    cg.add_process(a.pid()).unwrap();
    cg.add_process(b.pid()).unwrap();
    let mut want = vec![a.pid(), b.pid()];
    want.sort_unstable();
    assert_eq!(cg.pids().unwrap(), want);
    cg.signal_all(Signal::SIGTERM).unwrap();
    assert_eq!(wait_killed(&mut a), libc::SIGTERM);
    assert_eq!(wait_killed(&mut b), libc::SIGTERM);
    cg.destroy().unwrap();
}

#[test]
fn pids_and_destroy_cover_child_cgroups() {
    require_root!();
    host_mode();
    let parent = CgroupParent::new();
    let cg = container(&parent, "c1");
    // A cgroup the container made inside its own (as systemd in a container
    // would), with a process in it.
    let sub = container(&parent, "c1/sub");
    let mut child = Sleeper::spawn();
    sub.add_process(child.pid()).unwrap();
    assert_eq!(cg.pids().unwrap(), vec![child.pid()]);

    cg.signal_all(Signal::SIGKILL).unwrap();
    wait_killed(&mut child);
    // An empty leftover deeper down, in every hierarchy.
    for p in sub.paths() {
        fs::create_dir(p.join("deeper")).unwrap();
    }
    cg.destroy().unwrap();
    assert_eq!(existing(&cg), Vec::<PathBuf>::new());
    assert_eq!(existing(&sub), Vec::<PathBuf>::new());
}

#[test]
fn freeze_and_thaw() {
    require_root!();
    host_mode();
    let parent = CgroupParent::new();
    let cg = container(&parent, "c1");
    let child = Sleeper::spawn();
    cg.add_process(child.pid()).unwrap();

    assert!(!cg.is_frozen().unwrap());
    cg.freeze().unwrap();
    assert!(cg.is_frozen().unwrap());
    cg.freeze().expect("freezing twice is fine");
    cg.thaw().unwrap();
    // thaw does not wait; it is immediate without a frozen ancestor
    let deadline = Instant::now() + Duration::from_secs(5);
    while cg.is_frozen().unwrap() {
        assert!(Instant::now() < deadline, "still frozen");
        std::thread::sleep(Duration::from_millis(5));
    }

    // Killing a paused container works and leaves it thawed.
    let mut child = child;
    cg.freeze().unwrap();
    cg.signal_all(Signal::SIGKILL).unwrap();
    assert_eq!(wait_killed(&mut child), libc::SIGKILL);
    cg.destroy().unwrap();
}

#[test]
fn apply_writes_limits() {
    require_root!();
    let mode = host_mode();
    let parent = CgroupParent::new();
    let cg = container(&parent, "c1");
    cg.apply(&resources(
        r#"{
                "memory": {"limit": 67108864, "reservation": 33554432},
                "cpu": {"shares": 512, "quota": 20000, "period": 100000, "cpus": "0", "mems": "0"},
                "pids": {"limit": 20}
            }"#,
    ))
    .unwrap();

    let mem = cg.path_of("memory").unwrap();
    let cpu = cg.path_of("cpu").unwrap();
    let cpuset = cg.path_of("cpuset").unwrap();
    let pids = cg.path_of("pids").unwrap();
    assert_eq!(read(&pids, "pids.max"), "20");
    assert_eq!(read(&cpuset, "cpuset.cpus"), "0");
    assert_eq!(read(&cpuset, "cpuset.mems"), "0");
    if mode == Mode::V2 {
        assert_eq!(read(&mem, "memory.max"), "67108864");
        assert_eq!(read(&mem, "memory.low"), "33554432");
        assert_eq!(read(&cpu, "cpu.weight"), "20"); // 1 + (510 * 9999) / 262142
        assert_eq!(read(&cpu, "cpu.max"), "20000 100000");
    } else {
        assert_eq!(read(&mem, "memory.limit_in_bytes"), "67108864");
        assert_eq!(read(&mem, "memory.soft_limit_in_bytes"), "33554432");
        assert_eq!(read(&cpu, "cpu.shares"), "512");
        assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "20000");
        assert_eq!(read(&cpu, "cpu.cfs_period_us"), "100000");
    }

    // Raising memory above the current memory+swap limit needs memsw written
    // first (v1; apply finds the order by retrying on EINVAL).
    let swap_file = if mode == Mode::V2 {
        "memory.swap.max"
    } else {
        "memory.memsw.limit_in_bytes"
    };
    if mem.join(swap_file).exists() {
        for (limit, swap) in [(33554432u64, 67108864u64), (134217728, 268435456)] {
            let json = format!(r#"{{"memory": {{"limit": {limit}, "swap": {swap}}}}}"#);
            cg.apply(&resources(&json)).unwrap();
            if mode == Mode::V2 {
                assert_eq!(read(&mem, "memory.max"), limit.to_string());
                assert_eq!(read(&mem, swap_file), (swap - limit).to_string());
            } else {
                assert_eq!(read(&mem, "memory.limit_in_bytes"), limit.to_string());
                assert_eq!(read(&mem, swap_file), swap.to_string());
            }
        }
    } else {
        skipped(&format!("swap part (no {swap_file}: no swap accounting)"));
    }
    if mode != Mode::V2 {
        let json = r#"{"cpu": {"quota": 20000, "period": 10000}}"#;
        cg.apply(&resources(json)).unwrap();
        assert_eq!(read(&cpu, "cpu.cfs_period_us"), "10000");
        assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "20000");
    }

    // A process can join the limited cgroup.
    let child = Sleeper::spawn();
    cg.add_process(child.pid()).unwrap();
    assert_eq!(cg.pids().unwrap(), vec![child.pid()]);
    drop(child);
    cg.destroy().unwrap();
}

#[test]
fn unsupported_fields_fail_and_write_nothing() {
    require_root!();
    host_mode();
    let parent = CgroupParent::new();
    let cg = container(&parent, "c1");
    let pids = cg.path_of("pids").unwrap();
    let before = read(&pids, "pids.max");
    let e = cg
        .apply(&resources(
            r#"{"pids": {"limit": 7}, "hugepageLimits": [{"pageSize": "3MB", "limit": 1}]}"#,
        ))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(
        e.to_string()
            .starts_with("linux.resources.hugepageLimits is not supported: "),
        "{e}"
    );
    assert_eq!(
        read(&pids, "pids.max"),
        before,
        "nothing may be written on error"
    );

    // What Docker sends by default is accepted.
    let docker_like = r#"{
        "devices": [{"allow": false, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}],
        "memory": {"disableOOMKiller": false}, "blockIO": {}, "hugepageLimits": []
    }"#;
    cg.apply(&resources(docker_like)).unwrap();
    cg.destroy().unwrap();
}

#[test]
fn v1_device_rules_are_written_in_order() {
    require_root!();
    if !require_mode(
        "v1_device_rules_are_written_in_order",
        &[Mode::V1, Mode::Hybrid],
    ) {
        return;
    }
    let parent = CgroupParent::new();
    let cg = container(&parent, "c1");
    cg.apply(&resources(
        r#"{"devices": [
                {"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                {"allow": true, "type": "c", "major": 136, "access": "rw"},
                {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
                {"allow": false, "type": "c", "major": 1, "minor": 5, "access": "m"}
            ]}"#,
    ))
    .unwrap();
    let list = read(&cg.path_of("devices").unwrap(), "devices.list");
    let mut lines: Vec<&str> = list.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["c 136:* rw", "c 1:3 rwm", "c 1:5 rw"]);
    cg.destroy().unwrap();
}

#[test]
fn v1_cpuset_levels_get_cpus_and_mems() {
    require_root!();
    if !require_mode(
        "v1_cpuset_levels_get_cpus_and_mems",
        &[Mode::V1, Mode::Hybrid],
    ) {
        return;
    }
    let parent = CgroupParent::new();
    let cg = container(&parent, "a/b/c");
    let dir = cg.path_of("cpuset").unwrap();
    let root = dir.ancestors().nth(4).unwrap();
    for level in dir.ancestors().take(4) {
        assert_eq!(
            read(level, "cpuset.cpus"),
            read(root, "cpuset.cpus"),
            "{}",
            level.display()
        );
        assert_eq!(
            read(level, "cpuset.mems"),
            read(root, "cpuset.mems"),
            "{}",
            level.display()
        );
    }
    // named hierarchies are joined too
    if let Some(systemd) = cg.path_of("name=systemd") {
        assert!(systemd.is_dir());
    }
    let child = Sleeper::spawn();
    cg.add_process(child.pid()).unwrap();
    drop(child);
    cg.destroy().unwrap();
}

/// Two runtimes creating sibling cgroups at once under a new shared parent
/// (containerd starting pods in parallel under `k8s.io`): the one that loses
/// the `mkdir` race finds the parent existing but still empty. Filling only
/// the levels it created left the parent empty and the move failed with
/// ENOSPC (seen in CI's critest run).
#[test]
fn v1_cpuset_fills_an_empty_parent_someone_else_created() {
    require_root!();
    if !require_mode(
        "v1_cpuset_fills_an_empty_parent_someone_else_created",
        &[Mode::V1, Mode::Hybrid],
    ) {
        return;
    }
    let parent = CgroupParent::new();
    // the race's winner: the shared level exists, nothing written yet
    let probe = container(&parent, "probe");
    let cpuset_root = probe
        .path_of("cpuset")
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    probe.destroy().unwrap();
    let shared = cpuset_root.join("shared");
    std::fs::create_dir(&shared).unwrap();
    assert_eq!(
        read(&shared, "cpuset.cpus"),
        "",
        "a new cpuset starts empty"
    );
    let cg = container(&parent, "shared/pod");
    let child = Sleeper::spawn();
    cg.add_process(child.pid()).unwrap();
    drop(child);
    assert_eq!(
        read(&shared, "cpuset.cpus"),
        read(&cpuset_root, "cpuset.cpus")
    );
    cg.destroy().unwrap();
    std::fs::remove_dir(&shared).unwrap();
}

#[test]
fn v2_controllers_are_delegated() {
    require_root!();
    if !require_mode("v2_controllers_are_delegated", &[Mode::V2]) {
        return;
    }
    let parent = CgroupParent::new();
    let cg = container(&parent, "c1");
    let dir = cg.unified_path().unwrap().to_path_buf();
    let enabled = read(&dir, "cgroup.controllers");
    for c in ["cpu", "memory", "pids", "cpuset"] {
        assert!(
            enabled.split_whitespace().any(|e| e == c),
            "{c} not in {enabled:?}"
        );
    }
    // the container's own dir does not delegate (it holds the processes)
    assert_eq!(read(&dir, "cgroup.subtree_control"), "");

    cg.apply(&resources(
        r#"{"devices": [{"allow": false, "access": "rwm"}]}"#,
    ))
    .unwrap();

    // cgroup.kill takes the whole subtree at once
    let sub = container(&parent, "c1/sub");
    let mut a = Sleeper::spawn();
    sub.add_process(a.pid()).unwrap();
    cg.signal_all(Signal::SIGKILL).unwrap();
    assert_eq!(wait_killed(&mut a), libc::SIGKILL);
    cg.destroy().unwrap();
    assert!(!dir.exists());
}
