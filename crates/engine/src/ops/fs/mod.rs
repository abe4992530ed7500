//! A container's files seen from the host: what `cp`, `diff`, `export` and
//! `commit` read and write.
//!
//! The container owns its files and may have planted symlinks anywhere
//! (`ln -s / /escape`). Nothing here follows a path string through them:
//! paths are resolved with `openat2(RESOLVE_IN_ROOT)` against a descriptor
//! of the container's root, so `..` and absolute symlinks stay inside it
//! (the way the image crate's safe unpack works); walks go from directory
//! descriptor to directory descriptor with `O_NOFOLLOW`, and data written
//! into the container goes through the image crate's unpacker
//! (`RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS`, create with `O_EXCL`).
//!
//! A running container's root is its mounted overlay. A stopped one's is
//! mounted on its bundle's `rootfs` inside a mount namespace of the
//! calling process's own (a slave of the host's), so nobody else sees it
//! and it ends with the process: a killed `berth cp` leaves no mount
//! behind.

mod diff;
mod tar;

use std::ffi::CString;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use berth_sys::{openat2, resolve};
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstatat, FileStat, Mode, SFlag};

use crate::error::{Error, Result};
use crate::model::{Container, State};
use crate::Engine;

pub use berth_image::unpack::Options as ExtractOptions;
pub use diff::{Change, ChangeKind};
pub use tar::append_symlink;
pub(crate) use tar::write_dir_tar;
use tar::{write_layer_tar, CheckedStream, TarWriter};

/// What a path in the container is (a final symlink not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Directory,
    Symlink,
    Other,
}

/// A path's `lstat` in the container (the Engine API's archive stat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStat {
    pub size: u64,
    /// `st_mode`: type and permission bits.
    pub mode: u32,
    pub mtime: i64,
    pub mtime_nsec: u32,
    /// Where a symlink leads, resolved inside the root.
    pub link_target: Option<String>,
}

/// The merged root filesystem of a container, held open.
pub struct Rootfs {
    root: OwnedFd,
}

