//! Removal of a failed copy: everything inside the destination directory,
//! by descriptor, following nothing.

use std::ffi::CString;
use std::io;
use std::os::fd::AsFd;

use nix::dir::{Dir, Type};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::unistd::{unlinkat, UnlinkatFlags};

/// Removes every entry of `dir`, leaving it empty.
pub(super) fn contents(dir: &mut Dir) -> io::Result<()> {
    contents_at(dir, 0)
}

fn contents_at(dir: &mut Dir, depth: usize) -> io::Result<()> {
    // What the copy made is at most MAX_DEPTH deep; more means something
    // else is going on in this directory.
    if depth > super::MAX_DEPTH {
        return Err(io::Error::other("directory tree too deep to remove"));
    }
    let mut entries: Vec<(CString, Option<Type>)> = Vec::new();
    for entry in dir.iter() {
        let entry = entry?;
        let name = entry.file_name();
        if name != c"." && name != c".." {
            entries.push((name.to_owned(), entry.file_type()));
        }
    }
    for (name, hint) in entries {
        if hint != Some(Type::Directory) {
            match unlinkat(dir.as_fd(), name.as_c_str(), UnlinkatFlags::NoRemoveDir) {
                Ok(()) | Err(Errno::ENOENT) => continue,
                Err(Errno::EISDIR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let mut sub = Dir::openat(
            dir.as_fd(),
            name.as_c_str(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        contents_at(&mut sub, depth + 1)?;
        drop(sub);
        unlinkat(dir.as_fd(), name.as_c_str(), UnlinkatFlags::RemoveDir)?;
    }
    Ok(())
}
