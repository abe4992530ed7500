//! `berth serve` as a server: TLS with client certificates for TCP (and
//! the refusal of an open TCP port), sockets passed by systemd
//! (`LISTEN_FDS`), bad requests (a body over the limit, malformed JSON)
//! answered 400 without harm, clients that hang up mid-stream leave no
//! threads or descriptors behind, and 20 clients creating and removing
//! containers at once leave a consistent database.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_testutil::{output_within, require_root, COMMAND_TIMEOUT};
use common::engine::{text, Engine};
use common::serve::Serve;

/// One HTTP/1.1 request on a fresh connection; the status and body.
fn request(socket: &Path, head: &str, body: &[u8]) -> (u16, String) {
    let mut c = UnixStream::connect(socket).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let req = format!(
        "{head} HTTP/1.1\r\nHost: berth\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    c.write_all(req.as_bytes()).unwrap();
    // The server may answer (and close) before reading a refused body.
    let _ = c.write_all(body);
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out).into_owned();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {out:?}"));
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A free TCP port on loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(what: &str, f: impl FnMut() -> bool) {
    wait_for_within(what, 30, f)
}

fn wait_for_within(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn bad_requests_get_400_and_the_server_carries_on() {
    require_root!();
    let e = Engine::new("berth");
    let s = Serve::start(&e);
    let (status, body) = request(&s.socket, "POST /v1.41/containers/create", b"{\"Image\": ");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("\"message\""), "{body}");
    let big = vec![b' '; 5 << 20];
    let (status, body) = request(&s.socket, "POST /v1.41/containers/create", &big);
    assert_eq!(status, 400, "{body}");
    let (status, _) = request(&s.socket, "POST /v1.41/containers/create?name=x", b"[1,2]");
    assert_eq!(status, 400);
    let (status, body) = request(&s.socket, "GET /v1.99/info", b"");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("is too new"), "{body}");
    let (status, body) = request(&s.socket, "GET /v1.41/containers/nosuch/json", b"");
    assert_eq!(
        (status, body.trim()),
        (404, "{\"message\":\"No such container: nosuch\"}")
    );
    let (status, _) = request(&s.socket, "GET /v1.41/swarm", b"");
    assert_eq!(status, 503);
    // still serving, and nothing was made
    let (status, body) = request(&s.socket, "GET /_ping", b"");
    assert_eq!((status, body.as_str()), (200, "OK"));
    assert_eq!(e.ok(&["ps", "-aq"]), "");
}

/// What the server's descriptors point to.
fn descriptors(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .map(|t| t.to_string_lossy().into_owned())
        .collect()
}

/// The server's threads and open descriptors, leaving out its database's
/// files (the server keeps up to 16 idle engines, each with the database
/// open, for reuse: bounded, and not per client).
fn usage(pid: u32) -> (usize, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut fds = 0;
    let mut db = 0;
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        match std::fs::read_link(fd.path()) {
            Ok(target) if target.to_string_lossy().contains("berth.db") => db += 1,
            _ => fds += 1,
        }
    }
    assert!(db <= 3 * 17, "{db} descriptors of the database open");
    (threads, fds)
}

