//! The container's filesystem view, built by the init inside its new mount
//! namespace in three steps: [`prepare`] (propagation, the rootfs bind,
//! every `mounts` entry, devices), [`pivot`] (make the rootfs `/`, drop the
//! host's root) and [`finish`] (sysctls, read-only and masked paths, a
//! read-only root). Hooks that must see the host's root run between the
//! first two.

mod cgroupfs;
mod devices;
pub mod idmapped;
pub mod options;
pub mod resolve;
mod tmpfs;

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{chdir, chroot, fchdir, pivot_root};
use oci_spec::runtime::{LinuxNamespaceType, Mount, Spec};

use crate::error::{Error, Result};
use crate::namespaces::Plan;
use resolve::{fd_path, Root};

/// What rootfs setup needs to know besides the config.
pub struct Context<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub plan: &'a Plan,
    /// The host's cgroup hierarchies with the init's own cgroup in each,
    /// read before it entered its cgroup namespace, for `cgroup` mounts
    /// (binds need the directories); `None` when the spec has none.
    pub cgroups: Option<&'a berth_cgroups::Host>,
    /// The detached idmapped trees the runtime made, by `mounts` index.
    pub idmapped: &'a idmapped::Sources,
}

impl Context<'_> {
    fn in_user_namespace(&self) -> bool {
        self.plan.has(LinuxNamespaceType::User)
    }
}

pub(super) fn do_mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> nix::Result<()> {
    mount(
        source,
        target,
        fstype,
        flags,
        data.filter(|d| !d.is_empty()),
    )
}

pub(super) fn mount_err(what: &str, dest: &Path, e: nix::errno::Errno) -> Error {
    Error::sys(format!("{what} on {}", dest.display()), e)
}

/// `what`, naming the filesystem data when there is some: the kernel
/// refuses an option it does not know (a typo) with a bare EINVAL.
pub(super) fn with_data(what: &str, data: &str) -> String {
    if data.is_empty() {
        what.to_owned()
    } else {
        format!("{what} with options {data:?}")
    }
}

/// Flags of the mount at `path` that an unprivileged remount must keep
/// (the kernel refuses to clear locked nodev/nosuid/noexec in a userns).
fn locked_flags(path: &Path) -> MsFlags {
    let Ok(st) = statvfs(path) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(fs) {
            out |= ms;
        }
    }
    out
}

/// The propagation `linux.rootfsPropagation` asks for; runc's default,
/// rslave, when it is empty.
fn root_propagation(ctx: &Context<'_>) -> Result<MsFlags> {
    let linux = ctx.spec.linux().as_ref();
    match linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        None | Some("") => Ok(MsFlags::MS_SLAVE | MsFlags::MS_REC),
        Some(p) => options::propagation_of(p)
            .ok_or_else(|| Error::InvalidConfig(format!("invalid rootfsPropagation {p:?}"))),
    }
}

