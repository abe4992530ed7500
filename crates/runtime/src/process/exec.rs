//! A process exec'd into a running container, from the moment it sits in
//! the container's namespaces (its intermediate parent joined them) to
//! `execve`: wait for the cgroup, terminal, identity, program.

use std::os::fd::{AsFd, OwnedFd};

use oci_spec::runtime::Process;

use super::channel::{Channel, Message};
use super::identity;
use crate::console;
use crate::error::{one_line, Error, Result};

pub struct ExecArgs<'a> {
    pub process: &'a Process,
    pub console_socket: Option<&'a OwnedFd>,
    pub preserve_fds: u32,
    pub seccomp: Option<&'a crate::seccomp::Filter>,
    pub apparmor: Option<&'a crate::apparmor::Profile>,
}

pub fn run(args: &ExecArgs<'_>, chan: &Channel) -> ! {
    let err = match setup(args, chan) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let _ = chan.send(&Message::Failed(one_line(&err)));
    berth_sys::exit_now(1)
}

enum Never {}

fn setup(args: &ExecArgs<'_>, chan: &Channel) -> Result<Never> {
    // As for the init: not reachable through /proc/<pid>/exe until execve.
    nix::sys::prctl::set_dumpable(false)
        .map_err(|e| Error::sys("make the exec process non-dumpable", e))?;
    berth_sys::reset_signal_dispositions();
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
    let Message::Proceed { state } =
        chan.expect("Proceed", |m| matches!(m, Message::Proceed { .. }))?
    else {
        unreachable!()
    };
    let process = args.process;
    if process.terminal().unwrap_or(false) {
        let socket = args.console_socket.ok_or_else(|| {
            Error::InvalidConfig("terminal requested without a console socket".into())
        })?;
        let slave = console::create_and_send(socket.as_fd(), process)?;
        console::attach(slave)?;
    }
    if let Some(profile) = args.apparmor {
        profile.apply_on_exec()?;
    }
    let program = identity::become_process(process, args.preserve_fds, args.seccomp)?;
    chan.send(&Message::Ready)?;
    // The filter goes on last, so only execve (and capset, without
    // no_new_privs) runs under it; the runtime still listens (until our
    // channel end closes on exec) and hears a failure.
    Err(identity::exec_program(
        &program,
        args.seccomp.map(|f| (f, state.as_str())),
    ))
}
