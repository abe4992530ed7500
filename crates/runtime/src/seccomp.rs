//! `linux.seccomp`: compiles the OCI profile into a libseccomp filter in
//! the runtime (before any fork), and loads it in the container's process
//! right before `execve`, after every step of the runtime's own (user,
//! capabilities, cwd check, program lookup, close-on-exec, startContainer
//! hooks), so that a profile written for an older kernel cannot break
//! them. Without `noNewPrivileges` the load needs CAP_SYS_ADMIN: the
//! process keeps it permitted until then and drops it with one `capset`
//! right after (runc instead loads such a filter before changing user).
//!
//! The program loaded is libseccomp's, exported as BPF, behind a short
//! stub that answers ENOSYS for syscalls newer than the profile knows
//! ([`enosys_stub`], as runc does); it is loaded with `seccomp(2)`.
//!
//! `SCMP_ACT_NOTIFY`: the runtime connects to `listenerPath` before any
//! namespace or root change (so the host path still resolves), and after
//! loading, the process sends the notify descriptor over that connection
//! with the container's process state (runtime-spec `config-linux.md`).

use std::collections::HashSet;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::str::FromStr;

use berth_sys::seccomp::{flag, SockFilter};
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
    /// libseccomp's program, behind the ENOSYS stub when there is one.
    program: Vec<SockFilter>,
    /// `SECCOMP_FILTER_FLAG_*` for the load.
    flags: u32,
    /// no_new_privs is set: the load needs no CAP_SYS_ADMIN.
    pub no_new_privs: bool,
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
    let mut flags = 0;
    for f in profile.flags().iter().flatten() {
        flags |= match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => flag::TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => flag::LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => flag::SPEC_ALLOW,
            #[allow(unreachable_patterns)]
            other => {
                return Err(Error::Unsupported(format!(
                    "seccomp flag {}",
                    name_of(other)
                )))
            }
        };
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
    if uses_notify {
        flags |= flag::NEW_LISTENER;
        // With both, a thread that cannot sync must not look like a
        // listener descriptor in the return value.
        if flags & flag::TSYNC != 0 {
            flags |= flag::TSYNC_ESRCH;
        }
    }
    let mut program = enosys_stub(profile)?;
    program.extend(export(&ctx)?);
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
        program,
        flags,
        no_new_privs,
        notify,
    })
}

/// libseccomp's BPF program for `ctx`, through a memfd.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<SockFilter>> {
    use std::io::{Read, Seek, SeekFrom};
    let fd =
        nix::sys::memfd::memfd_create(c"berth-seccomp", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .map_err(|e| Error::sys("seccomp: create a memfd for the BPF program", e))?;
    ctx.export_bpf(&fd)
        .map_err(|e| lib_err("export the BPF program", e))?;
    let mut file = std::fs::File::from(fd);
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(|e| Error::sys("seccomp: read the BPF program", e))?;
    SockFilter::decode(&bytes).map_err(|e| Error::sys("seccomp: read the BPF program", e))
}

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// The `AUDIT_ARCH_*` value of `arch`, for the architectures the stub
/// handles (others keep the profile's default action).
fn audit_arch(arch: ScmpArch) -> Option<u32> {
    Some(match arch {
        ScmpArch::X8664 | ScmpArch::X32 => AUDIT_ARCH_X86_64,
        ScmpArch::X86 => 0x4000_0003,
        ScmpArch::Aarch64 => 0xC000_00B7,
        ScmpArch::Arm => 0x4000_0028,
        _ => return None,
    })
}

/// Where a stub instruction jumps.
#[derive(Clone, Copy)]
enum To {
    Next,
    /// The x32 check of the x86_64 group (two instructions on).
    Skip1,
    EndOfGroup,
    Enosys,
    Filter,
}

