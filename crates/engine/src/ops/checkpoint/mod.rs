//! Checkpoint and restore of a running container through the runtime's
//! `checkpoint`/`restore` (CRIU): Podman's in-place `container checkpoint`
//! and `container restore`.
//!
//! The images live in the container's directory: `checkpoint/` (CRIU's
//! image files, the runtime's `descriptors.json` and berth's
//! `berth-checkpoint.json`), and CRIU's logs in `checkpoint.work/`. A
//! checkpoint is made in `checkpoint.new/` and renamed into place only
//! when CRIU succeeded, so a refused one leaves the previous one whole.
//!
//! Docker's experimental named checkpoints (`checkpoint create/ls/rm`,
//! `start --checkpoint`) are directories `checkpoints/<NAME>/` of the same
//! shape (or `<--checkpoint-dir>/<NAME>/`); a restore keeps them, as
//! Docker does.
//!
//! A checkpoint that stops the container (not `--leave-running`) first
//! marks its next exit as not to be restarted (as a `stop` does); the
//! runtime's checkpoint then ends the init and the monitor records the
//! exit as for any other (runtime `delete`, network released, rootfs
//! unmounted), and the record says `Checkpointed`. A restore is a start
//! whose monitor runs the runtime's `restore --detach` instead of
//! `create` + `start` ([`Engine::start_with`], `monitor/`), so the
//! restored container has a monitor, log, attach socket and restart
//! policy as a started one.
//!
//! Networking: CRIU restores into an empty network namespace (runc's
//! rule), which the monitor then plumbs as after `create` (new
//! addresses from the pool, as any start). So listening sockets come
//! back, established TCP connections cannot: `--tcp-established` is
//! refused for a container with a network namespace of its own.

mod archive;
mod migrate;
mod volumes;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{Container, State};
use crate::ops::start::Started;
use crate::runtime::CriuPaths;
use crate::Engine;

pub use archive::ImportOptions;
pub use migrate::{Destination, MigrateOptions, Migrated};

/// The in-place checkpoint's directory in the container's directory.
const IN_PLACE: &str = "checkpoint";
/// What berth records beside CRIU's images.
const METADATA: &str = "berth-checkpoint.json";

#[derive(Debug, Clone, Default)]
pub struct CheckpointOptions {
    /// `--leave-running`: the container keeps running after the dump.
    pub leave_running: bool,
    /// `--tcp-established`: checkpoint established TCP connections.
    pub tcp_established: bool,
    /// `--tcp-skip-in-flight`: leave out connections not yet accepted
    /// (CRIU refuses to dump a listener with any otherwise).
    pub tcp_skip_in_flight: bool,
    /// `--export FILE`: also write the portable archive
    /// ([`archive`]).
    pub export: Option<PathBuf>,
    /// `--ignore-volumes`: the export lists the container's volumes
    /// without their files.
    pub ignore_volumes: bool,
}

#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// `--tcp-established` (also taken from the checkpoint's record).
    pub tcp_established: bool,
    /// `--keep`: keep the checkpoint's images after the restore.
    pub keep: bool,
    /// `--tcp-close`: a checkpoint's established connections come back
    /// closed (their clients reconnect).
    pub tcp_close: bool,
}

/// Where Docker's named checkpoints go: the container's `checkpoints/`, or
/// `--checkpoint-dir`.
#[derive(Debug, Clone, Default)]
pub struct NamedCheckpoint<'a> {
    pub name: &'a str,
    pub dir: Option<&'a Path>,
}

/// `berth-checkpoint.json`: what the restore must repeat.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Metadata {
    /// RFC 3339.
    created_at: String,
    tcp_established: bool,
    leave_running: bool,
    /// The container's addresses when it was dumped: the restore asks for
    /// the same ones (its network identity).
    #[serde(default)]
    endpoints: Vec<SavedEndpoint>,
}

/// One network's addresses at the checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedEndpoint {
    /// The network's name (as the container's requests name it).
    network: String,
    ipv4: Option<std::net::Ipv4Addr>,
    ipv6: Option<std::net::Ipv6Addr>,
    mac: String,
}

