//! Restart policies, `restart`, `wait`, log drivers and rotation, and the
//! foreground signal proxy, as root, with berth-runtime (and the key cases
//! with runc). Each test has its own root, names and cgroup parent.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use berth_testutil::require_root;
use common::engine::{name, Engine};
use common::lifecycle::{id_of, monitor_pid, state_of, wait_for};

fn on_failure_restarts_exactly_n_times(runtime: &'static str) {
    let e = Engine::new(runtime);
    let n = name("onfail");
    e.ok(&[
        "run",
        "-d",
        "--restart",
        "on-failure:3",
        "--name",
        &n,
        "bb:1",
        "sh",
        "-c",
        "echo run; exit 3",
    ]);
    // `wait` returns once it is neither running nor restarting.
    assert_eq!(e.ok(&["wait", &n]), "3\n");
    let v = e.inspect(&n);
    assert_eq!(v["RestartCount"], 3, "{v}");
    assert_eq!(v["State"]["Status"], "exited");
    assert_eq!(v["State"]["ExitCode"], 3);
    assert_eq!(v["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(v["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 3);
    // Four runs, each logged.
    assert_eq!(e.ok(&["logs", &n]), "run\nrun\nrun\nrun\n");
    // The monitor ended with the last run, and nothing stays mounted.
    let id = id_of(&e, &n);
    wait_for("the monitor to exit", || {
        monitor_pid(&id).is_none().then_some(())
    });
    assert!(
        e.mounts_under_root().is_empty(),
        "{:?}",
        e.mounts_under_root()
    );
}

#[test]
fn on_failure_3_restarts_3_times() {
    require_root!();
    on_failure_restarts_exactly_n_times("berth");
}

#[test]
fn on_failure_3_restarts_3_times_with_runc() {
    require_root!();
    if !common::have_tool("runc") {
        return;
    }
    on_failure_restarts_exactly_n_times("runc");
}

#[test]
fn on_failure_does_not_restart_a_success() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("onok");
    e.ok(&[
        "run",
        "-d",
        "--restart",
        "on-failure",
        "--name",
        &n,
        "bb:1",
        "true",
    ]);
    assert_eq!(e.ok(&["wait", &n]), "0\n");
    let id = id_of(&e, &n);
    wait_for("the monitor to exit", || {
        monitor_pid(&id).is_none().then_some(())
    });
    assert_eq!(e.inspect(&n)["RestartCount"], 0);
    assert_eq!(state_of(&e, &n), "exited");
}

#[test]
fn always_restarts_after_exit_0_and_stop_ends_it() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("always");
    e.ok(&[
        "run",
        "-d",
        "--restart",
        "always",
        "--name",
        &n,
        "bb:1",
        "sh",
        "-c",
        "echo up; exit 0",
    ]);
    let id = id_of(&e, &n);
    wait_for("three restarts", || {
        (e.inspect(&n)["RestartCount"].as_u64().unwrap() >= 3).then_some(())
    });
    let ps = e.ok(&["ps"]);
    assert!(ps.contains(&n), "a restarting container is listed: {ps}");
    e.ok(&["stop", "-t", "1", &n]);
    // The monitor ends instead of starting it again.
    wait_for("the monitor to exit", || {
        monitor_pid(&id).is_none().then_some(())
    });
    let v = e.inspect(&n);
    assert_eq!(v["State"]["Status"], "exited", "{v}");
    assert_eq!(v["State"]["Restarting"], false);
    let count = v["RestartCount"].as_u64().unwrap();
    // One log line per run; as in Docker, a restart is counted when it is
    // decided, so a stop during the back-off leaves one count without a run.
    let runs = e.ok(&["logs", &n]).lines().count() as u64;
    assert!(
        runs == count + 1 || runs == count,
        "{runs} runs, RestartCount {count}"
    );
    assert!(
        e.mounts_under_root().is_empty(),
        "{:?}",
        e.mounts_under_root()
    );
}

#[test]
fn stop_of_a_running_always_container_does_not_restart_it() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("stopalw");
    e.ok(&[
        "run",
        "-d",
        "--restart",
        "always",
        "--name",
        &n,
        "bb:1",
        "sleep",
        "1000",
    ]);
    let id = id_of(&e, &n);
    e.ok(&["stop", "-t", "1", &n]);
    wait_for("the monitor to exit", || {
        monitor_pid(&id).is_none().then_some(())
    });
    let v = e.inspect(&n);
    assert_eq!(v["State"]["Status"], "exited");
    assert_eq!(v["RestartCount"], 0);
    // A start by the user runs it again, under its policy.
    e.ok(&["start", &n]);
    assert_eq!(state_of(&e, &n), "running");
    e.ok(&["kill", &n]);
    wait_for("the monitor to exit after kill", || {
        monitor_pid(&id).is_none().then_some(())
    });
    assert_eq!(state_of(&e, &n), "exited");
}

