//! `delete`: remove a stopped container (or, with `--force`, kill a running
//! one first): its processes, cgroup and state directory, then run the
//! poststop hooks. Works on whatever a killed `create` left behind.

use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::Container;
use crate::error::{Error, Result};
use crate::hooks::{self, HookKind};
use crate::state::{Record, StateDir, Status};

pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let c = match Container::load(root, id) {
        Ok(c) => c,
        Err(Error::NotExist(_)) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    let status = c.status();
    match status {
        Status::Stopped | Status::Creating | Status::Created => {}
        Status::Running | Status::Paused if !force => {
            return Err(Error::DeleteNotStopped {
                id: id.into(),
                status: status.to_string(),
            })
        }
        Status::Running | Status::Paused => {}
    }
    if let Some(record) = &c.record {
        stop_processes(record, status)?;
        destroy(&c.dir, record)?;
    } else {
        c.dir.remove()?;
    }
    Ok(())
}

/// Kills whatever still runs and waits until the init is gone.
fn stop_processes(record: &Record, status: Status) -> Result<()> {
    if let Some(cg) = &record.cgroup {
        cg.signal_all(Signal::SIGKILL)?;
        if status == Status::Paused {
            cg.thaw()?;
        }
    }
    if record.pid > 0 && record.init_alive() {
        let _ = nix::sys::signal::kill(Pid::from_raw(record.pid), Signal::SIGKILL);
    }
    if record.pid > 0 && record.init_alive() {
        wait_for_exit(record)?;
    }
    Ok(())
}

/// Waits until the init has exited: on its pidfd (no polling), else (a
/// kernel before 5.3) by checking /proc every 2 ms.
fn wait_for_exit(record: &Record) -> Result<()> {
    let timeout = Duration::from_secs(10);
    let died = || {
        Error::Container(format!(
            "container init {} did not die after SIGKILL",
            record.pid
        ))
    };
    if let Ok(pidfd) = berth_sys::pidfd_open(record.pid) {
        // The pid may have been reused between the check and the open:
        // then the init is gone already.
        if !record.init_alive() {
            return Ok(());
        }
        let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
            match poll(&mut fds, ms) {
                Ok(0) => return Err(died()),
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("wait for the container init to exit", e)),
            }
        }
    }
    let deadline = Instant::now() + timeout;
    while record.init_alive() {
        if Instant::now() > deadline {
            return Err(died());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

fn destroy(dir: &StateDir, record: &Record) -> Result<()> {
    if let Some(cg) = &record.cgroup {
        // Stray processes of a container without its own pid namespace.
        let _ = cg.signal_all(Signal::SIGKILL);
        cg.destroy()?;
    }
    if let Some(id) = record.rootfs_mount_id {
        crate::shared_mounts::unbind_rootfs(&record.rootfs, id)?;
    }
    let state = serde_json::to_vec(&record.oci_state(dir, Status::Stopped)).expect("state encodes");
    dir.remove()?;
    if let Some(h) = record
        .config
        .hooks()
        .as_ref()
        .and_then(|h| h.poststop().as_deref())
    {
        for e in hooks::run_hooks_best_effort(HookKind::Poststop, h, &state) {
            tracing::warn!("{}", crate::error::one_line(&e));
        }
    }
    Ok(())
}
