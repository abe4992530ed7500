//! Extended attributes and an overlay-friendly mount: the file system calls
//! the image crate needs that nix does not wrap.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::{check, clone_process, exit_now, Forked};

/// `fsetxattr(2)`: sets attribute `name` on the open file `fd`.
pub fn set_xattr_fd(fd: BorrowedFd<'_>, name: &CStr, value: &[u8]) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated and `value` is a live slice of the
    // stated length for the duration of the call.
    let ret = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    check(ret as libc::c_long).map(drop)
}

/// `lsetxattr(2)` on an absolute or relative path, without following a
/// final symlink (used for symlinks, which cannot be opened for writing).
pub fn set_xattr_nofollow(path: &CStr, name: &CStr, value: &[u8]) -> io::Result<()> {
    // SAFETY: both strings are NUL-terminated; `value` is live for the call.
    let ret = unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    check(ret as libc::c_long).map(drop)
}

/// `lgetxattr(2)`: the value of attribute `name` of `path` (a final symlink
/// is not followed), or `None` when it is not set.
pub fn get_xattr_nofollow(path: &CStr, name: &CStr) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; 64 * 1024];
    // SAFETY: the strings are NUL-terminated; the kernel writes at most
    // `buf.len()` bytes into `buf`.
    let ret = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    match check(ret as libc::c_long) {
        Ok(n) => {
            buf.truncate(n as usize);
            Ok(Some(buf))
        }
        Err(e) if e.raw_os_error() == Some(libc::ENODATA) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `mount(2)` done by a short-lived child whose working directory is `dir`,
/// so relative paths in `data` (overlayfs `lowerdir=1/fs:2/fs`) resolve
/// there. The mount data of `mount(2)` is limited to one page; relative
/// paths keep a deep image's layer list under it, which is how containerd
/// and Podman mount overlays of 100+ layers. The child shares the caller's
/// mount namespace, so the mount is visible to the caller when this
/// returns. `target` should be absolute.
pub fn mount_in_dir(
    dir: BorrowedFd<'_>,
    source: &CStr,
    target: &CStr,
    fstype: &CStr,
    flags: libc::c_ulong,
    data: &CStr,
) -> io::Result<()> {
    // Everything the child touches is prepared here: after a fork in a
    // threaded process the child may only make raw syscalls.
    let dir = dir.as_raw_fd();
    match clone_process(0)? {
        Forked::Child => {
            // SAFETY: fchdir and mount are raw syscalls on descriptors and
            // NUL-terminated strings that live in this (copied) address
            // space; nothing allocates or takes a lock.
            let err = unsafe {
                if libc::fchdir(dir) != 0
                    || libc::mount(
                        source.as_ptr(),
                        target.as_ptr(),
                        fstype.as_ptr(),
                        flags,
                        data.as_ptr().cast(),
                    ) != 0
                {
                    *libc::__errno_location()
                } else {
                    0
                }
            };
            exit_now(err.clamp(0, 255))
        }
        Forked::Parent(pid) => {
            let mut status = 0;
            loop {
                // SAFETY: waits for our own child; `status` is a local int.
                let ret = unsafe { libc::waitpid(pid, &mut status, 0) };
                if ret >= 0 {
                    break;
                }
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            if !libc::WIFEXITED(status) {
                return Err(io::Error::other("mount helper process died"));
            }
            match libc::WEXITSTATUS(status) {
                0 => Ok(()),
                errno => Err(io::Error::from_raw_os_error(errno)),
            }
        }
    }
}

/// Runs an xattr call that fills a buffer (`listxattr`, `getxattr`),
/// first asking for the size, then retrying while the value grows under
/// us (`ERANGE`).
fn xattr_buffer(
    mut call: impl FnMut(*mut libc::c_void, usize) -> libc::ssize_t,
) -> io::Result<Vec<u8>> {
    loop {
        let size = check(call(std::ptr::null_mut(), 0) as libc::c_long)? as usize;
        if size == 0 {
            return Ok(Vec::new());
        }
        let mut buf = vec![0u8; size];
        match check(call(buf.as_mut_ptr().cast(), buf.len()) as libc::c_long) {
            Ok(n) => {
                buf.truncate(n as usize);
                return Ok(buf);
            }
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// `flistxattr(2)`: the names of the attributes of the open file `fd`,
/// each followed by a NUL byte (empty: none).
pub fn list_xattr_fd(fd: BorrowedFd<'_>) -> io::Result<Vec<u8>> {
    // SAFETY: the kernel writes at most `len` bytes at `buf`, which is
    // either null with len 0 (a size query) or a live buffer of len bytes.
    xattr_buffer(|buf, len| unsafe { libc::flistxattr(fd.as_raw_fd(), buf.cast(), len) })
}

/// `llistxattr(2)`: like [`list_xattr_fd`] for a path whose final
/// component is not followed (a symlink's own attributes).
pub fn list_xattr_nofollow(path: &CStr) -> io::Result<Vec<u8>> {
    // SAFETY: `path` is NUL-terminated; the buffer is as in list_xattr_fd.
    xattr_buffer(|buf, len| unsafe { libc::llistxattr(path.as_ptr(), buf.cast(), len) })
}

/// `fgetxattr(2)`: the value of attribute `name` of the open file `fd`,
/// or `None` when it is not set.
pub fn get_xattr_fd(fd: BorrowedFd<'_>, name: &CStr) -> io::Result<Option<Vec<u8>>> {
    // SAFETY: `name` is NUL-terminated; the buffer is as in list_xattr_fd.
    let got = xattr_buffer(|buf, len| unsafe {
        libc::fgetxattr(fd.as_raw_fd(), name.as_ptr(), buf, len)
    });
    match got {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.raw_os_error() == Some(libc::ENODATA) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `lgetxattr(2)` with a buffer sized for the value (unlike
/// [`get_xattr_nofollow`]'s fixed 64 KiB one).
pub fn get_xattr_nofollow_sized(path: &CStr, name: &CStr) -> io::Result<Option<Vec<u8>>> {
    // SAFETY: both strings are NUL-terminated; the buffer is as in
    // list_xattr_fd.
    let got =
        xattr_buffer(|buf, len| unsafe { libc::lgetxattr(path.as_ptr(), name.as_ptr(), buf, len) });
    match got {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.raw_os_error() == Some(libc::ENODATA) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `fremovexattr(2)`: removes attribute `name` from the open file `fd`.
pub fn remove_xattr_fd(fd: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated and lives for the call.
    let ret = unsafe { libc::fremovexattr(fd.as_raw_fd(), name.as_ptr()) };
    check(ret as libc::c_long).map(drop)
}
