//! `exec`: run another process in a created or running container. An
//! intermediate process joins the init's namespaces (`/proc/<init>/ns/*`)
//! and forks the new process, so that it lands in the container's pid
//! namespace too; the runtime puts it in the cgroup before it goes on.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Process};

use super::Container;
use crate::error::{Error, Result};
use crate::namespaces::{self, proc_name};
use crate::process::channel::{self, Message};
use crate::process::exec::{self as exec_process, ExecArgs};
use crate::process::fork_via_intermediate;
use crate::state::Status;

pub struct ExecOptions {
    pub process: Process,
    pub console_socket: Option<PathBuf>,
    /// A connected console socket (foreground exec with a terminal).
    pub console_fd: Option<OwnedFd>,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
}

/// Starts the process; returns its host pid. The caller waits for it (as
/// its subreaper) unless it detaches.
pub fn exec(root: &Path, id: &str, opts: ExecOptions) -> Result<i32> {
    let c = Container::load(root, id)?;
    match c.status() {
        Status::Created | Status::Running => {}
        Status::Paused => return Err(Error::Container("cannot exec in a paused container".into())),
        _ => {
            return Err(Error::Container(
                "cannot exec in a stopped container".into(),
            ))
        }
    }
    // Until `start`, the init is the runtime's binary and not dumpable
    // (CVE-2019-5736): only a caller with CAP_SYS_PTRACE over the host may
    // open its /proc/<pid>/ns files.
    if c.status() == Status::Created && crate::rootless::unprivileged() {
        return Err(Error::Container(
            "an unprivileged caller cannot exec into a created container: its init cannot be joined until `start`; start it first".into(),
        ));
    }
    let record = c.record()?;
    if opts.process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(Error::InvalidConfig("exec needs a command (args)".into()));
    }
    let terminal = opts.process.terminal().unwrap_or(false);
    if terminal && opts.console_socket.is_none() && opts.console_fd.is_none() {
        return Err(Error::InvalidConfig(
            "cannot allocate tty if berth-runtime will detach without setting console socket"
                .into(),
        ));
    }
    let console: Option<OwnedFd> = match (&opts.console_fd, &opts.console_socket) {
        (Some(fd), _) => Some(
            fd.try_clone()
                .map_err(|e| Error::sys("duplicate console socket", e))?,
        ),
        (None, Some(path)) => Some(
            UnixStream::connect(path)
                .map_err(|e| Error::io("connect to console socket", path, e))?
                .into(),
        ),
        _ => None,
    };
    // Join every namespace the container lists, as its init sees them.
    let listed = record
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let joins: Vec<(LinuxNamespaceType, PathBuf)> = {
        let mut j: Vec<_> = listed
            .iter()
            .map(|ns| {
                (
                    ns.typ(),
                    PathBuf::from(format!("/proc/{}/ns/{}", record.pid, proc_name(ns.typ()))),
                )
            })
            .filter(|(t, p)| !same_as_ours(*t, p))
            .collect();
        namespaces::order_joins(&mut j, crate::rootless::unprivileged());
        j
    };
    let filter = match record
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
    {
        Some(profile) => Some(crate::seccomp::compile(
            profile,
            opts.process.no_new_privileges().unwrap_or(false),
        )?),
        None => None,
    };
    // The container's profile unless the process names its own, as runc.
    let own = opts
        .process
        .apparmor_profile()
        .as_deref()
        .filter(|p| !p.is_empty());
    let profile = own.or_else(|| {
        record
            .config
            .process()
            .as_ref()
            .and_then(|p| p.apparmor_profile().as_deref())
    });
    let apparmor = crate::apparmor::Profile::prepare(profile)?;
    let (ours, theirs) = channel::pair()?;
    let args = ExecArgs {
        process: &opts.process,
        console_socket: console.as_ref(),
        preserve_fds: opts.preserve_fds,
        seccomp: filter.as_ref(),
        apparmor: apparmor.as_ref(),
    };
    // Without a mount namespace of its own the container is the init's
    // chroot: take its root, or the process would see the host's files.
    let shares_mounts = !listed.iter().any(|n| n.typ() == LinuxNamespaceType::Mount);
    let init_pid = record.pid;
    let pid = fork_via_intermediate(
        nix::sched::CloneFlags::empty(),
        &ours,
        &theirs,
        || {
            namespaces::join_all(&joins)?;
            if shares_mounts {
                crate::shared_mounts::enter_root_of(init_pid)?;
            }
            Ok(())
        },
        || exec_process::run(&args, &theirs),
    )?;
    drop(theirs);
    let started = (|| {
        if let Some(cg) = &record.cgroup {
            cg.add_process(pid)?;
        }
        let state = serde_json::to_string(&record.oci_state(&c.dir, Status::Running))
            .expect("state encodes");
        ours.send(&Message::Proceed { state })?;
        ours.expect("Ready", |m| matches!(m, Message::Ready))?;
        // Return (and write the pid file) only once execve succeeded, so
        // callers never see the runtime's own image at that pid.
        ours.expect_exec()?;
        if let Some(path) = &opts.pid_file {
            super::create::write_pid_file(path, pid)?;
        }
        Ok(())
    })();
    if let Err(e) = started {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        return Err(e);
    }
    Ok(pid)
}

/// setns into the namespace we are already in fails for user namespaces
/// and is pointless for the others.
fn same_as_ours(t: LinuxNamespaceType, theirs: &Path) -> bool {
    let ours = PathBuf::from(format!("/proc/self/ns/{}", proc_name(t)));
    match (std::fs::read_link(ours), std::fs::read_link(theirs)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
