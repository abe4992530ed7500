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
    /// Skip in-flight TCP connections (not yet accepted; their clients retry)
    #[arg(long)]
    pub tcp_skip_in_flight: bool,
    /// Export the checkpoint, the configuration and the rootfs changes to a tar.gz file
    #[arg(short = 'e', long)]
    pub export: Option<std::path::PathBuf>,
    /// Do not export the content of the container's volumes (with --export)
    #[arg(long)]
    pub ignore_volumes: bool,
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
    /// Close the checkpoint's established TCP connections instead of restoring them
    #[arg(long)]
    pub tcp_close: bool,
    /// Restore a new container from an exported checkpoint (tar.gz)
    #[arg(short = 'i', long)]
    pub import: Option<std::path::PathBuf>,
    /// The name of the container restored with --import
    #[arg(short = 'n', long)]
    pub name: Option<String>,
    /// Do not restore the content of the exported volumes (with --import)
    #[arg(long)]
    pub ignore_volumes: bool,
    /// Publish a container's port, or a range of ports, to the host, instead of the exported ones (with --import)
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// The containers (none with --import)
    pub containers: Vec<String>,
}

/// `berth checkpoint ...` (Docker's experimental commands).
#[derive(Debug, clap::Subcommand)]
pub enum CheckpointCommand {
    /// Create a checkpoint from a running container
    Create(CheckpointCreateArgs),
    /// List checkpoints for a container
    #[command(alias = "list")]
    Ls(CheckpointLsArgs),
    /// Remove a checkpoint
    #[command(alias = "remove")]
    Rm(CheckpointRmArgs),
}

#[derive(Debug, Args)]
pub struct CheckpointCreateArgs {
    /// Use a custom checkpoint storage directory
    #[arg(long)]
    pub checkpoint_dir: Option<std::path::PathBuf>,
    /// Leave the container running after checkpoint
    #[arg(long)]
    pub leave_running: bool,
    pub container: String,
    pub checkpoint: String,
}

#[derive(Debug, Args)]
pub struct CheckpointLsArgs {
    /// Use a custom checkpoint storage directory
    #[arg(long)]
    pub checkpoint_dir: Option<std::path::PathBuf>,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct CheckpointRmArgs {
    /// Use a custom checkpoint storage directory
    #[arg(long)]
    pub checkpoint_dir: Option<std::path::PathBuf>,
    pub container: String,
    pub checkpoint: String,
}

/// `berth migrate C DEST`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The container's name at the destination (default: its own)
    #[arg(short = 'n', long)]
    pub name: Option<String>,
    /// Remove the container here once the destination runs it
    #[arg(long)]
    pub rm: bool,
    /// Publish ports at the destination instead of the container's own (as run -p)
    #[arg(short = 'p', long)]
    pub publish: Vec<String>,
    /// The running container
    pub container: String,
    /// A command running berth at the destination ('ssh host berth',
    /// 'berth --root DIR'), or a local berth root's directory
    pub destination: String,
}
