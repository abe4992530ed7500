//! `berth serve` driven by the real docker CLI (Debian's docker.io):
//! version negotiation, `run --rm` attached with exit codes and stderr,
//! `run -d`, `ps`, `logs`, `inspect`, `stop`, `rm`, `images`, errors in
//! `exec` (output, exit codes, stdin), dockerd's words, and the socket's
//! permissions. The server runs in the
//! test engine's namespaces on a socket in the test's temp dir.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use berth_testutil::{require_root, COMMAND_TIMEOUT};
use common::engine::{text, Engine};
use common::serve::Serve;

#[test]
fn docker_cli_runs_lists_logs_and_removes_containers() {
    require_root!();
    assert!(
        common::have_tool("docker"),
        "the docker CLI is needed (apt-get install docker.io)"
    );
    let e = Engine::new("berth");
    let s = Serve::start(&e);
    let version = s.ok(&["version", "--format", "{{.Server.APIVersion}}"]);
    assert_eq!(version.trim(), "1.41");

    // Attached, with the container's exit code and its two streams.
    let out = s.docker(&[
        "run",
        "--rm",
        "bb:1",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out\n");
    assert_eq!(text(&out.stderr), "err\n");
    assert_eq!(s.ok(&["ps", "-aq"]), "", "--rm removed it");
    // `start -a` of an exited container: attached before the start, its
    // output and exit code again.
    let out = s.docker(&[
        "run",
        "--name",
        "api-again",
        "bb:1",
        "sh",
        "-c",
        "echo again; exit 2",
    ]);
    assert_eq!(
        (out.status.code(), text(&out.stdout)),
        (Some(2), "again\n".into())
    );
    let out = s.docker(&["start", "-a", "api-again"]);
    assert_eq!(
        (out.status.code(), text(&out.stdout)),
        (Some(2), "again\n".into()),
        "{}",
        text(&out.stderr)
    );
    s.ok(&["rm", "api-again"]);

    // Detached, listed, logged, inspected, stopped, removed: the same
    // objects berth's own CLI shows.
    let id = s.ok(&[
        "run",
        "-d",
        "--name",
        "api-web",
        "bb:1",
        "sh",
        "-c",
        "echo ready; sleep 300",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64);
    assert_eq!(
        s.ok(&["ps", "--format", "{{.Names}} {{.Image}}"]),
        "api-web bb:1\n"
    );
    assert_eq!(e.ok(&["ps", "--format", "{{.Names}}"]), "api-web\n");
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.ok(&["logs", "api-web"]) != "ready\n" {
        assert!(Instant::now() < deadline, "no log line");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        s.ok(&["inspect", "-f", "{{.Id}} {{.State.Status}}", "api-web"]),
        format!("{id} running\n")
    );
    // exec: output, exit code, stdin, a missing command's 127.
    let out = s.docker(&["exec", "api-web", "sh", "-c", "echo in-exec; exit 4"]);
    assert_eq!(
        (out.status.code(), text(&out.stdout)),
        (Some(4), "in-exec\n".into())
    );
    let mut c = s.docker_command(&["exec", "-i", "api-web", "cat"]);
    let out = berth_testutil::output_with_input(&mut c, b"piped\n", COMMAND_TIMEOUT);
    assert_eq!(text(&out.stdout), "piped\n");
    assert_eq!(
        s.docker(&["exec", "api-web", "nosuchcmd"]).status.code(),
        Some(127)
    );
    s.ok(&["stop", "-t", "1", "api-web"]);
    assert_eq!(
        s.ok(&["inspect", "-f", "{{.State.Status}}", "api-web"]),
        "exited\n"
    );
    s.ok(&["rm", "api-web"]);
    assert_eq!(e.ok(&["ps", "-aq"]), "");

    // Images as berth lists them.
    assert_eq!(
        s.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "bb:1\n"
    );

    // dockerd's errors.
    let out = s.docker(&["inspect", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    // (the CLI's inspect tries every kind of object, as with dockerd)
    assert!(
        text(&out.stderr).contains("No such object: nosuch"),
        "{}",
        text(&out.stderr)
    );
    let out = s.docker(&["rm", "nosuch"]);
    // (the 20.10 CLI words a 404 itself, newer ones print the daemon's)
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("No such container: nosuch"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_socket_is_root_only() {
    require_root!();
    let e = Engine::new("berth");
    let s = Serve::start(&e);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&s.socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // An unprivileged user cannot connect: the docker CLI says so.
    let dir = s.socket.parent().unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "--",
            "docker",
        ])
        .arg("-H")
        .arg(format!("unix://{}", s.socket.display()))
        .arg("version")
        .env("HOME", "/tmp")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("permission denied"),
        "{}",
        text(&out.stderr)
    );
    let c = std::os::unix::net::UnixStream::connect(&s.socket);
    assert!(c.is_ok(), "root connects");
}

#[test]
fn docker_cli_manages_volumes_networks_tags_and_paused_containers() {
    require_root!();
    let e = Engine::new("berth");
    let s = Serve::start(&e);
    // Volumes: made, listed, inspected and removed as berth's CLI sees them.
    assert_eq!(s.ok(&["volume", "create", "api-vol"]), "api-vol\n");
    assert_eq!(e.ok(&["volume", "ls", "-q"]), "api-vol\n");
    assert_eq!(s.ok(&["volume", "ls", "-q"]), "api-vol\n");
    assert_eq!(
        s.ok(&[
            "volume",
            "inspect",
            "-f",
            "{{.Driver}} {{.Name}}",
            "api-vol"
        ]),
        "local api-vol\n"
    );
    s.ok(&["volume", "rm", "api-vol"]);
    assert_eq!(e.ok(&["volume", "ls", "-q"]), "");
    // Networks: the defaults berth has.
    let nets = s.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(nets.lines().any(|n| n == "bridge"), "{nets}");
    assert_eq!(
        s.ok(&["network", "inspect", "-f", "{{.Driver}}", "bridge"]),
        "bridge\n"
    );
    // Tags and image removal.
    s.ok(&["tag", "bb:1", "bb:api"]);
    assert!(e
        .ok(&["images", "--format", "{{.Tag}}"])
        .lines()
        .any(|t| t == "api"));
    let out = s.ok(&["rmi", "bb:api"]);
    assert!(out.contains("Untagged: bb:api"), "{out}");
    // Pause, unpause, rename.
    s.ok(&["run", "-d", "--name", "api-p", "bb:1", "sleep", "300"]);
    s.ok(&["pause", "api-p"]);
    assert_eq!(
        s.ok(&["inspect", "-f", "{{.State.Status}}", "api-p"]),
        "paused\n"
    );
    s.ok(&["unpause", "api-p"]);
    s.ok(&["rename", "api-p", "api-q"]);
    assert_eq!(e.ok(&["ps", "--format", "{{.Names}}"]), "api-q\n");
    s.ok(&["rm", "-f", "api-q"]);
}

#[test]
fn docker_cli_exec_it_through_a_pty_and_attach() {
    require_root!();
    assert!(common::have_tool("script"), "script (util-linux) is needed");
    let e = Engine::new("berth");
    let s = Serve::start(&e);
    s.ok(&["run", "-d", "-it", "--name", "api-tty", "bb:1", "sh"]);
    // `docker exec -it` under a real terminal (script(1) gives it one):
    // the process sees a TTY, its output comes back, its code is ours.
    let mut c = Command::new("script");
    c.envs(s.env()).args([
        "-qec",
        "docker exec -it api-tty sh -c 'test -t 0 && echo is-a-tty; exit 5'",
        "/dev/null",
    ]);
    let out = berth_testutil::output_within(&mut c, COMMAND_TIMEOUT);
    assert!(
        text(&out.stdout).contains("is-a-tty"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    s.ok(&["rm", "-f", "api-tty"]);

    // `docker attach` to a running container follows its output to the end
    // and exits with its code. The container waits for /go, made once the
    // attach had ample time to connect (attach replays nothing).
    s.ok(&[
        "run",
        "-d",
        "--name",
        "api-att",
        "bb:1",
        "sh",
        "-c",
        "while [ ! -e /go ]; do sleep 0.1; done; for i in 1 2 3; do echo line$i; done; exit 7",
    ]);
    let attach = s
        .docker_command(&["attach", "api-att"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    s.ok(&["exec", "api-att", "touch", "/go"]);
    let out = attach.wait_with_output().unwrap();
    assert_eq!(text(&out.stdout), "line1\nline2\nline3\n");
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    s.ok(&["rm", "api-att"]);
}
