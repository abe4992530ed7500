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

use std::collections::{BTreeMap, HashMap};
use std::ffi::{CStr, CString, OsStr};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use berth_sys::{openat2, resolve};
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fstat, fstatat, FileStat, Mode, SFlag};

use crate::container::{Container, State};
use crate::error::{Error, Result};
use crate::Engine;

const OVERLAY_OPAQUE: &CStr = c"trusted.overlay.opaque";

/// Where the runtime mounts over the rootfs. When the image lacks one, the
/// runtime leaves an empty file or directory in the writable layer; Docker
/// keeps these in an init layer below it, so `diff` and `commit` skip them.
const MOUNT_POINTS: &[&str] = &[
    "etc/hostname",
    "etc/hosts",
    "etc/resolv.conf",
    "proc",
    "sys",
    "dev",
    "dev/pts",
    "dev/shm",
    "dev/mqueue",
];

/// An empty file or directory at one of [`MOUNT_POINTS`].
fn is_mount_point_artifact(rel: &Path, meta: &std::fs::Metadata, full: &Path) -> bool {
    let Some(rel) = rel.to_str() else {
        return false;
    };
    MOUNT_POINTS.contains(&rel)
        && if meta.is_dir() {
            std::fs::read_dir(full).is_ok_and(|mut d| d.next().is_none())
        } else {
            meta.is_file() && meta.len() == 0
        }
}

/// The kind of a `diff` line, Docker's letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Changed,
    Deleted,
}

impl ChangeKind {
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Added => 'A',
            ChangeKind::Changed => 'C',
            ChangeKind::Deleted => 'D',
        }
    }

    /// Docker's `Kind` number in the API (0 modified, 1 added, 2 deleted).
    pub fn number(self) -> u8 {
        match self {
            ChangeKind::Changed => 0,
            ChangeKind::Added => 1,
            ChangeKind::Deleted => 2,
        }
    }
}

/// One line of `diff`: an absolute path in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    pub path: String,
}

