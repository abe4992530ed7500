//! containerd drives the runtime under test unchanged: each test starts its
//! own containerd (Debian's 1.6, temp root, state and socket), imports a
//! busybox image from a locally made OCI archive, and uses `ctr` with
//! `--runc-binary <runtime>` through the `io.containerd.runc.v2` shim, the
//! path by which Kubernetes reaches a runtime. With `BERTH_TEST_RUNTIME=runc`
//! the same tests check themselves against runc.
//!
//! The CRI plugin (Kubernetes) is tested by scripts/critest.sh with critest.

mod common;

use common::*;

/// A private containerd with the busybox image, driving the runtime under
/// test; skips (or fails under CI) when containerd is not installed.
fn containerd() -> Option<Containerd> {
    if !std::path::Path::new("/usr/bin/containerd").exists()
        && std::env::var_os("BERTH_TEST_CONTAINERD").is_none()
    {
        if root_required_by_env() {
            panic!("containerd is not installed (apt-get install containerd), and CI asks for every test");
        }
        skipped("containerd is not installed");
        return None;
    }
    let rt = runtime();
    let ctrd = Containerd::start(rt.bin());
    ctrd.import_busybox();
    Some(ctrd)
}

/// The STATUS column of `ctr task ls` for `id`, if the task is listed.
fn task_status(ctrd: &Containerd, id: &str) -> Option<String> {
    let out = ctrd.ctr(&["task", "ls"]).ok();
    out.stdout.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        (cols.first() == Some(&id)).then(|| cols.last().unwrap_or(&"").to_string())
    })
}

#[track_caller]
fn wait_for_task_status(ctrd: &Containerd, id: &str, want: &str) {
    let mut last = None;
    let reached = wait_until(STATE_TIMEOUT, || {
        last = task_status(ctrd, id);
        last.as_deref() == Some(want)
    });
    assert!(
        reached,
        "task {id} never became {want}; last: {last:?}\n{}",
        ctrd.log()
    );
}

/// `ctr run -d` of `argv`, returning once the task is RUNNING.
fn run_detached(ctrd: &Containerd, id: &str, extra: &[&str], argv: &[&str]) {
    let mut flags = vec!["-d"];
    flags.extend_from_slice(extra);
    let out = ctrd.run(id, &flags, argv);
    assert!(out.success(), "ctr run -d failed:\n{out}\n{}", ctrd.log());
    wait_for_task_status(ctrd, id, "RUNNING");
}

#[test]
fn run_to_completion_gives_output_and_exit_code() {
    require_root!();
    let Some(ctrd) = containerd() else { return };
    let id = unique_id("ctr-run");
    let out = ctrd.run(
        &id,
        &["--rm"],
        &["sh", "-c", "echo out-$(id -u); echo err >&2; exit 7"],
    );
    assert_eq!(out.code(), Some(7), "exit code of the container:\n{out}");
    assert_eq!(out.stdout.trim(), "out-0", "{out}");
    assert!(out.stderr.contains("err"), "{out}");
    // --rm removed the container, and with it the runtime's state.
    let listed = ctrd.ctr(&["container", "ls", "-q"]).ok();
    assert!(!listed.stdout.contains(&id), "{listed}");
}

#[test]
fn detached_run_and_exec() {
    require_root!();
    let Some(ctrd) = containerd() else { return };
    let id = unique_id("ctr-exec");
    run_detached(&ctrd, &id, &[], &["sleep", "1000"]);

    // The runtime under test holds the container: its own `state` knows it.
    let rt = runtime();
    let ns_root = std::fs::read_dir(ctrd.runtime_root())
        .expect("runtime root")
        .flatten()
        .next()
        .expect("a namespace dir under the runtime root")
        .path();
    let state = std::process::Command::new(rt.bin())
        .arg("--root")
        .arg(&ns_root)
        .args(["state", &id])
        .output()
        .expect("run the runtime's state");
    let state: serde_json::Value = serde_json::from_slice(&state.stdout)
        .unwrap_or_else(|e| panic!("state JSON: {e}: {state:?}"));
    assert_eq!(state["status"], "running", "{state}");

    let out = ctrd.exec(
        &id,
        &[
            "sh",
            "-c",
            "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo exec-pid-$$; exit 3",
        ],
    );
    assert_eq!(
        out.code(),
        Some(3),
        "exit code of the exec'd process:\n{out}"
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first().map(|l| l.trim()), Some("sleep 1000"), "{out}");
    // The exec'd process is in the container's pid namespace.
    assert!(
        lines
            .get(1)
            .is_some_and(|l| l.starts_with("exec-pid-") && l != &"exec-pid-1"),
        "{out}"
    );
}