#[test]
fn clients_hanging_up_mid_stream_leave_nothing_behind() {
    require_root!();
    let e = Engine::new("berth");
    let s = Serve::start(&e);
    s.ok(&[
        "run",
        "-d",
        "--name",
        "api-talk",
        "bb:1",
        "sh",
        "-c",
        "while true; do echo tick; sleep 0.2; done",
    ]);
    // Warm up the blocking pool once so its idle threads count in the
    // baseline, then let them settle.
    s.ok(&["ps"]);
    let pid = s.pid();
    let settle = || {
        let mut last = usage(pid);
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let now = usage(pid);
            if now == last {
                return now;
            }
            last = now;
        }
    };
    let (_, fds_before) = settle();
    for round in 0..3 {
        let mut clients = Vec::new();
        for args in [
            vec!["logs", "-f", "api-talk"],
            vec!["events"],
            vec!["attach", "--no-stdin", "api-talk"],
            vec!["stats", "api-talk"],
        ] {
            clients.push(
                s.docker_command(&args)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
        }
        std::thread::sleep(Duration::from_secs(2));
        for mut c in clients {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Every connection and its thread goes within the engine's idle
        // poll of the streams (2 s).
        let deadline = Instant::now() + Duration::from_secs(30);
        while usage(pid).1 > fds_before {
            assert!(
                Instant::now() < deadline,
                "the server's descriptors after round {round}: {} > {fds_before}: {:?}",
                usage(pid).1,
                descriptors(pid)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // Threads: tokio's blocking pool keeps idle threads for 10 s; after
    // that only the runtime's workers (one per CPU), the main thread and
    // at most one other may be left.
    let floor = std::thread::available_parallelism().map_or(2, |n| n.get()) + 2;
    wait_for_within("the streams' threads to end", 40, || usage(pid).0 <= floor);
    s.ok(&["rm", "-f", "api-talk"]);
}

#[test]
fn twenty_clients_at_once_lose_and_duplicate_nothing() {
    require_root!();
    let e = Engine::new("berth");
    let s = Serve::start(&e);
    let workers: Vec<_> = (0..20)
        .map(|i| {
            let env = s.env();
            std::thread::spawn(move || {
                let docker = |args: &[&str]| {
                    let mut c = Command::new("docker");
                    c.envs(env.clone()).args(args);
                    output_within(&mut c, COMMAND_TIMEOUT)
                };
                let keep = format!("api-keep-{i}");
                let drop = format!("api-drop-{i}");
                for name in [&keep, &drop] {
                    let out = docker(&["create", "--name", name, "bb:1", "true"]);
                    assert!(out.status.success(), "create {name}: {}", text(&out.stderr));
                }
                let out = docker(&["run", "--rm", "bb:1", "echo", &i.to_string()]);
                assert_eq!(text(&out.stdout), format!("{i}\n"), "{}", text(&out.stderr));
                let out = docker(&["rm", &drop]);
                assert!(out.status.success(), "rm {drop}: {}", text(&out.stderr));
                // The same name twice at once: exactly one create wins.
                let a = docker(&[
                    "create",
                    "--name",
                    &format!("api-race-{}", i / 2),
                    "bb:1",
                    "true",
                ]);
                a.status.success()
            })
        })
        .collect();
    let won = workers
        .into_iter()
        .map(|w| w.join().expect("a client thread failed"))
        .filter(|w| *w)
        .count();
    assert_eq!(won, 10, "one create per contested name");
    let mut names: Vec<String> = e
        .ok(&["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .map(str::to_owned)
        .collect();
    names.sort();
    let mut want: Vec<String> = (0..20).map(|i| format!("api-keep-{i}")).collect();
    want.extend((0..10).map(|i| format!("api-race-{i}")));
    want.sort();
    assert_eq!(names, want);
    let mut theirs: Vec<String> = s
        .ok(&["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .map(str::to_owned)
        .collect();
    theirs.sort();
    assert_eq!(theirs, want, "the API lists the same");
    let ids = e.ok(&["ps", "-aq"]);
    let out = e.run(
        &["rm", "-f"]
            .iter()
            .copied()
            .chain(ids.lines())
            .collect::<Vec<_>>(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate.
fn make_certs(dir: &Path) {
    let sh = format!(
        r#"set -e
cd {dir}
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 -subj /CN=berth-test-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout key.pem -out server.csr -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out cert.pem -days 2 -extfile server.ext 2>/dev/null
mkdir client
openssl req -newkey rsa:2048 -nodes -keyout client/key.pem -out client.csr -subj /CN=client 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' > client.ext
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out client/cert.pem -days 2 -extfile client.ext 2>/dev/null
cp ca.pem client/ca.pem
"#,
        dir = dir.display()
    );
    let out = Command::new("sh").arg("-c").arg(sh).output().unwrap();
    assert!(out.status.success(), "openssl: {}", text(&out.stderr));
}

#[test]
fn tcp_needs_client_certificates_off_loopback_and_tls_works() {
    require_root!();
    assert!(common::have_tool("openssl"), "openssl is needed");
    let e = Engine::new("berth");
    // Refused at startup: off loopback without TLS, or TLS without
    // client verification.
    let out = e.run(&["serve", "-H", "tcp://0.0.0.0:2375"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("refusing to listen on 0.0.0.0:2375 without TLS"),
        "{}",
        text(&out.stderr)
    );
    let dir: PathBuf = e.berth.dir.path().join("tls");
    std::fs::create_dir_all(&dir).unwrap();
    make_certs(&dir);
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let out = e.run(&[
        "serve",
        "-H",
        "tcp://0.0.0.0:2375",
        "--tlscert",
        cert.to_str().unwrap(),
        "--tlskey",
        key.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("without --tlsverify"),
        "{}",
        text(&out.stderr)
    );
    // A bad key is a clear error at startup.
    let out = e.run(&[
        "serve",
        "-H",
        "tcp://127.0.0.1:2375",
        "--tlscert",
        cert.to_str().unwrap(),
        "--tlskey",
        dir.join("ca.pem").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--tlskey"),
        "{}",
        text(&out.stderr)
    );

    // With --tlsverify: a client with a certificate from the CA runs a
    // container; one without is turned away.
    let port = free_port();
    let addr = format!("tcp://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.join("serve.log")).unwrap();
    let mut server = e
        .command(&[
            "serve",
            "-H",
            &addr,
            "--tlsverify",
            "--tlscacert",
            dir.join("ca.pem").to_str().unwrap(),
            "--tlscert",
            cert.to_str().unwrap(),
            "--tlskey",
            key.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let docker = |args: &[&str], certs: bool| {
        let mut c = e.in_namespace({
            let mut c = Command::new("docker");
            c.env("DOCKER_HOST", &addr)
                .env("DOCKER_CONFIG", dir.join("docker-config"));
            if certs {
                c.env("DOCKER_TLS_VERIFY", "1")
                    .env("DOCKER_CERT_PATH", dir.join("client"));
            }
            c.args(args);
            c
        });
        output_within(&mut c, COMMAND_TIMEOUT)
    };
    wait_for("the TLS listener", || {
        docker(&["version"], true).status.success()
    });
    let out = docker(&["run", "--rm", "bb:1", "echo", "over-tls"], true);
    assert_eq!(text(&out.stdout), "over-tls\n", "{}", text(&out.stderr));
    let out = docker(&["version"], false);
    assert!(!out.status.success(), "a plain-HTTP client is refused");
    let mut c = e.in_namespace({
        let mut c = Command::new("docker");
        c.env("DOCKER_CONFIG", dir.join("docker-config"))
            .args(["-H", &addr, "--tls", "--tlscacert"])
            .arg(dir.join("ca.pem"))
            .arg("version");
        c
    });
    let out = output_within(&mut c, COMMAND_TIMEOUT);
    assert!(
        !out.status.success(),
        "a TLS client without a certificate is refused"
    );
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn serves_sockets_passed_by_systemd() {
    require_root!();
    assert!(common::have_tool("python3"), "python3 is needed");
    let e = Engine::new("berth");
    let socket = e.berth.dir.path().join("activated.sock");
    // What systemd does: bind, then exec the server with the socket as
    // descriptor 3 and LISTEN_PID/LISTEN_FDS naming it.
    let script = r#"
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(16)
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
os.execve(sys.argv[2], sys.argv[2:], env)
"#;
    let mut inner = Command::new("python3");
    inner
        .arg("-c")
        .arg(script)
        .arg(&socket)
        .arg(env!("CARGO_BIN_EXE_berth"));
    inner.arg("--root").arg(&e.berth.root);
    inner.args(["serve", "-H", "fd://"]);
    let mut server = e
        .in_namespace(inner)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the passed socket", || {
        UnixStream::connect(&socket).is_ok_and(|_| true)
            && request(&socket, "GET /_ping", b"").0 == 200
    });
    let mut c = Command::new("docker");
    c.env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .env("DOCKER_CONFIG", e.berth.dir.path().join("docker-config"))
        .args(["run", "--rm", "bb:1", "echo", "activated"]);
    let out = output_within(&mut c, COMMAND_TIMEOUT);
    assert_eq!(text(&out.stdout), "activated\n", "{}", text(&out.stderr));
    let _ = server.kill();
    let _ = server.wait();
    // Without passed sockets, fd:// is a clear error.
    let out = e.run(&["serve", "-H", "fd://"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no sockets were passed"),
        "{}",
        text(&out.stderr)
    );
}