#[test]
fn restart_policy_errors_are_dockers() {
    require_root!();
    let e = Engine::new("berth");
    for (args, words) in [
        (
            vec!["--rm", "--restart", "always"],
            "Conflicting options: --restart and --rm",
        ),
        (vec!["--restart", "sometimes"], "unknown policy 'sometimes'"),
        (
            vec!["--restart", "always:3"],
            "maximum retry count can only be used with 'on-failure'",
        ),
        (
            vec!["--restart", "on-failure:-1"],
            "maximum retry count cannot be negative",
        ),
        (
            vec!["--log-driver", "syslog"],
            "no log driver named 'syslog'",
        ),
        (vec!["--log-opt", "max-size=12qq"], "max-size"),
        (
            vec!["--log-opt", "compress=true"],
            "unknown log opt 'compress'",
        ),
    ] {
        let mut a = vec!["run", "-d"];
        a.extend(args);
        a.extend(["bb:1", "true"]);
        let out = e.run(&a);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{a:?}: {err}");
        assert!(err.contains(words), "{a:?}: {err}");
    }
    // Nothing was created.
    assert_eq!(e.ok(&["ps", "-aq"]), "");
}

#[test]
fn restart_command_and_wait() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("rs");
    e.ok(&["run", "-d", "--name", &n, "bb:1", "sleep", "1000"]);
    let before = e.inspect(&n);
    assert_eq!(e.ok(&["restart", "-t", "1", &n]), format!("{n}\n"));
    let after = e.inspect(&n);
    assert_eq!(after["State"]["Status"], "running");
    assert_ne!(before["State"]["Pid"], after["State"]["Pid"]);
    assert_ne!(before["State"]["StartedAt"], after["State"]["StartedAt"]);
    // restart of a stopped container starts it.
    e.ok(&["stop", "-t", "0", &n]);
    e.ok(&["restart", &n]);
    assert_eq!(state_of(&e, &n), "running");
    e.ok(&["kill", &n]);

    let (a, b) = (name("wa"), name("wb"));
    e.ok(&[
        "run",
        "-d",
        "--name",
        &a,
        "bb:1",
        "sh",
        "-c",
        "sleep 0.3; exit 3",
    ]);
    e.ok(&["run", "-d", "--name", &b, "bb:1", "sh", "-c", "exit 5"]);
    assert_eq!(e.ok(&["wait", &a, &b]), "3\n5\n");
    let out = e.run(&["wait", "no-such-container-x"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such container"));
}

#[test]
fn log_rotation_keeps_max_file_files_of_max_size() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("rot");
    e.ok(&[
        "run",
        "-d",
        "--name",
        &n,
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=3",
        "bb:1",
        "sh",
        "-c",
        "i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done",
    ]);
    assert_eq!(e.ok(&["wait", &n]), "0\n");
    let expected: String = (0..300).map(|i| format!("line {i}\n")).collect();
    let v = e.inspect(&n);
    assert_eq!(v["HostConfig"]["LogConfig"]["Type"], "json-file");
    assert_eq!(v["HostConfig"]["LogConfig"]["Config"]["max-size"], "1k");
    let live = v["LogPath"].as_str().unwrap().to_owned();
    assert!(
        live.ends_with(&format!("{}-json.log", id_of(&e, &n))),
        "{live}"
    );
    let files = [format!("{live}.2"), format!("{live}.1"), live.clone()];
    for f in &files {
        let len = std::fs::metadata(f).unwrap().len();
        assert!(len <= 1000, "{f}: {len} bytes");
    }
    assert!(!std::path::Path::new(&format!("{live}.3")).exists());
    // `logs` reads the rotated files oldest first: the newest lines, in
    // order, ending with the last.
    let logs = e.ok(&["logs", &n]);
    assert!(expected.ends_with(&logs), "{logs}");
    assert!(logs.lines().count() > 20, "{logs}");
}

