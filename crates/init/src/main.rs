//! `berth-init -- CMD [ARG...]`: the init `berth run --init` puts at PID 1
//! (like Docker's docker-init, which is tini). It starts CMD, forwards
//! every signal it receives to CMD, reaps every child (orphans included,
//! which is what an init is for), and exits with CMD's status (128+N when
//! CMD died of signal N) once CMD has exited.
//!
//! It runs inside arbitrary images, so it is built as a static binary
//! (scripts/build-init.sh) and bind-mounted into the container.

#![forbid(unsafe_code)]

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;

use nix::errno::Errno;
use nix::spawn::{posix_spawnp, PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Signals that report a fault of this process itself: never blocked (as
/// tini does), so a crash is a crash.
const SYNCHRONOUS: &[Signal] = &[
    Signal::SIGFPE,
    Signal::SIGILL,
    Signal::SIGSEGV,
    Signal::SIGBUS,
    Signal::SIGABRT,
    Signal::SIGTRAP,
    Signal::SIGSYS,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
];

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == "--") {
        args.remove(0);
    }
    if args.is_empty() {
        eprintln!("berth-init: usage: berth-init -- COMMAND [ARG...]");
        return ExitCode::from(2);
    }
    let mut signals = SigSet::all();
    for s in SYNCHRONOUS {
        signals.remove(*s);
    }
    // Blocked signals stay pending for sigwait below; a PID 1 would
    // otherwise never see the ones it has no handler for.
    if let Err(e) = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&signals), None) {
        eprintln!("berth-init: sigprocmask: {e}");
        return ExitCode::from(1);
    }
    let child = match spawn(&args) {
        Ok(pid) => pid,
        Err(e) => {
            eprintln!("berth-init: exec {}: {e}", args[0].to_string_lossy());
            return ExitCode::from(match e {
                Errno::ENOENT => 127,
                _ => 126,
            });
        }
    };
    // On a terminal, the command's group becomes the foreground one (SIGTTOU
    // is blocked here, so this cannot stop us); elsewhere this fails, fine.
    let _ = nix::unistd::tcsetpgrp(std::io::stdin().as_fd(), child);
    loop {
        let signal = match signals.wait() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("berth-init: sigwait: {e}");
                return ExitCode::from(1);
            }
        };
        if signal != Signal::SIGCHLD {
            // The command may already be gone: nothing to forward to.
            let _ = kill(child, signal);
            continue;
        }
        if let Some(code) = reap(child) {
            return ExitCode::from(code);
        }
    }
}

/// Starts the command in a process group of its own, with an empty signal
/// mask and SIGPIPE back to its default (std ignores it; Command would keep
/// our mask, so posix_spawn it is), searching PATH.
fn spawn(args: &[OsString]) -> nix::Result<Pid> {
    let cstr = |s: &OsStr| CString::new(s.as_bytes()).map_err(|_| Errno::EINVAL);
    let argv = args
        .iter()
        .map(|a| cstr(a))
        .collect::<nix::Result<Vec<_>>>()?;
    let env = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            cstr(&kv)
        })
        .collect::<nix::Result<Vec<_>>>()?;
    let mut attr = PosixSpawnAttr::init()?;
    attr.set_flags(
        PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK
            | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF
            | PosixSpawnFlags::POSIX_SPAWN_SETPGROUP,
    )?;
    attr.set_sigmask(&SigSet::empty())?;
    let mut default = SigSet::empty();
    default.add(Signal::SIGPIPE);
    attr.set_sigdefault(&default)?;
    attr.set_pgroup(Pid::from_raw(0))?;
    posix_spawnp(
        &argv[0],
        &PosixSpawnFileActions::init()?,
        &attr,
        &argv,
        &env,
    )
}

/// Reaps every child that has exited; returns the exit code to use when
/// one of them was the command.
fn reap(command: Pid) -> Option<u8> {
    let mut result = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == command => result = Some(code as u8),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == command => {
                result = Some(128u8.wrapping_add(sig as i32 as u8))
            }
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return result,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => {
                eprintln!("berth-init: waitpid: {e}");
                return result;
            }
        }
    }
}
