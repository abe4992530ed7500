//! `restore`: a container brought back from CRIU images under a new (or
//! freed) id, with runc's options and semantics.
//!
//! The runtime makes what `create` would (state directory, the cgroup of
//! the config's `cgroupsPath` with its limits, the mount points), binds the
//! rootfs where CRIU wants a mount point for the root, and runs `criu swrk`
//! inside the container's cgroup so the restored tree lands there. CRIU
//! rebuilds the namespaces and mounts (external ones bound from the host
//! paths of this config), restores the processes as the runtime's children
//! (`rst_sibling`), and tells the runtime the new init's pid
//! (`post-restore`) and, for a terminal, the new pty master
//! (`orphan-pts-master`), which goes to `--console-socket`. The state
//! directory then records a running container that `state`, `kill`, `ps`,
//! `exec` and `delete` treat like any other. Any failure kills what was
//! restored and removes everything made.

use std::fs;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use berth_cgroups::Cgroup;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::checkpoint::{
    common_opts, ext_mount, ns_key, refuse_unsupported, CriuOptions, CHECKPOINTED_MARKER,
    DESCRIPTORS_FILE,
};
use super::create::{make_cgroup, write_pid_file};
use crate::criu::proto::rpc::{
    Cgroup_root, Criu_opts, Criu_req, Criu_req_type, Inherit_fd, Join_namespace,
};
use crate::criu::{self, mounts, swrk};
use crate::error::{Error, Result};
use crate::hooks::{self, HookKind};
use crate::namespaces::{self, Plan};
use crate::rootfs::resolve::Root;
use crate::state::{Record, StateDir, Status};
use crate::{config, procfs};

/// Where, in the state directory, the rootfs is bound for CRIU (its root
/// must be a mount point whose parent is not overmounted).
const CRIU_ROOT: &str = "criu-root";

#[derive(Debug, Default)]
pub struct RestoreOptions {
    pub common: CriuOptions,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// An already connected console socket (the foreground `restore` of a
    /// container with a terminal keeps the other end).
    pub console_fd: Option<OwnedFd>,
    pub lsm_profile: Option<String>,
    pub lsm_mount_context: Option<String>,
    /// `--tcp-close` (Podman's, CRIU's): the dumped connections come back
    /// closed, so nothing needs the peer or the old network.
    pub tcp_close: bool,
}

/// The restored container's init (the caller's child).
pub struct Restored {
    pub pid: i32,
}

pub fn restore(root: &Path, id: &str, opts: RestoreOptions) -> Result<Restored> {
    crate::state::validate_id(id)?;
    refuse_unsupported(&opts.common)?;
    for (flag, v) in [
        ("--lsm-profile", &opts.lsm_profile),
        ("--lsm-mount-context", &opts.lsm_mount_context),
    ] {
        if v.is_some() {
            return Err(Error::Unsupported(format!(
                "{flag} (SELinux/AppArmor relabelling on restore)"
            )));
        }
    }
    let image_path = &opts.common.image_path;
    let image_dir = fs::File::options()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(image_path)
        .map_err(|e| Error::io("open checkpoint image directory", image_path, e))?;
    let descriptors = read_descriptors(image_path)?;
    let bundle =
        fs::canonicalize(&opts.bundle).map_err(|e| Error::io("open bundle", &opts.bundle, e))?;
    let config::Config { spec, .. } = config::load(&bundle)?;
    let rootfs = config::rootfs(&spec, &bundle)?;
    let plan = Plan::from_config(spec.linux().as_ref())?;
    config::validate(&spec, &plan)?;
    if !plan.has(LinuxNamespaceType::Mount) {
        return Err(Error::Unsupported(
            "restore of a container without a mount namespace of its own".into(),
        ));
    }
    if plan
        .joins
        .iter()
        .any(|(t, _)| *t == LinuxNamespaceType::Cgroup)
    {
        return Err(Error::Unsupported(
            "restore into a cgroup namespace joined by path (CRIU cannot join one)".into(),
        ));
    }
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal && opts.console_socket.is_none() && opts.console_fd.is_none() {
        return Err(Error::InvalidConfig(
            "cannot allocate tty if berth-runtime will detach without setting console socket"
                .into(),
        ));
    }
    if !terminal && opts.console_socket.is_some() {
        return Err(Error::InvalidConfig(
            "cannot use console socket if berth-runtime will not detach or allocate tty".into(),
        ));
    }
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
    let criu = criu::find(opts.common.criu.as_deref(), root)?;
    free_checkpointed_id(root, id)?;

    let dir = StateDir::create(root, id)?;
    let lock = dir.lock()?;
    let mut undo = Undo {
        dir: &dir,
        cgroup: None,
        pid: None,
        criu_root: None,
    };
    let restored = restore_in(
        &mut undo,
        &criu,
        &spec,
        &plan,
        &bundle,
        &rootfs,
        &image_dir,
        &descriptors,
        console.as_ref(),
        &opts,
    );
    let restored = match restored {
        Ok(r) => r,
        Err(e) => {
            undo.run();
            return Err(e);
        }
    };
    undo.unmount_root();
    drop(lock);
    Ok(restored)
}

