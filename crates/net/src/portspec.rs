//! Docker's port syntax, pure: `-p/--publish`, `--expose` and what `-P`
//! publishes.
//!
//! `-p` is `[ip:][hostPort:]containerPort[/proto]` (go-connections'
//! `nat.ParsePortSpec`, as docker 24-27 parses it): the ip may be an IPv6
//! address in brackets, either port may be a range `a-b`. Equal ranges map
//! one to one; a host range with a *single* container port is the range the
//! host port is chosen from. Errors are Docker's words.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortSpecError {
    #[error("invalid IP address: {0}")]
    Ip(String),
    #[error("no port specified: {0}<empty>")]
    NoPort(String),
    #[error("invalid containerPort: {0}")]
    ContainerPort(String),
    #[error("invalid hostPort: {0}")]
    HostPort(String),
    #[error("invalid ranges specified for container and host Ports: {container} and {host}")]
    Ranges { container: String, host: String },
    #[error("invalid proto: {0}")]
    Proto(String),
    #[error("invalid port format for --expose: {0}")]
    ExposeFormat(String),
    #[error("invalid range format for --expose: {spec}, error: {reason}")]
    ExposeRange { spec: String, reason: String },
}

/// A port's protocol.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = PortSpecError;

    /// Any case, as Docker lowercases it; empty is tcp.
    fn from_str(s: &str) -> Result<Protocol, PortSpecError> {
        match s.to_ascii_lowercase().as_str() {
            "" | "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            "sctp" => Ok(Protocol::Sctp),
            _ => Err(PortSpecError::Proto(s.to_owned())),
        }
    }
}

/// One published container port (after range expansion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortMapping {
    /// The host address it listens on; `None` is every address.
    #[serde(default)]
    pub host_ip: Option<IpAddr>,
    /// The host port; 0 = a free one chosen at start.
    pub host_port: u16,
    /// The end of the range the host port is chosen from (`-p
    /// 8000-8010:80`); equal to `host_port` for a fixed port, 0 with it
    /// for a random one.
    #[serde(default)]
    pub host_port_end: u16,
    pub container_port: u16,
    #[serde(default)]
    pub protocol: Protocol,
}

impl PortMapping {
    /// The port is chosen at start (`-p 80`, `-P`, `-p 8000-8010:80`).
    pub fn is_dynamic(&self) -> bool {
        self.host_port != self.host_port_end || self.host_port == 0
    }

    /// Docker's `HostConfig.PortBindings` key: `80/tcp`.
    pub fn container_key(&self) -> String {
        format!("{}/{}", self.container_port, self.protocol)
    }

    /// Docker's `HostPort` as given: `""`, `8080` or `8000-8010`.
    pub fn host_port_text(&self) -> String {
        match (self.host_port, self.host_port_end) {
            (0, _) => String::new(),
            (a, b) if a == b => a.to_string(),
            (a, b) => format!("{a}-{b}"),
        }
    }
}

/// A container port (`--expose`, the image's `ExposedPorts`, `-p`'s
/// container side), `80/tcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ExposedPort {
    pub port: u16,
    #[serde(default)]
    pub protocol: Protocol,
}

impl fmt::Display for ExposedPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.port, self.protocol)
    }
}

impl FromStr for ExposedPort {
    type Err = PortSpecError;

    /// An image's `ExposedPorts` key: `80`, `80/tcp`, `53/udp`.
    fn from_str(s: &str) -> Result<ExposedPort, PortSpecError> {
        let (proto, port) = split_proto_port(s);
        Ok(ExposedPort {
            port: port
                .parse()
                .map_err(|_| PortSpecError::ContainerPort(port.to_owned()))?,
            protocol: proto.parse()?,
        })
    }
}

/// `nat.SplitProtoPort`: `80/udp` -> ("udp", "80"); no proto is tcp.
fn split_proto_port(raw: &str) -> (&str, &str) {
    match raw.split_once('/') {
        None => ("tcp", raw),
        Some((port, "")) => ("tcp", port),
        Some((port, proto)) => (proto, port),
    }
}

