//! The container commands' flags: create/run, start/attach/exec,
//! stop/kill/rm, ps, logs, update, top, stats.

use clap::Args;

use super::mounts::MountArgs;
use super::registry::TlsArgs;
use super::resources::{CreateResourceArgs, ResourceArgs};
use super::security::SecurityArgs;

/// Docker's default `--detach-keys`.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

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
    /// Connect a container to a network (none, host, bridge, a network's name, container:<name|id>)
    #[arg(long, visible_alias = "net")]
    pub network: Option<String>,
    #[command(flatten)]
    pub net: NetworkArgs,
    /// Parent cgroup for the container's cgroup (default /berth)
    #[arg(long)]
    pub cgroup_parent: Option<String>,
    #[command(flatten)]
    pub resources: CreateResourceArgs,
    #[command(flatten)]
    pub stdio: StdioArgs,
    #[command(flatten)]
    pub security: SecurityArgs,
    #[command(flatten)]
    pub mounts: MountArgs,
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

/// The network flags of `create`/`run` (values as text: the engine checks
/// them in Docker's words).
#[derive(Debug, Default, Args)]
pub struct NetworkArgs {
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address (e.g., 2001:db8::33)
    #[arg(long)]
    pub ip6: Option<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long)]
    pub mac_address: Option<String>,
    /// Add network-scoped alias for the container
    #[arg(long = "network-alias", visible_alias = "net-alias")]
    pub network_alias: Vec<String>,
    /// Container NIS domain name
    #[arg(long)]
    pub domainname: Option<String>,
    /// Set custom DNS servers
    #[arg(long)]
    pub dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search", allow_hyphen_values = true)]
    pub dns_search: Vec<String>,
    /// Set DNS options
    #[arg(long = "dns-option", visible_alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long)]
    pub expose: Vec<String>,
    #[command(flatten)]
    pub bandwidth: BandwidthArgs,
}

/// Shaping of the container's network traffic (`create`, `run`, `update`).
#[derive(Debug, Default, Args)]
pub struct BandwidthArgs {
    /// Limit the container's outgoing traffic (tc units: 10mbit, 1gbit, 500kbps)
    #[arg(long = "network-bandwidth-egress", value_name = "RATE")]
    pub egress: Option<String>,
    /// Limit the container's incoming traffic (tc units: 10mbit, 1gbit, 500kbps)
    #[arg(long = "network-bandwidth-ingress", value_name = "RATE")]
    pub ingress: Option<String>,
}

impl NetworkArgs {
    pub fn options(self) -> berth_engine::NetworkOptions {
        berth_engine::NetworkOptions {
            ip: self.ip,
            ip6: self.ip6,
            mac_address: self.mac_address,
            aliases: self.network_alias,
            domainname: self.domainname,
            dns: self.dns,
            dns_search: self.dns_search,
            dns_options: self.dns_option,
            add_hosts: self.add_host,
            publish: self.publish,
            publish_all: self.publish_all,
            expose: self.expose,
            bandwidth_egress: self.bandwidth.egress,
            bandwidth_ingress: self.bandwidth.ingress,
        }
    }
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
    #[arg(long, default_value = DEFAULT_DETACH_KEYS)]
    pub detach_keys: String,
    /// Proxy received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub sig_proxy: bool,
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
    /// Restore from this checkpoint
    #[arg(long)]
    pub checkpoint: Option<String>,
    /// Use a custom checkpoint storage directory
    #[arg(long)]
    pub checkpoint_dir: Option<std::path::PathBuf>,
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
    /// Remove anonymous volumes associated with the container
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
pub struct UpdateArgs {
    #[command(flatten)]
    pub resources: ResourceArgs,
    #[command(flatten)]
    pub bandwidth: BandwidthArgs,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    pub container: String,
    /// Options for ps (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_options: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output using a Go template subset: {{.ID}}, {{.CPUPerc}}, {{json .}}, table
    #[arg(long)]
    pub format: Option<String>,
    pub containers: Vec<String>,
}
