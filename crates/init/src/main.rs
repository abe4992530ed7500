//! `berth-init -- CMD [ARG...]`: the init `berth run --init` puts at PID 1
//! (like Docker's docker-init, which is tini). It starts CMD, forwards
//! every signal it receives to CMD, reaps every child (orphans included,
//! which is what an init is for), and exits with CMD's status (128+N when
//! CMD died of signal N) once CMD has exited.
//!
//! It runs inside arbitrary images, so it is built as a static binary
//! (scripts/build-init.sh) and bind-mounted into the container.

#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

use nix::errno::Errno;
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
    // std resets the signal mask and dispositions in the child.
    let child = match Command::new(&args[0])
        .args(&args[1..])
        .process_group(0)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("berth-init: exec {}: {e}", args[0].to_string_lossy());
            return ExitCode::from(match e.kind() {
                std::io::ErrorKind::NotFound => 127,
                _ => 126,
            });
        }
    };
    let child = Pid::from_raw(child.id() as i32);
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
