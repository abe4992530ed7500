//! Where `berth serve` listens, and how safely: a unix socket (default
//! `/run/berth/berth.sock`, mode 0660, owned by root and `--group`), or
//! TCP on a loopback address (anything else without TLS is refused at
//! startup, as an open Docker port is a root shell for anyone).

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::Error;

/// The default socket.
pub const DEFAULT_SOCKET: &str = "/run/berth/berth.sock";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

/// What `berth serve` was asked for.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub root: PathBuf,
    /// The OCI runtime new containers get (`--runtime`).
    pub runtime: PathBuf,
    pub listen: Vec<Listen>,
    /// `--group`: the socket's group (read and write for it).
    pub group: Option<String>,
}

impl Listen {
    /// `-H unix:///path`, `-H tcp://127.0.0.1:2375` (Docker's syntax).
    pub fn parse(h: &str) -> Result<Listen, Error> {
        if let Some(path) = h.strip_prefix("unix://") {
            if path.is_empty() {
                return Ok(Listen::Unix(DEFAULT_SOCKET.into()));
            }
            if !path.starts_with('/') {
                return Err(Error::Listen(format!(
                    "invalid -H {h:?}: the socket path must be absolute"
                )));
            }
            return Ok(Listen::Unix(path.into()));
        }
        if let Some(addr) = h.strip_prefix("tcp://") {
            let addr: SocketAddr = addr
                .trim_end_matches('/')
                .parse()
                .map_err(|_| Error::Listen(format!("invalid -H {h:?}: want tcp://IP:PORT")))?;
            if !addr.ip().is_loopback() {
                return Err(Error::Listen(format!(
                    "refusing to listen on {addr} without TLS: anyone who reaches it gets root on this host (TLS is not supported yet; use a loopback address or a unix socket)"
                )));
            }
            return Ok(Listen::Tcp(addr));
        }
        Err(Error::Listen(format!(
            "invalid -H {h:?}: want unix:///PATH or tcp://127.0.0.1:PORT"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_hosts() {
        assert_eq!(
            Listen::parse("unix:///tmp/x.sock").unwrap(),
            Listen::Unix("/tmp/x.sock".into())
        );
        assert_eq!(
            Listen::parse("unix://").unwrap(),
            Listen::Unix(DEFAULT_SOCKET.into())
        );
        assert_eq!(
            Listen::parse("tcp://127.0.0.1:2375").unwrap(),
            Listen::Tcp("127.0.0.1:2375".parse().unwrap())
        );
        let open = Listen::parse("tcp://0.0.0.0:2375").unwrap_err().to_string();
        assert!(
            open.starts_with("refusing to listen on 0.0.0.0:2375 without TLS"),
            "{open}"
        );
        assert!(Listen::parse("unix://rel.sock").is_err());
        assert!(Listen::parse("http://x").is_err());
    }
}
