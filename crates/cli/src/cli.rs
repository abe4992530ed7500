//! The command line, as clap parses it. Flags follow `docker`'s.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "berth",
    version,
    about = "A daemonless, Docker-compatible container engine (images for now)"
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
    Update(crate::live_ops::UpdateArgs),
    /// Pause all processes within one or more containers
    Pause(ContainersArgs),
    /// Unpause all processes within one or more containers
    Unpause(ContainersArgs),
    /// Display the running processes of a container
    Top(crate::live_ops::TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(crate::stats::StatsArgs),
    /// Get real time events from the server
    Events(crate::events::EventsArgs),
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
    /// Remove all stopped containers (`berth container prune`)
    #[command(name = "container-prune", hide = true)]
    ContainerPrune(ContainerPruneArgs),
    /// Manage images
    Image {
        #[command(subcommand)]
        command: ImageCommand,
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

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A tar file (plain, gzip or zstd), or - for STDIN
    pub file: String,
    /// REPOSITORY[:TAG]
    pub reference: Option<String>,
    /// Apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME, STOPSIGNAL)
    #[arg(short = 'c', long = "change")]
    pub changes: Vec<String>,
    /// Set a commit message for the imported image
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Set the platform (os/arch[/variant]) of the image
    #[arg(long)]
    pub platform: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// REPOSITORY[:TAG] to list
    pub reference: Option<String>,
    /// Show all images (berth keeps no intermediate images, so this is the default list)
    #[arg(short, long)]
    pub all: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output (reference=PATTERN, dangling=true|false)
    #[arg(short, long = "filter")]
    pub filters: Vec<String>,
    /// Format output using a Go template subset: {{.Field}}, {{json .}}, table
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    pub source: String,
    pub target: String,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Force removal of the image
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    pub image: String,
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub human: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// docker-archive (default) or oci-archive
    #[arg(long, default_value = "docker-archive")]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Format output using a Go template subset
    #[arg(short, long)]
    pub format: Option<String>,
    /// Return JSON for specified type (container or image)
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short, long)]
    pub size: bool,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct TlsArgs {
    /// Require HTTPS and verify certificates; false allows self-signed certificates and plain HTTP
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub tls_verify: bool,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// NAME[:TAG|@DIGEST]
    pub reference: String,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// Set platform (os/arch[/variant]) if the image is multi-platform
    #[arg(long)]
    pub platform: Option<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// NAME[:TAG]
    pub reference: String,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The registry (host[:port])
    pub server: String,
    /// Username
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry (host[:port])
    pub server: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Container host name
    #[arg(long)]
    pub hostname: Option<String>,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Network mode ("none" or "host" for now)
    #[arg(long)]
    pub network: Option<String>,
    /// Parent cgroup for the container's cgroup (default /berth)
    #[arg(long)]
    pub cgroup_parent: Option<String>,
    #[command(flatten)]
    pub resources: crate::resource_args::CreateResourceArgs,
    #[command(flatten)]
    pub stdio: StdioArgs,
    #[command(flatten)]
    pub security: crate::security_args::SecurityArgs,
    /// Restart policy to apply when a container exits (no, on-failure[:max-retries], always, unless-stopped)
    #[arg(long)]
    pub restart: Option<String>,
    /// Signal to stop the container (default: the image's, else SIGTERM)
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Seconds to wait for the container to stop before it is killed (default 10)
    #[arg(long)]
    pub stop_timeout: Option<u64>,
    /// Logging driver for the container (json-file, k8s-file, none)
    #[arg(long)]
    pub log_driver: Option<String>,
    /// Log driver options (max-size=SIZE, max-file=N)
    #[arg(long = "log-opt")]
    pub log_opts: Vec<String>,
    #[command(flatten)]
    pub pull: PullPolicyArgs,
    pub image: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,
    #[command(flatten)]
    pub attach: RunAttachArgs,
    #[command(flatten)]
    pub create: CreateArgs,
}

#[derive(Debug, Args)]
pub struct StdioArgs {
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
}

#[derive(Debug, Args)]
pub struct RunAttachArgs {
    /// Override the key sequence for detaching a container
    #[arg(long, default_value = crate::attach::DEFAULT_DETACH_KEYS)]
    pub detach_keys: String,
    /// Proxy received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub sig_proxy: bool,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long)]
    pub detach_keys: Option<String>,
    #[command(flatten)]
    pub containers: ContainersArgs,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Override the key sequence for detaching a container
    #[arg(long)]
    pub detach_keys: Option<String>,
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub sig_proxy: bool,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    pub container: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ContainersArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container (default: its --stop-timeout, else 10)
    #[arg(short = 't', long = "time")]
    pub time: Option<u64>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container (berth has no volumes yet, so there are none)
    #[arg(short, long)]
    pub volumes: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    #[command(flatten)]
    pub more: PsFilterArgs,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    #[command(flatten)]
    pub more: LogsFilterArgs,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct PsFilterArgs {
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", default_value_t = -1, allow_negative_numbers = true)]
    pub last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Display total file sizes
    #[arg(short = 's', long)]
    pub size: bool,
    /// Filter output based on conditions provided (name, id, status, label, ancestor, exited, before, since)
    #[arg(short = 'f', long = "filter")]
    pub filters: Vec<String>,
    /// Format output using a Go template subset: {{.ID}}, {{.Names}}, {{.Label "k"}}, {{json .}}, table
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogsFilterArgs {
    /// Number of lines to show from the end of the logs ("all" for all)
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)
    #[arg(long)]
    pub until: Option<String>,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Show extra details provided to logs (berth records none)
    #[arg(long)]
    pub details: bool,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

#[derive(Debug, Args)]
pub struct PortArgs {
    pub container: String,
    /// PRIVATE_PORT[/PROTO]
    pub port: Option<String>,
}

#[derive(Debug, Args)]
pub struct ContainerArg {
    pub container: String,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short, long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change")]
    pub changes: Vec<String>,
    /// Commit message
    #[arg(short, long)]
    pub message: Option<String>,
    /// Pause container during commit
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub pause: bool,
    pub container: String,
    /// REPOSITORY[:TAG]
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short, long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// Suppress progress output during copy (berth prints none)
    #[arg(short, long)]
    pub quiet: bool,
    /// CONTAINER:SRC_PATH, a local path, or - (a tar on STDIN)
    pub source: String,
    /// CONTAINER:DEST_PATH, a local path, or - (a tar on STDOUT)
    pub destination: String,
}

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

#[derive(Debug, Args)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short, long)]
    pub verbose: bool,
    /// Format output using a Go template subset
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct PullPolicyArgs {
    /// Pull image before running ("always", "missing", "never")
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Set platform (os/arch[/variant]) if the server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
}
