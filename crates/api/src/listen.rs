//! Where `berth serve` listens, and how safely: a unix socket (default
//! `/run/berth/berth.sock`, mode 0600, or 0660 with `--group`), sockets
//! passed by systemd (`fd://`), or TCP. TCP off loopback is refused at
//! startup unless clients must present a certificate (`--tlsverify`): an
//! open Docker port is a root shell for anyone who reaches it.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::Error;

/// The default socket.
pub const DEFAULT_SOCKET: &str = "/run/berth/berth.sock";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Unix(PathBuf),
    Tcp(SocketAddr),
    /// `fd://` (every socket systemd passed) or `fd://N` (that one).
    Fd(Option<i32>),
}

/// `--tlscert`/`--tlskey` (the server's identity) and `--tlscacert` with
/// `--tlsverify` (clients must present a certificate it signed).
#[derive(Debug, Clone)]
pub struct TlsOptions {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Client certificates are required and checked against this CA.
    pub client_ca: Option<PathBuf>,
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
    /// TLS for the TCP listeners.
    pub tls: Option<TlsOptions>,
    /// `--experimental`: serve Docker's experimental endpoints (the
    /// checkpoints) and say so, as `dockerd --experimental` does.
    pub experimental: bool,
}

impl ServeOptions {
    /// Refuses what is not safe before anything listens: a TCP address
    /// off loopback unless clients are verified by certificate (the same
    /// check applies to TCP sockets systemd passes, at bind time).
    pub fn check(&self) -> Result<(), Error> {
        for l in &self.listen {
            if let Listen::Tcp(addr) = l {
                check_tcp(addr, self.tls.as_ref())?;
            }
        }
        Ok(())
    }
}

/// TCP off loopback needs client certificates.
pub fn check_tcp(addr: &SocketAddr, tls: Option<&TlsOptions>) -> Result<(), Error> {
    if addr.ip().is_loopback() || tls.is_some_and(|t| t.client_ca.is_some()) {
        return Ok(());
    }
    let how = if tls.is_some() {
        "with TLS but without --tlsverify"
    } else {
        "without TLS"
    };
    Err(Error::Listen(format!(
        "refusing to listen on {addr} {how}: anyone who reaches it gets root on this host (use --tlsverify with --tlscacert, a loopback address or a unix socket)"
    )))
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
            return Ok(Listen::Tcp(addr));
        }
        if let Some(n) = h.strip_prefix("fd://") {
            if n.is_empty() {
                return Ok(Listen::Fd(None));
            }
            return match n.parse::<i32>() {
                Ok(fd) if fd >= 3 => Ok(Listen::Fd(Some(fd))),
                _ => Err(Error::Listen(format!(
                    "invalid -H {h:?}: want fd:// or fd://N (N >= 3, a socket systemd passed)"
                ))),
            };
        }
        Err(Error::Listen(format!(
            "invalid -H {h:?}: want unix:///PATH, tcp://IP:PORT or fd://"
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
        assert_eq!(Listen::parse("fd://").unwrap(), Listen::Fd(None));
        assert_eq!(Listen::parse("fd://3").unwrap(), Listen::Fd(Some(3)));
        assert!(Listen::parse("fd://1").is_err());
        let open = |tls: Option<TlsOptions>| ServeOptions {
            root: "/r".into(),
            runtime: "/rt".into(),
            listen: vec![Listen::parse("tcp://0.0.0.0:2375").unwrap()],
            group: None,
            tls,
            experimental: false,
        };
        let err = open(None).check().unwrap_err().to_string();
        assert!(
            err.starts_with("refusing to listen on 0.0.0.0:2375 without TLS"),
            "{err}"
        );
        let server_only = TlsOptions {
            cert: "c".into(),
            key: "k".into(),
            client_ca: None,
        };
        let err = open(Some(server_only.clone()))
            .check()
            .unwrap_err()
            .to_string();
        assert!(err.contains("without --tlsverify"), "{err}");
        let verified = TlsOptions {
            client_ca: Some("ca".into()),
            ..server_only
        };
        assert!(open(Some(verified)).check().is_ok());
        assert!(Listen::parse("unix://rel.sock").is_err());
        assert!(Listen::parse("http://x").is_err());
    }
}