#[test]
fn k8s_file_log_format() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("k8s");
    let out = e.run(&[
        "run",
        "--name",
        &n,
        "--log-driver",
        "k8s-file",
        "bb:1",
        "sh",
        "-c",
        "echo hello out; echo hello err >&2; printf partial",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello out\npartial");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "hello err\n");
    let v = e.inspect(&n);
    assert_eq!(v["HostConfig"]["LogConfig"]["Type"], "k8s-file");
    let text = std::fs::read_to_string(v["LogPath"].as_str().unwrap()).unwrap();
    let mut seen = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.splitn(4, ' ').collect();
        assert_eq!(parts.len(), 4, "{line}");
        // RFC 3339 with nanoseconds, UTC.
        assert!(
            parts[0].len() > 20 && parts[0].ends_with('Z') && parts[0].contains('.'),
            "{line}"
        );
        assert!(
            berth_image::time::parse_rfc3339(parts[0]).is_some(),
            "{line}"
        );
        seen.push((
            parts[1].to_owned(),
            parts[2].to_owned(),
            parts[3].to_owned(),
        ));
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            ("stderr".into(), "F".into(), "hello err".into()),
            ("stdout".into(), "F".into(), "hello out".into()),
            ("stdout".into(), "P".into(), "partial".into()),
        ]
    );
    assert_eq!(e.ok(&["logs", &n]), "hello out\npartial");
}

#[test]
fn none_log_driver_keeps_no_log() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("nolog");
    let out = e.run(&[
        "run",
        "--name",
        &n,
        "--log-driver",
        "none",
        "bb:1",
        "sh",
        "-c",
        "echo x; exit 4",
    ]);
    assert_eq!(out.status.code(), Some(4));
    let v = e.inspect(&n);
    assert_eq!(v["LogPath"], "");
    assert_eq!(v["HostConfig"]["LogConfig"]["Type"], "none");
    let out = e.run(&["logs", &n]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("configured logging driver does not support reading"));
    let dir = e.berth.root.join("containers").join(id_of(&e, &n));
    let logs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|f| {
            f.file_name().to_string_lossy().contains(".log") && f.file_name() != "monitor.log"
        })
        .collect();
    assert!(logs.is_empty(), "{logs:?}");
}

/// SIGINT to a foreground `berth run` reaches the container's process,
/// which ends the run with its own exit code.
fn sigint_reaches_the_container(runtime: &'static str) {
    let e = Engine::new(runtime);
    let n = name("sig");
    let mut child = e
        .command(&[
            "run",
            "--name",
            &n,
            "bb:1",
            "sh",
            "-c",
            "trap 'echo got INT; exit 3' INT; echo ready; while true; do sleep 0.1; done",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3), "{rest}");
    assert_eq!(rest, "got INT\n");
    assert_eq!(state_of(&e, &n), "exited");
}

#[test]
fn sig_proxy_forwards_sigint() {
    require_root!();
    sigint_reaches_the_container("berth");
}

#[test]
fn sig_proxy_forwards_sigint_with_runc() {
    require_root!();
    if !common::have_tool("runc") {
        return;
    }
    sigint_reaches_the_container("runc");
}

#[test]
fn sig_proxy_false_leaves_the_container_running() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("nosig");
    let mut child = e
        .command(&[
            "run",
            "--sig-proxy=false",
            "--name",
            &n,
            "bb:1",
            "sh",
            "-c",
            "trap 'exit 3' INT; echo ready; while true; do sleep 0.1; done",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), None, "the CLI died of the signal");
    assert_eq!(state_of(&e, &n), "running");
}

/// Waits until the container sits in a long back-off (after five quick
/// failures the next delay is 3.2 s), so a command lands between runs.
fn wait_for_back_off(e: &Engine, n: &str) {
    wait_for("a long back-off", || {
        let v = e.inspect(n);
        (v["RestartCount"].as_u64().unwrap() >= 5 && v["State"]["Status"] == "restarting")
            .then_some(())
    });
}

#[test]
fn kill_between_runs_ends_the_restarts() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("killrs");
    e.ok(&[
        "run",
        "-d",
        "--restart",
        "always",
        "--name",
        &n,
        "bb:1",
        "false",
    ]);
    let id = id_of(&e, &n);
    wait_for_back_off(&e, &n);
    let count = e.inspect(&n)["RestartCount"].clone();
    e.ok(&["kill", &n]);
    wait_for("the monitor to exit", || {
        monitor_pid(&id).is_none().then_some(())
    });
    let v = e.inspect(&n);
    assert_eq!(v["State"]["Status"], "exited", "{v}");
    assert_eq!(v["RestartCount"], count, "no run after the kill");
    assert_eq!(v["State"]["ExitCode"], 1);
}

#[test]
fn stop_between_runs_ends_the_restarts() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("stoprs");
    e.ok(&[
        "run",
        "-d",
        "--restart",
        "unless-stopped",
        "--name",
        &n,
        "bb:1",
        "false",
    ]);
    let id = id_of(&e, &n);
    wait_for_back_off(&e, &n);
    e.ok(&["stop", &n]);
    wait_for("the monitor to exit", || {
        monitor_pid(&id).is_none().then_some(())
    });
    assert_eq!(state_of(&e, &n), "exited");
    assert!(
        e.mounts_under_root().is_empty(),
        "{:?}",
        e.mounts_under_root()
    );
}
