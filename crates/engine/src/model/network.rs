//! A container's network flags (`--network`, `--ip`, `-p`, `--dns`, ...)
//! checked and resolved as Docker's CLI and daemon do, in their words;
//! and networks as data: a network (Docker's `network create` options)
//! and what the engine allocates for a container on it while it runs: an
//! endpoint (addresses, MAC, interface names) and its published ports.
//! The rules for addresses are `berth_net::ipam`'s.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use berth_net::ipam::SubnetConfig;
use berth_net::portspec::{self, ExposedPort, PortMapping};
use serde::{Deserialize, Serialize};

use super::security::bad_flag;
use crate::error::{Error, Result};

/// The network flags of `create`/`run`, as given (`--network` itself is
/// `CreateOptions::network`).
#[derive(Debug, Default, Clone)]
pub struct NetworkOptions {
    /// `--ip`.
    pub ip: Option<String>,
    /// `--ip6`.
    pub ip6: Option<String>,
    /// `--mac-address`.
    pub mac_address: Option<String>,
    /// `--network-alias`.
    pub aliases: Vec<String>,
    /// `--domainname`.
    pub domainname: Option<String>,
    /// `--dns`.
    pub dns: Vec<String>,
    /// `--dns-search`.
    pub dns_search: Vec<String>,
    /// `--dns-option`.
    pub dns_options: Vec<String>,
    /// `--add-host`.
    pub add_hosts: Vec<String>,
    /// `-p/--publish`.
    pub publish: Vec<String>,
    /// `-P/--publish-all`.
    pub publish_all: bool,
    /// `--expose`.
    pub expose: Vec<String>,
    /// `--network-bandwidth-egress` / `-ingress` (tc units).
    pub bandwidth_egress: Option<String>,
    pub bandwidth_ingress: Option<String>,
}

/// A network the container is attached to while it runs: the first from
/// `--network`/`--ip`/`--ip6`/`--network-alias`/`--mac-address`, more from
/// `network connect`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct NetworkRequest {
    /// `bridge` (the default network) or a user network's name.
    pub name: String,
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
    #[serde(default)]
    pub ip6: Option<Ipv6Addr>,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `aa:bb:cc:dd:ee:ff`, lower case.
    #[serde(default)]
    pub mac: Option<String>,
}

/// `--network-bandwidth-egress/-ingress`, in bits per second.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Bandwidth {
    #[serde(default)]
    pub egress: Option<u64>,
    #[serde(default)]
    pub ingress: Option<u64>,
}

impl Bandwidth {
    pub fn is_empty(&self) -> bool {
        self.egress.is_none() && self.ingress.is_none()
    }

    /// `update`: a given value replaces the recorded one.
    pub fn merge(&mut self, change: &Bandwidth) {
        if change.egress.is_some() {
            self.egress = change.egress;
        }
        if change.ingress.is_some() {
            self.ingress = change.ingress;
        }
    }

    /// Parses the two flags (`flag` names for errors).
    pub fn parse(egress: Option<&str>, ingress: Option<&str>) -> Result<Bandwidth> {
        let rate = |flag: &str, v: Option<&str>| {
            v.map(|v| berth_net::netlink::tc::parse_rate(v).map_err(|e| bad_flag(flag, v, e)))
                .transpose()
        };
        Ok(Bandwidth {
            egress: rate("network-bandwidth-egress", egress)?,
            ingress: rate("network-bandwidth-ingress", ingress)?,
        })
    }
}

