//! Checkpoint and restore: Podman's `container checkpoint`/`restore`.

use clap::Args;

use super::ContainersArgs;

#[derive(Debug, Args)]
pub struct ContainerCheckpointArgs {
    /// Leave the container running after writing the checkpoint to disk
    #[arg(short = 'R', long)]
    pub leave_running: bool,
    /// Checkpoint a container with established TCP connections
    #[arg(long)]
    pub tcp_established: bool,
    #[command(flatten)]
    pub containers: ContainersArgs,
}

#[derive(Debug, Args)]
pub struct ContainerRestoreArgs {
    /// Restore a container with established TCP connections
    #[arg(long)]
    pub tcp_established: bool,
    /// Keep the checkpoint's images after the restore
    #[arg(short = 'k', long)]
    pub keep: bool,
    #[command(flatten)]
    pub containers: ContainersArgs,
}
