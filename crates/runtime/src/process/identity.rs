//! Becoming the configured process: the steps shared by a container's init
//! and by `exec`, in the order the kernel needs them. Resource limits and
//! scheduling first (they may need privileges), then the bounding set (needs
//! CAP_SETPCAP), then groups and ids (keeping capabilities across the uid
//! change), then the remaining capability sets, no_new_privs, umask, the
//! working directory, the program lookup and close-on-exec. The seccomp
//! filter comes last, right before `execve` ([`exec_program`]).

use std::collections::HashSet;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use berth_sys::CapMasks;
use caps::{CapSet, Capability as Cap};
use nix::sys::resource::{setrlimit, Resource};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{Capabilities, PosixRlimitType, Process};

use crate::error::{Error, Result};
use crate::seccomp::Filter;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn resource(t: PosixRlimitType) -> Resource {
    match t {
        PosixRlimitType::RlimitCpu => Resource::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => Resource::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => Resource::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => Resource::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => Resource::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => Resource::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => Resource::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => Resource::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => Resource::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => Resource::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => Resource::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

/// What `execve` needs, ready before the process reports `Ready`.
pub struct Program {
    pub path: CString,
    pub argv: Vec<CString>,
    pub env: Vec<CString>,
    /// Set when a filter is loaded without no_new_privs: the capabilities
    /// to hold while loading it (CAP_SYS_ADMIN raised) and the final ones.
    admin: Option<AdminWindow>,
}

/// Loading a seccomp filter without no_new_privs needs CAP_SYS_ADMIN. The
/// process keeps it in its permitted set until the load, raises it just
/// for the load, and drops it right after with a single `capset`.
struct AdminWindow {
    load_with: CapMasks,
    after: CapMasks,
}

const CAP_SYS_ADMIN_BIT: u64 = 1 << 21;

/// The steps from privileged setup to a program ready to exec, shared by
/// init and exec: oom_score_adj, scheduling, rlimits, user and
/// capabilities, the working directory (refused when outside the
/// container's root), the program lookup, and close-on-exec for every
/// descriptor but stdio and the `preserve_fds` after it (CVE-2024-21626).
///
/// Nothing here runs under the seccomp filter: [`exec_program`] loads it
/// as the last step before `execve`, so a profile written for an older
/// kernel (no `close_range`, `clone3`, `faccessat2`, ...) cannot break the
/// runtime's own work. `seccomp` only says whether a filter will be loaded
/// without no_new_privs, which needs CAP_SYS_ADMIN kept until then.
pub fn become_process(
    process: &Process,
    preserve_fds: u32,
    seccomp: Option<&Filter>,
) -> Result<Program> {
    if let Some(adj) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| Error::io("write", "/proc/self/oom_score_adj", e))?;
    }
    super::apply_scheduling(process)?;
    apply_rlimits(process)?;
    let keep_admin = seccomp.is_some_and(|f| !f.no_new_privs);
    let admin = become_user(process, keep_admin)?;
    let (path, argv) = find_program(process)?;
    let env = environment(process);
    for fd in 3..3 + preserve_fds as i32 {
        berth_sys::clear_cloexec(fd)
            .map_err(|e| Error::sys(format!("keep preserved fd {fd}"), e))?;
    }
    berth_sys::cloexec_from(3 + preserve_fds)
        .map_err(|e| Error::sys("mark descriptors close-on-exec", e))?;
    Ok(Program {
        path,
        argv,
        env,
        admin,
    })
}

/// The last steps: load the seccomp filter, drop CAP_SYS_ADMIN if it was
/// kept for the load, `execve`. Under the user's filter only `capset`
/// (without no_new_privs, allowed to fail) and `execve` run, and a notify
/// profile's `sendmsg` to its listener. Returns only on failure.
pub fn exec_program(program: &Program, seccomp: Option<(&Filter, &str)>) -> Error {
    match load_filter(program, seccomp) {
        Ok(()) => {
            let err = nix::unistd::execve(&program.path, &program.argv, &program.env).unwrap_err();
            Error::Container(format!("exec {:?}: {err}", program.path))
        }
        Err(e) => e,
    }
}