impl Engine {
    /// Opens the container's root filesystem: its overlay when mounted
    /// (running), else a private mount in a new mount namespace of this
    /// process (call it before starting threads).
    pub fn rootfs(&self, c: &Container) -> Result<Rootfs> {
        let bundle = self.bundle(&c.id);
        let mounted = bundle.rootfs();
        if is_mount_point(&mounted, bundle.dir()) {
            let root = open_dir(&mounted)?;
            // It may have been unmounted between the check and the open.
            if is_mount_point(&mounted, bundle.dir()) {
                return Ok(Rootfs { root });
            }
        }
        // A mount namespace of our own, slave to the host's: the mount is
        // seen by this process only and ends with it, whatever happens.
        // (A detached mount would do too, but `openat2(RESOLVE_IN_ROOT)`
        // answers EAGAIN forever for `..` under one.)
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
            .map_err(|e| Error::io("unshare the mount namespace for", &mounted, e.into()))?;
        nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_SLAVE,
            None::<&str>,
        )
        .map_err(|e| Error::io("make private the mounts of", "/", e.into()))?;
        self.images.mount(&c.id, &mounted)?;
        Ok(Rootfs {
            root: open_dir(&mounted)?,
        })
    }

    /// [`Engine::rootfs`] with the container's volumes and binds mounted
    /// where the container sees them (what `cp` reads and writes, as
    /// Docker's): always in a mount namespace of this process's own, a
    /// slave of the host's, so the mounts reach neither the host nor the
    /// container. A volume's place missing from the root (a container
    /// never started) is skipped: the files there are the root's. A
    /// read-only mount stays read-only.
    pub fn rootfs_with_volumes(&self, c: &Container) -> Result<Rootfs> {
        use crate::model::MountKind;
        let mut binds: Vec<&crate::model::MountPoint> = c
            .config
            .mounts
            .iter()
            .filter(|m| m.kind != MountKind::Tmpfs)
            .collect();
        if binds.is_empty() {
            return self.rootfs(c);
        }
        binds.sort_by_key(|m| Path::new(&m.destination).components().count());
        let bundle = self.bundle(&c.id);
        let mounted = bundle.rootfs();
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
            .map_err(|e| Error::io("unshare the mount namespace for", &mounted, e.into()))?;
        nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_SLAVE,
            None::<&str>,
        )
        .map_err(|e| Error::io("make private the mounts of", "/", e.into()))?;
        if !is_mount_point(&mounted, bundle.dir()) {
            self.images.mount(&c.id, &mounted)?;
        }
        let rootfs = Rootfs {
            root: open_dir(&mounted)?,
        };
        for m in binds {
            let target = match rootfs.open(&m.destination, OFlag::O_PATH | OFlag::O_CLOEXEC) {
                Ok(fd) => fd,
                Err(Error::Io { source, .. }) if is_absent(&source) => continue,
                Err(e) => return Err(e),
            };
            let via = format!("/proc/self/fd/{}", target.as_raw_fd());
            let mut flags = nix::mount::MsFlags::MS_BIND;
            if !m.bind_nonrecursive {
                flags |= nix::mount::MsFlags::MS_REC;
            }
            nix::mount::mount(
                Some(m.source.as_str()),
                via.as_str(),
                None::<&str>,
                flags,
                None::<&str>,
            )
            .map_err(|e| Error::io("mount", &m.source, e.into()))?;
            if !m.rw {
                // The descriptor still names the directory beneath: the
                // new mount is reached by resolving the place again.
                let top = rootfs.open(&m.destination, OFlag::O_PATH | OFlag::O_CLOEXEC)?;
                let via = format!("/proc/self/fd/{}", top.as_raw_fd());
                nix::mount::mount(
                    None::<&str>,
                    via.as_str(),
                    None::<&str>,
                    flags | nix::mount::MsFlags::MS_REMOUNT | nix::mount::MsFlags::MS_RDONLY,
                    None::<&str>,
                )
                .map_err(|e| Error::io("make read-only", &m.destination, e.into()))?;
            }
        }
        Ok(rootfs)
    }

    /// The bundle file bind-mounted at `path` in the container
    /// (`/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`): what the
    /// container reads there, hidden under the mount from the host's view
    /// of its root. `path` must be resolved ([`Rootfs::resolve`]).
    pub fn bind_mounted(&self, c: &Container, path: &str) -> Option<PathBuf> {
        let name = match path {
            "/etc/hosts" => "hosts",
            "/etc/hostname" => "hostname",
            "/etc/resolv.conf" => "resolv.conf",
            _ => return None,
        };
        Some(self.bundle(&c.id).file(name)).filter(|p| p.is_file())
    }

    /// The container's writable layer and the image layers below it (top
    /// first), as directories on the host.
    pub fn layers(&self, c: &Container) -> Result<(PathBuf, Vec<PathBuf>)> {
        let overlay = self.images.overlay(&c.id)?;
        let snaps = &self.images.snapshots;
        Ok((
            snaps.fs_path(overlay.upper),
            overlay.lower.iter().map(|id| snaps.fs_path(*id)).collect(),
        ))
    }

    /// `diff`: what the container changed, from its overlay upper dir
    /// (whiteouts and opaque directories are deletions, as Docker reports
    /// them), in Docker's order (a directory before what is in it).
    pub fn diff(&self, c: &Container) -> Result<Vec<Change>> {
        let (upper, lower) = self.layers(c)?;
        let mut changes = std::collections::BTreeMap::new();
        diff::diff_dir(&upper, Path::new(""), &lower, &mut changes)?;
        Ok(changes
            .into_iter()
            .map(|(comps, kind)| Change {
                kind,
                path: format!("/{}", comps.join("/")),
            })
            .collect())
    }

    /// The writable layer `upper` as an OCI layer tar, written by a thread
    /// as it is read (a failed walk makes the read fail).
    pub(crate) fn layer_stream(upper: PathBuf) -> Result<impl io::Read> {
        let (r, w) = io::pipe().map_err(|e| Error::io("create", "a pipe", e))?;
        let writer = std::thread::spawn(move || write_layer_tar(&upper, w));
        Ok(CheckedStream {
            inner: r,
            writer: Some(writer),
        })
    }

    /// `commit`: the container's writable layer on its image as a new
    /// image (frozen meanwhile when `pause` and running).
    pub fn commit(
        &self,
        c: &Container,
        name: Option<&berth_image::reference::Reference>,
        opts: &berth_image::commit::CommitOptions,
        pause: bool,
    ) -> Result<berth_image::Digest> {
        let (upper, _) = self.layers(c)?;
        let id = self.paused(c, pause, || {
            let (r, w) = io::pipe().map_err(|e| Error::io("create", "a pipe", e))?;
            let writer = std::thread::spawn(move || write_layer_tar(&upper, w));
            let layer = CheckedStream {
                inner: r,
                writer: Some(writer),
            };
            Ok(berth_image::commit::commit(
                &self.images,
                &c.image_id,
                layer,
                name,
                opts,
            )?)
        })?;
        self.committed_events(c, &id, name, opts.comment.as_deref())?;
        Ok(id)
    }

    /// `commit --pause`: freezes a running container for the duration of
    /// `f` (the runtime's `pause`/`resume`).
    pub fn paused<T>(
        &self,
        c: &Container,
        pause: bool,
        f: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        if !pause || c.state != State::Running {
            return f();
        }
        let runtime = self.runtime_for(c);
        let run = |command: &'static str| -> Result<()> {
            let out = std::process::Command::new(&runtime.path)
                .arg("--root")
                .arg(&runtime.root)
                .arg(command)
                .arg(&c.id)
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|source| Error::RuntimeSpawn {
                    runtime: runtime.path.clone(),
                    command,
                    source,
                })?;
            if out.status.success() {
                return Ok(());
            }
            Err(Error::Runtime {
                runtime: runtime.path.display().to_string(),
                command,
                message: crate::runtime::last_line(&String::from_utf8_lossy(&out.stderr))
                    .unwrap_or_else(|| out.status.to_string()),
            })
        };
        run("pause")?;
        let result = f();
        let resumed = run("resume");
        let value = result?;
        resumed?;
        Ok(value)
    }
}

