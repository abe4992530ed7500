//! Recovery as root: after a `kill -9` of a monitor or a CLI, or a
//! simulated reboot, the next command reconciles the database with what
//! runs (no container stuck `running`, no mount, runtime state or cgroup
//! left); `system boot` starts what the restart policies say; 20 parallel
//! `berth run`s on one root all succeed. With berth-runtime, and the key
//! case with runc.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use berth_testutil::{require_root, CgroupParent};
use common::engine::{name, Engine};
use common::lifecycle::{id_of, is_gone, monitor_pid, sigkill, sql, state_of, wait_for};

/// The cgroup directories of container `id` that still exist.
fn cgroups_of(e: &Engine, id: &str) -> Vec<std::path::PathBuf> {
    CgroupParent::dirs_of(&format!("{}/{id}", e.cgroups.path()))
}

fn kill_9_of_the_monitor_is_reconciled(runtime: &'static str) {
    let e = Engine::new(runtime);
    let n = name("k9");
    e.ok(&["run", "-d", "--name", &n, "bb:1", "sleep", "1000"]);
    let id = id_of(&e, &n);
    let init = e.inspect(&n)["State"]["Pid"].as_i64().unwrap() as i32;
    assert!(!cgroups_of(&e, &id).is_empty());
    let monitor = monitor_pid(&id).expect("a monitor runs");
    sigkill(monitor);
    wait_for("the monitor to die", || is_gone(monitor).then_some(()));

    // The next command, whatever it is, finds the owner gone.
    let ps = e.ok(&["ps"]);
    assert!(!ps.contains(&n), "{ps}");
    let v = e.inspect(&n);
    assert_eq!(v["State"]["Status"], "exited", "{v}");
    assert_eq!(v["State"]["ExitCode"], 137, "the live container was killed");
    assert!(
        v["State"]["Error"]
            .as_str()
            .unwrap()
            .contains("monitor died"),
        "{v}"
    );
    wait_for("the container's init to be gone", || {
        is_gone(init).then_some(())
    });
    assert!(
        e.mounts_under_root().is_empty(),
        "{:?}",
        e.mounts_under_root()
    );
    assert!(
        !e.berth.root.join("runtime").join(&id).exists(),
        "runtime state left"
    );
    assert!(cgroups_of(&e, &id).is_empty(), "{:?}", cgroups_of(&e, &id));
    // And it starts again normally.
    e.ok(&["start", &n]);
    assert_eq!(state_of(&e, &n), "running");
}

#[test]
fn kill_9_of_the_monitor() {
    require_root!();
    kill_9_of_the_monitor_is_reconciled("berth");
}

#[test]
fn kill_9_of_the_monitor_with_runc() {
    require_root!();
    if !common::have_tool("runc") {
        return;
    }
    kill_9_of_the_monitor_is_reconciled("runc");
}

#[test]
fn kill_9_of_the_monitor_of_an_rm_container_removes_it() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("k9rm");
    e.ok(&["run", "-d", "--rm", "--name", &n, "bb:1", "sleep", "1000"]);
    let id = id_of(&e, &n);
    let monitor = monitor_pid(&id).unwrap();
    sigkill(monitor);
    wait_for("the monitor to die", || is_gone(monitor).then_some(()));
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert!(!e.berth.root.join("containers").join(&id).exists());
    assert!(
        e.mounts_under_root().is_empty(),
        "{:?}",
        e.mounts_under_root()
    );
}

