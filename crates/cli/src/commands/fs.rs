//! The commands over a container's files and identity: `cp`, `diff`,
//! `export`, `commit`, `rename`, `port`. The engine's `fs` module does the
//! container side safely; this is Docker's argument rules and output.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use berth_engine::fs::{FileKind, Rootfs};
use berth_engine::image::CommitRequest;
use berth_engine::Engine;

use crate::args::*;
use crate::output::write_file_atomic;

pub fn rename(root: &Path, a: RenameArgs) -> Result<()> {
    let mut engine = Engine::open(root)?;
    engine.rename(&a.container, &a.new_name)?;
    Ok(())
}

/// `port`: one line per published port (none before networks exist).
pub fn port(root: &Path, a: PortArgs) -> Result<()> {
    let engine = Engine::open(root)?;
    let mut out = io::stdout().lock();
    for p in engine.ports(&a.container, a.port.as_deref())? {
        writeln!(out, "{p}")?;
    }
    Ok(())
}

pub fn diff(root: &Path, a: ContainerArg) -> Result<()> {
    let engine = Engine::open(root)?;
    let c = engine.find(&a.container)?;
    let mut out = io::stdout().lock();
    for change in engine.diff(&c)? {
        writeln!(out, "{} {}", change.kind.letter(), change.path)?;
    }
    Ok(())
}

pub fn export(root: &Path, a: ExportArgs) -> Result<()> {
    let engine = Engine::open(root)?;
    let c = engine.find(&a.container)?;
    let rootfs = engine.rootfs(&c)?;
    match &a.output {
        Some(path) => write_file_atomic(path, |f| Ok(rootfs.export(io::BufWriter::new(f))?)),
        None => {
            if io::stdout().is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            rootfs.export(io::BufWriter::new(io::stdout().lock()))?;
            Ok(())
        }
    }
}

pub fn commit(root: &Path, a: CommitArgs) -> Result<()> {
    let engine = Engine::open(root)?;
    let c = engine.find(&a.container)?;
    let id = engine.commit_container(
        &c,
        &CommitRequest {
            reference: a.reference,
            changes: a.changes,
            author: a.author,
            comment: a.message,
            pause: a.pause,
        },
    )?;
    writeln!(io::stdout().lock(), "{id}")?;
    Ok(())
}

/// One side of `cp`.
enum Side {
    Local(String),
    Container(String, String),
}

/// Docker's rule: a path that starts with `/` or `.` is local; otherwise
/// `NAME:PATH` names a container.
fn side(arg: &str) -> Side {
    if arg.starts_with('/') || arg.starts_with('.') {
        return Side::Local(arg.to_owned());
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.is_empty() => Side::Container(c.to_owned(), p.to_owned()),
        _ => Side::Local(arg.to_owned()),
    }
}

/// The last component of a path (`/` for the root).
fn base_name(path: &str) -> String {
    let t = path.trim_end_matches('/');
    match t.rsplit_once('/') {
        Some((_, b)) if !b.is_empty() => b.to_owned(),
        None if !t.is_empty() => t.to_owned(),
        _ => "/".to_owned(),
    }
}

fn parent_of(path: &str) -> String {
    let t = path.trim_end_matches('/');
    match t.rsplit_once('/') {
        Some(("", _)) | None => "/".to_owned(),
        Some((p, _)) => p.to_owned(),
    }
}

/// `SRC/.` copies a directory's content, not the directory.
fn contents_only(path: &str) -> bool {
    path.ends_with("/.") || path == "." || path.trim_end_matches('/').is_empty()
}

pub fn cp(root: &Path, a: CpArgs) -> Result<()> {
    match (side(&a.source), side(&a.destination)) {
        (Side::Container(..), Side::Container(..)) => {
            bail!("copying between containers is not supported")
        }
        (Side::Local(_), Side::Local(_)) => {
            bail!("must specify at least one container source")
        }
        (Side::Container(c, src), Side::Local(dest)) => {
            let engine = Engine::open(root)?;
            let container = engine.find(&c)?;
            let rootfs = engine.rootfs_with_volumes(&container)?;
            // What the container sees at its bind-mounted files is the
            // bundle's copy, not the mount point beneath.
            let abs = if src.starts_with('/') {
                src.clone()
            } else {
                format!("/{src}")
            };
            let is_link = rootfs.kind(&abs)? == Some(FileKind::Symlink);
            if !is_link || a.follow_link {
                if let Some(file) = rootfs
                    .resolve(&abs)
                    .ok()
                    .and_then(|p| engine.bind_mounted(&container, &p))
                {
                    return copy_host_file_out(&file, &base_name(&abs), &dest);
                }
            }
            copy_out(rootfs, &c, &src, &dest, a.archive, a.follow_link)
        }
        (Side::Local(src), Side::Container(c, dest)) => {
            let engine = Engine::open(root)?;
            let container = engine.find(&c)?;
            let rootfs = engine.rootfs_with_volumes(&container)?;
            copy_in(&rootfs, &src, &dest, a.archive)
        }
    }
}

