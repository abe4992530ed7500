//! AppArmor: the profile a container's process runs under
//! (`process.apparmorProfile`, `exec --apparmor`).
//!
//! The profile is set with AppArmor's "change on exec": the process writes
//! `exec <profile>` to its own `attr/apparmor/exec` (or the older
//! `attr/exec`) in procfs, and the kernel confines it at its next
//! `execve`, the user's program. The runtime opens the host's `/proc`
//! before the process enters the container, so a `/proc` the container
//! controls cannot swallow the write (CVE-2019-16884).

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};

use nix::fcntl::{open, openat, OFlag};
use nix::sys::stat::Mode;

use crate::error::{Error, Result};

/// Whether the kernel runs AppArmor.
pub fn is_enabled() -> bool {
    std::fs::read("/sys/module/apparmor/parameters/enabled").is_ok_and(|b| b.first() == Some(&b'Y'))
}

/// An error unless the host can apply profile `name`.
pub fn check_available(name: &str) -> Result<()> {
    if is_enabled() {
        return Ok(());
    }
    Err(Error::HostLacks(format!(
        "AppArmor profile {name:?} requested, but AppArmor is not enabled on this host"
    )))
}

/// A profile to apply to a process about to be forked.
#[derive(Debug)]
pub struct Profile {
    name: String,
    /// The host's procfs, opened by the runtime.
    proc_dir: OwnedFd,
}

impl Profile {
    /// `None` when no profile is asked for (`""` means none, as for runc);
    /// an error when one is and the host has no AppArmor.
    pub fn prepare(name: Option<&str>) -> Result<Option<Profile>> {
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            return Ok(None);
        };
        check_available(name)?;
        let proc_dir = open(
            "/proc",
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::sys("open /proc for AppArmor", e))?;
        Ok(Some(Profile {
            name: name.to_string(),
            proc_dir,
        }))
    }

    /// In the forked process: confine it with the profile from its next
    /// `execve` on. Must run in the thread that will exec.
    pub fn apply_on_exec(&self) -> Result<()> {
        let flags = OFlag::O_WRONLY | OFlag::O_CLOEXEC;
        let fd = openat(
            self.proc_dir.as_fd(),
            "thread-self/attr/apparmor/exec",
            flags,
            Mode::empty(),
        )
        // Kernels before 5.8 have only the shared LSM file.
        .or_else(|_| {
            openat(
                self.proc_dir.as_fd(),
                "thread-self/attr/exec",
                flags,
                Mode::empty(),
            )
        })
        .map_err(|e| {
            Error::sys(
                format!("open the AppArmor attribute for profile {:?}", self.name),
                e,
            )
        })?;
        File::from(fd)
            .write_all(format!("exec {}", self.name).as_bytes())
            .map_err(|e| {
                Error::sys(
                    format!("apply AppArmor profile {:?} (is it loaded?)", self.name),
                    e,
                )
            })
    }
}