#[test]
fn kill_9_of_a_foreground_run_leaves_the_container_to_its_monitor() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("k9cli");
    let mut cli = e
        .command(&[
            "run",
            "--name",
            &n,
            "bb:1",
            "sh",
            "-c",
            "echo ready; sleep 1000",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(cli.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    sigkill(cli.id() as i32);
    cli.wait().unwrap();
    // The monitor lives on, so the reconcile leaves the container alone.
    assert_eq!(state_of(&e, &n), "running");
    assert!(e.ok(&["ps"]).contains(&n));
    e.ok(&["stop", "-t", "0", &n]);
    assert_eq!(e.inspect(&n)["State"]["ExitCode"], 137);
}

/// What a reboot leaves: the recorded boot id is another one, every
/// process and mount is gone; the runtime's state (here on disk) and the
/// database still say running.
fn simulate_reboot(e: &Engine, names: &[&str]) {
    // Read before any monitor dies: the next berth command would reconcile.
    let inits: Vec<i32> = names
        .iter()
        .map(|n| e.inspect(n)["State"]["Pid"].as_i64().unwrap() as i32)
        .collect();
    let ids: Vec<String> = names.iter().map(|n| id_of(e, n)).collect();
    for id in &ids {
        let monitor = monitor_pid(id).unwrap();
        // The monitor first, so it does not see the container's exit.
        sigkill(monitor);
        wait_for("the monitor to die", || is_gone(monitor).then_some(()));
    }
    for init in inits {
        sigkill(init);
        wait_for("the init to die", || is_gone(init).then_some(()));
    }
    for m in e.mounts_under_root().iter().rev() {
        e.umount(m).unwrap();
    }
    sql(
        e,
        "UPDATE containers SET boot_id = 'a-boot-long-gone' WHERE boot_id != ''",
    );
}

#[test]
fn reboot_is_reconciled_and_system_boot_restarts_by_policy() {
    require_root!();
    reboot_then_boot("berth");
}

#[test]
fn reboot_is_reconciled_and_system_boot_restarts_by_policy_with_runc() {
    require_root!();
    if !common::have_tool("runc") {
        return;
    }
    reboot_then_boot("runc");
}

fn reboot_then_boot(runtime: &'static str) {
    let e = Engine::new(runtime);
    let always = name("always");
    let unless = name("unless");
    let plain = name("plain");
    let stopped_unless = name("stopunl");
    let stopped_always = name("stopalw");
    let onfail_ok = name("onfok");
    for (n, policy) in [
        (&always, "always"),
        (&unless, "unless-stopped"),
        (&plain, "no"),
        (&stopped_unless, "unless-stopped"),
        (&stopped_always, "always"),
    ] {
        e.ok(&[
            "run",
            "-d",
            "--restart",
            policy,
            "--name",
            n,
            "bb:1",
            "sleep",
            "1000",
        ]);
    }
    e.ok(&[
        "run",
        "-d",
        "--restart",
        "on-failure",
        "--name",
        &onfail_ok,
        "bb:1",
        "true",
    ]);
    assert_eq!(e.ok(&["wait", &onfail_ok]), "0\n");
    e.ok(&["stop", "-t", "0", &stopped_unless, &stopped_always]);
    let ids: Vec<String> = [&always, &unless, &plain]
        .iter()
        .map(|n| id_of(&e, n))
        .collect();

    simulate_reboot(&e, &[&always, &unless, &plain]);

    // Any command reconciles: all exited, with Docker's 255.
    let all = e.ok(&["ps", "-a"]);
    for n in [&always, &unless, &plain] {
        let v = e.inspect(n);
        assert_eq!(v["State"]["Status"], "exited", "{all}");
        assert_eq!(v["State"]["ExitCode"], 255);
        assert!(
            v["State"]["Error"].as_str().unwrap().contains("rebooted"),
            "{v}"
        );
    }
    for id in &ids {
        assert!(
            !e.berth.root.join("runtime").join(id).exists(),
            "stale runtime state"
        );
        assert!(cgroups_of(&e, id).is_empty(), "{:?}", cgroups_of(&e, id));
    }
    assert!(e.mounts_under_root().is_empty());

    // `system boot` starts what Docker's daemon would at its start.
    let started = e.ok(&["system", "boot"]);
    let mut started: Vec<&str> = started.lines().collect();
    started.sort();
    let mut expected = vec![always.as_str(), unless.as_str(), stopped_always.as_str()];
    expected.sort();
    assert_eq!(started, expected);
    for n in [&always, &unless, &stopped_always] {
        assert_eq!(state_of(&e, n), "running", "{n}");
    }
    for n in [&plain, &stopped_unless, &onfail_ok] {
        assert_eq!(state_of(&e, n), "exited", "{n}");
    }
    // A second boot has nothing to do.
    assert_eq!(e.ok(&["system", "boot"]), "");
}

#[test]
fn system_boot_respects_on_failure_retries() {
    require_root!();
    let e = Engine::new("berth");
    let spent = name("spent");
    e.ok(&[
        "run",
        "-d",
        "--restart",
        "on-failure:1",
        "--name",
        &spent,
        "bb:1",
        "false",
    ]);
    assert_eq!(e.ok(&["wait", &spent]), "1\n");
    assert_eq!(e.inspect(&spent)["RestartCount"], 1);
    let id = id_of(&e, &spent);
    wait_for("the monitor to exit", || {
        monitor_pid(&id).is_none().then_some(())
    });
    // Its one retry is used: a boot leaves it down.
    assert_eq!(e.ok(&["system", "boot"]), "");
    assert_eq!(state_of(&e, &spent), "exited");
}

#[test]
fn twenty_parallel_runs_on_one_root() {
    require_root!();
    twenty_parallel_runs("berth");
}

#[test]
fn twenty_parallel_runs_on_one_root_with_runc() {
    require_root!();
    if !common::have_tool("runc") {
        return;
    }
    twenty_parallel_runs("runc");
}

fn twenty_parallel_runs(runtime: &'static str) {
    let e = Engine::new(runtime);
    let names: Vec<String> = (0..20).map(|i| name(&format!("par{i}"))).collect();
    let children: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            e.command(&[
                "run",
                "--name",
                n,
                "bb:1",
                "sh",
                "-c",
                &format!("echo hello {i}; exit {i}"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(i as i32),
            "run {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("hello {i}\n"));
    }
    let ids = e.ok(&["ps", "-aq", "--no-trunc"]);
    let mut ids: Vec<&str> = ids.lines().collect();
    assert_eq!(ids.len(), 20);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "distinct rows");
    for (i, n) in names.iter().enumerate() {
        assert_eq!(e.ok(&["logs", n]), format!("hello {i}\n"));
        let v = e.inspect(n);
        assert_eq!(v["State"]["ExitCode"], i as i64);
        assert_eq!(v["State"]["Status"], "exited");
    }
    let db = rusqlite::Connection::open(e.berth.root.join("berth.db")).unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    assert!(
        e.mounts_under_root().is_empty(),
        "{:?}",
        e.mounts_under_root()
    );
    assert!(Path::new(&e.berth.root.join("berth.db")).exists());
}

/// The shipped init script runs `system boot` (the systemd unit's
/// ExecStart is the same command).
#[test]
fn contrib_init_script_boots_an_always_container() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("initd");
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
    // Stopped by hand: an `always` container still comes back at boot.
    e.ok(&["stop", "-t", "0", &n]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contrib/berth-boot.init");
    // In the engine's mount namespace, where its runtime runs (crun).
    let mut boot = std::process::Command::new("sh");
    boot.arg(&script)
        .arg("start")
        .env("BERTH", env!("CARGO_BIN_EXE_berth"))
        .env("BERTH_ROOT", &e.berth.root);
    let out = e.in_namespace(boot).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&n));
    assert_eq!(state_of(&e, &n), "running");
    let unit = std::fs::read_to_string(script.with_file_name("berth-boot.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/local/bin/berth system boot"),
        "{unit}"
    );
}

#[test]
fn kill_9_of_a_monitor_in_back_off() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("k9bo");
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
    let monitor = monitor_pid(&id).unwrap();
    wait_for("a long back-off", || {
        let v = e.inspect(&n);
        (v["RestartCount"].as_u64().unwrap() >= 5 && v["State"]["Status"] == "restarting")
            .then_some(())
    });
    sigkill(monitor);
    wait_for("the monitor to die", || is_gone(monitor).then_some(()));
    let v = e.inspect(&n);
    assert_eq!(v["State"]["Status"], "exited", "{v}");
    assert!(
        v["State"]["Error"]
            .as_str()
            .unwrap()
            .contains("monitor died"),
        "{v}"
    );
    assert!(
        e.mounts_under_root().is_empty(),
        "{:?}",
        e.mounts_under_root()
    );
    assert!(!e.berth.root.join("runtime").join(&id).exists());
}

