//! `stop`, and waiting for the monitor to record an exit.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::model::{Container, State};
use crate::Engine;

impl Engine {
    /// The image's stop signal (or SIGTERM), then SIGKILL after `timeout`.
    pub fn stop(&self, key: &str, timeout: Duration) -> Result<Container> {
        let c = self.find(key)?;
        if c.state == State::Restarting {
            // Between two runs: the monitor sees this and does not restart.
            self.db.mark_stopped_by_user(&c.id, true)?;
            self.db.cancel_restart(&c.id)?;
            self.db.container_event(&c, "stop", &[])?;
        }
        if c.state != State::Running {
            return Ok(c);
        }
        self.db.mark_stopped_by_user(&c.id, true)?;
        let signal = match c.config.stop_signal.as_str() {
            "" => "TERM",
            s => s.strip_prefix("SIG").unwrap_or(s),
        };
        let signalled = self.kill_recorded(&c, signal).is_ok();
        self.resume_after_signal(&c, signal);
        if !(signalled && self.wait_not_running(&c.id, timeout)?) {
            let _ = self.kill_recorded(&c, "KILL");
            self.resume_after_signal(&c, "KILL");
            if !self.wait_not_running(&c.id, Duration::from_secs(30))? {
                return Err(Error::Monitor {
                    id: c.id,
                    message: "the container did not exit 30s after SIGKILL".into(),
                });
            }
        }
        // Docker's order: the signal's `kill`, the monitor's `die`, `stop`.
        self.db.container_event(&c, "stop", &[])?;
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
}