/// What `--network` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkMode<'a> {
    None,
    Host,
    /// The default network, `bridge` (`default` too, as in Docker).
    Bridge,
    /// `container:<name|id>`: the other container's network namespace.
    Container(&'a str),
    /// A user-defined network, by name or id.
    User(&'a str),
}

impl<'a> NetworkMode<'a> {
    /// An empty mode (older records) is `none`.
    pub fn parse(s: &'a str) -> NetworkMode<'a> {
        match s {
            "" | "none" => NetworkMode::None,
            "host" => NetworkMode::Host,
            "bridge" | "default" => NetworkMode::Bridge,
            s => match s.strip_prefix("container:") {
                Some(c) => NetworkMode::Container(c),
                None => NetworkMode::User(s),
            },
        }
    }

    pub fn is_user_defined(&self) -> bool {
        matches!(self, NetworkMode::User(_))
    }

    /// The container has a network namespace of its own.
    pub fn private_netns(&self) -> bool {
        matches!(
            self,
            NetworkMode::None | NetworkMode::Bridge | NetworkMode::User(_)
        )
    }
}

/// The network part of a container's configuration, resolved.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolved {
    pub network_mode: String,
    pub networks: Vec<NetworkRequest>,
    pub domainname: String,
    pub dns: Vec<IpAddr>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    pub extra_hosts: Vec<String>,
    pub publish: Vec<PortMapping>,
    pub publish_all: bool,
    /// The image's exposed ports, `--expose` and `-p`'s container ports.
    pub expose: Vec<ExposedPort>,
    pub bandwidth: Bandwidth,
}

/// Docker's `opts.ValidateIPAddress` wording.
fn ip_flag(flag: &str, v: &str) -> Result<IpAddr> {
    v.trim().parse().map_err(|_| {
        bad_flag(
            flag,
            v,
            format_args!("IP address is not correctly formatted: {v}"),
        )
    })
}

/// Docker's `validateDomain`: letters, digits and inner hyphens in dot
/// separated labels, at least one letter, an optional final dot.
fn valid_domain(v: &str) -> bool {
    let d = v.strip_suffix('.').unwrap_or(v).trim_end();
    v.bytes().any(|b| b.is_ascii_alphabetic())
        && !d.is_empty()
        && d.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Go's `net.ParseMAC` for the 6-byte forms Docker takes:
/// `aa:bb:cc:dd:ee:ff` or with `-`; returned lower case with `:`.
fn parse_mac(v: &str) -> Option<String> {
    let sep = if v.contains('-') { '-' } else { ':' };
    let parts: Vec<&str> = v.split(sep).collect();
    (parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit())))
    .then(|| parts.join(":").to_ascii_lowercase())
}

/// Checks the network flags and resolves them with the image's exposed
/// ports (`image_exposed`, its `ExposedPorts` keys); `hostname_given` for
/// the `container:` conflict. A `container:` mode keeps the name as given
/// (the caller looks the container up).
pub fn resolve(
    network: Option<&str>,
    o: &NetworkOptions,
    hostname_given: bool,
    image_exposed: &[String],
) -> Result<Resolved> {
    let bad = |m: &str| Error::BadRequest(m.to_owned());
    // The CLI's flag checks first.
    let dns = o
        .dns
        .iter()
        .map(|v| ip_flag("dns", v))
        .collect::<Result<Vec<_>>>()?;
    for s in &o.dns_search {
        if s.trim() != "." && !valid_domain(s.trim_matches(' ')) {
            return Err(bad_flag(
                "dns-search",
                s,
                format_args!("{s} is not a valid domain"),
            ));
        }
    }
    for h in &o.add_hosts {
        berth_net::etc_files::parse_add_host(h).map_err(|e| bad_flag("add-host", h, e))?;
    }
    let bandwidth = Bandwidth::parse(
        o.bandwidth_egress.as_deref(),
        o.bandwidth_ingress.as_deref(),
    )?;
    // Then the CLI's parse(): mac, --expose, -p.
    let mac = match &o.mac_address {
        Some(m) => {
            Some(parse_mac(m).ok_or_else(|| bad(&format!("{m} is not a valid mac address")))?)
        }
        None => None,
    };
    let mut expose: Vec<ExposedPort> = Vec::new();
    for e in image_exposed {
        if let Ok(p) = e.parse() {
            expose.push(p);
        }
    }
    for e in &o.expose {
        expose.extend(portspec::parse_expose(e).map_err(|e| bad(&e.to_string()))?);
    }
    let mut publish = Vec::new();
    for p in &o.publish {
        publish.extend(portspec::parse_publish(p).map_err(|e| bad(&e.to_string()))?);
    }
    for p in &publish {
        expose.push(ExposedPort {
            port: p.container_port,
            protocol: p.protocol,
        });
    }
    expose.sort();
    expose.dedup();

    // The daemon's checks (runconfig's validateNetMode, then the
    // endpoint settings).
    // Docker's default: the `bridge` network.
    let given = network.unwrap_or("bridge");
    let mode = NetworkMode::parse(given);
    if given.starts_with("container:") && matches!(mode, NetworkMode::Container("")) {
        return Err(bad(
            "Invalid network mode: invalid container format container:<name|id>",
        ));
    }
    if let NetworkMode::Container(_) = mode {
        let conflict = if hostname_given {
            Some("conflicting options: hostname and the network mode")
        } else if !dns.is_empty() {
            Some("conflicting options: dns and the network mode")
        } else if !o.add_hosts.is_empty() {
            Some("conflicting options: custom host-to-IP mapping and the network mode")
        } else if mac.is_some() {
            Some("conflicting options: mac-address and the network mode")
        } else if !o.publish.is_empty() || o.publish_all {
            Some("conflicting options: port publishing and the container type network mode")
        } else if !o.expose.is_empty() {
            Some("conflicting options: port exposing and the container type network mode")
        } else {
            None
        };
        if let Some(m) = conflict {
            return Err(bad(m));
        }
    }
    if mode == NetworkMode::Host && mac.is_some() {
        return Err(bad("conflicting options: mac-address and the network mode"));
    }
    let ip = match &o.ip {
        Some(v) => Some(
            v.parse::<Ipv4Addr>()
                .ok()
                .filter(|a| !a.is_unspecified())
                .ok_or_else(|| bad(&format!("invalid IPv4 address: {v}")))?,
        ),
        None => None,
    };
    let ip6 = match &o.ip6 {
        Some(v) => Some(
            v.parse::<Ipv6Addr>()
                .ok()
                .filter(|a| !a.is_unspecified())
                .ok_or_else(|| bad(&format!("invalid IPv6 address: {v}")))?,
        ),
        None => None,
    };
    if !mode.is_user_defined() {
        if ip.is_some() || ip6.is_some() {
            return Err(bad(
                "user specified IP address is supported on user defined networks only",
            ));
        }
        if !o.aliases.is_empty() {
            return Err(bad(
                "network-scoped alias is supported only for containers in user defined networks",
            ));
        }
    }
    let networks = match mode {
        NetworkMode::Bridge | NetworkMode::User(_) => vec![NetworkRequest {
            name: if mode == NetworkMode::Bridge {
                "bridge".to_owned()
            } else {
                given.to_owned()
            },
            ip,
            ip6,
            aliases: o.aliases.clone(),
            mac,
        }],
        _ => Vec::new(),
    };
    // Docker keeps the `-p` of `--network host` out of the way (with a
    // warning the CLI prints); nothing publishes them.
    if mode == NetworkMode::Host {
        publish.clear();
    }
    Ok(Resolved {
        network_mode: match mode {
            NetworkMode::Bridge => "bridge".to_owned(),
            _ => given.to_owned(),
        },
        networks,
        domainname: o.domainname.clone().unwrap_or_default(),
        dns,
        dns_search: o.dns_search.clone(),
        dns_options: o.dns_options.clone(),
        extra_hosts: o.add_hosts.clone(),
        publish,
        publish_all: o.publish_all,
        expose,
        bandwidth,
    })
}

