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

use crate::error::{Error, Result};
use crate::model::{Container, State};
use crate::store::owner::{boot_id, ProcessId};
use crate::store::{LiveRow, Unfinished};
use crate::Engine;

/// What `berth system boot` did with one container.
pub struct BootStart {
    pub name: String,
    pub result: Result<()>,
}

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
        let mut networked = false;
        for row in rows {
            if row.boot_id == boot_id() && row.owner.is_alive() {
                continue;
            }
            networked |= !self.db.endpoints(&row.id)?.is_empty();
            if let Err(e) = self.recover(&row) {
                first_error.get_or_insert(e);
            }
        }
        // Addresses and ports of containers no longer live (normally freed
        // with the exit, in `reconciled` for a dead owner).
        match self.db.release_orphans() {
            Ok(freed) => networked |= freed,
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
        // Their rules and host-side links go with the rows.
        if networked {
            if let Err(e) = self.sweep_network_orphans() {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn recover(&mut self, row: &LiveRow) -> Result<()> {
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
    fn remove_unfinished(&mut self, u: &Unfinished) -> Result<()> {
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
                    return Err(Error::io("remove", dir, e))
                }
                _ => {}
            }
        } else {
            // Kills the init (and all in its cgroup), removes the cgroup and
            // the state; nothing to do if the runtime never created it.
            let _ = runtime.delete(&c.id, true);
        }
        remove_cgroups(c);
        super::unmount(&self.bundle(&c.id).rootfs())
    }

    /// `berth system boot`: (the reconcile ran when the engine opened)
    /// starts every stopped container whose restart policy says so, with
    /// Docker's rules at a daemon start: `always` even after a manual
    /// stop, `unless-stopped` unless stopped by hand, `on-failure` after a
    /// failure while retries remain. Containers never started stay down.
    pub fn boot(&mut self) -> Result<Vec<BootStart>> {
        // The startup sweep: host-side links and rules nothing owns (a
        // boot without a reboot, e.g. the service restarted, keeps them).
        if let Err(e) = self.sweep_network_orphans() {
            tracing::warn!(error = %e, "network sweep at boot");
        }
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

/// Removes the container's (empty) cgroup in every hierarchy, for a
/// runtime that did not (or a state that was lost). rmdir fails on a
/// cgroup that still has processes, which is then left alone.
fn remove_cgroups(c: &Container) {
    let removed = super::cgroup::cgroup(c).and_then(|cg| {
        cg.destroy().map_err(|source| Error::Cgroup {
            id: c.id.clone(),
            source,
        })
    });
    if let Err(e) = removed {
        tracing::debug!(id = %c.id, error = %e, "cgroup left in place");
    }
}
