//! `berth serve` with the docker CLI: user networks (create with IPAM,
//! connect with an alias and an address, disconnect, prune), `volume
//! prune`, `system df` and `events`, each compared with what berth's own
//! CLI reports for the same objects.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use berth_testutil::require_root;
use common::engine::{text, Engine};
use common::serve::Serve;

#[test]
fn docker_cli_manages_user_networks() {
    require_root!();
    let e = Engine::new("berth");
    let s = Serve::start(&e);
    let id = s.ok(&[
        "network",
        "create",
        "--subnet",
        "10.87.3.0/24",
        "--gateway",
        "10.87.3.1",
        "--label",
        "tier=front",
        "api-front",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    assert_eq!(
        e.ok(&["network", "inspect", "-f", "{{.Id}}", "api-front"])
            .trim(),
        id
    );
    assert_eq!(
        s.ok(&[
            "network",
            "inspect",
            "-f",
            "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}",
            "api-front"
        ]),
        "10.87.3.0/24 10.87.3.1\n"
    );
    // filters, in the Go CLI's form
    assert_eq!(
        s.ok(&[
            "network",
            "ls",
            "-f",
            "label=tier=front",
            "--format",
            "{{.Name}}"
        ]),
        "api-front\n"
    );
    assert_eq!(
        s.ok(&[
            "network",
            "ls",
            "-f",
            "type=custom",
            "--format",
            "{{.Name}}"
        ]),
        "api-front\n"
    );
    // A duplicate name is a conflict; a bad filter is 400.
    let out = s.docker(&["network", "create", "api-front"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );
    assert!(!s
        .docker(&["network", "ls", "-f", "type=odd"])
        .status
        .success());

    // connect before the start: the address and alias hold when it runs;
    // another container resolves the alias.
    s.ok(&["create", "--name", "api-web", "bb:1", "sleep", "300"]);
    s.ok(&[
        "network",
        "connect",
        "--ip",
        "10.87.3.50",
        "--alias",
        "web-alias",
        "api-front",
        "api-web",
    ]);
    s.ok(&["start", "api-web"]);
    assert_eq!(
        s.ok(&[
            "inspect",
            "-f",
            "{{(index .NetworkSettings.Networks \"api-front\").IPAddress}}",
            "api-web"
        ]),
        "10.87.3.50\n"
    );
    let out = s.ok(&[
        "run",
        "--rm",
        "--network",
        "api-front",
        "bb:1",
        "nslookup",
        "web-alias",
    ]);
    assert!(out.contains("10.87.3.50"), "{out}");
    // it also kept the default network it was created on
    let nets = networks(&e, "api-web");
    assert_eq!(nets.trim(), "api-front bridge");
    // disconnect and connect while running
    s.ok(&["network", "disconnect", "api-front", "api-web"]);
    let nets = networks(&e, "api-web");
    assert_eq!(nets.trim(), "bridge");
    // not removable while a container is on it, prunable after
    s.ok(&["network", "connect", "api-front", "api-web"]);
    assert!(!s.docker(&["network", "rm", "api-front"]).status.success());
    s.ok(&["rm", "-f", "api-web"]);
    let out = s.ok(&["network", "prune", "-f"]);
    assert!(out.contains("api-front"), "{out}");
    assert_eq!(
        e.ok(&["network", "ls", "-f", "type=custom", "-q"]),
        "",
        "pruned"
    );
}

/// The networks berth's CLI says a container is on, sorted.
fn networks(e: &Engine, name: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&e.ok(&["inspect", "-f", "{{json .NetworkSettings.Networks}}", name]))
            .unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.join(" ")
}

#[test]
fn docker_cli_prunes_volumes_and_reports_disk_usage() {
    require_root!();
    let e = Engine::new("berth");
    let s = Serve::start(&e);
    s.ok(&["volume", "create", "api-keep"]);
    s.ok(&["volume", "create", "api-drop"]);
    s.ok(&[
        "run",
        "-d",
        "--name",
        "api-user",
        "-v",
        "api-keep:/data",
        "bb:1",
        "sh",
        "-c",
        "head -c 100000 /dev/zero > /data/f; sleep 300",
    ]);
    s.ok(&["run", "--name", "api-done", "bb:1", "true"]);
    // system df: the same counts berth's CLI prints
    let mine = e.ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}} {{.TotalCount}} {{.Active}}",
    ]);
    let theirs = s.ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}} {{.TotalCount}} {{.Active}}",
    ]);
    assert_eq!(theirs, mine);
    assert!(theirs.contains("Containers 2 1"), "{theirs}");
    assert!(theirs.contains("Local Volumes 2 1"), "{theirs}");
    let verbose = s.ok(&["system", "df", "-v"]);
    assert!(verbose.contains("api-keep"), "{verbose}");
    // volume prune (API 1.41: every unused volume)
    let out = s.ok(&["volume", "prune", "-f"]);
    assert!(out.contains("api-drop"), "{out}");
    assert!(!out.contains("api-keep"), "{out}");
    assert_eq!(e.ok(&["volume", "ls", "-q"]), "api-keep\n");
    s.ok(&["rm", "-f", "api-user", "api-done"]);
}

#[test]
fn docker_cli_follows_events() {
    require_root!();
    let e = Engine::new("berth");
    let s = Serve::start(&e);
    // Following from a second ago: the stream replays from there, so no
    // event is lost while the client is still connecting (a follower
    // without `--since` starts wherever the server is when it connects).
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 1;
    let start = start.to_string();
    let mut follower = s
        .docker_command(&[
            "events",
            "--since",
            &start,
            "--filter",
            "type=container",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(follower.stdout.take().unwrap()).lines();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    s.ok(&["run", "--name", "api-ev", "bb:1", "true"]);
    while !seen.iter().any(|l: &String| l == "die api-ev") {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => seen.push(l),
            Err(_) => panic!("no die event for api-ev; saw {seen:?}"),
        }
    }
    let _ = follower.kill();
    let _ = follower.wait();
    assert!(seen.contains(&"create api-ev".to_owned()), "{seen:?}");
    assert!(seen.contains(&"start api-ev".to_owned()), "{seen:?}");

    // Past events in a window, as berth's CLI lists them (a window of
    // whole seconds: the docker CLI sends whole seconds).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (since, until) = ((now - 600).to_string(), (now + 2).to_string());
    let window = [
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "container=api-ev",
        "--format",
        "{{.Action}}",
    ];
    let theirs = s.ok(&window);
    let mine = e.ok(&window);
    assert_eq!(theirs, mine);
    assert!(theirs.starts_with("create\n"), "{theirs}");
    // A bad filter is 400 before any stream.
    let out = s.docker(&["events", "--filter", "nosuch=1", "--until", "0s"]);
    assert!(!out.status.success());
    s.ok(&["rm", "api-ev"]);
}
