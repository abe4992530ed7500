//! The fixtures clean up after themselves even when a runtime did not.

use std::fs;
use std::process::{Command, Stdio};
use std::time::Duration;

use berth_testutil::*;

#[test]
fn cgroup_parent_drop_kills_leftovers_and_removes_dirs() {
    require_root!();
    let parent = CgroupParent::new();
    // v1: the pids controller's hierarchy; v2: the unified one, whose root
    // lists pids among its controllers (the root has no pids.max).
    let has_pids = |h: &std::path::Path| {
        fs::read_to_string(h.join("cgroup.controllers"))
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "pids"))
    };
    let pids_root = hierarchies()
        .into_iter()
        .find(|h| h.join("pids.max").exists() || h.ends_with("pids") || has_pids(h))
        .expect("a pids hierarchy");
    let child = pids_root
        .join(parent.path().trim_start_matches('/'))
        .join("leftover");
    fs::create_dir_all(&child).unwrap();
    let mut sleeper = Command::new("sleep")
        .arg("1000")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = sleeper.id();
    fs::write(child.join("cgroup.procs"), pid.to_string()).unwrap();
    assert_eq!(
        CgroupParent::procs_of(&format!("{}/leftover", parent.path())),
        vec![pid]
    );

    drop(parent);
    assert!(!child.exists(), "{} survived", child.display());
    // Killed by the cleanup: reap it so it does not linger as a zombie.
    let status = sleeper.wait().unwrap();
    assert!(!status.success());
}

#[test]
fn temp_dir_drop_detaches_leaked_mounts() {
    require_root!();
    let dir = TempDir::new("berth-fixture").unwrap();
    let path = dir.path().to_owned();
    let mnt = dir.join("leaked");
    fs::create_dir(&mnt).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "none"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(ok.success());
    fs::write(mnt.join("f"), "x").unwrap();
    drop(dir);
    assert!(!path.exists());
    assert!(!mountinfo()
        .iter()
        .any(|m| m.mount_point.starts_with(path.to_str().unwrap())));
}

#[test]
fn bundle_has_a_runnable_layout() {
    require_root!();
    let rt = Runtime::new("/bin/true");
    let b = Bundle::new(&rt);
    let cfg: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(b.config_path()).unwrap()).unwrap();
    assert_eq!(cfg["linux"]["cgroupsPath"], b.cgroup_path());
    assert!(b.cgroup_path().starts_with("/berth-test-"));
    assert!(b.rootfs().join("bin/sh").exists());
    assert!(b.rootfs().join("etc/group").exists());
    let out = Command::new(b.rootfs().join("bin/busybox"))
        .arg("true")
        .status()
        .unwrap();
    assert!(out.success());
    let path = b.path().to_owned();
    drop(b);
    assert!(!path.exists());
}

#[test]
fn wait_until_times_out() {
    assert!(!wait_until(Duration::from_millis(50), || false));
    assert!(wait_until(Duration::from_millis(50), || true));
}
