//! The state directory: `<root>/<id>/` holds `state.json` (what the runtime
//! knows about a container), the exec fifo while the container waits for
//! `start`, and the lock that serializes commands on one id.
//!
//! The container's status is never stored: it is derived from the init
//! process (alive? same start time?), the fifo (still there?) and the cgroup
//! freezer, so that it stays true after any runtime process is killed.

use std::fs::{self, File};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use berth_cgroups::Cgroup;
use nix::fcntl::{Flock, FlockArg};
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::procfs;

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";
const LOCK_FILE: &str = ".lock";

/// The OCI runtime-spec version this runtime implements.
pub const OCI_VERSION: &str = "1.2.0";

/// Lifecycle status as the runtime-spec names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What `state.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// Host pid of the container's init; 0 until it exists.
    pub pid: i32,
    /// The init's start time in clock ticks (from /proc/<pid>/stat), to
    /// tell it apart from a later process that reuses the pid.
    pub pid_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 creation time.
    pub created: String,
    pub cgroup: Option<Cgroup>,
    /// Whether the container has its own pid namespace: if not, `kill
    /// --all` and `delete` must signal every process of its cgroup.
    pub own_pid_namespace: bool,
    /// The config as it was at create time (for exec, hooks and delete).
    pub config: Spec,
    /// Without a mount namespace of its own: the id of the rootfs bind
    /// `create` made in the runtime's mount namespace, which `delete`
    /// detaches (see [`crate::shared_mounts`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs_mount_id: Option<u64>,
    /// What the init's stdin, stdout and stderr were when it was made
    /// (`pipe:[N]`, a path...): a checkpoint records these (runc's
    /// `external_descriptors`), not what fds 0-2 point at by then, which the
    /// process may have swapped (`exec 1>&2`): two fds on one pipe would
    /// make the restore hand one new pipe to both.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_descriptors: Vec<String>,
}

/// The OCI state document, as `state` prints it and hooks read it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "std::collections::HashMap::is_empty")]
    pub annotations: std::collections::HashMap<String, String>,
}

/// One container's directory under the runtime root.
#[derive(Debug)]
pub struct StateDir {
    pub id: String,
    pub path: PathBuf,
}

/// Checks an id the way runc does: it becomes a directory name.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b))
        && !id.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidId(id.to_string()))
    }
}

impl StateDir {
    /// The directory of an existing container.
    pub fn open(root: &Path, id: &str) -> Result<Self> {
        validate_id(id)?;
        let path = root.join(id);
        if !path.is_dir() {
            return Err(Error::NotExist(id.to_string()));
        }
        Ok(StateDir {
            id: id.to_string(),
            path,
        })
    }

    /// Makes the directory of a new container; fails if the id is taken.
    pub fn create(root: &Path, id: &str) -> Result<Self> {
        validate_id(id)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(root)
            .map_err(|e| Error::io("create runtime root", root, e))?;
        let path = root.join(id);
        match fs::DirBuilder::new().mode(0o711).create(&path) {
            Ok(()) => Ok(StateDir {
                id: id.to_string(),
                path,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(Error::Exists(id.to_string()))
            }
            Err(e) => Err(Error::io("create state directory", &path, e)),
        }
    }

    /// Takes the exclusive lock that serializes commands on this id. Held
    /// until the guard drops.
    pub fn lock(&self) -> Result<Flock<File>> {
        let path = self.path.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open lock file", &path, e))?;
        Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::io("lock", &path, e.into()))
    }

    pub fn fifo_path(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    /// Reads `state.json`. A directory without one is a container whose
    /// `create` died before the init existed.
    pub fn load(&self) -> Result<Option<Record>> {
        let path = self.path.join(STATE_FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::io("parse", &path, std::io::Error::other(e))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", &path, e)),
        }
    }

    /// Writes `state.json` atomically (`berth_sys::write_atomic`).
    pub fn save(&self, record: &Record) -> Result<()> {
        let path = self.path.join(STATE_FILE);
        let bytes = serde_json::to_vec(record)
            .map_err(|e| Error::io("encode", &path, std::io::Error::other(e)))?;
        berth_sys::write_atomic(&path, &bytes).map_err(|e| Error::io("write", &path, e))
    }

    /// Removes the directory and everything in it.
    pub fn remove(&self) -> Result<()> {
        match fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove state directory", &self.path, e)),
        }
    }

    /// The user that owns the state directory, as runc reports it.
    pub fn owner(&self) -> String {
        match fs::metadata(&self.path) {
            Ok(meta) => procfs::user_name(meta.uid()),
            Err(_) => String::new(),
        }
    }
}

impl Record {
    /// Whether the recorded init process is still the one we started.
    pub fn init_alive(&self) -> bool {
        self.pid > 0 && procfs::is_alive(self.pid, self.pid_start_time)
    }

    /// Derives the status from the kernel's view.
    pub fn status(&self, dir: &StateDir) -> Status {
        if self.pid == 0 {
            return Status::Creating;
        }
        if !self.init_alive() {
            return Status::Stopped;
        }
        if dir.fifo_path().exists() {
            return Status::Created;
        }
        match &self.cgroup {
            Some(cg) if cg.is_frozen().unwrap_or(false) => Status::Paused,
            _ => Status::Running,
        }
    }

    pub fn oci_state(&self, dir: &StateDir, status: Status) -> OciState {
        OciState {
            oci_version: OCI_VERSION.to_string(),
            id: self.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status,
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            owner: dir.owner(),
            annotations: self.config.annotations().clone().unwrap_or_default(),
        }
    }
}

/// Ids of every container under `root` (directories), sorted.
pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read runtime root", root, e)),
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|id| validate_id(id).is_ok())
        .collect();
    ids.sort();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_like_runc() {
        for ok in ["a", "abc-1", "x_y.z+1", "0123"] {
            assert!(validate_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", ".hidden", "a/b", "a b", "../x"] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }
}
