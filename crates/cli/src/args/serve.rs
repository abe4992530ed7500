//! `berth serve`: the Docker Engine API (docs/api.md).

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen: unix:///PATH (default unix:///run/berth/berth.sock), tcp://IP:PORT (off loopback only with --tlsverify), fd:// or fd://N (sockets passed by systemd)
    #[arg(short = 'H', long = "host")]
    pub hosts: Vec<String>,
    /// Group that may use the socket (read and write); without it only root can
    #[arg(short = 'G', long)]
    pub group: Option<String>,
    /// Use TLS on tcp:// listeners (implied by --tlsverify)
    #[arg(long)]
    pub tls: bool,
    /// Require client certificates signed by --tlscacert on tcp:// listeners
    #[arg(long)]
    pub tlsverify: bool,
    /// The CA that signs client certificates (implies --tlsverify)
    #[arg(long, value_name = "FILE")]
    pub tlscacert: Option<PathBuf>,
    /// The server's certificate (PEM)
    #[arg(long, value_name = "FILE")]
    pub tlscert: Option<PathBuf>,
    /// The server's private key (PEM)
    #[arg(long, value_name = "FILE")]
    pub tlskey: Option<PathBuf>,
    /// Serve Docker's experimental endpoints (checkpoint create/ls/rm, start --checkpoint), as dockerd --experimental
    #[arg(long)]
    pub experimental: bool,
}
