//! What the client tests' daemons (containerd, dockerd) have in common: a
//! daemon process stopped on drop, waiting for its socket, and the
//! last-resort kill of every process still using a test's private
//! directory (shims a daemon left behind).

use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::host::{process_alive, wait_until};

/// How long a daemon may take to open its socket, answer, and stop: a hang
/// guard, generous because the cgroup v2 guest emulates its CPUs (TCG) and
/// runs a test binary's tests in parallel, where a dockerd start took over
/// a minute on a loaded machine.
pub const DAEMON_TIMEOUT: Duration = Duration::from_secs(240);

/// A daemon process, its output in `log`; SIGTERM then SIGKILL on drop.
#[derive(Debug)]
pub(crate) struct Daemon {
    child: Child,
    name: String,
    log: PathBuf,
}

impl Daemon {
    /// Starts `cmd` with stdin on /dev/null and stdout+stderr to `log`.
    pub(crate) fn spawn(mut cmd: Command, name: &str, log: &Path) -> Daemon {
        let out = fs::File::create(log).expect("create daemon log");
        let err = out.try_clone().expect("clone daemon log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e} (is it installed?)"));
        Daemon {
            child,
            name: name.to_owned(),
            log: log.to_owned(),
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The daemon's output so far.
    pub(crate) fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `socket` exists as a socket; panics with the daemon's
    /// log if it exits first or takes longer than [`DAEMON_TIMEOUT`].
    pub(crate) fn wait_for_socket(&mut self, socket: &Path) {
        let ready = wait_until(DAEMON_TIMEOUT, || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before it listened:\n{}",
                    self.name,
                    self.log()
                );
            }
            fs::metadata(socket)
                .map(|m| m.file_type().is_socket())
                .unwrap_or(false)
        });
        assert!(
            ready,
            "{} did not open {} within {DAEMON_TIMEOUT:?}:\n{}",
            self.name,
            socket.display(),
            self.log()
        );
    }

    /// SIGTERM, then SIGKILL if it has not exited after [`DAEMON_TIMEOUT`].
    pub(crate) fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let exited = wait_until(DAEMON_TIMEOUT, || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        if !exited {
            eprintln!("warning: {} ignored SIGTERM; killing it", self.name);
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// SIGKILLs every process whose command line mentions `dir` (a test's
/// private temp dir: daemon sockets and state live there, so only that
/// test's daemons and shims match) and waits for them to go.
pub(crate) fn kill_processes_using(dir: &Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().into_owned();
    let me = std::process::id();
    let mut killed = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return killed;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&needle) {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            killed.push(pid);
        }
    }
    wait_until(Duration::from_secs(10), || {
        killed.iter().all(|&p| !process_alive(p))
    });
    killed
}
