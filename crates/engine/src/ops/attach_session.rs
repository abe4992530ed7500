//! Attaching to a container's monitor: its `attach.sock` (the frame
//! protocol of [`crate::attach`]), for `attach` and `start -a` on a
//! running container.

use std::io::BufRead;
use std::os::unix::net::UnixStream;

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
