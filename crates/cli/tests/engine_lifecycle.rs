//! The engine end to end as root: `berth run/create/start/stop/kill/rm/ps/
//! logs/inspect` over an image imported from the busybox rootfs, with the
//! default runtime (berth-runtime), with runc and with crun. Each test has its own
//! root, names and cgroup parent, and removes its containers and mounts
//! even when it fails.

mod common;

use std::process::Stdio;

use berth_testutil::require_root;
use common::engine::{name, Engine};

fn foreground_output_and_exit_code(runtime: &'static str) {
    let e = Engine::new(runtime);
    // "berth" is the berth-runtime binary (e.runtime: after
    // BERTH_TEST_ENGINE_RUNTIME).
    let runtime_file = if e.runtime == "berth" {
        "berth-runtime"
    } else {
        e.runtime
    };
    let n = name("fg");
    let out = e.run(&[
        "run",
        "--name",
        &n,
        "-e",
        "GREETING=hi there",
        "-w",
        "/etc",
        "--hostname",
        "boat",
        "bb:1",
        "sh",
        "-c",
        "echo $GREETING; pwd; hostname; cat /etc/hostname; echo oops >&2; exit 7",
    ]);
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hi there\n/etc\nboat\nboat\n"
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");
    let v = e.inspect(&n);
    assert_eq!(v["State"]["Status"], "exited");
    assert_eq!(v["State"]["ExitCode"], 7);
    assert_eq!(v["Name"], format!("/{n}"));
    // The container ran with the runtime asked for.
    let used = v["HostConfig"]["Runtime"].as_str().unwrap();
    assert!(used.ends_with(runtime_file), "{used} is not {runtime_file}");
    // The log keeps both streams in Docker's json-file format.
    let log = std::fs::read_to_string(v["LogPath"].as_str().unwrap()).unwrap();
    let entries: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        entries
            .iter()
            .any(|e| e["stream"] == "stderr" && e["log"] == "oops\n"),
        "{log}"
    );
    assert!(entries
        .iter()
        .all(|e| e["time"].as_str().is_some_and(|t| t.ends_with('Z'))));
    // Nothing stays mounted once the container exited.
    assert!(
        e.mounts_under_root().is_empty(),
        "{:?}",
        e.mounts_under_root()
    );
}

#[test]
fn run_output_and_exit_code() {
    require_root!();
    foreground_output_and_exit_code("berth");
}

#[test]
fn run_with_runc() {
    require_root!();
    if !common::have_tool("runc") {
        return;
    }
    foreground_output_and_exit_code("runc");
}

#[test]
fn detached_logs_stop() {
    require_root!();
    detached_logs_stop_with("berth");
}

#[test]
fn detached_logs_stop_with_runc() {
    require_root!();
    if common::have_tool("runc") {
        detached_logs_stop_with("runc");
    }
}

#[test]
fn run_with_crun() {
    require_root!();
    if common::have_tool("crun") {
        foreground_output_and_exit_code("crun");
    }
}

#[test]
fn detached_logs_stop_with_crun() {
    require_root!();
    if common::have_tool("crun") {
        detached_logs_stop_with("crun");
    }
}

