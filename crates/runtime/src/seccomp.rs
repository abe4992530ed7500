//! `linux.seccomp`: compiles the OCI profile into a libseccomp filter in
//! the runtime (before any fork), and loads it in the container's process
//! right before `execve`, after every step of the runtime's own (user,
//! capabilities, cwd check, program lookup, close-on-exec, startContainer
//! hooks), so that a profile written for an older kernel cannot break
//! them. Without `noNewPrivileges` the load needs CAP_SYS_ADMIN: the
//! process keeps it permitted until then and drops it with one `capset`
//! right after (runc instead loads such a filter before changing user).
//!
//! `SCMP_ACT_NOTIFY`: the runtime connects to `listenerPath` before any
//! namespace or root change (so the host path still resolves), and after
//! loading, the process sends the notify descriptor over that connection
//! with the container's process state (runtime-spec `config-linux.md`).

use std::collections::HashSet;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::str::FromStr;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use crate::error::{Error, Result};

/// A compiled profile, ready to load.
pub struct Filter {
    ctx: ScmpFilterContext,
    /// no_new_privs is set: the load needs no CAP_SYS_ADMIN.
    pub late: bool,
    notify: Option<Listener>,
}

/// The connected `listenerPath` socket and what to tell it.
struct Listener {
    socket: OwnedFd,
    metadata: String,
}

fn invalid(msg: String) -> Error {
    Error::InvalidConfig(format!("linux.seccomp: {msg}"))
}

fn lib_err(what: &str, e: libseccomp::error::SeccompError) -> Error {
    Error::sys(
        format!("seccomp: {what}"),
        std::io::Error::other(e.to_string()),
    )
}

/// The OCI name of a serde-encoded enum value (`"SCMP_ACT_ERRNO"`, ...).
fn name_of<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> ScmpAction {
    let errno = errno.map(|e| e as i32).unwrap_or(libc::EPERM);
    match a {
        // SCMP_ACT_KILL is libseccomp's historical name for killing the thread.
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(errno),
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(errno as u16),
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
    }
}

fn operator(op: LinuxSeccompOperator, value: u64) -> Result<ScmpCompareOp> {
    if op == LinuxSeccompOperator::ScmpCmpMaskedEq {
        return Ok(ScmpCompareOp::MaskedEqual(value));
    }
    let name = name_of(&op);
    ScmpCompareOp::from_str(&name).map_err(|_| invalid(format!("unknown operator {name:?}")))
}

/// Compiles `profile`. `no_new_privs` decides when the filter is loaded.
pub fn compile(profile: &LinuxSeccomp, no_new_privs: bool) -> Result<Filter> {
    let default = action(profile.default_action(), profile.default_errno_ret());
    let mut ctx = ScmpFilterContext::new(default).map_err(|e| lib_err("create filter", e))?;
    // no_new_privs is the config's business, not a side effect of seccomp.
    ctx.set_ctl_nnp(false)
        .map_err(|e| lib_err("clear the no_new_privs attribute", e))?;
    for arch in profile.architectures().iter().flatten() {
        let name = name_of(arch);
        let arch = ScmpArch::from_str(&name)
            .map_err(|_| invalid(format!("unknown architecture {name:?}")))?;
        if !ctx.is_arch_present(arch).unwrap_or(false) {
            ctx.add_arch(arch)
                .map_err(|e| lib_err(&format!("add architecture {name}"), e))?;
        }
    }
    for flag in profile.flags().iter().flatten() {
        match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => ctx.set_ctl_tsync(true),
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => ctx.set_ctl_log(true),
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => ctx.set_ctl_ssb(true),
            #[allow(unreachable_patterns)]
            other => {
                return Err(Error::Unsupported(format!(
                    "seccomp flag {}",
                    name_of(other)
                )))
            }
        }
        .map_err(|e| lib_err(&format!("set flag {}", name_of(flag)), e))?;
    }
    let mut uses_notify = profile.default_action() == LinuxSeccompAction::ScmpActNotify;
    for rule in profile.syscalls().iter().flatten() {
        let act = action(rule.action(), rule.errno_ret());
        // libseccomp refuses rules that repeat the default action.
        if act == default {
            continue;
        }
        uses_notify |= rule.action() == LinuxSeccompAction::ScmpActNotify;
        let mut conditions = Vec::new();
        for arg in rule.args().iter().flatten() {
            let op = operator(arg.op(), arg.value())?;
            let datum = if matches!(op, ScmpCompareOp::MaskedEqual(_)) {
                arg.value_two().unwrap_or(0)
            } else {
                arg.value()
            };
            conditions.push((
                arg.index() as u32,
                ScmpArgCompare::new(arg.index() as u32, op, datum),
            ));
        }
        // Conditions on one argument index cannot all hold at once: runc
        // reads them as alternatives, one rule each.
        let indexes: HashSet<u32> = conditions.iter().map(|(i, _)| *i).collect();
        let alternatives = indexes.len() < conditions.len();
        for name in rule.names() {
            // Syscalls this libseccomp does not know are skipped, as runc does.
            let Ok(sys) = ScmpSyscall::from_name(name) else {
                continue;
            };
            let added = if conditions.is_empty() {
                ctx.add_rule(act, sys)
            } else if alternatives {
                conditions
                    .iter()
                    .try_for_each(|(_, c)| ctx.add_rule_conditional(act, sys, &[*c]).map(drop))
                    .map(|_| &mut ctx)
            } else {
                let all: Vec<ScmpArgCompare> = conditions.iter().map(|(_, c)| *c).collect();
                ctx.add_rule_conditional(act, sys, &all)
            };
            added.map_err(|e| lib_err(&format!("add rule for {name}"), e))?;
        }
    }
    let notify = match (uses_notify, profile.listener_path()) {
        (false, _) => None,
        (true, None) => return Err(invalid("SCMP_ACT_NOTIFY needs a listenerPath".into())),
        (true, Some(path)) => {
            let socket = UnixStream::connect(path)
                .map_err(|e| Error::io("connect to seccomp listener", path, e))?;
            Some(Listener {
                socket: socket.into(),
                metadata: profile.listener_metadata().clone().unwrap_or_default(),
            })
        }
    };
    Ok(Filter {
        ctx,
        late: no_new_privs,
        notify,
    })
}

