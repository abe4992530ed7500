//! Interactive containers end to end as root: `run -it` on a real PTY the
//! test owns (berth gets the slave as its stdin/stdout/stderr; the test
//! types on the master and reads what berth draws), window resize,
//! `run -i` with piped stdin, `attach` and detaching with ctrl-p ctrl-q,
//! `start -ai`, and `exec` (output, exit codes, -e/-u/-w, -i, -t, -d, a
//! stopped container), with berth-runtime, runc and crun. Each test has
//! its own root, names and cgroup parent, and removes its containers and
//! mounts even when it fails.

mod common;

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use berth_testutil::{require_root, TerminalReader};
use common::engine::{name, Engine};
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::pty::{openpty, Winsize};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Generous bound for a container to answer: a guard against hangs, not a
/// performance assertion.
const PATIENCE: Duration = Duration::from_secs(60);

const CTRL_P_CTRL_Q: &[u8] = b"\x10\x11";

/// `berth ARGS` on a new PTY of `rows` x `cols`.
struct OnPty {
    child: Child,
    master: File,
    out: TerminalReader,
}

impl OnPty {
    fn spawn(e: &Engine, args: &[&str], rows: u16, cols: u16) -> OnPty {
        let size = Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(&size, None).unwrap();
        // Other berth processes (monitors) must not inherit our ends.
        for fd in [&pty.master, &pty.slave] {
            fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).unwrap();
        }
        let slave = |fd: &OwnedFd| Stdio::from(fd.try_clone().unwrap());
        let child = e
            .command(args)
            .stdin(slave(&pty.slave))
            .stdout(slave(&pty.slave))
            .stderr(slave(&pty.slave))
            .process_group(0)
            .spawn()
            .unwrap();
        drop(pty.slave);
        let master = File::from(pty.master);
        let out = TerminalReader::new(master.try_clone().unwrap());
        OnPty { child, master, out }
    }

    fn type_text(&mut self, text: &[u8]) {
        self.master.write_all(text).unwrap();
    }

    fn expect(&mut self, pattern: &str) -> String {
        self.out.wait_for(pattern, PATIENCE)
    }

    /// Changes the terminal's size and tells berth, as a terminal emulator
    /// does (the PTY has no session here, so the kernel signals nobody).
    fn resize(&mut self, rows: u16, cols: u16) {
        berth_sys::set_window_size(self.master.as_fd(), rows, cols).unwrap();
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGWINCH).unwrap();
    }

    fn wait(mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "berth did not exit; the terminal shows:\n{}",
                    self.expect("")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The monitor records the exit just after the attached client heard it.
fn wait_exited(e: &Engine, n: &str) {
    let deadline = Instant::now() + PATIENCE;
    while e.inspect(n)["State"]["Status"] != "exited" {
        assert!(Instant::now() < deadline, "{n} never exited");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run_it_terminal_and_resize(runtime: &'static str) {
    let e = Engine::new(runtime);
    let mut t = OnPty::spawn(&e, &["run", "--rm", "-it", "bb:1", "sh"], 24, 80);
    t.type_text(b"echo \"tty=$(tty) size=$(stty size) term=$TERM\"\r");
    t.expect("tty=/dev/pts/0 size=24 80 term=xterm");
    // The shell waits (inside the container) until it sees the new size.
    t.type_text(
        b"while [ \"$(stty size)\" != '50 132' ]; do sleep 0.1; done; echo \"resized=$((2+2))\"\r",
    );
    t.resize(50, 132);
    t.expect("resized=4");
    t.type_text(b"exit 3\r");
    let status = t.wait();
    assert_eq!(status.code(), Some(3));
    // --rm: nothing left.
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert!(e.mounts_under_root().is_empty());
}

#[test]
fn run_it_sees_a_terminal_and_its_resize() {
    require_root!();
    run_it_terminal_and_resize("berth");
}

#[test]
fn run_it_with_runc() {
    require_root!();
    if !common::have_tool("runc") {
        return;
    }
    run_it_terminal_and_resize("runc");
}

#[test]
fn run_it_with_crun() {
    require_root!();
    if !common::have_tool("crun") {
        return;
    }
    run_it_terminal_and_resize("crun");
}

/// `echo hi | berth run -i bb:1 cat` and friends.
fn run_i(e: &Engine, args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = e
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn run_i_pipes_stdin_and_closes_it() {
    require_root!();
    let e = Engine::new("berth");
    let out = run_i(&e, &["run", "--rm", "-i", "bb:1", "cat"], b"hi\n");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The container sees the end of our stdin and goes on; its code is ours.
    let out = run_i(
        &e,
        &[
            "run",
            "-i",
            "bb:1",
            "sh",
            "-c",
            "wc -l; echo done >&2; exit 4",
        ],
        b"a\nb\nc\n",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "3");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "done\n");
    assert_eq!(out.status.code(), Some(4));
    // Without -i the container's stdin is empty.
    let out = run_i(&e, &["run", "--rm", "bb:1", "cat"], b"ignored\n");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert!(out.status.success());
    // A terminal needs a terminal to read from, as Docker says.
    let out = run_i(&e, &["run", "--rm", "-it", "bb:1", "true"], b"");
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the input device is not a TTY"));
}

fn attach_detach_and_start(runtime: &'static str) {
    let e = Engine::new(runtime);
    let n = name("att");
    e.ok(&["run", "-d", "-it", "--name", &n, "bb:1", "sh"]);

    let mut t = OnPty::spawn(&e, &["attach", &n], 30, 90);
    t.type_text(b"echo \"at=$((40+2)) $(stty size)\"\r");
    t.expect("at=42 30 90");
    t.type_text(CTRL_P_CTRL_Q);
    let status = t.wait();
    assert_eq!(status.code(), Some(0), "detaching is not an error");
    assert_eq!(
        e.inspect(&n)["State"]["Running"],
        true,
        "detach leaves it running"
    );

    // Attach again: the shell is the same one, and exiting ends attach
    // with the container's code.
    let mut t = OnPty::spawn(&e, &["attach", &n], 30, 90);
    t.type_text(b"echo \"again=$((6*7))\"; exit 7\r");
    t.expect("again=42");
    assert_eq!(t.wait().code(), Some(7));
    wait_exited(&e, &n);
    assert_eq!(e.inspect(&n)["State"]["ExitCode"], 7);

    // Attaching to a stopped container is refused in Docker's words.
    let out = e.run(&["attach", &n]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("You cannot attach to a stopped container, start it first"));

    // start -ai: attached from the start, stdin included, the terminal of
    // the size of ours (not of the one at create).
    let mut t = OnPty::spawn(&e, &["start", "-ai", &n], 24, 80);
    t.type_text(b"echo \"st=$((2+3)) $(stty size)\"\r");
    t.expect("st=5 24 80");
    t.type_text(b"exit 4\r");
    assert_eq!(t.wait().code(), Some(4));

    // run -it, detach with ctrl-p ctrl-q: back with 0, container running.
    let n2 = name("det");
    let mut t = OnPty::spawn(&e, &["run", "-it", "--name", &n2, "bb:1", "sh"], 24, 80);
    t.type_text(b"echo \"up=$((1+1))\"\r");
    t.expect("up=2");
    t.type_text(CTRL_P_CTRL_Q);
    assert_eq!(t.wait().code(), Some(0));
    assert_eq!(e.inspect(&n2)["State"]["Running"], true);
}

#[test]
fn attach_detach_keys_and_start_ai() {
    require_root!();
    attach_detach_and_start("berth");
}

#[test]
fn attach_with_runc() {
    require_root!();
    if !common::have_tool("runc") {
        return;
    }
    attach_detach_and_start("runc");
}

#[test]
fn attach_with_crun() {
    require_root!();
    if !common::have_tool("crun") {
        return;
    }
    attach_detach_and_start("crun");
}

#[test]
fn start_a_without_terminal_and_custom_detach_keys() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("sa");
    e.ok(&[
        "create",
        "--name",
        &n,
        "bb:1",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 6",
    ]);
    let out = e.run(&["start", "-a", &n]);
    assert_eq!(out.status.code(), Some(6));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");

    // A container that closed its stdout and stderr is still attachable:
    // our stdin reaches it, its exit code comes back.
    let quiet = name("quiet");
    e.ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        &quiet,
        "bb:1",
        "sh",
        "-c",
        "exec >/dev/null 2>&1; read l; [ \"$l\" = hello ] && exit 3",
    ]);
    let out = run_i(&e, &["attach", &quiet], b"hello\n");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let n2 = name("keys");
    e.ok(&["run", "-d", "-it", "--name", &n2, "bb:1", "sh"]);
    let mut t = OnPty::spawn(&e, &["attach", "--detach-keys", "ctrl-x,x", &n2], 24, 80);
    t.type_text(b"echo \"k=$((3+4))\"\r");
    t.expect("k=7");
    t.type_text(b"\x18x");
    assert_eq!(t.wait().code(), Some(0));
    assert_eq!(e.inspect(&n2)["State"]["Running"], true);
    let out = e.run(&["attach", "--detach-keys", "ctrl-", &n2]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Invalid detach keys"));
}

fn exec_all(runtime: &'static str) {
    let e = Engine::new(runtime);
    let n = name("ex");
    e.ok(&[
        "run",
        "-d",
        "--name",
        &n,
        "-e",
        "FROM_RUN=1",
        "bb:1",
        "sleep",
        "1000",
    ]);

    let out = e.run(&["exec", &n, "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");

    let out = e.ok(&[
        "exec",
        "-e",
        "A=b",
        "-u",
        "1000:27",
        "-w",
        "/tmp",
        &n,
        "sh",
        "-c",
        "echo $A $FROM_RUN; id -u; id -g; pwd",
    ]);
    assert_eq!(out, "b 1\n1000\n27\n/tmp\n");
    // Names from the container's /etc/passwd, as run's -u.
    assert_eq!(e.ok(&["exec", "-u", "nobody", &n, "id", "-u"]), "65534\n");
    let out = e.run(&["exec", "-u", "no-such-user", &n, "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unable to find user no-such-user"));

    let out = e.run(&["exec", &n, "no-such-command"]);
    assert_eq!(
        out.status.code(),
        Some(127),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = e.run(&["exec", &n, "/etc"]);
    assert_eq!(
        out.status.code(),
        Some(126),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = run_i(
        &e,
        &["exec", "-i", &n, "sh", "-c", "cat; echo end"],
        b"piped\n",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "piped\nend\n");
    assert!(out.status.success());

    // --privileged: every capability we have (CapEff = our CapBnd).
    let ours = std::fs::read_to_string("/proc/self/status").unwrap();
    let bnd = ours
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim()
        .to_owned();
    let out = e.ok(&[
        "exec",
        "--privileged",
        &n,
        "sh",
        "-c",
        "grep CapEff /proc/self/status",
    ]);
    assert_eq!(out.split_whitespace().nth(1), Some(bnd.as_str()));
    let out = e.ok(&["exec", &n, "sh", "-c", "grep CapEff /proc/self/status"]);
    assert_ne!(out.split_whitespace().nth(1), Some(bnd.as_str()));

    // -d returns at once; the process runs on. A failure to start is
    // still reported, with Docker's code.
    let out = e.run(&["exec", "-d", &n, "no-such-command"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-command"));
    assert_eq!(
        e.ok(&["exec", "-d", &n, "sh", "-c", "sleep 1; echo later > /tmp/d"]),
        ""
    );
    let deadline = Instant::now() + PATIENCE;
    while e.run(&["exec", &n, "test", "-f", "/tmp/d"]).status.code() != Some(0) {
        assert!(Instant::now() < deadline, "exec -d never wrote its file");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(e.ok(&["exec", &n, "cat", "/tmp/d"]), "later\n");

    // -it on a terminal: a tty of our size, our keys, its exit code.
    let mut t = OnPty::spawn(&e, &["exec", "-it", &n, "sh"], 33, 77);
    t.type_text(b"echo \"x=$(tty) $(stty size) $((3*3))\"; exit 5\r");
    t.expect("x=/dev/pts/");
    t.expect("33 77 9");
    assert_eq!(t.wait().code(), Some(5));

    // A stopped container: Docker's message, berth's 125.
    let stopped = name("stopped");
    e.ok(&["create", "--name", &stopped, "bb:1", "true"]);
    let out = e.run(&["exec", &stopped, "true"]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Container ") && err.contains(" is not running"),
        "{err}"
    );
    let out = e.run(&["exec", "no-such-container", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such container"));
    // Nothing of the execs stays in the container directory.
    let id = e.inspect(&n)["Id"].as_str().unwrap().to_owned();
    let dir = e.berth.root.join("containers").join(id);
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.starts_with("exec-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn exec_output_codes_flags_terminal_detach() {
    require_root!();
    exec_all("berth");
}

#[test]
fn exec_with_runc() {
    require_root!();
    if !common::have_tool("runc") {
        return;
    }
    exec_all("runc");
}

#[test]
fn exec_with_crun() {
    require_root!();
    if !common::have_tool("crun") {
        return;
    }
    exec_all("crun");
}

/// The next line of `r`, read on a thread so a silent child cannot hang
/// the test.
fn next_line(r: std::process::ChildStdout) -> (String, std::process::ChildStdout) {
    use std::io::Read;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut r = r;
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while let Ok(1) = r.read(&mut b) {
            line.push(b[0]);
            if b[0] == b'\n' {
                break;
            }
        }
        let _ = tx.send((String::from_utf8_lossy(&line).into_owned(), r));
    });
    rx.recv_timeout(PATIENCE).expect("no line from berth")
}

#[test]
fn foreground_run_passes_signals_on() {
    require_root!();
    let e = Engine::new("berth");
    let script = "trap 'echo got TERM; exit 9' TERM; echo ready; while :; do sleep 0.1; done";
    let spawn = |extra: &[&str], n: &str| {
        let mut args = vec!["run", "--name", n];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["bb:1", "sh", "-c", script]);
        e.command(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap()
    };
    let n = name("sig");
    let mut child = spawn(&[], &n);
    let (line, out) = next_line(child.stdout.take().unwrap());
    assert_eq!(line, "ready\n");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let (line, _out) = next_line(out);
    assert_eq!(line, "got TERM\n");
    assert_eq!(child.wait().unwrap().code(), Some(9));

    // --sig-proxy=false: the signal is berth's alone; the container runs on.
    let n = name("nosig");
    let mut child = spawn(&["--sig-proxy=false"], &n);
    let (line, _out) = next_line(child.stdout.take().unwrap());
    assert_eq!(line, "ready\n");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&child.wait().unwrap()),
        Some(Signal::SIGTERM as i32)
    );
    assert_eq!(e.inspect(&n)["State"]["Running"], true);
}

#[test]
fn attach_across_restarts() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("again");
    e.ok(&[
        "run",
        "-d",
        "-i",
        "--restart",
        "always",
        "--name",
        &n,
        "bb:1",
        "sh",
        "-c",
        "read l; echo \"got $l\"; exit 1",
    ]);
    let out = run_i(&e, &["attach", &n], b"a\n");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got a\n");
    assert_eq!(out.status.code(), Some(1));
    // The monitor runs it again (after Docker's back-off) and serves the
    // same socket for the new run.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let v = e.inspect(&n);
        if v["State"]["Status"] == "running" && v["RestartCount"].as_u64() >= Some(1) {
            break;
        }
        assert!(Instant::now() < deadline, "never restarted: {v}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = run_i(&e, &["attach", &n], b"b\n");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got b\n");
    assert_eq!(out.status.code(), Some(1));
}
