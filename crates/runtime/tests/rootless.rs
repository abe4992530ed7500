//! Rootless mode: the runtime run by an unprivileged user (the test, as
//! root, drops to the `berth-rootless` user with `setpriv`) on a bundle
//! made by `spec --rootless`, and user namespace maps written for it:
//! directly for the caller's own id, through newuidmap/newgidmap for
//! subordinate ranges. Also the seeds' example of a root runtime mapping
//! container ids 0-9999 to host ids 10000-19999.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use serde_json::json;

/// The test user and a runtime that runs as it.
fn unprivileged_runtime() -> (UnprivilegedUser, Runtime) {
    let user = rootless_user();
    let rt =
        Runtime::unprivileged_from_env(env!("CARGO_BIN_EXE_berth-runtime"), user.uid, user.gid);
    (user, rt)
}

/// The real, effective, saved and filesystem uids of host process `pid`.
fn host_uids(pid: u64) -> Vec<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .expect("Uid line");
    line.split_whitespace()
        .skip(1)
        .map(|f| f.parse().expect("uid"))
        .collect()
}

/// Gives the container's process CAP_CHOWN (not among the defaults), so
/// its root can hand files to other container ids.
fn allow_chown(b: &mut Bundle) {
    let mut c = b.config_mut();
    for set in ["bounding", "effective", "permitted"] {
        let list = c["process"]["capabilities"][set]
            .as_array_mut()
            .expect("capability set");
        list.push(json!("CAP_CHOWN"));
    }
}

/// `/proc/self/{uid,gid}_map` lines as (container, host, size) triples.
fn map_lines(text: &str) -> Vec<(u64, u64, u64)> {
    text.lines()
        .map(|l| {
            let f: Vec<u64> = l
                .split_whitespace()
                .map(|x| x.parse().expect("map number"))
                .collect();
            (f[0], f[1], f[2])
        })
        .collect()
}

#[test]
fn unprivileged_run_is_root_inside_a_user_namespace() {
    require_root!();
    let (user, rt) = unprivileged_runtime();
    let mut b = Bundle::rootless(&rt);
    b.set_script(
        "id -u; id -g; cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; \
         cat /proc/self/setgroups; readlink /proc/self/ns/user",
    );
    let out = rt.run(&b).ok().stdout;
    let parts: Vec<&str> = out.split("--\n").collect();
    assert_eq!(parts.len(), 3, "{out}");
    let head: Vec<&str> = parts[0].lines().collect();
    assert_eq!(head[..2], ["0", "0"], "{out}");
    assert_eq!(
        map_lines(&head[2..].join("\n")),
        [(0, u64::from(user.uid), 1)],
        "{out}"
    );
    assert_eq!(map_lines(parts[1]), [(0, u64::from(user.gid), 1)], "{out}");
    let tail: Vec<&str> = parts[2].lines().collect();
    // An unprivileged single-gid map needs setgroups denied first.
    assert_eq!(tail[0], "deny", "{out}");
    assert_ne!(tail[1], host_ns("user"), "{out}");
}

#[test]
fn unprivileged_state_kill_and_delete() {
    require_root!();
    let (user, rt) = unprivileged_runtime();
    let mut b = Bundle::rootless(&rt);
    run_term_aware(&rt, &mut b);
    let state = rt.state(b.id());
    assert_eq!(state["status"], "running", "{state}");
    let pid = state["pid"].as_u64().expect("pid");
    // Root in the container is the caller on the host, nothing more.
    assert_eq!(host_uids(pid), [user.uid; 4]);
    assert_ne!(pid_ns(pid as u32, "user"), host_ns("user"));

    rt.kill(b.id(), "TERM").ok();
    rt.wait_for_status(b.id(), "stopped", STATE_TIMEOUT);
    rt.delete(b.id()).ok();
    assert_not_exist(&rt.cmd(&["state", b.id()]), b.id());
    assert!(!process_alive(pid as u32));
}