fn load_filter(program: &Program, seccomp: Option<(&Filter, &str)>) -> Result<()> {
    let Some((filter, state)) = seccomp else {
        return Ok(());
    };
    if let Some(w) = &program.admin {
        berth_sys::set_capabilities(&w.load_with)
            .map_err(|e| Error::sys("raise CAP_SYS_ADMIN to load the seccomp filter", e))?;
    }
    filter.load(state)?;
    // Defence in depth only: execve computes the program's sets from the
    // inheritable, bounding and ambient sets (and file capabilities), never
    // from the permitted set before it, so CAP_SYS_ADMIN cannot survive it
    // unless the config grants it. A profile that denies capset (runc
    // fails on one) therefore does not stop the container.
    if let Some(w) = program.admin.as_ref().filter(|w| w.after != w.load_with) {
        let _ = berth_sys::set_capabilities(&w.after);
    }
    Ok(())
}

fn apply_rlimits(process: &Process) -> Result<()> {
    for r in process.rlimits().as_deref().unwrap_or_default() {
        setrlimit(resource(r.typ()), r.soft(), r.hard()).map_err(|e| {
            Error::sys(
                format!("set rlimit {:?} to {}/{}", r.typ(), r.soft(), r.hard()),
                e,
            )
        })?;
    }
    Ok(())
}

/// Converts an OCI capability set to the caps crate's.
fn to_caps(set: &Option<Capabilities>) -> Result<HashSet<Cap>> {
    let mut out = HashSet::new();
    for c in set.iter().flatten() {
        let name = serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let cap: Cap = name
            .parse()
            .map_err(|_| Error::InvalidConfig(format!("unknown capability {name:?}")))?;
        out.insert(cap);
    }
    Ok(out)
}

/// The five capability sets a process ends with.
struct CapSets {
    bounding: HashSet<Cap>,
    effective: HashSet<Cap>,
    inheritable: HashSet<Cap>,
    permitted: HashSet<Cap>,
    ambient: HashSet<Cap>,
}

fn cap_sets(process: &Process) -> Result<Option<CapSets>> {
    let Some(c) = process.capabilities() else {
        return Ok(None);
    };
    Ok(Some(CapSets {
        bounding: to_caps(c.bounding())?,
        effective: to_caps(c.effective())?,
        inheritable: to_caps(c.inheritable())?,
        permitted: to_caps(c.permitted())?,
        ambient: to_caps(c.ambient())?,
    }))
}

fn caps_err(what: &str, e: caps::errors::CapsError) -> Error {
    Error::sys(
        format!("set {what} capabilities"),
        std::io::Error::other(e.to_string()),
    )
}