/// The detached lifecycle: run -d, ps, logs -f, stop (SIGKILL fallback),
/// start again, kill, rm.
fn detached_logs_stop_with(runtime: &'static str) {
    let e = Engine::new(runtime);
    let n = name("d");
    let id = e.ok(&[
        "run",
        "-d",
        "--name",
        &n,
        "bb:1",
        "sh",
        "-c",
        "echo ready; exec sleep 1000",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    // The monitor reports "started" only after `runtime start`: it runs.
    let ps = e.ok(&["ps"]);
    assert!(ps.contains(&n) && ps.contains("Up "), "{ps}");
    assert_eq!(e.inspect(&n)["State"]["Running"], true);
    // `logs -f` follows until the container exits: stop it meanwhile.
    let follower = e
        .command(&["logs", "-f", &n])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // sleep as PID 1 ignores SIGTERM: stop must fall back to SIGKILL.
    assert_eq!(e.ok(&["stop", "-t", "1", &n]), format!("{n}\n"));
    let followed = follower.wait_with_output().unwrap();
    assert!(followed.status.success());
    assert_eq!(String::from_utf8_lossy(&followed.stdout), "ready\n");
    assert_eq!(e.ok(&["logs", &id[..12]]), "ready\n");
    let v = e.inspect(&n);
    assert_eq!(v["State"]["Status"], "exited");
    assert_eq!(v["State"]["ExitCode"], 137);
    assert!(!e.ok(&["ps", "-q"]).contains(&id[..12]));
    assert!(e.ok(&["ps", "-a"]).contains("Exited (137)"));
    // A stopped container starts again.
    e.ok(&["start", &n]);
    assert_eq!(e.inspect(&n)["State"]["Running"], true);
    // sleep as PID 1 ignores every signal but KILL: only KILL ends it.
    e.ok(&["kill", "-s", "KILL", &n]);
    // kill returns once signalled (as Docker's): wait for the exit.
    assert_eq!(exit_code_after_kill(&e, &n), 137);
    e.ok(&["stop", "-t", "0", &n]);
    e.ok(&["rm", &n]);
    let err = String::from_utf8(e.run(&["inspect", &n]).stderr).unwrap();
    assert!(
        err.contains(&format!("No such object: {n}")) || err.contains("No such image"),
        "{err}"
    );
    assert!(e.mounts_under_root().is_empty());
}

/// The exit code of container `n` once a `kill` has ended it (a minute at
/// most: a signal that did not arrive fails here).
fn exit_code_after_kill(e: &Engine, n: &str) -> i64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let state = &e.inspect(n)["State"];
        if state["Status"] == "exited" {
            return state["ExitCode"].as_i64().expect("ExitCode");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} still runs a minute after kill: {state}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `kill -s TERM` delivers TERM (the container's trap prints its line and
/// exits 143); `kill` without -s delivers KILL, Docker's default (137,
/// and the trap does not run).
#[test]
fn kill_delivers_the_signal_it_names() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("k");
    let script = "trap 'echo got TERM; exit 143' TERM; echo ready; while :; do sleep 0.1; done";
    e.ok(&["run", "-d", "--name", &n, "bb:1", "sh", "-c", script]);
    let wait_ready = |count: usize| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while e.ok(&["logs", &n]).matches("ready").count() < count {
            assert!(std::time::Instant::now() < deadline, "never ready");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    wait_ready(1);
    e.ok(&["kill", "-s", "TERM", &n]);
    assert_eq!(exit_code_after_kill(&e, &n), 143);
    assert_eq!(e.ok(&["logs", &n]), "ready\ngot TERM\n");

    e.ok(&["start", &n]);
    wait_ready(2);
    e.ok(&["kill", &n]);
    assert_eq!(exit_code_after_kill(&e, &n), 137);
    assert_eq!(e.ok(&["logs", &n]), "ready\ngot TERM\nready\n");
    e.ok(&["rm", &n]);
}

#[test]
fn rm_flag_leaves_nothing() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("rm");
    let out = e.ok(&["run", "--rm", "--name", &n, "bb:1", "echo", "gone"]);
    assert_eq!(out, "gone\n");
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    let containers = e.berth.root.join("containers");
    assert_eq!(std::fs::read_dir(&containers).unwrap().count(), 0);
    assert!(e.mounts_under_root().is_empty());
    // The container snapshot is gone too: only the image's layer is left.
    let images: serde_json::Value =
        serde_json::from_slice(&std::fs::read(e.berth.root.join("images.json")).unwrap()).unwrap();
    assert_eq!(
        images["snapshots"].as_object().unwrap().len(),
        1,
        "{images}"
    );
}

#[test]
fn ps_shows_states_and_rm_refuses_running() {
    require_root!();
    let e = Engine::new("berth");
    let (created, running, exited) = (name("c"), name("r"), name("x"));
    e.ok(&["create", "--name", &created, "bb:1", "true"]);
    e.ok(&["run", "-d", "--name", &running, "bb:1", "sleep", "1000"]);
    let out = e.run(&["run", "--name", &exited, "bb:1", "false"]);
    assert_eq!(out.status.code(), Some(1));
    let ps = e.ok(&["ps"]);
    assert!(ps.starts_with("CONTAINER ID   IMAGE"), "{ps}");
    assert!(
        ps.contains(&running) && !ps.contains(&created) && !ps.contains(&exited),
        "{ps}"
    );
    let all = e.ok(&["ps", "-a"]);
    let line = |n: &str| all.lines().find(|l| l.ends_with(n)).unwrap().to_owned();
    assert!(line(&created).contains("Created"), "{all}");
    assert!(line(&running).contains("Up "), "{all}");
    assert!(line(&exited).contains("Exited (1)"), "{all}");
    let err = String::from_utf8(e.run(&["rm", &running]).stderr).unwrap();
    assert!(
        err.contains("container is running: stop the container before removing or force remove"),
        "{err}"
    );
    e.ok(&["rm", "-f", &running, &created, &exited]);
    assert_eq!(e.ok(&["ps", "-aq"]), "");
}

#[test]
fn errors_in_dockers_words() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("dup");
    e.ok(&["create", "--name", &n, "bb:1", "true"]);
    let out = e.run(&["run", "--name", &n, "bb:1", "true"]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&format!(
            "Conflict. The container name \"/{n}\" is already in use by container"
        )),
        "{err}"
    );

    // `--pull never`: the default (`missing`) would ask Docker Hub.
    let out = e.run(&["run", "--rm", "--pull", "never", "no-such-image:1", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such image: no-such-image:1"));

    let out = e.run(&["stop", "nonexistent-container"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No such container: nonexistent-container")
    );

    let out = e.run(&["run", "--rm", "bb:1", "/no/such/binary"]);
    assert_eq!(
        out.status.code(),
        Some(127),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = e.run(&["run", "--rm", "bb:1", "/etc"]);
    assert_eq!(
        out.status.code(),
        Some(126),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = e.run(&["run", "--rm", "--network", "container:nope", "bb:1", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such container: nope"));
    // Only the created container is left, and nothing is mounted.
    assert_eq!(e.ok(&["ps", "-aq"]).lines().count(), 1);
    assert!(e.mounts_under_root().is_empty());
}

#[test]
fn stop_signal_stop_timeout_and_log_level() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("sig");
    e.ok(&[
        "run",
        "-d",
        "--name",
        &n,
        "--stop-signal",
        "usr1",
        "--stop-timeout",
        "30",
        "bb:1",
        "sh",
        "-c",
        "trap 'echo got usr1; exit 3' USR1; echo ready; while :; do sleep 0.1; done",
    ]);
    let v = e.inspect(&n);
    assert_eq!(v["Config"]["StopSignal"], "SIGUSR1");
    assert_eq!(v["Config"]["StopTimeout"], 30);
    // The trap ends the container: stop sent USR1, not TERM or KILL.
    let mut ready = false;
    for _ in 0..200 {
        if e.ok(&["logs", &n]).contains("ready") {
            ready = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(ready, "the container never printed ready");
    e.ok(&["stop", &n]);
    assert_eq!(e.inspect(&n)["State"]["ExitCode"], 3);
    assert_eq!(e.ok(&["logs", &n]), "ready\ngot usr1\n");
    // rm -v: Docker's flag; there are no volumes to remove.
    e.ok(&["rm", "-v", &n]);

    // A bad signal is refused before anything is recorded.
    let out = e.run(&["run", "--stop-signal", "FOO", "bb:1", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: invalid signal: FOO\n"
    );
    assert_eq!(e.ok(&["ps", "-aq"]), "");

    // --log-level debug reports the monitor it starts and the runtime
    // commands it runs; the default (info) says nothing of them.
    let out = e.run(&["--log-level", "debug", "run", "--rm", "bb:1", "true"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("starting the container's monitor"), "{err}");
    let out = e.run(&["run", "--rm", "bb:1", "true"]);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}
