//! `berth exec`: the engine runs the runtime's `exec` (an exec'd process
//! belongs to its caller, not to the container's monitor). Without `-t`
//! the process gets our stdio; with `-t` the engine hands us its terminal
//! and we copy between it and ours, in raw mode, passing on window size
//! changes. The exit code is the process's, or Docker's 126/127 when it
//! could not be started.

use std::io;

use anyhow::{bail, Result};
use berth_engine::exec::ExecOptions;
use berth_engine::ops::exec_session::{terminal_size, TerminalExec};
use berth_engine::Engine;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::SignalFd;

use super::attach::{check_tty_input, RawTerminal};
use crate::args::ExecArgs;
use crate::output::ExitWith;

/// The process's code as ours: nothing printed.
fn exit(code: i32) -> Result<()> {
    match code {
        0 => Ok(()),
        c => Err(ExitWith((c & 0xff) as u8).into()),
    }
}

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
        return exit(engine.exec_detached(&a.container, &o)?);
    }
    if !a.tty {
        return exit(engine.exec_foreground(&a.container, &o, a.interactive)?);
    }
    let term = match engine.exec_terminal(&a.container, &o)? {
        TerminalExec::Running(t) => t,
        TerminalExec::Failed(code) => return exit(code),
    };
    // Signals first, so the copy threads inherit the mask.
    let mut winch = SigSet::empty();
    winch.add(Signal::SIGWINCH);
    winch.thread_block()?;
    let mut signals = SignalFd::new(&winch)?;
    let raw = if a.interactive {
        RawTerminal::enable()
    } else {
        None
    };
    let handle = term.handle();
    if let Some((rows, cols)) = terminal_size() {
        handle.resize(rows, cols);
    }
    let resize = handle.clone();
    std::thread::spawn(move || {
        while signals.next().is_some() {
            if let Some((rows, cols)) = terminal_size() {
                resize.resize(rows, cols);
            }
        }
    });
    if a.interactive {
        let mut input = handle.clone();
        std::thread::spawn(move || {
            let _ = io::copy(&mut io::stdin().lock(), &mut input);
        });
    }
    term.copy_output(&mut io::stdout())?;
    let code = term.wait();
    drop(raw);
    exit(code)
}
