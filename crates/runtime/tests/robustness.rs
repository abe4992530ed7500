//! What must hold when things go wrong or get hostile: a runtime step
//! killed half-way, commands racing on one id, an image whose symlinks
//! point at the host, host descriptors, the log file clients parse.

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::json;

/// `create` killed with SIGKILL while its init is half set up (held in a
/// prestart hook) leaves a container that `delete` removes completely: no
/// state directory, no cgroup, no process.
#[test]
fn create_killed_midway_is_cleaned_up_by_delete() {
    require_root!();
    let rt = runtime();
    if skip_unless_berth(&rt, "state.json is written before the init exists") {
        return;
    }
    let mut b = Bundle::new(&rt);
    let marker = b.host_dir("hook").join("entered");
    // The hook records its pid so the test can end it: killing `create`
    // orphans it, as it would any hook a killed runc was running.
    let script = format!(
        "echo $$ > {}.tmp && mv {m}.tmp {m}; exec sleep 60",
        marker.display(),
        m = marker.display()
    );
    b.add_hook("prestart", "/bin/sh", &["sh", "-c", &script]);
    b.set_script("true");
    let create = rt.spawn(&["create", "--bundle", b.path().to_str().unwrap(), b.id()]);
    assert!(
        wait_until(STATE_TIMEOUT, || marker.exists()),
        "the prestart hook never ran"
    );
    let state = rt.state(b.id());
    let init = state["pid"]
        .as_u64()
        .expect("init pid recorded before hooks") as u32;
    assert!(init > 0 && process_alive(init));
    nix_kill(create.pid(), "KILL");
    create.wait();
    // The init notices its runtime is gone and exits on its own.
    assert!(
        wait_until(STATE_TIMEOUT, || !process_alive(init)),
        "init {init} outlived its create"
    );
    let hook: u32 = fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
    nix_kill(hook, "KILL");
    rt.delete(b.id()).ok();
    assert!(!rt.root().join(b.id()).exists(), "state dir left behind");
    assert!(
        leftover_cgroups(&b).is_empty(),
        "cgroup left: {:?}",
        leftover_cgroups(&b)
    );
}

fn nix_kill(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Two `create`s of one id at once: exactly one wins, the other gets
/// runc's "container with id exists" and does not disturb the winner.
#[test]
fn racing_creates_of_one_id_make_one_container() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_script(TERM_AWARE_INIT);
    let args = ["create", "--bundle", b.path().to_str().unwrap(), b.id()];
    let racers: Vec<_> = (0..4).map(|_| rt.spawn(&args)).collect();
    let outs: Vec<Output> = racers.into_iter().map(|r| r.wait()).collect();
    let winners = outs.iter().filter(|o| o.success()).count();
    assert_eq!(winners, 1, "exactly one create must succeed: {outs:#?}");
    for o in outs.iter().filter(|o| !o.success()) {
        assert!(o.stderr.contains("exists"), "loser's error: {o}");
    }
    assert_eq!(rt.status(b.id()).as_deref(), Some("created"));
    rt.delete_force(b.id()).ok();
    assert!(leftover_cgroups(&b).is_empty());
}

/// An absolute symlink in the image must resolve inside the rootfs: a
/// mount destination under `/escape` (-> `/`) lands in the container's
/// root, and nothing is created on the host's `/`.
#[test]
fn symlinks_in_the_rootfs_cannot_redirect_mounts_to_the_host() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    symlink("/", b.rootfs().join("escape")).unwrap();
    let name = unique_id("escape-marker");
    let dest = format!("/escape/{name}");
    b.add_mount(&dest, "tmpfs", "tmpfs", &["size=1m"]);
    b.set_readonly_root(false);
    b.set_script(&format!("grep -c ' /{name} tmpfs' /proc/mounts"));
    let out = rt.run(&b).ok();
    assert_eq!(
        out.stdout.trim(),
        "1",
        "the mount is inside the container's root"
    );
    assert!(
        !std::path::Path::new("/").join(&name).exists(),
        "created /{name} on the host"
    );
    assert!(b.rootfs().join(&name).is_dir());
}

