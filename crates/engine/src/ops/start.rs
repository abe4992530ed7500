//! `start`: spawns the container's monitor ([`crate::monitor`]) and waits
//! for its first report.

use std::io::{BufRead, BufReader};
use std::process::Command;

use crate::attach;
use crate::error::{Error, Result};
use crate::runtime::CriuPaths;
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
        self.start_with(key, true, false, None)
    }

    /// [`Engine::start`], connected to the container's attach socket from
    /// before it starts (`run`, `start -a`).
    pub fn start_attached(&mut self, key: &str) -> Result<Option<Started>> {
        self.start_with(key, true, true, None)
    }

    /// `start`; `by_user` forgets restarts and a manual stop (Docker's
    /// start does, its daemon's restart at boot does not).
    pub(crate) fn start_as(&mut self, key: &str, by_user: bool) -> Result<Option<Started>> {
        self.start_with(key, by_user, false, None)
    }

    /// Claims the start, binds the attach socket and spawns the monitor;
    /// with `restore`, the monitor's first launch restores that checkpoint
    /// (`ops/checkpoint.rs` checked it).
    pub(crate) fn start_with(
        &mut self,
        key: &str,
        by_user: bool,
        attach: bool,
        restore: Option<&CriuPaths>,
    ) -> Result<Option<Started>> {
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
        let args = MonitorArgs {
            root: self.root.clone(),
            id: c.id.clone(),
            restore: restore.cloned(),
        };
        let status = monitor_command(&args)?
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

/// The command that starts a monitor: the `berth-monitor` next to the
/// running binary (its side: `monitor::main`).
fn monitor_command(args: &MonitorArgs) -> Result<Command> {
    let exe = std::env::current_exe().map_err(|e| Error::io("find", "/proc/self/exe", e))?;
    let path = exe.with_file_name(MONITOR_BINARY);
    if !path.is_file() {
        return Err(Error::MonitorNotFound(path));
    }
    let mut c = Command::new(path);
    c.args(args.to_args());
    Ok(c)
}
/// The monitor's command line (`monitor::main`'s side reads it back).
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorArgs {
    pub root: std::path::PathBuf,
    pub id: String,
    /// `--restore-from DIR --work-path W [--tcp-established]`: the first
    /// launch restores the checkpoint in DIR.
    pub restore: Option<CriuPaths>,
}

impl MonitorArgs {
    /// The arguments [`MonitorArgs::parse`] reads back.
    pub fn to_args(&self) -> Vec<std::ffi::OsString> {
        let mut v: Vec<std::ffi::OsString> = vec!["--root".into(), self.root.clone().into()];
        if let Some(r) = &self.restore {
            v.push("--restore-from".into());
            v.push(r.image.clone().into());
            v.push("--work-path".into());
            v.push(r.work.clone().into());
            if r.tcp_established {
                v.push("--tcp-established".into());
            }
            if r.tcp_close {
                v.push("--tcp-close".into());
            }
        }
        v.push(self.id.clone().into());
        v
    }

    /// `[--root ROOT] [--restore-from DIR --work-path W
    /// [--tcp-established] [--tcp-close]] ID`.
    pub fn parse(args: &[String]) -> Option<MonitorArgs> {
        let mut root = std::path::PathBuf::from("/var/lib/berth");
        let mut id = None;
        let (mut image, mut work, mut tcp, mut close) = (None, None, false, false);
        let mut args = args.iter();
        while let Some(a) = args.next() {
            match a.as_str() {
                "--root" => root = args.next()?.into(),
                "--restore-from" => image = Some(std::path::PathBuf::from(args.next()?)),
                "--work-path" => work = Some(std::path::PathBuf::from(args.next()?)),
                "--tcp-established" => tcp = true,
                "--tcp-close" => close = true,
                _ if id.is_none() && !a.starts_with('-') => id = Some(a.clone()),
                _ => return None,
            }
        }
        let restore = match (image, work) {
            (Some(image), Some(work)) => Some(CriuPaths {
                image,
                work,
                tcp_established: tcp,
                tcp_close: close,
            }),
            (None, None) if !tcp && !close => None,
            _ => return None,
        };
        Some(MonitorArgs {
            root,
            id: id?,
            restore,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::MonitorArgs;
    use crate::runtime::CriuPaths;

    fn round_trip(a: &MonitorArgs) -> Option<MonitorArgs> {
        let args: Vec<String> = a
            .to_args()
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect();
        MonitorArgs::parse(&args)
    }

    #[test]
    fn monitor_args_read_back_what_start_writes() {
        let start = MonitorArgs {
            root: "/var/lib/berth".into(),
            id: "abc".into(),
            restore: None,
        };
        assert_eq!(round_trip(&start), Some(start));
        let restore = MonitorArgs {
            root: "/r".into(),
            id: "abc".into(),
            restore: Some(CriuPaths {
                image: "/r/containers/abc/checkpoint".into(),
                work: "/r/containers/abc/checkpoint.work".into(),
                tcp_established: true,
                tcp_close: true,
            }),
        };
        assert_eq!(round_trip(&restore), Some(restore));
        // Half a restore request is no request.
        let half = ["--restore-from", "/x", "abc"].map(String::from);
        assert_eq!(MonitorArgs::parse(&half), None);
        let tcp_alone = ["--tcp-established", "abc"].map(String::from);
        assert_eq!(MonitorArgs::parse(&tcp_alone), None);
    }
}
