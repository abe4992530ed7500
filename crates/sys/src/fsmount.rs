//! The new mount API (`fsopen`, `fsconfig`, `fsmount`, Linux 5.2): a
//! filesystem instance made and mounted without ever being attached to a
//! mount namespace. berth uses it for a private read-only overlayfs over
//! its own binary (CVE-2019-5736).

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use crate::check;

const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;

/// Mount attributes for [`fsmount`] (`MOUNT_ATTR_*`).
pub const MOUNT_ATTR_RDONLY: libc::c_uint = 0x1;
pub const MOUNT_ATTR_NOSUID: libc::c_uint = 0x2;
pub const MOUNT_ATTR_NODEV: libc::c_uint = 0x4;

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