#[test]
fn unprivileged_exec_joins_the_container() {
    require_root!();
    let (user, rt) = unprivileged_runtime();
    let mut b = Bundle::rootless(&rt);
    run_term_aware(&rt, &mut b);
    let pid = rt.state(b.id())["pid"].as_u64().expect("pid");
    let out = rt
        .exec(
            b.id(),
            &["sh", "-c", "id -u; for ns in user pid mnt; do readlink /proc/self/ns/$ns; done; tr '\\0' ' ' < /proc/1/cmdline"],
        )
        .ok()
        .stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0", "{out}");
    for (kind, line) in ["user", "pid", "mnt"].iter().zip(&lines[1..4]) {
        assert_eq!(*line, pid_ns(pid as u32, kind), "{kind}: {out}");
    }
    assert!(
        lines[4].starts_with("sh -c trap"),
        "exec sees the container's init as pid 1: {out}"
    );

    // A detached exec'd process is the caller on the host too.
    let pids = b.host_dir("pids");
    nix::unistd::chown(&pids, Some(user.uid.into()), Some(user.gid.into())).expect("chown");
    let pid_file = pids.join("exec.pid");
    rt.cmd(&[
        "exec",
        "-d",
        "--pid-file",
        pid_file.to_str().expect("utf-8"),
        b.id(),
        "sleep",
        "1000",
    ])
    .ok();
    let exec_pid: u64 = fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    assert_eq!(host_uids(exec_pid), [user.uid; 4]);
    assert_eq!(pid_ns(exec_pid as u32, "pid"), pid_ns(pid as u32, "pid"));
    rt.kill(b.id(), "KILL").ok();
    rt.wait_for_status(b.id(), "stopped", STATE_TIMEOUT);
    assert!(
        wait_until(STATE_TIMEOUT, || !process_alive(exec_pid as u32)),
        "exec'd process outlived its pid namespace"
    );
}

/// A map beyond the caller's own id goes through newuidmap/newgidmap and
/// the user's /etc/subuid and /etc/subgid ranges.
#[test]
fn subordinate_ranges_are_mapped_with_newuidmap() {
    require_root!();
    let (user, rt) = unprivileged_runtime();
    let mut b = Bundle::rootless(&rt);
    let (sub_uid, sub_gid) = (user.sub_uids.0, user.sub_gids.0);
    {
        let mut c = b.config_mut();
        c["linux"]["uidMappings"] = json!([
            { "containerID": 0, "hostID": user.uid, "size": 1 },
            { "containerID": 1, "hostID": sub_uid, "size": 65536 }
        ]);
        c["linux"]["gidMappings"] = json!([
            { "containerID": 0, "hostID": user.gid, "size": 1 },
            { "containerID": 1, "hostID": sub_gid, "size": 65536 }
        ]);
        c["root"]["readonly"] = json!(false);
    }
    allow_chown(&mut b);
    b.set_script(
        "set -e; cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; \
         touch /tmp/by-root /tmp/by-1000; chown 1000:1000 /tmp/by-1000; echo done",
    );
    let out = rt.run(&b).ok().stdout;
    let parts: Vec<&str> = out.split("--\n").collect();
    assert_eq!(parts.len(), 3, "{out}");
    let want = |own: u32, sub: u32| vec![(0, u64::from(own), 1), (1, u64::from(sub), 65536)];
    assert_eq!(map_lines(parts[0]), want(user.uid, sub_uid), "{out}");
    assert_eq!(map_lines(parts[1]), want(user.gid, sub_gid), "{out}");
    assert!(parts[2].contains("done"), "{out}");

    let owner = |name: &str| {
        let m =
            fs::metadata(b.rootfs().join("tmp").join(name)).expect("file made in the container");
        (m.uid(), m.gid())
    };
    assert_eq!(owner("by-root"), (user.uid, user.gid));
    // Container id 1000 is subordinate id 999 after the range's start.
    assert_eq!(owner("by-1000"), (sub_uid + 999, sub_gid + 999));
}