impl Filter {
    /// Installs the filter on this process; with a listener, sends it the
    /// notify descriptor and `state_json` (the OCI state, host pid inside).
    pub fn load(&self, state_json: &str) -> Result<()> {
        self.ctx.load().map_err(|e| lib_err("load filter", e))?;
        let Some(listener) = &self.notify else {
            return Ok(());
        };
        let fd = self
            .ctx
            .get_notify_fd()
            .map_err(|e| lib_err("get notify descriptor", e))?;
        let state: serde_json::Value = serde_json::from_str(state_json).unwrap_or_default();
        let message = serde_json::json!({
            "ociVersion": state["ociVersion"],
            "fds": ["seccompFd"],
            "pid": state["pid"],
            "metadata": listener.metadata,
            "state": state,
        })
        .to_string();
        send_with_fd(listener.socket.as_raw_fd(), message.as_bytes(), fd)
    }

    /// The listener connection, which must stay open across the close-on-
    /// exec sweep until `load` has used it.
    pub fn listener_fd(&self) -> Option<BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        self.notify.as_ref().map(|l| l.socket.as_fd())
    }
}

fn send_with_fd(socket: i32, payload: &[u8], fd: i32) -> Result<()> {
    let iov = [IoSlice::new(payload)];
    sendmsg::<UnixAddr>(
        socket,
        &iov,
        &[ControlMessage::ScmRights(&[fd])],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map_err(|e| Error::sys("send seccomp notify descriptor to the listener", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: &str) -> LinuxSeccomp {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn compiles_a_profile_with_every_kind_of_rule() {
        let p = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
                "flags":["SECCOMP_FILTER_FLAG_LOG"],
                "syscalls":[
                  {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
                  {"names":["no_such_syscall_berth"],"action":"SCMP_ACT_KILL"},
                  {"names":["personality"],"action":"SCMP_ACT_ERRNO","args":[
                     {"index":0,"value":8,"op":"SCMP_CMP_EQ"},{"index":0,"value":4294967295,"op":"SCMP_CMP_EQ"}]},
                  {"names":["clone"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]},
                  {"names":["getpid"],"action":"SCMP_ACT_ALLOW"}
                ]}"#,
        );
        let f = compile(&p, true).unwrap();
        assert!(f.late);
        assert!(f.notify.is_none());
    }

    #[test]
    fn notify_needs_a_listener() {
        let p = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        );
        let err = compile(&p, false).err().unwrap().to_string();
        assert!(err.contains("listenerPath"), "{err}");
    }
}
