//! `restart`.

use std::time::Duration;

use crate::error::Result;
use crate::Engine;

impl Engine {
    /// `restart`: stop (if running) then start, as Docker's.
    pub fn restart(&mut self, key: &str, timeout: Duration) -> Result<()> {
        let c = self.stop(key, timeout)?;
        self.start(&c.id)?;
        self.db.container_event(&c, "restart", &[])?;
        Ok(())
    }
}
