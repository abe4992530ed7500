//! OOM-kill notifications: a file descriptor that becomes readable when the
//! kernel's OOM killer may have acted in the cgroup, and the count of kills.
//!
//! v1: an eventfd registered for `memory.oom_control` through
//! `cgroup.event_control` (the kernel signals it when the cgroup is under
//! OOM, and when the cgroup is removed); kills are counted with the
//! `oom_kill` line of `memory.oom_control` (Linux 4.13+), or by the
//! notifications on older kernels. v2: an inotify watch on `memory.events`,
//! whose `oom_kill` line counts the kills in the cgroup and below.
//!
//! This module reads no thread of its own: the caller polls
//! [`OomWatcher`]'s fd (with its timer, as `events` does) and calls
//! [`OomWatcher::consume`].

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::resources::{unsupported, Version};
use crate::stats::{read_keyed, read_opt};
use crate::{files, Cgroup, Error};

/// Watches a cgroup for OOM kills. Poll its fd for readability, then call
/// [`consume`](OomWatcher::consume).
#[derive(Debug)]
pub struct OomWatcher {
    kind: Kind,
    /// `memory.oom_control` (v1) or `memory.events` (v2).
    counter: PathBuf,
    /// The kill count at the last `consume` (or at creation).
    seen: u64,
}

#[derive(Debug)]
enum Kind {
    V1 {
        eventfd: EventFd,
        /// Kept open: the registration refers to it.
        _control: File,
        /// The kernel has `oom_kill` in `memory.oom_control`.
        counts_kills: bool,
    },
    V2 {
        inotify: Inotify,
    },
}

impl Cgroup {
    /// Starts watching for OOM kills in the cgroup. Kills before this call
    /// are not reported by the watcher.
    pub fn oom_watcher(&self) -> Result<OomWatcher, Error> {
        let (dir, version) = self.memory_dir()?;
        match version {
            Version::V1 => watch_v1(dir),
            Version::V2 => watch_v2(dir),
        }
    }

    /// How many processes the OOM killer has killed in the cgroup (and, on
    /// v2, below it) since it was created.
    pub fn oom_kill_count(&self) -> Result<u64, Error> {
        let (dir, version) = self.memory_dir()?;
        let file = match version {
            Version::V1 => "memory.oom_control",
            Version::V2 => "memory.events",
        };
        kill_count(&dir.join(file))?.ok_or_else(|| {
            Error::Unsupported(format!(
                "this kernel does not count OOM kills (no oom_kill in {})",
                dir.join(file).display()
            ))
        })
    }

    fn memory_dir(&self) -> Result<(&Path, Version), Error> {
        self.controller("memory")
            .ok_or_else(|| unsupported("memory", "no cgroup hierarchy has the memory controller"))
    }
}

/// The `oom_kill` line of `memory.oom_control` or `memory.events`; `None`
/// when the kernel has no such line. A missing file (cgroup removed) is
/// an error.
fn kill_count(path: &Path) -> Result<Option<u64>, Error> {
    if read_opt(path)?.is_none() {
        return Err(Error::Read {
            path: path.to_path_buf(),
            source: io::Error::from(io::ErrorKind::NotFound),
        });
    }
    Ok(read_keyed(path)?
        .unwrap_or_default()
        .get("oom_kill")
        .copied())
}

fn watch_err(path: &Path) -> impl FnOnce(Errno) -> Error + '_ {
    move |e| Error::Watch {
        path: path.to_path_buf(),
        source: e.into(),
    }
}

fn watch_v1(dir: &Path) -> Result<OomWatcher, Error> {
    let counter = dir.join("memory.oom_control");
    let control = File::open(&counter).map_err(|source| Error::Read {
        path: counter.clone(),
        source,
    })?;
    let eventfd = EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
        .map_err(watch_err(&counter))?;
    files::write(
        &dir.join("cgroup.event_control"),
        &format!("{} {}", eventfd.as_raw_fd(), control.as_raw_fd()),
    )?;
    let seen = kill_count(&counter)?;
    Ok(OomWatcher {
        kind: Kind::V1 {
            eventfd,
            _control: control,
            counts_kills: seen.is_some(),
        },
        counter,
        seen: seen.unwrap_or(0),
    })
}

fn watch_v2(dir: &Path) -> Result<OomWatcher, Error> {
    let counter = dir.join("memory.events");
    let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
        .map_err(watch_err(&counter))?;
    inotify
        .add_watch(&counter, AddWatchFlags::IN_MODIFY)
        .map_err(watch_err(&counter))?;
    let seen = kill_count(&counter)?.unwrap_or(0);
    Ok(OomWatcher {
        kind: Kind::V2 { inotify },
        counter,
        seen,
    })
}

impl OomWatcher {
    /// How many OOM kills happened since the last call (or since the
    /// watcher was made); 0 after a wakeup that was not a kill (memory
    /// events other than OOM on v2, an OOM without a kill on v1). Drains
    /// the fd, so it is not readable again until the next event.
    ///
    /// The kernel may signal before it counts the kill: a caller that polls
    /// with a timer should call this on every tick too, not only when the fd
    /// is readable. Fails with [`ErrorKind::NotFound`](crate::ErrorKind)
    /// once the cgroup is gone.
    pub fn consume(&mut self) -> Result<u64, Error> {
        let signalled = self.drain()?;
        match &self.kind {
            Kind::V1 {
                counts_kills: false,
                ..
            } => {
                // Old kernels: only the notifications to go by.
                kill_count(&self.counter)?;
                Ok(signalled)
            }
            _ => {
                let now = kill_count(&self.counter)?.unwrap_or(0);
                let new = now.saturating_sub(self.seen);
                self.seen = now;
                Ok(new)
            }
        }
    }

    /// Reads what the fd has; returns the notification count (v1) or the
    /// number of inotify events (v2).
    fn drain(&self) -> Result<u64, Error> {
        let res = match &self.kind {
            Kind::V1 { eventfd, .. } => eventfd.read(),
            Kind::V2 { inotify } => inotify.read_events().map(|e| e.len() as u64),
        };
        match res {
            Ok(n) => Ok(n),
            Err(Errno::EAGAIN) => Ok(0),
            Err(e) => Err(watch_err(&self.counter)(e)),
        }
    }
}

impl AsFd for OomWatcher {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.kind {
            Kind::V1 { eventfd, .. } => eventfd.as_fd(),
            Kind::V2 { inotify } => inotify.as_fd(),
        }
    }
}
