//! `kill`, the signal proxy of `run`, and the resume a signal to a paused
//! container needs.

use crate::error::{Error, Result};
use crate::model::restart;
use crate::model::{Container, State};
use crate::Engine;

impl Engine {
    /// Signals the container (`runtime kill`).
    pub fn kill(&self, key: &str, signal: &str) -> Result<Container> {
        let c = self.find(key)?;
        if c.state == State::Restarting {
            // Docker's: between two runs there is no process to signal;
            // marking it is enough, and KILL or the stop signal cancels
            // the coming restart.
            let ends = restart::ends_restarts(&c.config.stop_signal, signal);
            self.db.mark_stopped_by_user(&c.id, ends)?;
            if ends {
                self.db.cancel_restart(&c.id)?;
            }
            return Ok(c);
        }
        if c.state != State::Running {
            return Err(Error::WrongState {
                action: "kill",
                id: c.id,
                state: "not running".into(),
            });
        }
        let signal = signal.strip_prefix("SIG").unwrap_or(signal);
        // Docker: any kill counts as a stop by hand; KILL or the stop
        // signal also cancels the restart its exit would bring.
        let ends = restart::ends_restarts(&c.config.stop_signal, signal);
        self.db.mark_stopped_by_user(&c.id, ends)?;
        self.kill_recorded(&c, signal)?;
        self.resume_after_signal(&c, signal);
        Ok(c)
    }

    /// Sends a signal for `berth run`'s signal proxy: not a stop by the
    /// user, just what the terminal got (a paused container is resumed for
    /// it only as `kill` would).
    pub fn forward_signal(&self, id: &str, signal: &str) -> Result<()> {
        let c = self.find(id)?;
        if c.state != State::Running {
            return Ok(());
        }
        self.runtime_for(&c).kill(&c.id, signal)?;
        self.resume_after_signal(&c, signal);
        Ok(())
    }

    /// After a signal reached a paused container (`kill`, `stop`, `run`'s
    /// signal proxy): Docker resumes it so the signal is delivered, when the
    /// signal is SIGKILL or the container's stop signal (SIGTERM unless
    /// set); others wait for `unpause`. It stays marked paused when the
    /// resume fails (Docker only warns then).
    pub(crate) fn resume_after_signal(&self, c: &Container, signal: &str) {
        if !c.paused || !restart::ends_restarts(&c.config.stop_signal, signal) {
            return;
        }
        match self.runtime_for(c).resume(&c.id) {
            Ok(()) => {
                let _ = self.db.set_paused(&c.id, false);
            }
            Err(e) => tracing::warn!(id = %c.id, "cannot unpause the container: {e}"),
        }
    }
}
