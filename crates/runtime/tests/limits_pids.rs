//! The pids limit the kernel enforces: fork fails once the container's
//! cgroup holds `linux.resources.pids.limit` tasks, and `update
//! --pids-limit` moves the limit of a running container.

mod common;

use common::*;
use serde_json::json;

/// Starts `sleep 100 &` up to `n` times from a subshell (ash gives up on
/// the first fork that fails, and the subshell keeps that from ending the
/// script), printing the count after each success, then `forks-done`.
/// Builtins only besides the sleeps: at the limit nothing else can fork.
/// The sleeps get /dev/null for stdio, so they do not hold an `exec`'s
/// output pipes open (runc exec waits for EOF on them).
fn fork_sleeps(n: u32) -> String {
    format!(
        "(i=0; while [ $i -lt {n} ]; do sleep 100 </dev/null >/dev/null 2>&1 & i=$((i+1)); echo $i; done) 2>&1; \
         echo forks-done"
    )
}

/// The last count [`fork_sleeps`] printed (0 if none).
fn forks_made(out: &str) -> u32 {
    out.lines()
        .filter_map(|l| l.trim().parse().ok())
        .last()
        .unwrap_or(0)
}

/// With `pids.limit` 5, fork fails once 5 tasks exist: the init shell and
/// its subshell leave room for exactly 3 sleeps, the 4th fork fails with
/// EAGAIN ("can't fork"), and `pids.current` never passed the limit.
#[test]
fn fork_fails_past_the_limit() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.config_mut()["linux"]["resources"]["pids"] = json!({ "limit": 5 });
    b.set_script(&fork_sleeps(10));
    let out = rt.run(&b).ok();
    assert_eq!(forks_made(&out.stdout), 3, "{out}");
    assert!(
        out.stdout.contains("can't fork") || out.stdout.contains("Resource temporarily"),
        "no fork failure reported:\n{out}"
    );
    assert!(out.stdout.ends_with("forks-done\n"), "{out}");
}

/// `update --pids-limit` moves a running container's limit: `pids.max`
/// shows it, and forks that the old limit refused then succeed.
#[test]
fn update_pids_limit_live() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    // Room for the init and an exec (runc's exec briefly has three of its
    // own processes in the cgroup), not for 4 more sleeps.
    b.config_mut()["linux"]["resources"]["pids"] = json!({ "limit": 5 });
    b.set_args(&["sleep", "1000"]);
    rt.run_detached(&b).ok();

    let before = rt.exec(b.id(), &["sh", "-c", &fork_sleeps(4)]).ok();
    assert!(forks_made(&before.stdout) < 4, "pids.max=5:\n{before}");
    assert!(before.stdout.contains("can't fork"), "{before}");

    rt.cmd(&["update", "--pids-limit", "20", b.id()]).ok();
    assert_eq!(CgroupParent::read_file(&b.cgroup_path(), "pids.max"), "20");
    let after = rt.exec(b.id(), &["sh", "-c", &fork_sleeps(4)]).ok();
    assert_eq!(forks_made(&after.stdout), 4, "pids.max=20:\n{after}");
}
