//! A container as the engine records it: the resolved configuration it was
//! created with, and its lifecycle state.

use std::io::Read;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Recorded, bundle written, never started (or exited and restartable).
    Created,
    /// A monitor is starting it.
    Starting,
    Running,
    Exited,
    /// Exited; its monitor starts it again after the back-off (restart
    /// policy).
    Restarting,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Starting => "starting",
            State::Running => "running",
            State::Exited => "exited",
            State::Restarting => "restarting",
        }
    }

    pub(crate) fn parse(s: &str) -> State {
        match s {
            "starting" => State::Starting,
            "running" => State::Running,
            "exited" => State::Exited,
            "restarting" => State::Restarting,
            _ => State::Created,
        }
    }
}

/// Everything `create` resolved from the image and the flags; stored as JSON
/// in the database.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ContainerConfig {
    /// The image as the user named it.
    pub image: String,
    pub hostname: String,
    pub user: String,
    pub env: Vec<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub working_dir: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub stop_signal: String,
    /// `--stop-timeout`: seconds `stop` waits before SIGKILL (none: 10).
    #[serde(default)]
    pub stop_timeout: Option<u64>,
    pub auto_remove: bool,
    /// The runtime binary this container was created with; every later
    /// command uses the same one.
    pub runtime: PathBuf,
    /// Parent of the container's cgroup (`linux.cgroupsPath` is
    /// `<parent>/<id>`).
    pub cgroup_parent: String,
    /// `--memory`, `--cpus`, ... as Docker records them; `update` changes
    /// them.
    #[serde(default)]
    pub resources: crate::model::resources::Resources,
    /// `-i`/`-t` (absent from rows written before they existed).
    #[serde(default)]
    pub stdio: crate::model::stdio::StdioConfig,
    /// `none` (empty in older records), `host`, `bridge`, a user
    /// network's name or `container:<id>` ([`ContainerConfig::network`]).
    #[serde(default)]
    pub network_mode: String,
    /// Capabilities, seccomp, devices, limits, `--init`, ... (security.rs).
    #[serde(default)]
    pub security: crate::model::security::SecurityConfig,
    /// `--restart`.
    #[serde(default)]
    pub restart: crate::model::restart::RestartPolicy,
    /// `--log-driver`, `--log-opt`.
    #[serde(default)]
    pub log: crate::model::log::LogConfig,
    /// `--domainname`.
    #[serde(default)]
    pub domainname: String,
    /// The networks it joins while it runs (`bridge` or user networks):
    /// the first from `--network`, more from `network connect`.
    #[serde(default)]
    pub networks: Vec<crate::model::network::NetworkRequest>,
    /// `-v`, `--mount`, the image's `VOLUME`s, `--volumes-from`: resolved
    /// (volumes named and recorded).
    #[serde(default)]
    pub mounts: Vec<crate::model::mounts::MountPoint>,
    /// `--dns`.
    #[serde(default)]
    pub dns: Vec<std::net::IpAddr>,
    /// `--dns-search`.
    #[serde(default)]
    pub dns_search: Vec<String>,
    /// `--dns-option`.
    #[serde(default)]
    pub dns_options: Vec<String>,
    /// `--add-host`, as given (`name:ip`, `name=ip`, `name:host-gateway`).
    #[serde(default)]
    pub extra_hosts: Vec<String>,
    /// `-p`, one per container port.
    #[serde(default)]
    pub publish: Vec<berth_net::portspec::PortMapping>,
    /// `-P`: the `expose` ports not in `publish` get free host ports.
    #[serde(default)]
    pub publish_all: bool,
    /// The image's `ExposedPorts`, `--expose` and `-p`'s container ports.
    #[serde(default)]
    pub expose: Vec<berth_net::portspec::ExposedPort>,
    /// `--network-bandwidth-egress/-ingress` (`update` changes them).
    #[serde(default)]
    pub bandwidth: crate::model::network::Bandwidth,
}

impl ContainerConfig {
    /// The process's argv: entrypoint then command.
    pub fn args(&self) -> Vec<String> {
        self.entrypoint.iter().chain(&self.cmd).cloned().collect()
    }

    /// What `network_mode` names.
    pub fn network(&self) -> crate::model::network::NetworkMode<'_> {
        crate::model::network::NetworkMode::parse(&self.network_mode)
    }
}

