//! The new mount API (`fsopen`, `fsconfig`, `fsmount`, Linux 5.2): a
//! filesystem instance made and mounted without ever being attached to a
//! mount namespace. berth uses it for a private read-only overlayfs over
//! its own binary (CVE-2019-5736), `mount_setattr` (Linux 5.12) for the
//! recursive mount options (`rro`, `rnosuid`, ...) and idmapped mounts
//! (`MOUNT_ATTR_IDMAP`), and `open_tree`/`move_mount` (Linux 5.2) to make a
//! bind mount as a detached tree, change it, then attach it.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::check;

const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const OPEN_TREE_CLONE: libc::c_uint = 1;
const OPEN_TREE_CLOEXEC: libc::c_uint = libc::O_CLOEXEC as libc::c_uint;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;

/// Mount attributes for [`fsmount`] (`MOUNT_ATTR_*`).
pub const MOUNT_ATTR_RDONLY: libc::c_uint = 0x1;
pub const MOUNT_ATTR_NOSUID: libc::c_uint = 0x2;
pub const MOUNT_ATTR_NODEV: libc::c_uint = 0x4;
pub const MOUNT_ATTR_NOEXEC: libc::c_uint = 0x8;
/// The access-time field: one of RELATIME (0), NOATIME, STRICTATIME.
pub const MOUNT_ATTR__ATIME: libc::c_uint = 0x70;
pub const MOUNT_ATTR_RELATIME: libc::c_uint = 0x0;
pub const MOUNT_ATTR_NOATIME: libc::c_uint = 0x10;
pub const MOUNT_ATTR_STRICTATIME: libc::c_uint = 0x20;
pub const MOUNT_ATTR_NODIRATIME: libc::c_uint = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: libc::c_uint = 0x0020_0000;
/// Idmap the mount with the user namespace in [`MountAttr::userns_fd`]
/// (Linux 5.12; only on a detached mount, only where the filesystem
/// supports it).
pub const MOUNT_ATTR_IDMAP: libc::c_uint = 0x0010_0000;

/// `fsopen(fs_name, FSOPEN_CLOEXEC)`: a filesystem context to configure.
pub fn fsopen(fs_name: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: fs_name is a valid NUL-terminated string for the call's
    // duration; the returned descriptor is new and owned by nobody else.
    let fd = check(unsafe { libc::syscall(libc::SYS_fsopen, fs_name.as_ptr(), FSOPEN_CLOEXEC) })?;
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `fsconfig(ctx, FSCONFIG_SET_STRING, key, value)`: one mount option.
pub fn fsconfig_set_string(ctx: BorrowedFd<'_>, key: &CStr, value: &CStr) -> io::Result<()> {
    // SAFETY: key and value are valid NUL-terminated strings; ctx is an open
    // descriptor; aux is unused (0) for SET_STRING.
    check(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_raw_fd(),
            FSCONFIG_SET_STRING,
            key.as_ptr(),
            value.as_ptr(),
            0,
        )
    })?;
    Ok(())
}

/// `fsconfig(ctx, FSCONFIG_CMD_CREATE)`: make the superblock.
pub fn fsconfig_create(ctx: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: no pointers are passed; ctx is an open descriptor.
    check(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    })?;
    Ok(())
}

/// `fsmount(ctx, FSMOUNT_CLOEXEC, attrs)`: a detached mount of the created
/// superblock. It is in no mount namespace and disappears with the last
/// descriptor or open file that refers to it.
pub fn fsmount(ctx: BorrowedFd<'_>, attrs: libc::c_uint) -> io::Result<OwnedFd> {
    // SAFETY: no pointers are passed; the returned descriptor is new.
    let fd = check(unsafe {
        libc::syscall(libc::SYS_fsmount, ctx.as_raw_fd(), FSMOUNT_CLOEXEC, attrs)
    })?;
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `struct mount_attr` (Linux 5.12, `MOUNT_ATTR_SIZE_VER0`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MountAttr {
    /// `MOUNT_ATTR_*` to set.
    pub attr_set: u64,
    /// `MOUNT_ATTR_*` to clear (the whole `MOUNT_ATTR__ATIME` field when
    /// an access-time value is set).
    pub attr_clr: u64,
    /// `MS_SHARED`, `MS_SLAVE`, ... or 0 to leave propagation alone.
    pub propagation: u64,
    /// For `MOUNT_ATTR_IDMAP`: a descriptor of the user namespace whose
    /// mappings the mount applies.
    pub userns_fd: u64,
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH | (AT_RECURSIVE), attr)`: change
/// the attributes of the mount `fd` refers to (an `O_PATH` descriptor of
/// its root) and, with `recursive`, of every mount below it.
pub fn mount_setattr(fd: BorrowedFd<'_>, recursive: bool, attr: &MountAttr) -> io::Result<()> {
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    // SAFETY: the path is a valid empty C string, `attr` is a properly laid
    // out mount_attr that outlives the call and its size is passed with it;
    // fd is an open descriptor.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })?;
    Ok(())
}

/// `open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
/// (AT_RECURSIVE))`: a detached copy of the mount at `path` (with the
/// mounts below it when `recursive`, as `rbind` does), in no mount
/// namespace until [`move_mount`] attaches it. The caller's mount
/// namespace must be the one `path`'s mount is in.
pub fn open_tree_clone(path: &Path, recursive: bool) -> io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: `c` is a valid NUL-terminated path for the call's duration;
    // AT_FDCWD needs no descriptor; the returned descriptor is new.
    let fd =
        check(unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) })?;
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `move_mount(from, "", to, "", MOVE_MOUNT_F_EMPTY_PATH |
/// MOVE_MOUNT_T_EMPTY_PATH)`: attaches the detached mount `from` (from
/// [`open_tree_clone`] or [`fsmount`]) on the file or directory `to`
/// refers to (an `O_PATH` descriptor is enough), in the caller's mount
/// namespace.
pub fn move_mount(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: both paths are valid empty C strings; from and to are open
    // descriptors for the call's duration.
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            to.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    })?;
    Ok(())
}