/// Step 1, in the new mount namespace, before pivot_root.
pub fn prepare(ctx: &Context<'_>) -> Result<()> {
    if !ctx.plan.has(LinuxNamespaceType::Mount) {
        // In the runtime's mount namespace, under the private rootfs bind
        // `create` made (crate::shared_mounts): the host's propagation is
        // not ours to change.
        return mount_all(ctx);
    }
    let propagation = root_propagation(ctx)?;
    // On our copy of the host's tree: rslave by default stops our mounts
    // from reaching the host; rshared lets volumes mounted from shared
    // host mounts propagate both ways (Kubernetes' Bidirectional).
    do_mount(None, Path::new("/"), None, propagation, None)
        .map_err(|e| mount_err("set propagation", Path::new("/"), e))?;
    unshare_rootfs_mount(ctx.rootfs, propagation)?;
    do_mount(
        Some(ctx.rootfs),
        ctx.rootfs,
        Some("bind"),
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .map_err(|e| mount_err("bind rootfs", ctx.rootfs, e))?;
    mount_all(ctx)
}

/// Every `mounts` entry, then the devices.
fn mount_all(ctx: &Context<'_>) -> Result<()> {
    let root = Root::open(ctx.rootfs)?;
    let mut dev_mounted = false;
    for (index, m) in ctx.spec.mounts().iter().flatten().enumerate() {
        mount_entry(ctx, &root, index, m)?;
        dev_mounted |= m.destination() == Path::new("/dev");
    }
    devices::create(ctx, &root, dev_mounted)
}

/// Makes the mount holding the rootfs (the rootfs itself when it is a
/// mount point, as containerd's always is, else the nearest mount above
/// it) private, or a slave for a slave root, as runc does: pivot_root
/// refuses a new root or parent that is shared, and a bind of the rootfs
/// under a shared mount would show up on the host.
fn unshare_rootfs_mount(rootfs: &Path, propagation: MsFlags) -> Result<()> {
    let flag = if propagation.contains(MsFlags::MS_SLAVE) {
        MsFlags::MS_SLAVE
    } else {
        MsFlags::MS_PRIVATE
    };
    let mut path = rootfs;
    loop {
        match do_mount(None, path, None, flag, None) {
            Ok(()) => return Ok(()),
            // EINVAL: not a mount point; try the directory above.
            Err(nix::errno::Errno::EINVAL) if path != Path::new("/") => {
                path = path.parent().unwrap_or(Path::new("/"));
            }
            Err(e) => return Err(mount_err("change propagation of the rootfs mount", path, e)),
        }
    }
}

/// After pivot_root: give the new `/` the requested shared or unbindable
/// propagation, which pivot_root itself would have refused. Private and
/// slave were applied in [`prepare`] already.
fn apply_root_propagation(ctx: &Context<'_>) -> Result<()> {
    // Without a mount namespace of its own, `/` is the host's: leave it.
    if !ctx.plan.has(LinuxNamespaceType::Mount) {
        return Ok(());
    }
    let propagation = root_propagation(ctx)?;
    if propagation.intersects(MsFlags::MS_PRIVATE | MsFlags::MS_SLAVE) {
        return Ok(());
    }
    do_mount(None, Path::new("/"), None, propagation, None)
        .map_err(|e| mount_err("set root propagation", Path::new("/"), e))
}

fn mount_entry(ctx: &Context<'_>, root: &Root, index: usize, m: &Mount) -> Result<()> {
    let opts = options::parse(m.options().as_deref().unwrap_or_default())
        .map_err(|e| Error::InvalidConfig(format!("mount {}: {e}", m.destination().display())))?;
    match ctx.idmapped.get(index) {
        Some(tree) => idmapped_bind(ctx, root, m, &opts, tree)?,
        None => mount_one(ctx, root, m, &opts)?,
    }
    apply_recursive(root, m.destination(), &opts)?;
    apply_propagation(root, m.destination(), &opts.propagation)
}

/// Mounts one `mounts` entry with its flags and data.
fn mount_one(
    ctx: &Context<'_>,
    root: &Root,
    m: &Mount,
    opts: &options::MountOptions,
) -> Result<()> {
    let dest = m.destination();
    if !dest.is_absolute() {
        return Err(Error::InvalidConfig(format!(
            "mount destination {} is not absolute",
            dest.display()
        )));
    }
    let fstype = m.typ().as_deref().unwrap_or("");
    if fstype == "bind" || opts.bind {
        return bind_entry(ctx, root, m, opts);
    }
    if fstype == "cgroup" || fstype == "cgroup2" {
        return cgroupfs::mount(ctx, root, dest, opts);
    }
    if fstype.is_empty() {
        return Err(Error::InvalidConfig(format!(
            "mount {}: no type given",
            dest.display()
        )));
    }
    if fstype == "proc" || fstype == "sysfs" {
        refuse_symlinked_destination(root, dest, fstype)?;
    }
    let source = m.source().as_deref().unwrap_or(Path::new(fstype));
    if fstype == "tmpfs" {
        return tmpfs::mount(root, source, dest, opts);
    }
    if opts.copy_up {
        return Err(Error::InvalidConfig(format!(
            "mount {}: tmpcopyup applies to tmpfs only, not {fstype:?}",
            dest.display()
        )));
    }
    let target = root.mkdir_all(dest, 0o755)?;
    let flags = opts.flags;
    match do_mount(Some(source), &fd_path(&target), Some(fstype), flags, Some(&opts.data)) {
        Ok(()) => {}
        // sysfs needs a network namespace owned by our user namespace; when
        // we have none, give a read-only view of the host's instead (runc's
        // fallback).
        Err(nix::errno::Errno::EPERM) if fstype == "sysfs" && ctx.in_user_namespace() => {
            let sys = Path::new("/sys");
            do_mount(Some(sys), &fd_path(&target), None, MsFlags::MS_BIND | MsFlags::MS_REC, None)
                .map_err(|e| mount_err("bind /sys", dest, e))?;
            let top = root.lookup(dest).map_err(|e| Error::io("open", dest, e))?;
            do_mount(None, &fd_path(&top), None, MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked_flags(sys), None)
                .map_err(|e| mount_err("remount read-only", dest, e))?;
        }
        // proc and mqueue belong to a pid or ipc namespace: in a user
        // namespace only one that namespace owns can be mounted.
        Err(e) => {
            return Err(match owner_missing(ctx, fstype) {
                Some((ns, kind)) if e == nix::errno::Errno::EPERM && ctx.in_user_namespace() => Error::InvalidConfig(format!(
                    "mount {fstype} on {}: in a user namespace it needs {ns} of its own (linux.namespaces: {kind})",
                    dest.display()
                )),
                _ => mount_err(&with_data(&format!("mount {fstype}"), &opts.data), dest, e),
            })
        }
    }
    Ok(())
}

/// The namespace a `fstype` mount belongs to, when the container shares
/// the host's: (what, its `linux.namespaces` type).
fn owner_missing(ctx: &Context<'_>, fstype: &str) -> Option<(&'static str, &'static str)> {
    match fstype {
        "proc" if !ctx.plan.has(LinuxNamespaceType::Pid) => Some(("a pid namespace", "pid")),
        "mqueue" if !ctx.plan.has(LinuxNamespaceType::Ipc) => Some(("an ipc namespace", "ipc")),
        _ => None,
    }
}

/// proc and sysfs go on an ordinary directory only, as in runc: an image
/// whose `/proc` is a symlink would otherwise move the kernel's procfs
/// somewhere else in the tree (CVE-2019-16884, CVE-2019-19921).
fn refuse_symlinked_destination(root: &Root, dest: &Path, fstype: &str) -> Result<()> {
    match root.open_in(dest, libc::O_PATH | libc::O_NOFOLLOW) {
        Ok(fd) => {
            let meta = std::fs::File::from(fd)
                .metadata()
                .map_err(|e| Error::io("stat", dest, e))?;
            if meta.is_dir() {
                Ok(())
            } else {
                Err(Error::InvalidConfig(format!(
                    "mount {}: filesystem {fstype:?} must be mounted on an ordinary directory",
                    dest.display()
                )))
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("open", dest, e)),
    }
}

fn bind_entry(
    ctx: &Context<'_>,
    root: &Root,
    m: &Mount,
    opts: &options::MountOptions,
) -> Result<()> {
    let dest = m.destination();
    refuse_bind_data(dest, opts)?;
    let source = m.source().as_deref().ok_or_else(|| {
        Error::InvalidConfig(format!("bind mount {} has no source", dest.display()))
    })?;
    let source = if source.is_absolute() {
        source.to_path_buf()
    } else {
        ctx.bundle.join(source)
    };
    let meta =
        std::fs::metadata(&source).map_err(|e| Error::io("stat bind mount source", &source, e))?;
    let target = bind_target(root, dest, meta.is_dir())?;
    let rec = opts.flags & MsFlags::MS_REC;
    do_mount(
        Some(&source),
        &fd_path(&target),
        None,
        MsFlags::MS_BIND | rec,
        None,
    )
    .map_err(|e| mount_err(&format!("bind {}", source.display()), dest, e))?;
    remount_bind(ctx, root, dest, &source, opts)
}

/// An idmapped bind mount: attaches the detached tree the runtime made
/// (`idmapped`) at the destination, then applies the per-mount flags as
/// for any bind mount.
fn idmapped_bind(
    ctx: &Context<'_>,
    root: &Root,
    m: &Mount,
    opts: &options::MountOptions,
    tree: std::os::fd::BorrowedFd<'_>,
) -> Result<()> {
    let dest = m.destination();
    refuse_bind_data(dest, opts)?;
    let is_dir = nix::sys::stat::fstat(tree)
        .map_err(|e| Error::sys(format!("stat the idmapped mount for {}", dest.display()), e))?
        .st_mode
        & libc::S_IFMT
        == libc::S_IFDIR;
    let target = bind_target(root, dest, is_dir)?;
    berth_sys::fsmount::move_mount(tree, target.as_fd()).map_err(|e| {
        Error::sys(
            format!("attach the idmapped mount on {}", dest.display()),
            e,
        )
    })?;
    let source = m.source().as_deref().unwrap_or(Path::new("/"));
    remount_bind(ctx, root, dest, &ctx.bundle.join(source), opts)
}

/// The kernel ignores data on a bind mount: an option berth does not
/// know (a typo, or one it does not implement) would vanish silently.
fn refuse_bind_data(dest: &Path, opts: &options::MountOptions) -> Result<()> {
    if opts.data.is_empty() {
        return Ok(());
    }
    Err(Error::InvalidConfig(format!(
        "bind mount {}: unknown mount option(s) {}",
        dest.display(),
        opts.data
            .split(',')
            .map(|o| format!("{o:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// The mount point of a bind mount: a directory for a directory, a file
/// for anything else.
fn bind_target(root: &Root, dest: &Path, is_dir: bool) -> Result<std::os::fd::OwnedFd> {
    if is_dir {
        root.mkdir_all(dest, 0o755)
    } else {
        root.create_file(dest, 0o644)
    }
}

/// Per-mount flags (ro, nosuid, ...) need a remount of the new mount;
/// open the destination again to reach the mount, not what it covers.
fn remount_bind(
    ctx: &Context<'_>,
    root: &Root,
    dest: &Path,
    source: &Path,
    opts: &options::MountOptions,
) -> Result<()> {
    let extra = opts.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if extra.is_empty() {
        return Ok(());
    }
    let top = root.lookup(dest).map_err(|e| Error::io("open", dest, e))?;
    let locked = if ctx.in_user_namespace() {
        locked_flags(source)
    } else {
        MsFlags::empty()
    };
    do_mount(
        None,
        &fd_path(&top),
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra | locked,
        None,
    )
    .map_err(|e| mount_err("remount bind", dest, e))
}

/// The recursive options (`rro`, `rnosuid`, ...): one `mount_setattr` with
/// `AT_RECURSIVE` on the new mount, so they reach every mount below it.
fn apply_recursive(root: &Root, dest: &Path, opts: &options::MountOptions) -> Result<()> {
    if !opts.has_recursive() {
        return Ok(());
    }
    let top = root.lookup(dest).map_err(|e| Error::io("open", dest, e))?;
    berth_sys::fsmount::mount_setattr(top.as_fd(), true, &opts.recursive)
        .map_err(|e| Error::io("set recursive mount attributes on", dest, e))
}

fn apply_propagation(root: &Root, dest: &Path, propagation: &[MsFlags]) -> Result<()> {
    if propagation.is_empty() {
        return Ok(());
    }
    let top = root.lookup(dest).map_err(|e| Error::io("open", dest, e))?;
    for p in propagation {
        do_mount(None, &fd_path(&top), None, *p, None)
            .map_err(|e| mount_err("set propagation", dest, e))?;
    }
    Ok(())
}

/// Step 2: make the rootfs `/`. With `no_pivot` (for ramdisk roots, where
/// pivot_root is refused) move the mount over `/` and chroot instead.
pub fn pivot(rootfs: &Path, no_pivot: bool) -> Result<()> {
    if no_pivot {
        chdir(rootfs).map_err(|e| Error::io("chdir to", rootfs, e.into()))?;
        do_mount(Some(rootfs), Path::new("/"), None, MsFlags::MS_MOVE, None)
            .map_err(|e| mount_err("move rootfs", Path::new("/"), e))?;
        chroot(".").map_err(|e| Error::sys("chroot into rootfs", e))?;
        return chdir("/").map_err(|e| Error::sys("chdir to /", e));
    }
    let old_root = std::fs::File::open("/").map_err(|e| Error::io("open", "/", e))?;
    let new_root = std::fs::File::open(rootfs).map_err(|e| Error::io("open", rootfs, e))?;
    fchdir(&new_root).map_err(|e| Error::io("chdir to", rootfs, e.into()))?;
    // pivot_root(".", ".") stacks the old root on top of the new one, so no
    // directory for it is needed inside the container.
    pivot_root(".", ".").map_err(|e| Error::io("pivot_root to", rootfs, e.into()))?;
    fchdir(&old_root).map_err(|e| Error::sys("chdir to old root", e))?;
    // Keep the unmount below from propagating to the host.
    do_mount(
        None,
        Path::new("."),
        None,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None,
    )
    .map_err(|e| mount_err("make old root slave", Path::new("/"), e))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| Error::sys("unmount old root", e))?;
    drop(old_root);
    chdir("/").map_err(|e| Error::sys("chdir to /", e))
}

/// Step 3, after pivot_root: everything that acts on the container's own
/// `/proc` and `/`.
pub fn finish(ctx: &Context<'_>) -> Result<()> {
    apply_root_propagation(ctx)?;
    let Some(linux) = ctx.spec.linux().as_ref() else {
        return readonly_root(ctx);
    };
    if let Some(sysctl) = linux.sysctl() {
        write_sysctls(sysctl, ctx.plan)?;
    }
    for p in linux.readonly_paths().as_deref().unwrap_or_default() {
        readonly_path(Path::new(p))?;
    }
    for p in linux.masked_paths().as_deref().unwrap_or_default() {
        mask_path(Path::new(p))?;
    }
    readonly_root(ctx)
}

fn readonly_root(ctx: &Context<'_>) -> Result<()> {
    if ctx
        .spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        let flags = MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | locked_flags(Path::new("/"));
        do_mount(None, Path::new("/"), None, flags, None)
            .map_err(|e| mount_err("remount read-only", Path::new("/"), e))?;
    }
    Ok(())
}

fn readonly_path(path: &Path) -> Result<()> {
    match do_mount(
        Some(path),
        path,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    ) {
        Ok(()) => {}
        Err(nix::errno::Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(mount_err("bind read-only path", path, e)),
    }
    let flags = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_REC
        | locked_flags(path);
    do_mount(None, path, None, flags, None).map_err(|e| mount_err("remount read-only", path, e))
}

fn mask_path(path: &Path) -> Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("stat masked path", path, e)),
    };
    let result = if meta.is_dir() {
        do_mount(
            Some(Path::new("tmpfs")),
            path,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None,
        )
    } else {
        do_mount(
            Some(Path::new("/dev/null")),
            path,
            None,
            MsFlags::MS_BIND,
            None,
        )
    };
    result.map_err(|e| mount_err("mask", path, e))
}

/// Sysctls live in namespaces; one the container does not have its own of
/// would change the host, so it is refused (as runc does).
fn write_sysctls(sysctl: &HashMap<String, String>, plan: &Plan) -> Result<()> {
    use berth_sys::sysctl::{namespace_of, Namespace};
    for (key, value) in sysctl {
        let ok = match namespace_of(key) {
            Some(Namespace::Net) => plan.has(LinuxNamespaceType::Network),
            Some(Namespace::Ipc) => plan.has(LinuxNamespaceType::Ipc),
            Some(Namespace::Uts) => plan.has(LinuxNamespaceType::Uts),
            None => false,
        };
        if !ok {
            return Err(Error::InvalidConfig(format!(
                "sysctl {key:?} is not in a separate kernel namespace"
            )));
        }
        if key.contains("..") || key.contains('/') {
            return Err(Error::InvalidConfig(format!("invalid sysctl name {key:?}")));
        }
        let path = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
        std::fs::write(&path, value).map_err(|e| Error::io("write sysctl", &path, e))?;
    }
    Ok(())
}
