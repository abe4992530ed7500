//! `berth build` and `berth builder prune` (Docker's `docker build` and
//! `docker builder`).

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Build context: a directory, or - (a tar, or a Dockerfile, on STDIN)
    pub context: String,
    /// Name and optionally a tag in the "name:tag" format
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: "PATH/Dockerfile"; - for STDIN)
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    /// Set build-time variables
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Set the target build stage to build
    #[arg(long)]
    pub target: Option<String>,
    /// Do not use cache when building the image
    #[arg(long)]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the image
    #[arg(long)]
    pub pull: bool,
    /// Set metadata for an image
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Set platform (only this host's)
    #[arg(long)]
    pub platform: Option<String>,
    /// Set the networking mode for the RUN instructions during build (default, none, host)
    #[arg(long, default_value = "default")]
    pub network: String,
    /// Set type of progress output (auto, plain, tty)
    #[arg(long, default_value = "auto", value_parser = ["auto", "plain", "tty", "quiet"])]
    pub progress: String,
    /// Suppress the build output and print image ID on success
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the image ID to the file
    #[arg(long)]
    pub iidfile: Option<String>,
    /// Secret to expose to the build (format: "id=mysecret[,src=/local/secret]")
    #[arg(long = "secret")]
    pub secrets: Vec<String>,
    /// Output destination (format: "type=oci|docker,dest=FILE")
    #[arg(short = 'o', long = "output")]
    pub output: Option<String>,
    /// Set the parent cgroup for the RUN instructions during build
    #[arg(long)]
    pub cgroup_parent: Option<String>,
    /// Layer compression (gzip, zstd)
    #[arg(long, default_value = "gzip", value_parser = ["gzip", "zstd"])]
    pub compression: String,
}

#[derive(Debug, Subcommand)]
pub enum BuilderCommand {
    /// Build an image from a Dockerfile
    Build(Box<BuildArgs>),
    /// Remove build cache
    Prune(BuilderPruneArgs),
}

#[derive(Debug, Args)]
pub struct BuilderPruneArgs {
    /// Remove all unused build cache, not just dangling ones (berth's cache is all one kind)
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}
