//! `COPY` and `ADD` into a mounted root filesystem, and the digest of
//! their sources for the cache key.
//!
//! Docker's rules: a source is cleaned as if under `/` (`../x` is `x`) and
//! may be a glob; a directory source copies its contents; the destination
//! is joined to the working directory when relative, and is a directory
//! when it ends in `/` (or is `.`), when it already is one, or when there
//! are several sources (which then requires the `/`). Context files become
//! root's (or `--chown`'s), a `--from` source's files keep their owners.
//! Modes and modification times are kept, `--chmod` replaces the modes of
//! what is copied. Symlinks are copied as links; the directories on a
//! source's path resolve inside its root, and a `--from` source that is
//! itself a symlink is followed inside that root (BuildKit's rule).
//! `ADD` extracts a local tar (plain, gzip, zstd) into the destination and
//! refuses URLs (berth builds offline).
//!
//! Every destination path is resolved inside the rootfs with
//! `openat2(RESOLVE_IN_ROOT)`: an image's `/bin -> usr/bin` is followed as
//! the container would, a hostile `/etc -> /` points at the rootfs itself.

mod chown;
mod digest;
mod extract;
mod source;
mod walk;
mod write;

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::rc::Rc;

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{Mode, SFlag};

pub use chown::resolve_chown;
pub(crate) use extract::{extract, Extract};

use crate::context::Context;
use crate::error::{Error, Result};
use crate::fsops::{cstr, mkdir_all_in, open_dir_in, open_root, split};
use crate::gomatch::clean;
use crate::ignore::Ignore;
use walk::{kind, locate, Located, Walker};
use write::{create_file, Owners, Target, Writer};

/// Where a `COPY`'s sources are read from.
pub enum SourceRoot<'a> {
    /// The build context (its `.dockerignore` applies).
    Context(&'a Context),
    /// Another stage's or an image's mounted root filesystem (`--from`).
    Rootfs(&'a Path),
}

pub struct CopyRequest<'a> {
    /// Sources, variables already expanded; globs allowed.
    pub sources: &'a [String],
    /// Destination, expanded; relative to `workdir` unless absolute.
    pub dest: &'a str,
    pub workdir: &'a str,
    pub chown: Option<(u32, u32)>,
    pub chmod: Option<u32>,
    /// `ADD`: local archives are extracted, URLs refused.
    pub add: bool,
    /// `COPY <<EOF /file`: (name, content) of each here-document.
    pub heredocs: &'a [(String, Vec<u8>)],
}

impl CopyRequest<'_> {
    fn verb(&self) -> &'static str {
        if self.add {
            "ADD"
        } else {
            "COPY"
        }
    }

    fn check_urls(&self) -> Result<()> {
        for s in self.sources {
            if source::is_url(s) {
                if self.add {
                    return Err(Error::Url(s.clone()));
                }
                return Err(Error::Unsupported(
                    "source can't be a URL for COPY".to_owned(),
                ));
            }
        }
        Ok(())
    }
}

struct Opened {
    root: OwnedFd,
    ignore: Option<Ignore>,
    follow: bool,
    owners: Owners,
}

fn open_source(root: &SourceRoot<'_>, chown: Option<(u32, u32)>) -> Result<Opened> {
    Ok(match root {
        SourceRoot::Context(c) => Opened {
            root: open_root(c.root())?,
            ignore: Some(c.ignore().clone()),
            follow: false,
            owners: Owners::Fixed(chown.unwrap_or((0, 0)).0, chown.unwrap_or((0, 0)).1),
        },
        SourceRoot::Rootfs(p) => Opened {
            root: open_root(p)?,
            ignore: None,
            follow: true,
            owners: match chown {
                Some((u, g)) => Owners::Fixed(u, g),
                None => Owners::Keep,
            },
        },
    })
}

/// Every source path the request names, located, in order.
fn sources(o: &Opened, req: &CopyRequest<'_>) -> Result<Vec<Located>> {
    let mut out = Vec::new();
    for s in req.sources {
        for rel in source::expand(o.root.as_fd(), o.ignore.as_ref(), s)? {
            out.push(locate(o.root.as_fd(), &rel, o.follow)?);
        }
    }
    Ok(out)
}

/// The digest of what `req` would copy from `root`: `sha256:<hex>`.
pub fn digest(root: &SourceRoot<'_>, req: &CopyRequest<'_>) -> Result<String> {
    req.check_urls()?;
    let o = open_source(root, req.chown)?;
    let mut h = digest::Hasher::new(matches!(root, SourceRoot::Rootfs(_)));
    for loc in sources(&o, req)? {
        h.field(loc.named.as_bytes());
        h.field(loc.rel.as_bytes());
        Walker::new(o.ignore.as_ref(), &loc).walk(&loc, &mut h)?;
    }
    for (name, content) in req.heredocs {
        h.field(b"heredoc");
        h.field(name.as_bytes());
        h.field(content);
    }
    Ok(h.finish())
}

