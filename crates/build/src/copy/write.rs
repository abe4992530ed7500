//! Writing a walked source into the destination root filesystem. Every
//! entry is made relative to its destination directory's descriptor with
//! `O_EXCL|O_NOFOLLOW` after removing what was there (never a directory:
//! Docker refuses to replace one with a file), so no write follows a link
//! the image has at that name.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::rc::Rc;

use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{
    fchmod, fchmodat, futimens, mkdirat, mknodat, utimensat, FchmodatFlags, FileStat, Mode, SFlag,
    UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};

use crate::copy::walk::{kind, Entry, Visitor};
use crate::error::{Error, Result};
use crate::fsops::{lstat_at, open_child_dir};

/// Who owns what a copy makes.
#[derive(Clone, Copy)]
pub(crate) enum Owners {
    /// `--chown`, or root:root for the context's files.
    Fixed(u32, u32),
    /// A `--from` source's own owners.
    Keep,
}

impl Owners {
    fn of(self, st: &FileStat) -> (u32, u32) {
        match self {
            Owners::Fixed(u, g) => (u, g),
            Owners::Keep => (st.st_uid, st.st_gid),
        }
    }
}

/// Where the walked source goes.
pub(crate) enum Target {
    /// A directory source's contents go into this directory.
    Into(Rc<OwnedFd>),
    /// A non-directory source becomes this name in this directory.
    As(Rc<OwnedFd>, CString),
}

pub(crate) struct Writer {
    target: Target,
    owners: Owners,
    chmod: Option<u32>,
    /// Destination directories being filled, and whether this copy made
    /// them (only those take the source's metadata).
    stack: Vec<(Rc<OwnedFd>, bool)>,
    /// Hard links: (dev, ino) of a source file → where it was written.
    links: HashMap<(u64, u64), (Rc<OwnedFd>, CString)>,
    /// For error messages: the destination's path.
    dest: String,
}

impl Writer {
    pub fn new(target: Target, owners: Owners, chmod: Option<u32>, dest: String) -> Writer {
        Writer {
            target,
            owners,
            chmod,
            stack: Vec::new(),
            links: HashMap::new(),
            dest,
        }
    }

    fn err(&self, what: &'static str, e: impl Into<io::Error>) -> Error {
        Error::io(what, self.dest.clone(), e)
    }

    fn mode(&self, st: &FileStat) -> Mode {
        Mode::from_bits_truncate(self.chmod.unwrap_or(st.st_mode & 0o7777))
    }
}

