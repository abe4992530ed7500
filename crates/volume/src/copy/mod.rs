//! Docker's copy-up: the content an image has at a volume's mount point is
//! copied into the volume when a container first mounts it empty (moby
//! `populateVolume` → continuity `fs.CopyDir`).
//!
//! The source is hostile: it is a directory of a mounted container rootfs,
//! and an image chooses every name, type and symlink in it. So the path in
//! the container is resolved with `openat2(RESOLVE_IN_ROOT)` (a symlink
//! anywhere on it resolves as it would in the container, never out of the
//! rootfs), and the tree is walked by descriptor: every entry is opened or
//! examined relative to its parent's descriptor with `O_NOFOLLOW`, symlinks
//! are copied as symlinks and never followed, device nodes are made, never
//! opened. The destination is the engine's own directory; entries are made
//! there relative to descriptors too, so a container that shares the
//! volume cannot redirect the copy with a symlink either.
//!
//! What is kept: content (`copy_file_range`, then `sendfile`, then read and
//! write, whichever the two filesystems allow), owner, mode with the
//! setuid/setgid/sticky bits, access and modification times (directories'
//! after their content, unlike moby, whose directory times end up being the
//! copy's), extended attributes, hard links within the tree (all
//! non-directories, as `cp -a`; moby only regular files). Sockets are
//! skipped (moby makes a socket node; nothing can listen on it).
//!
//! Extended attributes: every namespace the source lists (`user.`,
//! `trusted.`, `security.` incl. `security.capability`, `system.` ACLs), as
//! moby does, except overlayfs's own `trusted.overlay.*` (overlayfs hides
//! them when read through the mount; skipped here anyway). An attribute the
//! destination filesystem does not support (`ENOTSUP`) is dropped and
//! counted, in every namespace: moby's `ignoreUnsupportedXAttrs` does the
//! same for every attribute. Any other failure fails the copy.
//!
//! The volume root takes the source directory's owner, mode, times and
//! attributes (moby does the same), applied last.
//!
//! Failure: the copy goes straight into the destination (it may be a
//! mount point, so no rename into place), but an error removes everything
//! the copy made and gives the root back its owner and mode, so a retry
//! starts from the empty volume (moby leaves the partial copy, and the next
//! start skips a non-empty volume). A process killed mid-copy still leaves a
//! partial copy; that is the engine's to detect (e.g. a marker it removes
//! when `copy_up` returns).

mod data;
mod remove;
mod walk;
mod xattr;

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::dir::Dir;
use nix::fcntl::{open, openat, OFlag};
use nix::sys::stat::{fchmod, fstat, Mode};
use nix::unistd::{fchown, Gid, Uid};

use crate::ErrorKind;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Deepest directory level copied. Each level holds two descriptors open
/// (source and destination), so this keeps a copy well inside the usual
/// limit of 1024; no real image comes near.
pub const MAX_DEPTH: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to open {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to resolve {path} in {}", rootfs.display())]
    Resolve {
        rootfs: PathBuf,
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("volume {} is not empty", path.display())]
    NotEmpty { path: PathBuf },
    /// One step on one entry; `path` is the entry in the container
    /// (source steps) or on the host (destination steps).
    #[error("failed to {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to {action} extended attribute {attr} of {}", path.display())]
    Xattr {
        action: &'static str,
        attr: String,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: more than {MAX_DEPTH} directory levels", path.display())]
    TooDeep { path: PathBuf },
    #[error("{}: changed while it was copied", path.display())]
    Changed { path: PathBuf },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Open { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                ErrorKind::NotFound
            }
            Error::NotEmpty { .. } => ErrorKind::Conflict,
            Error::TooDeep { .. } | Error::Resolve { .. } => ErrorKind::InvalidInput,
            _ => ErrorKind::Internal,
        }
    }
}

/// What a copy made.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CopyStats {
    /// Regular files written (hard links to them not counted).
    pub files: u64,
    /// Directories made below the volume root.
    pub dirs: u64,
    pub symlinks: u64,
    /// Entries made as a hard link to one copied before.
    pub hardlinks: u64,
    /// Character and block device nodes.
    pub devices: u64,
    pub fifos: u64,
    /// Sockets in the source, not copied.
    pub sockets_skipped: u64,
    /// Extended attributes the destination does not support (`ENOTSUP`).
    pub xattrs_dropped: u64,
    /// Bytes of regular file content written.
    pub bytes: u64,
}