#[derive(Debug, Clone)]
pub struct Container {
    pub id: String,
    pub name: String,
    /// The image's id (`sha256:<config digest>`).
    pub image_id: String,
    pub config: ContainerConfig,
    pub state: State,
    pub pid: i32,
    pub exit_code: i32,
    /// Why the last start failed, as `docker inspect`'s `State.Error`.
    pub error: String,
    pub created_at: String,
    pub started_at: String,
    pub finished_at: String,
    /// Frozen by `pause` (the state stays `running`, as in Docker).
    pub paused: bool,
    /// The OOM killer killed a process of the container's last run.
    pub oom_killed: bool,
    /// Checkpoint and restore, as Podman's inspect shows them.
    pub checkpoint: CheckpointState,
}

/// What `container checkpoint`/`restore` recorded (`State.Checkpointed`,
/// `CheckpointedAt`, `Restored`, `RestoredAt` in Podman's inspect).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckpointState {
    /// The last run ended in a checkpoint (kept in the container's
    /// directory) that no start or restore has used since.
    pub checkpointed: bool,
    /// When the last checkpoint was taken (also with `--leave-running`).
    pub checkpointed_at: String,
    /// The current (or last) run was restored from a checkpoint.
    pub restored: bool,
    pub restored_at: String,
}

/// 64 random hex digits, like Docker's ids.
pub fn new_id() -> Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| Error::io("read", "/dev/urandom", e))?;
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // Docker avoids all-digit short ids (they read as numbers).
    if id[..12].bytes().all(|b| b.is_ascii_digit()) {
        return new_id();
    }
    Ok(id)
}

/// Docker's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn validate_name(name: &str) -> Result<()> {
    let b = name.as_bytes();
    let ok = b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName(name.to_owned()))
    }
}

const ADJECTIVES: &[&str] = &[
    "agile", "bold", "brave", "calm", "clever", "crisp", "eager", "fair", "gentle", "happy",
    "keen", "kind", "lucid", "merry", "nimble", "proud", "quiet", "rapid", "serene", "sharp",
    "steady", "swift", "tidy", "vivid", "wise", "witty", "zesty", "jolly", "loyal", "sunny",
];
const NOUNS: &[&str] = &[
    "anchor",
    "barge",
    "beacon",
    "buoy",
    "cable",
    "cargo",
    "compass",
    "crane",
    "dock",
    "ferry",
    "galley",
    "harbor",
    "hull",
    "jetty",
    "keel",
    "mast",
    "mooring",
    "pier",
    "quay",
    "rudder",
    "sail",
    "schooner",
    "skiff",
    "tide",
    "tug",
    "wharf",
    "yacht",
    "lighthouse",
    "marina",
    "port",
];

/// A readable name (`adjective_noun`) from the id's random bits; the caller
/// adds a suffix on a clash.
pub fn generated_name(id: &str, attempt: u32) -> String {
    let n = u64::from_str_radix(&id[..12], 16).unwrap_or(0);
    let adj = ADJECTIVES[(n % ADJECTIVES.len() as u64) as usize];
    let noun = NOUNS[((n / 31) % NOUNS.len() as u64) as usize];
    if attempt == 0 {
        format!("{adj}_{noun}")
    } else {
        format!("{adj}_{noun}{attempt}")
    }
}

/// A `--stop-signal` value as Docker takes it: a name with or without
/// `SIG` (any case) or a number; returned as the name the runtime gets.
pub fn validate_signal(s: &str) -> Result<String> {
    use std::str::FromStr;
    let invalid = || Error::invalid("signal", s);
    if let Ok(n) = s.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n)
            .map(|sig| sig.as_str().to_owned())
            .map_err(|_| invalid());
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    nix::sys::signal::Signal::from_str(&name)
        .map(|sig| sig.as_str().to_owned())
        .map_err(|_| invalid())
}

/// Sets one `-e` entry in `env` as Docker does: `KEY=VALUE` replaces
/// `KEY`; a bare `KEY` passes the caller's value, if it has one.
pub fn set_env(env: &mut Vec<String>, e: &str) -> Result<()> {
    let (k, v) = match e.split_once('=') {
        Some((k, v)) => (k.to_owned(), v.to_owned()),
        None => match std::env::var(e) {
            Ok(v) => (e.to_owned(), v),
            Err(_) => return Ok(()),
        },
    };
    if k.is_empty() {
        return Err(Error::invalid("environment variable", e));
    }
    env.retain(|x| x.split_once('=').map(|(xk, _)| xk) != Some(&k));
    env.push(format!("{k}={v}"));
    Ok(())
}