impl Engine {
    /// `container checkpoint [--leave-running] [--tcp-established] C`.
    pub fn checkpoint(&self, key: &str, opts: &CheckpointOptions) -> Result<Container> {
        let c = self.find(key)?;
        if opts.export.is_some() {
            self.check_exportable_with(&c, opts.ignore_volumes)?;
        }
        let dir = self.bundle(&c.id).file(IN_PLACE);
        self.checkpoint_to(&c, &dir, opts)?;
        if let Some(file) = &opts.export {
            self.export_checkpoint(&c, &dir, file, opts.ignore_volumes)?;
        }
        self.find(&c.id)
    }

    /// `container restore [--tcp-established] [--keep] C`: the container,
    /// exited with a checkpoint, runs again from it under a new monitor.
    pub fn restore(&mut self, key: &str, opts: &RestoreOptions) -> Result<Option<Started>> {
        let c = self.find(key)?;
        let dir = self.bundle(&c.id).file(IN_PLACE);
        let started = self.restore_from(&c, &dir, opts)?;
        if !opts.keep {
            // Podman's default: a restored checkpoint is used up.
            let _ = std::fs::remove_dir_all(&dir);
        }
        Ok(started)
    }

    /// `checkpoint create [--leave-running] [--checkpoint-dir D] C NAME`
    /// (Docker's).
    pub fn checkpoint_create(
        &self,
        key: &str,
        at: &NamedCheckpoint,
        opts: &CheckpointOptions,
    ) -> Result<()> {
        let c = self.find(key)?;
        if c.state != State::Running {
            return Err(Error::StateConflict(format!(
                "Container {} not running",
                c.name
            )));
        }
        validate_checkpoint_name(at.name)?;
        let dir = self.named_dir(&c, at);
        if dir.is_dir() {
            return Err(Error::StateConflict(format!(
                "checkpoint with name {} already exists for container {}",
                at.name, c.name
            )));
        }
        if let Some(parent) = dir.parent() {
            make_private_dir(parent)?;
        }
        self.checkpoint_to(&c, &dir, opts)
    }

