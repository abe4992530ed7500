//! The container's init process, from clone to `execve`. It runs inside the
//! new namespaces and talks to the runtime over the sync channel:
//!
//! 1. wait for `Proceed` (the runtime wrote our id maps and put us in the
//!    cgroup), then unshare the cgroup namespace so its root is our cgroup;
//! 2. build the rootfs, hand over to the runtime for the prestart and
//!    createRuntime hooks, run createContainer hooks, pivot_root;
//! 3. console, sysctls, masked and read-only paths, identity, capabilities;
//! 4. report `Ready`, block on the exec fifo until `start`, run the
//!    startContainer hooks and `execve` the user's program.
//!
//! Everything here runs in a forked copy of the single-threaded runtime,
//! so no locks are held by absent threads.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::sched::{unshare, CloneFlags};
use nix::unistd::{setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::channel::{Channel, Message};
use super::identity;
use crate::console;
use crate::error::{one_line, Error, Result};
use crate::hooks::{self, HookKind};
use crate::namespaces::Plan;
use crate::rootfs;

/// What the init needs, borrowed from the runtime's memory (the init is a
/// forked copy of it).
pub struct InitArgs<'a> {
    pub spec: &'a Spec,
    /// The idmapped mounts, made by the runtime before the fork.
    pub idmapped: &'a rootfs::idmapped::Sources,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub plan: &'a Plan,
    /// `O_PATH` descriptors of the exec fifo and of the state directory,
    /// to reach the fifo after pivot_root.
    pub fifo: &'a OwnedFd,
    pub state_dir: &'a OwnedFd,
    pub console_socket: Option<&'a OwnedFd>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub seccomp: Option<&'a crate::seccomp::Filter>,
    pub apparmor: Option<&'a crate::apparmor::Profile>,
    /// Whether prestart/createRuntime hooks need a pause before pivot_root.
    pub early_hooks: bool,
    /// Stay dumpable until the runtime wrote our id maps: an unprivileged
    /// runtime (and newuidmap, which checks who owns `/proc/<pid>`) can
    /// only write the maps of a process that is dumpable.
    pub dumpable_until_mapped: bool,
}

/// Runs the init; never returns. A failure is reported to the runtime as
/// one line and ends the process.
pub fn run(args: &InitArgs<'_>, chan: &Channel) -> ! {
    match setup(args, chan) {
        Ok(never) => match never {},
        Err(e) => {
            let _ = chan.send(&Message::Failed(one_line(&e)));
            berth_sys::exit_now(1)
        }
    }
}

enum Never {}

