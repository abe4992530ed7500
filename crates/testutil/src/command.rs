//! Child commands a test waits for, with a time limit: a command that hangs
//! (a daemon that never answers, a container that never exits) is killed,
//! with everything it started in its process group, and fails the test
//! with the command line and what it printed, instead of stalling CI.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::id::unique_id;

/// How long a helper command (tar, a client CLI, `berth` itself) may take
/// before the test fails. Generous: the cgroup v2 guest emulates its CPUs.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(180);

/// Like [`Command::output`] (stdin on /dev/null, stdout and stderr
/// captured), but kills the command and panics after `limit`. The output
/// goes to unlinked temp files, not pipes, so a background process that
/// inherits them cannot hold the call open.
pub fn output_within(cmd: &mut Command, limit: Duration) -> Output {
    try_output_within(cmd, limit).unwrap_or_else(|msg| panic!("{msg}"))
}

/// [`output_within`] that returns the failure (could not start, killed
/// after `limit`) instead of panicking: for cleanup in `Drop`, where a
/// second panic would abort the test binary.
pub fn try_output_within(cmd: &mut Command, limit: Duration) -> Result<Output, String> {
    cmd.stdin(Stdio::null());
    run(cmd, None, limit)
}

/// [`output_within`] with `input` on the command's stdin.
pub fn output_with_input(cmd: &mut Command, input: &[u8], limit: Duration) -> Output {
    cmd.stdin(Stdio::piped());
    run(cmd, Some(input), limit).unwrap_or_else(|msg| panic!("{msg}"))
}

/// Like [`Command::status`] (stdio inherited), but kills the command and
/// panics after `limit`.
pub fn status_within(cmd: &mut Command, limit: Duration) -> ExitStatus {
    let argv = describe(cmd);
    cmd.process_group(0);
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn `{argv}`: {e}"));
    match wait_within(child, limit) {
        Some(status) => status,
        None => panic!("`{argv}` did not finish within {limit:?}: killed it"),
    }
}

fn run(cmd: &mut Command, input: Option<&[u8]>, limit: Duration) -> Result<Output, String> {
    let argv = describe(cmd);
    let mut out = unlinked_file("out");
    let mut err = unlinked_file("err");
    cmd.stdout(out.try_clone().expect("dup stdout file"))
        .stderr(err.try_clone().expect("dup stderr file"))
        .process_group(0);
    let mut child = cmd.spawn().map_err(|e| format!("spawn `{argv}`: {e}"))?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        // A thread, so a command that never reads cannot block us here.
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let status = wait_within(child, limit);
    let read = |f: &mut File| {
        let mut buf = Vec::new();
        let _ = f.rewind().and_then(|_| f.read_to_end(&mut buf));
        buf
    };
    let (stdout, stderr) = (read(&mut out), read(&mut err));
    match status {
        Some(status) => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        None => Err(format!(
            "`{argv}` did not finish within {limit:?}: killed it\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        )),
    }
}

/// Waits for `child` (the leader of its own process group); `None` after
/// killing the group when `limit` passed first. The wait blocks in a
/// thread, so a command is seen to end at once (no polling interval).
fn wait_within(mut child: Child, limit: Duration) -> Option<ExitStatus> {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = match rx.recv_timeout(limit) {
        Ok(status) => Some(status),
        Err(_) => {
            // Not reaped yet (the waiter still blocks), so the pid is ours.
            let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
            let _ = rx.recv();
            None
        }
    };
    let _ = waiter.join();
    status.map(|s| s.unwrap_or_else(|e| panic!("wait for pid {pid}: {e}")))
}

fn unlinked_file(what: &str) -> File {
    let path = std::env::temp_dir().join(unique_id(&format!("berth-cmd-{what}")));
    let file = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    let _ = std::fs::remove_file(&path);
    file
}

fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_captured() {
        let out = output_within(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            COMMAND_TIMEOUT,
        );
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
        let out = output_with_input(&mut Command::new("cat"), b"in", COMMAND_TIMEOUT);
        assert_eq!(out.stdout, b"in");
    }

    #[test]
    fn a_hang_is_killed_and_named() {
        let started = std::time::Instant::now();
        let hang = std::panic::catch_unwind(|| {
            // The background sleep holds stdout too: the group is killed.
            output_within(
                Command::new("sh").args(["-c", "sleep 100 & sleep 100"]),
                Duration::from_millis(300),
            )
        });
        let msg = *hang.unwrap_err().downcast::<String>().unwrap();
        assert!(
            msg.contains("`sh -c sleep 100 & sleep 100` did not finish"),
            "{msg}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