/// Copies what `req` names from `root` into the root filesystem `rootfs`.
pub fn copy(root: &SourceRoot<'_>, req: &CopyRequest<'_>, rootfs: &Path) -> Result<()> {
    req.check_urls()?;
    let o = open_source(root, req.chown)?;
    let srcs = sources(&o, req)?;
    let dest_root = open_root(rootfs)?;
    let dest = dest_path(req);
    let count = srcs.len() + req.heredocs.len();
    let slash = req.dest.ends_with('/') || req.dest == "." || req.dest.ends_with("/.");
    if count > 1 && !slash {
        return Err(Error::DestNotDir(req.verb()));
    }
    let implied = req.chown.unwrap_or((0, 0));
    let shown = format!("/{dest}");
    // Whether the destination is (or must be) a directory.
    let dest_is_dir = slash || open_dir_in(dest_root.as_fd(), &dest).is_ok();
    let file_target = |base: &str| -> Result<Target> {
        if dest_is_dir {
            let dir = mkdir_all_in(dest_root.as_fd(), &dest, implied)?;
            Ok(Target::As(Rc::new(dir), cstr(base)?))
        } else {
            let (d, b) = split(&dest);
            let dir = mkdir_all_in(dest_root.as_fd(), d, implied)?;
            Ok(Target::As(Rc::new(dir), cstr(b)?))
        }
    };
    for loc in &srcs {
        let k = kind(&loc.st);
        if req.add && k == SFlag::S_IFREG && try_extract(loc, dest_root.as_fd(), &dest, req)? {
            continue;
        }
        let target = if k == SFlag::S_IFDIR {
            Target::Into(Rc::new(top_dir(
                dest_root.as_fd(),
                &dest,
                implied,
                loc,
                req,
            )?))
        } else {
            let (_, base) = split(&loc.named);
            file_target(base)?
        };
        let mut w = Writer::new(target, o.owners, req.chmod, shown.clone());
        Walker::new(o.ignore.as_ref(), loc).walk(loc, &mut w)?;
    }
    for (name, content) in req.heredocs {
        let (dir, base) = match file_target(name)? {
            Target::As(d, b) => (d, b),
            Target::Into(_) => unreachable!("file targets are names"),
        };
        let mode = Mode::from_bits_truncate(req.chmod.unwrap_or(0o644));
        create_file(dir.as_fd(), &base, &mut &content[..], implied, mode, &shown)?;
    }
    Ok(())
}

/// The destination as a clean path relative to the rootfs.
fn dest_path(req: &CopyRequest<'_>) -> String {
    let joined = if req.dest.starts_with('/') {
        req.dest.to_owned()
    } else {
        format!("/{}/{}", req.workdir, req.dest)
    };
    clean(&joined).trim_start_matches('/').to_owned()
}

/// The directory a directory source's contents go into: made with the
/// source directory's metadata when missing (parents as `mkdir -p`).
fn top_dir(
    root: BorrowedFd<'_>,
    dest: &str,
    implied: (u32, u32),
    loc: &Located,
    req: &CopyRequest<'_>,
) -> Result<OwnedFd> {
    if let Ok(fd) = open_dir_in(root, dest) {
        return Ok(fd);
    }
    let fd = mkdir_all_in(root, dest, implied)?;
    let mode = Mode::from_bits_truncate(req.chmod.unwrap_or(loc.st.st_mode & 0o7777));
    nix::sys::stat::fchmod(&fd, mode).map_err(|e| Error::io("chmod", format!("/{dest}"), e))?;
    Ok(fd)
}

/// `ADD` of a local file: extracts it into the destination directory if
/// it is a tar archive; false when it is not one.
fn try_extract(
    loc: &Located,
    root: BorrowedFd<'_>,
    dest: &str,
    req: &CopyRequest<'_>,
) -> Result<bool> {
    let what = format!("/{}", loc.rel);
    let fd = openat(
        loc.parent.as_fd(),
        loc.name.as_c_str(),
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io("open", what.clone(), e))?;
    let mut file = File::from(fd);
    if !extract::is_archive(&mut file, &what)? {
        return Ok(false);
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io("read", what.clone(), e))?;
    let implied = req.chown.unwrap_or((0, 0));
    let dir = mkdir_all_in(root, dest, implied)?;
    extract(
        file,
        dir.as_fd(),
        &Extract {
            owner: req.chown,
            implied_owner: implied,
            devices: true,
            what,
        },
    )?;
    Ok(true)
}

/// `WORKDIR`'s directory: made inside `rootfs` (`mkdir -p`, symlinks
/// resolved inside it) with each missing level owned by `owner`, as
/// BuildKit makes it for the stage's `USER`.
pub fn make_workdir(rootfs: &Path, dir: &str, owner: (u32, u32)) -> Result<()> {
    let root = crate::fsops::open_root(rootfs)?;
    let rel = dir.trim_start_matches('/');
    if rel.is_empty() {
        return Ok(());
    }
    crate::fsops::mkdir_all_in(std::os::fd::AsFd::as_fd(&root), rel, owner).map(drop)
}
