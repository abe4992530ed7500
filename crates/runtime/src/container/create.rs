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
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, LinuxResources, Spec};

use crate::error::{one_line, Error, Result};
use crate::hooks::{self, HookKind};
use crate::namespaces::{self, Plan};
use crate::process::channel::{self, Channel, Message};
use crate::process::init::{self, InitArgs};
use crate::process::{fork_into, fork_via_intermediate};
use crate::state::{Record, StateDir, Status};
use crate::{config, idmap, procfs, rootfs, rootless};

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
    /// Rootless cgroups (`--rootless`): a cgroup the caller may not create
    /// is skipped, unless the config asks for limits.
    pub rootless: bool,
}

/// What a successful create leaves behind.
pub struct Created {
    pub pid: i32,
}

pub fn create(root: &Path, id: &str, opts: CreateOptions) -> Result<Created> {
    crate::state::validate_id(id)?;
    let bundle = std::fs::canonicalize(&opts.bundle)
        .map_err(|e| Error::io("open bundle", &opts.bundle, e))?;
    let config::Config {
        spec,
        mount_mappings,
    } = config::load(&bundle)?;
    let rootfs = config::rootfs(&spec, &bundle)?;
    let plan = Plan::from_config(spec.linux().as_ref())?;
    config::validate(&spec, &plan)?;
    let idmapped = rootfs::idmapped::plan(&spec, &mount_mappings, &plan, &bundle)?;
    let process = spec.process().as_ref().expect("validated");
    if process.terminal().unwrap_or(false)
        && opts.console_socket.is_none()
        && opts.console_fd.is_none()
    {
        return Err(Error::InvalidConfig(
            "cannot allocate tty if berth-runtime will detach without setting console socket"
                .into(),
        ));
    }
    if !process.terminal().unwrap_or(false) && opts.console_socket.is_some() {
        return Err(Error::InvalidConfig(
            "cannot use console socket if berth-runtime will not detach or allocate tty".into(),
        ));
    }
    // Connect before anything is made: a bad socket path leaves nothing.
    let console = match (&opts.console_fd, &opts.console_socket) {
        (Some(fd), _) => Some(
            fd.try_clone()
                .map_err(|e| Error::sys("duplicate console socket", e))?,
        ),
        (None, Some(path)) => {
            Some(OwnedFd::from(UnixStream::connect(path).map_err(|e| {
                Error::io("connect to console socket", path, e)
            })?))
        }
        (None, None) => None,
    };
    // The idmapped mounts, made by host root for the init to attach
    // (rootfs::idmapped), before the state: a source the kernel cannot
    // idmap leaves nothing behind.
    let idmapped = rootfs::idmapped::make(&idmapped, &spec)?;

    let dir = StateDir::create(root, id)?;
    let lock = dir.lock()?;
    let mut made = Made {
        dir: &dir,
        cgroup: None,
        pid: None,
        rootfs_bind: None,
        poststop: None,
        armed: true,
    };
    let created = create_in(
        &mut made,
        &spec,
        &idmapped,
        &plan,
        &bundle,
        &rootfs,
        console.as_ref(),
        &opts,
    )?;
    made.armed = false;
    drop(lock);
    Ok(created)
}

