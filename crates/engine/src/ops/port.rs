//! `port`: a container's published ports as Docker prints them, from the
//! rows its start recorded (a stopped container publishes nothing).

use std::net::IpAddr;

use crate::error::{Error, Result};
use crate::model::network::PublishedPort;
use crate::Engine;

impl Engine {
    /// The host addresses published for the container's ports: every one
    /// as `80/tcp -> 0.0.0.0:8080`, or for `PORT[/PROTO]` (`tcp` by
    /// default) just `0.0.0.0:8080`.
    pub fn ports(&self, key: &str, port: Option<&str>) -> Result<Vec<String>> {
        let c = self.find(key)?;
        let published = self.db.published_ports(&c.id)?;
        let Some(p) = port else {
            return Ok(published
                .iter()
                .flat_map(|p| {
                    host_addresses(p).into_iter().map(move |a| {
                        format!("{}/{} -> {a}", p.container_port, p.protocol.as_str())
                    })
                })
                .collect());
        };
        let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
        let Ok(num) = num.parse::<u16>() else {
            return Err(Error::BadRequest(format!("Invalid port: {p}")));
        };
        if !matches!(proto, "tcp" | "udp" | "sctp") {
            return Err(Error::BadRequest(format!("Invalid port: {p}")));
        }
        let found: Vec<String> = published
            .iter()
            .filter(|p| p.container_port == num && p.protocol.as_str() == proto)
            .flat_map(host_addresses)
            .collect();
        if found.is_empty() {
            return Err(Error::BadRequest(format!(
                "No public port '{num}/{proto}' published for {key}"
            )));
        }
        Ok(found)
    }

    /// `ps`'s PORTS column, as Docker's: `127.0.0.1:8080->80/tcp`, and
    /// exposed ports nothing publishes as `80/tcp`, comma-separated.
    pub fn ports_column(&self, c: &crate::model::Container) -> String {
        let published = self.db.published_ports(&c.id).unwrap_or_default();
        let mut out: Vec<String> = published
            .iter()
            .flat_map(|p| {
                host_addresses(p)
                    .into_iter()
                    .map(move |a| format!("{a}->{}/{}", p.container_port, p.protocol.as_str()))
            })
            .collect();
        if matches!(c.state, crate::model::State::Running) {
            for e in &c.config.expose {
                let bound = published
                    .iter()
                    .any(|p| p.container_port == e.port && p.protocol == e.protocol);
                if !bound {
                    out.push(e.to_string());
                }
            }
        }
        out.join(", ")
    }
}

/// Docker prints a port on every address once per family it listens on:
/// `0.0.0.0:8080` and `[::]:8080`; here one line, the family of the
/// address given (IPv4 when none was).
pub(crate) fn host_addresses(p: &PublishedPort) -> Vec<String> {
    let ip = p
        .host_ip
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    vec![std::net::SocketAddr::new(ip, p.host_port).to_string()]
}
