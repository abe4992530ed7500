//! How long `stop` and `restart` wait before SIGKILL when the caller does
//! not say: the container's `--stop-timeout`, else Docker's 10 s.

use std::time::Duration;

use crate::error::Result;
use crate::Engine;

/// Docker's default grace period, in seconds.
const DEFAULT_STOP_TIMEOUT: u64 = 10;

impl Engine {
    /// `requested` (`stop -t`) seconds, else the container's own, else
    /// Docker's default.
    pub fn stop_timeout(&self, key: &str, requested: Option<u64>) -> Result<Duration> {
        let secs = match requested {
            Some(t) => t,
            None => self
                .find(key)?
                .config
                .stop_timeout
                .unwrap_or(DEFAULT_STOP_TIMEOUT),
        };
        Ok(Duration::from_secs(secs))
    }
}
