//! The freezer: `pause` stops every process of a container in place (v1
//! `freezer.state`, v2 `cgroup.freeze`) and `resume` lets them go on.

mod common;

use std::fs;
use std::path::Path;
use std::thread::sleep;
use std::time::Duration;

use common::*;

/// Bytes in the tick log, which only ever grows.
fn ticks(log: &Path) -> u64 {
    fs::metadata(log).map(|m| m.len()).unwrap_or(0)
}

/// What the host's cgroup files say of `b`'s freezer: `frozen` or
/// `thawed`.
fn freezer(b: &Bundle) -> &'static str {
    let cg = b.cgroup_path();
    let frozen = if cgroup_v2() {
        CgroupParent::read_file(&cg, "cgroup.freeze") == "1"
    } else {
        CgroupParent::read_file(&cg, "freezer.state") == "FROZEN"
    };
    if frozen {
        "frozen"
    } else {
        "thawed"
    }
}

/// A container appending a line to a bind-mounted host file every 50 ms
/// stops appending while paused: `state` says `paused` and the file does
/// not grow for 1 s, and the host sees the cgroup frozen (`freezer.state`
/// FROZEN on v1, `cgroup.freeze` 1 on v2). After `resume`, `state` says
/// `running` and the file grows again.
#[test]
fn pause_freezes_and_resume_thaws() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let out = b.host_dir("out");
    b.add_mount("/out", "bind", out.to_str().unwrap(), &["rbind", "rw"]);
    // Appends are one write each, so a freeze never leaves a torn line.
    b.set_script("while :; do echo tick >> /out/ticks; sleep 0.05; done");
    rt.run_detached(&b).ok();
    let log = out.join("ticks");
    assert!(
        wait_until(STATE_TIMEOUT, || ticks(&log) > 0),
        "the container never wrote"
    );

    rt.cmd(&["pause", b.id()]).ok();
    assert_eq!(rt.status(b.id()).as_deref(), Some("paused"));
    assert_eq!(freezer(&b), "frozen");
    let frozen = ticks(&log);
    sleep(Duration::from_secs(1));
    assert_eq!(ticks(&log), frozen, "the tick log grew while paused");

    rt.cmd(&["resume", b.id()]).ok();
    assert_eq!(rt.status(b.id()).as_deref(), Some("running"));
    assert_eq!(freezer(&b), "thawed");
    assert!(
        wait_until(STATE_TIMEOUT, || ticks(&log) > frozen),
        "the tick log did not grow after resume"
    );
}
