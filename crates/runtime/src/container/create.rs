//! `create`: from a bundle to an init process that waits on the exec fifo.
//!
//! The runtime side of the two-stage init: validate the config, make the
//! state directory, the cgroup and the fifo, fork the init into its
//! namespaces (through an intermediate when namespaces are joined or a time
//! namespace is made), write its uid/gid maps, put it in the cgroup, run the
//! prestart/createRuntime hooks at its request and wait for `Ready`. Any
//! failure kills the init and removes everything made so far.

use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use berth_cgroups::Cgroup;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

use crate::error::{Error, Result};
use crate::hooks::{self, HookKind};
use crate::namespaces::{self, Plan};
use crate::process::channel::{self, Channel, Message};
use crate::process::init::{self, InitArgs};
use crate::process::{fork_into, fork_via_intermediate};
use crate::state::{Record, StateDir, Status};
use crate::{config, procfs};

#[derive(Debug, Default)]
pub struct CreateOptions {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// An already connected console socket (the foreground `run` with a
    /// terminal passes one end of a socket pair).
    pub console_fd: Option<OwnedFd>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
}

/// What a successful create leaves behind.
pub struct Created {
    pub pid: i32,
}

pub fn create(root: &Path, id: &str, opts: CreateOptions) -> Result<Created> {
    crate::state::validate_id(id)?;
    let bundle = std::fs::canonicalize(&opts.bundle).map_err(|e| Error::io("open bundle", &opts.bundle, e))?;
    let spec = config::load(&bundle)?;
    let rootfs = config::rootfs(&spec, &bundle)?;
    let plan = Plan::from_config(spec.linux().as_ref())?;
    config::validate(&spec, &plan)?;
    let process = spec.process().as_ref().expect("validated");
    if process.terminal().unwrap_or(false) && opts.console_socket.is_none() && opts.console_fd.is_none() {
        return Err(Error::InvalidConfig(
            "cannot allocate tty if berth-runtime will detach without setting console socket".into(),
        ));
    }
    if !process.terminal().unwrap_or(false) && opts.console_socket.is_some() {
        return Err(Error::InvalidConfig("cannot use console socket if berth-runtime will not detach or allocate tty".into()));
    }
    // Connect before anything is made: a bad socket path leaves nothing.
    let console = match (&opts.console_fd, &opts.console_socket) {
        (Some(fd), _) => Some(fd.try_clone().map_err(|e| Error::sys("duplicate console socket", e))?),
        (None, Some(path)) => Some(OwnedFd::from(
            UnixStream::connect(path).map_err(|e| Error::io("connect to console socket", path, e))?,
        )),
        (None, None) => None,
    };

    let dir = StateDir::create(root, id)?;
    let lock = dir.lock()?;
    let mut made = Made { dir: &dir, cgroup: None, pid: None, armed: true };
    let created = create_in(&mut made, &spec, &plan, &bundle, &rootfs, console.as_ref(), &opts)?;
    made.armed = false;
    drop(lock);
    Ok(created)
}

/// What a failing create has to undo.
struct Made<'a> {
    dir: &'a StateDir,
    cgroup: Option<Cgroup>,
    pid: Option<i32>,
    /// Cleared once the container exists for good.
    armed: bool,
}

impl Drop for Made<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.pid {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            // Our child when there was no intermediate; reap it if so.
            let _ = nix::sys::wait::waitpid(Pid::from_raw(pid), None);
        }
        if let Some(cg) = &self.cgroup {
            let _ = cg.signal_all(Signal::SIGKILL);
            let _ = cg.destroy();
        }
        let _ = self.dir.remove();
    }
}