/// Everything from the bounding set to the working directory. `setgroups`
/// is skipped where the user namespace forbids it (rootless maps). With
/// `keep_admin`, CAP_SYS_ADMIN stays permitted for the seccomp load; the
/// returned window says how to raise and then drop it.
fn become_user(process: &Process, keep_admin: bool) -> Result<Option<AdminWindow>> {
    let sets = cap_sets(process)?;
    if let Some(s) = &sets {
        // Dropping from the bounding set needs CAP_SETPCAP, which we still have.
        for cap in caps::all() {
            if !s.bounding.contains(&cap) {
                match caps::drop(None, CapSet::Bounding, cap) {
                    Ok(()) => {}
                    // A capability the running kernel does not know.
                    Err(_) if !caps::runtime::thread_all_supported().contains(&cap) => {}
                    Err(e) => return Err(caps_err("bounding", e)),
                }
            }
        }
    }
    let user = process.user();
    nix::sys::prctl::set_keepcaps(true)
        .map_err(|e| Error::sys("keep capabilities across setuid", e))?;
    let groups: Vec<Gid> = user
        .additional_gids()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    if setgroups_allowed() {
        nix::unistd::setgroups(&groups).map_err(|e| Error::sys("set supplementary groups", e))?;
    } else if !groups.is_empty() {
        // The process keeps the caller's groups (as nogroup); asked-for
        // groups cannot be honoured, so refuse rather than ignore them.
        return Err(Error::InvalidConfig(
            "process.user.additionalGids cannot be set: setgroups is denied in this user namespace \
             (an unprivileged single-gid map; map gids with newgidmap and /etc/subgid instead)"
                .into(),
        ));
    }
    let gid = Gid::from_raw(user.gid());
    nix::unistd::setresgid(gid, gid, gid)
        .map_err(|e| Error::sys(format!("set gid to {gid}"), e))?;
    let uid = Uid::from_raw(user.uid());
    nix::unistd::setresuid(uid, uid, uid)
        .map_err(|e| Error::sys(format!("set uid to {uid}"), e))?;
    nix::sys::prctl::set_keepcaps(false).map_err(|e| Error::sys("reset keep-capabilities", e))?;
    if let Some(s) = &sets {
        caps::set(None, CapSet::Inheritable, &s.inheritable)
            .map_err(|e| caps_err("inheritable", e))?;
        caps::set(None, CapSet::Effective, &s.effective).map_err(|e| caps_err("effective", e))?;
        let mut permitted = s.permitted.clone();
        if keep_admin {
            permitted.insert(Cap::CAP_SYS_ADMIN);
        }
        caps::set(None, CapSet::Permitted, &permitted).map_err(|e| caps_err("permitted", e))?;
        caps::clear(None, CapSet::Ambient).map_err(|e| caps_err("ambient", e))?;
        // The kernel only raises an ambient capability that is also
        // permitted and inheritable; like runc, skip the others.
        for cap in &s.ambient {
            if s.inheritable.contains(cap) && s.permitted.contains(cap) {
                caps::raise(None, CapSet::Ambient, *cap).map_err(|e| caps_err("ambient", e))?;
            }
        }
    }
    if process.no_new_privileges().unwrap_or(false) {
        nix::sys::prctl::set_no_new_privs().map_err(|e| Error::sys("set no_new_privs", e))?;
    }
    let umask = user.umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
        umask as libc::mode_t,
    ));
    let cwd = process.cwd();
    if !cwd.is_absolute() {
        return Err(Error::InvalidConfig(format!(
            "process.cwd {} must be absolute",
            cwd.display()
        )));
    }
    nix::unistd::chdir(cwd.as_path()).map_err(|e| Error::io("chdir to", cwd, e.into()))?;
    check_cwd_inside_root(cwd)?;
    if !keep_admin {
        return Ok(None);
    }
    let now = berth_sys::get_capabilities().map_err(|e| Error::sys("read capabilities", e))?;
    let mut after = now;
    if sets
        .as_ref()
        .is_some_and(|s| !s.permitted.contains(&Cap::CAP_SYS_ADMIN))
    {
        after.permitted &= !CAP_SYS_ADMIN_BIT;
        after.effective &= !CAP_SYS_ADMIN_BIT;
    }
    let mut load_with = now;
    load_with.effective |= now.permitted & CAP_SYS_ADMIN_BIT;
    Ok(Some(AdminWindow { load_with, after }))
}

/// `/proc/self/setgroups` reads `deny` in a user namespace whose gid map
/// was written without privileges; setgroups(2) then fails with EPERM.
fn setgroups_allowed() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").map_or(true, |s| s.trim() != "deny")
}

