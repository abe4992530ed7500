//! Attaching to a container's monitor: its `attach.sock` (the frame
//! protocol of [`crate::attach`]), for `attach` and `start -a` on a
//! running container.

use std::io::BufRead;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::attach;
use crate::error::{Error, Result};
use crate::model::{Container, State};
use crate::ops::start::Started;
use crate::Engine;

impl Engine {
    /// The container `key` names, if it can be attached to: running or
    /// starting (the socket is bound before the monitor starts it).
    pub fn attachable(&self, key: &str) -> Result<Container> {
        let c = self.find(key)?;
        match c.state {
            State::Running | State::Starting => Ok(c),
            State::Restarting => Err(Error::Restarting(c.id)),
            _ => Err(Error::AttachStopped),
        }
    }

    /// The exit code of container `id` after an attached session lost its
    /// monitor without being told one: the recorded code once the
    /// container is no longer running (waiting up to 5 s); None when it
    /// still runs or is gone.
    pub fn exit_code_after_session(&self, id: &str) -> Result<Option<i32>> {
        self.wait_not_running(id, Duration::from_secs(5))?;
        Ok(match self.find(id) {
            Ok(c) if c.state == State::Exited => Some(c.exit_code),
            _ => None,
        })
    }

    /// A connection to the container's monitor: its output frames, and
    /// stdin, resize and close frames to it.
    pub fn connect_attach(&self, c: &Container) -> Result<UnixStream> {
        attach::connect(self.bundle(&c.id).dir(), attach::SOCKET)
    }
}

impl Started {
    /// The container's exit code once its monitor reports it: after the
    /// log is complete and, with `--rm`, the container removed. None when
    /// the monitor went away without saying.
    pub fn exit_code(&mut self) -> Option<i32> {
        let mut line = String::new();
        self.reports.read_line(&mut line).ok()?;
        line.trim().strip_prefix("exited ")?.parse().ok()
    }
}
