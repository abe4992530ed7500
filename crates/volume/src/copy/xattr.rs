//! Extended attributes of one entry, copied by descriptor where there is
//! one (files, directories) and by a path through the parent directory's
//! /proc link, never following the final component, where there is not
//! (symlinks, device nodes, FIFOs: opening those is what we avoid).

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

use berth_sys::fs as sysfs;

use super::Error;

/// overlayfs's own attributes: never part of an image's content.
const OVERLAY_PREFIX: &[u8] = b"trusted.overlay.";

/// An entry's attributes are reached through...
pub(super) enum Side<'a> {
    /// ... its open descriptor;
    Fd(BorrowedFd<'a>),
    /// ... its parent directory's descriptor and its name.
    Entry(BorrowedFd<'a>, &'a CStr),
}

impl Side<'_> {
    fn path(dir: BorrowedFd<'_>, name: &CStr) -> CString {
        let mut p = format!("/proc/thread-self/fd/{}/", dir.as_raw_fd()).into_bytes();
        p.extend_from_slice(name.to_bytes());
        CString::new(p).expect("a name from readdir has no NUL")
    }

    fn list(&self) -> io::Result<Vec<u8>> {
        match self {
            Side::Fd(fd) => sysfs::list_xattr_fd(*fd),
            Side::Entry(dir, name) => sysfs::list_xattr_nofollow(&Self::path(*dir, name)),
        }
    }

    fn get(&self, attr: &CStr) -> io::Result<Option<Vec<u8>>> {
        match self {
            Side::Fd(fd) => sysfs::get_xattr_fd(*fd, attr),
            Side::Entry(dir, name) => {
                sysfs::get_xattr_nofollow_sized(&Self::path(*dir, name), attr)
            }
        }
    }

    fn set(&self, attr: &CStr, value: &[u8]) -> io::Result<()> {
        match self {
            Side::Fd(fd) => sysfs::set_xattr_fd(*fd, attr, value),
            Side::Entry(dir, name) => {
                sysfs::set_xattr_nofollow(&Self::path(*dir, name), attr, value)
            }
        }
    }
}

/// A failed attribute step, turned into an [`Error`] by the caller, who
/// knows the entry's paths.
pub(super) struct Failed {
    action: &'static str,
    attr: Option<CString>,
    on_source: bool,
    source: io::Error,
}

impl Failed {
    pub(super) fn into_error(self, src: &Path, dst: &Path) -> Error {
        let path: PathBuf = if self.on_source {
            src.into()
        } else {
            dst.into()
        };
        match self.attr {
            Some(attr) => Error::Xattr {
                action: self.action,
                attr: attr.to_string_lossy().into_owned(),
                path,
                source: self.source,
            },
            None => Error::Io {
                action: self.action,
                path,
                source: self.source,
            },
        }
    }
}

fn unsupported(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EOPNOTSUPP)
}

/// Copies every attribute of `src` but overlayfs's to `dst`; returns how
/// many the destination does not support (dropped, as moby does).
pub(super) fn copy(src: Side<'_>, dst: Side<'_>) -> Result<u64, Failed> {
    let names = match src.list() {
        Ok(n) => n,
        // A source filesystem without attributes has none to copy.
        Err(e) if unsupported(&e) => return Ok(0),
        Err(source) => {
            return Err(Failed {
                action: "list extended attributes of",
                attr: None,
                on_source: true,
                source,
            })
        }
    };
    let mut dropped = 0;
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        if name.starts_with(OVERLAY_PREFIX) {
            continue;
        }
        let attr = CString::new(name).expect("split on NUL");
        let value = match src.get(&attr) {
            Ok(Some(v)) => v,
            // Removed since it was listed.
            Ok(None) => continue,
            Err(source) => {
                return Err(Failed {
                    action: "read",
                    attr: Some(attr),
                    on_source: true,
                    source,
                })
            }
        };
        match dst.set(&attr, &value) {
            Ok(()) => {}
            Err(e) if unsupported(&e) => dropped += 1,
            Err(source) => {
                return Err(Failed {
                    action: "set",
                    attr: Some(attr),
                    on_source: false,
                    source,
                })
            }
        }
    }
    Ok(dropped)
}

/// The attribute names an open file has (none where unsupported).
pub(super) fn names_fd(fd: BorrowedFd<'_>) -> io::Result<Vec<CString>> {
    let list = match sysfs::list_xattr_fd(fd) {
        Ok(l) => l,
        Err(e) if unsupported(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(list
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| CString::new(n).expect("split on NUL"))
        .collect())
}
