//! Removal of a failed copy: everything inside the destination directory,
//! by descriptor, following nothing, with an explicit stack (no recursion:
//! the depth is the image's choice).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use nix::dir::{Dir, Type};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::unistd::{unlinkat, UnlinkatFlags};

/// A directory being emptied: its entries, and the name it has in its
/// parent (removed once it is empty).
struct Level {
    dir: Dir,
    entries: std::vec::IntoIter<(CString, Option<Type>)>,
    name: Option<CString>,
}

fn level(mut dir: Dir, name: Option<CString>) -> io::Result<Level> {
    let mut entries = Vec::new();
    for entry in dir.iter() {
        let entry = entry?;
        let n = entry.file_name();
        if n != c"." && n != c".." {
            entries.push((n.to_owned(), entry.file_type()));
        }
    }
    Ok(Level {
        dir,
        entries: entries.into_iter(),
        name,
    })
}

/// Removes every entry of `dir`, leaving it empty.
pub(super) fn contents(dir: BorrowedFd<'_>) -> io::Result<()> {
    // A descriptor of our own: the walk reads it from the start.
    let fd = nix::fcntl::openat(
        dir,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut stack = vec![level(Dir::from_fd(fd)?, None)?];
    while let Some(top) = stack.last_mut() {
        let Some((name, hint)) = top.entries.next() else {
            let done = stack.pop().expect("the loop saw it");
            if let (Some(parent), Some(name)) = (stack.last(), done.name) {
                drop(done.dir);
                unlinkat(
                    parent.dir.as_fd(),
                    name.as_c_str(),
                    UnlinkatFlags::RemoveDir,
                )?;
            }
            continue;
        };
        if hint != Some(Type::Directory) {
            match unlinkat(top.dir.as_fd(), name.as_c_str(), UnlinkatFlags::NoRemoveDir) {
                Ok(()) | Err(Errno::ENOENT) => continue,
                Err(Errno::EISDIR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let sub = Dir::openat(
            top.dir.as_fd(),
            name.as_c_str(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        stack.push(level(sub, Some(name))?);
    }
    Ok(())
}
