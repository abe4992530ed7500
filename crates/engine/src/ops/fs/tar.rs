//! Tars of a container's files, written from directory descriptors: the
//! merged root (`cp`, `export`) or the writable layer in OCI layer form
//! (`commit`).

use std::collections::HashMap;
use std::ffi::{CStr, CString, OsStr};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fstat, fstatat, Mode, SFlag};

use super::diff::{is_opaque, MOUNT_POINTS};
use super::{kind_of, open_dir};
use crate::error::{Error, Result};

/// Writes the writable layer `upper` as an OCI layer tar (whiteouts as
/// `.wh.` files, opaque directories with `.wh..wh..opq`).
pub(super) fn write_layer_tar(upper: &Path, out: impl Write) -> Result<()> {
    let root = open_dir(upper)?;
    let mut t = TarWriter::new(out, true);
    t.children(root.as_fd(), Path::new(""))?;
    t.finish()
}

/// Writes the directory `dir`'s content as a plain tar (names relative
/// to it, links not followed): a volume's files in a checkpoint export.
pub(crate) fn write_dir_tar(dir: &Path, out: impl Write) -> Result<()> {
    let root = open_dir(dir)?;
    let mut t = TarWriter::new(out, false);
    t.children(root.as_fd(), Path::new(""))?;
    t.finish()
}

/// The read end of a tar another thread writes: its end is an error if
/// the writer failed, so a half-written layer is never taken as whole.
pub(super) struct CheckedStream {
    pub(super) inner: io::PipeReader,
    pub(super) writer: Option<std::thread::JoinHandle<Result<()>>>,
}

impl Read for CheckedStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            if let Some(w) = self.writer.take() {
                match w.join() {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(io::Error::other(e.to_string())),
                    Err(_) => return Err(io::Error::other("the layer writer panicked")),
                }
            }
        }
        Ok(n)
    }
}

/// A symlink entry with its target byte for byte (the tar crate's path
/// form turns `/` into `//`); long targets take the GNU long-link form.
pub fn append_symlink<W: Write>(
    tar: &mut tar::Builder<W>,
    h: &mut tar::Header,
    name: &Path,
    target: &[u8],
) -> io::Result<()> {
    if target.len() <= 100 {
        h.set_link_name_literal(target)?;
        tar.append_data(h, name, io::empty())
    } else {
        tar.append_link(h, name, OsStr::from_bytes(target))
    }
}

/// Writes files reached from directory descriptors into a tar. In layer
/// mode overlay whiteouts and opaque markers become the OCI layer forms.
pub(super) struct TarWriter<W: Write> {
    tar: tar::Builder<W>,
    layer: bool,
    /// (dev, inode) of files with several links → their first name.
    links: HashMap<(u64, u64), PathBuf>,
}

impl<W: Write> TarWriter<W> {
    pub(super) fn new(out: W, layer: bool) -> TarWriter<W> {
        let tar = tar::Builder::new(out);
        TarWriter {
            tar,
            layer,
            links: HashMap::new(),
        }
    }

    pub(super) fn finish(self) -> Result<()> {
        self.tar
            .into_inner()
            .and_then(|mut w| w.flush())
            .map_err(|e| Error::io("write", "the tar stream", e))
    }

    fn write_err(e: io::Error) -> Error {
        Error::io("write", "the tar stream", e)
    }

