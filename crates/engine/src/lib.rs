//! berth's engine: containers recorded in SQLite (`<root>/berth.db`), each
//! an image snapshot plus an OCI bundle in `<root>/containers/<id>/`, run
//! by any OCI runtime binary under a per-container monitor
//! ([`monitor`]). Images come from `berth-image`; the runtime is never
//! linked, only executed.

#![forbid(unsafe_code)]

pub mod attach;
mod bundle;
mod container;
mod db;
mod error;
pub mod exec;
pub mod fs;
pub mod logfile;
pub mod monitor;
pub mod recovery;
mod resources;
pub mod restart;
pub mod runtime;
pub mod seccomp;
pub mod security;
pub mod stats;
mod stdio;
pub mod top;
pub mod users;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_image::ImageStore;

pub use bundle::{Bundle, DEFAULT_CAPABILITIES};
pub use container::{Container, ContainerConfig, State};
pub use db::Lifecycle;
pub use error::{Error, ErrorKind, Result};
pub use resources::{Resources, ThrottleDevice};
use runtime::Runtime;
pub use security::SecurityOptions;
pub use stdio::StdioConfig;

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const DEFAULT_CGROUP_PARENT: &str = "/berth";

/// What `berth create`/`run` asked for.
#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    pub name: Option<String>,
    pub image: String,
    /// Replaces the image's Cmd when not empty.
    pub cmd: Vec<String>,
    /// `--entrypoint`: `Some("")` clears the image's.
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub auto_remove: bool,
    pub runtime: PathBuf,
    pub cgroup_parent: Option<String>,
    pub network: Option<String>,
    /// `-i`, `-t`.
    pub stdio: StdioConfig,
    /// `-l`/`--label-file`: `KEY=VALUE` or `KEY` (empty value).
    pub labels: Vec<String>,
    pub security: SecurityOptions,
    /// `--restart`.
    pub restart: Option<String>,
    /// `--stop-signal` (over the image's StopSignal).
    pub stop_signal: Option<String>,
    /// `--stop-timeout` in seconds.
    pub stop_timeout: Option<u64>,
    /// `--log-driver`.
    pub log_driver: Option<String>,
    /// `--log-opt key=value`.
    pub log_opts: Vec<String>,
    pub resources: Resources,
}

pub struct Engine {
    root: PathBuf,
    db: db::Db,
    pub images: ImageStore,
}

/// A started container: the monitor's report pipe, which says
/// `exited <code>` when the container ends and its log is complete.
pub struct Started {
    pub pid: i32,
    pub reports: BufReader<std::io::PipeReader>,
    /// Connected to the attach socket before the container started (see
    /// [`Engine::start_attached`]), so no output is missed.
    pub attach: Option<std::os::unix::net::UnixStream>,
}

impl Engine {
    /// Opens the engine and reconciles the database with the processes
    /// that really exist ([`recovery`]).
    pub fn open(root: &Path) -> Result<Engine> {
        let mut engine = Engine::open_unreconciled(root)?;
        engine.reconcile()?;
        Ok(engine)
    }

