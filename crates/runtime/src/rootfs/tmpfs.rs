//! tmpfs mounts. Two things set them apart from other filesystems, both
//! as runc does them:
//!
//! - A tmpfs over an existing directory gets that directory's mode (a
//!   tmpfs root is 1777 otherwise), unless the options name a `mode=`
//!   (runc 1.1 overrides even that; berth keeps what was asked for).
//! - `tmpcopyup`: the tmpfs starts with a copy of the directory it covers.
//!   Podman asks for it on every `--tmpfs` and on the `/run`, `/tmp` and
//!   `/var/tmp` it mounts for `--read-only`. runc mounts the tmpfs on a
//!   scratch directory under the host's `/tmp`, copies and moves it; berth
//!   keeps a descriptor of the covered directory, mounts the tmpfs over it
//!   and copies from that descriptor into the new mount, so no path outside
//!   the container's root is involved. The copy is made of `*at` calls
//!   relative to directory descriptors opened with `O_NOFOLLOW`: a symlink
//!   in the image is copied as a symlink, never followed. Owners and modes
//!   are kept (as runc does); timestamps and extended attributes are not,
//!   and hard links become separate files.
//!
//! A read-only tmpfs that needs either is mounted writable, prepared, then
//! made read-only.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::mount::MsFlags;
use nix::sys::stat::{fchmod, fchmodat, fstatat, mkdirat, mknodat, FchmodatFlags, Mode, SFlag};
use nix::unistd::{fchown, fchownat, symlinkat, Gid, Uid};

use super::options::MountOptions;
use super::resolve::{fd_path, Root};
use super::{do_mount, mount_err, with_data};
use crate::error::{Error, Result};

/// How deep a copied tree may be. Each level holds two descriptors open,
/// so this keeps a hostile image from exhausting them (or the stack).
const MAX_DEPTH: usize = 128;

/// Open flags of a directory in the copy.
fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

/// Mounts tmpfs `source` on `dest` inside `root`; see the module docs.
pub fn mount(root: &Root, source: &Path, dest: &Path, opts: &MountOptions) -> Result<()> {
    // What the mount will cover, if anything: its mode, and for a copy a
    // readable descriptor that still reaches it once it is covered.
    let covered = match root.open_in(dest, libc::O_RDONLY | libc::O_DIRECTORY) {
        Ok(fd) => {
            let st = nix::sys::stat::fstat(&fd).map_err(|e| Error::io("stat", dest, e.into()))?;
            Some((fd, mode_bits(st.st_mode)))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io("open", dest, e)),
    };
    let keep_mode = covered.is_some() && !opts.data.split(',').any(|o| o.starts_with("mode="));
    let prepare = keep_mode || (opts.copy_up && covered.is_some());
    let target = root.mkdir_all(dest, 0o755)?;
    let flags = if prepare {
        opts.flags - MsFlags::MS_RDONLY
    } else {
        opts.flags
    };
    do_mount(
        Some(source),
        &fd_path(&target),
        Some("tmpfs"),
        flags,
        Some(&opts.data),
    )
    .map_err(|e| mount_err(&with_data("mount tmpfs", &opts.data), dest, e))?;
    if let (true, Some((covered, mode))) = (prepare, &covered) {
        let top = root
            .open_in(dest, libc::O_RDONLY | libc::O_DIRECTORY)
            .map_err(|e| Error::io("open", dest, e))?;
        if opts.copy_up {
            copy_entries(covered.as_fd(), top.as_fd(), 0)
                .map_err(|e| Error::io("copy up the content of", dest, e))?;
        }
        if keep_mode {
            fchmod(&top, *mode).map_err(|e| Error::io("chmod", dest, e.into()))?;
        }
        if opts.flags.contains(MsFlags::MS_RDONLY) {
            let extra = opts.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
            do_mount(
                None,
                &fd_path(&top),
                None,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra,
                None,
            )
            .map_err(|e| mount_err("remount read-only", dest, e))?;
        }
    }
    Ok(())
}

fn mode_bits(mode: libc::mode_t) -> Mode {
    Mode::from_bits_truncate(mode & 0o7777)
}

fn copy_entries(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, depth: usize) -> io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(io::Error::other(format!(
            "directory tree deeper than {MAX_DEPTH} levels"
        )));
    }
    // The magic link names exactly the directory `src` is open on.
    for entry in std::fs::read_dir(fd_path(&src))? {
        let name = entry?.file_name();
        let name = CString::new(name.as_bytes()).map_err(io::Error::other)?;
        copy_entry(src, dst, &name, depth)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", name.to_string_lossy())))?;
    }
    Ok(())
}

fn copy_entry(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    name: &CStr,
    depth: usize,
) -> io::Result<()> {
    let st = fstatat(src, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    let owner = (
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    );
    let perm = mode_bits(st.st_mode);
    match SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) {
        SFlag::S_IFDIR => {
            mkdirat(dst, name, Mode::from_bits_truncate(0o700))?;
            let from = openat(src, name, dir_flags(), Mode::empty())?;
            let to = openat(dst, name, dir_flags(), Mode::empty())?;
            copy_entries(from.as_fd(), to.as_fd(), depth + 1)?;
            finish_owner_and_mode(&to, owner, perm)
        }
        SFlag::S_IFREG => {
            let from = openat(
                src,
                name,
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            let to = openat(
                dst,
                name,
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )?;
            let (mut from, to) = (File::from(from), File::from(to));
            io::copy(&mut from, &mut &to)?;
            finish_owner_and_mode(&OwnedFd::from(to), owner, perm)
        }
        SFlag::S_IFLNK => {
            let target = readlinkat(src, name)?;
            symlinkat(target.as_os_str(), dst, name)?;
            fchownat(dst, name, owner.0, owner.1, AtFlags::AT_SYMLINK_NOFOLLOW)?;
            Ok(())
        }
        // Device nodes, fifos and sockets: a new node of the same kind.
        kind => {
            mknodat(dst, name, kind, Mode::empty(), st.st_rdev)?;
            fchownat(dst, name, owner.0, owner.1, AtFlags::AT_SYMLINK_NOFOLLOW)?;
            // Nothing but this process can reach the new, unpublished
            // tmpfs, so the name still refers to the node just made (not
            // a symlink: following is safe).
            fchmodat(dst, name, perm, FchmodatFlags::FollowSymlink)?;
            Ok(())
        }
    }
}

/// Owner first: chown clears the set-id bits that the mode then restores.
fn finish_owner_and_mode(
    fd: &OwnedFd,
    owner: (Option<Uid>, Option<Gid>),
    perm: Mode,
) -> io::Result<()> {
    fchown(fd, owner.0, owner.1)?;
    fchmod(fd, perm)?;
    Ok(())
}