/// A `start` killed before its monitor took over leaves the container
/// `starting`, owned by a process that is gone (simulated in the database
/// with the pid of a process that has exited).
#[test]
fn a_start_whose_command_died_is_reconciled() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("deadstart");
    e.ok(&["create", "--name", &n, "bb:1", "echo", "hi"]);
    let id = id_of(&e, &n);
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = gone.id();
    gone.wait().unwrap();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    sql(
        &e,
        &format!(
            "UPDATE containers SET state = 'starting', monitor_pid = {dead_pid},
             monitor_start = 1, boot_id = '{}' WHERE id = '{id}'",
            boot.trim()
        ),
    );
    let v = e.inspect(&n);
    assert_eq!(v["State"]["Status"], "exited", "{v}");
    assert_eq!(v["State"]["ExitCode"], 255);
    // It can be started (and it runs) as usual.
    e.ok(&["start", &n]);
    assert_eq!(e.ok(&["wait", &n]), "0\n");
    assert_eq!(e.ok(&["logs", &n]), "hi\n");
}

/// A container whose owner is alive is never touched by a reconcile, even
/// while `starting` (the owner here: this test process).
#[test]
fn a_live_owner_is_left_alone() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("liveown");
    e.ok(&["create", "--name", &n, "bb:1", "true"]);
    let id = id_of(&e, &n);
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let start: u64 = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    sql(
        &e,
        &format!(
            "UPDATE containers SET state = 'starting', monitor_pid = {}, monitor_start = {start},
             boot_id = '{}' WHERE id = '{id}'",
            std::process::id(),
            boot.trim()
        ),
    );
    e.ok(&["ps", "-a"]);
    assert_eq!(
        state_of(&e, &n),
        "created",
        "inspect shows starting as created"
    );
    let db = rusqlite::Connection::open(e.berth.root.join("berth.db")).unwrap();
    let state: String = db
        .query_row("SELECT state FROM containers WHERE id = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(state, "starting");
    // Give it back so the engine's cleanup can remove it.
    sql(
        &e,
        &format!("UPDATE containers SET state = 'created' WHERE id = '{id}'"),
    );
}

