//! A container without a mount namespace of its own (none listed in
//! `linux.namespaces`) lives in the runtime's: every mount it gets is made
//! there, where the host sees it. To keep that tidy and the host untouched,
//! `create` first binds the rootfs onto itself and makes the bind private
//! (recursively), so the container's mounts stay inside one tree that
//! propagates nowhere, and a read-only root remounts only that bind. The
//! init then mounts under it and `chroot`s there (`pivot_root` would change
//! the root of every process of the namespace), and `delete` detaches the
//! bind with everything under it. The host's own propagation is never
//! changed (runc makes the host's `/` rslave, and leaves the mounts behind).
//!
//! The bind is recognised by its mount id, kept in `state.json`, so only
//! what the runtime made is ever unmounted.

use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{chdir, chroot, fchdir};

use crate::error::{Error, Result};

/// Binds `rootfs` onto itself, private and recursive; returns the new
/// mount's id.
pub fn bind_rootfs(rootfs: &Path) -> Result<u64> {
    let rec_bind = MsFlags::MS_BIND | MsFlags::MS_REC;
    mount(Some(rootfs), rootfs, None::<&str>, rec_bind, None::<&str>)
        .map_err(|e| Error::sys(format!("bind rootfs {}", rootfs.display()), e))?;
    let id = mount_id_at(rootfs)?;
    let private = MsFlags::MS_PRIVATE | MsFlags::MS_REC;
    if let Err(e) = mount(None::<&str>, rootfs, None::<&str>, private, None::<&str>) {
        let _ = umount2(rootfs, MntFlags::MNT_DETACH);
        return Err(Error::sys(
            format!("make rootfs bind {} private", rootfs.display()),
            e,
        ));
    }
    Ok(id)
}

/// Detaches the bind `id` at `rootfs` and every mount under it. Mounts the
/// container stacked on its own root sit above ours and go first. Gone
/// already is no error.
pub fn unbind_rootfs(rootfs: &Path, id: u64) -> Result<()> {
    // A bound: each round removes the topmost mount at the path.
    for _ in 0..64 {
        if !is_mounted(id)? {
            return Ok(());
        }
        umount2(rootfs, MntFlags::MNT_DETACH)
            .map_err(|e| Error::sys(format!("unmount rootfs bind {}", rootfs.display()), e))?;
    }
    Err(Error::Container(format!(
        "rootfs bind {} is still mounted after 64 unmounts",
        rootfs.display()
    )))
}

/// Makes `rootfs` the process's root: `chroot`, since without a mount
/// namespace of its own `pivot_root` would move every process's root.
pub fn enter(rootfs: &Path) -> Result<()> {
    chdir(rootfs).map_err(|e| Error::io("chdir to", rootfs, e.into()))?;
    chroot(".").map_err(|e| Error::sys("chroot into rootfs", e))?;
    chdir("/").map_err(|e| Error::sys("chdir to /", e))
}

/// For `exec`: takes the root of process `pid` (the container's init), so
/// the new process sees the container's files and not the host's (joining
/// a mount namespace would set the namespace's root instead).
pub fn enter_root_of(pid: i32) -> Result<()> {
    let path = format!("/proc/{pid}/root");
    let root = std::fs::File::open(&path).map_err(|e| Error::io("open", &path, e))?;
    fchdir(&root).map_err(|e| Error::io("chdir to", &path, e.into()))?;
    chroot(".").map_err(|e| Error::sys("chroot into the container's root", e))?;
    chdir("/").map_err(|e| Error::sys("chdir to /", e))
}

/// The id of the mount `path` is on (the topmost one there).
fn mount_id_at(path: &Path) -> Result<u64> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(path)
        .map_err(|e| Error::io("open", path, e))?;
    let info_path = format!("/proc/self/fdinfo/{}", file.as_raw_fd());
    let info = std::fs::read_to_string(&info_path).map_err(|e| Error::io("read", &info_path, e))?;
    parse_fdinfo_mnt_id(&info).ok_or_else(|| {
        Error::Container(format!(
            "no mnt_id in {info_path} (Linux 3.15 or later needed)"
        ))
    })
}

fn parse_fdinfo_mnt_id(info: &str) -> Option<u64> {
    info.lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Whether mount `id` is in our mount namespace.
pub fn is_mounted(id: u64) -> Result<bool> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Error::io("read", "/proc/self/mountinfo", e))?;
    Ok(info
        .lines()
        .filter_map(|l| l.split(' ').next()?.parse::<u64>().ok())
        .any(|m| m == id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_mount_id_from_fdinfo() {
        let info = "pos:\t0\nflags:\t012100000\nmnt_id:\t1234\nino:\t56\n";
        assert_eq!(parse_fdinfo_mnt_id(info), Some(1234));
        assert_eq!(parse_fdinfo_mnt_id("pos:\t0\n"), None);
    }
}
