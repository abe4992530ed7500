//! Failures: the right words on stderr, a non-zero exit, and nothing left
//! behind (no state entry, no cgroup, no process).
//!
//! runc prints `time=... level=error msg="<message>"`; berth prints one
//! plain line. The assertions match the message text both share.

mod common;

use std::fs;

use common::*;

/// Asserts the container left no trace: not listed, no state dir, no
/// cgroup directory in any hierarchy.
#[track_caller]
fn assert_nothing_left(rt: &Runtime, b: &Bundle) {
    assert!(
        rt.list_ids().is_empty(),
        "still listed: {:?}",
        rt.list_ids()
    );
    assert!(
        !rt.root().join(b.id()).exists(),
        "state dir left for {}",
        b.id()
    );
    assert!(
        leftover_cgroups(b).is_empty(),
        "cgroup left: {:?}",
        leftover_cgroups(b)
    );
}

#[test]
fn unknown_id_does_not_exist() {
    require_root!();
    let rt = runtime();
    let id = unique_id("nosuch");
    for cmd in [
        vec!["state", &id],
        vec!["start", &id],
        vec!["kill", &id, "KILL"],
        vec!["delete", &id],
        vec!["ps", &id],
        vec!["exec", &id, "true"],
        vec!["pause", &id],
        vec!["resume", &id],
    ] {
        let out = rt.cmd(&cmd);
        assert_not_exist(&out, &id);
    }
}

#[test]
fn delete_force_of_unknown_id_succeeds() {
    require_root!();
    // containerd relies on this: forced delete is idempotent.
    let rt = runtime();
    rt.delete_force(&unique_id("nosuch")).ok();
}

#[test]
fn duplicate_id_is_refused() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_args(&["sleep", "1000"]);
    rt.run_detached(&b).ok();
    let pid = rt.state(b.id())["pid"].as_u64().unwrap();

    for out in [rt.create(&b), rt.run_detached(&b)] {
        let out = out.failed();
        // runc 1.1: "container with given ID already exists";
        // berth: "container with id exists: <id>".
        let msg = error_message(&out);
        assert!(
            msg.contains("container with given ID already exists")
                || msg.contains(&format!("container with id exists: {}", b.id())),
            "{out}"
        );
    }
    // The first container is untouched.
    let s = rt.state(b.id());
    assert_eq!(
        (s["status"].as_str(), s["pid"].as_u64()),
        (Some("running"), Some(pid))
    );
}

#[test]
fn invalid_id_is_refused() {
    require_root!();
    let rt = runtime();
    let b = Bundle::new(&rt);
    let out = rt
        .cmd(&["create", "--bundle", b.path().to_str().unwrap(), "bad/id"])
        .failed();
    assert!(
        error_message(&out).contains("invalid container ID format"),
        "{out}"
    );
    assert!(rt.list_ids().is_empty());
}

#[test]
fn malformed_config_fails_with_one_line_and_leaves_nothing() {
    require_root!();
    let rt = runtime();
    let b = Bundle::new(&rt);
    fs::write(
        b.config_path(),
        "{\"ociVersion\": \"1.0.2\", \"process\": {bad",
    )
    .unwrap();
    let out = rt.create(&b).failed();
    assert_eq!(
        out.stderr_lines().len(),
        1,
        "one clear line expected:\n{out}"
    );
    // The line names the file and where the JSON goes wrong (runc 1.1
    // prints Go's decoder error without the file name).
    let want = if rt.is_berth() {
        format!(
            "malformed {}: key must be a string at line 1 column 37",
            b.config_path().display()
        )
    } else {
        "invalid character 'b' looking for beginning of object key string".to_owned()
    };
    assert!(
        error_message(&out).contains(&want),
        "expected {want:?}:\n{out}"
    );
    assert_eq!(out.stdout, "");
    assert_nothing_left(&rt, &b);
}

#[test]
fn missing_config_is_reported() {
    require_root!();
    let rt = runtime();
    let b = Bundle::new(&rt);
    fs::remove_file(b.config_path()).unwrap();
    let out = rt.create(&b).failed();
    assert!(error_message(&out).contains("config.json"), "{out}");
    assert_nothing_left(&rt, &b);
}

#[test]
fn missing_rootfs_fails_and_leaves_nothing() {
    require_root!();
    let rt = runtime();
    let b = Bundle::new(&rt);
    fs::remove_dir_all(b.rootfs()).unwrap();
    let out = rt.create(&b).failed();
    // runc: invalid rootfs: stat <bundle>/rootfs: no such file or directory
    assert!(error_message(&out).contains("rootfs"), "{out}");
    assert_nothing_left(&rt, &b);
}

#[test]
fn missing_executable_fails_run_and_leaves_nothing() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_args(&["/no/such/binary"]);
    let out = rt.run(&b).failed();
    assert!(error_message(&out).contains("/no/such/binary"), "{out}");
    assert_nothing_left(&rt, &b);
}

#[test]
fn start_of_stopped_container_is_refused() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_args(&["true"]);
    rt.create(&b).ok();
    rt.start(b.id()).ok();
    rt.wait_for_status(b.id(), "stopped", STATE_TIMEOUT);
    let out = rt.start(b.id()).failed();
    assert!(
        error_message(&out).contains("cannot start a container that has stopped"),
        "{out}"
    );
}

#[test]
fn start_of_running_container_is_refused() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_args(&["sleep", "1000"]);
    rt.run_detached(&b).ok();
    let out = rt.start(b.id()).failed();
    assert!(
        error_message(&out).contains("cannot start an already running container"),
        "{out}"
    );
}

#[test]
fn kill_of_stopped_container_is_refused() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_args(&["true"]);
    rt.create(&b).ok();
    rt.start(b.id()).ok();
    rt.wait_for_status(b.id(), "stopped", STATE_TIMEOUT);
    let out = rt.kill(b.id(), "TERM").failed();
    assert!(
        error_message(&out).contains("container not running"),
        "{out}"
    );
}

#[test]
fn exec_in_stopped_container_is_refused() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_args(&["true"]);
    rt.create(&b).ok();
    rt.start(b.id()).ok();
    rt.wait_for_status(b.id(), "stopped", STATE_TIMEOUT);
    let out = rt.exec(b.id(), &["true"]).failed();
    assert!(
        error_message(&out).contains("cannot exec in a stopped container"),
        "{out}"
    );
}

#[test]
fn delete_of_running_container_without_force_is_refused() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_args(&["sleep", "1000"]);
    rt.run_detached(&b).ok();
    let out = rt.delete(b.id()).failed();
    // runc: cannot delete container <id> that is not stopped: running
    let msg = error_message(&out);
    assert!(
        msg.contains("cannot delete container") && msg.contains("not stopped"),
        "{out}"
    );
    assert_eq!(rt.state(b.id())["status"], "running");
}

#[test]
fn unknown_signal_is_refused() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_args(&["sleep", "1000"]);
    rt.run_detached(&b).ok();
    let out = rt.kill(b.id(), "SIGNOPE").failed();
    assert!(error_message(&out).contains("SIGNOPE"), "{out}");
    assert_eq!(rt.state(b.id())["status"], "running");
}