fn setup(args: &InitArgs<'_>, chan: &Channel) -> Result<Never> {
    // Until execve replaces it, this process is the runtime's binary inside
    // the container: keep other processes there from reaching it through
    // /proc/<pid>/exe, mem or fd (CVE-2019-5736's way in). Only a holder of
    // CAP_SYS_PTRACE over us still can; execve resets the flag. Rootless,
    // this waits for Proceed (nothing of the container runs before that).
    if !args.dumpable_until_mapped {
        make_non_dumpable()?;
    }
    // The runtime may have blocked or ignored signals; the container must
    // start with the defaults.
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
    if args.dumpable_until_mapped {
        make_non_dumpable()?;
    }
    let linux = args.spec.linux().as_ref();
    if args.plan.new_user && maps_root(args.spec) {
        setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
            .map_err(|e| Error::sys("become root in the user namespace (gid)", e))?;
        setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
            .map_err(|e| Error::sys("become root in the user namespace (uid)", e))?;
    }
    // The host paths of our cgroups, for bind mounts, before the cgroup
    // namespace hides them (read here, in this mount namespace, not the
    // runtime's copy from before it was in its cgroup).
    let cgroups = if has_cgroup_mount(args.spec) {
        Some(berth_cgroups::Host::detect()?)
    } else {
        None
    };
    if args.plan.new_cgroup {
        unshare(CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| Error::sys("unshare cgroup namespace", e))?;
    }
    if !args.no_new_keyring {
        let name = CString::new(format!(
            "_ses.{}",
            args.spec.hostname().as_deref().unwrap_or("berth")
        ))
        .unwrap_or_default();
        // Without a keyring facility (some kernels, some seccomp profiles)
        // the container just shares the session keyring, as with runc.
        let _ = berth_sys::join_new_session_keyring(&name);
    }
    if let Some(h) = args.spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).map_err(|e| Error::sys(format!("set hostname {h:?}"), e))?;
    }
    if let Some(d) = args.spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        berth_sys::set_domainname(d).map_err(|e| Error::sys(format!("set domainname {d:?}"), e))?;
    }

    let ctx = rootfs::Context {
        spec: args.spec,
        rootfs: args.rootfs,
        bundle: args.bundle,
        plan: args.plan,
        cgroups: cgroups.as_ref(),
        idmapped: args.idmapped,
    };
    rootfs::prepare(&ctx)?;
    if args.early_hooks {
        chan.send(&Message::MountsReady)?;
        chan.expect("HooksDone", |m| matches!(m, Message::HooksDone))?;
    }
    if let Some(h) = args
        .spec
        .hooks()
        .as_ref()
        .and_then(|h| h.create_container().as_ref())
    {
        let s = hooks::state_in_container(&state, "creating");
        hooks::run_hooks(HookKind::CreateContainer, h, &s)?;
    }
    if args.plan.has(LinuxNamespaceType::Mount) {
        rootfs::pivot(args.rootfs, args.no_pivot)?;
        reopen_dev_null()?;
    } else {
        crate::shared_mounts::enter(args.rootfs)?;
    }

    let process = args
        .spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::InvalidConfig("config has no process".into()))?;
    if process.terminal().unwrap_or(false) {
        let socket = args.console_socket.ok_or_else(|| {
            Error::InvalidConfig("terminal requested without a console socket".into())
        })?;
        let slave = console::create_and_send(socket.as_fd(), process)?;
        bind_console(&slave)?;
        console::attach(slave)?;
    } else {
        // A session of its own, as runc's init makes one: the container
        // is not part of the caller's session (a terminal's signals go to
        // the runtime, which forwards them), and CRIU can checkpoint it
        // without --shell-job (a session leader outside the container's
        // pid namespace would need it).
        nix::unistd::setsid().map_err(|e| Error::sys("create session", e))?;
    }
    rootfs::finish(&ctx)?;

    if let Some(p) = linux.and_then(|l| l.personality().as_ref()) {
        set_personality(p)?;
    }
    // Before no_new_privs, which limits profile transitions.
    if let Some(profile) = args.apparmor {
        profile.apply_on_exec()?;
    }
    let program = identity::become_process(process, args.preserve_fds, args.seccomp)?;

    chan.send(&Message::Ready)?;
    // `create` stops listening after `Ready`: from here on, failures can
    // only go to the container's stderr.
    let err = match start_program(args, &state, &program) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    eprintln!("berth-runtime init: {}", one_line(&err));
    berth_sys::exit_now(127)
}

/// The fifo protocol with `start`: `start` opens the read end (our open
/// returns), we run the startContainer hooks, write one byte, and execve.
/// Our write end is close-on-exec, so `start` sees end-of-file exactly when
/// the program replaced us, and only then runs poststart; if anything
/// after the first byte fails (loading the seccomp filter, execve), a
/// second byte says so.
///
/// The filter is loaded after the hooks and the fifo, right before execve,
/// whether or not no_new_privs is set: the hooks fork and exec (glibc may
/// use clone3, which an older profile denies) and none of this is the
/// user's program.
fn start_program(args: &InitArgs<'_>, state: &str, program: &identity::Program) -> Result<Never> {
    let fifo = open_fifo(args.fifo, args.state_dir)?;
    if let Some(h) = args
        .spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().as_ref())
    {
        // Before the program runs the container is still "created".
        let s = hooks::state_in_container(state, "created");
        hooks::run_hooks(HookKind::StartContainer, h, &s)?;
    }
    nix::unistd::write(&fifo, b"0").map_err(|e| Error::sys("write exec fifo", e))?;
    let err = identity::exec_program(program, args.seccomp.map(|f| (f, state)));
    // A second byte tells `start` the program did not start.
    let _ = nix::unistd::write(&fifo, b"E");
    Err(err)
}

fn make_non_dumpable() -> Result<()> {
    nix::sys::prctl::set_dumpable(false).map_err(|e| Error::sys("make the init non-dumpable", e))
}

