//! Volumes (migration 6): the `volumes` table and the directories under
//! `<root>/volumes`, Docker's layout (`<name>/_data` holds the files).
//!
//! Which containers use a volume is not stored apart: it is read from the
//! containers' recorded configs (a `MountPoint` of kind `volume` with the
//! volume's name), so there is one truth, and a container's row and its
//! use of a volume come and go in the same transaction.
//!
//! A volume's row and its directory change together, under SQLite's write
//! lock (`BEGIN IMMEDIATE`): the directory is made in the transaction that
//! inserts the row, and `rm` renames it aside (`.rm-<hex>-<name>`) in the
//! transaction that deletes the row, deleting the files after the commit.
//! So, under the lock, a directory without a row is garbage (a crash
//! between mkdir and commit) and a row without its directory is an `rm`
//! that crashed before its commit (its directory is renamed back).

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{Db, Tx};
use crate::error::{Error, Result};
use crate::model::mounts::Volume;

pub(super) const MIGRATION: &str = "CREATE TABLE volumes (
        name       TEXT PRIMARY KEY,
        driver     TEXT NOT NULL,
        options    TEXT NOT NULL,
        labels     TEXT NOT NULL,
        created_at TEXT NOT NULL,
        anonymous  INTEGER NOT NULL
    );";

const COLUMNS: &str = "name, driver, options, labels, created_at, anonymous";

/// The prefix of a removed volume's directory, renamed aside until its
/// files are deleted.
const TRASH: &str = ".rm-";

fn from_row(r: &Row) -> rusqlite::Result<Volume> {
    fn json(r: &Row, i: usize) -> rusqlite::Result<BTreeMap<String, String>> {
        let s: String = r.get(i)?;
        serde_json::from_str(&s).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
        })
    }
    Ok(Volume {
        name: r.get(0)?,
        driver: r.get(1)?,
        options: json(r, 2)?,
        labels: json(r, 3)?,
        created_at: r.get(4)?,
        anonymous: r.get(5)?,
    })
}

/// `<root>/volumes`: a directory per volume (mode 0701, as Docker's),
/// holding `_data` (0755), the files containers see.
#[derive(Debug, Clone)]
pub(crate) struct VolumeDirs {
    base: PathBuf,
}

impl VolumeDirs {
    pub(crate) fn new(root: &Path) -> VolumeDirs {
        VolumeDirs {
            base: root.join("volumes"),
        }
    }

    /// The volume's own directory.
    pub(crate) fn dir(&self, name: &str) -> PathBuf {
        self.base.join(name)
    }

    /// Its files: what a container mounts.
    pub(crate) fn data(&self, name: &str) -> PathBuf {
        self.dir(name).join("_data")
    }

    /// Makes `<name>/_data`, replacing a directory left without a row.
    /// Under the write lock only. A failure leaves nothing.
    fn make(&self, name: &str) -> Result<()> {
        mkdir(&self.base, 0o701, true)?;
        let dir = self.dir(name);
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                return Err(Error::io("remove", &dir, e));
            }
            _ => {}
        }
        let made = mkdir(&dir, 0o701, false).and_then(|()| mkdir(&dir.join("_data"), 0o755, false));
        if made.is_err() {
            let _ = fs::remove_dir_all(&dir);
        }
        made
    }

    /// Renames the volume's directory aside; None when it has none.
    fn trash(&self, name: &str) -> Result<Option<PathBuf>> {
        let hex = &crate::model::new_id()?[..16];
        let to = self.base.join(format!("{TRASH}{hex}-{name}"));
        let from = self.dir(name);
        match fs::rename(&from, &to) {
            Ok(()) => Ok(Some(to)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("rename", &from, e)),
        }
    }

    /// A recorded volume has its directory: an `rm` that died before its
    /// commit left it renamed aside (brought back), or it is made afresh.
    /// Under the write lock only.
    fn restore(&self, name: &str) -> Result<()> {
        if self.data(name).is_dir() {
            return Ok(());
        }
        let aside: Vec<PathBuf> = self
            .entries()?
            .into_iter()
            .filter(|(_, n)| trash_of(n) == Some(name))
            .map(|(p, _)| p)
            .collect();
        if let [only] = aside.as_slice() {
            if !self.dir(name).exists() && fs::rename(only, self.dir(name)).is_ok() {
                return Ok(());
            }
        }
        self.make(name)
    }

    /// The entries of `<root>/volumes` (none before the first volume).
    fn entries(&self) -> Result<Vec<(PathBuf, String)>> {
        let list = match fs::read_dir(&self.base) {
            Ok(l) => l,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("read", &self.base, e)),
        };
        Ok(list
            .filter_map(|e| e.ok())
            .filter_map(|e| Some((e.path(), e.file_name().into_string().ok()?)))
            .collect())
    }

    /// Under the write lock: what crashed processes left. Directories
    /// without a row are renamed aside; aside directories are returned
    /// for deletion after the commit, but an uncommitted `rm`'s is
    /// renamed back.
    fn sweep(&self, tx: &Tx) -> Result<Vec<PathBuf>> {
        let recorded = names(tx).map_err(tx.err())?;
        let mut garbage = Vec::new();
        for (path, name) in self.entries()? {
            if let Some(volume) = trash_of(&name) {
                if recorded.contains(volume) && !self.dir(volume).exists() {
                    self.restore(volume)?;
                } else {
                    garbage.push(path);
                }
            } else if !name.starts_with('.') && path.is_dir() && !recorded.contains(&name) {
                garbage.extend(self.trash(&name)?);
            }
        }
        Ok(garbage)
    }
}

