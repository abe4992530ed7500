//! Helpers for the restart and recovery tests: waiting for a state (with a
//! generous limit that only turns a hang into a failure), finding a
//! container's monitor, reading the database.

use std::path::Path;
use std::time::{Duration, Instant};

use super::engine::Engine;

/// Polls `f` until it returns Some; panics with `what` after a minute.
pub fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The pid of the monitor of container `id`, if one runs (the process
/// that started it, with the same command line, is gone once `berth`
/// returned).
pub fn monitor_pid(id: &str) -> Option<i32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let has = |s: &str| args.contains(&s.as_bytes());
        if is_monitor(&args) && has(id) && !is_zombie(pid) {
            return Some(pid);
        }
    }
    None
}

/// True if the command line is `berth-monitor ...`.
pub fn is_monitor(args: &[&[u8]]) -> bool {
    args.first().is_some_and(|a| a.ends_with(b"/berth-monitor"))
}

/// True if the process is gone or a zombie.
pub fn is_gone(pid: i32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid)
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rfind(')')
                .and_then(|i| s[i + 1..].split_whitespace().next().map(|st| st == "Z"))
        })
        .unwrap_or(true)
}

pub fn sigkill(pid: i32) {
    // kill(0 or -1) would signal the test's own group or everything.
    assert!(pid > 0, "no pid to kill");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// The container's full id.
pub fn id_of(e: &Engine, name: &str) -> String {
    e.inspect(name)["Id"].as_str().unwrap().to_owned()
}

pub fn state_of(e: &Engine, name: &str) -> String {
    e.inspect(name)["State"]["Status"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Runs SQL on the engine's database (as another process would).
pub fn sql(e: &Engine, statement: &str) {
    let db = rusqlite::Connection::open(e.berth.root.join("berth.db")).unwrap();
    db.busy_timeout(Duration::from_secs(30)).unwrap();
    db.execute_batch(statement).unwrap();
}
