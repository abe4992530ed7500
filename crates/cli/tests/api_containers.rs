//! `berth serve`'s container endpoints driven by the real docker CLI:
//! `run` with resource, security, device and DNS flags (and `inspect`
//! showing them as `berth inspect` does), `stats --no-stream`, `top`,
//! `update`, `diff`, `export`, `cp` both ways (file, directory, a missing
//! path, a stopped container), `container prune`, `ps -s`, and the
//! HostConfig fields berth cannot do refused by name. The server runs in
//! the test engine's namespaces on a socket in the test's temp dir.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use berth_testutil::{require_root, COMMAND_TIMEOUT};
use common::engine::{text, Engine};
use common::serve::Serve;
use serde_json::Value;

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

#[test]
fn docker_run_flags_reach_the_container_and_inspect() {
    require_root!();
    assert!(
        common::have_tool("docker"),
        "the docker CLI is needed (apt-get install docker.io)"
    );
    let e = Engine::new("berth");
    let s = Serve::start(&e);
    s.ok(&[
        "run",
        "-d",
        "--name",
        "api-res",
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "50",
        "--ulimit",
        "nofile=100:200",
        "--tmpfs",
        "/t:size=1m",
        "--dns",
        "192.0.2.53",
        "--add-host",
        "myhost:192.0.2.7",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "--cap-add",
        "NET_ADMIN",
        "--security-opt",
        "no-new-privileges",
        "--device",
        "/dev/null:/dev/xnull",
        "bb:1",
        "sleep",
        "300",
    ]);
    // The docker CLI's inspect is berth's document (read into Docker's
    // HostConfig type: berth's own fields dropped, absent ones zero).
    let docker = json(&s.ok(&["inspect", "-f", "{{json .HostConfig}}", "api-res"]));
    let berth = json(&e.ok(&["inspect", "-f", "{{json .HostConfig}}", "api-res"]));
    for (k, v) in berth.as_object().unwrap() {
        if let Some(d) = docker.get(k) {
            assert_eq!(d, v, "HostConfig.{k}");
        }
    }
    assert_eq!(docker["Memory"], 64 << 20);
    assert_eq!(docker["NanoCpus"], 500_000_000);
    assert_eq!(docker["PidsLimit"], 50);
    assert_eq!(
        docker["Ulimits"],
        json(r#"[{"Name":"nofile","Soft":100,"Hard":200}]"#)
    );
    // (the options as resolved: Docker's defaults, then the given ones)
    assert!(
        docker["Tmpfs"]["/t"]
            .as_str()
            .unwrap()
            .ends_with(",size=1m"),
        "{}",
        docker["Tmpfs"]
    );
    assert_eq!(docker["Dns"], json(r#"["192.0.2.53"]"#));
    assert_eq!(docker["ExtraHosts"], json(r#"["myhost:192.0.2.7"]"#));
    assert_eq!(docker["Sysctls"], json(r#"{"net.ipv4.ip_forward":"1"}"#));
    assert_eq!(docker["CapAdd"], json(r#"["CAP_NET_ADMIN"]"#));
    assert_eq!(docker["SecurityOpt"], json(r#"["no-new-privileges"]"#));
    assert_eq!(
        docker["Devices"],
        json(
            r#"[{"PathOnHost":"/dev/null","PathInContainer":"/dev/xnull","CgroupPermissions":"rwm"}]"#
        )
    );
    // And the container has them.
    let inside = s.ok(&[
        "exec",
        "api-res",
        "sh",
        "-c",
        "ulimit -n; cat /proc/sys/net/ipv4/ip_forward; grep myhost /etc/hosts; \
         grep ^nameserver /etc/resolv.conf; test -c /dev/xnull && echo dev; \
         grep -c ' /t tmpfs' /proc/mounts; grep NoNewPrivs /proc/self/status",
    ]);
    let lines: Vec<&str> = inside.lines().collect();
    assert_eq!(lines[0], "100", "{inside}");
    assert_eq!(lines[1], "1", "{inside}");
    assert!(lines[2].starts_with("192.0.2.7"), "{inside}");
    assert_eq!(lines[3], "nameserver 192.0.2.53", "{inside}");
    assert_eq!(lines[4], "dev", "{inside}");
    assert_eq!(lines[5], "1", "{inside}");
    assert!(lines[6].ends_with('1'), "{inside}");

    // stats: one row with sane numbers, the limit the container has.
    let row = s.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}",
        "api-res",
    ]);
    let cols: Vec<&str> = row.trim().split('|').collect();
    assert_eq!(cols[0], "api-res", "{row}");
    let cpu: f64 = cols[1].trim_end_matches('%').parse().unwrap();
    assert!((0.0..=100.0 * num_cpus()).contains(&cpu), "{row}");
    let (used, limit) = cols[2].split_once(" / ").unwrap();
    assert_eq!(limit, "64MiB", "{row}");
    assert!(!used.starts_with("0B"), "{row}");
    assert_eq!(cols[3], "1", "{row}");

    // Streamed: one object a second, each with the one before as precpu.
    let objects = raw_stream(&s, "/v1.41/containers/api-res/stats?stream=1", 2);
    assert_eq!(objects[0]["name"], "/api-res");
    assert_eq!(
        objects[1]["precpu_stats"]["cpu_usage"]["total_usage"],
        objects[0]["cpu_stats"]["cpu_usage"]["total_usage"]
    );
    assert_eq!(objects[1]["preread"], objects[0]["read"]);
    assert!(
        objects[1]["cpu_stats"]["system_cpu_usage"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(objects[1]["memory_stats"]["limit"], 64 << 20);
    assert_eq!(objects[1]["pids_stats"]["current"], 1);

    // top: ps's table of the container's processes.
    let top = s.ok(&["top", "api-res"]);
    assert!(top.lines().next().unwrap().contains("PID"), "{top}");
    assert!(top.contains("sleep 300"), "{top}");

    // update: the new limit recorded (and applied) as berth's update does.
    s.ok(&[
        "update",
        "--memory",
        "96m",
        "--restart",
        "on-failure:3",
        "api-res",
    ]);
    assert_eq!(
        e.ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}",
            "api-res"
        ]),
        "100663296 on-failure 3\n"
    );
    s.ok(&["rm", "-f", "api-res"]);

    // A restart policy given by update holds from the next exit on.
    s.ok(&[
        "run",
        "-d",
        "--name",
        "api-r",
        "bb:1",
        "sh",
        "-c",
        "sleep 2; exit 3",
    ]);
    s.ok(&["update", "--restart", "on-failure:1", "api-r"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let st = e.ok(&[
            "inspect",
            "-f",
            "{{.RestartCount}} {{.State.Status}}",
            "api-r",
        ]);
        if st == "1 exited\n" {
            break;
        }
        assert!(Instant::now() < deadline, "not restarted once: {st}");
        std::thread::sleep(Duration::from_millis(200));
    }
    s.ok(&["rm", "api-r"]);

    // What berth cannot do is refused by name, not ignored.
    let err = s.fails(&[
        "run",
        "--oom-kill-disable",
        "--memory",
        "64m",
        "bb:1",
        "true",
    ]);
    assert!(
        err.contains("HostConfig.OomKillDisable is not supported by berth"),
        "{err}"
    );
    assert_eq!(e.ok(&["ps", "-aq"]), "");
}

fn num_cpus() -> f64 {
    std::thread::available_parallelism().map_or(1, |n| n.get()) as f64
}

#[test]
fn docker_diff_export_cp_prune_and_sizes() {
    require_root!();
    let e = Engine::new("berth");
    let s = Serve::start(&e);
    let dir = e.berth.dir.path().join("files");
    std::fs::create_dir(&dir).unwrap();
    let d = |p: &str| dir.join(p).display().to_string();
    s.ok(&["run", "-d", "--name", "api-fs", "bb:1", "sleep", "300"]);
    s.ok(&[
        "exec",
        "api-fs",
        "sh",
        "-c",
        "echo new > /added; mkdir /madedir",
    ]);

    // diff: the engine's list, in the CLI's letters.
    let docker = s.ok(&["diff", "api-fs"]);
    assert!(docker.lines().any(|l| l == "A /added"), "{docker}");
    assert_eq!(docker, e.ok(&["diff", "api-fs"]));

    // export: the whole root as a tar.
    s.ok(&["export", "-o", &d("export.tar"), "api-fs"]);
    let list = Command::new("tar")
        .args(["-tf", &d("export.tar")])
        .output()
        .unwrap();
    let list = text(&list.stdout);
    assert!(list.lines().any(|l| l == "added"), "{list}");
    assert!(list.lines().any(|l| l == "bin/busybox"), "{list}");

    // cp into the container: a file, a directory.
    std::fs::write(d("f.txt"), "file content\n").unwrap();
    std::fs::create_dir(d("tree")).unwrap();
    std::fs::write(d("tree/a"), "in tree\n").unwrap();
    s.ok(&["cp", &d("f.txt"), "api-fs:/tmp/"]);
    s.ok(&["cp", &d("tree"), "api-fs:/tmp/"]);
    assert_eq!(
        s.ok(&["exec", "api-fs", "cat", "/tmp/f.txt", "/tmp/tree/a"]),
        "file content\nin tree\n"
    );
    // A directory may not replace a file (noOverwriteDirNonDir).
    std::fs::create_dir_all(d("clash/added")).unwrap();
    std::fs::write(d("clash/added/x"), "x").unwrap();
    let err = s.fails(&["cp", &d("clash/added"), "api-fs:/"]);
    assert!(
        err.contains("cannot overwrite a non-directory with a directory"),
        "{err}"
    );
    assert_eq!(s.ok(&["exec", "api-fs", "cat", "/added"]), "new\n");
    // Owned by the container's root, unless -a (copyUIDGID).
    std::os::unix::fs::chown(d("f.txt"), Some(1234), Some(1234)).unwrap();
    s.ok(&["cp", &d("f.txt"), "api-fs:/tmp/root-owned"]);
    s.ok(&["cp", "-a", &d("f.txt"), "api-fs:/tmp/kept"]);
    assert_eq!(
        s.ok(&[
            "exec",
            "api-fs",
            "stat",
            "-c",
            "%u:%g",
            "/tmp/root-owned",
            "/tmp/kept"
        ]),
        "0:0\n1234:1234\n"
    );
    // cp out of it: a file, a directory.
    s.ok(&["cp", "api-fs:/added", &d("out.txt")]);
    assert_eq!(std::fs::read_to_string(d("out.txt")).unwrap(), "new\n");
    s.ok(&["cp", "api-fs:/tmp/tree", &d("back")]);
    assert_eq!(std::fs::read_to_string(d("back/a")).unwrap(), "in tree\n");
    // A file berth bind-mounts from the bundle: what the container sees.
    s.ok(&["cp", "api-fs:/etc/hostname", &d("hostname")]);
    assert_eq!(
        std::fs::read_to_string(d("hostname")).unwrap(),
        s.ok(&["exec", "api-fs", "cat", "/etc/hostname"])
    );
    // A missing path: dockerd's 404 (the 20.10 CLI words it itself).
    let err = s.fails(&["cp", "api-fs:/nope", &d("x")]);
    assert!(err.contains("/nope"), "{err}");
    assert!(
        err.contains("Could not find the file /nope in container api-fs")
            || err.contains("No such container:path"),
        "{err}"
    );

    // A stopped container's files: its root mounted for the request only.
    s.ok(&["stop", "-t", "1", "api-fs"]);
    s.ok(&["cp", "api-fs:/tmp/f.txt", &d("stopped.txt")]);
    assert_eq!(
        std::fs::read_to_string(d("stopped.txt")).unwrap(),
        "file content\n"
    );
    s.ok(&["cp", &d("f.txt"), "api-fs:/f2.txt"]);
    let id = s.ok(&["inspect", "-f", "{{.Id}}", "api-fs"]);
    let id = id.trim();
    // No thread of the server kept the mount.
    let pid = s.pid();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let info =
            std::fs::read_to_string(task.unwrap().path().join("mountinfo")).unwrap_or_default();
        assert!(!info.contains(id), "a server thread keeps {id} mounted");
    }

    // ps -s: the sizes berth's ps -s shows.
    let sizes = s.ok(&["ps", "-a", "-s", "--format", "{{.Size}}"]);
    assert!(sizes.contains("virtual"), "{sizes}");

    // attach with logs=1: the log so far, then (stopped) the end.
    s.ok(&[
        "run",
        "--name",
        "api-log",
        "bb:1",
        "sh",
        "-c",
        "echo hello; echo oops >&2",
    ]);
    let got = raw_attach(&s, "api-log", "logs=1&stream=1&stdout=1&stderr=1");
    let mut want = b"\x01\0\0\0\0\0\0\x06hello\n".to_vec();
    want.extend_from_slice(b"\x02\0\0\0\0\0\0\x05oops\n");
    assert!(
        got.windows(want.len()).any(|w| w == want.as_slice()),
        "{}",
        String::from_utf8_lossy(&got)
    );

    // container prune: the stopped containers go, their ids reported.
    let out = s.ok(&["container", "prune", "-f"]);
    assert!(out.contains(id), "{out}");
    assert_eq!(e.ok(&["ps", "-aq"]), "");
}

#[test]
fn docker_run_joins_a_network_with_aliases_and_an_address() {
    require_root!();
    let e = Engine::new("berth");
    let s = Serve::start(&e);
    e.ok(&["network", "create", "--subnet", "10.231.7.0/24", "api-net"]);
    s.ok(&[
        "run",
        "-d",
        "--name",
        "api-member",
        "--network",
        "api-net",
        "--network-alias",
        "web",
        "--ip",
        "10.231.7.9",
        "bb:1",
        "sleep",
        "300",
    ]);
    let nets = json(&s.ok(&[
        "inspect",
        "-f",
        "{{json .NetworkSettings.Networks}}",
        "api-member",
    ]));
    let ep = &nets["api-net"];
    assert_eq!(ep["IPAddress"], "10.231.7.9", "{nets}");
    assert!(
        ep["Aliases"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "web")),
        "{nets}"
    );
    // Links are not berth's: refused by name.
    let err = s.fails(&["run", "--link", "api-member:m", "bb:1", "true"]);
    assert!(err.contains("Links is not supported by berth"), "{err}");
    s.ok(&["rm", "-f", "api-member"]);
    e.ok(&["network", "rm", "api-net"]);
}

/// The first `n` JSON objects of a streamed (chunked) `GET path`.
fn raw_stream(s: &Serve, path: &str, n: usize) -> Vec<Value> {
    use std::io::{Read, Write};
    let mut c = std::os::unix::net::UnixStream::connect(&s.socket).unwrap();
    c.set_read_timeout(Some(COMMAND_TIMEOUT)).unwrap();
    write!(c, "GET {path} HTTP/1.1\r\nHost: berth\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let objects: Vec<Value> = String::from_utf8_lossy(&got)
            .split("\r\n")
            .filter(|p| p.starts_with('{') && p.ends_with('\n'))
            .map(json)
            .collect();
        if objects.len() >= n {
            return objects;
        }
        let k = c.read(&mut buf).unwrap();
        assert!(k > 0, "the stream ended: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..k]);
    }
}

/// `POST /containers/NAME/attach?QUERY` as docker-compose sends it
/// (upgrade headers), everything read until the server closes.
fn raw_attach(s: &Serve, name: &str, query: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut c = std::os::unix::net::UnixStream::connect(&s.socket).unwrap();
    c.set_read_timeout(Some(COMMAND_TIMEOUT)).unwrap();
    write!(
        c,
        "POST /v1.41/containers/{name}/attach?{query} HTTP/1.1\r\nHost: berth\r\n\
         Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out).unwrap();
    assert!(
        out.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    out
}