#[test]
fn a_map_outside_the_subordinate_ranges_fails_and_leaves_nothing() {
    require_root!();
    let (user, rt) = unprivileged_runtime();
    let mut b = Bundle::rootless(&rt);
    // Host uid 12345 is neither the caller nor in its /etc/subuid range.
    b.config_mut()["linux"]["uidMappings"] = json!([
        { "containerID": 0, "hostID": user.uid, "size": 1 },
        { "containerID": 1, "hostID": 12345, "size": 1 }
    ]);
    b.set_args(&["true"]);
    let out = rt.run(&b).failed();
    if rt.is_berth() {
        let msg = error_message(&out);
        assert!(
            msg.contains("newuidmap") && msg.contains("/etc/subuid"),
            "{out}"
        );
    }
    assert!(
        rt.list_ids().is_empty(),
        "a failed create left state behind"
    );
}

/// With limits asked for, a rootless container that cannot create its
/// cgroup must fail rather than run unlimited (runc: "cannot set pids
/// limit: container could not join or create cgroup").
#[test]
fn limits_without_a_writable_cgroup_are_a_clear_error() {
    require_root!();
    let (_user, rt) = unprivileged_runtime();
    let mut b = Bundle::rootless(&rt);
    b.config_mut()["linux"]["resources"] = json!({ "pids": { "limit": 10 } });
    b.set_args(&["true"]);
    let out = rt.run(&b).failed();
    let msg = error_message(&out);
    assert!(
        msg.contains("cannot set") && msg.contains("pids limit"),
        "{out}"
    );
    assert!(
        rt.list_ids().is_empty(),
        "a failed create left state behind"
    );
}

/// Device cgroup rules cannot be written without privileges and are moot
/// in a user namespace: rootless, they are ignored (as runc does).
#[test]
fn device_rules_alone_do_not_need_a_cgroup() {
    require_root!();
    let (_user, rt) = unprivileged_runtime();
    let mut b = Bundle::rootless(&rt);
    b.config_mut()["linux"]["resources"] =
        json!({ "devices": [{ "allow": false, "access": "rwm" }] });
    b.set_script("echo ok > /dev/null && echo ran");
    let out = rt.run(&b).ok().stdout;
    assert_eq!(out.trim(), "ran");
}

/// In a user namespace, procfs can only be mounted for a pid namespace
/// that user namespace owns: without one, a clear error.
#[test]
fn proc_without_a_pid_namespace_is_refused_clearly() {
    require_root!();
    let (_user, rt) = unprivileged_runtime();
    let mut b = Bundle::rootless(&rt);
    b.remove_namespace("pid");
    b.set_args(&["true"]);
    let out = rt.run(&b).failed();
    if rt.is_berth() {
        assert!(
            error_message(&out).contains("needs a pid namespace of its own"),
            "{out}"
        );
    }
    assert!(
        rt.list_ids().is_empty(),
        "a failed create left state behind"
    );
}

