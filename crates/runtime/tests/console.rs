//! `terminal: true` with `--console-socket`: the runtime sends the PTY
//! master over the socket and the container's process talks through it.

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;
use serde_json::json;

const TTY_TIMEOUT: Duration = Duration::from_secs(20);

/// Creates and starts `b` with a console socket; returns the master for
/// writing and a reader collecting what the container prints.
fn start_with_console(rt: &Runtime, b: &Bundle) -> (std::fs::File, TerminalReader) {
    let sock = ConsoleSocket::listen(&b.path().join("console.sock"));
    rt.cmd(&[
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        "--console-socket",
        sock.path().to_str().unwrap(),
        b.id(),
    ])
    .ok();
    let master = sock.recv_master(TTY_TIMEOUT);
    let reader = TerminalReader::new(master.try_clone().unwrap());
    rt.start(b.id()).ok();
    (master, reader)
}

#[test]
fn console_socket_receives_a_working_pty() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_terminal(true).set_args(&["sh"]);
    let (mut master, mut out) = start_with_console(&rt, &b);

    // The echo of what we type shows `$((6*7))`; only the shell's output
    // has `42`.
    master.write_all(b"echo hello-$((6*7))\n").unwrap();
    out.wait_for("hello-42", TTY_TIMEOUT);
    master.write_all(b"tty; echo \"tty\"-done\n").unwrap();
    let seen = out.wait_for("tty-done\r\n", TTY_TIMEOUT);
    assert!(seen.contains("/dev/pts/"), "tty is not a pts:\n{seen}");
    assert!(!seen.contains("not a tty"), "{seen}");

    master.write_all(b"exit 3\n").unwrap();
    rt.wait_for_status(b.id(), "stopped", STATE_TIMEOUT);
}

#[test]
fn console_size_is_applied() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_terminal(true)
        .set_script("stty size; echo size-done; sleep 1000");
    b.config_mut()["process"]["consoleSize"] = json!({ "height": 40, "width": 100 });
    let (_master, mut out) = start_with_console(&rt, &b);
    let seen = out.wait_for("size-done", TTY_TIMEOUT);
    assert!(seen.contains("40 100"), "stty size:\n{seen}");
}

#[test]
fn terminal_stdio_is_the_pty_and_ctrl_c_interrupts() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_terminal(true).set_args(&["sh"]);
    let (mut master, mut out) = start_with_console(&rt, &b);
    master
        .write_all(b"for f in 0 1 2; do readlink /proc/self/fd/$f; done; echo \"fds\"-done\n")
        .unwrap();
    let seen = out.wait_for("fds-done\r\n", TTY_TIMEOUT);
    assert_eq!(seen.matches("/dev/pts/0").count(), 3, "{seen}");
    // The shell is the session leader with the pty as controlling
    // terminal: ^C interrupts the foreground job, not the shell.
    master.write_all(b"sleep 1000\n").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    master.write_all(b"\x03").unwrap();
    master.write_all(b"echo after-$((1+1))\n").unwrap();
    out.wait_for("after-2", TTY_TIMEOUT);
    assert_eq!(rt.state(b.id())["status"], "running");
}
