//! `linux.seccomp`: the kernel enforces the profile in the container and in
//! exec'd processes; a notify listener gets the descriptor and the state.

mod common;

use std::io::Read;
use std::os::unix::net::UnixListener;
use std::time::Duration;

use common::*;
use serde_json::json;

fn with_profile(b: &mut Bundle, profile: serde_json::Value) {
    b.config_mut()["linux"]["seccomp"] = profile;
    b.set_readonly_root(false);
}

/// SCMP_ACT_ERRNO returns the configured errno; everything else runs.
#[test]
fn denied_syscall_returns_the_configured_errno() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    with_profile(
        &mut b,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}),
    );
    // busybox prints strerror: 13 is EACCES.
    b.set_script("mkdir /tmp/x 2>&1; echo rc=$?; grep '^Seccomp:' /proc/self/status");
    let out = rt.run(&b).ok();
    assert!(out.stdout.contains("Permission denied"), "{out}");
    assert!(out.stdout.contains("rc=1"), "{out}");
    assert!(out.stdout.contains("Seccomp:\t2"), "{out}");
}

/// SCMP_ACT_KILL_PROCESS kills the caller with SIGSYS: the shell sees its
/// `mkdir` child die of signal 31 (status 128+31).
#[test]
fn killed_syscall_kills_the_process() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    with_profile(
        &mut b,
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"}]}),
    );
    b.set_script("mkdir /tmp/y; echo rc=$?; if [ -d /tmp/y ]; then echo created; fi");
    let out = rt.run(&b).ok();
    assert!(
        out.stdout.contains(&format!("rc={}", 128 + libc::SIGSYS)),
        "{out}"
    );
    assert!(!out.stdout.contains("created"), "{out}");
}

/// An exec'd process runs under the container's profile too.
#[test]
fn exec_gets_the_container_profile() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    with_profile(
        &mut b,
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}),
    );
    b.set_script(TERM_AWARE_INIT);
    rt.run_detached(&b).ok();
    let out = rt.exec(b.id(), &["sh", "-c", "mkdir /tmp/z; echo rc=$?"]);
    assert!(out.stdout.contains("rc=1"), "{out}");
}

/// SCMP_ACT_NOTIFY: the listener at listenerPath receives the notify
/// descriptor with the container's state and the metadata; once it closes
/// the descriptor, the trapped syscall fails (ENOSYS) instead of hanging.
#[test]
fn notify_listener_receives_the_descriptor_and_state() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let sock = b.host_dir("listener").join("seccomp.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    with_profile(
        &mut b,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock, "listenerMetadata": "berth-test",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}),
    );
    b.set_script("mkdir /tmp/n 2>/dev/null; echo rc=$?");
    let run = rt.spawn(&["run", "--bundle", b.path().to_str().unwrap(), b.id()]);
    let (mut conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let (payload, fd) = berth_sys::recv_message(std::os::fd::AsFd::as_fd(&conn)).expect("recvmsg");
    let fd = fd.expect("a descriptor came with the message");
    let link = std::fs::read_link(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&fd)
    ))
    .unwrap();
    assert!(
        link.to_string_lossy().contains("seccomp"),
        "not a seccomp notify fd: {link:?}"
    );
    let msg: serde_json::Value = serde_json::from_slice(&payload).expect("the message is JSON");
    assert_eq!(msg["fds"], json!(["seccompFd"]), "{msg}");
    assert_eq!(msg["metadata"], "berth-test", "{msg}");
    assert_eq!(msg["state"]["id"], b.id(), "{msg}");
    assert!(
        msg["pid"].as_u64().unwrap_or(0) > 1,
        "the host pid of the process: {msg}"
    );
    drop(fd);
    let mut rest = String::new();
    let _ = conn.read_to_string(&mut rest);
    let out = run.wait();
    assert!(out.stdout.contains("rc=1"), "{out}");
}