/// An unprivileged runtime keeps its state in $XDG_RUNTIME_DIR/<name>
/// when `--root` is not given.
#[test]
fn unprivileged_default_root_is_in_xdg_runtime_dir() {
    require_root!();
    let (user, rt) = unprivileged_runtime();
    let mut b = Bundle::rootless(&rt);
    b.set_script("sleep 1000");
    let xdg = TempDir::new("berth-xdg").expect("temp dir");
    nix::unistd::chown(xdg.path(), Some(user.uid.into()), Some(user.gid.into())).expect("chown");
    // Output to files: the container's init inherits them, and would hold
    // pipes open.
    let runtime = |args: &[&str], xdg_dir: Option<&Path>| {
        let err_path = xdg.join(format!("{}.stderr", args[0]));
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={}", user.uid))
            .arg(format!("--regid={}", user.gid))
            .args(["--clear-groups", "--"])
            .arg(rt.bin())
            .args(args)
            .env_remove("XDG_RUNTIME_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&err_path).expect("stderr file"));
        if let Some(d) = xdg_dir {
            c.env("XDG_RUNTIME_DIR", d);
        }
        let status = c.status().expect("run runtime");
        (status, fs::read_to_string(&err_path).unwrap_or_default())
    };
    let bundle = b.path().to_str().expect("utf-8");
    let (created, err) = runtime(&["create", "--bundle", bundle, b.id()], Some(xdg.path()));
    let dir = xdg.join(if rt.is_berth() {
        "berth-runtime".to_owned()
    } else {
        rt.name()
    });
    let state_made = dir.join(b.id()).join("state.json").exists();
    let (deleted, delete_err) = runtime(&["delete", "--force", b.id()], Some(xdg.path()));
    assert!(created.success(), "create: {err}");
    assert!(state_made, "no state under {}", dir.display());
    assert!(deleted.success(), "delete: {delete_err}");

    // Without XDG_RUNTIME_DIR berth says so (runc falls back to /run/runc,
    // which works or not depending on whether root made it).
    if rt.is_berth() {
        let (listed, err) = runtime(&["list"], None);
        assert!(!listed.success(), "list without XDG_RUNTIME_DIR succeeded");
        assert!(err.contains("XDG_RUNTIME_DIR is not set"), "{err}");
    }
}

/// A created container's init is still the runtime's binary and not
/// dumpable (CVE-2019-5736), so an unprivileged caller may not join its
/// namespaces until `start`: berth says so (runc 1.1 allows it: its init
/// stays reachable).
#[test]
fn unprivileged_exec_into_a_created_container_is_refused_clearly() {
    require_root!();
    let (_user, rt) = unprivileged_runtime();
    if skip_unless_berth(
        &rt,
        "runc 1.1 lets an unprivileged caller exec before start",
    ) {
        return;
    }
    let mut b = Bundle::rootless(&rt);
    b.set_script("echo started");
    rt.create(&b).ok();
    let out = rt.exec(b.id(), &["true"]).failed();
    assert!(error_message(&out).contains("start it first"), "{out}");
    rt.start(b.id()).ok();
}

/// `process.user.additionalGids` cannot be honoured when setgroups is
/// denied (a single own-gid map): refused rather than ignored (runc:
/// "cannot set any additional groups in a rootless container").
#[test]
fn additional_gids_with_setgroups_denied_are_refused() {
    require_root!();
    let (_user, rt) = unprivileged_runtime();
    let mut b = Bundle::rootless(&rt);
    b.config_mut()["process"]["user"]["additionalGids"] = json!([0]);
    b.set_args(&["true"]);
    let out = rt.run(&b).failed();
    let msg = error_message(&out);
    assert!(
        msg.contains("additionalGids") || msg.contains("additional groups"),
        "{out}"
    );
}

/// The seeds' example, with a root runtime: container ids 0-9999 are host
/// ids 10000-19999.
#[test]
fn container_ids_0_to_9999_are_host_ids_10000_to_19999() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let data = b.host_dir("data");
    nix::unistd::chown(&data, Some(10000.into()), Some(10000.into())).expect("chown");
    b.set_namespace("user", None);
    {
        let mut c = b.config_mut();
        let map = json!([{ "containerID": 0, "hostID": 10000, "size": 10000 }]);
        c["linux"]["uidMappings"] = map.clone();
        c["linux"]["gidMappings"] = map;
    }
    fs::create_dir(b.rootfs().join("data")).expect("mkdir");
    b.add_mount(
        "/data",
        "bind",
        data.to_str().expect("utf-8"),
        &["rbind", "rw"],
    );
    allow_chown(&mut b);
    b.set_script("set -e; id; touch /data/by-root /data/by-9999; chown 9999:9999 /data/by-9999; cat /proc/self/uid_map");
    let out = rt.run(&b).ok().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("uid=0(root) gid=0(root)"), "{out}");
    assert_eq!(map_lines(lines[1]), [(0, 10000, 10000)], "{out}");
    let owner = |name: &str| {
        let m = fs::metadata(data.join(name)).expect("file made in the container");
        (m.uid(), m.gid())
    };
    assert_eq!(owner("by-root"), (10000, 10000));
    assert_eq!(owner("by-9999"), (19999, 19999));
}
