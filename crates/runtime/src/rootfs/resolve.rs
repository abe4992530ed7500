//! Paths inside the container's root, resolved by the kernel with
//! `openat2(RESOLVE_IN_ROOT)`: every component, symlinks and `..` included,
//! stays under the root, so a hostile image cannot point a mount outside it
//! (CVE-2021-30465 and its kin). Mounts then target `/proc/self/fd/N` of
//! the resolved descriptor instead of a path that could be swapped.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use berth_sys::{openat2, resolve};
use nix::errno::Errno;
use nix::sys::stat::Mode;

use crate::error::{Error, Result};

/// An open container root.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

/// The magic-link path that names `fd` for mount(2).
pub fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn relative(path: &Path) -> Result<CString> {
    let rel: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir))
        .collect();
    let rel = if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    };
    CString::new(rel.as_os_str().as_bytes())
        .map_err(|_| Error::InvalidConfig(format!("path {} contains a NUL byte", path.display())))
}

impl Root {
    pub fn open(path: &Path) -> Result<Self> {
        let fd = std::fs::File::options()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
            .open(path)
            .map_err(|e| Error::io("open rootfs", path, e))?;
        Ok(Root {
            fd: fd.into(),
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `path` (taken as relative to the root) with `flags`.
    pub fn open_in(&self, path: &Path, flags: libc::c_int) -> std::io::Result<OwnedFd> {
        let c = relative(path).map_err(std::io::Error::other)?;
        openat2(self.fd.as_fd(), &c, flags, 0, resolve::IN_ROOT)
    }

    /// An `O_PATH` descriptor of an existing `path`.
    pub fn lookup(&self, path: &Path) -> std::io::Result<OwnedFd> {
        self.open_in(path, libc::O_PATH)
    }

    /// Creates the directory `path` and its parents inside the root and
    /// returns an `O_PATH` descriptor of it.
    pub fn mkdir_all(&self, path: &Path, mode: u32) -> Result<OwnedFd> {
        let mut partial = PathBuf::new();
        let mut dir = self
            .open_in(Path::new("."), libc::O_PATH | libc::O_DIRECTORY)
            .map_err(|e| self.err("open", path, e))?;
        for comp in path.components() {
            let name = match comp {
                Component::Normal(n) => n,
                Component::ParentDir => {
                    partial.push("..");
                    dir = self
                        .open_in(&partial, libc::O_PATH | libc::O_DIRECTORY)
                        .map_err(|e| self.err("open", &partial, e))?;
                    continue;
                }
                _ => continue,
            };
            partial.push(name);
            match self.open_in(&partial, libc::O_PATH | libc::O_DIRECTORY) {
                Ok(fd) => dir = fd,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    match nix::sys::stat::mkdirat(&dir, name, Mode::from_bits_truncate(mode)) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(self.err("create directory", &partial, e.into())),
                    }
                    dir = self
                        .open_in(&partial, libc::O_PATH | libc::O_DIRECTORY)
                        .map_err(|e| self.err("open", &partial, e))?;
                }
                Err(e) => return Err(self.err("open", &partial, e)),
            }
        }
        Ok(dir)
    }

    /// Makes sure a regular file exists at `path` (creating its parents)
    /// and returns an `O_PATH` descriptor of it; an existing directory or
    /// file is returned as it is.
    pub fn create_file(&self, path: &Path, mode: u32) -> Result<OwnedFd> {
        if let Ok(fd) = self.lookup(path) {
            return Ok(fd);
        }
        let parent = path.parent().unwrap_or(Path::new("/"));
        let name = path.file_name().ok_or_else(|| {
            Error::InvalidConfig(format!("invalid mount destination {}", path.display()))
        })?;
        let dir = self.mkdir_all(parent, 0o755)?;
        match nix::fcntl::openat(
            &dir,
            name,
            nix::fcntl::OFlag::O_CREAT
                | nix::fcntl::OFlag::O_WRONLY
                | nix::fcntl::OFlag::O_NOFOLLOW
                | nix::fcntl::OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode),
        ) {
            Ok(_) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(self.err("create file", path, e.into())),
        }
        self.lookup(path).map_err(|e| self.err("open", path, e))
    }

    fn err(&self, what: &'static str, path: &Path, e: std::io::Error) -> Error {
        Error::io(
            what,
            self.path.join(path.strip_prefix("/").unwrap_or(path)),
            e,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_inside_even_through_hostile_symlinks() {
        let dir = std::env::temp_dir().join(format!("berth-resolve-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // A symlink that points at the host's /tmp: following it must land
        // in <root>/tmp instead.
        std::os::unix::fs::symlink("/tmp/../../tmp", dir.join("evil")).unwrap();
        let root = Root::open(&dir).unwrap();
        // Dangling inside the root: refused, never created on the host.
        assert!(root.mkdir_all(Path::new("/evil/inner"), 0o755).is_err());
        std::fs::create_dir(dir.join("tmp")).unwrap();
        let marker = format!("berth-resolve-marker-{}", std::process::id());
        root.mkdir_all(&Path::new("/evil").join(&marker), 0o755)
            .unwrap();
        assert!(dir.join("tmp").join(&marker).is_dir());
        assert!(!Path::new("/tmp").join(&marker).exists());
        root.create_file(Path::new("/a/b/file"), 0o644).unwrap();
        assert!(dir.join("a/b/file").is_file());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
