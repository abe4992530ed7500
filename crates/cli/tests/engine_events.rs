//! `berth events` end to end as root: the events of a container's life in
//! order (written by the CLI and by the monitor), `--since`/`--until`
//! windows, filters, `--format`, a follower that sees another process's
//! events and stops when killed, OOM. Each test has its own root, names
//! and cgroup parent.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use berth_testutil::require_root;
use common::engine::{name, Engine};
use common::lifecycle::{id_of, is_gone, monitor_pid, sigkill, wait_for};
use serde_json::Value;

/// Now as `SECS.NANOS`, one of Docker's `--since` forms.
fn now() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

/// The past events of one container (`--format json`), oldest first.
fn events_of(e: &Engine, since: &str, id: &str) -> Vec<Value> {
    let until = now();
    let out = e.ok(&[
        "events",
        "--since",
        since,
        "--until",
        &until,
        "--filter",
        &format!("container={id}"),
        "--format",
        "json",
    ]);
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect()
}

fn actions(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|v| v["Action"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn run_stop_rm_in_order_with_dockers_attributes() {
    require_root!();
    let e = Engine::new("berth");
    let t0 = now();
    let n = name("life");
    let id = e
        .ok(&[
            "run",
            "-d",
            "--name",
            &n,
            "-l",
            "tier=front",
            "bb:1",
            "sh",
            "-c",
            "trap 'exit 3' TERM; sleep 100 & wait",
        ])
        .trim()
        .to_owned();
    // The trap must be set before the stop signal comes.
    std::thread::sleep(Duration::from_millis(300));
    e.ok(&["stop", "-t", "5", &n]);
    e.ok(&["rm", &n]);
    let ev = events_of(&e, &t0, &id);
    assert_eq!(
        actions(&ev),
        ["create", "start", "kill", "die", "stop", "destroy"]
    );
    for v in &ev {
        assert_eq!(v["Type"], "container");
        assert_eq!(v["scope"], "local");
        assert_eq!(v["Actor"]["ID"], id.as_str());
        assert_eq!(v["Actor"]["Attributes"]["name"], n.as_str());
        assert_eq!(v["Actor"]["Attributes"]["image"], "bb:1");
        assert_eq!(v["Actor"]["Attributes"]["tier"], "front");
        let nano = v["timeNano"].as_i64().unwrap();
        assert_eq!(v["time"].as_i64().unwrap(), nano / 1_000_000_000);
    }
    assert_eq!(ev[2]["Actor"]["Attributes"]["signal"], "15");
    assert_eq!(ev[3]["Actor"]["Attributes"]["exitCode"], "3");
    let times: Vec<i64> = ev.iter().map(|v| v["timeNano"].as_i64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");

    // Docker's text line: time, type, action, id, sorted attributes.
    let text = e.ok(&[
        "events",
        "--since",
        &t0,
        "--until",
        &now(),
        "--filter",
        &format!("container={n}"),
        "--filter",
        "event=die",
    ]);
    let line = text.trim_end();
    let (time, rest) = line.split_once(' ').unwrap();
    assert_eq!(time.len(), "2026-12-07T02:50:00.123456789Z".len(), "{line}");
    assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{line}");
    assert_eq!(
        rest,
        format!("container die {id} (exitCode=3, image=bb:1, name={n}, tier=front)")
    );
}

#[test]
fn the_monitor_records_an_exit_by_itself_and_the_rm_destroy() {
    require_root!();
    let e = Engine::new("berth");
    let t0 = now();
    let n = name("self");
    let id = e
        .ok(&["run", "-d", "--name", &n, "bb:1", "sh", "-c", "exit 7"])
        .trim()
        .to_owned();
    assert_eq!(e.ok(&["wait", &n]).trim(), "7");
    let ev = events_of(&e, &t0, &id);
    assert_eq!(actions(&ev), ["create", "start", "die"]);
    assert_eq!(ev[2]["Actor"]["Attributes"]["exitCode"], "7");

    // `--rm`: the monitor removes it, and records the destroy.
    let rm = name("rm");
    let out = e.run(&["run", "--rm", "--name", &rm, "bb:1", "sh", "-c", "exit 2"]);
    assert_eq!(out.status.code(), Some(2));
    let ev = events_of(&e, &t0, &rm);
    assert_eq!(
        actions(&ev),
        ["create", "attach", "start", "die", "destroy"]
    );
    assert_eq!(ev[3]["Actor"]["Attributes"]["exitCode"], "2");
}

#[test]
fn since_and_until_windows() {
    require_root!();
    let e = Engine::new("berth");
    let (a, b, c) = (name("wa"), name("wb"), name("wc"));
    e.ok(&["create", "--name", &a, "bb:1", "true"]);
    let t1 = now();
    e.ok(&["create", "--name", &b, "bb:1", "true"]);
    let t2 = now();
    e.ok(&["create", "--name", &c, "bb:1", "true"]);
    let names = |args: &[&str]| -> Vec<String> {
        let mut full = vec!["events", "--filter", "event=create", "--format"];
        full.push("{{.Actor.Attributes.name}}");
        full.extend_from_slice(args);
        e.ok(&full).lines().map(str::to_owned).collect()
    };
    assert_eq!(names(&["--since", &t1, "--until", &t2]), [b.as_str()]);
    assert_eq!(names(&["--since", &t2, "--until", &now()]), [c.as_str()]);
    assert_eq!(names(&["--until", &t1]), [a.as_str()]);
    // Durations before now, and RFC 3339.
    assert_eq!(
        names(&["--since", "10m", "--until", "0s"]),
        [a.clone(), b.clone(), c.clone()]
    );
    let rfc = e.ok(&[
        "events",
        "--since",
        &t1,
        "--until",
        &now(),
        "--filter",
        &format!("container={c}"),
        "--format",
        "{{.TimeNano}}",
    ]);
    let nanos: i64 = rfc.trim().parse().unwrap();
    let secs = nanos / 1_000_000_000;
    // An `until` ahead: the stream follows until then, and ends.
    let started = Instant::now();
    let (s1, s2) = ((secs + 1).to_string(), (secs + 2).to_string());
    assert!(names(&["--since", &s1, "--until", &s2]).is_empty());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(names(&["--since", &secs.to_string(), "--until", "0s"]).contains(&c));
    // `since` after `until` is refused.
    let out = e.run(&["events", "--since", "0s", "--until", "1h"]);
    assert_eq!(out.status.code(), Some(125));
    let out = e.run(&["events", "--filter", "bogus=1", "--until", "0s"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bogus"));
}

#[test]
fn filters_select_as_dockers() {
    require_root!();
    let e = Engine::new("berth");
    let t0 = now();
    let (a, b) = (name("fa"), name("fb"));
    e.ok(&["create", "--name", &a, "-l", "team=x", "bb:1", "true"]);
    e.ok(&["create", "--name", &b, "bb:1", "true"]);
    e.ok(&["rename", &b, &format!("{b}-2")]);
    e.ok(&["commit", &a, "committed:1"]);
    let q = |filters: &[&str]| -> Vec<String> {
        let until = now();
        let mut args = vec!["events", "--since", &t0, "--until", &until, "--format"];
        args.push("{{.Type}} {{.Action}} {{.Actor.Attributes.name}}");
        for f in filters {
            args.push("--filter");
            args.push(f);
        }
        e.ok(&args).lines().map(str::to_owned).collect()
    };
    let b2 = format!("{b}-2");
    assert_eq!(
        q(&["label=team=x", "event=create"]),
        [format!("container create {a}")]
    );
    assert_eq!(
        q(&["event=rename"]),
        [format!("container rename {b2}")],
        "a rename carries the new name"
    );
    assert_eq!(
        q(&[&format!("container={a}"), "event=commit"]),
        [format!("container commit {a}")]
    );
    assert_eq!(q(&["type=image"]), ["image tag committed:1"]);
    assert_eq!(q(&["image=committed"]), ["image tag committed:1"]);
    let both = q(&[&format!("container={a}"), &format!("container={b2}")]);
    // a's create and commit, the rename (b's create was under its old name).
    assert_eq!(both.len(), 3, "{both:?}");
    assert!(
        q(&["image=bb"]).len() >= 4,
        "bb:1 containers match image=bb"
    );
    assert!(q(&["scope=swarm"]).is_empty());
    let old = e.ok(&[
        "events",
        "--since",
        &t0,
        "--until",
        &now(),
        "--filter",
        "event=rename",
        "--format",
        "{{.Actor.Attributes.oldName}}",
    ]);
    assert_eq!(old.trim(), b);
}

/// A `berth events` child, killed if the test fails before it does.
struct Follower(std::process::Child);

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A follower (no `--since`) prints what another process records, costs
/// no CPU while idle, and ends when killed.
#[test]
fn a_follower_sees_other_processes_and_ends_when_killed() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("follow");
    let id = e.ok(&["create", "--name", &n, "bb:1", "sleep", "100"]);
    let id = id.trim();
    let mut follower = Follower(
        e.command(&["events", "--filter", &format!("container={id}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = follower.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines() {
            if tx.send(l.unwrap()).is_err() {
                return;
            }
        }
    });
    // Rename until the follower shows one: then it is following.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut i = 0;
    let first = loop {
        e.ok(&["rename", id, &format!("{n}-{i}")]);
        i += 1;
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(300)) {
            break l;
        }
        assert!(Instant::now() < deadline, "the follower printed nothing");
    };
    assert!(first.contains(&format!("container rename {id}")), "{first}");
    while rx.recv_timeout(Duration::from_millis(300)).is_ok() {}

    // Idle: no CPU to speak of (clock ticks of utime + stime over 3 s).
    let ticks = || {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", follower.0.id())).unwrap();
        let f: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    };
    let before = ticks();
    std::thread::sleep(Duration::from_secs(3));
    let idle = ticks() - before;
    assert!(idle <= 2, "an idle follower used {idle} ticks in 3 s");

    e.ok(&["start", id]);
    let got = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(got.contains(&format!("container start {id}")), "{got}");
    e.ok(&["kill", id]);
    let killed = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        killed.contains("container kill") && killed.contains("signal=9"),
        "{killed}"
    );
    let died = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        died.contains("container die") && died.contains("exitCode=137"),
        "{died}"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(follower.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = follower.0.try_wait().unwrap() {
            assert!(!status.success());
            break;
        }
        assert!(Instant::now() < deadline, "the follower ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_oom_kill_is_recorded_before_the_die() {
    require_root!();
    let e = Engine::new("berth");
    let t0 = now();
    let n = name("oom");
    let out = e.run(&[
        "run",
        "--name",
        &n,
        "--memory",
        "8m",
        "bb:1",
        "sh",
        "-c",
        "x=a; while :; do x=$x$x; done",
    ]);
    assert_eq!(out.status.code(), Some(137));
    let ev = events_of(&e, &t0, &n);
    assert_eq!(actions(&ev), ["create", "attach", "start", "oom", "die"]);
    assert_eq!(ev[4]["Actor"]["Attributes"]["exitCode"], "137");
    let id = id_of(&e, &n);
    assert_eq!(ev[3]["Actor"]["ID"], id.as_str());
}

#[test]
fn pause_unpause_update_restart_and_json_template() {
    require_root!();
    let e = Engine::new("berth");
    let t0 = now();
    let n = name("live");
    e.ok(&["run", "-d", "--name", &n, "bb:1", "sleep", "100"]);
    e.ok(&["pause", &n]);
    e.ok(&["unpause", &n]);
    e.ok(&["update", "--cpu-shares", "512", &n]);
    e.ok(&["restart", "-t", "0", &n]);
    e.ok(&["rm", "-f", &n]);
    let ev = events_of(&e, &t0, &n);
    assert_eq!(
        actions(&ev),
        [
            "create", "start", "pause", "unpause", "update", "kill", "kill", "die", "stop",
            "start", "restart", "kill", "die", "destroy"
        ]
    );
    // `{{json .}}` is Docker's wire form, as `--format json`.
    let one = |format: &str| {
        e.ok(&[
            "events",
            "--since",
            &t0,
            "--until",
            &now(),
            "--filter",
            "event=pause",
            "--format",
            format,
        ])
    };
    assert_eq!(one("{{json .}}"), one("json"));
    let v: Value = serde_json::from_str(one("json").trim()).unwrap();
    assert_eq!(v["Action"], "pause");
    assert_eq!(
        one("{{json .Actor.Attributes}}").trim(),
        v["Actor"]["Attributes"].to_string()
    );
}

/// A container whose monitor was killed: the command that reconciles
/// records its `die` (137), as the monitor would have.
#[test]
fn a_reconcile_records_the_die_the_monitor_could_not() {
    require_root!();
    let e = Engine::new("berth");
    let t0 = now();
    let n = name("k9");
    e.ok(&["run", "-d", "--name", &n, "bb:1", "sleep", "1000"]);
    let id = id_of(&e, &n);
    let monitor = monitor_pid(&id).expect("a monitor runs");
    sigkill(monitor);
    wait_for("the monitor to die", || is_gone(monitor).then_some(()));
    e.ok(&["ps"]);
    let ev = events_of(&e, &t0, &id);
    assert_eq!(actions(&ev), ["create", "start", "die"]);
    assert_eq!(ev[2]["Actor"]["Attributes"]["exitCode"], "137");
}

#[test]
fn image_operations_are_recorded_as_dockers() {
    require_root!();
    let e = Engine::new("berth");
    let t0 = now();
    let tag = format!("{}:v1", name("img"));
    e.ok(&["tag", "bb:1", &tag]);
    let id = e
        .ok(&["image", "inspect", "--format", "{{.Id}}", &tag])
        .trim()
        .to_owned();
    let archive = e.berth.dir.path().join("saved.tar");
    e.ok(&["save", "-o", archive.to_str().unwrap(), &tag]);
    e.ok(&["rmi", &tag]); // bb:1 still names it: untag
    e.ok(&["load", "-i", archive.to_str().unwrap()]);
    let until = now();
    let out = e.ok(&[
        "events",
        "--since",
        &t0,
        "--until",
        &until,
        "--filter",
        "type=image",
        "--format",
        "json",
    ]);
    let lines: Vec<String> = out
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let a = &v["Actor"];
            format!(
                "{} {} {}",
                v["Action"].as_str().unwrap(),
                a["ID"].as_str().unwrap(),
                a["Attributes"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            format!("tag {id} {tag}"),
            format!("save {id} {id}"),
            format!("untag {id} {id}"),
            format!("load {id} {id}"),
        ],
        "{out}"
    );
}
