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
    berth_sys::reset_signal_dispositions();
    let _ = nix::sys::signal::sigprocmask(nix::sys::signal::SigmaskHow::SIG_SETMASK, Some(&nix::sys::signal::SigSet::empty()), None);
    chan.expect("Proceed", |m| matches!(m, Message::Proceed { .. }))?;
    let process = args.process;
    if process.terminal().unwrap_or(false) {
        let socket = args.console_socket.ok_or_else(|| Error::InvalidConfig("terminal requested without a console socket".into()))?;
        let slave = console::create_and_send(socket.as_fd(), process)?;
        console::attach(slave)?;
    }
    let program = identity::become_process(process, args.preserve_fds)?;
    chan.send(&Message::Ready)?;
    let err = nix::unistd::execve(&program.path, &program.argv, &program.env).unwrap_err();
    Err(Error::Container(format!("exec {:?}: {err}", program.path)))
}
