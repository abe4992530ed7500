//! Descriptor-relative file operations the context and `COPY`/`ADD` share:
//! every path inside a root (the context, a stage's rootfs, an `ADD`
//! archive's destination) is resolved with `openat2(RESOLVE_IN_ROOT)`, so a
//! symlink anywhere on it resolves as it would with that root as `/`, never
//! out of it.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use berth_sys::{openat2, resolve};
use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, mkdirat, FileStat, Mode};
use nix::unistd::{fchownat, Gid, Uid};
use std::os::unix::ffi::OsStrExt;

use crate::error::{Error, Result};

pub(crate) fn cstr(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::Unsupported(format!("path {s:?} contains a NUL byte")))
}

/// Opens a root directory given by a host path.
pub(crate) fn open_root(path: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io("open", path.display().to_string(), e))
}

/// Opens `rel` (relative, may be empty for the root) inside `root`.
pub(crate) fn open_in(root: BorrowedFd<'_>, rel: &str, flags: OFlag) -> io::Result<OwnedFd> {
    let rel = if rel.is_empty() { "." } else { rel };
    let c = CString::new(rel).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    openat2(root, &c, flags.bits(), 0, resolve::IN_ROOT)
}

pub(crate) fn open_dir_in(root: BorrowedFd<'_>, rel: &str) -> io::Result<OwnedFd> {
    open_in(root, rel, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
}

/// `lstat` of `name` in the directory `dir`.
pub(crate) fn lstat_at(dir: BorrowedFd<'_>, name: &CString) -> io::Result<FileStat> {
    fstatat(dir, name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW).map_err(io::Error::from)
}

/// Opens the child directory `name` of `dir`, never following a symlink.
pub(crate) fn open_child_dir(dir: BorrowedFd<'_>, name: &CString) -> io::Result<OwnedFd> {
    openat(
        dir,
        name.as_c_str(),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(io::Error::from)
}

/// Splits a clean relative path into its directory and last component.
pub(crate) fn split(rel: &str) -> (&str, &str) {
    match rel.rfind('/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => ("", rel),
    }
}

pub(crate) fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a}/{b}"),
    }
}

/// `mkdir -p` of `rel` inside `root`: each missing directory is made
/// 0755 and owned by `owner`. Returns the directory, opened.
pub(crate) fn mkdir_all_in(root: BorrowedFd<'_>, rel: &str, owner: (u32, u32)) -> Result<OwnedFd> {
    mkdir_all_depth(root, rel, owner, 0)
}

/// Symlinks followed to a missing directory before giving up (the
/// kernel's own limit).
const MAX_LINKS: usize = 40;

fn mkdir_all_depth(
    root: BorrowedFd<'_>,
    rel: &str,
    owner: (u32, u32),
    links: usize,
) -> Result<OwnedFd> {
    match open_dir_in(root, rel) {
        Ok(fd) => return Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
            return Err(Error::CopyToNonDir(format!("/{rel}")))
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) && !rel.is_empty() => {}
        Err(e) => return Err(Error::io("open", format!("/{rel}"), e)),
    }
    let (dir, base) = split(rel);
    let parent = mkdir_all_depth(root, dir, owner, links)?;
    let name = cstr(base)?;
    match mkdirat(
        parent.as_fd(),
        name.as_c_str(),
        Mode::from_bits_truncate(0o755),
    ) {
        Ok(()) => {
            fchownat(
                parent.as_fd(),
                name.as_c_str(),
                Some(Uid::from_raw(owner.0)),
                Some(Gid::from_raw(owner.1)),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(|e| Error::io("chown", format!("/{rel}"), e))?;
        }
        Err(Errno::EEXIST) => {
            // A symlink to a missing directory: make its target, inside
            // the root, as a path walk in the container would find it.
            if let Ok(target) = readlinkat(parent.as_fd(), name.as_c_str()) {
                if links >= MAX_LINKS {
                    return Err(Error::io("resolve", format!("/{rel}"), Errno::ELOOP));
                }
                let target = String::from_utf8_lossy(target.as_bytes()).into_owned();
                let joined = if target.starts_with('/') {
                    target
                } else {
                    format!("/{dir}/{target}")
                };
                let cleaned = crate::gomatch::clean(&joined);
                mkdir_all_depth(root, cleaned.trim_start_matches('/'), owner, links + 1)?;
            }
        }
        Err(e) => return Err(Error::io("mkdir", format!("/{rel}"), e)),
    }
    open_dir_in(root, rel).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOTDIR) => Error::CopyToNonDir(format!("/{rel}")),
        _ => Error::io("open", format!("/{rel}"), e),
    })
}

pub(crate) fn is_enoent(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR))
}
