//! berth's engine: containers recorded in SQLite (`<root>/berth.db`), each
//! an image snapshot plus an OCI bundle in `<root>/containers/<id>/`, run
//! by any OCI runtime binary under a per-container monitor
//! ([`monitor`]). Images come from `berth-image`; the runtime is never
//! linked, only executed.
//!
//! Layers, lowest first (no module imports one above it; `tests/layers.rs`
//! checks): [`model`] (plain data and its validation), `spec` (the
//! OCI spec), `store` (the database), [`ops`] (one module per verb, each
//! an `impl Engine` block; the [`Engine`] handle is defined here), and
//! [`monitor`].

#![forbid(unsafe_code)]

pub mod attach;
mod bundle;
mod error;
pub mod logfile;
pub mod model;
pub mod monitor;
pub mod ops;
pub mod runtime;
mod spec;
mod store;
pub mod users;

use std::path::{Path, PathBuf};

use berth_image::ImageStore;

/// The builder's types `build` takes and returns.
pub use berth_build::builder;
/// The one atomic file write (temp file, fsync, rename), for callers that
/// write files of their own (`save -o`, `export -o`).
pub use berth_sys::write_atomic_with;
pub use bundle::Bundle;
pub use error::{Error, ErrorKind, Result};
pub use model::event::{Event, EventFilters, EventType, EventsOptions};
pub use model::security::DEFAULT_CAPABILITIES;
pub use model::ThrottleDevice;
pub use model::{network, Bandwidth, NetworkMode, NetworkOptions, NetworkRequest};
pub use model::{restart, seccomp, security};
pub use model::{Container, ContainerConfig, Resources, SecurityOptions, State, StdioConfig};
pub use ops::create::CreateOptions;
/// The image types callers need, with the image verbs' own.
pub use ops::images as image;
pub use ops::recover::BootStart;
pub use ops::start::Started;
pub use ops::{build, exec, fs, stats, top};
use runtime::Runtime;
pub use store::Lifecycle;

pub struct Engine {
    root: PathBuf,
    db: store::Db,
    /// Reached through the image verbs (`ops/images.rs`), not by callers.
    pub(crate) images: ImageStore,
}

impl Engine {
    /// Opens the engine and reconciles the database with the processes
    /// that really exist ([`ops::recover`]).
    pub fn open(root: &Path) -> Result<Engine> {
        let mut engine = Engine::open_unreconciled(root)?;
        engine.reconcile()?;
        Ok(engine)
    }

    /// Without the reconcile: for the monitor, which owns its container.
    pub(crate) fn open_unreconciled(root: &Path) -> Result<Engine> {
        std::fs::create_dir_all(root).map_err(|e| Error::io("create", root, e))?;
        let images = ImageStore::open(root)?;
        let db = store::Db::open(root)?;
        Ok(Engine {
            root: root.to_owned(),
            db,
            images,
        })
    }

    fn containers_dir(&self) -> PathBuf {
        self.root.join("containers")
    }

    pub fn bundle(&self, id: &str) -> Bundle {
        Bundle::new(&self.containers_dir(), id)
    }

    /// The live log file; None with `--log-driver none`.
    pub fn log_path(&self, c: &Container) -> Option<PathBuf> {
        logfile::path(self.bundle(&c.id).dir(), &c.id, c.config.log.driver)
    }

    /// Restart count, manual stop, the monitor.
    pub fn lifecycle(&self, c: &Container) -> Result<Lifecycle> {
        Ok(self.db.lifecycle(&c.id)?.unwrap_or_default())
    }

    fn runtime_for(&self, c: &Container) -> Runtime {
        Runtime::new(&c.config.runtime, &self.root.join("runtime"))
    }

    pub fn list(&self) -> Result<Vec<Container>> {
        self.db.all()
    }

    pub fn find(&self, key: &str) -> Result<Container> {
        self.db.find(key)
    }
}