// Networks as data (store/networks.rs, ops/network.rs).

/// The default network's name and its Linux bridge.
pub const DEFAULT_BRIDGE: &str = "bridge";
pub const DEFAULT_BRIDGE_IFNAME: &str = "berth0";
/// The predefined networks `network ls` shows (Docker's three).
pub const PREDEFINED: [&str; 3] = ["bridge", "host", "none"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    Bridge,
    Macvlan,
    Ipvlan,
    /// The predefined `host` network.
    Host,
    /// The predefined `none` network (Docker's driver `null`).
    Null,
}

impl Driver {
    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Bridge => "bridge",
            Driver::Macvlan => "macvlan",
            Driver::Ipvlan => "ipvlan",
            Driver::Host => "host",
            Driver::Null => "null",
        }
    }

    /// `--driver` of `network create`: Docker's error for others
    /// (`host`/`null` exist once, predefined).
    pub fn parse_user(s: &str) -> Result<Driver> {
        match s {
            "bridge" => Ok(Driver::Bridge),
            "macvlan" => Ok(Driver::Macvlan),
            "ipvlan" => Ok(Driver::Ipvlan),
            "host" | "null" => Err(Error::BadRequest(format!(
                "only one instance of \"{s}\" network is allowed"
            ))),
            other => Err(Error::Missing(format!("plugin \"{other}\" not found"))),
        }
    }

    pub fn parse_stored(s: &str) -> Driver {
        match s {
            "macvlan" => Driver::Macvlan,
            "ipvlan" => Driver::Ipvlan,
            "host" => Driver::Host,
            "null" => Driver::Null,
            _ => Driver::Bridge,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// 64 hex digits.
    pub id: String,
    pub name: String,
    pub driver: Driver,
    /// The Linux bridge (`berth0` for `bridge`, `br-<12 hex>` for user
    /// bridge networks, `-o com.docker.network.bridge.name` when given);
    /// empty for macvlan/ipvlan/host/none.
    pub bridge: String,
    /// IPv4 first (when any), then IPv6.
    pub subnets: Vec<SubnetConfig>,
    pub internal: bool,
    pub ipv6: bool,
    /// `-o k=v` (`parent=`, `macvlan_mode=`, `ipvlan_mode=`,
    /// `com.docker.network.bridge.name`, `com.docker.network.driver.mtu`).
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// RFC 3339.
    pub created: String,
}

impl Network {
    pub fn short_id(&self) -> &str {
        &self.id[..12.min(self.id.len())]
    }

    /// The predefined `bridge`, `host` and `none` cannot be removed.
    pub fn is_predefined(&self) -> bool {
        PREDEFINED.contains(&self.name.as_str())
    }

    /// A network the user made: containers on it resolve each other's
    /// names (Docker's rule: not on the default `bridge`).
    pub fn is_user_defined(&self) -> bool {
        !self.is_predefined()
    }

    pub fn subnet_v4(&self) -> Option<&SubnetConfig> {
        self.subnets.iter().find(|s| s.subnet.addr().is_ipv4())
    }

    pub fn subnet_v6(&self) -> Option<&SubnetConfig> {
        self.subnets.iter().find(|s| s.subnet.addr().is_ipv6())
    }

    /// `-o com.docker.network.driver.mtu`, when set.
    pub fn mtu(&self) -> Option<u32> {
        self.options
            .get("com.docker.network.driver.mtu")
            .and_then(|v| v.parse().ok())
    }

    /// `-o parent=` for macvlan/ipvlan.
    pub fn parent(&self) -> Option<&str> {
        self.options.get("parent").map(String::as_str)
    }
}

/// One container on one network, while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub container_id: String,
    pub network_id: String,
    /// Inside the container: `eth0`, `eth1`, ...
    pub ifname: String,
    /// On the host: `vb` + 12 hex, unique.
    pub host_ifname: String,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    /// `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    pub aliases: Vec<String>,
}

