//! Containers as the runtime's commands see them: one file per operation
//! (create, start, kill, delete, exec, pause, ps, list,
//! checkpoint, restore), each a small block
//! over a locked [`Container`].

mod checkpoint;
mod create;
mod delete;
mod events;
mod exec;
mod kill;
mod list;
mod pause;
mod ps;
mod restore;
mod start;
mod update;

use std::fs::File;
use std::path::Path;

use nix::fcntl::Flock;

pub use checkpoint::{checkpoint, CgroupsMode, CheckpointOptions, CriuOptions};
pub use create::{create, CreateOptions};
pub use delete::delete;
pub use events::{stats, watch, Event};
pub use exec::{exec, ExecOptions};
pub use kill::{kill, parse_signal};
pub use list::{list, ListEntry};
pub use pause::{pause, resume};
pub use ps::pids;
pub use restore::{restore, RestoreOptions, Restored};
pub use start::start;
pub use update::update;

use crate::error::{Error, Result};
use crate::state::{OciState, Record, StateDir, Status};

/// A container's state directory, locked for the duration of a command.
pub struct Container {
    pub dir: StateDir,
    /// `None` for a container whose `create` died before recording anything.
    pub record: Option<Record>,
    /// Held by commands that change the container; readers go without
    /// (state.json is replaced atomically, so they never see half of it).
    _lock: Option<Flock<File>>,
}

impl Container {
    /// Opens and locks the container `id` under `root`.
    pub fn load(root: &Path, id: &str) -> Result<Self> {
        let dir = StateDir::open(root, id)?;
        let lock = dir.lock()?;
        // A concurrent delete may have removed it while we waited.
        if !dir.path.exists() {
            return Err(Error::NotExist(id.to_string()));
        }
        let record = dir.load()?;
        Ok(Container {
            dir,
            record,
            _lock: Some(lock),
        })
    }

    /// Opens container `id` for reading only, without waiting for a
    /// command that holds its lock (a `create` running its hooks, say).
    pub fn read(root: &Path, id: &str) -> Result<Self> {
        let dir = StateDir::open(root, id)?;
        let record = dir.load()?;
        Ok(Container {
            dir,
            record,
            _lock: None,
        })
    }

    pub fn id(&self) -> &str {
        &self.dir.id
    }

    pub fn status(&self) -> Status {
        match &self.record {
            Some(r) => r.status(&self.dir),
            None => Status::Stopped,
        }
    }

    /// The record of a container whose init exists.
    pub fn record(&self) -> Result<&Record> {
        self.record
            .as_ref()
            .ok_or_else(|| Error::NotExist(self.id().to_string()))
    }

    /// The OCI state document.
    pub fn oci_state(&self) -> Result<OciState> {
        let status = self.status();
        Ok(self.record()?.oci_state(&self.dir, status))
    }
}

/// The OCI state of container `id`, as `state` prints it.
pub fn state(root: &Path, id: &str) -> Result<OciState> {
    Container::read(root, id)?.oci_state()
}
