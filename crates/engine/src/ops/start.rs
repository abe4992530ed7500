//! `start`: spawns the container's monitor ([`crate::monitor`]) and waits
//! for its first report.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Command;

use crate::attach;
use crate::error::{Error, Result};
use crate::store::owner::{self, ProcessId};
use crate::Engine;

/// The monitor's binary, next to `berth`.
pub const MONITOR_BINARY: &str = "berth-monitor";

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
        let me = ProcessId::current();
        if !self.db.begin_start(&c.id, me, owner::boot_id(), by_user)? {
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
        if client.is_some() {
            self.db.container_event(&c, "attach", &[])?;
        }
        tracing::debug!(id = %c.id, runtime = %c.config.runtime.display(), "starting the container's monitor");
        let status = monitor_command(&self.root, &c.id)?
            .env(owner::STARTER_ENV, me.to_string())
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
}

/// The arguments that start a monitor for `id`: the
/// `berth-monitor` next to the running binary (its side: `monitor::main`).
fn monitor_command(root: &Path, id: &str) -> Result<Command> {
    let exe = std::env::current_exe().map_err(|e| Error::io("find", "/proc/self/exe", e))?;
    let path = exe.with_file_name(MONITOR_BINARY);
    if !path.is_file() {
        return Err(Error::MonitorNotFound(path));
    }
    let mut c = Command::new(path);
    c.arg("--root").arg(root).arg(id);
    Ok(c)
}
