//! Socket activation: the listening sockets systemd passes.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::check;

/// The sockets systemd's socket activation passed to this process
/// (`LISTEN_PID` = our pid, `LISTEN_FDS` = N: descriptors 3..3+N), taken
/// once: the variables are removed so a second call (or a child) finds
/// none. Each descriptor is checked to be an open socket and made
/// close-on-exec. Empty when the variables are absent or for another pid.
pub fn take_listen_fds() -> io::Result<Vec<OwnedFd>> {
    const FIRST: RawFd = 3;
    let pid_ok = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|p| p == std::process::id());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<RawFd>().ok())
        .unwrap_or(0);
    // Removed while the process is still single-threaded at this point
    // (`berth serve` calls this before starting its runtime).
    std::env::remove_var("LISTEN_PID");
    std::env::remove_var("LISTEN_FDS");
    std::env::remove_var("LISTEN_FDNAMES");
    if !pid_ok || count <= 0 {
        return Ok(Vec::new());
    }
    let mut fds = Vec::new();
    for fd in FIRST..FIRST + count {
        // SAFETY: `stat` is plain data; all zeroes is a valid value.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat on an integer descriptor only fills `st`; a closed
        // descriptor is EBADF, checked before the descriptor is owned.
        let ret = unsafe { libc::fstat(fd, &mut st) };
        check(ret as libc::c_long)?;
        if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("LISTEN_FDS: descriptor {fd} is not a socket"),
            ));
        }
        // SAFETY: systemd hands these descriptors to this process (LISTEN_PID
        // is ours), nothing else in it owns them, and each is taken once: the
        // variables are gone after this call.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let raw = owned.as_raw_fd();
        // SAFETY: F_SETFD on a descriptor we own.
        let ret = unsafe { libc::fcntl(raw, libc::F_SETFD, libc::FD_CLOEXEC) };
        check(ret as libc::c_long)?;
        fds.push(owned);
    }
    Ok(fds)
}