/// A cwd such as `/proc/self/fd/N`, where N is a descriptor of a host
/// directory the runtime inherited or holds, would leave the process
/// outside the container's root (CVE-2024-21626). The kernel's getcwd
/// then has no path from our root: glibc and musl report ENOENT, the raw
/// syscall an "(unreachable)" prefix. Refuse both, as runc 1.1.12 does.
/// Any other getcwd failure is reported as itself, not as a breakout.
fn check_cwd_inside_root(cwd: &Path) -> Result<()> {
    match nix::unistd::getcwd() {
        Ok(p) if p.is_absolute() => Ok(()),
        Ok(_) | Err(nix::errno::Errno::ENOENT) => Err(Error::Container(format!(
            "process.cwd {}: the working directory is outside the container's root (possible breakout)",
            cwd.display()
        ))),
        Err(e) => Err(Error::sys(
            format!(
                "check that process.cwd {} is inside the container's root: getcwd",
                cwd.display()
            ),
            e,
        )),
    }
}

/// The process environment, with HOME added from the container's
/// /etc/passwd when the config has none (as runc does).
fn environment(process: &Process) -> Vec<CString> {
    let mut env: Vec<String> = process.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        let home = home_of(process.user().uid()).unwrap_or_else(|| "/".to_string());
        env.push(format!("HOME={home}"));
    }
    env.into_iter()
        .filter_map(|e| CString::new(e).ok())
        .collect()
}

fn home_of(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse() == Ok(uid)).then(|| f[5].to_string())
    })
}

/// Finds the program to run the way execvp would, with the container's
/// PATH, and checks it is executable: a missing program fails `create`,
/// not `start`.
fn find_program(process: &Process) -> Result<(CString, Vec<CString>)> {
    let args = process.args().as_deref().unwrap_or_default();
    let Some(first) = args.first() else {
        return Err(Error::InvalidConfig(
            "process.args must not be empty".into(),
        ));
    };
    let argv: Vec<CString> = args
        .iter()
        .map(|a| CString::new(a.as_str()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::InvalidConfig("process.args contains a NUL byte".into()))?;
    let path = if first.contains('/') {
        PathBuf::from(first)
    } else {
        let search = process
            .env()
            .iter()
            .flatten()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(DEFAULT_PATH)
            .to_string();
        search
            .split(':')
            .map(|dir| Path::new(if dir.is_empty() { "." } else { dir }).join(first))
            .find(|p| is_executable(p))
            .ok_or_else(|| {
                Error::Container(format!(
                    "exec: \"{first}\": executable file not found in $PATH"
                ))
            })?
    };
    if !is_executable(&path) {
        let why = if path.exists() {
            "permission denied"
        } else {
            "no such file or directory"
        };
        return Err(Error::Container(format!(
            "exec: \"{}\": {why}",
            path.display()
        )));
    }
    let c =
        CString::new(path.as_os_str().as_bytes()).expect("no NUL in a path built from CStrings");
    Ok((c, argv))
}

fn is_executable(path: &Path) -> bool {
    path.is_file() && nix::unistd::access(path, nix::unistd::AccessFlags::X_OK).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_capability_names() {
        let p: Process = serde_json::from_str(
            r#"{"user":{"uid":0,"gid":0},"cwd":"/","capabilities":{"bounding":["CAP_KILL","CAP_NET_BIND_SERVICE"]}}"#,
        )
        .unwrap();
        let sets = cap_sets(&p).unwrap().unwrap();
        assert!(sets.bounding.contains(&Cap::CAP_KILL));
        assert!(sets.bounding.contains(&Cap::CAP_NET_BIND_SERVICE));
        assert!(sets.effective.is_empty());
    }

    #[test]
    fn finds_programs_on_path() {
        let p: Process =
            serde_json::from_str(r#"{"user":{"uid":0,"gid":0},"cwd":"/","args":["sh","-c","true"],"env":["PATH=/bin:/usr/bin"]}"#)
                .unwrap();
        let (path, argv) = find_program(&p).unwrap();
        assert!(path.to_str().unwrap().ends_with("/sh"));
        assert_eq!(argv.len(), 3);
        let missing: Process = serde_json::from_str(
            r#"{"user":{"uid":0,"gid":0},"cwd":"/","args":["no-such-program-x"]}"#,
        )
        .unwrap();
        let err = find_program(&missing).unwrap_err().to_string();
        assert!(err.contains("executable file not found in $PATH"), "{err}");
    }
}
