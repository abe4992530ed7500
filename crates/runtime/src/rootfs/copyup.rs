//! `tmpcopyup`: a tmpfs that starts with a copy of the directory it
//! covers. Podman asks for it on every `--tmpfs` and on the `/run`, `/tmp`
//! and `/var/tmp` it mounts for `--read-only`.
//!
//! runc mounts the tmpfs on a scratch directory under the host's `/tmp`,
//! copies and moves it. berth keeps a descriptor of the covered directory,
//! mounts the tmpfs over it and copies from that descriptor into the new
//! mount, so no path outside the container's root is involved. The copy is
//! made of `*at` calls relative to directory descriptors opened with
//! `O_NOFOLLOW`: a symlink in the image is copied as a symlink, never
//! followed. Owners and modes are kept (as runc does); timestamps and
//! extended attributes are not, and hard links become separate files.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fchmod, fchmodat, fstatat, mkdirat, mknodat, FchmodatFlags, Mode, SFlag};
use nix::unistd::{fchown, fchownat, symlinkat, Gid, Uid};

use super::resolve::fd_path;

/// How deep a copied tree may be. Each level holds two descriptors open,
/// so this keeps a hostile image from exhausting them (or the stack).
const MAX_DEPTH: usize = 128;

/// Open flags of a directory in the copy.
fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

/// Copies the content of directory `src` into the empty directory `dst`,
/// and gives `dst` the mode of `src` (the tmpfs root would otherwise keep
/// tmpfs's default 1777).
pub fn copy_tree(src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> io::Result<()> {
    let st = nix::sys::stat::fstat(src)?;
    copy_entries(src, dst, 0)?;
    fchmod(dst, mode_bits(st.st_mode))?;
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
