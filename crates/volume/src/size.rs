//! The bytes a volume holds, as moby's `directory.Size` counts them for
//! `system df` and `volume prune`'s reclaimed space: the apparent size
//! (`st_size`) of everything that is not a directory, each inode once
//! however many hard links it has, entries that vanish during the walk
//! ignored. The walk is by descriptor and follows no symlink; it does
//! descend into mounts below the path, as moby's does. It keeps one
//! descriptor open per level (a tree deeper than the open-file limit is
//! an error, where moby's path-based walk stops at PATH_MAX) and no
//! recursion (containers choose the depth).

use std::collections::HashSet;
use std::ffi::CString;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstatat, Mode};

use crate::ErrorKind;

#[derive(Debug, thiserror::Error)]
#[error("failed to measure {}", path.display())]
pub struct Error {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        if self.source.kind() == io::ErrorKind::NotFound {
            ErrorKind::NotFound
        } else {
            ErrorKind::Internal
        }
    }
}

/// The bytes used under `path` (a volume's `_data`).
pub fn dir_size(path: &Path) -> Result<u64, Error> {
    let fail = |source: io::Error| Error {
        path: path.into(),
        source,
    };
    let dir = Dir::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| fail(e.into()))?;
    measure(dir).map_err(fail)
}

fn measure(root: Dir) -> io::Result<u64> {
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut stack = vec![level(root)?];
    while let Some((dir, names)) = stack.last_mut() {
        let Some(name) = names.next() else {
            stack.pop();
            continue;
        };
        let st = match fstatat(dir.as_fd(), name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(e.into()),
        };
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            if st.st_size > 0 && (st.st_nlink < 2 || seen.insert((st.st_dev, st.st_ino))) {
                total += st.st_size as u64;
            }
            continue;
        }
        let sub = match Dir::openat(
            dir.as_fd(),
            name.as_c_str(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(d) => d,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(e.into()),
        };
        stack.push(level(sub)?);
    }
    Ok(total)
}

/// A directory and the names in it, read up front.
fn level(mut dir: Dir) -> io::Result<(Dir, std::vec::IntoIter<CString>)> {
    let mut names = Vec::new();
    for entry in dir.iter() {
        let name = entry?.file_name().to_owned();
        if name.as_c_str() != c"." && name.as_c_str() != c".." {
            names.push(name);
        }
    }
    Ok((dir, names.into_iter()))
}