/// `.rm-<hex>-<name>` → `name`.
fn trash_of(entry: &str) -> Option<&str> {
    let rest = entry.strip_prefix(TRASH)?;
    let (hex, name) = rest.split_once('-')?;
    (hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(name)
}

fn mkdir(path: &Path, mode: u32, exist_ok: bool) -> Result<()> {
    match fs::create_dir(path) {
        Ok(()) => {}
        Err(e) if exist_ok && e.kind() == ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(Error::io("create", path, e)),
    }
    // The umask does not decide a volume's modes.
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io("chmod", path, e))
}

/// Deletes directories renamed aside, after the commit (their names are
/// unique: nobody else makes them); a concurrent sweep may be deleting
/// them too.
fn delete_aside(paths: &[PathBuf]) {
    for p in paths {
        if let Err(e) = fs::remove_dir_all(p) {
            if e.kind() != ErrorKind::NotFound {
                tracing::warn!(path = %p.display(), error = %e, "cannot delete a removed volume's files");
            }
        }
    }
}

/// Volume directories a transaction made: removed when this is dropped,
/// unless [`NewDirs::keep`]. Drop it inside the transaction's closure (on
/// its error paths), so the removal happens under the write lock.
#[derive(Debug, Default)]
pub(crate) struct NewDirs(Vec<PathBuf>);

impl NewDirs {
    /// Everything after the volumes succeeded: the directories stay.
    pub(crate) fn keep(mut self) {
        self.0.clear();
    }
}

impl Drop for NewDirs {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = fs::remove_dir_all(d);
        }
    }
}

/// A volume by its exact name (volumes have no ids or prefixes).
pub(crate) fn get(conn: &Connection, name: &str) -> rusqlite::Result<Option<Volume>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM volumes WHERE name = ?1"),
        [name],
        from_row,
    )
    .optional()
}

/// Every volume's name.
fn names(conn: &Connection) -> rusqlite::Result<HashSet<String>> {
    let mut stmt = conn.prepare("SELECT name FROM volumes")?;
    let names = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<HashSet<String>>>()?;
    Ok(names)
}

/// In the caller's transaction: the volume named `v.name` as recorded,
/// recorded now (row and directory, the directory listed in `made`) when
/// absent. `v` must have passed `ops::volume::check_volume`. A volume that
/// exists is returned unchanged (Docker ignores the new options and
/// labels).
pub(crate) fn ensure_volume(
    tx: &Tx,
    dirs: &VolumeDirs,
    v: &Volume,
    made: &mut NewDirs,
) -> Result<Volume> {
    if let Some(stored) = get(tx, &v.name).map_err(tx.err())? {
        dirs.restore(&v.name)?;
        return Ok(stored);
    }
    tx.execute(
        &format!("INSERT INTO volumes ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        params![
            v.name,
            v.driver,
            serde_json::to_string(&v.options).expect("strings serialize"),
            serde_json::to_string(&v.labels).expect("strings serialize"),
            v.created_at,
            v.anonymous,
        ],
    )
    .map_err(tx.err())?;
    dirs.make(&v.name)?;
    made.0.push(dirs.dir(&v.name));
    Ok(v.clone())
}

/// The containers (ids, sorted) whose recorded mounts use the volume, in
/// whatever state: Docker's references.
pub(crate) fn volume_users(conn: &Connection, name: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT c.id FROM containers c, json_each(c.config, '$.mounts') m
         WHERE json_extract(m.value, '$.kind') = 'volume'
           AND json_extract(m.value, '$.name') = ?1
         ORDER BY c.id",
    )?;
    let rows = stmt
        .query_map([name], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}

/// Every used volume's users.
fn all_users(conn: &Connection) -> rusqlite::Result<BTreeMap<String, Vec<String>>> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT json_extract(m.value, '$.name'), c.id
         FROM containers c, json_each(c.config, '$.mounts') m
         WHERE json_extract(m.value, '$.kind') = 'volume'
         ORDER BY c.id",
    )?;
    let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (name, id) = row?;
        users.entry(name).or_default().push(id);
    }
    Ok(users)
}

