//! The walk: one directory level at a time, every entry opened or examined
//! relative to its parent's descriptor, nothing followed.

use std::collections::HashMap;
use std::ffi::{CStr, CString, OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::dir::{Dir, Type};
use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{
    fchmod, fstat, fstatat, futimens, mkdirat, mknodat, utimensat, Mode, SFlag, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, Gid, Uid};

use super::data::DataCopy;
use super::xattr::{self, Side};
use super::{open_in, CopyStats, Error, Result, MAX_DEPTH};

/// A directory being copied: its entries are read up front (so the
/// descriptor serves lookups while they are copied), then taken one by one.
struct Level {
    src: Dir,
    /// The copy; `None` for the volume root, which the caller holds.
    dst: Option<OwnedFd>,
    /// The source directory as it was before its entries were read.
    st: libc::stat,
    rel: PathBuf,
    entries: std::vec::IntoIter<(CString, Option<Type>)>,
}

impl Level {
    /// `st`: the source directory's, if the caller has it already.
    fn new(
        mut src: Dir,
        st: Option<libc::stat>,
        dst: Option<OwnedFd>,
        rel: PathBuf,
        src_root: &Path,
    ) -> Result<Level> {
        let st = match st {
            Some(st) => st,
            None => fstat(src.as_fd()).map_err(fail("stat", src_root, &rel))?,
        };
        let mut entries = Vec::new();
        for entry in src.iter() {
            let entry = entry.map_err(fail("read directory", src_root, &rel))?;
            let name = entry.file_name();
            if name != c"." && name != c".." {
                entries.push((name.to_owned(), entry.file_type()));
            }
        }
        Ok(Level {
            src,
            dst,
            st,
            rel,
            entries: entries.into_iter(),
        })
    }
}

/// Where a hard-linked inode was first copied to.
struct Copied {
    /// Relative to the destination root.
    rel: PathBuf,
    dev: u64,
    ino: u64,
}

pub(super) struct Copier<'a> {
    /// The source directory's path in the container, for messages.
    src_root: &'a Path,
    dst_root: &'a Path,
    dst_fd: BorrowedFd<'a>,
    /// Source (dev, ino) of inodes with more than one link → first copy.
    links: HashMap<(u64, u64), Copied>,
    data: DataCopy,
    pub(super) stats: CopyStats,
}

impl<'a> Copier<'a> {
    pub(super) fn new(src_root: &'a Path, dst_root: &'a Path, dst_fd: BorrowedFd<'a>) -> Self {
        Copier {
            src_root,
            dst_root,
            dst_fd,
            links: HashMap::new(),
            data: DataCopy::default(),
            stats: CopyStats::default(),
        }
    }

    fn src(&self, rel: &Path) -> PathBuf {
        self.src_root.join(rel)
    }

    fn dst(&self, rel: &Path) -> PathBuf {
        self.dst_root.join(rel)
    }

    /// The whole tree, then the root's own owner, mode, attributes, times.
    ///
    /// Depth-first with an explicit stack of open directories, not
    /// recursion: an image chooses the depth, and a thread's stack must
    /// not be what limits it. A directory is finished (metadata, times)
    /// when its last entry is done.
    pub(super) fn copy_root(&mut self, src: Dir) -> Result<()> {
        let root = Level::new(src, None, None, PathBuf::new(), self.src_root)?;
        let mut stack = vec![root];
        while let Some(top) = stack.last_mut() {
            if let Some((name, hint)) = top.entries.next() {
                let rel = top.rel.join(OsStr::from_bytes(name.to_bytes()));
                let dst = top.dst.as_ref().map_or(self.dst_fd, |d| d.as_fd());
                if let Some(level) = self.copy_entry(top.src.as_fd(), dst, &name, hint, rel)? {
                    if stack.len() > MAX_DEPTH {
                        return Err(Error::TooDeep {
                            path: self.src(&level.rel),
                        });
                    }
                    stack.push(level);
                }
                continue;
            }
            let done = stack.pop().expect("the loop saw it");
            let dst = done.dst.as_ref().map_or(self.dst_fd, |d| d.as_fd());
            self.finish(done.src.as_fd(), dst, &done.st, &done.rel)?;
            if done.dst.is_some() {
                self.stats.dirs += 1;
            }
        }
        Ok(())
    }