/// Whether the spec mounts a cgroup filesystem (`rootfs::cgroupfs`).
fn has_cgroup_mount(spec: &Spec) -> bool {
    spec.mounts()
        .iter()
        .flatten()
        .any(|m| matches!(m.typ().as_deref(), Some("cgroup" | "cgroup2")))
}

fn maps_root(spec: &Spec) -> bool {
    let linux = spec.linux().as_ref();
    let has_zero = |m: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| {
        m.into_iter()
            .flatten()
            .any(|m| m.container_id() == 0 && m.size() > 0)
    };
    has_zero(linux.and_then(|l| l.uid_mappings().as_ref()))
        && has_zero(linux.and_then(|l| l.gid_mappings().as_ref()))
}

/// Stdio on the host's `/dev/null` is reopened on the container's own, as
/// runc does: a descriptor on a mount the container cannot see is one
/// CRIU cannot checkpoint ("Can't lookup mount"), and the container's
/// process has no business holding the host's `/dev`.
fn reopen_dev_null() -> Result<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(null) = std::fs::metadata("/dev/null") else {
        return Ok(());
    };
    if !null.file_type().is_char_device() {
        return Ok(());
    }
    for fd in 0..3 {
        let Ok(meta) = std::fs::metadata(format!("/proc/self/fd/{fd}")) else {
            continue;
        };
        if !meta.file_type().is_char_device() || meta.rdev() != null.rdev() {
            continue;
        }
        let fdinfo = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap_or_default();
        let ours = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mnt = fdinfo
            .lines()
            .find_map(|l| l.strip_prefix("mnt_id:"))
            .map(str::trim);
        // Already the container's (a mount of its own namespace).
        if mnt.is_some_and(|m| ours.lines().any(|l| l.split(' ').next() == Some(m))) {
            continue;
        }
        // A /dev/null the container cannot open (a rootfs mounted nodev)
        // leaves the host's in place, as before.
        let Ok(file) = std::fs::File::options()
            .read(true)
            .write(true)
            .open("/dev/null")
        else {
            continue;
        };
        berth_sys::dup_onto(file.as_fd(), fd).map_err(|e| Error::sys("reopen /dev/null", e))?;
    }
    Ok(())
}

/// `/dev/console` is the container's terminal (as runc sets it up).
fn bind_console(slave: &OwnedFd) -> Result<()> {
    let Some(pts) = console::peer_path(slave) else {
        return Ok(());
    };
    let console = Path::new("/dev/console");
    // A /dev without our tmpfs may be read-only: no console then.
    if std::fs::symlink_metadata(console).is_err() && std::fs::File::create(console).is_err() {
        return Ok(());
    }
    nix::mount::mount(
        Some(&pts),
        console,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| Error::sys("bind the terminal to /dev/console", e))
}

fn set_personality(p: &oci_spec::runtime::LinuxPersonality) -> Result<()> {
    use oci_spec::runtime::LinuxPersonalityDomain as D;
    let persona = match p.domain() {
        D::PerLinux => nix::sys::personality::Persona::empty(),
        D::PerLinux32 => nix::sys::personality::Persona::from_bits_retain(0x0008),
    };
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(Error::Unsupported("linux.personality.flags".into()));
    }
    nix::sys::personality::set(persona)
        .map(drop)
        .map_err(|e| Error::sys("set personality", e))
}

/// Blocks until `start` opens the fifo for reading. The fifo is reopened
/// through its `O_PATH` descriptor, which needs no search permission on the
/// state directory (a container user may have none); without /proc in the
/// container, through the directory.
fn open_fifo(fifo_path_fd: &OwnedFd, state_dir: &OwnedFd) -> Result<OwnedFd> {
    use nix::fcntl::{open, openat, OFlag};
    use nix::sys::stat::Mode;
    let flags = OFlag::O_WRONLY | OFlag::O_CLOEXEC;
    let magic = format!("/proc/self/fd/{}", fifo_path_fd.as_raw_fd());
    loop {
        let opened = match open(magic.as_str(), flags, Mode::empty()) {
            Err(nix::errno::Errno::ENOENT) => {
                openat(state_dir, crate::state::EXEC_FIFO, flags, Mode::empty())
            }
            other => other,
        };
        match opened {
            Ok(fd) => return Ok(fd),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys("open exec fifo", e)),
        }
    }
}
