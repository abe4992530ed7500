//! The container state machine through the CLI: create, start, state,
//! kill, delete, run, list, ps, and how exit codes propagate.

mod common;

use std::fs;
use std::time::Duration;

use common::*;
use serde_json::Value;

#[test]
fn run_prints_output_and_exits_zero() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_script("echo hello from $(hostname)");
    let out = rt.run(&b).ok();
    assert_eq!(out.stdout, "hello from runc\n");
    // `run` deletes the container when it exits.
    assert_not_exist(&rt.cmd(&["state", b.id()]), b.id());
    assert!(
        leftover_cgroups(&b).is_empty(),
        "cgroup left: {:?}",
        leftover_cgroups(&b)
    );
}

#[test]
fn exit_code_propagates_through_run() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_script("exit 42");
    let out = rt.run(&b);
    assert_eq!(out.code(), Some(42), "{out}");
}

#[test]
fn killed_by_signal_exits_128_plus_signal() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_args(&["sleep", "1000"]);
    let run = rt.spawn(&["run", "--bundle", b.path().to_str().unwrap(), b.id()]);
    rt.wait_for_status(b.id(), "running", STATE_TIMEOUT);
    rt.kill(b.id(), "KILL").ok();
    let out = run.wait();
    assert_eq!(out.code(), Some(128 + 9), "{out}");
}

#[test]
fn create_start_stop_delete() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_script("read x < /dev/null; sleep 0.5; echo done");
    let created = rt.create(&b).ok();

    let s = rt.state(b.id());
    assert_eq!(s["status"], "created", "{s}");
    assert_eq!(s["id"], b.id());
    let pid = s["pid"].as_u64().expect("pid in state");
    assert!(pid > 0);
    assert!(process_alive(pid as u32));
    assert_eq!(s["bundle"], Value::from(b.path().to_str().unwrap()));
    assert!(
        s["ociVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.")),
        "{s}"
    );
    // The process has not run yet.
    assert_eq!(created.stdout_now(), "");

    rt.start(b.id()).ok();
    let s = rt.state(b.id());
    assert!(s["status"] == "running" || s["status"] == "stopped", "{s}");

    rt.wait_for_status(b.id(), "stopped", STATE_TIMEOUT);
    assert_eq!(created.stdout_now(), "done\n");

    rt.delete(b.id()).ok();
    assert_not_exist(&rt.cmd(&["state", b.id()]), b.id());
    assert!(!rt.root().join(b.id()).exists(), "state dir left behind");
    assert!(
        leftover_cgroups(&b).is_empty(),
        "cgroup left: {:?}",
        leftover_cgroups(&b)
    );
}

#[test]
fn running_state_while_process_lives() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_args(&["sleep", "1000"]);
    rt.create(&b).ok();
    rt.start(b.id()).ok();
    let s = rt.state(b.id());
    assert_eq!(s["status"], "running", "{s}");
    let pid = s["pid"].as_u64().unwrap() as u32;
    // The container's pid 1 is `sleep`.
    wait_for_exec(pid, &["sleep", "1000"]);
    // And it sits in the cgroup of cgroupsPath.
    assert!(
        CgroupParent::procs_of(&b.cgroup_path()).contains(&pid),
        "pid {pid} not in {}",
        b.cgroup_path()
    );
    rt.delete_force(b.id()).ok();
    assert!(wait_until(Duration::from_secs(5), || !process_alive(pid)));
}

#[test]
fn run_detached_then_state_running() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_args(&["sleep", "1000"]);
    let out = rt.run_detached(&b).ok();
    assert_eq!(out.stdout, "");
    assert_eq!(rt.state(b.id())["status"], "running");
    rt.kill(b.id(), "KILL").ok();
    rt.wait_for_status(b.id(), "stopped", STATE_TIMEOUT);
    rt.delete(b.id()).ok();
}

/// Sends `signal` (`None`: kill's default) to a foreground `run` whose
/// init traps TERM, and returns how the run ended. The init's `got TERM`
/// line and exit code 143 say TERM arrived; KILL ends it with 137 and no
/// line; any other signal leaves pid 1 running (no default action), which
/// the run's timeout turns into a failure.
fn kill_foreground(signal: Option<&str>) -> Output {
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_script(TERM_AWARE_INIT);
    let run = rt.spawn(&["run", "--bundle", b.path().to_str().unwrap(), b.id()]);
    assert!(
        wait_until(STATE_TIMEOUT, || run.stdout_now().contains("ready")),
        "init never got ready: {}",
        run.stdout_now()
    );
    let mut args = vec!["kill", b.id()];
    args.extend(signal);
    rt.cmd(&args).ok();
    run.wait_timeout(STATE_TIMEOUT)
}

