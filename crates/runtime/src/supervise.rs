//! Foreground `run` and `exec`: the runtime stays the parent (subreaper) of
//! the container's process, forwards the signals it receives to it, copies
//! terminal I/O when it holds the pty, and returns its exit code (128+n
//! when killed by signal n, as shells report it).

use std::os::fd::{AsFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::console::Proxy;
use crate::error::{Error, Result};

const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGCONT,
    Signal::SIGTSTP,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
    Signal::SIGWINCH,
    Signal::SIGPWR,
];

/// Blocks the signals we will read through a signalfd. Call before the
/// container's process is forked, so no SIGCHLD is lost; the forked
/// processes restore an empty mask themselves.
pub fn prepare() -> Result<SigSet> {
    prepare_with(true)
}

/// [`prepare`], choosing whether to become the subreaper of the
/// container's orphans (`restore --no-subreaper` does not).
pub fn prepare_with(subreaper: bool) -> Result<SigSet> {
    if subreaper {
        nix::sys::prctl::set_child_subreaper(true)
            .map_err(|e| Error::sys("become child subreaper", e))?;
    }
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    for s in FORWARDED {
        set.add(*s);
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
        .map_err(|e| Error::sys("block signals", e))?;
    Ok(set)
}

fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// Waits for `pid` and returns its exit code.
pub fn wait(pid: i32, signals: &SigSet, master: Option<OwnedFd>) -> Result<i32> {
    let sfd = SignalFd::with_flags(signals, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| Error::sys("create signalfd", e))?;
    let proxy = master.map(Proxy::new);
    let mut stdin_open = proxy.is_some();
    let mut pty_open = proxy.is_some();
    let mut code = None;
    loop {
        // Reap first: the child may have exited before we got here.
        loop {
            match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(status) => {
                    if status.pid() == Some(Pid::from_raw(pid)) {
                        code = exit_code(status).or(code);
                    }
                }
            }
        }
        if code.is_some() && !pty_open {
            break;
        }
        let stdin = std::io::stdin();
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if let Some(p) = &proxy {
            if pty_open {
                fds.push(PollFd::new(p.master(), PollFlags::POLLIN));
                if stdin_open {
                    fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
                }
            }
        }
        // Once the process is gone, only drain what the pty still holds.
        let timeout = if code.is_some() {
            PollTimeout::from(50u16)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Ok(0) => {
                if code.is_some() {
                    break;
                }
                continue;
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys("poll", e)),
            Ok(_) => {}
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (sig_ready, master_ready, stdin_ready) = (ready(0), ready(1), ready(2));
        drop(fds);
        if sig_ready {
            while let Ok(Some(info)) = sfd.read_signal() {
                let sig = Signal::try_from(info.ssi_signo as i32).ok();
                match sig {
                    Some(Signal::SIGCHLD) | None => {}
                    Some(Signal::SIGWINCH) => {
                        if let Some(p) = &proxy {
                            p.resize_from_stdin();
                        }
                    }
                    Some(s) => {
                        let _ = nix::sys::signal::kill(Pid::from_raw(pid), s);
                    }
                }
            }
        }
        if let Some(p) = &proxy {
            if pty_open && (master_ready || stdin_ready) {
                pty_open = p.pump(stdin_ready, master_ready, &mut stdin_open);
            }
        }
    }
    Ok(code.unwrap_or(255))
}
