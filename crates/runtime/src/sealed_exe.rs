//! CVE-2019-5736: a process in the container must never get a writable
//! handle on the runtime's binary. The init and exec'd processes are forks
//! of the runtime, so until their `execve` their `/proc/<pid>/exe` is the
//! runtime binary; a container with CAP_SYS_PTRACE can open it, keep the
//! descriptor, and reopen it for writing once no runtime runs it.
//!
//! So the commands that put a process into a container (`create`, `run`,
//! `exec`) first re-execute the runtime from a view of its binary that
//! cannot be written: a private read-only overlayfs whose only layers are
//! the binary's directory and an empty one (no upper layer, so no way to
//! make it writable, unlike a read-only bind mount which a privileged
//! process can clone and remount), mounted detached with the new mount API
//! so it is in no mount namespace. No bytes are copied. Where overlayfs or
//! the new mount API is missing, the binary is copied into a sealed memfd
//! instead (runc 1.1's and crun's way; costs a copy of the binary).
//!
//! The re-executed runtime finds [`MARKER`] in its environment, checks that
//! its `/proc/self/exe` really is such a view (read-only overlayfs or a
//! fully sealed memfd) and removes the marker; the marker alone never
//! skips the protection.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use nix::fcntl::AtFlags;
use nix::fcntl::{fcntl, FcntlArg, OFlag, SealFlag};
use nix::sys::stat::Mode;
use nix::sys::statfs::{fstatfs, OVERLAYFS_SUPER_MAGIC};

/// Set by the runtime for its own re-executed copy.
pub const MARKER: &str = "_BERTH_SEALED_EXE";

/// The seals that make a memfd immutable.
fn base_seals() -> SealFlag {
    SealFlag::F_SEAL_SEAL | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("failed to {0}")]
    Io(&'static str, #[source] io::Error),
    #[error("failed to {0}")]
    Sys(&'static str, #[source] nix::Error),
    #[error("the re-executed runtime is not running from a read-only or sealed binary (CVE-2019-5736 protection)")]
    NotSealed,
}

/// How the running binary is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealed {
    /// A read-only overlayfs view of the binary.
    Overlay,
    /// A sealed memfd copy.
    Memfd,
}

/// Returns once this process runs from a sealed view of its binary;
/// otherwise makes one and re-executes into it (same argv, same
/// environment plus [`MARKER`]), so on success it does not return.
/// `empty_dir` is an existing directory used as the overlay's second,
/// lower layer (overlayfs needs two layers when it has no upper one); the
/// binary's own directory sits above it, so nothing in it can mask the
/// binary.
pub fn ensure(empty_dir: &Path) -> Result<Sealed, SealError> {
    if std::env::var_os(MARKER).is_some() {
        // Nothing is forked or threaded yet: removing it is safe, and it
        // must not reach hooks or anything else this process starts.
        std::env::remove_var(MARKER);
        return running_sealed()?.ok_or(SealError::NotSealed);
    }
    let exe = match overlay_view(empty_dir) {
        Ok(fd) => fd,
        Err(_) => memfd_copy()?,
    };
    reexec(&exe)
}

/// Which sealed view `/proc/self/exe` is, if any.
pub fn running_sealed() -> Result<Option<Sealed>, SealError> {
    let exe = File::open("/proc/self/exe").map_err(|e| SealError::Io("open /proc/self/exe", e))?;
    if let Ok(seals) = fcntl(&exe, FcntlArg::F_GET_SEALS) {
        let seals = SealFlag::from_bits_truncate(seals);
        return Ok(seals.contains(base_seals()).then_some(Sealed::Memfd));
    }
    let fs = fstatfs(&exe).map_err(|e| SealError::Sys("statfs /proc/self/exe", e))?;
    let read_only = fs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY);
    Ok((fs.filesystem_type() == OVERLAYFS_SUPER_MAGIC && read_only).then_some(Sealed::Overlay))
}

