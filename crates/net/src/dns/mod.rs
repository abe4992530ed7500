//! The resolver a container on a user network asks at 127.0.0.11:53:
//! Docker's embedded DNS model, served by the container's own monitor
//! process (no daemon).
//!
//! - The UDP and TCP sockets are bound inside the container's network
//!   namespace, from a short-lived thread that `setns`'d there; a bound
//!   socket stays in the namespace it was made in, so the serving threads
//!   themselves stay in the caller's (the host's) namespace.
//! - A/AAAA for the names of containers sharing a network, and PTR for their
//!   addresses, are answered from [`Names`] (TTL 600, as Docker).
//! - Everything else is forwarded, as the raw query bytes, to the host's
//!   resolvers from the caller's namespace (so the host's 127.0.0.53 works,
//!   as Docker's `HostLoopback`), over the protocol the client used. A
//!   truncated UDP answer goes back to the client as it is (TC set), and the
//!   client's retry over TCP is forwarded over TCP: what Docker does.
//! - No upstreams, `forward: false` (`--internal`) or every upstream failing
//!   or timing out (4 s in all): SERVFAIL, as Docker.
//!
//! Threads: one UDP loop and one TCP accept loop for the container's whole
//! life. The UDP loop also drives the UDP forwards in flight with `poll`
//! (at most [`MAX_FORWARDS`] at once, REFUSED past that, as Docker past its
//! limit), so a slow upstream never holds up other queries; each TCP
//! connection gets a short-lived thread (at most [`MAX_TCP_CONNECTIONS`]).
//! Names are looked up on those threads: [`Names`] should answer quickly.

mod forward;
mod message;
mod server;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::BorrowedFd;
use std::sync::Arc;

pub use server::Resolver;

/// The address Docker's embedded resolver listens on in each container.
pub const LISTEN: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11));

/// The TTL of every answer the resolver makes itself (Docker's `respTTL`).
pub const TTL: u32 = 600;

/// At most this many upstream servers are asked (Docker's `maxExtDNS`,
/// glibc's `MAXNS`).
pub const MAX_UPSTREAMS: usize = 3;

/// How long a forwarded query may take in all, across every upstream.
pub const FORWARD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(4);

/// Forwarded UDP queries in flight at once (one socket each); past it the
/// client gets REFUSED (Docker's answer when its 1024-query semaphore is
/// full).
pub const MAX_FORWARDS: usize = 64;

/// TCP connections served at once; past it a new connection is closed.
pub const MAX_TCP_CONNECTIONS: usize = 16;

/// The names a container may resolve: the engine's view of the networks it
/// is on. The resolver calls these on its serving threads, so they should be
/// quick (a read of the database, or a table in memory).
///
/// Names are passed lower-cased, without the trailing dot.
pub trait Names: Send + Sync {
    /// Addresses (both families) of `name` on any network the container is
    /// on: a container's name, its `--network-alias`es, its 12-character
    /// short id and its `--hostname`, as Docker's
    /// `buildEndpointDNSNames`. Empty when the name is unknown. A name
    /// known with addresses of the other family only is answered NOERROR
    /// with no records (not NXDOMAIN), as Docker.
    fn lookup(&self, name: &str) -> Vec<IpAddr>;

    /// Addresses of `name` on the one network called `network` (if the
    /// container is on it). Docker's rule for dotted names: `a.b.c` is
    /// first looked up as a whole ([`Names::lookup`]), then as `a.b` on
    /// network `c`, then as `a` on network `b.c`; the first that is known
    /// wins. Only then is it forwarded upstream.
    fn lookup_in(&self, name: &str, network: &str) -> Vec<IpAddr>;

    /// The name for a PTR query of `ip`, if it is the address of a container
    /// on one of the container's networks. Docker answers
    /// `<first DNS name>.<network name>` (e.g. `web.mynet`); the trailing dot
    /// is added here.
    fn reverse(&self, ip: IpAddr) -> Option<String>;
}

