//! The container database, `<root>/berth.db`: SQLite in WAL mode, so many
//! `berth` processes and monitors read and write it at once. Each change is
//! one transaction; the schema grows by numbered migrations recorded in
//! `schema_version`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};

use crate::error::{Error, Result};
use crate::model::{Container, ContainerConfig, State};

mod checkpoint;
mod events;
mod lifecycle;
mod networks;
pub mod owner;
pub(crate) mod volumes;
pub use lifecycle::{Lifecycle, LiveRow, Unfinished};

/// Migration n (1-based) brings the schema from version n-1 to n. Never edit
/// one that has shipped; add the next.
const MIGRATIONS: &[&str] = &[
    // 1: containers.
    "CREATE TABLE containers (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        image_id    TEXT NOT NULL,
        config      TEXT NOT NULL,
        state       TEXT NOT NULL,
        pid         INTEGER NOT NULL DEFAULT 0,
        exit_code   INTEGER NOT NULL DEFAULT 0,
        error       TEXT NOT NULL DEFAULT '',
        created_at  TEXT NOT NULL,
        started_at  TEXT NOT NULL DEFAULT '',
        finished_at TEXT NOT NULL DEFAULT ''
    );",
    // 2: the lifecycle (db/lifecycle.rs): who owns the container's process
    // (its monitor, or the command starting it) on which boot, restarts,
    // and whether the user stopped it.
    "ALTER TABLE containers ADD COLUMN monitor_pid INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE containers ADD COLUMN monitor_start INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE containers ADD COLUMN boot_id TEXT NOT NULL DEFAULT '';
     ALTER TABLE containers ADD COLUMN restart_count INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE containers ADD COLUMN manually_stopped INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE containers ADD COLUMN exit_on_next INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE containers ADD COLUMN creator_pid INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE containers ADD COLUMN creator_start INTEGER NOT NULL DEFAULT 0;
     CREATE INDEX containers_state ON containers (state);
     CREATE INDEX containers_creator ON containers (creator_pid);",
    // 3: pause and OOM flags (resources.rs).
    "ALTER TABLE containers ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE containers ADD COLUMN oom_killed INTEGER NOT NULL DEFAULT 0;",
    // 4: events (store/events.rs).
    events::MIGRATION,
    // 5: networks, endpoints and published ports (store/networks.rs).
    networks::MIGRATION,
    // 6: volumes (store/volumes.rs).
    volumes::MIGRATION,
    // 7: checkpoint and restore (store/checkpoint.rs).
    checkpoint::MIGRATION,
];

pub struct Db {
    conn: Connection,
    path: PathBuf,
}