/// What a path in the container is (a final symlink not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Directory,
    Symlink,
    Other,
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
        let mut changes = BTreeMap::new();
        diff_dir(&upper, Path::new(""), &lower, &mut changes)?;
        Ok(changes
            .into_iter()
            .map(|(comps, kind)| Change {
                kind,
                path: format!("/{}", comps.join("/")),
            })
            .collect())
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
        self.paused(c, pause, || {
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
        })
    }

    /// `rename`: Docker's conflict message when the name is taken.
    pub fn rename(&mut self, key: &str, name: &str) -> Result<Container> {
        let c = self.find(key)?;
        let name = name.strip_prefix('/').unwrap_or(name);
        crate::container::validate_name(name)?;
        self.db.rename(&c.id, name)?;
        Ok(c)
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
        let target = self.open(dir, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
        let via = PathBuf::from(format!("/proc/self/fd/{}", target.as_raw_fd()));
        berth_image::unpack::unpack(input, &via, &berth_image::unpack::Limits::default())?;
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

/// Writes the writable layer `upper` as an OCI layer tar (whiteouts as
/// `.wh.` files, opaque directories with `.wh..wh..opq`).
fn write_layer_tar(upper: &Path, out: impl Write) -> Result<()> {
    let root = open_dir(upper)?;
    let mut t = TarWriter::new(out, true);
    t.children(root.as_fd(), Path::new(""))?;
    t.finish()
}

/// The read end of a tar another thread writes: its end is an error if
/// the writer failed, so a half-written layer is never taken as whole.
struct CheckedStream {
    inner: io::PipeReader,
    writer: Option<std::thread::JoinHandle<Result<()>>>,
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

fn is_whiteout(meta: &std::fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

fn is_opaque(dir: &Path) -> bool {
    let Ok(c) = CString::new(dir.join(".").as_os_str().as_bytes()) else {
        return false;
    };
    matches!(
        berth_sys::fs::get_xattr_nofollow(&c, OVERLAY_OPAQUE),
        Ok(Some(v)) if v == b"y"
    )
}

/// Moby's overlay change walk: a whiteout or an opaque directory is a
/// deletion; anything else is a change when a lower layer has the path
/// and an addition when none has; the parents of a change are changed.
/// A directory is changed by itself only when its mode or owner differs
/// (Docker also compares mtime and size, which the runtime's mount points
/// change in directories the container never touched).
fn diff_dir(
    upper: &Path,
    rel: &Path,
    lower: &[PathBuf],
    changes: &mut BTreeMap<Vec<String>, ChangeKind>,
) -> Result<()> {
    let dir = upper.join(rel);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| Error::io("read", &dir, e))?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    names.sort();
    for name in names {
        let path = rel.join(&name);
        let full = upper.join(&path);
        let Ok(meta) = std::fs::symlink_metadata(&full) else {
            continue; // removed while we walked
        };
        if is_mount_point_artifact(&path, &meta, &full) {
            continue;
        }
        let kind = if is_whiteout(&meta) || meta.is_dir() && is_opaque(&full) {
            Some(ChangeKind::Deleted)
        } else {
            match lower.iter().find_map(|l| lower_meta(l, &path)) {
                None => Some(ChangeKind::Added),
                Some(old) if old.is_dir() && meta.is_dir() => {
                    let same = old.mode() == meta.mode()
                        && old.uid() == meta.uid()
                        && old.gid() == meta.gid();
                    (!same).then_some(ChangeKind::Changed)
                }
                Some(_) => Some(ChangeKind::Changed),
            }
        };
        if let Some(kind) = kind {
            let comps: Vec<String> = path
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            for n in 1..comps.len() {
                changes
                    .entry(comps[..n].to_vec())
                    .or_insert(ChangeKind::Changed);
            }
            changes.insert(comps, kind);
        }
        if meta.is_dir() {
            diff_dir(upper, &path, lower, changes)?;
        }
    }
    Ok(())
}

/// The metadata of `path` in a lower layer, a final symlink not followed;
/// `None` when absent or when a parent on the way is not a directory
/// (a symlink there would lead outside the layer).
fn lower_meta(layer: &Path, path: &Path) -> Option<std::fs::Metadata> {
    let mut cur = layer.to_owned();
    let mut comps = path.components().peekable();
    while let Some(c) = comps.next() {
        cur.push(c);
        let meta = std::fs::symlink_metadata(&cur).ok()?;
        if comps.peek().is_none() {
            return (!is_whiteout(&meta)).then_some(meta);
        }
        if !meta.is_dir() {
            return None;
        }
    }
    None
}

/// Writes files reached from directory descriptors into a tar. In layer
/// mode overlay whiteouts and opaque markers become the OCI layer forms.
struct TarWriter<W: Write> {
    tar: tar::Builder<W>,
    layer: bool,
    /// (dev, inode) of files with several links → their first name.
    links: HashMap<(u64, u64), PathBuf>,
}

impl<W: Write> TarWriter<W> {
    fn new(out: W, layer: bool) -> TarWriter<W> {
        let tar = tar::Builder::new(out);
        TarWriter {
            tar,
            layer,
            links: HashMap::new(),
        }
    }

    fn finish(self) -> Result<()> {
        self.tar
            .into_inner()
            .and_then(|mut w| w.flush())
            .map_err(|e| Error::io("write", "the tar stream", e))
    }

    fn write_err(e: io::Error) -> Error {
        Error::io("write", "the tar stream", e)
    }

    /// Every entry of the open directory `dir`, named under `name`.
    fn children(&mut self, dir: BorrowedFd<'_>, name: &Path) -> Result<()> {
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
    fn entry(&mut self, parent: BorrowedFd<'_>, leaf: &CStr, name: &Path) -> Result<()> {
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
