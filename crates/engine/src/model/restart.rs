//! Restart policies (`--restart no|on-failure[:N]|always|unless-stopped`)
//! with Docker's rules: when an exit restarts the container, when a boot
//! does, and the back-off between restarts (100 ms, doubling up to a
//! minute, back to 100 ms once a run lasted 10 s). The monitor applies
//! them; this module only decides.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "Name", rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    No,
    /// `on-failure[:N]`; 0 means no limit.
    OnFailure {
        #[serde(rename = "MaximumRetryCount")]
        max_retries: u32,
    },
    Always,
    UnlessStopped,
}

impl RestartPolicy {
    /// Parses the flag's value with Docker's messages.
    pub fn parse(s: &str) -> Result<RestartPolicy> {
        let bad = |reason: &str| Error::invalid("restart policy", reason);
        let (name, count) = match s.split_once(':') {
            Some(("", _)) => return Err(bad("format: no policy provided before colon")),
            Some((name, count)) => (name, Some(count)),
            None => (s, None),
        };
        let count: Option<i64> = match count {
            None | Some("") => None,
            Some(c) => Some(
                c.parse()
                    .map_err(|_| bad("format: maximum retry count must be an integer"))?,
            ),
        };
        match (name, count) {
            ("" | "no" | "always" | "unless-stopped", Some(n)) if n != 0 => Err(bad(
                "maximum retry count can only be used with 'on-failure'",
            )),
            ("" | "no", _) => Ok(RestartPolicy::No),
            ("always", _) => Ok(RestartPolicy::Always),
            ("unless-stopped", _) => Ok(RestartPolicy::UnlessStopped),
            ("on-failure", Some(n)) if n < 0 => {
                Err(bad("maximum retry count cannot be negative"))
            }
            ("on-failure", n) => Ok(RestartPolicy::OnFailure {
                max_retries: u32::try_from(n.unwrap_or(0))
                    .map_err(|_| bad("maximum retry count is too large"))?,
            }),
            (other, _) => Err(bad(&format!(
                "unknown policy '{other}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
            ))),
        }
    }

    pub fn is_none(self) -> bool {
        self == RestartPolicy::No
    }

    /// Docker's `Name` (`""` is never produced: `no`).
    pub fn name(self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::OnFailure { .. } => "on-failure",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
        }
    }

    pub fn max_retries(self) -> u32 {
        match self {
            RestartPolicy::OnFailure { max_retries } => max_retries,
            _ => 0,
        }
    }

    /// Whether the container restarts after an exit (Docker's restart
    /// manager): `always` does, `unless-stopped` unless stopped by hand,
    /// `on-failure` on a non-zero code until the retries are used up.
    /// A `stop` (or a kill with the stop signal) is handled by the caller:
    /// it cancels any restart.
    pub fn restarts_after(
        self,
        exit_code: i32,
        manually_stopped: bool,
        restart_count: u32,
    ) -> bool {
        match self {
            RestartPolicy::No => false,
            RestartPolicy::Always => true,
            RestartPolicy::UnlessStopped => !manually_stopped,
            RestartPolicy::OnFailure { max_retries } => {
                exit_code != 0 && (max_retries == 0 || restart_count < max_retries)
            }
        }
    }

    /// Whether `berth system boot` starts the container: the same rule as
    /// Docker's daemon at its start, where a stop by hand only keeps
    /// `unless-stopped` containers down (`always` ones come back).
    pub fn starts_at_boot(
        self,
        exit_code: i32,
        manually_stopped: bool,
        restart_count: u32,
    ) -> bool {
        self.restarts_after(exit_code, manually_stopped, restart_count)
    }
}

impl fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestartPolicy::OnFailure { max_retries } if *max_retries > 0 => {
                write!(f, "on-failure:{max_retries}")
            }
            p => f.write_str(p.name()),
        }
    }
}