/// Removes a non-directory at `name` so a new entry can take its place.
pub(crate) fn clear_slot(dir: BorrowedFd<'_>, name: &CStr, dest: &str) -> Result<()> {
    match lstat_at(dir, &name.to_owned()) {
        Ok(st) if kind(&st) == SFlag::S_IFDIR => Err(Error::ReplaceDir(dest.to_owned())),
        Ok(_) => unlinkat(dir, name, UnlinkatFlags::NoRemoveDir)
            .map_err(|e| Error::io("remove", dest.to_owned(), e)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        Err(e) => Err(Error::io("stat", dest.to_owned(), e)),
    }
}

pub(crate) fn times(st: &FileStat) -> (TimeSpec, TimeSpec) {
    (
        TimeSpec::new(st.st_atime, st.st_atime_nsec),
        TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
    )
}

/// Writes a new regular file with `content` (a heredoc, or an archive
/// entry's reader).
pub(crate) fn create_file(
    dir: BorrowedFd<'_>,
    name: &CStr,
    content: &mut dyn io::Read,
    owner: (u32, u32),
    mode: Mode,
    dest: &str,
) -> Result<File> {
    clear_slot(dir, name, dest)?;
    let fd = openat(
        dir,
        name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| Error::io("create", dest.to_owned(), e))?;
    let mut file = File::from(fd);
    io::copy(content, &mut file).map_err(|e| Error::io("write", dest.to_owned(), e))?;
    file.flush()
        .map_err(|e| Error::io("write", dest.to_owned(), e))?;
    // chown before chmod: chown clears the setuid/setgid bits.
    fchown(
        &file,
        Some(Uid::from_raw(owner.0)),
        Some(Gid::from_raw(owner.1)),
    )
    .map_err(|e| Error::io("chown", dest.to_owned(), e))?;
    fchmod(&file, mode).map_err(|e| Error::io("chmod", dest.to_owned(), e))?;
    Ok(file)
}

impl Visitor for Writer {
    fn enter_dir(&mut self, e: &Entry<'_>) -> Result<()> {
        if e.rel.is_empty() {
            let Target::Into(fd) = &self.target else {
                return Err(Error::CopyToNonDir(self.dest.clone()));
            };
            self.stack.push((fd.clone(), false));
            return Ok(());
        }
        let (parent, _) = self.stack.last().expect("inside the top directory").clone();
        let name = e.name.to_owned();
        let dest = format!("{}/{}", self.dest, e.rel);
        let created = match lstat_at(parent.as_fd(), &name) {
            Ok(st) if kind(&st) == SFlag::S_IFDIR => false,
            Ok(_) => return Err(Error::CopyToNonDir(dest)),
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => {
                mkdirat(parent.as_fd(), e.name, Mode::from_bits_truncate(0o700))
                    .map_err(|err| Error::io("mkdir", dest.clone(), err))?;
                true
            }
            Err(err) => return Err(Error::io("stat", dest, err)),
        };
        let fd =
            open_child_dir(parent.as_fd(), &name).map_err(|err| Error::io("open", dest, err))?;
        self.stack.push((Rc::new(fd), created));
        Ok(())
    }

    fn leave_dir(&mut self, e: &Entry<'_>) -> Result<()> {
        let (fd, created) = self.stack.pop().expect("entered");
        if !created {
            return Ok(());
        }
        let (uid, gid) = self.owners.of(e.st);
        fchown(&fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
            .map_err(|err| self.err("chown", err))?;
        fchmod(&fd, self.mode(e.st)).map_err(|err| self.err("chmod", err))?;
        let (a, m) = times(e.st);
        futimens(&fd, &a, &m).map_err(|err| self.err("set times on", err))
    }

    fn entry(&mut self, e: &Entry<'_>) -> Result<()> {
        let (dir, name) = if e.rel.is_empty() {
            match &self.target {
                Target::As(dir, name) => (dir.clone(), name.clone()),
                Target::Into(dir) => (dir.clone(), e.name.to_owned()),
            }
        } else {
            (
                self.stack.last().expect("inside a directory").0.clone(),
                e.name.to_owned(),
            )
        };
        let dest = if e.rel.is_empty() {
            self.dest.clone()
        } else {
            format!("{}/{}", self.dest, e.rel)
        };
        let owner = self.owners.of(e.st);
        let (atime, mtime) = times(e.st);
        let k = kind(e.st);
        if k == SFlag::S_IFSOCK {
            return Ok(());
        }
        // A second name of a file already copied becomes a hard link.
        let key = (e.st.st_dev, e.st.st_ino);
        if k != SFlag::S_IFDIR && e.st.st_nlink > 1 {
            if let Some((ldir, lname)) = self.links.get(&key) {
                clear_slot(dir.as_fd(), &name, &dest)?;
                linkat(
                    ldir.as_fd(),
                    lname.as_c_str(),
                    dir.as_fd(),
                    name.as_c_str(),
                    AtFlags::empty(),
                )
                .map_err(|err| Error::io("link", dest.clone(), err))?;
                return Ok(());
            }
        }
        match k {
            SFlag::S_IFREG => {
                let src = openat(
                    e.parent.as_fd(),
                    e.name,
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|err| Error::io("open", dest.clone(), err))?;
                let mut src = File::from(src);
                let file =
                    create_file(dir.as_fd(), &name, &mut src, owner, self.mode(e.st), &dest)?;
                futimens(&file, &atime, &mtime)
                    .map_err(|err| Error::io("set times on", dest.clone(), err))?;
            }
            SFlag::S_IFLNK => {
                let target = readlinkat(e.parent.as_fd(), e.name)
                    .map_err(|err| Error::io("readlink", dest.clone(), err))?;
                clear_slot(dir.as_fd(), &name, &dest)?;
                symlinkat(target.as_os_str(), dir.as_fd(), name.as_c_str())
                    .map_err(|err| Error::io("symlink", dest.clone(), err))?;
                fchownat(
                    dir.as_fd(),
                    name.as_c_str(),
                    Some(Uid::from_raw(owner.0)),
                    Some(Gid::from_raw(owner.1)),
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )
                .map_err(|err| Error::io("chown", dest.clone(), err))?;
                utimensat(
                    dir.as_fd(),
                    name.as_c_str(),
                    &atime,
                    &mtime,
                    UtimensatFlags::NoFollowSymlink,
                )
                .map_err(|err| Error::io("set times on", dest.clone(), err))?;
            }
            SFlag::S_IFIFO | SFlag::S_IFCHR | SFlag::S_IFBLK => {
                clear_slot(dir.as_fd(), &name, &dest)?;
                mknodat(
                    dir.as_fd(),
                    name.as_c_str(),
                    k,
                    Mode::from_bits_truncate(0o600),
                    e.st.st_rdev,
                )
                .map_err(|err| match err {
                    Errno::EPERM => {
                        Error::Unsupported(format!("{dest}: making a device node needs CAP_MKNOD"))
                    }
                    err => Error::io("mknod", dest.clone(), err),
                })?;
                fchownat(
                    dir.as_fd(),
                    name.as_c_str(),
                    Some(Uid::from_raw(owner.0)),
                    Some(Gid::from_raw(owner.1)),
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )
                .map_err(|err| Error::io("chown", dest.clone(), err))?;
                fchmodat(
                    dir.as_fd(),
                    name.as_c_str(),
                    self.mode(e.st),
                    FchmodatFlags::NoFollowSymlink,
                )
                .or_else(|err| match err {
                    // Older kernels lack AT_SYMLINK_NOFOLLOW for
                    // fchmodat; the node was just made, not a link.
                    Errno::ENOTSUP => fchmodat(
                        dir.as_fd(),
                        name.as_c_str(),
                        self.mode(e.st),
                        FchmodatFlags::FollowSymlink,
                    ),
                    err => Err(err),
                })
                .map_err(|err| Error::io("chmod", dest.clone(), err))?;
                utimensat(
                    dir.as_fd(),
                    name.as_c_str(),
                    &atime,
                    &mtime,
                    UtimensatFlags::NoFollowSymlink,
                )
                .map_err(|err| Error::io("set times on", dest.clone(), err))?;
            }
            _ => return Ok(()),
        }
        if e.st.st_nlink > 1 {
            self.links.insert(key, (dir, name));
        }
        Ok(())
    }
}