/// A published port held by a running container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    pub container_id: String,
    /// The network whose address the port is forwarded to (the container's
    /// first network with an address); None when it has none.
    pub network_id: Option<String>,
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: portspec::Protocol,
}

/// What `allocate` gave a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allocation {
    pub endpoints: Vec<Endpoint>,
    /// With the host port chosen for a dynamic one (`-p 80`, `-P`, `-p
    /// 8000-8010:80`).
    pub ports: Vec<PublishedPort>,
}

/// A published port with the address it goes to: what the nft table's
/// DNAT rules are made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivePort {
    pub port: PublishedPort,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    /// The Linux bridge of the port's network (hairpin rules).
    pub bridge: String,
}

/// Everything the nft table is rendered from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Active {
    /// Every network (bridge or not), each with its endpoints.
    pub networks: Vec<(Network, Vec<Endpoint>)>,
    pub ports: Vec<ActivePort>,
}

impl Active {
    /// The nft table's input (`berth_net::nft::Ruleset`): every bridge
    /// network, and every published port of a
    /// container with an address on a bridge network, once per family the
    /// host address allows (none given: IPv4, and IPv6 when the container
    /// has one). Ports on macvlan/ipvlan networks are not forwarded (as
    /// Docker's drivers).
    pub fn ruleset(&self) -> berth_net::nft::Ruleset {
        use berth_net::nft::{NetworkRules, PortForward, Protocol as NftProtocol};
        let networks = self
            .networks
            .iter()
            // Every bridge network, in use or not: the table then changes
            // only with networks and ports, not with each container, and a
            // start or exit that changes neither skips the apply.
            .filter(|(n, _)| n.driver == Driver::Bridge && !n.bridge.is_empty())
            .map(|(n, _)| NetworkRules {
                bridge: n.bridge.clone(),
                subnets: n.subnets.iter().map(|s| s.subnet).collect(),
                internal: n.internal,
            })
            .collect();
        let mut ports = Vec::new();
        for p in &self.ports {
            if p.bridge.is_empty() {
                continue;
            }
            let protocol = match p.port.protocol {
                portspec::Protocol::Tcp => NftProtocol::Tcp,
                portspec::Protocol::Udp => NftProtocol::Udp,
                portspec::Protocol::Sctp => NftProtocol::Sctp,
            };
            let host = p.port.host_ip.filter(|ip| !ip.is_unspecified());
            let v4 = p
                .ipv4
                .map(IpAddr::V4)
                .filter(|_| host.is_none_or(|h| h.is_ipv4()));
            let v6 = p
                .ipv6
                .map(IpAddr::V6)
                .filter(|_| host.is_none_or(|h| h.is_ipv6()));
            for container_ip in v4.into_iter().chain(v6) {
                ports.push(PortForward {
                    host_ip: p.port.host_ip,
                    host_port: p.port.host_port,
                    protocol,
                    container_ip,
                    container_port: p.port.container_port,
                    bridge: p.bridge.clone(),
                });
            }
        }
        berth_net::nft::Ruleset { networks, ports }
    }
}

