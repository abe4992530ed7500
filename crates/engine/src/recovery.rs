//! Recovery: make the database true again after a `kill -9` of any berth
//! process or monitor, or a reboot. Every container whose state says a
//! process exists (`starting`, `running`, `restarting`, `paused`) has an
//! owner recorded with it: its monitor, or the command starting it, as pid,
//! start time (safe from pid reuse) and boot id. When the owner is gone or
//! the host booted since, the next command takes the container over
//! (atomically, so two commands never both clean it), has the runtime
//! delete it (killing what is left), removes its cgroups and rootfs mount,
//! and records it `exited`: 137 when a live container had to be killed,
//! 255 (Docker's code after a crash) otherwise. A `create` that died
//! before its files were complete (its creator is recorded the same way
//! until then) is removed. `berth system boot` then starts the containers
//! whose restart policy says so.
//!
//! The check is cheap enough for every command: one indexed query, and a
//! read of `/proc/<pid>/stat` per live container.

use std::path::Path;
use std::sync::OnceLock;

use crate::container::{Container, State};
use crate::error::Result;
use crate::Engine;

/// A process, told apart from a later one with the same pid by its start
/// time (clock ticks since boot, `/proc/<pid>/stat` field 22).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessId {
    pub pid: i32,
    pub start_time: u64,
}

impl ProcessId {
    pub fn current() -> ProcessId {
        let pid = std::process::id() as i32;
        ProcessId {
            pid,
            start_time: start_time(pid).unwrap_or(0),
        }
    }

    /// True while this very process exists and is not a zombie.
    pub fn is_alive(self) -> bool {
        self.pid > 0 && start_time(self.pid) == Some(self.start_time)
    }

    /// `pid:start_time`, how a starter names itself to the monitor.
    pub fn parse(s: &str) -> Option<ProcessId> {
        let (pid, start) = s.split_once(':')?;
        Some(ProcessId {
            pid: pid.parse().ok()?,
            start_time: start.parse().ok()?,
        })
    }
}

impl std::fmt::Display for ProcessId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.pid, self.start_time)
    }
}

/// The start time of a live (not zombie) process.
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after
    // the last ')'. Then: state (3), ..., starttime (22).
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// This boot's id; a different one recorded with a container means the
/// host rebooted since (its processes, mounts and cgroups are gone).
pub fn boot_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    })
}

/// The environment variable through which `start` tells the monitor which
/// process it takes the container over from.
pub const STARTER_ENV: &str = "BERTH_MONITOR_STARTER";

impl Engine {
    /// Reconciles every container whose owner is gone (see the module
    /// doc). Errors on one container do not stop the others; the first is
    /// returned.
    pub fn reconcile(&mut self) -> Result<()> {
        let rows = self.db.live_rows()?;
        let mut first_error = None;
        for u in self.db.unfinished()? {
            if u.boot_id == boot_id() && u.creator.is_alive() {
                continue;
            }
            if let Err(e) = self.remove_unfinished(&u) {
                first_error.get_or_insert(e);
            }
        }
        for row in rows {
            if row.boot_id == boot_id() && row.owner.is_alive() {
                continue;
            }
            if let Err(e) = self.recover(&row) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn recover(&mut self, row: &crate::db::LiveRow) -> Result<()> {
        let me = ProcessId::current();
        if !self
            .db
            .take_over(&row.id, row.owner, &row.boot_id, me, boot_id())?
        {
            return Ok(()); // another command got there first
        }
        let Some(c) = self.db.get(&row.id)? else {
            return Ok(());
        };
        // Rows recorded before boot ids were: not a reboot.
        let rebooted = !row.boot_id.is_empty() && row.boot_id != boot_id();
        let init_alive = !rebooted && c.pid > 0 && Path::new(&format!("/proc/{}", c.pid)).exists();
        self.clean_up_after_owner(&c, rebooted)?;
        let (code, error) = if rebooted {
            (255, "the host rebooted while the container was running")
        } else if init_alive {
            (
                137,
                "the container's monitor died; berth killed the container",
            )
        } else {
            (255, "the container's monitor died")
        };
        let finished = berth_image::time::now_rfc3339();
        self.db.reconciled(&c.id, me, code, error, &finished)?;
        if c.config.auto_remove {
            self.remove_files(&c)?;
        }
        Ok(())
    }

    /// A `create` died before its files were complete: the container never
    /// existed for the user; remove what there is of it.
    fn remove_unfinished(&mut self, u: &crate::db::Unfinished) -> Result<()> {
        if !self.db.take_unfinished(u, ProcessId::current())? {
            return Ok(());
        }
        match self.db.get(&u.id)? {
            Some(c) => self.remove_files(&c),
            None => Ok(()),
        }
    }

    /// The runtime's state, the container's processes and cgroups, and the
    /// rootfs mount.
    fn clean_up_after_owner(&self, c: &Container, rebooted: bool) -> Result<()> {
        let runtime = self.runtime_for(c);
        if rebooted {
            // The state's pid may name an unrelated process of this boot:
            // no runtime command gets to act on it. It is only files now.
            let dir = runtime.root.join(&c.id);
            match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(crate::Error::io("remove", dir, e))
                }
                _ => {}
            }
        } else {
            // Kills the init (and all in its cgroup), removes the cgroup and
            // the state; nothing to do if the runtime never created it.
            let _ = runtime.delete(&c.id, true);
        }
        remove_cgroups(c);
        crate::unmount(&self.bundle(&c.id).rootfs())
    }
}

/// Removes the container's (empty) cgroup in every hierarchy, for a
/// runtime that did not (or a state that was lost). rmdir fails on a
/// cgroup that still has processes, which is then left alone.
fn remove_cgroups(c: &Container) {
    let removed = crate::host::cgroup(c).and_then(|cg| {
        cg.destroy().map_err(|source| crate::Error::Cgroup {
            id: c.id.clone(),
            source,
        })
    });
    if let Err(e) = removed {
        tracing::debug!(id = %c.id, error = %e, "cgroup left in place");
    }
}

/// What `berth system boot` did with one container.
pub struct BootStart {
    pub name: String,
    pub result: Result<()>,
}

impl Engine {
    /// `berth system boot`: (the reconcile ran when the engine opened)
    /// starts every stopped container whose restart policy says so, with
    /// Docker's rules at a daemon start: `always` even after a manual
    /// stop, `unless-stopped` unless stopped by hand, `on-failure` after a
    /// failure while retries remain. Containers never started stay down.
    pub fn boot(&mut self) -> Result<Vec<BootStart>> {
        let mut started = Vec::new();
        for c in self.list()? {
            if c.state != State::Exited || c.config.restart.is_none() {
                continue;
            }
            let l = self.db.lifecycle(&c.id)?.unwrap_or_default();
            if !c
                .config
                .restart
                .starts_at_boot(c.exit_code, l.manually_stopped, l.restart_count)
            {
                continue;
            }
            let result = self.start_as(&c.id, false).map(|_| ());
            started.push(BootStart {
                name: c.name.clone(),
                result,
            });
        }
        Ok(started)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_parses_back() {
        let me = ProcessId::current();
        assert!(me.start_time > 0);
        assert!(me.is_alive());
        assert_eq!(ProcessId::parse(&me.to_string()), Some(me));
        let later = ProcessId {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(
            !later.is_alive(),
            "same pid, other start time: another process"
        );
        assert!(!ProcessId::default().is_alive());
    }

    #[test]
    fn boot_id_is_read() {
        assert_eq!(boot_id().len(), 36, "{}", boot_id());
    }
}
