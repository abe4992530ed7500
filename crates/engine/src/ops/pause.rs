//! `pause` and `unpause`.

use crate::error::{Error, Result};
use crate::model::{Container, State};
use crate::Engine;

impl Engine {
    /// `docker pause`: freezes the container (`runtime pause`).
    pub fn pause(&mut self, key: &str) -> Result<Container> {
        let mut c = self.find(key)?;
        if c.state != State::Running {
            return Err(not_running(&c));
        }
        if c.paused {
            return Err(Error::StateConflict(format!(
                "container {} is already paused",
                c.id
            )));
        }
        self.runtime_for(&c).pause(&c.id)?;
        self.db.set_paused(&c.id, true)?;
        c.paused = true;
        Ok(c)
    }

    /// `docker unpause` (`runtime resume`).
    pub fn unpause(&mut self, key: &str) -> Result<Container> {
        let mut c = self.find(key)?;
        if c.state != State::Running || !c.paused {
            return Err(Error::StateConflict(format!(
                "Container {} is not paused",
                c.id
            )));
        }
        self.runtime_for(&c).resume(&c.id)?;
        self.db.set_paused(&c.id, false)?;
        c.paused = false;
        Ok(c)
    }
}

fn not_running(c: &Container) -> Error {
    Error::StateConflict(format!("container {} is not running", c.id))
}
