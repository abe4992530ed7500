//! Who owns a container's process: a process id safe from pid reuse and
//! the boot it ran in, as recorded in the database (see
//! `ops/recover.rs`).

use std::sync::OnceLock;

/// A process, told apart from a later one with the same pid by its start
/// time (clock ticks since boot, `/proc/<pid>/stat` field 22).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessId {
    pub pid: i32,
    pub start_time: u64,
}

impl ProcessId {
    pub fn current() -> ProcessId {
        let pid = std::process::id() as i32;
        ProcessId {
            pid,
            start_time: start_time(pid).unwrap_or(0),
        }
    }

    /// True while this very process exists and is not a zombie.
    pub fn is_alive(self) -> bool {
        self.pid > 0 && start_time(self.pid) == Some(self.start_time)
    }

    /// `pid:start_time`, how a starter names itself to the monitor.
    pub fn parse(s: &str) -> Option<ProcessId> {
        let (pid, start) = s.split_once(':')?;
        Some(ProcessId {
            pid: pid.parse().ok()?,
            start_time: start.parse().ok()?,
        })
    }
}

impl std::fmt::Display for ProcessId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.pid, self.start_time)
    }
}

/// The start time of a live (not zombie) process.
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after
    // the last ')'. Then: state (3), ..., starttime (22).
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// This boot's id; a different one recorded with a container means the
/// host rebooted since (its processes, mounts and cgroups are gone).
pub fn boot_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    })
}

/// The environment variable through which `start` tells the monitor which
/// process it takes the container over from.
pub const STARTER_ENV: &str = "BERTH_MONITOR_STARTER";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_parses_back() {
        let me = ProcessId::current();
        assert!(me.start_time > 0);
        assert!(me.is_alive());
        assert_eq!(ProcessId::parse(&me.to_string()), Some(me));
        let later = ProcessId {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(
            !later.is_alive(),
            "same pid, other start time: another process"
        );
        assert!(!ProcessId::default().is_alive());
    }

    #[test]
    fn boot_id_is_read() {
        assert_eq!(boot_id().len(), 36, "{}", boot_id());
    }
}
