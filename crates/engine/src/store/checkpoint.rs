//! The checkpoint columns (migration 7): whether the last run ended in a
//! checkpoint, whether the current one came from a restore, and when. The
//! images themselves are files in the container's directory
//! (`ops/checkpoint.rs`); the database says which of them is current.

use rusqlite::params;

use super::Db;
use crate::error::{Error, Result};

pub(super) const MIGRATION: &str =
    "ALTER TABLE containers ADD COLUMN checkpointed INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE containers ADD COLUMN checkpointed_at TEXT NOT NULL DEFAULT '';
     ALTER TABLE containers ADD COLUMN restored INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE containers ADD COLUMN restored_at TEXT NOT NULL DEFAULT '';";

impl Db {
    fn checkpoint_err(&self, source: rusqlite::Error) -> Error {
        Error::Database {
            path: self.path.clone(),
            source,
        }
    }

    /// Before a checkpoint that stops the container: its exit must not
    /// restart it (as a stop). False when it is not running.
    pub(crate) fn begin_checkpoint(&self, id: &str) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE containers SET exit_on_next = 1 WHERE id = ?1 AND state = 'running'",
                [id],
            )
            .map_err(|e| self.checkpoint_err(e))?;
        Ok(n == 1)
    }

    /// The runtime refused the checkpoint: the container runs on, and its
    /// restart policy holds again.
    pub(crate) fn checkpoint_refused(&self, id: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE containers SET exit_on_next = 0 WHERE id = ?1 AND state = 'running'",
                [id],
            )
            .map_err(|e| self.checkpoint_err(e))?;
        Ok(())
    }

    /// A checkpoint was taken at `at`; `stopped` unless `--leave-running`
    /// (then the container's state is not a checkpoint to restore). The
    /// `checkpoint` event in the same transaction.
    pub(crate) fn record_checkpoint(&self, id: &str, at: &str, stopped: bool) -> Result<()> {
        let write = || {
            let tx = super::events::immediate(&self.conn)?;
            tx.execute(
                "UPDATE containers SET checkpointed = ?2, checkpointed_at = ?3 WHERE id = ?1",
                params![id, stopped, at],
            )?;
            super::events::container(&tx, id, "checkpoint", &[])?;
            tx.commit()
        };
        write().map_err(|e| self.checkpoint_err(e))
    }
}
