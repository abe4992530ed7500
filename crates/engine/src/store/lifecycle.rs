//! The lifecycle columns (migration 2) and the changes that must be atomic
//! with a check: every write by a monitor or a reconciling command names
//! the owner it expects (pid + start time + boot), so a monitor that lost
//! its container to a reconcile, or a reconcile racing another, changes
//! nothing.

use rusqlite::{params, OptionalExtension};

use super::owner::{boot_id, ProcessId};
use super::Db;
use crate::error::{Error, Result};
use crate::model::State;

/// What the engine knows of a container beyond its record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lifecycle {
    /// The process in charge: the monitor, or the command starting it.
    pub owner: ProcessId,
    /// `/proc/sys/kernel/random/boot_id` when the owner was recorded.
    pub boot_id: String,
    pub restart_count: u32,
    /// Docker's HasBeenManuallyStopped: `stop` or `kill` by the user.
    pub manually_stopped: bool,
    /// A stop is under way: the next exit does not restart.
    pub exit_on_next: bool,
}

/// A container whose state says a process should exist.
#[derive(Debug, Clone)]
pub struct LiveRow {
    pub id: String,
    pub owner: ProcessId,
    pub boot_id: String,
}

/// A container whose `create` has not finished: its files may be partial.
#[derive(Debug, Clone)]
pub struct Unfinished {
    pub id: String,
    pub creator: ProcessId,
    pub boot_id: String,
}

/// In `insert`'s transaction: the calling process is creating the
/// container until [`Db::created`]; if it dies first, a reconcile removes
/// the half-made container.
pub(super) fn record_creator(tx: &rusqlite::Transaction, id: &str) -> rusqlite::Result<()> {
    let me = ProcessId::current();
    tx.execute(
        "UPDATE containers SET creator_pid = ?2, creator_start = ?3, boot_id = ?4 WHERE id = ?1",
        params![id, me.pid, me.start_time as i64, boot_id()],
    )?;
    Ok(())
}

/// The states in which a process (monitor or container) should exist.
const LIVE: &str = "('starting', 'running', 'restarting', 'paused')";

impl Db {
    fn db_err(&self, source: rusqlite::Error) -> Error {
        Error::Database {
            path: self.path.clone(),
            source,
        }
    }

    pub fn lifecycle(&self, id: &str) -> Result<Option<Lifecycle>> {
        self.conn
            .query_row(
                "SELECT monitor_pid, monitor_start, boot_id, restart_count, manually_stopped,
                 exit_on_next FROM containers WHERE id = ?1",
                [id],
                |r| {
                    Ok(Lifecycle {
                        owner: ProcessId {
                            pid: r.get(0)?,
                            start_time: r.get::<_, i64>(1)? as u64,
                        },
                        boot_id: r.get(2)?,
                        restart_count: r.get(3)?,
                        manually_stopped: r.get(4)?,
                        exit_on_next: r.get(5)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.db_err(e))
    }

    /// The rows a reconcile looks at (an index on `state` keeps this cheap).
    pub fn live_rows(&self) -> Result<Vec<LiveRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT id, monitor_pid, monitor_start, boot_id FROM containers
                 WHERE state IN {LIVE}"
            ))
            .map_err(|e| self.db_err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(LiveRow {
                    id: r.get(0)?,
                    owner: ProcessId {
                        pid: r.get(1)?,
                        start_time: r.get::<_, i64>(2)? as u64,
                    },
                    boot_id: r.get(3)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>());
        rows.map_err(|e| self.db_err(e))
    }

    /// The containers still being created (an indexed query).
    pub fn unfinished(&self) -> Result<Vec<Unfinished>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, creator_pid, creator_start, boot_id FROM containers
                 WHERE creator_pid != 0",
            )
            .map_err(|e| self.db_err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Unfinished {
                    id: r.get(0)?,
                    creator: ProcessId {
                        pid: r.get(1)?,
                        start_time: r.get::<_, i64>(2)? as u64,
                    },
                    boot_id: r.get(3)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>());
        rows.map_err(|e| self.db_err(e))
    }

    /// `create` finished: the files are complete.
    pub fn created(&self, id: &str) -> Result<()> {
        let write = || {
            let tx = super::events::immediate(&self.conn)?;
            tx.execute(
                "UPDATE containers SET creator_pid = 0, creator_start = 0 WHERE id = ?1",
                [id],
            )?;
            super::events::container(&tx, id, "create", &[])?;
            tx.commit()
        };
        write().map_err(|e| self.db_err(e))
    }

    /// Takes an unfinished container from its dead creator (compare and
    /// set, so one reconciling command removes it).
    pub fn take_unfinished(&self, u: &Unfinished, me: ProcessId) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE containers SET creator_pid = ?4, creator_start = ?5
                 WHERE id = ?1 AND creator_pid = ?2 AND creator_start = ?3",
                params![
                    u.id,
                    u.creator.pid,
                    u.creator.start_time as i64,
                    me.pid,
                    me.start_time as i64
                ],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(n == 1)
    }

