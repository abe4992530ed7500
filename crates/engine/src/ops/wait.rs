//! `wait`.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::model::State;
use crate::Engine;

impl Engine {
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

    /// The exit code of container `id`'s last exit, as its `die` event
    /// recorded it: known after the container is gone (`--rm`).
    pub fn last_exit_code(&self, id: &str) -> Result<Option<i32>> {
        self.db.last_exit_code(id)
    }
}
