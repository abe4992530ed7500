//! `berth volume ...` (Docker's `docker volume`; its cluster-volume flags
//! are not berth's).

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume
    Create(VolumeCreateArgs),
    /// Display detailed information on one or more volumes
    Inspect(VolumeInspectArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(VolumeLsArgs),
    /// Remove unused local volumes
    Prune(VolumePruneArgs),
    /// Remove one or more volumes. You cannot remove a volume that is in use by a container.
    #[command(alias = "remove")]
    Rm(VolumeRmArgs),
}

#[derive(Debug, Args)]
pub struct VolumeCreateArgs {
    /// The volume's name (none: a random one, and the volume is anonymous)
    pub volume: Option<String>,
    /// Specify volume name
    #[arg(long, hide = true)]
    pub name: Option<String>,
    /// Specify volume driver name (only "local")
    #[arg(short, long, default_value = "local")]
    pub driver: String,
    /// Set driver specific options (local: type, device, o)
    #[arg(short, long = "opt")]
    pub opt: Vec<String>,
    /// Set metadata for a volume
    #[arg(long)]
    pub label: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VolumeLsArgs {
    /// Only display volume names
    #[arg(short, long)]
    pub quiet: bool,
    /// Format output using a Go template subset: {{.Field}}, {{json .}}, {{.Label "k"}}, table
    #[arg(long)]
    pub format: Option<String>,
    /// Provide filter values (dangling=true|false, name=, label=K[=V], driver=)
    #[arg(short, long = "filter")]
    pub filters: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VolumeInspectArgs {
    #[arg(required = true)]
    pub volumes: Vec<String>,
    /// Format output using a Go template subset
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct VolumeRmArgs {
    #[arg(required = true)]
    pub volumes: Vec<String>,
    /// Force the removal of one or more volumes (a missing one is no error; one in use is still refused)
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct VolumePruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (label=K[=V], label!=K[=V], all=true)
    #[arg(long = "filter")]
    pub filters: Vec<String>,
}
