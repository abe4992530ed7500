//! `exec`: a new process in a running container's namespaces and cgroup,
//! with its own env, cwd, user and exit code.

mod common;

use std::fs;
use std::time::Duration;

use common::*;
use serde_json::json;

/// A running `sleep` container; the bundle keeps it alive and cleans up.
fn running(rt: &Runtime) -> (Bundle, u32) {
    let mut b = Bundle::new(rt);
    b.set_args(&["sleep", "1000"]);
    rt.run_detached(&b).ok();
    let pid = rt.state(b.id())["pid"].as_u64().unwrap() as u32;
    wait_for_exec(pid, &["sleep", "1000"]);
    (b, pid)
}

#[test]
fn exec_joins_the_init_namespaces() {
    require_root!();
    let rt = runtime();
    let (b, pid) = running(&rt);
    for kind in ["pid", "net", "mnt", "uts", "ipc"] {
        let out = rt
            .exec(b.id(), &["readlink", &format!("/proc/self/ns/{kind}")])
            .ok();
        assert_eq!(out.stdout.trim(), pid_ns(pid, kind), "{kind}");
    }
}

#[test]
fn exec_sees_the_container_processes() {
    require_root!();
    let rt = runtime();
    let (b, _) = running(&rt);
    let out = rt
        .exec(
            b.id(),
            &[
                "sh",
                "-c",
                "cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname",
            ],
        )
        .ok();
    assert_eq!(out.stdout, "sleep 1000 \nrunc\n");
}

#[test]
fn exec_joins_the_cgroup() {
    require_root!();
    let rt = runtime();
    let (b, _) = running(&rt);
    let out = rt.exec(b.id(), &["cat", "/proc/self/cgroup"]).ok();
    // v1 and hybrid: the memory controller's line; v2: the only line,
    // `0::<path>`.
    let lines: Vec<&str> = out.stdout.lines().collect();
    let line = lines
        .iter()
        .find(|l| l.contains(":memory:"))
        .or_else(|| lines.iter().find(|l| l.starts_with("0::")))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.ends_with(&b.cgroup_path()),
        "{line} not in {}",
        b.cgroup_path()
    );
}

#[test]
fn exec_env_and_cwd() {
    require_root!();
    let rt = runtime();
    let (b, _) = running(&rt);
    let out = rt
        .cmd(&[
            "exec",
            "--env",
            "GREETING=hi there",
            "--cwd",
            "/tmp",
            b.id(),
            "sh",
            "-c",
            "echo $GREETING; pwd; echo $PATH",
        ])
        .ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "hi there");
    assert_eq!(lines[1], "/tmp");
    // --env adds to the config's env, it does not replace it.
    assert!(lines[2].contains("/bin"), "{out}");
}

#[test]
fn exec_as_another_user() {
    require_root!();
    let rt = runtime();
    let (b, _) = running(&rt);
    let out = rt
        .cmd(&[
            "exec",
            "--user",
            "1000:1000",
            b.id(),
            "sh",
            "-c",
            "id -u; id -g; id -un",
        ])
        .ok();
    assert_eq!(out.stdout, "1000\n1000\nuser\n");
}

#[test]
fn exec_exit_code_propagates() {
    require_root!();
    let rt = runtime();
    let (b, _) = running(&rt);
    let out = rt.exec(b.id(), &["sh", "-c", "exit 7"]);
    assert_eq!(out.code(), Some(7), "{out}");
    assert_eq!(rt.state(b.id())["status"], "running");
}

#[test]
fn exec_with_process_file() {
    require_root!();
    let rt = runtime();
    let (b, _) = running(&rt);
    let process = json!({
        "terminal": false,
        "user": { "uid": 1000, "gid": 1000 },
        "args": ["sh", "-c", "echo from-file $WHO $(id -u) $(pwd)"],
        "env": ["PATH=/bin", "WHO=process-json"],
        "cwd": "/home/user"
    });
    let file = b.path().join("process.json");
    fs::write(&file, process.to_string()).unwrap();
    let out = rt
        .cmd(&["exec", "--process", file.to_str().unwrap(), b.id()])
        .ok();
    assert_eq!(out.stdout, "from-file process-json 1000 /home/user\n");
}

#[test]
fn exec_detached_writes_pid_file() {
    require_root!();
    let rt = runtime();
    let (b, init) = running(&rt);
    let pid_file = b.path().join("exec.pid");
    rt.cmd(&[
        "exec",
        "-d",
        "--pid-file",
        pid_file.to_str().unwrap(),
        b.id(),
        "sleep",
        "999",
    ])
    .ok();
    let pid: u32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(process_alive(pid), "exec'd pid {pid} not running");
    assert_eq!(pid_ns(pid, "pid"), pid_ns(init, "pid"));
    // The pid may be written a moment before the process calls execve.
    let cmdline = || fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(5), || cmdline() == b"sleep\x00999\x00"),
        "pid {pid} runs {:?}",
        String::from_utf8_lossy(&cmdline())
    );
    // It is one of the container's processes.
    let ps = rt.cmd(&["ps", "--format", "json", b.id()]).ok();
    let pids: Vec<u32> = serde_json::from_str(&ps.stdout).unwrap();
    assert!(pids.contains(&pid) && pids.contains(&init), "{pids:?}");
    // And it dies with the container.
    rt.delete_force(b.id()).ok();
    assert!(wait_until(Duration::from_secs(5), || !process_alive(pid)));
}

#[test]
fn exec_keeps_the_container_capabilities() {
    require_root!();
    let rt = runtime();
    let (b, init) = running(&rt);
    let out = rt
        .exec(b.id(), &["grep", "^CapBnd", "/proc/self/status"])
        .ok();
    let host_view = fs::read_to_string(format!("/proc/{init}/status")).unwrap();
    let init_bnd = host_view.lines().find(|l| l.starts_with("CapBnd")).unwrap();
    assert_eq!(out.stdout.trim(), init_bnd);
}
