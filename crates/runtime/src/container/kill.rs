//! `kill`: send a signal to the init, or with `--all` (or when the
//! container shares the host's pid namespace) to every process of its cgroup.

use std::path::Path;
use std::str::FromStr;

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::Container;
use crate::error::{Error, Result};
use crate::state::Status;

/// Reads "KILL", "SIGKILL", "sigkill" or "9".
pub fn parse_signal(text: &str) -> Result<Signal> {
    if let Ok(n) = text.parse::<i32>() {
        return Signal::try_from(n)
            .map_err(|_| Error::InvalidConfig(format!("unknown signal {text:?}")));
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name).map_err(|_| Error::InvalidConfig(format!("unknown signal {text:?}")))
}

pub fn kill(root: &Path, id: &str, signal: Signal, all: bool) -> Result<()> {
    let c = Container::load(root, id)?;
    let status = c.status();
    if matches!(status, Status::Stopped | Status::Creating) {
        return match (all, &c.record) {
            (true, Some(record)) => signal_leftovers(record, signal),
            (true, None) => Ok(()),
            (false, _) => Err(Error::NotRunning),
        };
    }
    let record = c.record()?;
    if all || !record.own_pid_namespace {
        if let Some(cg) = &record.cgroup {
            cg.signal_all(signal)?;
            // A frozen process only acts on SIGKILL once thawed.
            if status == Status::Paused && signal == Signal::SIGKILL {
                cg.thaw()?;
            }
            return Ok(());
        }
    }
    nix::sys::signal::kill(Pid::from_raw(record.pid), signal).map_err(|e| match e {
        nix::errno::Errno::ESRCH => Error::NotRunning,
        e => Error::sys(format!("send {signal} to {}", record.pid), e),
    })
}

/// `kill --all` of a container whose init is gone: what is left in its
/// cgroup still gets the signal, and no cgroup (or none left) is no error,
/// as with runc. containerd's shim sends it for every exited container of a
/// pod that shares a pid namespace, so background children do not outlive
/// their container. Without `--all` this stays `container not running`
/// (the init's pid may be someone else's by now).
fn signal_leftovers(record: &crate::state::Record, signal: Signal) -> Result<()> {
    let Some(cg) = &record.cgroup else {
        return Ok(());
    };
    // SIGKILL thaws a paused cgroup itself; other signals wait for resume.
    match cg.signal_all(signal) {
        Err(e) if e.kind() == berth_cgroups::ErrorKind::NotFound => Ok(()),
        other => other.map_err(Into::into),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_signal_forms() {
        for s in ["KILL", "SIGKILL", "sigkill", "9"] {
            assert_eq!(parse_signal(s).unwrap(), Signal::SIGKILL, "{s}");
        }
        assert_eq!(parse_signal("TERM").unwrap(), Signal::SIGTERM);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("0").is_err());
    }
}
