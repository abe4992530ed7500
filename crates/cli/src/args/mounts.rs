//! The `run`/`create` flags for volumes and bind mounts (flattened into
//! `CreateArgs`): `-v`, `--mount`, `--volumes-from`, as text; the engine
//! parses them in Docker's words (berth-engine `model/mounts`). `--tmpfs`
//! is with the security flags.

use std::path::Path;

use berth_engine::model::mounts;
use clap::Args;

#[derive(Debug, Args, Default)]
pub struct MountArgs {
    /// Bind mount a volume (NAME:/PATH, /HOST:/PATH[:ro,rshared,...], or /PATH)
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// Attach a filesystem mount to the container (type=bind|volume|tmpfs,source=,target=,...)
    #[arg(long = "mount")]
    pub mounts: Vec<String>,
    /// Mount volumes from the specified container(s) (CONTAINER[:ro|rw])
    #[arg(long = "volumes-from")]
    pub volumes_from: Vec<String>,
}

impl MountArgs {
    /// The specs as the docker CLI sends them: a host path starting with
    /// `.` made absolute against the working directory (left as given if
    /// there is none).
    pub fn specs(self) -> (Vec<String>, Vec<String>, Vec<String>) {
        let cwd = std::env::current_dir().ok();
        let abs = |f: fn(&str, &Path) -> String, s: String| match &cwd {
            Some(cwd) => f(&s, cwd),
            None => s,
        };
        let volumes = self
            .volumes
            .into_iter()
            .map(|v| abs(mounts::absolute_volume_source, v))
            .collect();
        let mounts = self
            .mounts
            .into_iter()
            .map(|m| abs(mounts::absolute_mount_source, m))
            .collect();
        (volumes, mounts, self.volumes_from)
    }
}