/// The binary opened (`O_PATH`) through a fresh, detached, read-only
/// overlayfs of its directory.
fn overlay_view(empty_dir: &Path) -> Result<OwnedFd, SealError> {
    let real = std::fs::read_link("/proc/self/exe")
        .map_err(|e| SealError::Io("read /proc/self/exe", e))?;
    let (Some(dir), Some(name)) = (real.parent(), real.file_name()) else {
        return Err(SealError::Io(
            "split the runtime binary's path",
            io::ErrorKind::InvalidInput.into(),
        ));
    };
    let ctx =
        berth_sys::fsmount::fsopen(c"overlay").map_err(|e| SealError::Io("fsopen overlay", e))?;
    let lower = [
        escape_lowerdir(dir.as_os_str()),
        escape_lowerdir(empty_dir.as_os_str()),
    ]
    .join(&b':');
    let lower = CString::new(lower)
        .map_err(|_| SealError::Io("use a path with NUL", io::ErrorKind::InvalidInput.into()))?;
    berth_sys::fsmount::fsconfig_set_string(ctx.as_fd(), c"lowerdir", &lower)
        .map_err(|e| SealError::Io("set overlay lowerdir", e))?;
    // Inode number mapping is useless here and logs warnings when the
    // layers sit on different filesystems; old kernels lack the option.
    let _ = berth_sys::fsmount::fsconfig_set_string(ctx.as_fd(), c"xino", c"off");
    berth_sys::fsmount::fsconfig_create(ctx.as_fd())
        .map_err(|e| SealError::Io("create the overlay", e))?;
    use berth_sys::fsmount::{MOUNT_ATTR_NODEV, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY};
    let mnt = berth_sys::fsmount::fsmount(
        ctx.as_fd(),
        MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
    )
    .map_err(|e| SealError::Io("mount the overlay", e))?;
    nix::fcntl::openat(
        mnt,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| SealError::Sys("open the binary through the overlay", e))
}

/// overlayfs splits `lowerdir` at `:` and unescapes `\`.
fn escape_lowerdir(path: &OsStr) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b == b':' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

/// A sealed memfd holding a copy of the binary.
fn memfd_copy() -> Result<OwnedFd, SealError> {
    let mut src =
        File::open("/proc/self/exe").map_err(|e| SealError::Io("open /proc/self/exe", e))?;
    let memfd = berth_sys::memfd_create_executable(c"berth-runtime")
        .map_err(|e| SealError::Io("create a memfd", e))?;
    let mut dst = File::from(memfd);
    io::copy(&mut src, &mut dst)
        .map_err(|e| SealError::Io("copy the runtime binary into a memfd", e))?;
    fcntl(&dst, FcntlArg::F_ADD_SEALS(base_seals()))
        .map_err(|e| SealError::Sys("seal the memfd", e))?;
    Ok(OwnedFd::from(dst))
}

fn reexec(exe: &OwnedFd) -> Result<Sealed, SealError> {
    let to_c = |s: &OsStr| {
        CString::new(s.as_bytes()).map_err(|_| {
            SealError::Io(
                "pass an argument with NUL",
                io::ErrorKind::InvalidInput.into(),
            )
        })
    };
    let argv = std::env::args_os()
        .map(|a| to_c(&a))
        .collect::<Result<Vec<_>, _>>()?;
    let mut env = Vec::new();
    for (k, v) in std::env::vars_os() {
        let mut kv = k.into_vec();
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        env.push(CString::new(kv).map_err(|_| {
            SealError::Io(
                "pass an environment with NUL",
                io::ErrorKind::InvalidInput.into(),
            )
        })?);
    }
    env.push(CString::new(format!("{MARKER}=1")).expect("no NUL"));
    let err = nix::unistd::execveat(exe, c"", &argv, &env, AtFlags::AT_EMPTY_PATH).unwrap_err();
    Err(SealError::Sys(
        "re-execute the runtime from its sealed binary",
        err,
    ))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn lowerdir_escapes_colons_and_backslashes() {
        assert_eq!(
            escape_lowerdir(OsStr::new(r"/a:b\c")),
            br"/a\:b\\c".to_vec()
        );
    }

    #[test]
    fn memfd_copy_is_the_binary_and_refuses_writes() {
        let fd = memfd_copy().unwrap();
        let seals = SealFlag::from_bits_truncate(fcntl(&fd, FcntlArg::F_GET_SEALS).unwrap());
        assert!(seals.contains(base_seals()));
        let copy = std::fs::read(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&fd)
        ))
        .unwrap();
        assert_eq!(copy, std::fs::read("/proc/self/exe").unwrap());
        let mut w = File::from(fd);
        assert!(
            w.write_all(b"PWNED").is_err(),
            "a sealed memfd took a write"
        );
    }
}