/// Docker's refusal of a volume in use.
fn in_use(name: &str, users: &[String]) -> Error {
    Error::StateConflict(format!(
        "remove {name}: volume is in use - [{}]",
        users.join(", ")
    ))
}

impl Db {
    /// `volume create`: the volume as recorded, made (row and directory,
    /// together) when absent.
    pub fn create_volume(&mut self, dirs: &VolumeDirs, v: &Volume) -> Result<Volume> {
        // Most creates of an existing name need no write lock.
        if let Some(stored) = get(&self.conn, &v.name).map_err(self.err())? {
            if dirs.data(&v.name).is_dir() {
                return Ok(stored);
            }
        }
        self.immediate(|tx| {
            let mut made = NewDirs::default();
            let v = ensure_volume(tx, dirs, v, &mut made)?;
            made.keep();
            Ok(v)
        })
    }

    /// A volume made now (row and directory), or None when the name is
    /// taken: for a caller that must own the volume it fills (a
    /// checkpoint import), with no window between the check and the make.
    pub fn create_new_volume(&mut self, dirs: &VolumeDirs, v: &Volume) -> Result<Option<Volume>> {
        self.immediate(|tx| {
            if get(tx, &v.name).map_err(tx.err())?.is_some() {
                return Ok(None);
            }
            let mut made = NewDirs::default();
            let v = ensure_volume(tx, dirs, v, &mut made)?;
            made.keep();
            Ok(Some(v))
        })
    }

    /// A volume by name; None when there is none.
    pub fn volume(&self, name: &str) -> Result<Option<Volume>> {
        get(&self.conn, name).map_err(self.err())
    }

