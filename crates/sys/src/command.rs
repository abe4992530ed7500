//! Descriptors handed to a program at fixed numbers: what `criu swrk 3`
//! expects (its RPC socket at 3, the descriptors named by `inherit_fd` at
//! 4, 5, ...), as Go's `exec.Cmd.ExtraFiles` does it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::check;

/// Arranges for `cmd`'s program to find `fds[i]` open at descriptor
/// `3 + i` (without close-on-exec), and nothing else of ours above 2.
///
/// The descriptors are first copied (close-on-exec) above `3 + fds.len()`,
/// so that placing one cannot overwrite another still to be placed; the
/// child then `dup2`s each copy onto its number between fork and exec.
pub fn pass_fds(cmd: &mut Command, fds: &[&OwnedFd]) -> io::Result<()> {
    let first_free = 3 + fds.len() as RawFd;
    let mut copies = Vec::with_capacity(fds.len());
    for fd in fds {
        // SAFETY: F_DUPFD_CLOEXEC only creates a new descriptor; `fd` is
        // borrowed and open for the duration of the call.
        let ret = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, first_free) };
        let raw = check(ret as libc::c_long)? as RawFd;
        // SAFETY: the kernel just returned this new descriptor; nothing
        // else owns it.
        copies.push(unsafe { OwnedFd::from_raw_fd(raw) });
    }
    let placements: Vec<(RawFd, RawFd)> = copies
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_raw_fd(), 3 + i as RawFd))
        .collect();
    // SAFETY: the closure runs in the forked child before execve and only
    // calls dup2, which is async-signal-safe; it allocates nothing (the
    // vector was built before the fork) and touches no lock. The copies
    // stay open in the parent until `cmd` is dropped (the closure owns
    // them), so their numbers are valid in the child.
    unsafe {
        cmd.pre_exec(move || {
            let _keep = &copies;
            for &(from, to) in &placements {
                if libc::dup2(from, to) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    Ok(())
}
