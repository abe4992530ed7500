//! `info` and `version`: facts about the host, the runtime and the
//! engine's containers and images.

use std::path::PathBuf;

use crate::error::Result;
use crate::model::State;
use crate::Engine;

/// The host and runtime facts `version` and `info` show.
#[derive(Debug, Clone)]
pub struct HostFacts {
    /// The runtime's file name (`runc`, `berth-runtime`).
    pub runtime_name: String,
    /// The version from its `--version` (empty when unknown).
    pub runtime_version: String,
    pub kernel_version: String,
}

/// `info`'s facts.
#[derive(Debug, Clone)]
pub struct SystemInfo {
    pub containers: usize,
    pub running: usize,
    pub paused: usize,
    pub stopped: usize,
    pub images: usize,
    /// `"1"` or `"2"`.
    pub cgroup_version: &'static str,
    pub kernel_version: String,
    /// `/etc/os-release`'s PRETTY_NAME.
    pub operating_system: String,
    pub ncpu: usize,
    /// Bytes.
    pub mem_total: u64,
    pub hostname: String,
    pub root: PathBuf,
    /// The default runtime's file name.
    pub runtime_name: String,
}

/// The first line of `<runtime> --version` (`runc version 1.1.12`), with
/// the runtime's file name.
fn runtime_version(runtime: &str) -> (String, String) {
    let Ok(path) = crate::runtime::resolve(runtime) else {
        return (runtime.to_owned(), String::new());
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let version = std::process::Command::new(&path)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            let first = text.lines().next()?.to_owned();
            Some(
                first
                    .split_once("version ")
                    .map(|(_, v)| v.trim().to_owned())
                    .unwrap_or(first),
            )
        })
        .unwrap_or_default();
    (name, version)
}

fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| "linux".into())
}

/// `version`'s facts: needs no engine (Docker's client prints them
/// without a daemon too).
pub fn host_facts(runtime: &str) -> HostFacts {
    let (runtime_name, runtime_version) = runtime_version(runtime);
    HostFacts {
        runtime_name,
        runtime_version,
        kernel_version: kernel(),
    }
}

impl Engine {
    /// `info`, with `runtime` as the default runtime.
    pub fn info(&self, runtime: &str) -> Result<SystemInfo> {
        let list = self.list()?;
        // Docker's counts: a paused container is paused, not running.
        let paused = list
            .iter()
            .filter(|c| c.state == State::Running && c.paused)
            .count();
        let running = list
            .iter()
            .filter(|c| matches!(c.state, State::Running | State::Starting))
            .count()
            - paused;
        let images = self.images.list()?.len();
        let (runtime_name, _) = runtime_version(runtime);
        let hostname = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(SystemInfo {
            containers: list.len(),
            running,
            paused,
            stopped: list.len() - running - paused,
            images,
            cgroup_version: Engine::cgroup_version(),
            kernel_version: kernel(),
            operating_system: os_name(),
            ncpu: std::thread::available_parallelism().map_or(1, |n| n.get()),
            mem_total: super::stats::host_memory(),
            hostname,
            root: self.root.clone(),
            runtime_name,
        })
    }
}