#[test]
fn kill_ends_a_foreground_run_with_the_signal_status() {
    require_root!();
    let Some(ctrd) = containerd() else { return };
    let id = unique_id("ctr-kill");
    let mut args = ctrd.run_args(&id, &[]);
    args.extend([BUSYBOX_IMAGE.into(), id.clone(), "sh".into(), "-c".into()]);
    args.push(TERM_AWARE_INIT.replace("exit 143", "echo got-term; exit 143"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = ctrd.spawn_ctr(&args);
    assert!(
        wait_until(STATE_TIMEOUT, || run.stdout_now().contains("ready")),
        "init never got ready:\n{}",
        ctrd.log()
    );
    ctrd.ctr(&["task", "kill", &id]).ok();
    let out = run.wait();
    assert_eq!(out.code(), Some(143), "exit status after SIGTERM:\n{out}");
    assert!(out.stdout.contains("got-term"), "{out}");
    // A foreground `ctr run` deletes the task once it has exited.
    assert_eq!(task_status(&ctrd, &id), None);
}

#[test]
fn kill_with_sigkill_stops_a_detached_task() {
    require_root!();
    let Some(ctrd) = containerd() else { return };
    let id = unique_id("ctr-kill9");
    run_detached(&ctrd, &id, &[], &["sleep", "1000"]);
    ctrd.ctr(&["task", "kill", "-s", "SIGKILL", &id]).ok();
    wait_for_task_status(&ctrd, &id, "STOPPED");
    // `task delete` prints the exit status: 128 + 9.
    let out = ctrd.ctr(&["task", "delete", &id]).ok();
    assert!(
        out.stderr.contains("exit code 137"),
        "exit status of a SIGKILLed task:\n{out}"
    );
}

#[test]
fn pause_and_resume() {
    require_root!();
    let Some(ctrd) = containerd() else { return };
    let id = unique_id("ctr-pause");
    // A counter that only advances while the task runs.
    run_detached(
        &ctrd,
        &id,
        &[],
        &[
            "sh",
            "-c",
            "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done",
        ],
    );
    ctrd.ctr(&["task", "pause", &id]).ok();
    wait_for_task_status(&ctrd, &id, "PAUSED");
    let freezer = CgroupParent::file_of(&ctrd.cgroup_path(&id), "freezer.state")
        .or_else(|| CgroupParent::file_of(&ctrd.cgroup_path(&id), "cgroup.freeze"))
        .expect("a freezer file for the task's cgroup");
    let frozen = std::fs::read_to_string(&freezer).unwrap();
    assert!(
        matches!(frozen.trim(), "FROZEN" | "1"),
        "{}: {frozen}",
        freezer.display()
    );

    ctrd.ctr(&["task", "resume", &id]).ok();
    wait_for_task_status(&ctrd, &id, "RUNNING");
    // Running again: the counter moves.
    let read = || {
        ctrd.exec(&id, &["cat", "/tmp/n"])
            .ok()
            .stdout
            .trim()
            .parse::<u64>()
            .unwrap_or(0)
    };
    let first = read();
    assert!(
        wait_until(STATE_TIMEOUT, || read() > first),
        "the counter did not advance after resume"
    );
}

#[test]
fn metrics_report_the_memory_limit_and_usage() {
    require_root!();
    let Some(ctrd) = containerd() else { return };
    let id = unique_id("ctr-metrics");
    let limit: u64 = 48 * 1024 * 1024;
    run_detached(
        &ctrd,
        &id,
        &["--memory-limit", &limit.to_string()],
        &["sleep", "1000"],
    );

    // ctr's spec mounts no cgroupfs in the container: check that the
    // container's processes are in the cgroup ctr asked for, and read the
    // limit there from the host.
    let cgroup = ctrd.cgroup_path(&id);
    let inside = ctrd.exec(&id, &["cat", "/proc/self/cgroup"]).ok();
    assert!(
        inside
            .stdout
            .lines()
            .any(|l| l.ends_with(&format!(":{cgroup}"))),
        "the exec'd process is not in {cgroup}:\n{inside}"
    );
    let limit_file = if cgroup_v2() {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    assert_eq!(
        CgroupParent::read_file(&cgroup, limit_file),
        limit.to_string()
    );

    let out = ctrd.ctr(&["task", "metrics", "--format", "json", &id]).ok();
    let m: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("metrics JSON: {e}\n{out}"));
    // cgroup v1 metrics carry memory.usage.{usage,limit}; v2 memory.{usage,usage_limit}.
    let mem = &m["memory"];
    let (usage, reported_limit) = if mem["usage"].is_object() {
        (&mem["usage"]["usage"], &mem["usage"]["limit"])
    } else {
        (&mem["usage"], &mem["usage_limit"])
    };
    assert_eq!(reported_limit.as_u64(), Some(limit), "{m}");
    assert!(usage.as_u64().is_some_and(|u| u > 0), "memory usage: {m}");
    let pids = m["pids"]["current"].as_u64().unwrap_or(0);
    assert!(pids >= 1, "pids.current: {m}");
}

#[test]
fn tty_run() {
    require_root!();
    let Some(ctrd) = containerd() else { return };
    let id = unique_id("ctr-tty");
    // ctr -t wants its own stdin to be a terminal: script(1) gives it one.
    let mut inner = ctrd.ctr_argv();
    inner.extend(ctrd.run_args(&id, &["-t", "--rm"]));
    inner.extend([
        BUSYBOX_IMAGE.to_string(),
        id.clone(),
        "sh".into(),
        "-c".into(),
        "tty; [ -t 0 ] && [ -t 1 ] && echo both-ttys; stty size; exit 5".into(),
    ]);
    let line = inner
        .iter()
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    // script's stdin is a pipe held open until the end: at EOF on /dev/null
    // script would end the session, racing with the container's output.
    let log = ctrd.dir().join("tty.out");
    let mut child = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run script(1) (util-linux bsdutils)");
    let _stdin = child.stdin.take();
    let mut status = None;
    let exited = wait_until(DEFAULT_TIMEOUT, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
    }
    let stdout = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(exited, "ctr run -t did not exit:\n{stdout}");
    assert_eq!(status.and_then(|s| s.code()), Some(5), "{stdout}");
    assert!(stdout.contains("/dev/pts/"), "{stdout}");
    assert!(stdout.contains("both-ttys"), "{stdout}");
}

#[test]
fn task_delete_removes_the_container_state_and_cgroup() {
    require_root!();
    let Some(ctrd) = containerd() else { return };
    let id = unique_id("ctr-delete");
    let out = ctrd.run(&id, &["-d"], &["sh", "-c", "exit 4"]);
    assert!(out.success(), "ctr run -d failed:\n{out}");
    wait_for_task_status(&ctrd, &id, "STOPPED");
    let cgroup = ctrd.cgroup_path(&id);

    let out = ctrd.ctr(&["task", "delete", &id]).ok();
    assert!(
        out.stderr.contains("exit code 4"),
        "exit status 4 reported by delete:\n{out}"
    );
    assert_eq!(task_status(&ctrd, &id), None);
    assert!(
        CgroupParent::dirs_of(&cgroup).is_empty(),
        "cgroup {cgroup} left behind: {:?}",
        CgroupParent::dirs_of(&cgroup)
    );
    // The runtime's own state dir for the container is gone.
    let leftover: Vec<_> = walk(&ctrd.runtime_root())
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == id.as_str()))
        .collect();
    assert!(leftover.is_empty(), "runtime state left: {leftover:?}");
    // The shim unmounted the rootfs.
    let mounted: Vec<_> = mountinfo()
        .into_iter()
        .filter(|m| m.mount_point.contains(&id))
        .map(|m| m.mount_point)
        .collect();
    assert!(mounted.is_empty(), "mounts left: {mounted:?}");
    ctrd.ctr(&["container", "delete", &id]).ok();
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            out.push(e.path());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(walk(&e.path()));
            }
        }
    }
    out
}