/// `ip`, `hostPort`, `containerPort` as `nat.splitParts` cuts them: the
/// last two `:` separate the ports, the rest (an IPv6 address) is the ip.
fn split_parts(raw: &str) -> (&str, &str, &str) {
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    match n {
        1 => ("", "", parts[0]),
        2 => ("", parts[0], parts[1]),
        _ => {
            let host_len = parts[n - 2].len() + parts[n - 1].len() + 2;
            (&raw[..raw.len() - host_len], parts[n - 2], parts[n - 1])
        }
    }
}

/// Go's `strconv.ParseUint(s, 10, 16)` error text, which Docker passes on.
fn parse_port(s: &str) -> Result<u16, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.ParseUint: parsing {s:?}: invalid syntax"));
    }
    s.parse::<u16>()
        .map_err(|_| format!("strconv.ParseUint: parsing {s:?}: value out of range"))
}

/// `nat.ParsePortRange`: `80` or `80-90`, in Docker's error words.
pub fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    if s.is_empty() {
        return Err("empty string specified for ports".to_owned());
    }
    let Some((a, b)) = s.split_once('-') else {
        let p = parse_port(s)?;
        return Ok((p, p));
    };
    let (start, end) = (parse_port(a)?, parse_port(b)?);
    if end < start {
        return Err(format!("invalid range specified for port: {s}"));
    }
    Ok((start, end))
}

/// One `-p` value: one mapping per container port.
pub fn parse_publish(raw: &str) -> Result<Vec<PortMapping>, PortSpecError> {
    let (ip, host, container) = split_parts(raw);
    let (proto, container) = split_proto_port(container);
    let mut ip = ip;
    if let Some(inner) = ip.strip_prefix('[') {
        ip = inner
            .strip_suffix(']')
            .ok_or_else(|| PortSpecError::Ip(ip.to_owned()))?;
    }
    let host_ip = match ip {
        "" => None,
        ip => Some(
            ip.parse::<IpAddr>()
                .map_err(|_| PortSpecError::Ip(ip.to_owned()))?,
        ),
    };
    if container.is_empty() {
        return Err(PortSpecError::NoPort(raw.to_owned()));
    }
    let (start, end) = parse_port_range(container)
        .map_err(|_| PortSpecError::ContainerPort(container.to_owned()))?;
    let (mut host_start, mut host_end) = (0, 0);
    if !host.is_empty() {
        (host_start, host_end) =
            parse_port_range(host).map_err(|_| PortSpecError::HostPort(host.to_owned()))?;
        if end - start != host_end - host_start && end != start {
            return Err(PortSpecError::Ranges {
                container: container.to_owned(),
                host: host.to_owned(),
            });
        }
    }
    let protocol: Protocol = proto.parse()?;
    let single = start == end;
    Ok((start..=end)
        .enumerate()
        .map(|(i, container_port)| {
            let i = i as u16;
            let (host_port, host_port_end) = match (host_start, single) {
                (0, _) if host.is_empty() => (0, 0),
                (_, true) => (host_start, host_end),
                _ => (host_start + i, host_start + i),
            };
            PortMapping {
                host_ip,
                host_port,
                host_port_end,
                container_port,
                protocol,
            }
        })
        .collect())
}

/// One `--expose` value: `80`, `80-90`, `80/udp`.
pub fn parse_expose(raw: &str) -> Result<Vec<ExposedPort>, PortSpecError> {
    if raw.contains(':') {
        return Err(PortSpecError::ExposeFormat(raw.to_owned()));
    }
    let (proto, port) = split_proto_port(raw);
    let (start, end) = parse_port_range(port).map_err(|reason| PortSpecError::ExposeRange {
        spec: raw.to_owned(),
        reason,
    })?;
    let protocol: Protocol = proto.parse()?;
    Ok((start..=end)
        .map(|port| ExposedPort { port, protocol })
        .collect())
}