/// A tar of the host file `file` (one of the bundle's files a container
/// sees through a bind mount, [`Engine::bind_mounted`]) named `name`.
pub fn archive_file(file: &Path, name: &str, out: impl Write) -> Result<()> {
    let (dir, leaf) = match (file.parent(), file.file_name()) {
        (Some(d), Some(l)) => (d, l),
        _ => return Err(Error::invalid("path", file.display().to_string())),
    };
    let dir = open_dir(dir)?;
    let leaf = CString::new(leaf.as_encoded_bytes())
        .map_err(|_| Error::invalid("path", file.display().to_string()))?;
    let mut t = TarWriter::new(out, false);
    t.entry(dir.as_fd(), &leaf, Path::new(name))?;
    t.finish()
}

/// The [`PathStat`] of a host file ([`archive_file`]'s).
pub fn stat_file(file: &Path) -> Result<PathStat> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(file).map_err(|e| Error::io("stat", file, e))?;
    Ok(PathStat {
        size: m.size(),
        mode: m.mode(),
        mtime: m.mtime(),
        mtime_nsec: m.mtime_nsec() as u32,
        link_target: None,
    })
}

impl Rootfs {
    /// What `path` is, a final symlink not followed; `None` if absent.
    pub fn kind(&self, path: &str) -> Result<Option<FileKind>> {
        let (parent, leaf) = match self.parent(path) {
            Ok(p) => p,
            Err(Error::Io { source, .. }) if is_absent(&source) => return Ok(None),
            Err(e) => return Err(e),
        };
        match fstatat(&parent, leaf.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(match kind_of(&st) {
                SFlag::S_IFDIR => FileKind::Directory,
                SFlag::S_IFLNK => FileKind::Symlink,
                _ => FileKind::Other,
            })),
            Err(nix::errno::Errno::ENOENT) | Err(nix::errno::Errno::ENOTDIR) => Ok(None),
            Err(e) => Err(Error::io("stat", path, e.into())),
        }
    }

    /// `lstat` of `path` (a final symlink not followed, its target
    /// resolved); `None` if absent.
    pub fn stat(&self, path: &str) -> Result<Option<PathStat>> {
        let (parent, leaf) = match self.parent(path) {
            Ok(p) => p,
            Err(Error::Io { source, .. }) if is_absent(&source) => return Ok(None),
            Err(e) => return Err(e),
        };
        let st = match fstatat(&parent, leaf.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(nix::errno::Errno::ENOENT) | Err(nix::errno::Errno::ENOTDIR) => return Ok(None),
            Err(e) => return Err(Error::io("stat", path, e.into())),
        };
        let link_target = if kind_of(&st) == SFlag::S_IFLNK {
            // A dangling link has no target to name.
            self.resolve(path).ok()
        } else {
            None
        };
        Ok(Some(PathStat {
            size: st.st_size as u64,
            mode: st.st_mode,
            mtime: st.st_mtime,
            mtime_nsec: st.st_mtime_nsec as u32,
            link_target,
        }))
    }

    /// `path` with every symlink on it, the last one too, resolved inside
    /// the root (`cp -L`).
    pub fn resolve(&self, path: &str) -> Result<String> {
        let fd = self.open(path, OFlag::O_PATH)?;
        let link = |fd: BorrowedFd<'_>| {
            std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                .map_err(|e| Error::io("resolve", path, e))
        };
        let (target, root) = (link(fd.as_fd())?, link(self.root.as_fd())?);
        let rel = target.strip_prefix(&root).map_err(|_| {
            Error::invalid("path", format!("{path} resolves outside the container"))
        })?;
        Ok(format!("/{}", rel.display()))
    }

    /// Writes a tar of `path` (a directory with everything in it, a final
    /// symlink as a symlink) whose top entry is named `name`.
    pub fn archive(&self, path: &str, name: &str, out: impl Write) -> Result<()> {
        let (parent, leaf) = self.parent(path)?;
        let mut t = TarWriter::new(out, false);
        t.entry(parent.as_fd(), &leaf, Path::new(name))?;
        t.finish()
    }

    /// `export`: the whole root filesystem as a tar.
    pub fn export(&self, out: impl Write) -> Result<()> {
        let mut t = TarWriter::new(out, false);
        t.children(self.root.as_fd(), Path::new(""))?;
        t.finish()
    }

    /// Unpacks the tar `input` into the directory `dir` of the container,
    /// with the image crate's safe unpacker (nothing written through a
    /// symlink, nothing outside the root).
    pub fn extract(&self, dir: &str, input: impl Read) -> Result<()> {
        self.extract_with(dir, input, &ExtractOptions::default())
    }

    /// [`Rootfs::extract`] with the unpacker's options (owner, no change
    /// of a path's kind).
    pub fn extract_with(
        &self,
        dir: &str,
        input: impl Read,
        options: &ExtractOptions,
    ) -> Result<()> {
        let target = self.open(dir, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
        let via = PathBuf::from(format!("/proc/self/fd/{}", target.as_raw_fd()));
        berth_image::unpack::unpack_with(
            input,
            &via,
            &berth_image::unpack::Limits::default(),
            options,
        )?;
        Ok(())
    }

    /// Opens `path` resolved inside the root.
    fn open(&self, path: &str, flags: OFlag) -> Result<OwnedFd> {
        let c = CString::new(relative(path)).map_err(|_| Error::invalid("path", path))?;
        openat2(self.root.as_fd(), &c, flags.bits(), 0, resolve::IN_ROOT)
            .map_err(|e| Error::io("open", path, e))
    }

    /// The parent directory of `path` (resolved inside the root) and the
    /// last component, which is not resolved.
    fn parent(&self, path: &str) -> Result<(OwnedFd, CString)> {
        let rel = relative(path);
        let trimmed = rel.trim_end_matches('/');
        let (dir, leaf) = match trimmed.rsplit_once('/') {
            Some((d, l)) => (d, l),
            None => (".", trimmed),
        };
        let leaf = match leaf {
            "" | "." => ".",
            l => l,
        };
        if leaf == ".." {
            // Resolve `..` like any other step, inside the root.
            let fd = self.open(trimmed, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
            return Ok((fd, c".".to_owned()));
        }
        let fd = self.open(
            if dir.is_empty() { "." } else { dir },
            OFlag::O_PATH | OFlag::O_DIRECTORY,
        )?;
        let leaf = CString::new(leaf).map_err(|_| Error::invalid("path", path))?;
        Ok((fd, leaf))
    }
}

fn relative(path: &str) -> String {
    let p = path.trim_start_matches('/');
    if p.is_empty() {
        ".".into()
    } else {
        p.to_owned()
    }
}

fn is_absent(e: &io::Error) -> bool {
    let errno = e.raw_os_error().map(nix::errno::Errno::from_raw);
    matches!(
        errno,
        Some(nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR)
    )
}

fn open_dir(path: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io("open", path, e.into()))
}

/// A mounted rootfs sits on another device than its bundle directory.
fn is_mount_point(path: &Path, parent: &Path) -> bool {
    match (std::fs::metadata(path), std::fs::metadata(parent)) {
        (Ok(a), Ok(b)) => a.dev() != b.dev(),
        _ => false,
    }
}

fn kind_of(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}
