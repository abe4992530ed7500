//! Plain data: what a container is and was created with, and the rules
//! that check it (Docker's). Imports nothing of the engine but `error`.

pub mod container;
pub mod event;
pub mod exec;
pub mod log;
pub mod mounts;
pub mod network;
pub mod resources;
pub mod restart;
pub mod seccomp;
pub mod security;
pub mod stdio;
pub mod time;

pub use container::{
    generated_name, new_id, validate_name, validate_signal, CheckpointState, Container,
    ContainerConfig, State,
};
pub use exec::ExecOptions;
pub use log::{LogConfig, LogDriver};
pub use mounts::{MountKind, MountPoint, MountRequest, Propagation, Volume};
pub use network::{Bandwidth, NetworkMode, NetworkOptions, NetworkRequest};
pub use resources::{Resources, ThrottleDevice};
pub use restart::RestartPolicy;
pub use security::{SecurityConfig, SecurityOptions};
pub use stdio::StdioConfig;