#[track_caller]
fn assert_term_arrived(out: &Output) {
    assert_eq!(out.code(), Some(143), "{out}");
    assert!(
        out.stdout.contains(GOT_TERM),
        "the TERM trap did not run:\n{out}"
    );
}

fn kill_with(signal: &str) {
    assert_term_arrived(&kill_foreground(Some(signal)));
}

#[test]
fn kill_kill_is_not_a_term() {
    require_root!();
    let out = kill_foreground(Some("KILL"));
    assert_eq!(out.code(), Some(128 + 9), "{out}");
    assert!(
        !out.stdout.contains(GOT_TERM),
        "KILL ran the TERM trap:\n{out}"
    );
}

#[test]
fn kill_accepts_sigterm() {
    require_root!();
    kill_with("SIGTERM");
}

#[test]
fn kill_accepts_term() {
    require_root!();
    kill_with("TERM");
}

#[test]
fn kill_accepts_15() {
    require_root!();
    kill_with("15");
}

#[test]
fn kill_defaults_to_sigterm() {
    require_root!();
    assert_term_arrived(&kill_foreground(None));
}

#[test]
fn kill_all_reaches_every_process() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    // Without a pid namespace, killing init does not take the others down:
    // only --all does.
    b.remove_namespace("pid");
    b.set_script("sleep 1000 & sleep 1000 & sleep 1000");
    rt.run_detached(&b).ok();
    let cg = b.cgroup_path();
    assert!(
        wait_until(STATE_TIMEOUT, || CgroupParent::procs_of(&cg).len() >= 3),
        "expected 3 processes in {cg}: {:?}",
        CgroupParent::procs_of(&cg)
    );
    rt.cmd(&["kill", "--all", b.id(), "KILL"]).ok();
    assert!(
        wait_until(STATE_TIMEOUT, || CgroupParent::procs_of(&cg).is_empty()),
        "processes survived kill --all: {:?}",
        CgroupParent::procs_of(&cg)
    );
    rt.wait_for_status(b.id(), "stopped", STATE_TIMEOUT);
}

/// A container whose init exited leaving a background child in its
/// cgroup (possible without a pid namespace of its own, as in a pod whose
/// containers share one): `kill --all` still reaches the child and
/// succeeds, as runc does and as containerd's shim expects for every
/// exited container of such a pod. Without `--all` the stopped container
/// stays `container not running`.
#[test]
fn kill_all_on_a_stopped_container_kills_what_is_left_in_its_cgroup() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.remove_namespace("pid");
    // The child traps TERM with a marker, so which signal arrived shows.
    let marker = b.host_dir("marker");
    let dest = marker.to_str().unwrap().to_owned();
    b.add_mount(&dest, "bind", &dest, &["rbind", "rw"]);
    b.set_script(&format!(
        "sh -c 'trap \"echo term > {dest}/got; exit 0\" TERM; echo up > {dest}/up; \
         while true; do sleep 0.1; done' </dev/null >/dev/null 2>&1 & \
         while [ ! -e {dest}/up ]; do sleep 0.05; done; exit 0"
    ));
    rt.run_detached(&b).ok();
    rt.wait_for_status(b.id(), "stopped", STATE_TIMEOUT);
    let cg = b.cgroup_path();
    assert!(
        !CgroupParent::procs_of(&cg).is_empty(),
        "the background child should outlive the init in {cg}"
    );
    let out = rt.kill(b.id(), "TERM").failed();
    assert!(
        error_message(&out).contains("container not running"),
        "{out}"
    );
    rt.cmd(&["kill", "--all", b.id(), "TERM"]).ok();
    assert!(
        wait_until(STATE_TIMEOUT, || marker.join("got").exists()),
        "the child never got SIGTERM"
    );
    assert!(
        wait_until(STATE_TIMEOUT, || CgroupParent::procs_of(&cg).is_empty()),
        "left in the cgroup: {:?}",
        CgroupParent::procs_of(&cg)
    );
    // Nothing left to signal is no error either.
    rt.cmd(&["kill", "--all", b.id(), "KILL"]).ok();
    rt.delete(b.id()).ok();
}