/// What a failing create has to undo.
struct Made<'a> {
    dir: &'a StateDir,
    cgroup: Option<Cgroup>,
    pid: Option<i32>,
    /// The rootfs bind of a container without a mount namespace.
    rootfs_bind: Option<(PathBuf, u64)>,
    /// The poststop hooks and the "stopped" state for them, once the
    /// container is recorded: the runtime-spec continues a failed create
    /// (a failing prestart, createRuntime or createContainer hook) with the
    /// container's destruction and the poststop hooks, as runc does.
    poststop: Option<(Vec<oci_spec::runtime::Hook>, Vec<u8>)>,
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
        if let Some((rootfs, id)) = &self.rootfs_bind {
            if let Err(e) = crate::shared_mounts::unbind_rootfs(rootfs, *id) {
                tracing::warn!("{}", one_line(&e));
            }
        }
        let _ = self.dir.remove();
        if let Some((h, state)) = &self.poststop {
            for e in hooks::run_hooks_best_effort(HookKind::Poststop, h, state) {
                tracing::warn!("{}", one_line(&e));
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn create_in(
    made: &mut Made<'_>,
    spec: &Spec,
    idmapped: &rootfs::idmapped::Sources,
    plan: &Plan,
    bundle: &Path,
    rootfs: &Path,
    console: Option<&OwnedFd>,
    opts: &CreateOptions,
) -> Result<Created> {
    let dir = made.dir;
    let linux = spec.linux().as_ref();
    let cgroups_path = linux
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned());
    // Rootless, device rules are best effort and the rest are the limits.
    let (resources, device_rules) = match config::resources(spec) {
        Some(r) if opts.rootless => rootless::split_device_rules(r),
        other => (other, None),
    };
    // Rootless, a cgroup we may not make is no error unless limits were
    // asked for or the config named the cgroup (runc's rule); without one
    // the container stays in the caller's cgroups.
    let optional = opts.rootless && cgroups_path.as_deref().is_none_or(str::is_empty);
    made.cgroup = make_cgroup(
        cgroups_path.as_deref(),
        &dir.id,
        resources.as_ref(),
        optional,
    )?;
    if let (Some(cg), Some(rules)) = (&made.cgroup, &device_rules) {
        match cg.apply(rules) {
            Ok(()) => {}
            Err(err) if rootless::is_permission_error(&err) => {
                tracing::debug!(error = %one_line(&err), "rootless: device cgroup rules not written");
            }
            Err(err) => return Err(err.into()),
        }
    }
    let mut record = Record {
        id: dir.id.clone(),
        pid: 0,
        pid_start_time: 0,
        bundle: bundle.to_path_buf(),
        rootfs: rootfs.to_path_buf(),
        created: procfs::now_rfc3339(),
        cgroup: made.cgroup.clone(),
        own_pid_namespace: plan.has(LinuxNamespaceType::Pid),
        config: spec.clone(),
        rootfs_mount_id: None,
        external_descriptors: Vec::new(),
    };
    // Saved before the init exists, so that `delete` can clean up after a
    // create killed at any point.
    dir.save(&record)?;
    if let Some(h) = spec.hooks().as_ref().and_then(|h| h.poststop().clone()) {
        let state =
            serde_json::to_vec(&record.oci_state(dir, Status::Stopped)).expect("state encodes");
        made.poststop = Some((h, state));
    }
    if !plan.has(LinuxNamespaceType::Mount) {
        refuse_shared_rootfs(dir, rootfs)?;
        let id = crate::shared_mounts::bind_rootfs(rootfs)?;
        made.rootfs_bind = Some((rootfs.to_path_buf(), id));
        record.rootfs_mount_id = Some(id);
        dir.save(&record)?;
    }
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
    let prestart = hooks
        .and_then(|h| h.prestart().as_deref())
        .unwrap_or_default();
    let create_runtime = hooks
        .and_then(|h| h.create_runtime().as_deref())
        .unwrap_or_default();
    let process = spec.process().as_ref().expect("validated");
    let filter = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(profile) => Some(crate::seccomp::compile(
            profile,
            process.no_new_privileges().unwrap_or(false),
        )?),
        None => None,
    };
    let apparmor = crate::apparmor::Profile::prepare(process.apparmor_profile().as_deref())?;
    let args = InitArgs {
        spec,
        idmapped,
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
        dumpable_until_mapped: plan.new_user && rootless::unprivileged(),
    };
    let (ours, theirs) = channel::pair()?;
    // The init is a copy of this process: what argument and config parsing
    // left free in the heap would be resident in it too (~150 KB).
    berth_sys::trim_heap();
    let pid = spawn(&args, &ours, theirs)?;
    made.pid = Some(pid);

    if plan.new_user {
        idmap::write_maps(pid, spec)?;
    }
    join_cgroup(made, pid, optional && resources.is_none())?;
    record.cgroup = made.cgroup.clone();
    record.pid = pid;
    record.pid_start_time = procfs::start_time(pid).unwrap_or(0);
    // The init still has the stdio it was given (it waits for `Proceed`).
    record.external_descriptors = procfs::stdio_links(&pid.to_string());
    dir.save(&record)?;
    let state_json = |status: Status| {
        serde_json::to_string(&record.oci_state(dir, status)).expect("state encodes")
    };
    ours.send(&Message::Proceed {
        state: state_json(Status::Creating),
    })?;

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
            other => {
                return Err(Error::Container(format!(
                    "unexpected message from init: {other:?}"
                )))
            }
        }
    }
    if let Some(path) = &opts.pid_file {
        write_pid_file(path, pid)?;
    }
    Ok(Created { pid })
}

