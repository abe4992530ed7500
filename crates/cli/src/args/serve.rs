//! `berth serve`: the Docker Engine API (docs/api.md).

use clap::Args;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen: unix:///PATH (default unix:///run/berth/berth.sock) or tcp://127.0.0.1:PORT (loopback only: TLS is not supported yet)
    #[arg(short = 'H', long = "host")]
    pub hosts: Vec<String>,
    /// Group that may use the socket (read and write); without it only root can
    #[arg(short = 'G', long)]
    pub group: Option<String>,
}
