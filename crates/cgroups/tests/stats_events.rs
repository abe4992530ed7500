//! Privileged tests of `Cgroup::stats` and the OOM watcher with real
//! processes: a shell that allocates memory and burns CPU shows up in the
//! memory, cpu and pids stats; one that allocates past a small limit is
//! killed and the watcher reports it.

mod common;

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use berth_cgroups::Mode;
use berth_testutil::{require_root, CgroupParent};
use common::*;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

#[test]
fn stats_show_a_busy_process_with_runcs_keys() {
    require_root!();
    host_mode();
    let parent = CgroupParent::new();
    let cg = container(&parent, "c1");
    cg.apply(&resources(
        r#"{"pids": {"limit": 50}, "memory": {"limit": 268435456}}"#,
    ))
    .unwrap();
    let mut hog = Hog::start(&cg, 8 << 20);
    assert!(hog.ready());

    let st = cg.stats().unwrap();
    assert!(st.memory.usage.usage >= 8 << 20, "{:?}", st.memory.usage);
    assert_eq!(st.memory.usage.limit, 268435456);
    assert!(!st.memory.raw.is_empty());
    assert!(st.cpu.usage.total > 0, "{:?}", st.cpu.usage);
    assert!(
        st.cpu.usage.user + st.cpu.usage.kernel > 0,
        "{:?}",
        st.cpu.usage
    );
    // the shell and its sleep
    assert_eq!(st.pids.current, 2);
    assert_eq!(st.pids.limit, 50);

    // The JSON has runc's key names; compare the keys that must be there.
    let json = serde_json::to_value(&st).unwrap();
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&json),
        [
            "blkio",
            "cpu",
            "cpuset",
            "hugetlb",
            "intel_rdt",
            "memory",
            "network_interfaces",
            "pids"
        ]
    );
    assert_eq!(json["pids"], serde_json::json!({"current": 2, "limit": 50}));
    let usage = &json["memory"]["usage"];
    for k in ["limit", "usage", "failcnt"] {
        assert!(usage.get(k).is_some(), "memory.usage.{k} missing: {usage}");
    }
    for k in ["total", "kernel", "user"] {
        assert!(
            json["cpu"]["usage"].get(k).is_some(),
            "cpu.usage.{k} missing: {json}"
        );
    }
    assert!(json["memory"]["raw"].is_object());
    assert_eq!(json["intel_rdt"], serde_json::json!({}));
    assert_eq!(json["network_interfaces"], serde_json::Value::Null);
    assert!(json["hugetlb"].is_object());
    cg.signal_all(nix::sys::signal::Signal::SIGKILL).unwrap();
    drop(hog);
    cg.destroy().unwrap();
    assert_eq!(
        cg.stats().unwrap_err().kind(),
        berth_cgroups::ErrorKind::NotFound
    );
}

#[test]
fn oom_kill_is_reported() {
    require_root!();
    let mode = host_mode();
    let parent = CgroupParent::new();
    let cg = container(&parent, "c1");
    // no swap to escape to: memory+swap = memory (v1), swap.max 0 (v2)
    let limit = 16u64 << 20;
    let mem = cg.path_of("memory").unwrap();
    let swap_file = if mode == Mode::V2 {
        "memory.swap.max"
    } else {
        "memory.memsw.limit_in_bytes"
    };
    let json = if mem.join(swap_file).exists() {
        format!(r#"{{"memory": {{"limit": {limit}, "swap": {limit}}}}}"#)
    } else {
        format!(r#"{{"memory": {{"limit": {limit}}}}}"#)
    };
    cg.apply(&resources(&json)).unwrap();

    let before = cg.oom_kill_count().unwrap();
    let mut w = cg.oom_watcher().unwrap();
    let readable = |w: &berth_cgroups::OomWatcher, ms: u16| {
        let mut fds = [PollFd::new(w.as_fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::from(ms)).unwrap() > 0
    };
    assert!(!readable(&w, 0), "nothing happened yet");
    assert_eq!(w.consume().unwrap(), 0);

    let mut hog = Hog::start(&cg, 64 << 20);
    assert!(
        !hog.ready(),
        "the shell outlived a 64 MiB allocation under a 16 MiB limit"
    );
    assert!(readable(&w, 10_000), "no OOM event within 10s");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut kills = 0;
    while kills == 0 {
        kills += w.consume().unwrap();
        assert!(Instant::now() < deadline, "the watcher saw no kill");
        let _ = readable(&w, 100);
    }
    assert!(kills >= 1);
    assert!(cg.oom_kill_count().unwrap() > before);
    assert_eq!(w.consume().unwrap(), 0, "consumed already");
    cg.signal_all(nix::sys::signal::Signal::SIGKILL).unwrap();
    drop(hog);
    cg.destroy().unwrap();
}
