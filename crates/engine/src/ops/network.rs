//! `network create|ls|inspect|rm|prune|connect|disconnect`: networks as
//! data (store/networks.rs), Docker's rules and words. The kernel objects
//! (bridges, veths) are made by the container lifecycle at first attach;
//! removing a network removes its bridge through
//! [`remove_kernel_objects`].

use std::collections::BTreeMap;

use ipnet::IpNet;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::model::network::{
    Active, Allocation, DnsRecord, Driver, Endpoint, Network, NetworkCreate, NetworkRequest,
    PublishedPort, DEFAULT_BRIDGE,
};
use crate::model::State;
use crate::ops::prune::PruneFilter;
use crate::Engine;

/// Docker's `ErrConflictHostNetwork`.
const CONFLICT_HOST: &str =
    "container cannot be disconnected from host network or connected to host network";
/// Docker's `ErrConflictSharedNetwork`.
const CONFLICT_SHARED: &str = "container sharing network namespace with another container or host cannot be connected to any other network";
/// Docker's `ErrConflictNoNetwork`.
const CONFLICT_NONE: &str = "container cannot be connected to multiple networks with one of the networks in private (none) mode";

impl Engine {
    /// The predefined `bridge`, `host` and `none` networks, made on first
    /// use (the default bridge's subnet chosen then, avoiding the host's
    /// on-link routes and nameservers).
    pub fn ensure_default_networks(&mut self) -> Result<()> {
        self.db.ensure_default_networks(&host_reserved())
    }

    /// `network create`; the network as recorded (print its id).
    pub fn create_network(&mut self, o: &NetworkCreate) -> Result<Network> {
        if o.name.is_empty() {
            return Err(Error::BadRequest("network name cannot be empty".into()));
        }
        self.ensure_default_networks()?;
        self.db.create_network(o, &host_reserved())
    }

    /// Every network (the predefined ones first, as made).
    pub fn networks(&mut self) -> Result<Vec<Network>> {
        self.ensure_default_networks()?;
        self.db.networks()
    }

    /// A network by id, name or id prefix: "No such network: X".
    pub fn network(&mut self, key: &str) -> Result<Network> {
        self.ensure_default_networks()?;
        self.db.network(key)
    }

    /// `network rm`: refused for predefined networks and networks with
    /// running containers (Docker's words); the row goes first, then the
    /// kernel objects.
    pub fn remove_network(&mut self, key: &str) -> Result<Network> {
        self.ensure_default_networks()?;
        let n = self.db.remove_network(key)?;
        remove_kernel_objects(&n)?;
        Ok(n)
    }

