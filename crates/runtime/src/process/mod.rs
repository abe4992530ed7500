//! The processes a runtime command forks into a container: the init
//! ([`init`]) and exec'd processes ([`exec`]), the typed channel they talk
//! over ([`channel`]), and the identity steps both share ([`identity`]).

pub mod channel;
pub mod exec;
pub mod identity;
pub mod init;

use berth_sys::Forked;
use nix::sched::CloneFlags;
use oci_spec::runtime::{IOPriorityClass, LinuxSchedulerFlag, LinuxSchedulerPolicy, Process};

use crate::error::{one_line, Error, Result};
use channel::{Channel, Message};

/// Forks a process into new namespaces (`flags`) that runs `body` and
/// never returns to the caller's code. Returns the new pid. The child first
/// closes its copy of `parent_chan`, the runtime's end of the channel
/// (an intermediate has closed it already for its own child).
#[allow(unreachable_code)]
pub fn fork_into(
    flags: CloneFlags,
    parent_chan: Option<&Channel>,
    body: impl FnOnce() -> std::convert::Infallible,
) -> Result<i32> {
    match berth_sys::clone_process(flags.bits())
        .map_err(|e| Error::sys("clone container process", e))?
    {
        Forked::Child => {
            if let Some(chan) = parent_chan {
                chan.close_copy_in_child();
            }
            match body() {}
        }
        Forked::Parent(pid) => Ok(pid),
    }
}

/// Forks an intermediate process that runs `prepare` (join namespaces,
/// unshare the time namespace), then forks `body` into `flags`, reports
/// that grandchild's pid on `chan` and exits. Returns the grandchild's pid.
pub fn fork_via_intermediate(
    flags: CloneFlags,
    parent_chan: &Channel,
    child_chan: &Channel,
    prepare: impl FnOnce() -> Result<()>,
    body: impl FnOnce() -> std::convert::Infallible,
) -> Result<i32> {
    let intermediate = fork_into(CloneFlags::empty(), Some(parent_chan), || {
        let code = match prepare().and_then(|()| fork_into(flags, None, body)) {
            Ok(pid) => match child_chan.send(&Message::Pid(pid)) {
                Ok(()) => 0,
                Err(_) => 1,
            },
            Err(e) => {
                let _ = child_chan.send(&Message::Failed(one_line(&e)));
                1
            }
        };
        berth_sys::exit_now(code)
    })?;
    let msg = parent_chan.recv();
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(intermediate), None);
    match msg? {
        Message::Pid(pid) => Ok(pid),
        Message::Failed(reason) => Err(Error::Container(reason)),
        other => Err(Error::Container(format!(
            "unexpected message from intermediate process: {other:?}"
        ))),
    }
}

/// `process.ioPriority` and `process.scheduler`.
pub fn apply_scheduling(process: &Process) -> Result<()> {
    if let Some(io) = process.io_priority() {
        let class = match io.class() {
            IOPriorityClass::IoprioClassRt => 1,
            IOPriorityClass::IoprioClassBe => 2,
            IOPriorityClass::IoprioClassIdle => 3,
        };
        berth_sys::set_io_priority(class, io.priority() as u32)
            .map_err(|e| Error::sys("set I/O priority", e))?;
    }
    if let Some(s) = process.scheduler() {
        let policy = match s.policy() {
            LinuxSchedulerPolicy::SchedOther => 0,
            LinuxSchedulerPolicy::SchedFifo => 1,
            LinuxSchedulerPolicy::SchedRr => 2,
            LinuxSchedulerPolicy::SchedBatch => 3,
            LinuxSchedulerPolicy::SchedIso => {
                return Err(Error::Unsupported("scheduler policy SCHED_ISO".into()))
            }
            LinuxSchedulerPolicy::SchedIdle => 5,
            LinuxSchedulerPolicy::SchedDeadline => 6,
        };
        let mut flags = 0u64;
        for f in s.flags().iter().flatten() {
            flags |= match f {
                LinuxSchedulerFlag::SchedResetOnFork => 0x01,
                LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
                LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
                LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
                LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
                LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
                LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
            };
        }
        let attr = berth_sys::SchedAttr {
            policy,
            flags,
            nice: s.nice().unwrap_or(0),
            priority: s.priority().unwrap_or(0) as u32,
            runtime: s.runtime().unwrap_or(0),
            deadline: s.deadline().unwrap_or(0),
            period: s.period().unwrap_or(0),
        };
        berth_sys::set_scheduler(&attr).map_err(|e| Error::sys("set scheduler", e))?;
    }
    Ok(())
}
