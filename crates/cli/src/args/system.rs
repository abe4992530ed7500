//! The flags of `info`, `version`, `system df`, prune, completion.

use clap::Args;

#[derive(Debug, Args)]
pub struct FormatArgs {
    /// Format output using a Go template subset
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// bash, zsh or fish
    pub shell: String,
}

#[derive(Debug, Args)]
pub struct ContainerPruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (until=TIME, label=K[=V], label!=K[=V])
    #[arg(long = "filter")]
    pub filters: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short, long)]
    pub verbose: bool,
    /// Format output using a Go template subset
    #[arg(long)]
    pub format: Option<String>,
}
