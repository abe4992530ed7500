//! Device nodes in the container's `/dev`: the default set every container
//! gets (null, zero, full, random, urandom, tty) plus `linux.devices`,
//! created with mknod or, inside a user namespace where mknod is refused,
//! bind-mounted from the host; and the usual symlinks (fd, stdio, ptmx).

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use nix::fcntl::AtFlags;
use nix::mount::MsFlags;
use nix::sys::stat::{makedev, mknodat, Mode, SFlag};
use nix::unistd::{fchownat, Gid, Uid};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use super::resolve::{fd_path, Root};
use super::{do_mount, mount_err, Context};
use crate::error::{Error, Result};

struct Node {
    path: PathBuf,
    kind: SFlag,
    major: u64,
    minor: u64,
    mode: u32,
    uid: Option<u32>,
    gid: Option<u32>,
}

const DEFAULTS: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

const LINKS: &[(&str, &str)] = &[
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
    ("/proc/kcore", "/dev/core"),
];

fn from_config(d: &LinuxDevice) -> Result<Node> {
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => {
            return Err(Error::InvalidConfig(format!(
                "device {}: type 'a' is only valid in cgroup rules",
                d.path().display()
            )))
        }
    };
    if !d.path().starts_with("/dev") {
        return Err(Error::InvalidConfig(format!(
            "device {} is not under /dev",
            d.path().display()
        )));
    }
    Ok(Node {
        path: d.path().clone(),
        kind,
        major: d.major() as u64,
        minor: d.minor() as u64,
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid(),
        gid: d.gid(),
    })
}

/// Creates the devices. The defaults and the symlinks only when the config
/// mounts its own `/dev` (as runc does); the config's devices always.
pub fn create(ctx: &Context<'_>, root: &Root, dev_mounted: bool) -> Result<()> {
    let mut nodes = Vec::new();
    for d in ctx
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
    {
        nodes.push(from_config(d)?);
    }
    if dev_mounted {
        for (path, major, minor) in DEFAULTS {
            if !nodes.iter().any(|n| n.path == Path::new(path)) {
                nodes.push(Node {
                    path: PathBuf::from(path),
                    kind: SFlag::S_IFCHR,
                    major: *major,
                    minor: *minor,
                    mode: 0o666,
                    uid: None,
                    gid: None,
                });
            }
        }
    }
    if nodes.is_empty() && !dev_mounted {
        return Ok(());
    }
    // mknod modes must not be cut by the runtime's umask.
    let old_umask = nix::sys::stat::umask(Mode::empty());
    let result = nodes.iter().try_for_each(|n| create_node(ctx, root, n));
    nix::sys::stat::umask(old_umask);
    result?;
    if dev_mounted {
        for (target, link) in LINKS {
            // Only where the host kernel has one (as runc decides it).
            if *link == "/dev/core" && !Path::new("/proc/kcore").exists() {
                continue;
            }
            make_link(root, target, link)?;
        }
        // /dev/ptmx must be the container's devpts instance.
        let ptmx = root.path().join("dev/ptmx");
        let _ = std::fs::remove_file(&ptmx);
        make_link(root, "pts/ptmx", "/dev/ptmx")?;
    }
    Ok(())
}

fn create_node(ctx: &Context<'_>, root: &Root, n: &Node) -> Result<()> {
    let parent = n.path.parent().unwrap_or(Path::new("/dev"));
    let name = n
        .path
        .file_name()
        .ok_or_else(|| Error::InvalidConfig(format!("invalid device path {}", n.path.display())))?;
    if ctx.in_user_namespace() {
        // mknod is refused in a user namespace: bind the host's node.
        let target = root.create_file(&n.path, 0o644)?;
        return do_mount(
            Some(&n.path),
            &fd_path(&target),
            None,
            MsFlags::MS_BIND,
            None,
        )
        .map_err(|e| mount_err("bind device", &n.path, e));
    }
    let dir = root.mkdir_all(parent, 0o755)?;
    match mknodat(
        &dir,
        name,
        n.kind,
        Mode::from_bits_truncate(n.mode),
        makedev(n.major, n.minor),
    ) {
        Ok(()) => {}
        Err(nix::errno::Errno::EEXIST) => {
            // A node from the image or an earlier mount: replace it so its
            // numbers are the configured ones.
            let _ = nix::unistd::unlinkat(&dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
            mknodat(
                &dir,
                name,
                n.kind,
                Mode::from_bits_truncate(n.mode),
                makedev(n.major, n.minor),
            )
            .map_err(|e| Error::io("create device", &n.path, e.into()))?;
        }
        Err(e) => return Err(Error::io("create device", &n.path, e.into())),
    }
    if n.uid.is_some() || n.gid.is_some() {
        fchownat(
            &dir,
            name,
            n.uid.map(Uid::from_raw),
            n.gid.map(Gid::from_raw),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| Error::io("chown device", &n.path, e.into()))?;
    }
    Ok(())
}

fn make_link(root: &Root, target: &str, link: &str) -> Result<()> {
    let at = root.path().join(link.trim_start_matches('/'));
    match symlink(target, &at) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io("create symlink", at, e)),
    }
}
