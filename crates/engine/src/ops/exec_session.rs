//! Running an exec: the engine starts the runtime's `exec` (prepared by
//! [`crate::ops::exec`]) with the caller's stdio, detached, or with a terminal
//! it receives on a console socket. An exec'd process belongs to its
//! caller, not to the container's monitor, so the caller drives the
//! session: [`ExecTerminal`] is its handle on the terminal.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::process::Stdio;
use std::sync::Arc;

use crate::attach::BoundSocket;
use crate::error::{Error, Result};
use crate::model::ExecOptions;
use crate::ops::exec::Exec;
use crate::Engine;

/// The size (rows, cols) of the caller's terminal: stdout's, else
/// stdin's; None without one.
pub fn terminal_size() -> Option<(u16, u16)> {
    berth_sys::window_size(io::stdout().as_fd())
        .or_else(|_| berth_sys::window_size(io::stdin().as_fd()))
        .ok()
        .filter(|&(r, c)| r > 0 && c > 0)
}

/// A terminal exec that did not start.
pub enum TerminalExec {
    Running(ExecTerminal),
    /// The runtime failed and said why on stderr: exit with this code.
    Failed(i32),
}

/// The terminal of a running exec: copy the caller's input into it and
/// its output out, pass on size changes, then `wait`.
pub struct ExecTerminal {
    master: TerminalHandle,
    /// The exec'd process (a child of this process, a subreaper).
    pub pid: i32,
}

/// The terminal's master side; cheap to clone into threads.
#[derive(Clone, Debug)]
pub struct TerminalHandle(Arc<File>);

impl TerminalHandle {
    /// Sets the terminal's window size.
    pub fn resize(&self, rows: u16, cols: u16) {
        let _ = berth_sys::set_window_size(self.0.as_fd(), rows, cols);
    }
}

impl Read for TerminalHandle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.0).read(buf)
    }
}

impl Write for TerminalHandle {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.0).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ExecTerminal {
    pub fn handle(&self) -> TerminalHandle {
        self.master.clone()
    }

    /// Copies the terminal's output to `out` until every slave end is
    /// closed (EIO: the process and its children are gone).
    pub fn copy_output(&self, out: &mut impl Write) -> io::Result<()> {
        let mut buf = [0u8; 16 * 1024];
        let mut master = self.master.clone();
        loop {
            match master.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    out.write_all(&buf[..n])?;
                    out.flush()?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(libc::EIO) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// The process's exit code (128 + signal when killed).
    pub fn wait(self) -> i32 {
        use nix::sys::wait::{waitpid, WaitStatus};
        loop {
            match waitpid(nix::unistd::Pid::from_raw(self.pid), None) {
                Ok(WaitStatus::Exited(_, code)) => return code,
                Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return 255,
            }
        }
    }
}

/// The runtime's own failure (it printed its message on stderr) as
/// Docker's exit code, else the process's code.
fn failure(e: &Exec, code: Option<i32>) -> Result<i32> {
    match e.runtime_error() {
        Some(Error::Command { exit_code, .. }) => Ok(i32::from(exit_code)),
        Some(other) => Err(other),
        None => Ok(code.unwrap_or(255)),
    }
}

fn run(e: &mut Exec) -> Result<std::process::ExitStatus> {
    e.command.status().map_err(|source| Error::RuntimeSpawn {
        runtime: e.command.get_program().into(),
        command: "exec",
        source,
    })
}

impl Engine {
    /// `exec -d`: the process runs on its own; 0, or the code to exit
    /// with when it could not start (an error when the runtime said why).
    pub fn exec_detached(&self, key: &str, o: &ExecOptions) -> Result<i32> {
        let mut e = self.exec(key, o, true, None)?;
        e.command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let status = run(&mut e)?;
        if status.success() {
            return Ok(0);
        }
        // The runtime's stderr was /dev/null: its logged error says why.
        match e.runtime_error() {
            Some(err) => Err(err),
            None => failure(&e, status.code()),
        }
    }

    /// `exec` without a terminal: the process has our stdout and stderr,
    /// and our stdin when `stdin`. Its exit code, or Docker's 126/127 when
    /// the runtime could not run it (and said so on stderr).
    pub fn exec_foreground(&self, key: &str, o: &ExecOptions, stdin: bool) -> Result<i32> {
        let mut e = self.exec(key, o, false, None)?;
        if !stdin {
            e.command.stdin(Stdio::null());
        }
        let status = run(&mut e)?;
        if status.success() {
            return Ok(0);
        }
        failure(&e, status.code())
    }

    /// `exec -t`: starts the process with a new terminal, received from
    /// the runtime on a console socket in the container's bundle. The
    /// runtime detaches (runc takes a console socket only then); the
    /// caller becomes a subreaper to inherit and wait for the process.
    pub fn exec_terminal(&self, key: &str, o: &ExecOptions) -> Result<TerminalExec> {
        let c = self.find(key)?;
        let name = format!("exec-{}.sock", std::process::id());
        let socket_file = self.bundle(&c.id).file(&name);
        let result = (|| {
            let socket = BoundSocket::bind(self.bundle(&c.id).dir(), &name)?;
            nix::sys::prctl::set_child_subreaper(true)
                .map_err(|e| Error::io("become", "a subreaper", e.into()))?;
            let mut e = self.exec(&c.id, o, true, Some(&socket.proc_path()))?;
            e.command.stdin(Stdio::null()).stdout(Stdio::null());
            let status = run(&mut e)?;
            if !status.success() {
                return failure(&e, status.code()).map(TerminalExec::Failed);
            }
            let pid = e.pid()?;
            let master = receive_terminal(&socket)?;
            Ok(TerminalExec::Running(ExecTerminal {
                master: TerminalHandle(Arc::new(master)),
                pid,
            }))
        })();
        let _ = std::fs::remove_file(&socket_file);
        result
    }
}

/// The terminal the runtime sent before it exited (so the connection and
/// the message are queued: nothing blocks).
fn receive_terminal(socket: &BoundSocket) -> Result<File> {
    let none = |reason: String| Error::Runtime {
        runtime: "the runtime".into(),
        command: "exec",
        message: reason,
    };
    socket
        .listener
        .set_nonblocking(true)
        .map_err(|e| Error::io("configure", "the console socket", e))?;
    let (stream, _) = socket
        .listener
        .accept()
        .map_err(|e| none(format!("sent no terminal: {e}")))?;
    stream
        .set_nonblocking(true)
        .map_err(|e| Error::io("configure", "the console connection", e))?;
    match berth_sys::recv_fd(stream.as_fd()).map_err(|e| Error::io("receive", "the terminal", e))? {
        Some(fd) => Ok(File::from(fd)),
        None => Err(none("sent no terminal".into())),
    }
}
