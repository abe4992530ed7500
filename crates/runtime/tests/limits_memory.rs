//! Memory limits the kernel enforces: past `linux.resources.memory.limit`
//! a process is OOM-killed, `events` reports it, and `update --memory`
//! moves the limit of a running container.
//!
//! The limits set swap to the same value (memory+swap, OCI's meaning), so
//! a host with swap cannot page the allocation out instead of killing it.

mod common;

use std::fs;

use common::*;
use serde_json::{json, Value};

const MIB: u64 = 1 << 20;

/// A busybox `dd` whose one block is a `size` buffer filled from
/// /dev/zero: it touches every page, so it needs that much memory.
fn allocate(size: &str) -> String {
    format!("dd if=/dev/zero of=/dev/null bs={size} count=1")
}

/// The `oom` events for `id` among the JSON lines `events` printed.
fn oom_events(stdout: &str, id: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["type"] == "oom" && e["id"] == id)
        .collect()
}

/// A container's init that allocates past its 32 MiB limit is OOM-killed,
/// and a foreground `run` exits 137, 128 + SIGKILL.
#[test]
fn allocating_past_the_limit_is_oom_killed() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.config_mut()["linux"]["resources"]["memory"] = json!({ "limit": 32 * MIB, "swap": 32 * MIB });
    b.set_args(&["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]);
    let out = rt.run(&b);
    assert_eq!(out.code(), Some(137), "the OOM-killed init:\n{out}");
}

/// `events <id>`, started before an OOM kill, prints
/// `{"type":"oom","id":"<id>"}` (runc's shape) for it.
///
/// The container is detached and its init outlives the killed `dd`: a
/// foreground `run` removes the cgroup as soon as its init dies, and a
/// slow `events` would then find no counter left to read (runc's too).
#[test]
fn an_oom_kill_is_an_oom_event() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let ctl = b.host_dir("ctl");
    b.add_mount("/ctl", "bind", ctl.to_str().unwrap(), &["rbind", "rw"]);
    b.config_mut()["linux"]["resources"]["memory"] = json!({ "limit": 32 * MIB, "swap": 32 * MIB });
    // Waits for the host to say go, runs the allocating dd (the OOM killer
    // picks it, the biggest process) and records how it ended.
    b.set_script(&format!(
        "while [ ! -e /ctl/go ]; do sleep 0.05; done; {}; echo $? > /ctl/status; sleep 1000",
        allocate("64M")
    ));
    rt.run_detached(&b).ok();

    let events = rt.spawn(&["events", "--interval", "100ms", b.id()]);
    // runc subscribes to OOM notifications before it prints its first
    // stats line: once one is out, no OOM can be missed.
    assert!(
        wait_until(STATE_TIMEOUT, || events.stdout_now().contains("\"stats\"")),
        "events printed no stats line:\n{}",
        events.stdout_now()
    );
    fs::write(ctl.join("go"), "").unwrap();

    assert!(
        wait_until(STATE_TIMEOUT, || fs::read_to_string(ctl.join("status"))
            .is_ok_and(|s| s.ends_with('\n'))),
        "dd did not end"
    );
    let status = fs::read_to_string(ctl.join("status")).unwrap();
    assert_eq!(status.trim(), "137", "dd past the limit was not SIGKILLed");
    assert!(
        wait_until(STATE_TIMEOUT, || !oom_events(&events.stdout_now(), b.id())
            .is_empty()),
        "no oom event for {}:\n{}",
        b.id(),
        events.stdout_now()
    );
    let oom = &oom_events(&events.stdout_now(), b.id())[0];
    assert_eq!(
        oom,
        &json!({ "type": "oom", "id": b.id() }),
        "an oom event has no data"
    );
}

/// `update --memory/--memory-swap` moves a running container's limit: the
/// cgroup files show it (`memory.limit_in_bytes` and
/// `memory.memsw.limit_in_bytes` on v1, `memory.max` and
/// `memory.swap.max` = swap - memory on v2), and a 48 MiB allocation that
/// the 32 MiB limit killed (exec exits 137) then succeeds.
#[test]
fn update_memory_live() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.config_mut()["linux"]["resources"]["memory"] = json!({ "limit": 32 * MIB, "swap": 32 * MIB });
    b.set_args(&["sleep", "1000"]);
    rt.run_detached(&b).ok();

    let out = rt.exec(b.id(), &["sh", "-c", &allocate("48M")]);
    assert_eq!(out.code(), Some(137), "48 MiB under a 32 MiB limit:\n{out}");

    let limit = (128 * MIB).to_string();
    rt.cmd(&[
        "update",
        "--memory",
        &limit,
        "--memory-swap",
        &limit,
        b.id(),
    ])
    .ok();
    let cg = b.cgroup_path();
    if cgroup_v2() {
        assert_eq!(CgroupParent::read_file(&cg, "memory.max"), limit);
        assert_eq!(CgroupParent::read_file(&cg, "memory.swap.max"), "0");
    } else {
        assert_eq!(CgroupParent::read_file(&cg, "memory.limit_in_bytes"), limit);
        assert_eq!(
            CgroupParent::read_file(&cg, "memory.memsw.limit_in_bytes"),
            limit
        );
    }
    rt.exec(b.id(), &["sh", "-c", &allocate("48M")]).ok();
}