/// What a failing restore has to undo; the root bind goes in any case.
struct Undo<'a> {
    dir: &'a StateDir,
    cgroup: Option<Cgroup>,
    pid: Option<i32>,
    criu_root: Option<PathBuf>,
}

impl Undo<'_> {
    fn unmount_root(&mut self) {
        if let Some(p) = self.criu_root.take() {
            if let Err(e) = umount2(&p, MntFlags::MNT_DETACH) {
                tracing::warn!("unmount {}: {e}", p.display());
            }
            let _ = fs::remove_dir(&p);
        }
    }

    fn run(&mut self) {
        if let Some(pid) = self.pid {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(Pid::from_raw(pid), None);
        }
        if let Some(cg) = &self.cgroup {
            let _ = cg.signal_all(Signal::SIGKILL);
            // The killed tasks leave the cgroup a moment after SIGKILL.
            for _ in 0..200 {
                if cg.destroy().is_ok() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        self.unmount_root();
        let _ = self.dir.remove();
    }
}

#[allow(clippy::too_many_arguments)]
fn restore_in(
    undo: &mut Undo<'_>,
    criu: &criu::Criu,
    spec: &Spec,
    plan: &Plan,
    bundle: &Path,
    rootfs: &Path,
    image_dir: &fs::File,
    descriptors: &[String],
    console: Option<&OwnedFd>,
    opts: &RestoreOptions,
) -> Result<Restored> {
    let dir = undo.dir;
    let cgroups_path = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned());
    undo.cgroup = make_cgroup(
        cgroups_path.as_deref(),
        &dir.id,
        config::resources(spec).as_ref(),
        false,
    )?;
    let mut record = Record {
        id: dir.id.clone(),
        pid: 0,
        pid_start_time: 0,
        bundle: bundle.to_path_buf(),
        rootfs: rootfs.to_path_buf(),
        created: procfs::now_rfc3339(),
        cgroup: undo.cgroup.clone(),
        own_pid_namespace: plan.has(LinuxNamespaceType::Pid),
        config: spec.clone(),
        rootfs_mount_id: None,
        external_descriptors: Vec::new(),
    };
    dir.save(&record)?;

    make_mountpoints(spec, rootfs, bundle)?;
    let criu_root = dir.path.join(CRIU_ROOT);
    fs::create_dir(&criu_root).map_err(|e| Error::io("create", &criu_root, e))?;
    mount(
        Some(rootfs),
        &criu_root,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| Error::io("bind the rootfs for CRIU at", &criu_root, e.into()))?;
    undo.criu_root = Some(criu_root.clone());

    let mut o = Criu_opts::new();
    o.set_images_dir_fd(image_dir.as_raw_fd());
    let work_dir = match &opts.common.work_path {
        Some(p) => {
            fs::create_dir_all(p).map_err(|e| Error::io("create work directory", p, e))?;
            Some(fs::File::open(p).map_err(|e| Error::io("open work directory", p, e))?)
        }
        None => None,
    };
    if let Some(w) = &work_dir {
        o.set_work_dir_fd(w.as_raw_fd());
    }
    o.set_evasive_devices(true);
    o.set_log_level(4);
    o.set_log_file("restore.log".into());
    o.set_rst_sibling(true);
    o.set_root(criu_root.to_string_lossy().into_owned());
    o.set_orphan_pts_master(true);
    common_opts(&mut o, &opts.common, spec)?;
    o.set_tcp_close(opts.tcp_close);

    for e in mounts::externals(spec, plan, undo.cgroup.as_ref(), bundle) {
        o.ext_mnt.push(ext_mount(
            &e.dest.to_string_lossy(),
            &e.source.to_string_lossy(),
        ));
    }
    let masks = spec
        .linux()
        .as_ref()
        .and_then(|l| l.masked_paths().as_ref());
    if masks.is_some_and(|m| !m.is_empty()) {
        o.ext_mnt.push(ext_mount("/dev/null", "/dev/null"));
    }
    if let Some(cg) = &undo.cgroup {
        o.cg_root = cgroup_roots(cg);
    }
    // The old stdio pipes become ours (CRIU's 0, 1, 2), as runc does it.
    for (i, d) in descriptors.iter().enumerate() {
        if d.contains("pipe:") {
            o.inherit_fd.push(inherit(d, i as i32));
        }
    }
    // Namespaces joined by path: net and pid were dumped as external and
    // are handed back by key; the others CRIU joins itself.
    let mut ns_files: Vec<OwnedFd> = Vec::new();
    for (t, path) in &plan.joins {
        match t {
            LinuxNamespaceType::Network | LinuxNamespaceType::Pid => {
                let f = fs::File::open(path).map_err(|e| Error::io("open namespace", path, e))?;
                o.inherit_fd
                    .push(inherit(ns_key(*t), 4 + ns_files.len() as i32));
                ns_files.push(f.into());
            }
            other => {
                let mut j = Join_namespace::new();
                j.set_ns(namespaces::proc_name(*other).into());
                j.set_ns_file(path.to_string_lossy().into_owned());
                o.join_ns.push(j);
            }
        }
    }
    let mut req = Criu_req::new();
    req.set_type(Criu_req_type::RESTORE);
    req.opts = Some(o).into();

    let hooks = spec.hooks().as_ref();
    let prestart = hooks.and_then(|h| h.prestart().clone()).unwrap_or_default();
    let create_runtime = hooks
        .and_then(|h| h.create_runtime().clone())
        .unwrap_or_default();
    let mut restored_pid: Option<i32> = None;
    let mut notify = |n: swrk::Notification| -> Result<()> {
        match n.script.as_str() {
            "setup-namespaces" => {
                let mut r = record.clone();
                r.pid = n.pid;
                let state =
                    serde_json::to_vec(&r.oci_state(dir, Status::Creating)).expect("state encodes");
                hooks::run_hooks(HookKind::Prestart, &prestart, &state)?;
                hooks::run_hooks(HookKind::CreateRuntime, &create_runtime, &state)?;
            }
            "post-restore" => restored_pid = Some(n.pid),
            "orphan-pts-master" => {
                let (Some(master), Some(socket)) = (n.fd, console) else {
                    return Err(Error::Criu(
                        "CRIU restored a terminal but no console socket was given".into(),
                    ));
                };
                crate::console::send_fd(socket.as_fd(), master.as_fd(), "/dev/ptmx")?;
            }
            _ => {}
        }
        Ok(())
    };
    let cgroup = undo.cgroup.clone();
    let mut before = |criu_pid: i32| -> Result<()> {
        if let Some(cg) = &cgroup {
            cg.add_process(criu_pid)?;
        }
        Ok(())
    };
    let extra: Vec<&OwnedFd> = ns_files.iter().collect();
    let log = opts
        .common
        .work_path
        .as_ref()
        .unwrap_or(&opts.common.image_path)
        .join("restore.log");
    let result = swrk::call(
        criu,
        &req,
        swrk::Call {
            extra_fds: &extra,
            log: Some(log),
            before: Some(&mut before),
            notify: Some(&mut notify),
            action: "restore",
        },
    );
    // Whatever happened, a restored init is ours to kill on failure.
    undo.pid = restored_pid;
    let resp = result?;
    let pid = restored_pid
        .or_else(|| resp.restore.as_ref().map(|r| r.pid()))
        .filter(|p| *p > 0)
        .ok_or_else(|| Error::Criu("restore: CRIU did not say which pid it restored".into()))?;
    undo.pid = Some(pid);
    record.pid = pid;
    record.pid_start_time = procfs::start_time(pid).unwrap_or(0);
    // CRIU gave the restored init ours in place of the dumped ones.
    record.external_descriptors = procfs::stdio_links("self");
    dir.save(&record)?;
    if let Some(path) = &opts.pid_file {
        write_pid_file(path, pid)?;
    }
    Ok(Restored { pid })
}