impl Db {
    /// Opens (creating if needed) the database and brings its schema up to
    /// date.
    pub fn open(root: &Path) -> Result<Db> {
        let path = root.join("berth.db");
        let conn = Connection::open(&path).map_err(|source| Error::Database {
            path: path.clone(),
            source,
        })?;
        let mut db = Db { conn, path };
        db.setup()?;
        Ok(db)
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction (the write lock taken
    /// up front, so concurrent writers wait for each other instead of
    /// failing to upgrade a read), committed when `f` returns Ok and
    /// rolled back otherwise.
    pub(crate) fn immediate<T>(&mut self, f: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        let err = |source| Error::Database {
            path: self.path.clone(),
            source,
        };
        let tx = Tx {
            tx: self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?,
            path: &self.path,
        };
        let value = f(&tx)?;
        tx.tx.commit().map_err(err)?;
        Ok(value)
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |source| Error::Database {
            path: self.path.clone(),
            source,
        }
    }

    fn setup(&mut self) -> Result<()> {
        // Parallel `berth run`s wait for each other's short transactions.
        self.conn
            .busy_timeout(Duration::from_secs(30))
            .map_err(self.err())?;
        self.conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(self.err())?;
        self.conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(self.err())?;
        // No checkpoint each time a process closes its connection (every
        // command and monitor would sync the WAL and the database, ~4 fsyncs
        // a `run`): SQLite checkpoints when the WAL reaches
        // `wal_autocheckpoint` pages. With synchronous=NORMAL a crash of the
        // host may lose the transactions since the last checkpoint (never
        // the database's consistency), as SQLite documents for that mode.
        self.conn
            .set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
                true,
            )
            .map_err(self.err())?;
        // Up to date (every open but the first after an upgrade): no write
        // transaction, which would serialize every command's open.
        let current: Option<i64> = self
            .conn
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .optional()
            .unwrap_or(None);
        if current == Some(MIGRATIONS.len() as i64) {
            return Ok(());
        }
        // IMMEDIATE: two processes migrating at once serialize here.
        self.immediate(|tx| {
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);",
            )
            .map_err(tx.err())?;
            let version: Option<i64> = tx
                .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
                .optional()
                .map_err(tx.err())?;
            let known = MIGRATIONS.len() as i64;
            let mut version = match version {
                Some(v) => v,
                None => {
                    tx.execute("INSERT INTO schema_version (version) VALUES (0)", [])
                        .map_err(tx.err())?;
                    0
                }
            };
            if version > known {
                return Err(Error::SchemaTooNew {
                    path: tx.path.to_owned(),
                    found: version,
                    known,
                });
            }
            while version < known {
                tx.execute_batch(MIGRATIONS[version as usize])
                    .map_err(tx.err())?;
                version += 1;
            }
            tx.execute("UPDATE schema_version SET version = ?1", [version])
                .map_err(tx.err())?;
            Ok(())
        })
    }

    /// Records a new container; fails with Docker's conflict message when
    /// the name is taken.
    #[cfg(test)]
    pub fn insert(&mut self, c: &Container) -> Result<()> {
        self.insert_with_volumes(c, None, &[])
    }

    /// [`Db::insert`] with the volumes the container mounts, recorded (row
    /// and directory) in the same transaction when absent: a concurrent
    /// `volume rm` or prune sees the volume in use or not there at all.
    /// The volumes must have passed `ops::volume::check_volume`.
    pub(crate) fn insert_with_volumes(
        &mut self,
        c: &Container,
        dirs: Option<&volumes::VolumeDirs>,
        new_volumes: &[crate::model::Volume],
    ) -> Result<()> {
        let config = serde_json::to_string(&c.config).expect("config serializes");
        self.immediate(|tx| {
            let mut made = volumes::NewDirs::default();
            if let Some(dirs) = dirs {
                for v in new_volumes {
                    volumes::ensure_volume(tx, dirs, v, &mut made)?;
                }
            }
            let holder: Option<String> = tx
                .query_row(
                    "SELECT id FROM containers WHERE name = ?1",
                    [&c.name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(tx.err())?;
            if let Some(id) = holder {
                return Err(Error::NameInUse {
                    name: c.name.clone(),
                    id,
                });
            }
            tx.execute(
                "INSERT INTO containers (id, name, image_id, config, state, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    c.id,
                    c.name,
                    c.image_id,
                    config,
                    c.state.as_str(),
                    c.created_at
                ],
            )
            .map_err(tx.err())?;
            lifecycle::record_creator(tx, &c.id).map_err(tx.err())?;
            made.keep();
            Ok(())
        })
    }

    pub fn all(&self) -> Result<Vec<Container>> {
        let mut stmt = self
            .conn
            .prepare(&format!("{SELECT} ORDER BY created_at DESC, id"))
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], from_row)
            .map_err(self.err())?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(self.err())?;
        Ok(rows)
    }

    /// Finds a container by full id, name, or unique id prefix (Docker's
    /// order).
    pub fn find(&self, key: &str) -> Result<Container> {
        let key = key.strip_prefix('/').unwrap_or(key);
        let exact = self
            .conn
            .query_row(
                &format!("{SELECT} WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1"),
                [key],
                from_row,
            )
            .optional()
            .map_err(self.err())?;
        if let Some(c) = exact {
            return Ok(c);
        }
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::NoSuchContainer(key.to_owned()));
        }
        let mut stmt = self
            .conn
            .prepare(&format!("{SELECT} WHERE id LIKE ?1 || '%' LIMIT 2"))
            .map_err(self.err())?;
        let mut found = stmt
            .query_map([key.to_ascii_lowercase()], from_row)
            .map_err(self.err())?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(self.err())?;
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(Error::NoSuchContainer(key.to_owned())),
            _ => Err(Error::Ambiguous(key.to_owned())),
        }
    }

    pub fn get(&self, id: &str) -> Result<Option<Container>> {
        self.conn
            .query_row(&format!("{SELECT} WHERE id = ?1"), [id], from_row)
            .optional()
            .map_err(self.err())
    }

    /// The start failed before the process ran: back to `created`, with
    /// the exit code Docker reports (126/127/125) and why.
    pub fn set_failed(&mut self, id: &str, exit_code: i32, error: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE containers SET state = ?2, pid = 0, exit_code = ?3, error = ?4 WHERE id = ?1",
                params![id, State::Created.as_str(), exit_code, error],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Moves a container from `from` to `to` only if it is still in `from`;
    /// returns whether it did. This is how two `start`s of one container
    /// are told apart.
    pub fn transition(&mut self, id: &str, from: &[State], to: State) -> Result<bool> {
        self.immediate(|tx| {
            let state: Option<String> = tx
                .query_row("SELECT state FROM containers WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(tx.err())?;
            let ok = state.is_some_and(|s| from.iter().any(|f| f.as_str() == s));
            if ok {
                tx.execute(
                    "UPDATE containers SET state = ?2 WHERE id = ?1",
                    params![id, to.as_str()],
                )
                .map_err(tx.err())?;
            }
            Ok(ok)
        })
    }

    /// `pause`/`unpause`: only while running (an exit in between wins).
    pub fn set_paused(&self, id: &str, paused: bool) -> Result<()> {
        let write = || {
            let tx = events::immediate(&self.conn)?;
            let n = tx.execute(
                "UPDATE containers SET paused = ?2 WHERE id = ?1 AND state = ?3 AND paused != ?2",
                params![id, paused, State::Running.as_str()],
            )?;
            if n == 1 {
                let action = if paused { "pause" } else { "unpause" };
                events::container(&tx, id, action, &[])?;
            }
            tx.commit()
        };
        write().map_err(self.err())
    }

    /// At exit: whether the OOM killer struck; no longer paused.
    pub fn set_oom_killed(&self, id: &str, oom_killed: bool) -> Result<()> {
        let write = || {
            let tx = events::immediate(&self.conn)?;
            tx.execute(
                "UPDATE containers SET oom_killed = ?2, paused = 0 WHERE id = ?1",
                params![id, oom_killed],
            )?;
            if oom_killed {
                events::container(&tx, id, "oom", &[])?;
            }
            tx.commit()
        };
        write().map_err(self.err())
    }

    /// Replaces the recorded configuration (`update`).
    pub fn set_config(&self, id: &str, config: &ContainerConfig) -> Result<()> {
        let config = serde_json::to_string(config).expect("config serializes");
        let write = || {
            let tx = events::immediate(&self.conn)?;
            tx.execute(
                "UPDATE containers SET config = ?2 WHERE id = ?1",
                params![id, config],
            )?;
            events::container(&tx, id, "update", &[])?;
            tx.commit()
        };
        write().map_err(self.err())
    }

    /// Renames a container; Docker's conflict message when the name is
    /// taken (checked in the same transaction).
    pub fn rename(&mut self, id: &str, name: &str) -> Result<()> {
        self.immediate(|tx| {
            let holder: Option<String> = tx
                .query_row("SELECT id FROM containers WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(tx.err())?;
            if let Some(holder) = holder {
                return Err(Error::NameInUse {
                    name: name.to_owned(),
                    id: holder,
                });
            }
            let old: String = tx
                .query_row("SELECT name FROM containers WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .map_err(tx.err())?;
            tx.execute(
                "UPDATE containers SET name = ?2 WHERE id = ?1",
                params![id, name],
            )
            .map_err(tx.err())?;
            events::container(tx, id, "rename", &[("oldName", old)]).map_err(tx.err())?;
            Ok(())
        })
    }

    /// Deletes the record; returns false if another process already did.
    /// `destroy` for a container whose `create` had finished.
    pub fn delete(&mut self, id: &str) -> Result<bool> {
        let write = || {
            let tx = events::immediate(&self.conn)?;
            let created: Option<bool> = tx
                .query_row(
                    "SELECT creator_pid = 0 FROM containers WHERE id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .optional()?;
            if created == Some(true) {
                events::container(&tx, id, "destroy", &[])?;
            }
            networks::release_in(&tx, id)?;
            let n = tx.execute("DELETE FROM containers WHERE id = ?1", [id])?;
            tx.commit()?;
            Ok(n == 1)
        };
        write().map_err(self.err())
    }
}

/// An open [`Db::immediate`] transaction.
pub(crate) struct Tx<'a> {
    tx: Transaction<'a>,
    path: &'a Path,
}

impl Tx<'_> {
    /// Maps a SQL error to the engine's, naming the database.
    pub(crate) fn err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |source| Error::Database {
            path: self.path.to_owned(),
            source,
        }
    }
}

impl<'a> std::ops::Deref for Tx<'a> {
    type Target = Transaction<'a>;
    fn deref(&self) -> &Transaction<'a> {
        &self.tx
    }
}

const SELECT: &str = "SELECT id, name, image_id, config, state, pid, exit_code, error,
    created_at, started_at, finished_at, paused, oom_killed,
    checkpointed, checkpointed_at, restored, restored_at FROM containers";

fn from_row(r: &Row) -> rusqlite::Result<Container> {
    let config: String = r.get(3)?;
    let config: ContainerConfig = serde_json::from_str(&config).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(e))
    })?;
    let state: String = r.get(4)?;
    Ok(Container {
        id: r.get(0)?,
        name: r.get(1)?,
        image_id: r.get(2)?,
        config,
        state: State::parse(&state),
        pid: r.get(5)?,
        exit_code: r.get(6)?,
        error: r.get(7)?,
        created_at: r.get(8)?,
        started_at: r.get(9)?,
        finished_at: r.get(10)?,
        paused: r.get(11)?,
        oom_killed: r.get(12)?,
        checkpoint: crate::model::CheckpointState {
            checkpointed: r.get(13)?,
            checkpointed_at: r.get(14)?,
            restored: r.get(15)?,
            restored_at: r.get(16)?,
        },
    })
}