/// What `-P` publishes: every exposed port not already published, each
/// on a free host port on every address.
pub fn publish_all(exposed: &[ExposedPort], published: &[PortMapping]) -> Vec<PortMapping> {
    let mut out = Vec::new();
    for e in exposed {
        let done = published
            .iter()
            .chain(&out)
            .any(|m| m.container_port == e.port && m.protocol == e.protocol);
        if !done {
            out.push(PortMapping {
                host_ip: None,
                host_port: 0,
                host_port_end: 0,
                container_port: e.port,
                protocol: e.protocol,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(ip: Option<&str>, host: (u16, u16), container: u16, p: Protocol) -> PortMapping {
        PortMapping {
            host_ip: ip.map(|i| i.parse().unwrap()),
            host_port: host.0,
            host_port_end: host.1,
            container_port: container,
            protocol: p,
        }
    }

    #[test]
    fn publish_forms() {
        use Protocol::*;
        assert_eq!(parse_publish("80").unwrap(), [m(None, (0, 0), 80, Tcp)]);
        assert_eq!(
            parse_publish("8080:80").unwrap(),
            [m(None, (8080, 8080), 80, Tcp)]
        );
        assert_eq!(
            parse_publish("127.0.0.1:8080:80/udp").unwrap(),
            [m(Some("127.0.0.1"), (8080, 8080), 80, Udp)]
        );
        assert_eq!(
            parse_publish("127.0.0.1::80").unwrap(),
            [m(Some("127.0.0.1"), (0, 0), 80, Tcp)]
        );
        assert_eq!(
            parse_publish("[::1]:8080:80/SCTP").unwrap(),
            [m(Some("::1"), (8080, 8080), 80, Sctp)]
        );
        assert_eq!(
            parse_publish("::1:8080:80").unwrap(),
            [m(Some("::1"), (8080, 8080), 80, Tcp)]
        );
        assert_eq!(
            parse_publish("8000-8002:80-82").unwrap(),
            [
                m(None, (8000, 8000), 80, Tcp),
                m(None, (8001, 8001), 81, Tcp),
                m(None, (8002, 8002), 82, Tcp)
            ]
        );
        let r = parse_publish("8000-8010:80").unwrap();
        assert_eq!(r, [m(None, (8000, 8010), 80, Tcp)]);
        assert!(r[0].is_dynamic());
        assert_eq!(r[0].host_port_text(), "8000-8010");
        assert_eq!(
            parse_publish("80-81/udp").unwrap(),
            [m(None, (0, 0), 80, Udp), m(None, (0, 0), 81, Udp)]
        );
        assert_eq!(parse_publish("80/").unwrap(), [m(None, (0, 0), 80, Tcp)]);
    }

    #[test]
    fn publish_errors_in_dockers_words() {
        for (raw, want) in [
            ("99999:80", "invalid hostPort: 99999"),
            ("x:80", "invalid hostPort: x"),
            ("8080:99999", "invalid containerPort: 99999"),
            ("8080:", "no port specified: 8080:<empty>"),
            ("90-80", "invalid containerPort: 90-80"),
            ("1.2.3:8080:80", "invalid IP address: 1.2.3"),
            ("[::1:8080:80", "invalid IP address: [::1"),
            (
                "8000-8001:80-82",
                "invalid ranges specified for container and host Ports: 80-82 and 8000-8001",
            ),
            ("80/quic", "invalid proto: quic"),
        ] {
            assert_eq!(parse_publish(raw).unwrap_err().to_string(), want, "{raw}");
        }
    }

    #[test]
    fn expose() {
        assert_eq!(
            parse_expose("80-81/udp").unwrap(),
            [
                ExposedPort {
                    port: 80,
                    protocol: Protocol::Udp
                },
                ExposedPort {
                    port: 81,
                    protocol: Protocol::Udp
                }
            ]
        );
        assert_eq!(
            parse_expose("8080:80").unwrap_err().to_string(),
            "invalid port format for --expose: 8080:80"
        );
        assert_eq!(
            parse_expose("99999").unwrap_err().to_string(),
            "invalid range format for --expose: 99999, error: strconv.ParseUint: parsing \"99999\": value out of range"
        );
        assert_eq!(
            parse_expose("90-80").unwrap_err().to_string(),
            "invalid range format for --expose: 90-80, error: invalid range specified for port: 90-80"
        );
        assert_eq!(
            "53/udp".parse::<ExposedPort>().unwrap().to_string(),
            "53/udp"
        );
        assert_eq!("80".parse::<ExposedPort>().unwrap().to_string(), "80/tcp");
    }

    #[test]
    fn publish_all_skips_published() {
        let exposed: Vec<ExposedPort> = ["80/tcp", "53/udp", "443"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let published = parse_publish("8080:80").unwrap();
        let all = publish_all(&exposed, &published);
        assert_eq!(
            all,
            [
                m(None, (0, 0), 53, Protocol::Udp),
                m(None, (0, 0), 443, Protocol::Tcp)
            ]
        );
    }
}
