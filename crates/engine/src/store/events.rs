//! The `events` table (migration 4). A change and its event are written in
//! one transaction, so no event is lost or invented; events with no state
//! change of their own (kill, stop, attach, image events) are written in a
//! transaction of their own. Only the newest [`KEEP`] rows are kept.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::Db;
use crate::error::Result;
use crate::model::event::{now_nanos, Event, EventType};
use crate::model::Container;

pub(super) const MIGRATION: &str = "CREATE TABLE events (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        time_nano  INTEGER NOT NULL,
        type       TEXT NOT NULL,
        action     TEXT NOT NULL,
        actor      TEXT NOT NULL,
        attributes TEXT NOT NULL
    );";

/// Rows kept: at ~300 bytes a row, 10000 are ~3 MB of database, hours of
/// busy use for `--since` (Docker's daemon keeps 256, in memory only).
/// Pruned in each insert's transaction (a range delete on the key).
pub(crate) const KEEP: i64 = 10_000;

/// A write transaction taken at once: the event's time is read under the
/// write lock, so row order and time order agree across processes.
pub(super) fn immediate(conn: &Connection) -> rusqlite::Result<Transaction<'_>> {
    Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
}

/// Records an event in the caller's transaction and drops the oldest.
pub(super) fn insert(
    conn: &Connection,
    kind: EventType,
    action: &str,
    actor: &str,
    attributes: &BTreeMap<String, String>,
) -> rusqlite::Result<()> {
    let attributes = serde_json::to_string(attributes).expect("strings serialize");
    conn.execute(
        "INSERT INTO events (time_nano, type, action, actor, attributes)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![now_nanos(), kind.as_str(), action, actor, attributes],
    )?;
    let id = conn.last_insert_rowid();
    conn.execute("DELETE FROM events WHERE id <= ?1", [id - KEEP])?;
    Ok(())
}