#[test]
fn delete_force_kills_a_running_container() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_args(&["sleep", "1000"]);
    rt.run_detached(&b).ok();
    let pid = rt.state(b.id())["pid"].as_u64().unwrap() as u32;

    let refused = rt.delete(b.id()).failed();
    assert!(refused.stderr.contains("running"), "{refused}");

    rt.delete_force(b.id()).ok();
    assert_not_exist(&rt.cmd(&["state", b.id()]), b.id());
    assert!(
        wait_until(Duration::from_secs(5), || !process_alive(pid)),
        "pid {pid} survived"
    );
    assert!(
        leftover_cgroups(&b).is_empty(),
        "cgroup left: {:?}",
        leftover_cgroups(&b)
    );
}

#[test]
fn delete_of_created_container_removes_it() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_args(&["true"]);
    rt.create(&b).ok();
    let pid = rt.state(b.id())["pid"].as_u64().unwrap() as u32;
    rt.delete_force(b.id()).ok();
    assert!(wait_until(Duration::from_secs(5), || !process_alive(pid)));
    assert!(rt.list_ids().is_empty());
}

#[test]
fn list_table_json_and_quiet() {
    require_root!();
    let rt = runtime();
    let mut a = Bundle::new(&rt);
    a.set_args(&["sleep", "1000"]);
    let mut c = Bundle::new(&rt);
    c.set_args(&["sleep", "1000"]);
    rt.run_detached(&a).ok();
    rt.create(&c).ok();

    let table = rt.cmd(&["list"]).ok().stdout;
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    let row = |id: &str| {
        rows.iter()
            .find(|r| r[0] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not listed:\n{table}"))
    };
    assert_eq!(row(a.id())[2], "running");
    assert_eq!(row(c.id())[2], "created");
    assert_eq!(row(a.id())[3], a.path().to_str().unwrap());

    let json: Value =
        serde_json::from_str(&rt.cmd(&["list", "--format", "json"]).ok().stdout).unwrap();
    let list = json.as_array().expect("list --format json is an array");
    assert_eq!(list.len(), 2);
    let entry = list.iter().find(|e| e["id"] == a.id()).expect("a listed");
    assert_eq!(entry["status"], "running");
    assert_eq!(entry["bundle"], a.path().to_str().unwrap());
    assert!(entry["pid"].as_u64().unwrap() > 0);

    let mut quiet = rt.list_ids();
    quiet.sort();
    let mut want = vec![a.id().to_owned(), c.id().to_owned()];
    want.sort();
    assert_eq!(quiet, want);
}

#[test]
fn list_empty_root() {
    require_root!();
    let rt = runtime();
    assert!(rt.list_ids().is_empty());
    let json = rt.cmd(&["list", "--format", "json"]).ok().stdout;
    let v: Value = serde_json::from_str(&json).unwrap_or(Value::Null);
    // runc prints `null` for no containers; `[]` is as good.
    assert!(
        v.is_null() || v.as_array().is_some_and(|a| a.is_empty()),
        "{json}"
    );
}

#[test]
fn ps_json_lists_the_init_pid() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_args(&["sleep", "1000"]);
    rt.run_detached(&b).ok();
    let pid = rt.state(b.id())["pid"].as_u64().unwrap();
    let out = rt.cmd(&["ps", "--format", "json", b.id()]).ok();
    let pids: Vec<u64> = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(pids, vec![pid]);
}

#[test]
fn create_writes_pid_file() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_args(&["true"]);
    let pid_file = b.path().join("init.pid");
    rt.cmd(&[
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        b.id(),
    ])
    .ok();
    let written = fs::read_to_string(&pid_file).unwrap();
    let pid = rt.state(b.id())["pid"].as_u64().unwrap();
    assert_eq!(written.trim(), pid.to_string());
}

#[test]
fn relative_bundle_via_cwd() {
    require_root!();
    // With no --bundle, the bundle is the current directory.
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_script("echo cwd-bundle");
    let out = rt.cmd_in(b.path(), &["run", b.id()]).ok();
    assert_eq!(out.stdout, "cwd-bundle\n");
}