/// Copies the tree at `path_in_container` of the mounted container rootfs
/// `rootfs` into the empty directory `dst` (a volume's `_data`, or its
/// mount point). `None` when the image has nothing to copy there: the path
/// does not exist or is not a directory (moby copies nothing then either).
/// Refuses a `dst` that is not empty ([`Error::NotEmpty`]); check with
/// [`is_empty`] first to skip such a volume silently, as Docker does.
pub fn copy_up(rootfs: &Path, path_in_container: &str, dst: &Path) -> Result<Option<CopyStats>> {
    let root = open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::Open {
        path: rootfs.into(),
        source: e.into(),
    })?;
    let Some(src) = resolve(&root, rootfs, path_in_container)? else {
        return Ok(None);
    };
    let dst_fd = open(
        dst,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::Open {
        path: dst.into(),
        source: e.into(),
    })?;
    let dst_dir = Dir::from_fd(dst_fd).map_err(|e| Error::Open {
        path: dst.into(),
        source: e.into(),
    })?;
    let (dst_dir, empty) = dir_is_empty(dst_dir).map_err(|e| Error::Open {
        path: dst.into(),
        source: e,
    })?;
    if !empty {
        return Err(Error::NotEmpty { path: dst.into() });
    }
    let before = fstat(dst_dir.as_fd()).map_err(|e| Error::Io {
        action: "stat",
        path: dst.into(),
        source: e.into(),
    })?;
    let before_xattrs = xattr::names_fd(dst_dir.as_fd()).unwrap_or_default();

    let mut copier = walk::Copier::new(Path::new(path_in_container), dst, dst_dir.as_fd());
    let copied = copier.copy_root(src).map(|()| copier.stats);
    if copied.is_err() {
        restore(dst_dir.as_fd(), &before, &before_xattrs);
        if let Err(e) = remove::contents(dst_dir.as_fd()) {
            tracing::warn!(path = %dst.display(), error = %e, "could not remove a failed copy-up");
        }
    }
    copied.map(Some)
}

/// True when the directory `dst` has no entries.
pub fn is_empty(dst: &Path) -> Result<bool> {
    let dir = Dir::open(
        dst,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::Open {
        path: dst.into(),
        source: e.into(),
    })?;
    dir_is_empty(dir)
        .map(|(_, empty)| empty)
        .map_err(|e| Error::Open {
            path: dst.into(),
            source: e,
        })
}

fn dir_is_empty(mut dir: Dir) -> io::Result<(Dir, bool)> {
    let mut empty = true;
    for entry in dir.iter() {
        let name = entry?.file_name().to_bytes().to_owned();
        if name != b"." && name != b".." {
            empty = false;
            break;
        }
    }
    Ok((dir, empty))
}

/// Opens the directory at `path` inside `root` as the container would see
/// it: `RESOLVE_IN_ROOT` keeps every symlink and `..` inside the rootfs.
/// `None` when nothing is there or it is not a directory.
fn resolve(root: &OwnedFd, rootfs: &Path, path: &str) -> Result<Option<Dir>> {
    let fail = |source: io::Error| Error::Resolve {
        rootfs: rootfs.into(),
        path: path.into(),
        source,
    };
    let cpath =
        CString::new(path).map_err(|e| fail(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
    let how = berth_sys::resolve::IN_ROOT | berth_sys::resolve::NO_MAGICLINKS;
    let fd = match berth_sys::openat2(root.as_fd(), &cpath, libc::O_PATH, 0, how) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
        Err(e) => return Err(fail(e)),
    };
    let st = fstat(fd.as_fd()).map_err(|e| fail(e.into()))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Ok(None);
    }
    // Reopening "." of the O_PATH descriptor gives a readable one of the
    // same directory, with no second lookup by name.
    let dir = Dir::openat(
        fd.as_fd(),
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| fail(e.into()))?;
    Ok(Some(dir))
}

/// Puts the volume root back as it was before a failed copy (owner, mode,
/// no attribute it did not have); best effort, the error is the copy's.
fn restore(dst: BorrowedFd<'_>, before: &libc::stat, xattrs: &[CString]) {
    let _ = fchown(
        dst,
        Some(Uid::from_raw(before.st_uid)),
        Some(Gid::from_raw(before.st_gid)),
    );
    let _ = fchmod(dst, Mode::from_bits_truncate(before.st_mode & 0o7777));
    for name in xattr::names_fd(dst).unwrap_or_default() {
        if !xattrs.contains(&name) {
            let _ = berth_sys::fs::remove_xattr_fd(dst, &name);
        }
    }
}

/// Opens `name` in `dir` for copying out of it: never following a
/// symlink, never blocking on a FIFO, never taking a terminal.
fn open_in(dir: BorrowedFd<'_>, name: &std::ffi::CStr, dir_only: bool) -> nix::Result<OwnedFd> {
    let mut flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    if dir_only {
        flags |= OFlag::O_DIRECTORY;
    } else {
        flags |= OFlag::O_NONBLOCK | OFlag::O_NOCTTY;
    }
    openat(dir, name, flags, Mode::empty())
}