    fn copy_entry(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &CStr,
        hint: Option<Type>,
        rel: PathBuf,
    ) -> Result<Option<Level>> {
        let rel = rel.as_path();
        // Regular files and directories are opened straight away (the
        // common case: one open and one fstat); anything else, or an entry
        // whose type the directory did not say, is examined with fstatat.
        let opened = match hint {
            Some(Type::File) | Some(Type::Directory) => {
                match open_in(src, name, hint == Some(Type::Directory)) {
                    Ok(fd) => Some(fd),
                    // Not what readdir said any more: look again below.
                    Err(Errno::ELOOP | Errno::ENOTDIR | Errno::ENXIO) => None,
                    Err(e) => return Err(fail("open", self.src_root, rel)(e)),
                }
            }
            _ => None,
        };
        let (fd, st) = match opened {
            Some(fd) => {
                let st = fstat(fd.as_fd()).map_err(fail("stat", self.src_root, rel))?;
                (Some(fd), st)
            }
            None => {
                let st = fstatat(src, name, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(fail(
                    "stat",
                    self.src_root,
                    rel,
                ))?;
                (None, st)
            }
        };
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => {
                let fd = match fd {
                    Some(fd) => fd,
                    None => open_in(src, name, true).map_err(fail("open", self.src_root, rel))?,
                };
                self.enter_dir(fd, st, dst, name, rel).map(Some)
            }
            libc::S_IFREG => {
                let fd = match fd {
                    Some(fd) => fd,
                    None => open_in(src, name, false).map_err(fail("open", self.src_root, rel))?,
                };
                let now = fstat(fd.as_fd()).map_err(fail("stat", self.src_root, rel))?;
                if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) {
                    return Err(Error::Changed {
                        path: self.src(rel),
                    });
                }
                self.copy_file(fd, &st, dst, name, rel).map(|()| None)
            }
            libc::S_IFLNK | libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO => {
                self.copy_special(src, &st, dst, name, rel).map(|()| None)
            }
            _ => {
                // A socket: nothing could listen on a copy.
                self.stats.sockets_skipped += 1;
                Ok(None)
            }
        }
    }

    /// Makes the directory's copy and opens both, for the walk to fill.
    fn enter_dir(
        &mut self,
        fd: OwnedFd,
        st: libc::stat,
        dst: BorrowedFd<'_>,
        name: &CStr,
        rel: &Path,
    ) -> Result<Level> {
        let src = Dir::from_fd(fd).map_err(fail("open", self.src_root, rel))?;
        mkdirat(dst, name, Mode::from_bits_truncate(0o700)).map_err(fail(
            "create directory",
            self.dst_root,
            rel,
        ))?;
        let out = openat(
            dst,
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(fail("open", self.dst_root, rel))?;
        Level::new(src, Some(st), Some(out), rel.to_owned(), self.src_root)
    }

    fn copy_file(
        &mut self,
        src: OwnedFd,
        st: &libc::stat,
        dst: BorrowedFd<'_>,
        name: &CStr,
        rel: &Path,
    ) -> Result<()> {
        if self.linked(st, dst, name, rel)? {
            return Ok(());
        }
        let out = openat(
            dst,
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(fail("create", self.dst_root, rel))?;
        let size = st.st_size as u64;
        let written = self
            .data
            .copy(src.as_fd(), out.as_fd(), size)
            .map_err(|source| Error::Io {
                action: "copy content to",
                path: self.dst(rel),
                source,
            })?;
        // Content first: writing drops security.capability and the
        // setuid bits; chown drops them too, so mode and attributes after.
        self.finish(src.as_fd(), out.as_fd(), st, rel)?;
        self.stats.files += 1;
        self.stats.bytes += written;
        self.remember(st, out.as_fd(), rel)
    }

    /// Symlinks, device nodes and FIFOs: made, never opened.
    fn copy_special(
        &mut self,
        src: BorrowedFd<'_>,
        st: &libc::stat,
        dst: BorrowedFd<'_>,
        name: &CStr,
        rel: &Path,
    ) -> Result<()> {
        if self.linked(st, dst, name, rel)? {
            return Ok(());
        }
        let kind = st.st_mode & libc::S_IFMT;
        if kind == libc::S_IFLNK {
            let target: OsString =
                readlinkat(src, name).map_err(fail("read link", self.src_root, rel))?;
            symlinkat(target.as_os_str(), dst, name).map_err(fail(
                "create symlink",
                self.dst_root,
                rel,
            ))?;
            self.stats.symlinks += 1;
        } else {
            mknodat(
                dst,
                name,
                SFlag::from_bits_truncate(kind),
                Mode::from_bits_truncate(0o600),
                st.st_rdev,
            )
            .map_err(fail("create node", self.dst_root, rel))?;
            if kind == libc::S_IFIFO {
                self.stats.fifos += 1;
            } else {
                self.stats.devices += 1;
            }
        }
        fchownat(
            dst,
            name,
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(fail("change owner of", self.dst_root, rel))?;
        if kind != libc::S_IFLNK {
            self.chmod_node(dst, name, st, rel)?;
        }
        let dropped = xattr::copy(Side::Entry(src, name), Side::Entry(dst, name))
            .map_err(|e| e.into_error(&self.src(rel), &self.dst(rel)))?;
        self.stats.xattrs_dropped += dropped;
        let (atime, mtime) = times(st);
        utimensat(dst, name, &atime, &mtime, UtimensatFlags::NoFollowSymlink).map_err(fail(
            "set times of",
            self.dst_root,
            rel,
        ))?;
        let made = fstatat(dst, name, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(fail(
            "stat",
            self.dst_root,
            rel,
        ))?;
        self.remember_stat(st, &made, rel);
        Ok(())
    }

    /// fchmodat follows symlinks; an `O_PATH` descriptor of the node we
    /// just made, checked to be one, is changed through its /proc link.
    fn chmod_node(
        &self,
        dst: BorrowedFd<'_>,
        name: &CStr,
        st: &libc::stat,
        rel: &Path,
    ) -> Result<()> {
        let fd = openat(
            dst,
            name,
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(fail("open", self.dst_root, rel))?;
        let made = fstat(fd.as_fd()).map_err(fail("stat", self.dst_root, rel))?;
        if made.st_mode & libc::S_IFMT != st.st_mode & libc::S_IFMT {
            return Err(Error::Changed {
                path: self.dst(rel),
            });
        }
        let proc = format!("/proc/thread-self/fd/{}", fd.as_raw_fd());
        std::fs::set_permissions(
            &proc,
            std::os::unix::fs::PermissionsExt::from_mode(st.st_mode & 0o7777),
        )
        .map_err(|source| Error::Io {
            action: "change mode of",
            path: self.dst(rel),
            source,
        })
    }

    /// Owner, mode, attributes and times of a copied file or directory,
    /// in the order that keeps each: chown clears setuid bits and
    /// security.capability, so it goes first; times last.
    fn finish(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        st: &libc::stat,
        rel: &Path,
    ) -> Result<()> {
        fchown(
            dst,
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
        )
        .map_err(fail("change owner of", self.dst_root, rel))?;
        fchmod(dst, Mode::from_bits_truncate(st.st_mode & 0o7777)).map_err(fail(
            "change mode of",
            self.dst_root,
            rel,
        ))?;
        let dropped = xattr::copy(Side::Fd(src), Side::Fd(dst))
            .map_err(|e| e.into_error(&self.src(rel), &self.dst(rel)))?;
        self.stats.xattrs_dropped += dropped;
        let (atime, mtime) = times(st);
        futimens(dst, &atime, &mtime).map_err(fail("set times of", self.dst_root, rel))
    }

    /// Makes `name` a hard link to the earlier copy of the same source
    /// inode, if there is one. The earlier copy is reached from the
    /// destination root with no symlink allowed on the way, and must still
    /// be the inode that was made.
    fn linked(
        &mut self,
        st: &libc::stat,
        dst: BorrowedFd<'_>,
        name: &CStr,
        rel: &Path,
    ) -> Result<bool> {
        if st.st_nlink < 2 {
            return Ok(false);
        }
        let Some(first) = self.links.get(&(st.st_dev, st.st_ino)) else {
            return Ok(false);
        };
        let first_rel =
            CString::new(first.rel.as_os_str().as_bytes()).expect("paths from readdir have no NUL");
        let how = berth_sys::resolve::BENEATH
            | berth_sys::resolve::NO_SYMLINKS
            | berth_sys::resolve::NO_MAGICLINKS
            | berth_sys::resolve::NO_XDEV;
        let fd = berth_sys::openat2(
            self.dst_fd,
            &first_rel,
            libc::O_PATH | libc::O_NOFOLLOW,
            0,
            how,
        )
        .map_err(|source| Error::Io {
            action: "open",
            path: self.dst(&first.rel),
            source,
        })?;
        let now = fstat(fd.as_fd()).map_err(fail("stat", self.dst_root, &first.rel))?;
        if (now.st_dev, now.st_ino) != (first.dev, first.ino) {
            return Err(Error::Changed {
                path: self.dst(&first.rel),
            });
        }
        linkat(fd.as_fd(), c"", dst, name, AtFlags::AT_EMPTY_PATH).map_err(fail(
            "create hard link",
            self.dst_root,
            rel,
        ))?;
        self.stats.hardlinks += 1;
        Ok(true)
    }

    fn remember(&mut self, st: &libc::stat, out: BorrowedFd<'_>, rel: &Path) -> Result<()> {
        if st.st_nlink < 2 {
            return Ok(());
        }
        let made = fstat(out).map_err(fail("stat", self.dst_root, rel))?;
        self.remember_stat(st, &made, rel);
        Ok(())
    }

    fn remember_stat(&mut self, st: &libc::stat, made: &libc::stat, rel: &Path) {
        if st.st_nlink < 2 {
            return;
        }
        self.links.insert(
            (st.st_dev, st.st_ino),
            Copied {
                rel: rel.to_owned(),
                dev: made.st_dev,
                ino: made.st_ino,
            },
        );
    }
}

fn times(st: &libc::stat) -> (TimeSpec, TimeSpec) {
    (
        TimeSpec::new(st.st_atime, st.st_atime_nsec),
        TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
    )
}

/// The error of one failed step on `root/rel`, made only on failure.
fn fail<'p>(
    action: &'static str,
    root: &'p Path,
    rel: &'p Path,
) -> impl FnOnce(Errno) -> Error + 'p {
    move |e| Error::Io {
        action,
        path: root.join(rel),
        source: e.into(),
    }
}