fn create_in(
    made: &mut Made<'_>,
    spec: &Spec,
    plan: &Plan,
    bundle: &Path,
    rootfs: &Path,
    console: Option<&OwnedFd>,
    opts: &CreateOptions,
) -> Result<Created> {
    let dir = made.dir;
    let linux = spec.linux().as_ref();
    let cgroups_path = linux.and_then(|l| l.cgroups_path().as_ref()).map(|p| p.to_string_lossy().into_owned());
    let cgroup = Cgroup::resolve(cgroups_path.as_deref(), &dir.id)?;
    cgroup.create()?;
    made.cgroup = Some(cgroup.clone());
    if let Some(resources) = config::resources(spec) {
        cgroup.apply(&resources)?;
    }
    let mut record = Record {
        id: dir.id.clone(),
        pid: 0,
        pid_start_time: 0,
        bundle: bundle.to_path_buf(),
        rootfs: rootfs.to_path_buf(),
        created: procfs::now_rfc3339(),
        cgroup: Some(cgroup.clone()),
        own_pid_namespace: plan.has(LinuxNamespaceType::Pid),
        config: spec.clone(),
    };
    // Saved before the init exists, so that `delete` can clean up after a
    // create killed at any point.
    dir.save(&record)?;
    make_exec_fifo(dir, spec)?;
    let state_fd: OwnedFd = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(&dir.path)
        .map_err(|e| Error::io("open state directory", &dir.path, e))?
        .into();

    let fifo_fd: OwnedFd = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(dir.fifo_path())
        .map_err(|e| Error::io("open exec fifo", dir.fifo_path(), e))?
        .into();

    let hooks = spec.hooks().as_ref();
    let prestart = hooks.and_then(|h| h.prestart().as_deref()).unwrap_or_default();
    let create_runtime = hooks.and_then(|h| h.create_runtime().as_deref()).unwrap_or_default();
    let process = spec.process().as_ref().expect("validated");
    let filter = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(profile) => Some(crate::seccomp::compile(profile, process.no_new_privileges().unwrap_or(false))?),
        None => None,
    };
    let apparmor = crate::apparmor::Profile::prepare(process.apparmor_profile().as_deref())?;
    let args = InitArgs {
        spec,
        seccomp: filter.as_ref(),
        apparmor: apparmor.as_ref(),
        bundle,
        rootfs,
        plan,
        fifo: &fifo_fd,
        state_dir: &state_fd,
        console_socket: console,
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        preserve_fds: opts.preserve_fds,
        early_hooks: !prestart.is_empty() || !create_runtime.is_empty(),
    };
    let (ours, theirs) = channel::pair()?;
    let pid = spawn(&args, &ours, theirs)?;
    made.pid = Some(pid);

    if plan.new_user {
        write_id_maps(pid, spec)?;
    }
    cgroup.add_process(pid)?;
    record.pid = pid;
    record.pid_start_time = procfs::start_time(pid).unwrap_or(0);
    dir.save(&record)?;
    let state_json = |status: Status| serde_json::to_string(&record.oci_state(dir, status)).expect("state encodes");
    ours.send(&Message::Proceed { state: state_json(Status::Creating) })?;

    loop {
        match ours.recv()? {
            Message::MountsReady => {
                let state = state_json(Status::Creating);
                hooks::run_hooks(HookKind::Prestart, prestart, state.as_bytes())?;
                hooks::run_hooks(HookKind::CreateRuntime, create_runtime, state.as_bytes())?;
                ours.send(&Message::HooksDone)?;
            }
            Message::Ready => break,
            Message::Failed(reason) => return Err(Error::Container(reason)),
            other => return Err(Error::Container(format!("unexpected message from init: {other:?}"))),
        }
    }
    if let Some(path) = &opts.pid_file {
        write_pid_file(path, pid)?;
    }
    Ok(Created { pid })
}

/// Forks the init, through an intermediate process when it must first
/// join namespaces or make a time namespace.
fn spawn(args: &InitArgs<'_>, ours: &Channel, theirs: Channel) -> Result<i32> {
    let plan = args.plan;
    let linux = args.spec.linux().as_ref();
    let pid = if plan.needs_intermediate() {
        fork_via_intermediate(
            plan.clone_flags,
            ours,
            &theirs,
            || {
                namespaces::join_all(&plan.joins)?;
                if plan.new_time {
                    namespaces::unshare_time(linux)?;
                }
                Ok(())
            },
            || init::run(args, &theirs),
        )?
    } else {
        fork_into(plan.clone_flags, Some(ours), || init::run(args, &theirs))?
    };
    drop(theirs);
    Ok(pid)
}

/// The fifo must be writable by the container's user (mode 0622, not cut
/// by our umask) and owned by the container's root, as runc makes it.
fn make_exec_fifo(dir: &StateDir, spec: &Spec) -> Result<()> {
    use nix::sys::stat::{umask, Mode};
    let path = dir.fifo_path();
    let old = umask(Mode::empty());
    let made = nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o622));
    umask(old);
    made.map_err(|e| Error::io("create exec fifo", &path, e.into()))?;
    let host_root = |maps: Option<&Vec<LinuxIdMapping>>| {
        maps.into_iter().flatten().find(|m| m.container_id() == 0).map(|m| m.host_id())
    };
    let linux = spec.linux().as_ref();
    let uid = host_root(linux.and_then(|l| l.uid_mappings().as_ref()));
    let gid = host_root(linux.and_then(|l| l.gid_mappings().as_ref()));
    if uid.is_some() || gid.is_some() {
        nix::unistd::chown(&path, uid.map(nix::unistd::Uid::from_raw), gid.map(nix::unistd::Gid::from_raw))
            .map_err(|e| Error::io("chown exec fifo", &path, e.into()))?;
    }
    Ok(())
}

fn map_lines(maps: &[LinuxIdMapping]) -> String {
    maps.iter().map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size())).collect()
}

/// The kernel takes the whole map in one write, from a process with
/// CAP_SETUID/CAP_SETGID over the parent user namespace: us.
fn write_id_maps(pid: i32, spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    let uid = linux.and_then(|l| l.uid_mappings().as_deref()).unwrap_or_default();
    let gid = linux.and_then(|l| l.gid_mappings().as_deref()).unwrap_or_default();
    for (file, maps) in [("uid_map", uid), ("gid_map", gid)] {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, map_lines(maps)).map_err(|e| Error::io("write", &path, e))?;
    }
    Ok(())
}

/// Written to a temp file and renamed, so a reader never sees a partial pid.
pub(crate) fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let path = if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(path) };
    let tmp = path.with_file_name(format!(".{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("pid")));
    std::fs::write(&tmp, pid.to_string()).map_err(|e| Error::io("write pid file", &tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io("write pid file", &path, e))
}