    /// `checkpoint ls [--checkpoint-dir D] C`: the names, sorted.
    pub fn checkpoint_list(&self, key: &str, dir: Option<&Path>) -> Result<Vec<String>> {
        let c = self.find(key)?;
        let base = self.named_base(&c, dir);
        let entries = match std::fs::read_dir(&base) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("read", &base, e)),
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().join(METADATA).is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        Ok(names)
    }

    /// `checkpoint rm [--checkpoint-dir D] C NAME`.
    pub fn checkpoint_remove(&self, key: &str, at: &NamedCheckpoint) -> Result<()> {
        let c = self.find(key)?;
        validate_checkpoint_name(at.name)?;
        let dir = self.named_dir(&c, at);
        if !dir.is_dir() {
            return Err(Error::Missing(format!(
                "checkpoint {} does not exist for container {}",
                at.name, c.name
            )));
        }
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io("remove", &dir, e))?;
        let _ = std::fs::remove_dir_all(with_suffix(&dir, ".work"));
        Ok(())
    }

    /// `start --checkpoint NAME [--checkpoint-dir D] C`: a restore from a
    /// named checkpoint, which stays (Docker's).
    pub fn start_from_checkpoint(
        &mut self,
        key: &str,
        at: &NamedCheckpoint,
    ) -> Result<Option<Started>> {
        self.start_from_checkpoint_with(key, at, false)
    }

    /// [`Engine::start_from_checkpoint`], connected to the container's
    /// attach socket from before the restore (as
    /// [`Engine::start_attached`]): `start -a --checkpoint`.
    pub fn start_from_checkpoint_attached(
        &mut self,
        key: &str,
        at: &NamedCheckpoint,
    ) -> Result<Option<Started>> {
        self.start_from_checkpoint_with(key, at, true)
    }

    fn start_from_checkpoint_with(
        &mut self,
        key: &str,
        at: &NamedCheckpoint,
        attach: bool,
    ) -> Result<Option<Started>> {
        let c = self.find(key)?;
        validate_checkpoint_name(at.name)?;
        let dir = self.named_dir(&c, at);
        if !dir.is_dir() {
            return Err(Error::Missing(format!(
                "checkpoint {} does not exist for container {}",
                at.name, c.name
            )));
        }
        self.restore_from_with(&c, &dir, &RestoreOptions::default(), attach)
    }

    fn named_base(&self, c: &Container, dir: Option<&Path>) -> PathBuf {
        match dir {
            Some(d) => d.to_owned(),
            None => self.bundle(&c.id).file("checkpoints"),
        }
    }

    fn named_dir(&self, c: &Container, at: &NamedCheckpoint) -> PathBuf {
        self.named_base(c, at.dir).join(at.name)
    }

    /// Dumps `c` into `dir` (replaced only on success).
    fn checkpoint_to(&self, c: &Container, dir: &Path, opts: &CheckpointOptions) -> Result<()> {
        self.dump_to(c, dir, opts)?;
        self.wait_exit_recorded(c, opts)
    }

    /// The dump ends the init (SIGKILL by CRIU): the monitor records that
    /// exit (and cleans up) on its own time; this waits for its record.
    fn wait_exit_recorded(&self, c: &Container, opts: &CheckpointOptions) -> Result<()> {
        if !opts.leave_running && !self.wait_not_running(&c.id, Duration::from_secs(30))? {
            return Err(Error::Monitor {
                id: c.id.clone(),
                message: "the container's exit after its checkpoint was not recorded within 30s"
                    .into(),
            });
        }
        Ok(())
    }

    /// [`Engine::checkpoint_to`] without waiting for the exit's record.
    fn dump_to(&self, c: &Container, dir: &Path, opts: &CheckpointOptions) -> Result<()> {
        if c.state != State::Running {
            // Podman's words.
            return Err(Error::StateConflict(format!(
                "{:?} is not running, cannot checkpoint: container state improper",
                c.state.as_str()
            )));
        }
        if c.config.auto_remove {
            return Err(Error::NotSupported(
                "cannot checkpoint containers that have been started with '--rm'".into(),
            ));
        }
        let new = with_suffix(dir, ".new");
        let work = with_suffix(dir, ".work");
        let _ = std::fs::remove_dir_all(&new);
        let _ = std::fs::remove_dir_all(&work);
        let paths = CriuPaths {
            image: new.clone(),
            work,
            tcp_established: opts.tcp_established,
            tcp_close: false,
        };
        if !opts.leave_running && !self.db.begin_checkpoint(&c.id)? {
            return Err(Error::StateConflict(format!(
                "{:?} is not running, cannot checkpoint: container state improper",
                "exited"
            )));
        }
        // While it runs its endpoint rows exist; the exit frees them.
        let endpoints = self.saved_endpoints(c)?;
        let runtime = self.runtime_for(c);
        if let Err(e) =
            runtime.checkpoint(&c.id, &paths, opts.leave_running, opts.tcp_skip_in_flight)
        {
            // The runtime left the container running as it was.
            if !opts.leave_running {
                self.db.checkpoint_refused(&c.id)?;
            }
            let _ = std::fs::remove_dir_all(&new);
            return Err(e);
        }
        let now = berth_image::time::now_rfc3339();
        let meta = Metadata {
            created_at: now.clone(),
            tcp_established: opts.tcp_established,
            leave_running: opts.leave_running,
            endpoints,
        };
        let bytes = serde_json::to_vec_pretty(&meta).expect("metadata serializes");
        let file = new.join(METADATA);
        berth_sys::replace_atomic(&file, &bytes).map_err(|e| Error::io("write", &file, e))?;
        replace_dir(&new, dir)?;
        self.db
            .record_checkpoint(&c.id, &now, !opts.leave_running)?;
        Ok(())
    }

    /// Starts `c` from the checkpoint in `dir` through its monitor.
    fn restore_from(
        &mut self,
        c: &Container,
        dir: &Path,
        opts: &RestoreOptions,
    ) -> Result<Option<Started>> {
        self.restore_from_with(c, dir, opts, false)
    }

    /// [`Engine::restore_from`]; with `attach`, connected to the attach
    /// socket before the restore.
    fn restore_from_with(
        &mut self,
        c: &Container,
        dir: &Path,
        opts: &RestoreOptions,
        attach: bool,
    ) -> Result<Option<Started>> {
        if matches!(
            c.state,
            State::Running | State::Starting | State::Restarting
        ) {
            // Podman's words.
            return Err(Error::StateConflict(format!(
                "container {} is running or paused, cannot restore: container state improper",
                c.id
            )));
        }
        let meta = read_metadata(dir)?;
        // CRIU's own words for it are `mnt-v2: Failed to open_tree ...`.
        volumes::check_bind_sources(&c.config)?;
        // CRIU brings the network namespace back empty; the monitor sets it
        // up again from the runtime's createRuntime hook before CRIU
        // reconnects the sockets (`lo` alone for `none`), so connections
        // resume on every network.
        let tcp_established = opts.tcp_established || meta.tcp_established;
        let paths = CriuPaths {
            image: dir.to_owned(),
            work: with_suffix(dir, ".work"),
            tcp_established,
            tcp_close: opts.tcp_close,
        };
        let started = self.start_with(&c.id, true, attach, Some(&paths))?;
        if started.is_none() {
            // Claimed meanwhile by another start.
            return Err(Error::StateConflict(format!(
                "container {} is running or paused, cannot restore: container state improper",
                c.id
            )));
        }
        Ok(started)
    }
}