fn inherit(key: &str, fd: i32) -> Inherit_fd {
    let mut i = Inherit_fd::new();
    i.set_key(key.to_string());
    i.set_fd(fd);
    i
}

/// Where the restored tree's cgroups go: every controller's root is the
/// container's new cgroup (CRIU puts the dumped tree's cgroups below it).
fn cgroup_roots(cg: &Cgroup) -> Vec<Cgroup_root> {
    let Ok(host) = berth_cgroups::host() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for h in host.hierarchies() {
        let dir = match h.controllers.first() {
            Some(c) => cg.path_of(c),
            None => cg.unified_path().map(Path::to_path_buf),
        };
        let Some(dir) = dir else { continue };
        let Ok(rel) = dir.strip_prefix(&h.mount_point) else {
            continue;
        };
        let path = Path::new("/").join(rel).to_string_lossy().into_owned();
        if h.is_unified() {
            // The unified hierarchy has no controller name: its root is
            // the default one (every controller not named).
            let mut r = Cgroup_root::new();
            r.set_path(path);
            out.push(r);
            continue;
        }
        for c in &h.controllers {
            let mut r = Cgroup_root::new();
            r.set_ctrl(c.clone());
            r.set_path(path.clone());
            out.push(r);
        }
    }
    out
}

/// runc's `descriptors.json`: what the init's stdio was. An image without
/// one (made by plain `criu dump`) restores with no pipe replaced.
fn read_descriptors(image: &Path) -> Result<Vec<String>> {
    let path = image.join(DESCRIPTORS_FILE);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| Error::InvalidConfig(format!("malformed {}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io("read", &path, e)),
    }
}

/// A container whose checkpoint ended it (status stopped, marker left)
/// gives its id up to the restore, as runc's checkpoint destroys it.
fn free_checkpointed_id(root: &Path, id: &str) -> Result<()> {
    let Ok(dir) = StateDir::open(root, id) else {
        return Ok(());
    };
    if !dir.path.join(CHECKPOINTED_MARKER).exists() {
        return Ok(());
    }
    let stopped = match dir.load() {
        Ok(Some(r)) => r.status(&dir) == Status::Stopped,
        _ => false,
    };
    if stopped {
        super::delete(root, id, false)?;
    }
    Ok(())
}

/// The mount points the restored mounts need, made as `create` would
/// (directories, or an empty file for a bind of a file), except below a
/// tmpfs (CRIU restores a tmpfs with its content).
fn make_mountpoints(spec: &Spec, rootfs: &Path, bundle: &Path) -> Result<()> {
    let root = Root::open(rootfs)?;
    let all = spec.mounts().as_deref().unwrap_or_default();
    let tmpfs: Vec<&Path> = all
        .iter()
        .filter(|m| m.typ().as_deref() == Some("tmpfs"))
        .map(|m| m.destination().as_path())
        .collect();
    for m in all {
        let dest = m.destination();
        if tmpfs.iter().any(|t| dest != *t && dest.starts_with(t)) {
            continue;
        }
        if matches!(m.typ().as_deref(), Some("cgroup" | "cgroup2")) {
            continue;
        }
        if root.lookup(dest).is_ok() {
            continue;
        }
        let file_source = m
            .source()
            .as_ref()
            .map(|s| {
                if s.is_absolute() {
                    s.clone()
                } else {
                    bundle.join(s)
                }
            })
            .and_then(|s| fs::metadata(s).ok())
            .is_some_and(|meta| !meta.is_dir());
        let is_bind = m.typ().as_deref() == Some("bind")
            || m.options()
                .as_deref()
                .unwrap_or_default()
                .iter()
                .any(|o| o == "bind" || o == "rbind");
        if is_bind && file_source {
            if let Some(parent) = dest.parent() {
                root.mkdir_all(parent, 0o755)?;
            }
            root.create_file(dest, 0o644)?;
        } else {
            root.mkdir_all(dest, 0o755)?;
        }
    }
    Ok(())
}
