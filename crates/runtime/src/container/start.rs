//! `start`: release a created container's init from the exec fifo.

use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::Container;
use crate::error::{Error, Result};
use crate::hooks::{self, HookKind};
use crate::state::Status;

pub fn start(root: &Path, id: &str) -> Result<()> {
    let c = Container::load(root, id)?;
    match c.status() {
        Status::Created => {}
        Status::Stopped => return Err(Error::StartStopped),
        Status::Running | Status::Paused => return Err(Error::StartRunning),
        Status::Creating => {
            return Err(Error::WrongState {
                id: id.into(),
                action: "start",
                status: "creating".into(),
            })
        }
    }
    let record = c.record()?;
    let path = c.dir.fifo_path();
    // Non-blocking open: it succeeds at once, and the init's blocked
    // write-open completes as soon as we have the read end.
    let fifo = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| Error::io("open exec fifo", &path, e))?;
    // One byte: the startContainer hooks ran. Then end-of-file: the init's
    // close-on-exec write end went away, so the program runs. A second
    // byte instead means execve failed.
    let mut bytes = 0;
    let mut buf = [0u8; 2];
    loop {
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => {}
            Ok(_) => match nix::unistd::read(fifo.as_fd(), &mut buf) {
                Ok(0) if bytes == 1 => break,
                Ok(0) if bytes == 0 => {}
                Ok(0) => {
                    let _ = std::fs::remove_file(&path);
                    return Err(Error::Container(
                        "the container's program failed to start (see its stderr)".into(),
                    ));
                }
                Ok(n) => bytes += n,
                Err(nix::errno::Errno::EAGAIN) => {}
                Err(e) => return Err(Error::io("read exec fifo", &path, e.into())),
            },
            Err(e) => return Err(Error::io("wait on exec fifo", &path, e.into())),
        }
        // Before its byte, an init that died will never write one: it was
        // alive when we opened the fifo, so it failed in its last steps
        // (its own error went to the container's stderr).
        if bytes == 0 && !record.init_alive() {
            let _ = std::fs::remove_file(&path);
            return Err(Error::Container(
                "the container's init exited before starting its program \
                 (a startContainer hook failed, or its last setup step; see the container's stderr)"
                    .into(),
            ));
        }
    }
    std::fs::remove_file(&path).map_err(|e| Error::io("remove exec fifo", &path, e))?;
    if let Some(h) = record
        .config
        .hooks()
        .as_ref()
        .and_then(|h| h.poststart().as_deref())
    {
        let state =
            serde_json::to_vec(&record.oci_state(&c.dir, Status::Running)).expect("state encodes");
        // The container runs already: poststart failures are warnings.
        for e in hooks::run_hooks_best_effort(HookKind::Poststart, h, &state) {
            tracing::warn!("{}", crate::error::one_line(&e));
        }
    }
    Ok(())
}