/// Descriptors open in the caller reach the container only when asked
/// for with --preserve-fds (CVE-2024-21626's family).
#[test]
fn host_descriptors_do_not_leak_unless_preserved() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let secret = b.host_dir("fds").join("secret");
    fs::write(&secret, "host secret\n").unwrap();
    // fd 3 is preserved (--preserve-fds 1); fd 7 is not.
    b.set_script("cat /proc/self/fd/3; ls /proc/self/fd/7 2>/dev/null && echo LEAK || echo sealed");
    let cmd = format!(
        "exec 3<{s} 7<{s}; exec {bin} --root {root} run --preserve-fds 1 --bundle {bundle} {id}",
        s = secret.display(),
        bin = rt.bin().display(),
        root = rt.root().display(),
        bundle = b.path().display(),
        id = b.id()
    );
    let out = Command::new("sh").args(["-c", &cmd]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, "host secret\nsealed\n");
}

/// `--no-pivot` (MS_MOVE + chroot) still gives the container its own root.
#[test]
fn no_pivot_still_hides_the_host_root() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_script("cat /etc/hostname 2>/dev/null; ls / | grep -c -x berth-host-only-marker");
    let marker = std::path::Path::new("/berth-host-only-marker");
    let _ = fs::create_dir(marker);
    let out = rt.cmd(&[
        "run",
        "--no-pivot",
        "--bundle",
        b.path().to_str().unwrap(),
        b.id(),
    ]);
    let _ = fs::remove_dir(marker);
    // grep -c prints 0 and exits 1 when the host's / is not visible.
    assert_eq!(out.stdout.lines().last(), Some("0"), "{out}");
}

/// Containerd and Podman read the error of a failed command from the
/// --log file in JSON: one object per line with level, msg and time.
#[test]
fn errors_reach_the_json_log() {
    require_root!();
    let rt = runtime();
    let dir = TempDir::new("berth-log").unwrap();
    let log = dir.path().join("log.json");
    let id = unique_id("nolog");
    let out = rt.cmd(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "state",
        &id,
    ]);
    assert!(!out.success());
    let text = fs::read_to_string(&log).expect("log file written");
    let line: serde_json::Value =
        serde_json::from_str(text.lines().last().unwrap()).expect("a JSON line");
    assert_eq!(line["level"], "error");
    assert!(
        line["msg"].as_str().unwrap().contains("does not exist"),
        "{line}"
    );
    assert!(
        line["time"].as_str().is_some_and(|t| t.contains('T')),
        "{line}"
    );
}

/// `linux.devices` become device nodes with the configured numbers and mode.
#[test]
fn configured_devices_are_created() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    {
        let mut cfg = b.config_mut();
        cfg["linux"]["devices"] = json!([{ "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o640, "uid": 0, "gid": 0 }]);
    }
    b.set_script("stat -c '%F %t:%T %a' /dev/fuse");
    let out = rt.run(&b).ok();
    assert_eq!(out.stdout.trim(), "character special file a:e5 640");
}

/// A container whose init died before `start` is reported as stopped,
/// and `start` refuses it with runc's words.
#[test]
fn init_killed_before_start_is_stopped() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_script("true");
    rt.create(&b).ok();
    let pid = rt.state(b.id())["pid"].as_u64().unwrap() as u32;
    nix_kill(pid, "KILL");
    assert!(wait_until(Duration::from_secs(10), || rt
        .status(b.id())
        .as_deref()
        == Some("stopped")));
    let out = rt.start(b.id()).failed();
    assert!(
        error_message(&out).contains("cannot start a container that has stopped"),
        "{out}"
    );
    rt.delete(b.id()).ok();
}