impl Engine {
    fn saved_endpoints(&self, c: &Container) -> Result<Vec<SavedEndpoint>> {
        self.db
            .endpoints(&c.id)?
            .into_iter()
            .map(|ep| {
                Ok(SavedEndpoint {
                    network: self.db.network(&ep.network_id)?.name,
                    ipv4: ep.ipv4,
                    ipv6: ep.ipv6,
                    mac: ep.mac,
                })
            })
            .collect()
    }

    /// For the monitor's restore: `c` with its network requests asking
    /// for the addresses (and MACs) it had at the checkpoint in `dir`, so
    /// the restored processes find their own address again. An address
    /// taken meanwhile fails the restore (Docker's address-in-use error).
    pub(crate) fn pin_addresses(&self, c: &Container, dir: &Path) -> Result<Container> {
        let meta = read_metadata(dir)?;
        let mut pinned = c.clone();
        if meta.endpoints.is_empty() {
            return Ok(pinned);
        }
        let requests = self.requested_networks(&c.config.networks, &c.config.network_mode)?;
        pinned.config.networks = requests
            .into_iter()
            .map(|(id, mut r)| {
                let saved = meta.endpoints.iter().find(|s| {
                    s.network == r.name || self.db.network(&s.network).is_ok_and(|n| n.id == id)
                });
                if let Some(s) = saved {
                    r.ip = s.ipv4;
                    r.ip6 = s.ipv6;
                    if !s.mac.is_empty() {
                        r.mac = Some(s.mac.clone());
                    }
                }
                r
            })
            .collect();
        Ok(pinned)
    }
}

/// The checkpoint's record, or Podman's error when there is no complete
/// checkpoint in `dir`.
fn read_metadata(dir: &Path) -> Result<Metadata> {
    let file = dir.join(METADATA);
    let bytes = std::fs::read(&file).map_err(|e| {
        Error::Missing(format!(
            "a complete checkpoint for this container cannot be found, cannot restore: {}",
            match e.kind() {
                std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
                _ => e.to_string(),
            }
        ))
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::invalid(file.display().to_string(), e.to_string()))
}

/// Docker's rule for a checkpoint's name (a directory name, never a path).
fn validate_checkpoint_name(name: &str) -> Result<()> {
    let b = name.as_bytes();
    let ok = b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c));
    if ok {
        Ok(())
    } else {
        // Docker's words.
        Err(Error::BadRequest(format!(
            "Invalid checkpoint ID ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )))
    }
}

fn make_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io("create", dir, e))
}

fn with_suffix(dir: &Path, suffix: &str) -> PathBuf {
    let mut s = dir.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// `new` becomes `dir`; an old `dir` is moved aside first and removed
/// after, so at every moment `dir` is a complete checkpoint or absent.
fn replace_dir(new: &Path, dir: &Path) -> Result<()> {
    let old = with_suffix(dir, ".old");
    let _ = std::fs::remove_dir_all(&old);
    match std::fs::rename(dir, &old) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("move aside", dir, e)),
    }
    std::fs::rename(new, dir).map_err(|e| Error::io("rename", new, e))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}
