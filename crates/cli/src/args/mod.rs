//! The command line, as clap parses it. Flags follow `docker`'s; each
//! family's flags are in its own file.

mod build;
mod checkpoint;
mod containers;
mod events;
mod fs;
mod images;
pub mod mounts;
mod network;
mod registry;
pub mod resources;
pub mod security;
mod serve;
mod system;
mod volumes;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use build::*;
pub use checkpoint::*;
pub use containers::*;
pub use events::*;
pub use fs::*;
pub use images::*;
pub use network::*;
pub use registry::*;
pub use serve::*;
pub use system::*;
pub use volumes::*;

#[derive(Debug, Parser)]
#[command(
    name = "berth",
    version,
    about = "A daemonless, Docker-compatible container engine"
)]
pub struct Cli {
    /// Where berth keeps its state (default /var/lib/berth).
    #[arg(
        long,
        global = true,
        env = "BERTH_ROOT",
        default_value = "/var/lib/berth"
    )]
    pub root: PathBuf,
    /// The OCI runtime for new containers: berth (the berth-runtime next to this binary), runc, crun or a path
    #[arg(long, global = true, env = "BERTH_RUNTIME", default_value = "berth")]
    pub runtime: String,
    /// How much berth reports on stderr: debug, info, warn, error or fatal
    #[arg(long, global = true, env = "BERTH_LOG_LEVEL", default_value = "info", value_parser = ["debug", "info", "warn", "error", "fatal"])]
    pub log_level: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// Log in to a registry
    Login(LoginArgs),
    /// Log out from a registry
    Logout(LogoutArgs),
    /// Import a root filesystem tarball as an image
    Import(ImportArgs),
    /// List images
    Images(ImagesArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Remove one or more images
    Rmi(RmiArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Display detailed information on one or more images
    Inspect(InspectArgs),
    /// Create and run a new container from an image
    Run(RunArgs),
    /// Create a new container
    Create(CreateArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// List containers
    Ps(PsArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Update configuration (resource limits) of one or more containers
    Update(UpdateArgs),
    /// Pause all processes within one or more containers
    Pause(ContainersArgs),
    /// Unpause all processes within one or more containers
    Unpause(ContainersArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Get real time events from the server
    Events(EventsArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(ContainersArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(ContainerArg),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Display system-wide information
    Info(FormatArgs),
    /// Show the berth version information
    Version(FormatArgs),
    /// Generate a shell completion script (bash, zsh, fish)
    Completion(CompletionArgs),
    /// Manage berth
    System {
        #[command(subcommand)]
        command: SystemCommand,
    },
    /// Checkpoint running containers (`berth container checkpoint`)
    #[command(name = "container-checkpoint", hide = true)]
    ContainerCheckpoint(ContainerCheckpointArgs),
    /// Restore checkpointed containers (`berth container restore`)
    #[command(name = "container-restore", hide = true)]
    ContainerRestore(ContainerRestoreArgs),
    /// Move a running container to another berth root (its processes and memory, through a checkpoint)
    Migrate(MigrateArgs),
    /// Remove all stopped containers (`berth container prune`)
    #[command(name = "container-prune", hide = true)]
    ContainerPrune(ContainerPruneArgs),
    /// Manage images
    Image {
        #[command(subcommand)]
        command: ImageCommand,
    },
    /// Manage networks
    Network {
        #[command(subcommand)]
        command: NetworkCommand,
    },
    /// Manage checkpoints
    Checkpoint {
        #[command(subcommand)]
        command: CheckpointCommand,
    },
    /// Manage volumes
    Volume {
        #[command(subcommand)]
        command: VolumeCommand,
    },
    /// Build an image from a Dockerfile
    Build(Box<BuildArgs>),
    /// Serve the Docker Engine API (the docker CLI, docker-compose and docker-py talk to berth through it)
    Serve(ServeArgs),
    /// Manage builds
    Builder {
        #[command(subcommand)]
        command: BuilderCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    Pull(PullArgs),
    Push(PushArgs),
    Import(ImportArgs),
    #[command(alias = "list")]
    Ls(ImagesArgs),
    Tag(TagArgs),
    #[command(alias = "remove")]
    Rm(RmiArgs),
    History(HistoryArgs),
    Save(SaveArgs),
    Load(LoadArgs),
    Inspect(InspectArgs),
    /// Remove unused images
    Prune(PruneArgs),
}

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Reconcile the containers with what survived a reboot, then start those whose restart policy says so (for a boot-time unit)
    Boot,
    /// Show berth disk usage
    Df(DfArgs),
    /// Remove unused data (stopped containers, dangling images; -a: unused images)
    Prune(PruneArgs),
    /// Display system-wide information
    Info(FormatArgs),
}