    /// Without the reconcile: for the monitor, which owns its container.
    pub(crate) fn open_unreconciled(root: &Path) -> Result<Engine> {
        std::fs::create_dir_all(root).map_err(|e| Error::io("create", root, e))?;
        let images = ImageStore::open(root)?;
        let db = db::Db::open(root)?;
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

    /// Records a container and writes its snapshot and bundle; all or
    /// nothing.
    pub fn create(&mut self, o: &CreateOptions) -> Result<Container> {
        match o.network.as_deref() {
            None | Some("none") | Some("host") => {}
            Some(other) => {
                return Err(Error::Unsupported {
                    what: "network",
                    value: format!("{other:?} (only \"none\" and \"host\" for now)"),
                })
            }
        }
        if let Some(name) = &o.name {
            container::validate_name(name)?;
        }
        o.resources.validate(false)?;
        let host_network = o.network.as_deref() == Some("host");
        let security = security::resolve(&o.security, host_network)?;
        let restart = match &o.restart {
            Some(r) => restart::RestartPolicy::parse(r)?,
            None => restart::RestartPolicy::No,
        };
        if o.auto_remove && !restart.is_none() {
            return Err(Error::ConflictingOptions("--restart and --rm"));
        }
        let log = logfile::LogConfig::parse(o.log_driver.as_deref(), &o.log_opts)?;
        let (image_id, _) = self.images.resolve(&o.image)?;
        let (image, _) = self.images.config(&image_id)?;
        let ic = image.config.unwrap_or_default();
        let id = container::new_id()?;
        let hostname = o.hostname.clone().unwrap_or_else(|| match host_network {
            // Docker gives a --network host container the host's name.
            true => nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_else(|_| id[..12].to_owned()),
            false => id[..12].to_owned(),
        });

        let (entrypoint, cmd) = match &o.entrypoint {
            Some(e) if e.is_empty() => (Vec::new(), o.cmd.clone()),
            Some(e) => (vec![e.clone()], o.cmd.clone()),
            None if o.cmd.is_empty() => (
                ic.entrypoint.clone().unwrap_or_default(),
                ic.cmd.clone().unwrap_or_default(),
            ),
            None => (ic.entrypoint.clone().unwrap_or_default(), o.cmd.clone()),
        };
        if entrypoint.is_empty() && cmd.is_empty() {
            return Err(Error::invalid("container command", "no command specified"));
        }
        let mut env = vec![format!("HOSTNAME={hostname}")];
        let image_env = ic.env.clone().unwrap_or_default();
        if !image_env.iter().any(|e| e.starts_with("PATH=")) {
            env.push(DEFAULT_PATH.to_owned());
        }
        for e in image_env.iter().chain(&o.env) {
            let (k, v) = match e.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                // `-e NAME` passes the caller's value, if it has one.
                None => match std::env::var(e) {
                    Ok(v) => (e.clone(), v),
                    Err(_) => continue,
                },
            };
            if k.is_empty() {
                return Err(Error::invalid("environment variable", e.clone()));
            }
            env.retain(|x| x.split_once('=').map(|(xk, _)| xk) != Some(&k));
            env.push(format!("{k}={v}"));
        }
        let config = ContainerConfig {
            image: o.image.clone(),
            hostname,
            user: o.user.clone().or(ic.user.clone()).unwrap_or_default(),
            env,
            entrypoint,
            cmd,
            working_dir: o
                .working_dir
                .clone()
                .or(ic.working_dir.clone())
                .unwrap_or_default(),
            labels: {
                let mut labels = ic.labels.clone().unwrap_or_default();
                for l in &o.labels {
                    let (k, v) = l.split_once('=').unwrap_or((l, ""));
                    labels.insert(k.to_owned(), v.to_owned());
                }
                labels
            },
            stop_signal: match &o.stop_signal {
                Some(s) => container::validate_signal(s)?,
                None => ic.stop_signal.clone().unwrap_or_default(),
            },
            stop_timeout: o.stop_timeout,
            auto_remove: o.auto_remove,
            runtime: o.runtime.clone(),
            cgroup_parent: o
                .cgroup_parent
                .clone()
                .unwrap_or_else(|| DEFAULT_CGROUP_PARENT.to_owned()),
            stdio: o.stdio.clone(),
            network_mode: o.network.clone().unwrap_or_else(|| "none".to_owned()),
            security,
            restart,
            log,
            resources: o.resources.clone().with_defaults(),
        };
        let mut c = Container {
            id: id.clone(),
            name: String::new(),
            image_id: image_id.to_string(),
            config,
            state: State::Created,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            created_at: berth_image::time::now_rfc3339(),
            started_at: String::new(),
            finished_at: String::new(),
            paused: false,
            oom_killed: false,
        };
        // Check the spec before anything is recorded (bad user, ...).
        bundle::spec(&c, Path::new("/"))?;
        match &o.name {
            Some(name) => {
                c.name = name.clone();
                self.db.insert(&c)?;
            }
            None => {
                let mut attempt = 0;
                loop {
                    c.name = container::generated_name(&id, attempt);
                    match self.db.insert(&c) {
                        Err(Error::NameInUse { .. }) if attempt < 1000 => attempt += 1,
                        other => break other?,
                    }
                }
            }
        }
        let made = self
            .images
            .prepare(&id, &image_id.to_string())
            .map_err(Error::from)
            .and_then(|_| self.bundle(&id).write(&c));
        if let Err(e) = made {
            let _ = self.remove_files(&c);
            return Err(e);
        }
        self.db.created(&id)?;
        Ok(c)
    }

    /// Starts a monitor for the container and waits until it reports the
    /// process started (or why it did not).
    pub fn start(&mut self, key: &str) -> Result<Option<Started>> {
        self.start_with(key, true, false)
    }

    /// [`Engine::start`], connected to the container's attach socket from
    /// before it starts (`run`, `start -a`).
    pub fn start_attached(&mut self, key: &str) -> Result<Option<Started>> {
        self.start_with(key, true, true)
    }