    /// Every entry of the open directory `dir`, named under `name`.
    pub(super) fn children(&mut self, dir: BorrowedFd<'_>, name: &Path) -> Result<()> {
        // Listed through the descriptor's magic link: the very directory
        // we hold, whatever its path has become.
        let listing = format!("/proc/self/fd/{}", dir.as_raw_fd());
        let mut entries: Vec<CString> = std::fs::read_dir(&listing)
            .map_err(|e| Error::io("read", name, e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| CString::new(e.file_name().as_bytes()).ok())
            .collect();
        entries.sort();
        for leaf in entries {
            let child = name.join(OsStr::from_bytes(leaf.as_bytes()));
            self.entry(dir, &leaf, &child)?;
        }
        Ok(())
    }

    /// One entry, `leaf` in the open directory `parent`, named `name`.
    pub(super) fn entry(&mut self, parent: BorrowedFd<'_>, leaf: &CStr, name: &Path) -> Result<()> {
        let st = match fstatat(parent, leaf, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            // Removed while we walked (a running container).
            Err(nix::errno::Errno::ENOENT) => return Ok(()),
            Err(e) => return Err(Error::io("stat", name, e.into())),
        };
        let kind = kind_of(&st);
        if self.layer && name.to_str().is_some_and(|n| MOUNT_POINTS.contains(&n)) {
            let empty = match kind {
                SFlag::S_IFREG => st.st_size == 0,
                SFlag::S_IFDIR => openat(
                    parent,
                    leaf,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .ok()
                .and_then(|fd| std::fs::read_dir(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok())
                .is_some_and(|mut d| d.next().is_none()),
                _ => false,
            };
            if empty {
                return Ok(()); // the runtime's mount point, not the container's
            }
        }
        let mut h = tar::Header::new_gnu();
        h.set_mode(st.st_mode & 0o7777);
        h.set_uid(u64::from(st.st_uid));
        h.set_gid(u64::from(st.st_gid));
        h.set_mtime(st.st_mtime.max(0) as u64);
        h.set_size(0);
        if self.layer && kind == SFlag::S_IFCHR && st.st_rdev == 0 {
            let mut wh = OsStr::new(".wh.").to_owned();
            wh.push(OsStr::from_bytes(leaf.to_bytes()));
            let wname = name.with_file_name(wh);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            return self
                .tar
                .append_data(&mut h, wname, io::empty())
                .map_err(Self::write_err);
        }
        if kind != SFlag::S_IFDIR && st.st_nlink > 1 {
            let key = (st.st_dev, st.st_ino);
            if let Some(first) = self.links.get(&key) {
                h.set_entry_type(tar::EntryType::Link);
                let first = first.clone();
                return self
                    .tar
                    .append_link(&mut h, name, first)
                    .map_err(Self::write_err);
            }
            self.links.insert(key, name.to_owned());
        }
        match kind {
            SFlag::S_IFREG => {
                let fd = match openat(
                    parent,
                    leaf,
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(fd) => fd,
                    Err(nix::errno::Errno::ENOENT) => return Ok(()),
                    Err(e) => return Err(Error::io("open", name, e.into())),
                };
                let now = fstat(&fd).map_err(|e| Error::io("stat", name, e.into()))?;
                if kind_of(&now) != SFlag::S_IFREG {
                    return Ok(()); // swapped while we walked
                }
                let size = now.st_size.max(0) as u64;
                h.set_size(size);
                h.set_entry_type(tar::EntryType::Regular);
                // Exactly `size` bytes even if the file changes meanwhile.
                let data = std::fs::File::from(fd)
                    .take(size)
                    .chain(io::repeat(0))
                    .take(size);
                self.tar
                    .append_data(&mut h, name, data)
                    .map_err(Self::write_err)
            }
            SFlag::S_IFDIR => {
                let fd = match openat(
                    parent,
                    leaf,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(fd) => fd,
                    Err(nix::errno::Errno::ENOENT) => return Ok(()),
                    Err(e) => return Err(Error::io("open", name, e.into())),
                };
                h.set_entry_type(tar::EntryType::Directory);
                let dir_name = if leaf.to_bytes() == b"." && name.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    name.to_owned()
                };
                self.tar
                    .append_data(&mut h, &dir_name, io::empty())
                    .map_err(Self::write_err)?;
                if self.layer {
                    let here = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
                    if is_opaque(&here) {
                        let mut o = tar::Header::new_gnu();
                        o.set_entry_type(tar::EntryType::Regular);
                        o.set_mode(0o644);
                        o.set_size(0);
                        o.set_mtime(st.st_mtime.max(0) as u64);
                        self.tar
                            .append_data(&mut o, dir_name.join(".wh..wh..opq"), io::empty())
                            .map_err(Self::write_err)?;
                    }
                }
                self.children(fd.as_fd(), &dir_name)
            }
            SFlag::S_IFLNK => {
                let target = match readlinkat(parent, leaf) {
                    Ok(t) => t,
                    Err(nix::errno::Errno::ENOENT) => return Ok(()),
                    Err(e) => return Err(Error::io("read link", name, e.into())),
                };
                h.set_entry_type(tar::EntryType::Symlink);
                append_symlink(&mut self.tar, &mut h, name, target.as_bytes())
                    .map_err(Self::write_err)
            }
            SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO => {
                h.set_entry_type(match kind {
                    SFlag::S_IFCHR => tar::EntryType::Char,
                    SFlag::S_IFBLK => tar::EntryType::Block,
                    _ => tar::EntryType::Fifo,
                });
                if kind != SFlag::S_IFIFO {
                    let rdev = st.st_rdev;
                    h.set_device_major(nix::sys::stat::major(rdev) as u32)
                        .and_then(|()| h.set_device_minor(nix::sys::stat::minor(rdev) as u32))
                        .map_err(Self::write_err)?;
                }
                self.tar
                    .append_data(&mut h, name, io::empty())
                    .map_err(Self::write_err)
            }
            // Sockets have no tar form (Docker skips them too).
            _ => Ok(()),
        }
    }
}