/// One name record for the DNS responder: the names of a container on a
/// network shared with the asker (name, aliases, 12-char short id,
/// hostname, deduplicated, Docker's order) and its addresses there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord {
    pub container_id: String,
    pub network_id: String,
    pub network_name: String,
    pub names: Vec<String>,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
}

/// `network create`'s options, as given.
#[derive(Debug, Clone, Default)]
pub struct NetworkCreate {
    pub name: String,
    /// Empty: bridge.
    pub driver: String,
    pub subnets: Vec<String>,
    pub gateways: Vec<String>,
    pub ip_ranges: Vec<String>,
    pub internal: bool,
    pub ipv6: bool,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// `--ipam-driver`: empty or `default` (berth's own IPAM).
    pub ipam_driver: String,
    /// `--scope`: empty or `local`.
    pub scope: String,
}

/// `network ls --filter` (and `GET /networks?filters=`): Docker's keys;
/// several values of one key are alternatives, different keys all have
/// to match.
#[derive(Debug, Clone, Default)]
pub struct NetworkFilters(BTreeMap<String, Vec<String>>);

impl NetworkFilters {
    /// `KEY=VALUE` pairs; an unknown key or `type` value is Docker's error.
    pub fn new(pairs: &[(String, String)]) -> Result<NetworkFilters> {
        let mut filters: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            if !["name", "id", "driver", "label", "scope", "type", "dangling"].contains(&k.as_str())
            {
                return Err(Error::BadRequest(format!("invalid filter '{k}'")));
            }
            if k == "type" && v != "custom" && v != "builtin" {
                return Err(Error::BadRequest(format!("invalid filter: 'type'='{v}'")));
            }
            if k == "dangling" && !["true", "false", "1", "0"].contains(&v.as_str()) {
                return Err(Error::BadRequest(format!("invalid filter 'dangling={v}'")));
            }
            filters.entry(k.clone()).or_default().push(v.clone());
        }
        Ok(NetworkFilters(filters))
    }

    /// `in_use`: whether containers are attached (for `dangling`).
    pub fn matches(&self, n: &Network, in_use: bool) -> bool {
        self.0.iter().all(|(key, values)| {
            values.iter().any(|v| match key.as_str() {
                "name" => n.name.contains(v.as_str()),
                "id" => n.id.starts_with(v.as_str()),
                "driver" => n.driver.as_str() == v,
                "scope" => v == "local",
                "type" => match v.as_str() {
                    "custom" => !n.is_predefined(),
                    "builtin" => n.is_predefined(),
                    _ => false,
                },
                "label" => match v.split_once('=') {
                    Some((k, val)) => n.labels.get(k).is_some_and(|x| x == val),
                    None => n.labels.contains_key(v.as_str()),
                },
                // Docker: dangling networks are custom ones without containers.
                "dangling" => {
                    let dangling = !n.is_predefined() && !in_use;
                    dangling == (v == "true" || v == "1")
                }
                _ => false,
            })
        })
    }

    /// Whether `matches` needs to know if a network is in use.
    pub fn needs_use(&self) -> bool {
        self.0.contains_key("dangling")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(f: impl FnOnce(&mut NetworkOptions)) -> NetworkOptions {
        let mut o = NetworkOptions::default();
        f(&mut o);
        o
    }

    fn err(network: &str, o: NetworkOptions, hostname: bool) -> String {
        resolve(Some(network), &o, hostname, &[])
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn dockers_words() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases: Vec<(&str, NetworkOptions, bool, &str)> = vec![
            ("bridge", opts(|o| o.dns = s(&["1.2.3"])), false,
             "invalid argument \"1.2.3\" for \"--dns\" flag: IP address is not correctly formatted: 1.2.3"),
            ("bridge", opts(|o| o.dns_search = s(&["-bad-"])), false,
             "invalid argument \"-bad-\" for \"--dns-search\" flag: -bad- is not a valid domain"),
            ("bridge", opts(|o| o.add_hosts = s(&["x"])), false,
             "invalid argument \"x\" for \"--add-host\" flag: bad format for add-host: \"x\""),
            ("bridge", opts(|o| o.mac_address = Some("zz".into())), false,
             "zz is not a valid mac address"),
            ("bridge", opts(|o| o.publish = s(&["99999:80"])), false, "invalid hostPort: 99999"),
            ("bridge", opts(|o| o.expose = s(&["1:2"])), false, "invalid port format for --expose: 1:2"),
            ("bridge", opts(|o| o.ip = Some("10.0.0.2".into())), false,
             "user specified IP address is supported on user defined networks only"),
            ("none", opts(|o| o.ip6 = Some("fd00::2".into())), false,
             "user specified IP address is supported on user defined networks only"),
            ("mynet", opts(|o| o.ip = Some("fd00::2".into())), false, "invalid IPv4 address: fd00::2"),
            ("host", opts(|o| o.aliases = s(&["a"])), false,
             "network-scoped alias is supported only for containers in user defined networks"),
            ("host", opts(|o| o.mac_address = Some("02:42:ac:11:00:02".into())), false,
             "conflicting options: mac-address and the network mode"),
            ("container:", opts(|_| {}), false,
             "Invalid network mode: invalid container format container:<name|id>"),
            ("container:x", opts(|_| {}), true, "conflicting options: hostname and the network mode"),
            ("container:x", opts(|o| o.dns = s(&["1.1.1.1"])), false,
             "conflicting options: dns and the network mode"),
            ("container:x", opts(|o| o.add_hosts = s(&["a:1.1.1.1"])), false,
             "conflicting options: custom host-to-IP mapping and the network mode"),
            ("container:x", opts(|o| o.publish_all = true), false,
             "conflicting options: port publishing and the container type network mode"),
            ("container:x", opts(|o| o.expose = s(&["80"])), false,
             "conflicting options: port exposing and the container type network mode"),
            ("bridge", opts(|o| o.bandwidth_egress = Some("fast".into())), false,
             "invalid argument \"fast\" for \"--network-bandwidth-egress\" flag: invalid rate \"fast\""),
        ];
        for (network, o, hostname, want) in cases {
            let got = err(network, o, hostname);
            assert!(got.starts_with(want), "{network}: {got}");
        }
    }

    #[test]
    fn resolves() {
        let o = NetworkOptions {
            ip: Some("10.1.0.9".into()),
            aliases: vec!["db".into()],
            mac_address: Some("02-42-AC-11-00-02".into()),
            publish: vec!["8080:80".into(), "53/udp".into()],
            expose: vec!["9000-9001".into()],
            dns: vec!["1.1.1.1".into()],
            bandwidth_egress: Some("10mbit".into()),
            ..Default::default()
        };
        let r = resolve(Some("mynet"), &o, false, &["443/tcp".into()]).unwrap();
        assert_eq!(r.network_mode, "mynet");
        assert_eq!(
            r.networks,
            [NetworkRequest {
                name: "mynet".into(),
                ip: Some("10.1.0.9".parse().unwrap()),
                ip6: None,
                aliases: vec!["db".into()],
                mac: Some("02:42:ac:11:00:02".into()),
            }]
        );
        let exposed: Vec<String> = r.expose.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            exposed,
            ["53/udp", "80/tcp", "443/tcp", "9000/tcp", "9001/tcp"]
        );
        assert_eq!(r.publish.len(), 2);
        assert_eq!(r.bandwidth.egress, Some(10_000_000));
        let r = resolve(Some("default"), &NetworkOptions::default(), false, &[]).unwrap();
        assert_eq!(r.network_mode, "bridge");
        assert_eq!(r.networks[0].name, "bridge");
        // --network host: -p is dropped.
        let o = NetworkOptions {
            publish: vec!["80".into()],
            ..Default::default()
        };
        let r = resolve(Some("host"), &o, false, &[]).unwrap();
        assert!(r.publish.is_empty() && r.networks.is_empty());
        assert_eq!(
            resolve(None, &o, false, &[]).unwrap().network_mode,
            "bridge"
        );
    }
}
