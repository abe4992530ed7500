//! `berth network ...` (Docker's `docker network`).

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a network
    Create(NetworkCreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(NetworkLsArgs),
    /// Display detailed information on one or more networks
    Inspect(NetworkInspectArgs),
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm(NetworkRmArgs),
    /// Remove all unused networks
    Prune(NetworkPruneArgs),
    /// Connect a container to a network
    Connect(NetworkConnectArgs),
    /// Disconnect a container from a network
    Disconnect(NetworkDisconnectArgs),
}

#[derive(Debug, Args)]
pub struct NetworkCreateArgs {
    pub name: String,
    /// Driver to manage the Network (bridge, macvlan, ipvlan)
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format that represents a network segment (repeatable, IPv4 and IPv6)
    #[arg(long)]
    pub subnet: Vec<String>,
    /// IPv4 or IPv6 Gateway for the master subnet
    #[arg(long)]
    pub gateway: Vec<String>,
    /// Allocate container ip from a sub-range
    #[arg(long)]
    pub ip_range: Vec<String>,
    /// Restrict external access to the network
    #[arg(long)]
    pub internal: bool,
    /// Enable or disable IPv6 networking
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub ipv6: Option<bool>,
    /// Set driver specific options (k=v)
    #[arg(short, long = "opt")]
    pub opt: Vec<String>,
    /// Set metadata on a network (k=v)
    #[arg(long)]
    pub label: Vec<String>,
    /// Enable manual container attachment (accepted: every local network is)
    #[arg(long)]
    pub attachable: bool,
    /// IP Address Management Driver (only "default")
    #[arg(long, default_value = "default")]
    pub ipam_driver: String,
    /// Control the network's scope (only "local")
    #[arg(long)]
    pub scope: Option<String>,
}

#[derive(Debug, Args)]
pub struct NetworkLsArgs {
    /// Only display network IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate the output
    #[arg(long)]
    pub no_trunc: bool,
    /// Provide filter values (driver=, id=, label=, name=, scope=, type=custom|builtin)
    #[arg(short, long = "filter")]
    pub filters: Vec<String>,
    /// Format output using a Go template subset: {{.Field}}, {{json .}}, table
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct NetworkInspectArgs {
    #[arg(required = true)]
    pub networks: Vec<String>,
    /// Format output using a Go template subset
    #[arg(short, long)]
    pub format: Option<String>,
    /// Verbose output for diagnostics (accepted; nothing more to show locally)
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct NetworkRmArgs {
    #[arg(required = true)]
    pub networks: Vec<String>,
    /// Do not error if the network does not exist
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct NetworkPruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (until=TIME, label=K[=V], label!=K[=V])
    #[arg(long = "filter")]
    pub filters: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetworkConnectArgs {
    pub network: String,
    pub container: String,
    /// IPv4 address (e.g., "172.30.100.104")
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address (e.g., "2001:db8::33")
    #[arg(long)]
    pub ip6: Option<String>,
    /// Add network-scoped alias for the container
    #[arg(long)]
    pub alias: Vec<String>,
    /// MAC address of the container on this network
    #[arg(long)]
    pub mac_address: Option<String>,
}

#[derive(Debug, Args)]
pub struct NetworkDisconnectArgs {
    pub network: String,
    pub container: String,
    /// Force the container to disconnect from a network
    #[arg(short, long)]
    pub force: bool,
}
