//! `events`: a container's cgroup statistics, once (`--stats`) or every
//! interval, and its OOM kills as they happen, until it stops.

use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

use berth_cgroups::{Cgroup, Stats};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::Container;
use crate::error::{Error, Result};
use crate::state::Status;

/// One line of `events` output.
pub enum Event {
    Stats(Box<Stats>),
    Oom,
}

fn cgroup_of(c: &Container) -> Result<Cgroup> {
    c.record()?.cgroup.clone().ok_or_else(|| {
        Error::Unsupported(format!("events of container {} without a cgroup", c.id()))
    })
}

/// The container's statistics now.
pub fn stats(root: &Path, id: &str) -> Result<Stats> {
    let c = Container::read(root, id)?;
    if c.status() == Status::Stopped {
        return Err(Error::NotRunning);
    }
    Ok(cgroup_of(&c)?.stats()?)
}

/// Emits statistics every `interval` and an event per OOM kill, until the
/// container stops (then returns Ok) or `emit` fails.
pub fn watch(
    root: &Path,
    id: &str,
    interval: Duration,
    mut emit: impl FnMut(Event) -> std::io::Result<()>,
) -> Result<()> {
    let c = Container::read(root, id)?;
    if c.status() == Status::Stopped {
        return Err(Error::NotRunning);
    }
    let cgroup = cgroup_of(&c)?;
    let mut oom = cgroup.oom_watcher()?;
    let out = |e: std::io::Error| Error::sys("write event", e);
    let mut next = Instant::now();
    loop {
        let now = Instant::now();
        if now >= next {
            // Catch up on kills the kernel counted after it woke us.
            for _ in 0..oom.consume().unwrap_or(0) {
                emit(Event::Oom).map_err(out)?;
            }
            if Container::read(root, id)
                .map(|c| c.status() == Status::Stopped)
                .unwrap_or(true)
            {
                return Ok(());
            }
            match cgroup.stats() {
                Ok(s) => emit(Event::Stats(Box::new(s))).map_err(out)?,
                // The container stopped between the check and the read.
                Err(_) if cgroup.paths().all(|p| !p.exists()) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
            next = now + interval;
            continue;
        }
        let wait = (next - now).as_millis().min(u16::MAX as u128) as u16;
        let mut fds = [PollFd::new(oom.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(wait)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => {}
            Ok(_) => {
                // The notification can come before the kernel counts the
                // kill (v1 signals while the cgroup is under OOM): give the
                // count a moment to move. The cgroup may be gone meanwhile
                // (a foreground `run` deletes it): then no count is read.
                let mut kills = oom.consume().unwrap_or(0);
                for _ in 0..20 {
                    if kills > 0 {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                    kills = oom.consume().unwrap_or(0);
                }
                for _ in 0..kills {
                    emit(Event::Oom).map_err(out)?;
                }
            }
            Err(e) => return Err(Error::sys("wait for OOM events", e)),
        }
    }
}