    /// `network prune`: every user network without running containers
    /// that `filter` matches (`until=`, `label=`, `label!=`); the names
    /// removed, oldest first.
    pub fn prune_networks(&mut self, filter: &PruneFilter) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for n in self.networks()? {
            if n.is_predefined() {
                continue;
            }
            if !filter.matches_labels(&n.labels, &n.created)
                || !self.db.network_endpoints(&n.id)?.is_empty()
            {
                continue;
            }
            match self.db.remove_network(&n.id) {
                Ok(n) => {
                    remove_kernel_objects(&n)?;
                    removed.push(n.name);
                }
                // A container started on it meanwhile: in use, kept.
                Err(Error::StateConflict(_)) | Err(Error::NetworkNotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }

    /// `network inspect`'s document for one network (Docker's
    /// NetworkResource).
    pub fn inspect_network_json(&self, n: &Network) -> Result<Value> {
        let mut containers = serde_json::Map::new();
        for e in self.db.network_endpoints(&n.id)? {
            let name = self
                .db
                .get(&e.container_id)?
                .map(|c| c.name)
                .unwrap_or_default();
            let v4 = match (e.ipv4, n.subnet_v4()) {
                (Some(a), Some(s)) => format!("{a}/{}", s.subnet.prefix_len()),
                _ => String::new(),
            };
            let v6 = match (e.ipv6, n.subnet_v6()) {
                (Some(a), Some(s)) => format!("{a}/{}", s.subnet.prefix_len()),
                _ => String::new(),
            };
            containers.insert(
                e.container_id.clone(),
                json!({
                    "Name": name,
                    "EndpointID": "",
                    "MacAddress": e.mac,
                    "IPv4Address": v4,
                    "IPv6Address": v6,
                }),
            );
        }
        let config: Vec<Value> = n
            .subnets
            .iter()
            .map(|s| {
                let mut c = serde_json::Map::new();
                c.insert("Subnet".into(), s.subnet.to_string().into());
                if let Some(r) = s.ip_range {
                    c.insert("IPRange".into(), r.to_string().into());
                }
                c.insert("Gateway".into(), s.gateway.to_string().into());
                Value::Object(c)
            })
            .collect();
        let mut options = n.options.clone();
        if n.name == DEFAULT_BRIDGE {
            for (k, v) in [
                ("com.docker.network.bridge.default_bridge", "true"),
                ("com.docker.network.bridge.enable_icc", "true"),
                ("com.docker.network.bridge.enable_ip_masquerade", "true"),
                ("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"),
                ("com.docker.network.driver.mtu", "1500"),
            ] {
                options.entry(k.into()).or_insert_with(|| v.into());
            }
        }
        Ok(json!({
            "Name": n.name,
            "Id": n.id,
            "Created": n.created,
            "Scope": "local",
            "Driver": n.driver.as_str(),
            "EnableIPv4": n.subnet_v4().is_some(),
            "EnableIPv6": n.ipv6,
            "IPAM": {
                "Driver": "default",
                "Options": if n.is_predefined() { Value::Null } else { json!({}) },
                "Config": config,
            },
            "Internal": n.internal,
            "Attachable": false,
            "Ingress": false,
            "ConfigFrom": { "Network": "" },
            "ConfigOnly": false,
            "Containers": containers,
            "Options": options,
            "Labels": n.labels,
        }))
    }

    /// `network connect` of a container that is not running: the network
    /// is added to what it joins at start (Docker's checks and words).
    pub fn connect_network(
        &mut self,
        container: &str,
        network: &str,
        mut req: NetworkRequest,
    ) -> Result<()> {
        self.ensure_default_networks()?;
        let mut c = self.db.find(container)?;
        let n = self
            .db
            .network(network)
            .map_err(|_| Error::NetworkNotFound(network.to_owned()))?;
        if n.driver == Driver::Host {
            return Err(Error::BadRequest(CONFLICT_HOST.into()));
        }
        let mode = c.config.network_mode.clone();
        if mode == "host" || mode.starts_with("container:") {
            return Err(Error::BadRequest(CONFLICT_SHARED.into()));
        }
        if n.driver == Driver::Null || mode == "none" && !c.config.networks.is_empty() {
            return Err(Error::BadRequest(CONFLICT_NONE.into()));
        }
        if n.name == DEFAULT_BRIDGE {
            if req.ip.is_some() || req.ip6.is_some() {
                return Err(Error::BadRequest(
                    "user specified IP address is supported on user defined networks only".into(),
                ));
            }
            if !req.aliases.is_empty() {
                return Err(Error::BadRequest(
                    "network-scoped alias is supported only for containers in user defined networks".into(),
                ));
            }
        }
        if matches!(c.state, State::Running | State::Starting) {
            return self.connect_running(&c, &n, req);
        }
        let mut current = self.requested_networks(&c.config.networks, &mode)?;
        if current.iter().any(|(id, _)| *id == n.id) {
            return Err(Error::StateConflict(format!(
                "endpoint with name {} already exists in network {}",
                c.name, n.name
            )));
        }
        req.name = n.name.clone();
        current.push((n.id.clone(), req));
        c.config.network_mode = current[0].1.name.clone();
        c.config.networks = current.into_iter().map(|(_, r)| r).collect();
        self.db.set_container_networks(&c.id, &c.config)
    }

    /// `network disconnect` of a container that is not running.
    pub fn disconnect_network(
        &mut self,
        container: &str,
        network: &str,
        force: bool,
    ) -> Result<()> {
        self.ensure_default_networks()?;
        let mut c = self.db.find(container)?;
        let n = match self.db.network(network) {
            Ok(n) => n,
            // -f: a network removed meanwhile is dropped from the config
            // by name (Docker's force).
            Err(Error::NoSuchNetwork(_)) if force => Network {
                id: String::new(),
                name: network.to_owned(),
                ..placeholder()
            },
            Err(_) => return Err(Error::NetworkNotFound(network.to_owned())),
        };
        if n.driver == Driver::Host || c.config.network_mode == "host" {
            return Err(Error::BadRequest(CONFLICT_HOST.into()));
        }
        if matches!(c.state, State::Running | State::Starting) {
            return self.disconnect_running(&c, &n, force);
        }
        let mode = c.config.network_mode.clone();
        let mut current = self.requested_networks(&c.config.networks, &mode)?;
        let before = current.len();
        current.retain(|(id, r)| !(*id == n.id || (!force || id.is_empty()) && r.name == n.name));
        if current.len() == before {
            return Err(Error::StateConflict(format!(
                "container {} is not connected to network {}",
                c.id, n.name
            )));
        }
        c.config.network_mode = current
            .first()
            .map_or_else(|| "none".to_owned(), |(_, r)| r.name.clone());
        c.config.networks = current.into_iter().map(|(_, r)| r).collect();
        self.db.set_container_networks(&c.id, &c.config)
    }

    /// A container's networks as (network id, request): the stored
    /// requests, or the one `network_mode` names when there are none.
    /// Requests whose network is gone keep an empty id.
    fn requested_networks(
        &self,
        stored: &[NetworkRequest],
        mode: &str,
    ) -> Result<Vec<(String, NetworkRequest)>> {
        let mut reqs = stored.to_vec();
        if reqs.is_empty()
            && !mode.is_empty()
            && mode != "none"
            && mode != "host"
            && !mode.starts_with("container:")
        {
            let name = if mode == "default" {
                DEFAULT_BRIDGE
            } else {
                mode
            };
            reqs.push(NetworkRequest {
                name: name.to_owned(),
                ..Default::default()
            });
        }
        Ok(reqs
            .into_iter()
            .map(|r| {
                let id = self.db.network(&r.name).map(|n| n.id).unwrap_or_default();
                (id, r)
            })
            .collect())
    }

    /// `network connect` of a running container: the live part (an
    /// endpoint allocated, a veth into its netns, nft re-rendered) is the
    /// container lifecycle's.
    fn connect_running(
        &mut self,
        c: &crate::model::Container,
        _n: &Network,
        _req: NetworkRequest,
    ) -> Result<()> {
        Err(Error::StateConflict(format!(
            "cannot connect running container {} to a network: berth connects networks at start (stop it first)",
            c.name
        )))
    }

    /// `network disconnect` of a running container: the lifecycle's, as
    /// [`Engine::connect_running`].
    fn disconnect_running(
        &mut self,
        c: &crate::model::Container,
        _n: &Network,
        _force: bool,
    ) -> Result<()> {
        Err(Error::StateConflict(format!(
            "cannot disconnect running container {} from a network: berth disconnects networks at stop (stop it first)",
            c.name
        )))
    }

    /// Allocates the container's endpoints and published ports in one
    /// transaction (see `Db::allocate`): before the runtime's `create`.
    pub fn allocate_network(
        &mut self,
        container_id: &str,
        requests: &[NetworkRequest],
        ports: &[berth_net::portspec::PortMapping],
    ) -> Result<Allocation> {
        self.ensure_default_networks()?;
        self.db.allocate(container_id, requests, ports)
    }

    /// Frees the container's endpoints and ports: after its exit.
    pub fn release_network(&mut self, container_id: &str) -> Result<()> {
        self.db.release(container_id)
    }

    /// Frees one of the container's endpoints (`network disconnect` of a
    /// running container).
    pub fn release_endpoint(&mut self, container_id: &str, network_id: &str) -> Result<()> {
        self.db.release_network(container_id, network_id)
    }

    /// The container's published ports while it runs.
    pub fn published_ports(&self, container_id: &str) -> Result<Vec<PublishedPort>> {
        self.db.published_ports(container_id)
    }

    /// The container's endpoints while it runs (`eth0` first).
    pub fn endpoints(&self, container_id: &str) -> Result<Vec<Endpoint>> {
        self.db.endpoints(container_id)
    }

    /// Everything the nft table is rendered from.
    pub fn active_networks(&self) -> Result<Active> {
        self.db.active()
    }

    /// The names `container_id`'s DNS responder answers.
    pub fn dns_records(&self, container_id: &str) -> Result<Vec<DnsRecord>> {
        self.db.dns_records(container_id)
    }

    /// The records for one name asked by `container_id`'s resolver.
    pub fn dns_lookup(&self, container_id: &str, name: &str) -> Result<Vec<DnsRecord>> {
        self.db.dns_lookup(container_id, name)
    }
}

fn placeholder() -> Network {
    Network {
        id: String::new(),
        name: String::new(),
        driver: Driver::Bridge,
        bridge: String::new(),
        subnets: Vec::new(),
        internal: false,
        ipv6: false,
        options: BTreeMap::new(),
        labels: BTreeMap::new(),
        created: String::new(),
    }
}

/// Deletes what the kernel holds for a removed network (its Linux bridge;
/// veths die with their containers' netns). Called after the row is gone.
/// TODO(lead): delete `n.bridge` through the netlink helper's
/// `delete_link` (absent link: fine) once it is in main.
pub fn remove_kernel_objects(n: &Network) -> Result<()> {
    let _ = n;
    Ok(())
}

/// What the automatic subnet choice avoids on this host, as Docker's
/// `InferReservedNetworks`: the IPv4 on-link routes (`/proc/net/route`
/// entries without a gateway, default route excluded) of this network
/// namespace, its own addresses (`/proc/net/fib_trie`), and the
/// nameservers of `/etc/resolv.conf`.
pub fn host_reserved() -> Vec<IpNet> {
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let trie = std::fs::read_to_string("/proc/net/fib_trie").unwrap_or_default();
    let mut out = berth_net::ipam::on_link_routes(&routes);
    out.extend(berth_net::ipam::local_addresses(&trie));
    out.extend(berth_net::ipam::nameserver_nets(&resolv));
    out
}
