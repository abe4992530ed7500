//! The `cgroup` mount type: the container's own view of its cgroups.
//!
//! cgroup v2: one `cgroup2` mount, fresh when the container has a cgroup
//! namespace (its root is then the container's cgroup), else a bind of the
//! container's cgroup directory. cgroup v1 and hybrid hosts: a tmpfs with one
//! directory per hierarchy, as on the host (`cpu`, `memory`, `systemd`,
//! `unified`, ...), each a fresh mount inside a cgroup namespace or a bind of
//! the container's directory. v1 filesystems cannot be mounted inside a user
//! namespace, so there they are always binds.

use std::path::Path;

use berth_cgroups::{Hierarchy, Mode};
use nix::mount::MsFlags;

use super::options::MountOptions;
use super::resolve::{fd_path, Root};
use super::{do_mount, mount_err, Context};
use crate::error::{Error, Result};

/// Where the host's hierarchies are mounted; others are not shown.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

pub fn mount(ctx: &Context<'_>, root: &Root, dest: &Path, opts: &MountOptions) -> Result<()> {
    let host = ctx.cgroups.ok_or_else(|| {
        Error::Container(format!(
            "cannot mount {}: the host's cgroups were not read",
            dest.display()
        ))
    })?;
    let hierarchies: Vec<&Hierarchy> = host
        .hierarchies()
        .filter(|h| h.mount_point.starts_with(CGROUP_ROOT))
        .collect();
    let fresh = ctx.plan.new_cgroup;
    let userns = ctx.in_user_namespace();
    let flags = opts.flags - MsFlags::MS_RDONLY;
    let readonly = opts.flags.contains(MsFlags::MS_RDONLY);
    let pure_v2 = host.mode() == Mode::V2
        && hierarchies.len() == 1
        && hierarchies[0].mount_point == Path::new(CGROUP_ROOT);
    if pure_v2 {
        return mount_one(
            hierarchies[0],
            root,
            dest,
            fresh,
            userns,
            flags
                | if readonly {
                    MsFlags::MS_RDONLY
                } else {
                    MsFlags::empty()
                },
        );
    }
    // v1 or hybrid: a tmpfs holding one directory per hierarchy.
    let target = root.mkdir_all(dest, 0o755)?;
    do_mount(
        Some(Path::new("tmpfs")),
        &fd_path(&target),
        Some("tmpfs"),
        flags,
        Some("mode=755"),
    )
    .map_err(|e| mount_err("mount tmpfs for cgroups", dest, e))?;
    for h in hierarchies {
        let name = h
            .mount_point
            .strip_prefix(CGROUP_ROOT)
            .unwrap_or(&h.mount_point);
        // On a hybrid host the unified hierarchy holds no controllers; like
        // runc, the container gets the v1 hierarchies only.
        if name.as_os_str().is_empty() || h.is_unified() {
            continue;
        }
        let sub = dest.join(name);
        // v1 filesystems cannot be mounted in a user namespace.
        let fresh_here = fresh && !userns;
        mount_one(
            h,
            root,
            &sub,
            fresh_here,
            userns,
            flags
                | if readonly {
                    MsFlags::MS_RDONLY
                } else {
                    MsFlags::empty()
                },
        )?;
        // Co-mounted controllers ("cpu,cpuacct") also get a link per name.
        let dir_name = name.to_string_lossy();
        if dir_name.contains(',') {
            for c in dir_name.split(',') {
                let link = root
                    .path()
                    .join(dest.strip_prefix("/").unwrap_or(dest))
                    .join(c);
                let _ = std::os::unix::fs::symlink(&*dir_name, link);
            }
        }
    }
    if readonly {
        let top = root.lookup(dest).map_err(|e| Error::io("open", dest, e))?;
        do_mount(
            None,
            &fd_path(&top),
            None,
            MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | flags,
            Some("mode=755"),
        )
        .map_err(|e| mount_err("remount read-only", dest, e))?;
    }
    Ok(())
}

/// Mounts hierarchy `h` at `dest`: fresh, or a bind of the container's
/// cgroup directory in it (`own_dir`, read by the init while in its
/// cgroup, before its cgroup namespace).
fn mount_one(
    h: &Hierarchy,
    root: &Root,
    dest: &Path,
    fresh: bool,
    userns: bool,
    flags: MsFlags,
) -> Result<()> {
    let target_fd = root.mkdir_all(dest, 0o755)?;
    let target = &fd_path(&target_fd);
    if fresh {
        let (fstype, data) = if h.is_unified() {
            ("cgroup2", String::new())
        } else {
            ("cgroup", h.controllers.join(","))
        };
        match do_mount(
            Some(Path::new(fstype)),
            target,
            Some(fstype),
            flags,
            Some(&data),
        ) {
            Ok(()) => return Ok(()),
            // In a user namespace the kernel refuses a cgroup2 superblock
            // that the host's user namespace already mounted (EBUSY: the
            // cgroup namespace's root is the host's mounted root, as for a
            // rootless container without a cgroup of its own) or any it may
            // not make (EPERM). A bind of the same directory shows the
            // same tree (runc falls back the same way).
            Err(nix::errno::Errno::EBUSY | nix::errno::Errno::EPERM) if userns => {}
            Err(e) => return Err(mount_err(&format!("mount {fstype}"), dest, e)),
        }
    }
    let Some(source) = &h.own_dir else {
        return Err(Error::Container(format!(
            "cannot mount {}: the container has no cgroup in {}",
            dest.display(),
            h.mount_point.display()
        )));
    };
    do_mount(
        Some(source.as_path()),
        target,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .map_err(|e| mount_err(&format!("bind {}", source.display()), dest, e))?;
    // Remount the new mount, not the directory under it, keeping the
    // flags a user namespace may not clear.
    let top = root.lookup(dest).map_err(|e| Error::io("open", dest, e))?;
    let locked = if userns {
        super::locked_flags(source)
    } else {
        MsFlags::empty()
    };
    do_mount(
        None,
        &fd_path(&top),
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags | locked,
        None,
    )
    .map_err(|e| mount_err("remount cgroup bind", dest, e))
}
