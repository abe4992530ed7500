//! Mounting a local volume that has options (moby `localVolume.mount`
//! through `moby/sys/mount.Mount`), with mount(2), never the `mount`
//! binary; unmounting it; telling whether something is mounted on a path.
//!
//! The engine mounts such a volume when the first container using it
//! starts and unmounts it after the last one stops (moby's `activeMount`
//! count); these are the primitives it counts with.
//!
//! What differs from moby: moby treats the device `none` as a remount and
//! skips the mount when `o` carries no filesystem data, so `type=tmpfs,
//! device=none` with no `o` silently leaves a plain directory; berth mounts
//! it. The rest is moby's sequence: the mount itself with every flag but
//! the propagation ones, then the propagation change, then for a read-only
//! bind the remount that makes it read-only.

use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{umount2, MntFlags, MsFlags};

use crate::options::{resolve_host, split_options, Error as OptionsError, LocalOptions};
use crate::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// moby's words, with Go's text for the errno:
    /// `failed to mount local volume: mount SRC:TARGET, flags: 0x1000, data: size=1m: no such device`.
    #[error("failed to mount local volume: {step}: {}", go_text(*errno))]
    Mount { step: String, errno: Errno },
    /// moby: `umount TARGET, flags: 0x2: device or resource busy`.
    #[error("umount {}, flags: 0x{:x}: {}", target.display(), libc::MNT_DETACH, go_text(*errno))]
    Unmount { target: PathBuf, errno: Errno },
    #[error("failed to read the mount table")]
    MountTable(#[source] io::Error),
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Options(e) => e.kind(),
            _ => ErrorKind::Internal,
        }
    }

    /// The system's error number, for a failed mount or unmount.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Mount { errno, .. } | Error::Unmount { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

/// Go's text for an errno: the C library's, lowercase first letter.
fn go_text(e: Errno) -> String {
    let text = e.desc();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text.into(),
    }
}

/// The propagation types: applied by a second call.
const PROPAGATION: MsFlags = MsFlags::MS_SHARED
    .union(MsFlags::MS_PRIVATE)
    .union(MsFlags::MS_SLAVE)
    .union(MsFlags::MS_UNBINDABLE);

/// Mounts the volume `opts` describes on `target` (its `_data`).
pub fn mount(opts: &LocalOptions, target: &Path) -> Result<(), Error> {
    let (device, options) = opts.resolved(&resolve_host)?;
    let (flags, data) = split_options(&options);
    // What a failure message shows of the options: never a password.
    let password = opts
        .options
        .split(',')
        .find_map(|o| o.strip_prefix("password="))
        .filter(|p| !p.is_empty());
    let shown = |data: &str| match password {
        Some(p) => data.replacen(&format!("password={p}"), "password=********", 1),
        None => data.to_owned(),
    };
    let fail = |op: &str, source: &str, flags: MsFlags, data: &str, errno| Error::Mount {
        step: step_text(op, source, target, flags, &shown(data)),
        errno,
    };

    let first = flags.difference(PROPAGATION);
    nix::mount::mount(
        Some(device.as_str()),
        target,
        Some(opts.fs_type.as_str()),
        first,
        (!data.is_empty()).then_some(data.as_str()),
    )
    .map_err(|e| fail("mount", &device, first, &data, e))?;

    let undo = || {
        let _ = umount2(target, MntFlags::MNT_DETACH);
    };
    if flags.intersects(PROPAGATION) {
        let change = flags & (PROPAGATION | MsFlags::MS_REC | MsFlags::MS_SILENT);
        if let Err(e) = nix::mount::mount(None::<&str>, target, None::<&str>, change, None::<&str>)
        {
            undo();
            return Err(fail("remount", "", change, "", e));
        }
    }
    // A bind ignores MS_RDONLY; a remount of the bind applies it.
    let bind_ro = MsFlags::MS_BIND | MsFlags::MS_RDONLY;
    if first.contains(bind_ro) {
        let remount = first | MsFlags::MS_REMOUNT;
        if let Err(e) = nix::mount::mount(None::<&str>, target, None::<&str>, remount, None::<&str>)
        {
            undo();
            return Err(fail("remount-ro", "", remount, "", e));
        }
    }
    Ok(())
}

/// moby's `mountError` text before the cause.
fn step_text(op: &str, source: &str, target: &Path, flags: MsFlags, data: &str) -> String {
    let mut s = format!("{op} ");
    if !source.is_empty() {
        s.push_str(source);
        s.push(':');
    }
    s.push_str(&target.to_string_lossy());
    if !flags.is_empty() {
        s.push_str(&format!(", flags: 0x{:x}", flags.bits()));
    }
    if !data.is_empty() {
        s.push_str(", data: ");
        s.push_str(data);
    }
    s
}

/// Unmounts the volume mounted on `target`. The detach is lazy
/// (`MNT_DETACH`, as moby's): a mount still busy (a process with a file
/// open in it) leaves the tree at once and the filesystem goes when its
/// last user does, so a stopped container's straggler never blocks the
/// engine. Nothing mounted there is not an error (moby ignores `EINVAL`).
pub fn unmount(target: &Path) -> Result<(), Error> {
    match umount2(target, MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => Ok(()),
        Err(errno) => {
            // moby: the failure matters only if it is still mounted.
            if is_mounted(target)? {
                Err(Error::Unmount {
                    target: target.into(),
                    errno,
                })
            } else {
                Ok(())
            }
        }
    }
}

/// True when something is mounted on `target` itself (not merely on a
/// path above it), in the calling thread's mount namespace. A path that
/// does not exist is not mounted on.
pub fn is_mounted(target: &Path) -> Result<bool, Error> {
    let target = match std::fs::canonicalize(target) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::MountTable(e)),
    };
    let points = crate::mountinfo::mount_points().map_err(Error::MountTable)?;
    Ok(points.contains(&target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_text_as_moby_writes_it() {
        let e = Error::Mount {
            step: step_text(
                "mount",
                "/dev/sdz",
                Path::new("/v/_data"),
                MsFlags::MS_BIND,
                "size=1m",
            ),
            errno: Errno::ENOENT,
        };
        assert_eq!(
            e.to_string(),
            "failed to mount local volume: mount /dev/sdz:/v/_data, flags: 0x1000, data: size=1m: no such file or directory"
        );
        let e = Error::Mount {
            step: step_text("remount", "", Path::new("/v"), MsFlags::empty(), ""),
            errno: Errno::EBUSY,
        };
        assert_eq!(
            e.to_string(),
            "failed to mount local volume: remount /v: device or resource busy"
        );
        let e = Error::Unmount {
            target: "/v".into(),
            errno: Errno::EBUSY,
        };
        assert_eq!(
            e.to_string(),
            "umount /v, flags: 0x2: device or resource busy"
        );
    }
}