/// Two containers without a mount namespace on one rootfs would stack
/// their binds, and deleting the first would take the second's mounts:
/// refused while another container of this runtime root has its bind there.
fn refuse_shared_rootfs(dir: &StateDir, rootfs: &Path) -> Result<()> {
    let Some(root) = dir.path.parent() else {
        return Ok(());
    };
    for id in crate::state::list_ids(root)? {
        if id == dir.id {
            continue;
        }
        let Ok(Some(other)) = StateDir::open(root, &id).and_then(|d| d.load()) else {
            continue;
        };
        let bound = other
            .rootfs_mount_id
            .is_some_and(|m| crate::shared_mounts::is_mounted(m).unwrap_or(false));
        if bound && other.rootfs == rootfs {
            return Err(Error::InvalidConfig(format!(
                "rootfs {} is in use by container {id}, which has no mount namespace either: \
                 two such containers cannot share a rootfs",
                rootfs.display()
            )));
        }
    }
    Ok(())
}

/// Resolves, creates and configures the container's cgroup. When it is
/// `optional` and the kernel refuses us, the container goes without one,
/// unless `resources` holds limits: those are a clear error then.
pub(crate) fn make_cgroup(
    path: Option<&str>,
    id: &str,
    resources: Option<&LinuxResources>,
    optional: bool,
) -> Result<Option<Cgroup>> {
    let cgroup = Cgroup::resolve(path, id)?;
    let made = cgroup
        .create()
        .and_then(|()| resources.map_or(Ok(()), |r| cgroup.apply(r)));
    let Err(err) = made else {
        return Ok(Some(cgroup));
    };
    let _ = cgroup.destroy();
    if !(optional && rootless::is_permission_error(&err)) {
        return Err(err.into());
    }
    match resources.and_then(rootless::first_limit) {
        None => {
            tracing::debug!(error = %one_line(&err), "rootless: running without a cgroup of its own");
            Ok(None)
        }
        Some(limit) => Err(Error::Container(format!(
            "cannot set linux.resources.{limit} limit: a rootless container could not create or write its cgroup \
             (it needs a cgroup delegated to uid {}): {}",
            nix::unistd::geteuid(),
            one_line(&err)
        ))),
    }
}

/// Moves the init into its cgroup. A rootless container without limits
/// that may not move there (cgroup v2 wants write access to the common
/// ancestor's `cgroup.procs`) gives its cgroup up instead.
fn join_cgroup(made: &mut Made<'_>, pid: i32, optional: bool) -> Result<()> {
    let Some(cg) = &made.cgroup else {
        return Ok(());
    };
    match cg.add_process(pid) {
        Ok(()) => Ok(()),
        Err(err) if optional && rootless::is_permission_error(&err) => {
            tracing::debug!(error = %one_line(&err), "rootless: running without a cgroup of its own");
            let _ = cg.destroy();
            made.cgroup = None;
            Ok(())
        }
        Err(err) => Err(err.into()),
    }
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
        maps.into_iter()
            .flatten()
            .find(|m| m.container_id() == 0)
            .map(|m| m.host_id())
    };
    let linux = spec.linux().as_ref();
    let uid = host_root(linux.and_then(|l| l.uid_mappings().as_ref()));
    let gid = host_root(linux.and_then(|l| l.gid_mappings().as_ref()));
    if uid.is_some() || gid.is_some() {
        match nix::unistd::chown(
            &path,
            uid.map(nix::unistd::Uid::from_raw),
            gid.map(nix::unistd::Gid::from_raw),
        ) {
            Ok(()) => {}
            // An unprivileged caller may only give files to itself; the
            // mode already lets the container's root write the fifo.
            Err(nix::errno::Errno::EPERM) if rootless::unprivileged() => {}
            Err(e) => return Err(Error::io("chown exec fifo", &path, e.into())),
        }
    }
    Ok(())
}

/// Written atomically, so a reader never sees a partial pid (not
/// durably: a pid means nothing after a reboot; runc does not sync it
/// either).
pub(crate) fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    berth_sys::replace_atomic(&path, pid.to_string().as_bytes())
        .map_err(|e| Error::io("write pid file", &path, e))
}
