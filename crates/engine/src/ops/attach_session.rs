//! Attaching to a container's monitor: its `attach.sock` (the frame
//! protocol of [`crate::attach`]), for `attach` and `start -a` on a
//! running container.

use std::os::unix::net::UnixStream;

use crate::attach;
use crate::error::{Error, Result};
use crate::model::{Container, State};
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
