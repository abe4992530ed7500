//! `berth exec`: runs the container runtime's `exec` directly (an exec'd
//! process belongs to its caller, not to the container's monitor). Without
//! `-t` the process gets our stdio; with `-t` we receive its terminal on a
//! console socket and copy between it and ours, in raw mode, passing on
//! window size changes. The exit code is the process's, or Docker's
//! 126/127 when it could not be started.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::process::{Child, Stdio};
use std::time::Duration;

use anyhow::{bail, Result};
use berth_engine::attach::BoundSocket;
use berth_engine::exec::{Exec, ExecOptions};
use berth_engine::Engine;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
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
            return Err(failure(&e, status.code()));
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
    let token = std::process::id();
    let socket = BoundSocket::bind(engine.bundle(&c.id).dir(), &format!("exec-{token}.sock"))?;
    let socket_file = engine.bundle(&c.id).file(&format!("exec-{token}.sock"));
    let result = (|| {
        let mut e = engine.exec(&c.id, o, false, Some(&socket.proc_path()))?;
        let mut child = e.command.stdin(Stdio::null()).spawn()?;
        let Some(master) = receive_terminal(&socket, &mut child)? else {
            let status = child.wait()?;
            return Err(failure(&e, status.code()));
        };
        let _ = std::fs::remove_file(&socket_file);
        let master = std::sync::Arc::new(master);
        // Signals first, so the copy threads inherit the mask.
        let mut winch = SigSet::empty();
        winch.add(Signal::SIGWINCH);
        winch.thread_block()?;
        let mut signals = SignalFd::new(&winch)?;
        let raw = if interactive { RawTerminal::enable() } else { None };
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
        let status = child.wait()?;
        drop(raw);
        if status.success() {
            return Ok(());
        }
        Err(failure(&e, status.code()))
    })();
    let _ = std::fs::remove_file(&socket_file);
    result
}

/// Waits for the runtime to send the terminal, or to exit without (it
/// failed): `None` then.
fn receive_terminal(socket: &BoundSocket, child: &mut Child) -> Result<Option<File>> {
    socket.listener.set_nonblocking(true)?;
    loop {
        match socket.listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                stream.set_read_timeout(Some(Duration::from_secs(30)))?;
                return match berth_sys::recv_fd(stream.as_fd())? {
                    Some(fd) => Ok(Some(File::from(fd))),
                    None => Ok(None),
                };
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e.into()),
        }
        if child.try_wait()?.is_some() {
            return Ok(None);
        }
        let mut fds = [PollFd::new(socket.listener.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, PollTimeout::from(100u16));
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