/// A container event with Docker's attributes: `extra`, then the
/// container's labels, `image` and `name`, read from its row in the same
/// transaction (so a rename is seen). False (nothing recorded) when the row
/// is gone.
pub(super) fn container(
    conn: &Connection,
    id: &str,
    action: &str,
    extra: &[(&str, String)],
) -> rusqlite::Result<bool> {
    let row: Option<(String, Option<String>, Option<String>)> = conn
        .query_row(
            "SELECT name, json_extract(config, '$.image'), json_extract(config, '$.labels')
             FROM containers WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((name, image, labels)) = row else {
        return Ok(false);
    };
    let labels: BTreeMap<String, String> = labels
        .and_then(|l| serde_json::from_str(&l).ok())
        .unwrap_or_default();
    let attrs = attributes(extra, labels, image.as_deref().unwrap_or(""), &name);
    insert(conn, EventType::Container, action, id, &attrs)?;
    Ok(true)
}

/// Docker's `LogContainerEventWithAttributes`: labels over the extra
/// attributes, then `image` (when set) and `name` over both.
fn attributes(
    extra: &[(&str, String)],
    labels: BTreeMap<String, String>,
    image: &str,
    name: &str,
) -> BTreeMap<String, String> {
    let mut attrs: BTreeMap<String, String> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    attrs.extend(labels);
    if !image.is_empty() {
        attrs.insert("image".into(), image.to_owned());
    }
    attrs.insert("name".into(), name.to_owned());
    attrs
}

impl Db {
    pub(crate) fn wal_path(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push("-wal");
        p.into()
    }

    /// An event with no state change of its own (`stop`, `attach`, ...),
    /// in a transaction of its own. Attributes from the row, or from `c`
    /// when it is gone meanwhile (a `--rm` container's monitor removed it
    /// before `stop` recorded).
    pub(crate) fn container_event(
        &self,
        c: &Container,
        action: &str,
        extra: &[(&str, String)],
    ) -> Result<()> {
        self.container_event_with(c, action, extra, || Ok(()))
    }

    /// The event is committed only if `act` succeeds, and `act` runs
    /// while its transaction holds the write lock: for `kill`, whose
    /// signal can end the container at once, so the monitor's `die` waits
    /// and comes after it (the lock is held for one `runtime kill`).
    pub(crate) fn container_event_with(
        &self,
        c: &Container,
        action: &str,
        extra: &[(&str, String)],
        act: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        let tx = immediate(&self.conn).map_err(self.err())?;
        let write = || {
            if !container(&tx, &c.id, action, extra)? {
                let labels = c.config.labels.clone();
                let attrs = attributes(extra, labels, &c.config.image, &c.name);
                insert(&tx, EventType::Container, action, &c.id, &attrs)?;
            }
            Ok(())
        };
        write().map_err(self.err())?;
        act()?; // an error rolls the event back (`tx` drops)
        tx.commit().map_err(self.err())
    }

    /// An image event (Docker's `LogImageEvent`: the actor is the image id,
    /// or the reference for pull/push; `name` the reference).
    pub(crate) fn image_event(
        &self,
        action: &str,
        actor: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<()> {
        let write = || {
            let tx = immediate(&self.conn)?;
            insert(&tx, EventType::Image, action, actor, attributes)?;
            tx.commit()
        };
        write().map_err(self.err())
    }

    /// The exit code the newest `die` event of container `id` recorded
    /// (what a container removed at its exit, `--rm`, leaves behind).
    pub(crate) fn last_exit_code(&self, id: &str) -> Result<Option<i32>> {
        let attributes: Option<String> = self
            .conn
            .query_row(
                "SELECT attributes FROM events WHERE type = 'container' AND action = 'die'
                 AND actor = ?1 ORDER BY id DESC LIMIT 1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?;
        Ok(attributes
            .and_then(|a| serde_json::from_str::<serde_json::Value>(&a).ok())
            .and_then(|a| a["exitCode"].as_str().and_then(|c| c.parse().ok())))
    }

    /// The newest event's row id (0: none), where a follower starts.
    pub(crate) fn last_event_id(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |r| r.get(0))
            .map_err(self.err())
    }

    /// Up to `limit` events recorded after row `after`, oldest first, and
    /// the last row id read (rows of a type this berth does not know, which
    /// a newer one wrote, are skipped but read).
    pub(crate) fn events_after(&self, after: i64, limit: i64) -> Result<(i64, Vec<Event>)> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, time_nano, type, action, actor, attributes FROM events
                 WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .map_err(self.err())?;
        let mut last = after;
        let mut out = Vec::new();
        let mut rows = stmt.query(params![after, limit]).map_err(self.err())?;
        while let Some(r) = rows.next().map_err(self.err())? {
            let read = || -> rusqlite::Result<(i64, Option<Event>)> {
                let kind: String = r.get(2)?;
                let attributes: String = r.get(5)?;
                let event = match EventType::parse(&kind) {
                    Some(kind) => Some(Event {
                        time_nano: r.get(1)?,
                        kind,
                        action: r.get(3)?,
                        actor_id: r.get(4)?,
                        attributes: serde_json::from_str(&attributes).unwrap_or_default(),
                    }),
                    None => None,
                };
                Ok((r.get(0)?, event))
            };
            let (id, event) = read().map_err(self.err())?;
            last = id;
            out.extend(event);
        }
        Ok((last, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_kept_in_order_and_unknown_types_skipped() {
        let dir = std::env::temp_dir().join(format!("berth-events-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::open(&dir).unwrap();
        let name = |i: i64| BTreeMap::from([("name".to_owned(), i.to_string())]);
        let total = KEEP + 25;
        // One transaction for speed; each insert prunes as in production.
        let tx = immediate(&db.conn).unwrap();
        for i in 0..total {
            insert(&tx, EventType::Image, "tag", "sha256:x", &name(i)).unwrap();
        }
        tx.commit().unwrap();
        let count: i64 = db
            .conn
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, KEEP);
        let (_, first) = db.events_after(0, 2).unwrap();
        assert_eq!(first[0].attributes["name"], "25", "the oldest went");
        assert_eq!(first[1].attributes["name"], "26");
        assert!(first[0].time_nano <= first[1].time_nano);

        // A row of a type a newer berth knows is read past, not returned.
        let last = db.last_event_id().unwrap();
        db.conn
            .execute(
                "INSERT INTO events (time_nano, type, action, actor, attributes)
                 VALUES (1, 'builder', 'prune', 'x', '{}')",
                [],
            )
            .unwrap();
        assert_eq!(db.events_after(last, 10).unwrap(), (last + 1, Vec::new()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