    /// `start`; `by_user` forgets restarts and a manual stop (Docker's
    /// start does, its daemon's restart at boot does not).
    pub(crate) fn start_as(&mut self, key: &str, by_user: bool) -> Result<Option<Started>> {
        self.start_with(key, by_user, false)
    }

    fn start_with(&mut self, key: &str, by_user: bool, attach: bool) -> Result<Option<Started>> {
        let c = self.find(key)?;
        if c.paused {
            return Err(Error::StateConflict(
                "cannot start a paused container, try unpause instead".into(),
            ));
        }
        let me = recovery::ProcessId::current();
        if !self
            .db
            .begin_start(&c.id, me, recovery::boot_id(), by_user)?
        {
            // Already running or being started: Docker's start is a no-op.
            return Ok(None);
        }
        let (r, w) = std::io::pipe().map_err(|e| Error::io("create", "a pipe", e))?;
        let log = self.bundle(&c.id).file("monitor.log");
        let errors = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| Error::io("open", &log, e))?;
        // The monitor serves the attach socket bound here, so a client can
        // connect before the container starts.
        let socket = attach::BoundSocket::bind(self.bundle(&c.id).dir(), attach::SOCKET)?;
        let client = match attach {
            true => Some(attach::connect(self.bundle(&c.id).dir(), attach::SOCKET)?),
            false => None,
        };
        tracing::debug!(id = %c.id, runtime = %c.config.runtime.display(), "starting the container's monitor");
        let status = monitor::command(&self.root, &c.id)?
            .env(recovery::STARTER_ENV, me.to_string())
            .stdin(std::os::fd::OwnedFd::from(socket.listener))
            .stdout(w)
            .stderr(errors)
            .status()
            .map_err(|e| Error::io("start the monitor", &c.id, e))?;
        let mut reports = BufReader::new(r);
        let mut line = String::new();
        let _ = reports.read_line(&mut line);
        let line = line.trim_end();
        if let Some(pid) = line.strip_prefix("started ") {
            return Ok(Some(Started {
                pid: pid.parse().unwrap_or(0),
                reports,
                attach: client,
            }));
        }
        if let Some(rest) = line.strip_prefix("error ") {
            let (code, message) = rest.split_once(' ').unwrap_or((rest, ""));
            let code: u8 = code.parse().unwrap_or(125);
            return Err(if code == 125 {
                Error::Monitor {
                    id: c.id.clone(),
                    message: message.to_owned(),
                }
            } else {
                Error::Command {
                    message: message.to_owned(),
                    exit_code: code,
                }
            });
        }
        let detail = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = self
            .db
            .set_failed(&c.id, 125, "the monitor exited without a report");
        Err(Error::Monitor {
            id: c.id,
            message: format!(
                "exited ({status}) without a report: {}",
                detail.lines().last().unwrap_or("")
            ),
        })
    }

    /// Signals the container (`runtime kill`).
    pub fn kill(&self, key: &str, signal: &str) -> Result<Container> {
        let c = self.find(key)?;
        if c.state == State::Restarting {
            // Docker's: between two runs there is no process to signal;
            // marking it is enough, and KILL or the stop signal cancels
            // the coming restart.
            let ends = restart::ends_restarts(&c.config.stop_signal, signal);
            self.db.mark_stopped_by_user(&c.id, ends)?;
            if ends {
                self.db.cancel_restart(&c.id)?;
            }
            return Ok(c);
        }
        if c.state != State::Running {
            return Err(Error::WrongState {
                action: "kill",
                id: c.id,
                state: "not running".into(),
            });
        }
        let signal = signal.strip_prefix("SIG").unwrap_or(signal);
        // Docker: any kill counts as a stop by hand; KILL or the stop
        // signal also cancels the restart its exit would bring.
        let ends = restart::ends_restarts(&c.config.stop_signal, signal);
        self.db.mark_stopped_by_user(&c.id, ends)?;
        self.runtime_for(&c).kill(&c.id, signal)?;
        self.resume_after_signal(&c, signal);
        Ok(c)
    }

    /// Sends a signal for `berth run`'s signal proxy: not a stop by the
    /// user, just what the terminal got (a paused container is resumed for
    /// it only as `kill` would).
    pub fn forward_signal(&self, id: &str, signal: &str) -> Result<()> {
        let c = self.find(id)?;
        if c.state != State::Running {
            return Ok(());
        }
        self.runtime_for(&c).kill(&c.id, signal)?;
        self.resume_after_signal(&c, signal);
        Ok(())
    }

    /// `wait`: blocks until the container is not running (nor starting or
    /// restarting) and returns its exit code.
    pub fn wait(&self, key: &str) -> Result<i32> {
        let c = self.find(key)?;
        loop {
            match self.db.get(&c.id)? {
                Some(c)
                    if matches!(
                        c.state,
                        State::Running | State::Starting | State::Restarting
                    ) => {}
                Some(c) => return Ok(c.exit_code),
                None => return Err(Error::NoSuchContainer(key.to_owned())),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `restart`: stop (if running) then start, as Docker's.
    pub fn restart(&mut self, key: &str, timeout: Duration) -> Result<()> {
        let c = self.stop(key, timeout)?;
        self.start(&c.id)?;
        Ok(())
    }

    /// The image's stop signal (or SIGTERM), then SIGKILL after `timeout`.
    pub fn stop(&self, key: &str, timeout: Duration) -> Result<Container> {
        let c = self.find(key)?;
        if c.state == State::Restarting {
            // Between two runs: the monitor sees this and does not restart.
            self.db.mark_stopped_by_user(&c.id, true)?;
            self.db.cancel_restart(&c.id)?;
        }
        if c.state != State::Running {
            return Ok(c);
        }
        self.db.mark_stopped_by_user(&c.id, true)?;
        let runtime = self.runtime_for(&c);
        let signal = match c.config.stop_signal.as_str() {
            "" => "TERM",
            s => s.strip_prefix("SIG").unwrap_or(s),
        };
        let signalled = runtime.kill(&c.id, signal).is_ok();
        self.resume_after_signal(&c, signal);
        if signalled && self.wait_not_running(&c.id, timeout)? {
            return Ok(c);
        }
        let _ = runtime.kill(&c.id, "KILL");
        self.resume_after_signal(&c, "KILL");
        if !self.wait_not_running(&c.id, Duration::from_secs(30))? {
            return Err(Error::Monitor {
                id: c.id,
                message: "the container did not exit 30s after SIGKILL".into(),
            });
        }
        Ok(c)
    }

    /// Polls the database until the monitor records the exit (or the
    /// container is gone). True if it did within `limit`.
    pub fn wait_not_running(&self, id: &str, limit: Duration) -> Result<bool> {
        let deadline = Instant::now() + limit;
        loop {
            match self.db.get(id)? {
                Some(c)
                    if matches!(
                        c.state,
                        State::Running | State::Starting | State::Restarting
                    ) => {}
                _ => return Ok(true),
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `rm [-f]`.
    pub fn remove(&mut self, key: &str, force: bool) -> Result<Container> {
        let c = self.find(key)?;
        if matches!(
            c.state,
            State::Running | State::Starting | State::Restarting
        ) {
            if !force {
                return Err(Error::RemoveRunning(c.name));
            }
            self.db.mark_stopped_by_user(&c.id, true)?;
            self.db
                .transition(&c.id, &[State::Restarting], State::Exited)?;
            let _ = self.runtime_for(&c).kill(&c.id, "KILL");
            self.resume_after_signal(&c, "KILL");
            if !self.wait_not_running(&c.id, Duration::from_secs(30))? {
                return Err(Error::Monitor {
                    id: c.id,
                    message: "the container did not exit 30s after SIGKILL".into(),
                });
            }
        }
        self.remove_files(&c)?;
        Ok(c)
    }

    /// Runtime state, rootfs mount, snapshot, directory, then the record
    /// (last, so an interrupted removal can be run again). Each step
    /// tolerates being done already (the monitor of a `--rm` container and
    /// `rm -f` may race).
    fn remove_files(&mut self, c: &Container) -> Result<()> {
        let _ = self.runtime_for(c).delete(&c.id, true);
        self.remove_files_after_delete(c)
    }

    /// [`Engine::remove_files`] without the runtime's `delete`, for the
    /// monitor, which has just deleted the container's runtime state.
    pub(crate) fn remove_files_after_delete(&mut self, c: &Container) -> Result<()> {
        let bundle = self.bundle(&c.id);
        unmount(&bundle.rootfs())?;
        match self.images.remove_snapshot(&c.id) {
            Err(berth_image::Error::SnapshotNotFound(_)) | Ok(()) => {}
            Err(e) => return Err(e.into()),
        }
        match std::fs::remove_dir_all(bundle.dir()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::io("remove", bundle.dir(), e))
            }
            _ => {}
        }
        self.db.delete(&c.id)?;
        Ok(())
    }
}

/// Detaches the rootfs overlay; not mounted is fine.
fn unmount(path: &Path) -> Result<()> {
    use nix::errno::Errno;
    match nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(Error::io("unmount", path, e.into())),
    }
}
