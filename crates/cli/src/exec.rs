//! `berth exec`: runs the container runtime's `exec` directly (an exec'd
//! process belongs to its caller, not to the container's monitor). Without
//! `-t` the process gets our stdio; with `-t` we receive its terminal on a
//! console socket and copy between it and ours, in raw mode, passing on
//! window size changes. The exit code is the process's, or Docker's
//! 126/127 when it could not be started.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::process::Stdio;

use anyhow::{bail, Result};
use berth_engine::attach::BoundSocket;
use berth_engine::exec::{Exec, ExecOptions};
use berth_engine::Engine;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::SignalFd;

use crate::attach::{check_tty_input, terminal_size, RawTerminal};
use crate::cli::ExecArgs;
use crate::containers::ExitWith;

pub fn exec(root: &std::path::Path, a: ExecArgs) -> Result<()> {
    if a.detach && a.tty {
        bail!("unsupported: exec -d with -t (no process would hold the detached terminal)");
    }
    check_tty_input(a.tty, a.interactive)?;
    let engine = Engine::open(root)?;
    let o = ExecOptions {
        args: a.command,
        env: a.env,
        user: a.user,
        workdir: a.workdir,
        tty: a.tty,
        console_size: if a.tty { terminal_size() } else { None },
        privileged: a.privileged,
    };
    if a.detach {
        let mut e = engine.exec(&a.container, &o, true, None)?;
        let status = e
            .command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        if !status.success() {
            // The runtime's stderr was /dev/null: say why here.
            return Err(match e.runtime_error() {
                Some(err) => err.into(),
                None => failure(&e, status.code()),
            });
        }
        return Ok(());
    }
    if !a.tty {
        let mut e = engine.exec(&a.container, &o, false, None)?;
        if !a.interactive {
            e.command.stdin(Stdio::null());
        }
        let status = e.command.status()?;
        if status.success() {
            return Ok(());
        }
        return Err(failure(&e, status.code()));
    }
    with_terminal(&engine, &a.container, &o, a.interactive)
}

/// The runtime's own failure (it printed its message on stderr, which is
/// ours) as Docker's exit code, else the process's code.
fn failure(e: &Exec, code: Option<i32>) -> anyhow::Error {
    match e.runtime_error() {
        Some(berth_engine::Error::Command { exit_code, .. }) => ExitWith(exit_code).into(),
        Some(other) => other.into(),
        None => ExitWith(code.unwrap_or(255) as u8).into(),
    }
}

fn with_terminal(engine: &Engine, key: &str, o: &ExecOptions, interactive: bool) -> Result<()> {
    let c = engine.find(key)?;
    let name = format!("exec-{}.sock", std::process::id());
    let socket_file = engine.bundle(&c.id).file(&name);
    let result = (|| {
        let socket = BoundSocket::bind(engine.bundle(&c.id).dir(), &name)?;
        // The runtime detaches (runc takes a console socket only then);
        // as subreaper we inherit the process and wait for it ourselves.
        nix::sys::prctl::set_child_subreaper(true)?;
        let mut e = engine.exec(&c.id, o, true, Some(&socket.proc_path()))?;
        let status = e
            .command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            return Err(failure(&e, status.code()));
        }
        let pid = e.pid()?;
        let master = std::sync::Arc::new(receive_terminal(&socket)?);
        let _ = std::fs::remove_file(&socket_file);
        // Signals first, so the copy threads inherit the mask.
        let mut winch = SigSet::empty();
        winch.add(Signal::SIGWINCH);
        winch.thread_block()?;
        let mut signals = SignalFd::new(&winch)?;
        let raw = if interactive {
            RawTerminal::enable()
        } else {
            None
        };
        if let Some((rows, cols)) = terminal_size() {
            let _ = berth_sys::set_window_size(master.as_fd(), rows, cols);
        }
        let m = master.clone();
        std::thread::spawn(move || {
            while signals.next().is_some() {
                if let Some((rows, cols)) = terminal_size() {
                    let _ = berth_sys::set_window_size(m.as_fd(), rows, cols);
                }
            }
        });
        if interactive {
            let m = master.clone();
            std::thread::spawn(move || {
                let _ = io::copy(&mut io::stdin().lock(), &mut &*m);
            });
        }
        copy_terminal_output(&master)?;
        let code = wait_for(pid);
        drop(raw);
        match code {
            0 => Ok(()),
            c => Err(ExitWith((c & 0xff) as u8).into()),
        }
    })();
    let _ = std::fs::remove_file(&socket_file);
    result
}

/// The exit code of `pid` (our child as subreaper), 128 + signal when
/// killed.
fn wait_for(pid: i32) -> i32 {
    use nix::sys::wait::{waitpid, WaitStatus};
    loop {
        match waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return 255,
        }
    }
}

/// The terminal the runtime sent before it exited (so the connection and
/// the message are queued: nothing blocks).
fn receive_terminal(socket: &BoundSocket) -> Result<File> {
    socket.listener.set_nonblocking(true)?;
    let (stream, _) = socket
        .listener
        .accept()
        .map_err(|e| anyhow::anyhow!("the runtime sent no terminal: {e}"))?;
    stream.set_nonblocking(true)?;
    match berth_sys::recv_fd(stream.as_fd())? {
        Some(fd) => Ok(File::from(fd)),
        None => bail!("the runtime sent no terminal"),
    }
}

/// Copies the terminal's output to our stdout until every slave end is
/// closed (EIO: the process and its children are gone).
fn copy_terminal_output(master: &File) -> Result<()> {
    let mut out = io::stdout();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match (&*master).read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                out.write_all(&buf[..n])?;
                out.flush()?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.raw_os_error() == Some(nix::libc::EIO) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}
