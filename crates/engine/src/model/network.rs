//! Networks as data: a network (Docker's `network create` options), a
//! container's request to join one (`--network NAME --ip ...`, `network
//! connect`), and what the engine allocates for it while the container
//! runs: an endpoint (addresses, MAC, interface names) and its published
//! ports. The rules for addresses are `berth_net::ipam`'s.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use berth_net::ipam::SubnetConfig;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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

/// A container's wish to be on a network (`--network NAME --ip ... --ip6
/// ... --network-alias ... --mac-address ...`; `network connect` adds
/// more). Stored in `ContainerConfig.networks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRequest {
    /// Name or id of the network, as the user gave it.
    pub name: String,
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
    #[serde(default)]
    pub ip6: Option<Ipv6Addr>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub mac: Option<String>,
}

/// A port to publish (`-p`), after range expansion: host port 0 means a
/// free one chosen at allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRequest {
    /// None: every address (Docker's `0.0.0.0`).
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
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
    pub protocol: String,
}

/// What `allocate` gave a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allocation {
    pub endpoints: Vec<Endpoint>,
    /// With host port 0 replaced by the one chosen.
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

/// One name record for the DNS responder: the names of a container on a
/// network shared with the asker (name, aliases, 12-char short id,
/// hostname, deduplicated, Docker's order) and its addresses there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord {
    pub container_id: String,
    pub network_id: String,
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
}