/// What a [`Resolver`] serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The address to listen on, in the container's namespace:
    /// [`LISTEN`] (127.0.0.11).
    pub listen: IpAddr,
    /// 53; 0 binds UDP and TCP each to a free port (see
    /// [`Resolver::udp_addr`], [`Resolver::tcp_addr`]).
    pub port: u16,
    /// The servers to forward to, from the caller's namespace, in order:
    /// [`upstreams`] of the host's `resolv.conf`. At most
    /// [`MAX_UPSTREAMS`] are used.
    pub upstreams: Vec<SocketAddr>,
    /// False on `--internal` networks: nothing is forwarded (SERVFAIL).
    pub forward: bool,
}

/// Why a [`Resolver`] could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("entering the container's network namespace for its DNS resolver: {0}")]
    Setns(#[source] nix::Error),
    #[error("binding the DNS resolver to {proto} {addr}: {source}")]
    Bind {
        proto: &'static str,
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("starting the DNS resolver's threads: {0}")]
    Thread(#[source] io::Error),
    #[error("creating the DNS resolver's wake-up pipe: {0}")]
    Pipe(#[source] nix::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Resolver {
    /// Binds UDP and TCP `config.listen:config.port` inside `netns` (None:
    /// the caller's own namespace) and starts serving. Forwarding sockets are
    /// made in the caller's namespace.
    pub fn start(
        netns: Option<BorrowedFd<'_>>,
        config: Config,
        names: Arc<dyn Names>,
    ) -> Result<Resolver> {
        server::start(netns, config, names)
    }
}

/// The host's name servers from the text of a `resolv.conf`: the
/// `nameserver` lines in order, at most [`MAX_UPSTREAMS`], port 53.
/// Unparsable addresses are skipped; an IPv6 zone (`fe80::1%eth0` or
/// `%2`) becomes the scope id (a name is looked up in
/// `/sys/class/net/NAME/ifindex`; an unknown one drops the server).
///
/// Which file to read is the caller's: Docker reads `/etc/resolv.conf`
/// unless its only server is 127.0.0.53, and then
/// `/run/systemd/resolve/resolv.conf`.
pub fn upstreams(resolv_conf_text: &str) -> Vec<SocketAddr> {
    resolv_conf_text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            if fields.next()? != "nameserver" {
                return None;
            }
            parse_server(fields.next()?)
        })
        .take(MAX_UPSTREAMS)
        .collect()
}

fn parse_server(text: &str) -> Option<SocketAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 53));
    }
    let (addr, zone) = text.split_once('%')?;
    let ip: Ipv6Addr = addr.parse().ok()?;
    let scope = match zone.parse::<u32>() {
        Ok(index) => index,
        Err(_) => {
            if zone.is_empty() || zone.contains('/') || zone.starts_with('.') {
                return None;
            }
            std::fs::read_to_string(format!("/sys/class/net/{zone}/ifindex"))
                .ok()?
                .trim()
                .parse()
                .ok()?
        }
    };
    Some(SocketAddr::V6(SocketAddrV6::new(ip, 53, 0, scope)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_takes_nameserver_lines_in_order_at_most_three() {
        let text = "# comment\nsearch example.com\nnameserver 10.0.0.1\n\
                    options ndots:2\nnameserver   2001:db8::1  \nnameserver bogus\n\
                    ; nameserver 9.9.9.9\n  nameserver 127.0.0.53\nnameserver 8.8.8.8\n";
        assert_eq!(
            upstreams(text),
            vec![
                "10.0.0.1:53".parse().unwrap(),
                "[2001:db8::1]:53".parse().unwrap(),
                "127.0.0.53:53".parse().unwrap(),
            ]
        );
    }

    #[test]
    fn upstreams_reads_ipv6_zones() {
        let got = upstreams(
            "nameserver fe80::1%7\nnameserver fe80::2%lo\nnameserver fe80::3%no-such-if0\n",
        );
        let lo: u32 = std::fs::read_to_string("/sys/class/net/lo/ifindex")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(
            got,
            vec![
                SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 53, 0, 7)),
                SocketAddr::V6(SocketAddrV6::new("fe80::2".parse().unwrap(), 53, 0, lo)),
            ]
        );
    }

    #[test]
    fn upstreams_of_empty_or_garbage_is_empty() {
        assert!(upstreams("").is_empty());
        assert!(upstreams("nameserver\nnameservers 1.1.1.1\n\u{0}\u{ffff}").is_empty());
        assert!(upstreams("nameserver fe80::1%../../etc\n").is_empty());
    }
}