    /// `created|exited → starting`, owned by `owner`, in one statement.
    /// A start by the user (`reset`) forgets restarts and a manual stop,
    /// as Docker's does.
    pub fn begin_start(
        &mut self,
        id: &str,
        owner: ProcessId,
        boot_id: &str,
        reset: bool,
    ) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE containers SET state = 'starting', monitor_pid = ?2, monitor_start = ?3,
                 boot_id = ?4, exit_on_next = 0,
                 restart_count = CASE WHEN ?5 THEN 0 ELSE restart_count END,
                 manually_stopped = CASE WHEN ?5 THEN 0 ELSE manually_stopped END
                 WHERE id = ?1 AND state IN ('created', 'exited') AND creator_pid = 0",
                params![id, owner.pid, owner.start_time as i64, boot_id, reset],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(n == 1)
    }

    /// Hands the container from `from` (the owner seen) to `to`, if it is
    /// still in a live state and still owned by `from`.
    pub fn take_over(
        &mut self,
        id: &str,
        from: ProcessId,
        from_boot: &str,
        to: ProcessId,
        boot_id: &str,
    ) -> Result<bool> {
        let n = self
            .conn
            .execute(
                &format!(
                    "UPDATE containers SET monitor_pid = ?4, monitor_start = ?5, boot_id = ?6
                     WHERE id = ?1 AND monitor_pid = ?2 AND monitor_start = ?3 AND boot_id = ?7
                     AND state IN {LIVE}"
                ),
                params![
                    id,
                    from.pid,
                    from.start_time as i64,
                    to.pid,
                    to.start_time as i64,
                    boot_id,
                    from_boot
                ],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(n == 1)
    }

    /// The owner's process started (or restarted) the container, or
    /// restored it from its checkpoint (`restored`: the `restore` event,
    /// Podman's `State.Restored`). Either way the checkpoint is used up.
    pub fn owned_running(
        &mut self,
        id: &str,
        me: ProcessId,
        pid: i32,
        started_at: &str,
        restored: bool,
    ) -> Result<bool> {
        let write = || {
            let tx = super::events::immediate(&self.conn)?;
            let n = tx.execute(
                "UPDATE containers SET state = 'running', pid = ?4, started_at = ?5,
                 exit_code = 0, error = '', finished_at = '', paused = 0, oom_killed = 0,
                 checkpointed = 0, restored = ?6,
                 restored_at = CASE WHEN ?6 THEN ?5 ELSE '' END
                 WHERE id = ?1 AND monitor_pid = ?2 AND monitor_start = ?3",
                params![id, me.pid, me.start_time as i64, pid, started_at, restored],
            )?;
            if n == 1 {
                let action = if restored { "restore" } else { "start" };
                super::events::container(&tx, id, action, &[])?;
            }
            tx.commit()?;
            Ok(n == 1)
        };
        write().map_err(|e| self.db_err(e))
    }

    /// The container ended; `restart` decides from the lifecycle (read in
    /// the same transaction) whether it goes to `restarting` (one more
    /// restart counted) or `exited`. None if `me` no longer owns it.
    pub fn owned_exited(
        &mut self,
        id: &str,
        me: ProcessId,
        exit_code: i32,
        error: &str,
        finished_at: &str,
        restart: impl FnOnce(&Lifecycle) -> bool,
    ) -> Result<Option<bool>> {
        self.immediate(|tx| {
            let row = tx
                .query_row(
                    "SELECT restart_count, manually_stopped, exit_on_next FROM containers
                     WHERE id = ?1 AND monitor_pid = ?2 AND monitor_start = ?3",
                    params![id, me.pid, me.start_time as i64],
                    |r| {
                        Ok(Lifecycle {
                            owner: me,
                            boot_id: String::new(),
                            restart_count: r.get(0)?,
                            manually_stopped: r.get(1)?,
                            exit_on_next: r.get(2)?,
                        })
                    },
                )
                .optional()
                .map_err(tx.err())?;
            let Some(l) = row else {
                return Ok(None);
            };
            let again = !l.exit_on_next && restart(&l);
            let (state, count) = if again {
                (State::Restarting, l.restart_count + 1)
            } else {
                (State::Exited, l.restart_count)
            };
            tx.execute(
                "UPDATE containers SET state = ?2, pid = 0, exit_code = ?3, error = ?4,
                 finished_at = ?5, restart_count = ?6 WHERE id = ?1",
                params![id, state.as_str(), exit_code, error, finished_at, count],
            )
            .map_err(tx.err())?;
            super::events::container(tx, id, "die", &[("exitCode", exit_code.to_string())])
                .map_err(tx.err())?;
            Ok(Some(again))
        })
    }

    /// The first start failed before the process ran: back to `created`
    /// (Docker's code 125/126/127 and why), if `me` still owns it.
    pub fn owned_failed(
        &mut self,
        id: &str,
        me: ProcessId,
        state: State,
        exit_code: i32,
        error: &str,
    ) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE containers SET state = ?4, pid = 0, exit_code = ?5, error = ?6
                 WHERE id = ?1 AND monitor_pid = ?2 AND monitor_start = ?3",
                params![
                    id,
                    me.pid,
                    me.start_time as i64,
                    state.as_str(),
                    exit_code,
                    error
                ],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(n == 1)
    }

    /// After the back-off: `restarting → starting`, unless a stop came.
    pub fn owned_restart(&mut self, id: &str, me: ProcessId) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE containers SET state = 'starting' WHERE id = ?1 AND state = 'restarting'
                 AND exit_on_next = 0 AND monitor_pid = ?2 AND monitor_start = ?3",
                params![id, me.pid, me.start_time as i64],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(n == 1)
    }

    /// `stop`/`kill` by the user: Docker's HasBeenManuallyStopped, and
    /// with `exit_on_next` no restart after this exit.
    pub fn mark_stopped_by_user(&self, id: &str, exit_on_next: bool) -> Result<()> {
        self.conn
            .execute(
                "UPDATE containers SET manually_stopped = 1,
                 exit_on_next = exit_on_next OR ?2 WHERE id = ?1",
                params![id, exit_on_next],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// A stop during the back-off: `restarting → exited` directly.
    pub fn cancel_restart(&self, id: &str) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE containers SET state = 'exited' WHERE id = ?1 AND state = 'restarting'",
                [id],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(n == 1)
    }

    /// A reconcile found the owner gone and cleaned up: `exited` with the
    /// code and why, if `me` (the reconciler) still owns it.
    pub fn reconciled(
        &mut self,
        id: &str,
        me: ProcessId,
        exit_code: i32,
        error: &str,
        finished_at: &str,
    ) -> Result<bool> {
        let write = || {
            let tx = super::events::immediate(&self.conn)?;
            let n = tx.execute(
                "UPDATE containers SET state = 'exited', pid = 0, exit_code = ?4, error = ?5,
                 finished_at = ?6, monitor_pid = 0, monitor_start = 0
                 WHERE id = ?1 AND monitor_pid = ?2 AND monitor_start = ?3",
                params![
                    id,
                    me.pid,
                    me.start_time as i64,
                    exit_code,
                    error,
                    finished_at
                ],
            )?;
            if n == 1 {
                // The owner died without releasing them (it would have after
                // the exit): the container's addresses and ports are free.
                super::networks::release_in(&tx, id)?;
                let code = exit_code.to_string();
                super::events::container(&tx, id, "die", &[("exitCode", code)])?;
            }
            tx.commit()?;
            Ok(n == 1)
        };
        write().map_err(|e| self.db_err(e))
    }
}