/// Whether `kill -s signal` cancels the restart the exit would bring:
/// SIGKILL and the container's stop signal do (Docker's ExitOnNext).
pub fn ends_restarts(stop_signal: &str, signal: &str) -> bool {
    let name = |s: &str| {
        let s = s.trim_start_matches("SIG").trim_start_matches("sig");
        match s {
            "9" => "KILL".to_owned(),
            "15" => "TERM".to_owned(),
            s => s.to_ascii_uppercase(),
        }
    };
    let stop = if stop_signal.is_empty() {
        "TERM"
    } else {
        stop_signal
    };
    let signal = name(signal);
    signal == "KILL" || signal == name(stop)
}

/// Docker's back-off between restarts.
#[derive(Debug, Default)]
pub struct Backoff {
    delay: Duration,
}

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run this long resets the back-off.
const RESET_AFTER: Duration = Duration::from_secs(10);

impl Backoff {
    /// The delay before the next start, given how long the last run lasted.
    pub fn next(&mut self, ran_for: Duration) -> Duration {
        if ran_for >= RESET_AFTER {
            self.delay = Duration::ZERO;
        }
        self.delay = if self.delay.is_zero() {
            FIRST_DELAY
        } else {
            (self.delay * 2).min(MAX_DELAY)
        };
        self.delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_forms() {
        assert_eq!(RestartPolicy::parse("no").unwrap(), RestartPolicy::No);
        assert_eq!(
            RestartPolicy::parse("always").unwrap(),
            RestartPolicy::Always
        );
        assert_eq!(
            RestartPolicy::parse("unless-stopped").unwrap(),
            RestartPolicy::UnlessStopped
        );
        assert_eq!(
            RestartPolicy::parse("on-failure").unwrap(),
            RestartPolicy::OnFailure { max_retries: 0 }
        );
        assert_eq!(
            RestartPolicy::parse("on-failure:3").unwrap(),
            RestartPolicy::OnFailure { max_retries: 3 }
        );
        assert_eq!(
            RestartPolicy::parse("on-failure:3").unwrap().to_string(),
            "on-failure:3"
        );
        for (bad, words) in [
            ("always:2", "can only be used with 'on-failure'"),
            ("on-failure:-1", "cannot be negative"),
            ("on-failure:x", "must be an integer"),
            (":3", "no policy provided before colon"),
            ("sometimes", "unknown policy 'sometimes'"),
        ] {
            let e = RestartPolicy::parse(bad).unwrap_err().to_string();
            assert!(e.contains(words), "{bad}: {e}");
        }
    }

    #[test]
    fn decisions() {
        let of3 = RestartPolicy::OnFailure { max_retries: 3 };
        assert!(of3.restarts_after(1, false, 2));
        assert!(!of3.restarts_after(1, false, 3));
        assert!(!of3.restarts_after(0, false, 0));
        assert!(RestartPolicy::OnFailure { max_retries: 0 }.restarts_after(1, false, 1000));
        assert!(RestartPolicy::Always.restarts_after(0, true, 9));
        assert!(!RestartPolicy::UnlessStopped.restarts_after(0, true, 0));
        assert!(RestartPolicy::UnlessStopped.restarts_after(0, false, 0));
        assert!(!RestartPolicy::No.restarts_after(1, false, 0));
    }

    #[test]
    fn which_kills_end_restarts() {
        assert!(ends_restarts("", "KILL"));
        assert!(ends_restarts("", "9"));
        assert!(ends_restarts("", "SIGTERM"));
        assert!(ends_restarts("SIGQUIT", "QUIT"));
        assert!(!ends_restarts("SIGQUIT", "TERM"));
        assert!(!ends_restarts("", "USR1"));
    }

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let mut b = Backoff::default();
        let short = Duration::from_millis(5);
        assert_eq!(b.next(short), Duration::from_millis(100));
        assert_eq!(b.next(short), Duration::from_millis(200));
        assert_eq!(b.next(short), Duration::from_millis(400));
        for _ in 0..20 {
            b.next(short);
        }
        assert_eq!(b.next(short), MAX_DELAY);
        assert_eq!(b.next(Duration::from_secs(10)), Duration::from_millis(100));
    }
}