    /// Every volume, by name.
    pub fn volumes(&self) -> Result<Vec<Volume>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM volumes ORDER BY name"))
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], from_row)
            .map_err(self.err())?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())?;
        Ok(rows)
    }

    /// The containers using each volume (volumes nobody uses are absent).
    pub fn volume_users(&self) -> Result<BTreeMap<String, Vec<String>>> {
        all_users(&self.conn).map_err(self.err())
    }

    /// `volume rm`: refused while a container uses it (Docker's words,
    /// checked in the transaction that deletes the row, so no `create`
    /// can start using it in between); None when there is no such volume.
    /// Its files are deleted after the commit.
    pub fn remove_volume(&mut self, dirs: &VolumeDirs, name: &str) -> Result<Option<Volume>> {
        // Set in the transaction once the directory is renamed aside, so a
        // failed commit can rename it back.
        let mut aside: Option<PathBuf> = None;
        let done = self.immediate(|tx| {
            let Some(v) = get(tx, name).map_err(tx.err())? else {
                return Ok((None, Vec::new()));
            };
            let users = volume_users(tx, name).map_err(tx.err())?;
            if !users.is_empty() {
                return Err(in_use(name, &users));
            }
            let garbage = dirs.sweep(tx)?;
            tx.execute("DELETE FROM volumes WHERE name = ?1", [name])
                .map_err(tx.err())?;
            aside = dirs.trash(name)?;
            Ok((Some(v), garbage))
        });
        match done {
            Ok((v, mut garbage)) => {
                garbage.extend(aside);
                delete_aside(&garbage);
                Ok(v)
            }
            Err(e) => {
                if let Some(p) = aside {
                    let _ = fs::rename(p, dirs.dir(name));
                }
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::mounts::{MountKind, MountPoint};
    use crate::model::{Container, ContainerConfig, State};

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!(
                "berth-volumes-{tag}-{}-{}",
                std::process::id(),
                &crate::model::new_id().unwrap()[..8]
            ));
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn volume(name: &str) -> Volume {
        Volume {
            name: name.into(),
            driver: "local".into(),
            options: BTreeMap::new(),
            labels: BTreeMap::from([("team".into(), "a".into())]),
            created_at: "2024-01-02T03:04:05Z".into(),
            anonymous: false,
        }
    }

    fn container_using(db: &mut Db, volumes: &[&str]) -> String {
        let id = crate::model::new_id().unwrap();
        let mounts = volumes
            .iter()
            .map(|v| MountPoint {
                kind: MountKind::Volume,
                name: (*v).into(),
                destination: format!("/{v}"),
                driver: "local".into(),
                rw: true,
                ..Default::default()
            })
            .collect();
        let c = Container {
            id: id.clone(),
            name: format!("c{}", &id[..8]),
            image_id: "sha256:00".into(),
            config: ContainerConfig {
                mounts,
                ..Default::default()
            },
            state: State::Created,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            created_at: String::new(),
            started_at: String::new(),
            finished_at: String::new(),
            paused: false,
            oom_killed: false,
            checkpoint: Default::default(),
        };
        db.insert(&c).unwrap();
        id
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn create_makes_row_and_directory_once() {
        let root = TempDir::new("create");
        let dirs = VolumeDirs::new(&root.0);
        let mut db = Db::open(&root.0).unwrap();
        let v = db.create_volume(&dirs, &volume("data")).unwrap();
        assert_eq!(v, volume("data"));
        assert!(dirs.data("data").is_dir());
        assert_eq!(mode(&dirs.dir("data")), 0o701);
        assert_eq!(mode(&dirs.data("data")), 0o755);
        fs::write(dirs.data("data").join("f"), "x").unwrap();
        // Again, with other labels: the stored one, files untouched.
        let mut other = volume("data");
        other.labels.clear();
        assert_eq!(db.create_volume(&dirs, &other).unwrap(), volume("data"));
        assert!(dirs.data("data").join("f").exists());
        assert_eq!(db.volumes().unwrap(), [volume("data")]);
    }

    #[test]
    fn in_use_refused_then_removed_with_its_files() {
        let root = TempDir::new("inuse");
        let dirs = VolumeDirs::new(&root.0);
        let mut db = Db::open(&root.0).unwrap();
        db.create_volume(&dirs, &volume("a")).unwrap();
        db.create_volume(&dirs, &volume("b")).unwrap();
        let c1 = container_using(&mut db, &["a", "b"]);
        let c2 = container_using(&mut db, &["a"]);
        let mut ids = vec![c1.clone(), c2.clone()];
        ids.sort();
        assert_eq!(volume_users(&db.conn, "a").unwrap(), ids);
        assert_eq!(db.volume_users().unwrap()["b"], std::slice::from_ref(&c1));
        let err = db.remove_volume(&dirs, "a").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("remove a: volume is in use - [{}, {}]", ids[0], ids[1])
        );
        assert_eq!(err.kind(), crate::error::ErrorKind::Conflict);
        assert!(dirs.data("a").is_dir());
        db.delete(&c1).unwrap();
        db.delete(&c2).unwrap();
        assert!(db.volume_users().unwrap().is_empty());
        assert_eq!(db.remove_volume(&dirs, "a").unwrap(), Some(volume("a")));
        assert!(!dirs.dir("a").exists());
        assert_eq!(db.remove_volume(&dirs, "a").unwrap(), None);
        // Nothing renamed aside is left.
        let left: Vec<String> = dirs.entries().unwrap().into_iter().map(|e| e.1).collect();
        assert_eq!(left, ["b"]);
    }

    #[test]
    fn crash_leftovers_are_repaired_under_the_lock() {
        let root = TempDir::new("crash");
        let dirs = VolumeDirs::new(&root.0);
        let mut db = Db::open(&root.0).unwrap();
        db.create_volume(&dirs, &volume("kept")).unwrap();
        fs::write(dirs.data("kept").join("f"), "x").unwrap();
        // An rm that died between its rename and its commit.
        let aside = dirs.trash("kept").unwrap().unwrap();
        assert!(!dirs.dir("kept").exists());
        // A create that died between its mkdir and its commit.
        dirs.make("orphan").unwrap();
        // The files of an rm that died after its commit.
        db.create_volume(&dirs, &volume("gone")).unwrap();
        db.conn
            .execute("DELETE FROM volumes WHERE name = 'gone'", [])
            .unwrap();
        let gone = dirs.trash("gone").unwrap().unwrap();
        // Any rm sweeps (here: of a volume that does not exist).
        db.create_volume(&dirs, &volume("other")).unwrap();
        db.remove_volume(&dirs, "other").unwrap();
        assert_eq!(
            fs::read_to_string(dirs.data("kept").join("f")).unwrap(),
            "x"
        );
        assert!(!aside.exists());
        assert!(!gone.exists());
        let left: Vec<String> = dirs.entries().unwrap().into_iter().map(|e| e.1).collect();
        assert_eq!(left, ["kept"]);
        // A recorded volume without any directory gets an empty one.
        fs::remove_dir_all(dirs.dir("kept")).unwrap();
        db.create_volume(&dirs, &volume("kept")).unwrap();
        assert!(dirs.data("kept").is_dir());
    }

    #[test]
    fn a_failed_transaction_leaves_no_directory() {
        let root = TempDir::new("rollback");
        let dirs = VolumeDirs::new(&root.0);
        let mut db = Db::open(&root.0).unwrap();
        let err = db
            .immediate(|tx| {
                let mut made = NewDirs::default();
                ensure_volume(tx, &dirs, &volume("v"), &mut made)?;
                assert!(dirs.data("v").is_dir());
                // what the container insert after it may do
                Err::<(), _>(Error::BadRequest("later step failed".into()))
            })
            .unwrap_err();
        assert_eq!(err.to_string(), "later step failed");
        assert!(!dirs.dir("v").exists());
        assert_eq!(db.volume("v").unwrap(), None);
    }
}