/// A `create` killed before its files were complete (simulated: the
/// creator recorded with the row is a process that has exited) is removed
/// by the next command, files and snapshot included.
#[test]
fn an_unfinished_create_is_removed() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("halfmade");
    e.ok(&["create", "--name", &n, "bb:1", "true"]);
    let id = id_of(&e, &n);
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = gone.id();
    gone.wait().unwrap();
    sql(
        &e,
        &format!(
            "UPDATE containers SET creator_pid = {dead_pid}, creator_start = 1 WHERE id = '{id}'"
        ),
    );
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert!(!e.berth.root.join("containers").join(&id).exists());
    let images: serde_json::Value =
        serde_json::from_slice(&std::fs::read(e.berth.root.join("images.json")).unwrap()).unwrap();
    assert!(!images["snapshots"].to_string().contains(&id), "{images}");
    // The name is free again.
    e.ok(&["create", "--name", &n, "bb:1", "true"]);
}

/// The monitors running for this engine's root.
fn monitors_of(e: &Engine) -> Vec<i32> {
    let root = e.berth.root.to_str().unwrap().to_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|p| {
            let pid: i32 = p.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(p.path().join("cmdline")).ok()?;
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            (common::lifecycle::is_monitor(&args) && args.contains(&root.as_bytes())).then_some(pid)
        })
        .collect()
}

/// `kill -9` of a `berth run -d`, or of every monitor, after delays that
/// land in different steps (create, snapshot, bundle, monitor start,
/// runtime create/start, running). Whatever the moment: afterwards no
/// container is `running`/`starting` without a live monitor, and once all
/// are removed nothing is left: no mount, runtime state or cgroup.
#[test]
fn kill_9_at_any_moment_leaves_a_consistent_state() {
    require_root!();
    let e = Engine::new("berth");
    let mut ids = Vec::new();
    for (k, delay_ms) in [0u64, 2, 5, 10, 20, 40, 80, 160].into_iter().enumerate() {
        for kill_monitor in [false, true] {
            let n = name(&format!("any{k}{}", kill_monitor as u8));
            let mut cli = e
                .command(&["run", "-d", "--name", &n, "bb:1", "sleep", "1000"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(delay_ms));
            if kill_monitor {
                for m in monitors_of(&e) {
                    sigkill(m);
                }
                let _ = cli.wait();
            } else {
                sigkill(cli.id() as i32);
                let _ = cli.wait();
            }
            // The next command sees a consistent state.
            let _ = e.ok(&["ps", "-a"]);
            // Killed before the row was written: no container at all.
            let out = e.run(&["inspect", &n]);
            if out.status.success() {
                let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                let v = &v[0];
                let id = v["Id"].as_str().unwrap().to_owned();
                let status = v["State"]["Status"].as_str().unwrap().to_owned();
                if status == "running" {
                    assert!(monitor_pid(&id).is_some(), "{n} running without a monitor");
                }
                ids.push(id);
            }
        }
    }
    for id in &ids {
        // Still being created by a killed `run`: the reconcile removed it.
        let _ = e.run(&["rm", "-f", id]);
    }
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert!(
        e.mounts_under_root().is_empty(),
        "{:?}",
        e.mounts_under_root()
    );
    for id in &ids {
        assert!(
            !e.berth.root.join("runtime").join(id).exists(),
            "runtime state of {id}"
        );
        assert!(cgroups_of(&e, id).is_empty(), "{:?}", cgroups_of(&e, id));
    }
    assert!(monitors_of(&e).is_empty());
}