fn copy_out(
    rootfs: Rootfs,
    container: &str,
    src: &str,
    dest: &str,
    archive: bool,
    follow: bool,
) -> Result<()> {
    let src = if src.starts_with('/') {
        src.to_owned()
    } else {
        format!("/{src}")
    };
    if rootfs.kind(&src)?.is_none() {
        bail!("Could not find the file {src} in container {container}");
    }
    // `-L`: the link's target, under the link's name.
    let (src, top_name) = if follow {
        let name = base_name(&src);
        (rootfs.resolve(&src)?, Some(name))
    } else {
        (src, None)
    };
    if dest == "-" {
        let name = if contents_only(&src) {
            ".".to_owned()
        } else {
            top_name.clone().unwrap_or_else(|| base_name(&src))
        };
        rootfs.archive(&src, &name, io::BufWriter::new(io::stdout().lock()))?;
        return Ok(());
    }
    let dest_path = Path::new(dest);
    let (host_dir, name) = match std::fs::metadata(dest_path) {
        Ok(m) if m.is_dir() => {
            if contents_only(&src) {
                (dest_path.to_owned(), ".".to_owned())
            } else {
                (
                    dest_path.to_owned(),
                    top_name.clone().unwrap_or_else(|| base_name(&src)),
                )
            }
        }
        Ok(_) if rootfs.kind(&src)? == Some(FileKind::Directory) => {
            bail!("cannot copy a directory to a file: {dest}")
        }
        Ok(_) => (parent_dir(dest_path), base_name(dest)),
        Err(_) => {
            let parent = parent_dir(dest_path);
            if !parent.is_dir() {
                bail!("destination directory {} does not exist", parent.display());
            }
            if dest.ends_with('/') && rootfs.kind(&src)? != Some(FileKind::Directory) {
                bail!("destination directory {dest} does not exist");
            }
            (parent, base_name(dest))
        }
    };
    // The container's side streams a tar; the host side unpacks it with
    // the tar crate, which refuses names with `..` and writes through no
    // symlink it did not check stays inside `host_dir`.
    let (r, w) = io::pipe()?;
    let src_owned = src.clone();
    let writer = std::thread::spawn(move || rootfs.archive(&src_owned, &name, w));
    let mut tar = tar::Archive::new(r);
    tar.set_preserve_permissions(true);
    tar.set_preserve_mtime(true);
    tar.set_preserve_ownerships(archive);
    tar.set_overwrite(true);
    let unpacked = (|| -> Result<()> {
        for entry in tar.entries()? {
            let mut entry = entry?;
            if !entry.unpack_in(&host_dir)? {
                bail!(
                    "refusing to write {:?} outside {}",
                    entry.path()?,
                    host_dir.display()
                );
            }
        }
        Ok(())
    })();
    drop(tar);
    let written = writer
        .join()
        .map_err(|_| anyhow!("the archive writer panicked"))?;
    written?;
    unpacked
}

/// `cp` of one of the engine's own files (a bind-mounted `/etc/hosts`):
/// a tar of it on stdout, or a copy named as Docker would.
fn copy_host_file_out(file: &Path, name: &str, dest: &str) -> Result<()> {
    if dest == "-" {
        let mut out = io::BufWriter::new(io::stdout().lock());
        host_tar(file, name, false, &mut out)?;
        return Ok(out.flush()?);
    }
    let dest_path = Path::new(dest);
    let target = if dest_path.is_dir() {
        dest_path.join(name)
    } else {
        dest_path.to_owned()
    };
    std::fs::copy(file, &target).with_context(|| format!("cannot write {}", target.display()))?;
    Ok(())
}

fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn copy_in(rootfs: &Rootfs, src: &str, dest: &str, archive: bool) -> Result<()> {
    let dest = if dest.starts_with('/') {
        dest.to_owned()
    } else {
        format!("/{dest}")
    };
    if src == "-" {
        if rootfs.kind(&dest)? != Some(FileKind::Directory) && !is_dir_via_link(rootfs, &dest)? {
            bail!("destination \"{dest}\" must be a directory");
        }
        rootfs.extract(&dest, io::stdin().lock())?;
        return Ok(());
    }
    let meta =
        std::fs::symlink_metadata(src).with_context(|| format!("cannot stat local path {src}"))?;
    let (dir, name) = match rootfs.kind(&dest)? {
        Some(FileKind::Directory) => (dest.clone(), base_name(src)),
        Some(FileKind::Symlink) if is_dir_via_link(rootfs, &dest)? => {
            (dest.clone(), base_name(src))
        }
        Some(FileKind::Other) if meta.is_dir() => {
            bail!("cannot overwrite non-directory \"{dest}\" with directory \"{src}\"")
        }
        Some(_) => (parent_of(&dest), base_name(&dest)),
        None => {
            let parent = parent_of(&dest);
            if !is_dir_via_link(rootfs, &parent)? {
                bail!("Could not find the file {parent} in container");
            }
            if dest.ends_with('/') && !meta.is_dir() {
                bail!("destination directory {dest} does not exist");
            }
            (parent, base_name(&dest))
        }
    };
    let (dir, name) = if meta.is_dir() && contents_only(src) {
        (
            if name == "." {
                dir
            } else {
                format!("{dir}/{name}")
            },
            ".".to_owned(),
        )
    } else {
        (dir, name)
    };
    let (r, w) = io::pipe()?;
    let src_owned = PathBuf::from(src);
    let writer = std::thread::spawn(move || host_tar(&src_owned, &name, archive, w));
    let extracted = rootfs.extract(&dir, r);
    let written = writer
        .join()
        .map_err(|_| anyhow!("the archive writer panicked"))?;
    written?;
    Ok(extracted?)
}

/// Whether `path` in the container is a directory, symlinks resolved
/// inside the root.
fn is_dir_via_link(rootfs: &Rootfs, path: &str) -> Result<bool> {
    Ok(rootfs.kind(&format!("{}/.", path.trim_end_matches('/')))? == Some(FileKind::Directory))
}

/// A tar of the local `src` named `name`: files as they are (symlinks not
/// followed), owned by the container's root unless `archive`.
fn host_tar(src: &Path, name: &str, archive: bool, out: impl Write) -> Result<()> {
    let mut tar = tar::Builder::new(out);
    fn add<W: Write>(
        tar: &mut tar::Builder<W>,
        path: &Path,
        name: &Path,
        archive: bool,
    ) -> Result<()> {
        let meta = std::fs::symlink_metadata(path)
            .with_context(|| format!("cannot stat {}", path.display()))?;
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
        if !archive {
            h.set_uid(0);
            h.set_gid(0);
        }
        let ft = meta.file_type();
        if ft.is_dir() {
            h.set_size(0);
            tar.append_data(&mut h, name, io::empty())?;
            let mut children: Vec<_> = std::fs::read_dir(path)?
                .filter_map(|e| e.ok().map(|e| e.file_name()))
                .collect();
            children.sort();
            for child in children {
                add(tar, &path.join(&child), &name.join(&child), archive)?;
            }
        } else if ft.is_symlink() {
            let target = std::fs::read_link(path)?;
            h.set_size(0);
            berth_engine::fs::append_symlink(tar, &mut h, name, target.as_os_str().as_bytes())?;
        } else if ft.is_file() {
            let f = File::open(path)?;
            let size = meta.len();
            h.set_size(size);
            tar.append_data(&mut h, name, f.take(size).chain(io::repeat(0)).take(size))?;
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            h.set_size(0);
            if !ft.is_fifo() {
                let rdev = meta.rdev();
                h.set_device_major(nix::sys::stat::major(rdev) as u32)?;
                h.set_device_minor(nix::sys::stat::minor(rdev) as u32)?;
            }
            tar.append_data(&mut h, name, io::empty())?;
        }
        Ok(())
    }
    add(&mut tar, src, Path::new(name), archive)?;
    tar.into_inner()?.flush()?;
    Ok(())
}