/// As runc does for profiles written before a syscall existed: a syscall
/// whose number is above every number the profile names (for the caller's
/// architecture) fails with ENOSYS instead of the default action, so that
/// libc falls back (glibc's `clone3` to `clone`, `faccessat2` to
/// `faccessat`) instead of failing on EPERM. Only for a default action that
/// refuses; empty when nothing applies. The stub runs before libseccomp's
/// program, which is unchanged.
fn enosys_stub(profile: &LinuxSeccomp) -> Result<Vec<SockFilter>> {
    let refuses = !matches!(
        profile.default_action(),
        LinuxSeccompAction::ScmpActAllow | LinuxSeccompAction::ScmpActLog
    );
    if !refuses || profile.default_errno_ret() == Some(libc::ENOSYS as u32) {
        return Ok(Vec::new());
    }
    let mut archs = vec![ScmpArch::native()];
    for a in profile.architectures().iter().flatten() {
        let name = name_of(a);
        if let Ok(arch) = ScmpArch::from_str(&name) {
            if !archs.contains(&arch) {
                archs.push(arch);
            }
        }
    }
    // The largest number named for each architecture.
    let last = |arch: ScmpArch| -> Option<u32> {
        profile
            .syscalls()
            .iter()
            .flatten()
            .flat_map(|r| r.names())
            .filter_map(|n| ScmpSyscall::from_name_by_arch(n, arch).ok())
            .map(i32::from)
            .filter(|nr| *nr >= 0)
            .map(|nr| nr as u32)
            .max()
    };
    // (audit arch, last native number, last x32 number)
    let mut groups: Vec<(u32, Option<u32>, Option<u32>)> = Vec::new();
    for arch in archs {
        let Some(audit) = audit_arch(arch) else {
            continue;
        };
        let max = last(arch);
        let slot = match groups.iter().position(|g| g.0 == audit) {
            Some(i) => i,
            None => {
                groups.push((audit, None, None));
                groups.len() - 1
            }
        };
        if arch == ScmpArch::X32 {
            groups[slot].2 = max.map(|m| m | X32_SYSCALL_BIT);
        } else {
            groups[slot].1 = max;
        }
    }
    groups.retain(|g| g.1.is_some() || g.2.is_some());
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const JGT_K: u16 = 0x25;
    const JSET_K: u16 = 0x45;
    const JA: u16 = 0x05;
    const RET_K: u16 = 0x06;
    // Symbolic instructions, one block per architecture.
    let mut body: Vec<Vec<(u16, To, To, u32)>> = Vec::new();
    for (audit, native, x32) in &groups {
        // Without a number for one half, its syscalls go to the filter.
        let check = |max: Option<u32>| match max {
            Some(m) => (JGT_K, To::Enosys, To::Filter, m),
            None => (JEQ_K, To::Filter, To::Filter, 0),
        };
        let mut block = vec![
            (JEQ_K, To::Next, To::EndOfGroup, *audit),
            (LD_W_ABS, To::Next, To::Next, 0),
        ];
        if *audit == AUDIT_ARCH_X86_64 {
            block.push((JSET_K, To::Skip1, To::Next, X32_SYSCALL_BIT));
            block.push(check(*native));
            block.push(check(*x32));
        } else {
            block.push(check(*native));
        }
        body.push(block);
    }
    let len: usize = 1 + body.iter().map(Vec::len).sum::<usize>();
    let filter_at = len; // `ja` over the ENOSYS return
    let enosys_at = len + 1;
    let mut out = vec![SockFilter {
        code: LD_W_ABS,
        jt: 0,
        jf: 0,
        k: 4, // seccomp_data.arch
    }];
    for block in &body {
        let end = out.len() + block.len();
        for (code, jt, jf, k) in block {
            let at = out.len();
            let rel = |t: &To| -> Result<u8> {
                let target = match t {
                    To::Next => at + 1,
                    To::Skip1 => at + 2,
                    To::EndOfGroup => end,
                    To::Enosys => enosys_at,
                    To::Filter => filter_at,
                };
                u8::try_from(target - at - 1)
                    .map_err(|_| invalid("too many architectures for the ENOSYS stub".into()))
            };
            let (jt, jf) = if *code == LD_W_ABS {
                (0, 0)
            } else {
                (rel(jt)?, rel(jf)?)
            };
            out.push(SockFilter {
                code: *code,
                jt,
                jf,
                k: *k,
            });
        }
    }
    // Every arch block that did not match falls through to here: reload
    // nothing, libseccomp's program starts with its own loads.
    out.push(SockFilter {
        code: JA,
        jt: 0,
        jf: 0,
        k: 1,
    });
    out.push(SockFilter {
        code: RET_K,
        jt: 0,
        jf: 0,
        k: 0x0005_0000 | libc::ENOSYS as u32, // SECCOMP_RET_ERRNO
    });
    Ok(out)
}

impl Filter {
    /// Installs the filter on this process; with a listener, sends it the
    /// notify descriptor and `state_json` (the OCI state, host pid inside).
    pub fn load(&self, state_json: &str) -> Result<()> {
        let notify_fd = berth_sys::seccomp::set_filter(&self.program, self.flags)
            .map_err(|e| Error::sys("seccomp: load filter", e))?;
        let Some(listener) = &self.notify else {
            return Ok(());
        };
        let Some(fd) = notify_fd else {
            return Err(Error::Container(
                "seccomp: the kernel returned no notify descriptor".into(),
            ));
        };
        let fd = fd.as_raw_fd();
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
        assert!(f.no_new_privs);
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

    #[test]
    fn enosys_stub_only_for_refusing_defaults() {
        let allow = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
        );
        assert!(enosys_stub(&allow).unwrap().is_empty());
        let enosys = profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        assert!(enosys_stub(&enosys).unwrap().is_empty());
        let old = profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
                "syscalls":[{"names":["read","write","statx"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        let stub = enosys_stub(&old).unwrap();
        // Ends with the jump over, then the ENOSYS return.
        let ret = stub.last().unwrap();
        assert_eq!(ret.k, 0x0005_0000 | libc::ENOSYS as u32);
        // Every jump lands inside the stub or on the first instruction after it.
        for (i, insn) in stub.iter().enumerate() {
            if insn.code & 0x07 == 0x05 && insn.code != 0x05 {
                assert!(i + 1 + (insn.jt as usize) <= stub.len());
                assert!(i + 1 + (insn.jf as usize) <= stub.len());
            }
        }
        // statx (332 on x86_64) is the newest name: compared against.
        if ScmpArch::native() == ScmpArch::X8664 {
            assert!(stub.iter().any(|i| i.code == 0x25 && i.k == 332));
        }
        // The whole profile compiles and exports behind the stub.
        let f = compile(&old, true).unwrap();
        assert!(f.program.len() > stub.len());
        assert_eq!(f.program[..stub.len()], stub[..]);
    }
}
