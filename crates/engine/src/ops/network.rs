//! `network create|ls|inspect|rm|prune|connect|disconnect`: networks as
//! data (store/networks.rs), Docker's rules and words. The kernel objects
//! (bridges, veths) are made by the container lifecycle at first attach;
//! removing a network removes its bridge through
//! [`remove_kernel_objects`].

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;

use ipnet::IpNet;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::model::network::{
    Active, Allocation, DnsRecord, Driver, Endpoint, Network, NetworkCreate, NetworkFilters,
    NetworkRequest, PublishedPort, DEFAULT_BRIDGE,
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
        if !o.ipam_driver.is_empty() && o.ipam_driver != "default" {
            return Err(Error::BadRequest(format!(
                "plugin \"{}\" not found",
                o.ipam_driver
            )));
        }
        if !o.scope.is_empty() && o.scope != "local" {
            return Err(Error::BadRequest(format!(
                "berth networks are local: --scope {} is not supported",
                o.scope
            )));
        }
        self.ensure_default_networks()?;
        self.db.create_network(o, &host_reserved())
    }

    /// Every network (the predefined ones first, as made).
    pub fn networks(&mut self) -> Result<Vec<Network>> {
        self.ensure_default_networks()?;
        self.db.networks()
    }

    /// The networks `filters` selects, sorted by name (`network ls`).
    pub fn networks_filtered(&mut self, filters: &NetworkFilters) -> Result<Vec<Network>> {
        let mut out = Vec::new();
        for n in self.networks()? {
            let in_use = filters.needs_use() && !self.db.network_endpoints(&n.id)?.is_empty();
            if filters.matches(&n, in_use) {
                out.push(n);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
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
        // its rules go too, where berth has a table
        if self.root.join("network.applied").exists() {
            self.apply_firewall()?;
        }
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
    pub(crate) fn requested_networks(
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

    /// `network connect` of a running container: the request is recorded
    /// (restarts keep it) and the endpoint made live now (see
    /// `ops::network_attach`).
    fn connect_running(
        &mut self,
        c: &crate::model::Container,
        n: &Network,
        mut req: NetworkRequest,
    ) -> Result<()> {
        if self
            .db
            .endpoints(&c.id)?
            .iter()
            .any(|e| e.network_id == n.id)
        {
            return Err(Error::StateConflict(format!(
                "endpoint with name {} already exists in network {}",
                c.name, n.name
            )));
        }
        req.name = n.name.clone();
        self.network_connect_live(c, &req)?;
        let mut config = c.config.clone();
        let mut current = self.requested_networks(&config.networks, &config.network_mode)?;
        current.push((n.id.clone(), req));
        config.network_mode = current[0].1.name.clone();
        config.networks = current.into_iter().map(|(_, r)| r).collect();
        self.db.set_container_networks(&c.id, &config)
    }

    /// `network disconnect` of a running container: its link on the
    /// network goes now, and the request with it.
    fn disconnect_running(
        &mut self,
        c: &crate::model::Container,
        n: &Network,
        force: bool,
    ) -> Result<()> {
        let connected = self
            .db
            .endpoints(&c.id)?
            .iter()
            .any(|e| e.network_id == n.id);
        if !connected && !force {
            return Err(Error::StateConflict(format!(
                "container {} is not connected to network {}",
                c.id, n.name
            )));
        }
        if connected {
            self.network_disconnect_live(c, n)?;
        }
        let mut config = c.config.clone();
        let mut current = self.requested_networks(&config.networks, &config.network_mode)?;
        current.retain(|(id, r)| !(*id == n.id || r.name == n.name));
        config.network_mode = current
            .first()
            .map_or_else(|| "none".to_owned(), |(_, r)| r.name.clone());
        config.networks = current.into_iter().map(|(_, r)| r).collect();
        self.db.set_container_networks(&c.id, &config)
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

    /// What `container_id`'s DNS responder (`berth_net::dns`) answers
    /// from: a connection of its own to the database, asked at each query,
    /// so containers that start or stop later are seen.
    pub fn dns_names(&self, container_id: &str) -> Result<ContainerNames> {
        Ok(ContainerNames {
            db: Mutex::new(crate::store::Db::open(&self.root)?),
            container_id: container_id.to_owned(),
        })
    }

    /// The records for one name asked by `container_id`'s resolver.
    pub fn dns_lookup(&self, container_id: &str, name: &str) -> Result<Vec<DnsRecord>> {
        self.db.dns_lookup(container_id, name)
    }
}

/// A container's names for its DNS responder (see
/// [`Engine::dns_names`]): the database read at each query. A database
/// error answers nothing (and is logged): the name is then forwarded.
pub struct ContainerNames {
    db: Mutex<crate::store::Db>,
    container_id: String,
}

impl ContainerNames {
    fn records(&self) -> Vec<DnsRecord> {
        let db = self.db.lock().unwrap_or_else(|e| e.into_inner());
        db.dns_records(&self.container_id).unwrap_or_else(|e| {
            tracing::warn!("names of container {}: {e}", self.container_id);
            Vec::new()
        })
    }
}

fn addresses<'a>(records: impl Iterator<Item = &'a DnsRecord>) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::new();
    for r in records {
        let v4 = r.ipv4.map(IpAddr::V4);
        let v6 = r.ipv6.map(IpAddr::V6);
        for a in v4.into_iter().chain(v6) {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

fn named<'a>(r: &'a DnsRecord, name: &'a str) -> bool {
    r.names.iter().any(|n| n.eq_ignore_ascii_case(name))
}

impl berth_net::dns::Names for ContainerNames {
    fn lookup(&self, name: &str) -> Vec<IpAddr> {
        let records = self.records();
        addresses(records.iter().filter(|r| named(r, name)))
    }

    fn lookup_in(&self, name: &str, network: &str) -> Vec<IpAddr> {
        let records = self.records();
        addresses(
            records
                .iter()
                .filter(|r| r.network_name.eq_ignore_ascii_case(network) && named(r, name)),
        )
    }

    fn reverse(&self, ip: IpAddr) -> Option<String> {
        self.records()
            .into_iter()
            .find(|r| r.ipv4.map(IpAddr::V4) == Some(ip) || r.ipv6.map(IpAddr::V6) == Some(ip))
            .map(|r| format!("{}.{}", r.names[0], r.network_name))
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

/// Deletes what the kernel holds for a removed network: its Linux bridge,
/// in berth's network namespace (absent: nothing to do; veths die with
/// their containers' netns; macvlan/ipvlan links live in those too).
/// Called after the row is gone.
pub fn remove_kernel_objects(n: &Network) -> Result<()> {
    if n.bridge.is_empty() {
        return Ok(());
    }
    berth_net::netlink::Netlink::open()?.delete_link(&n.bridge)?;
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

#[cfg(test)]
mod tests {
    use berth_net::dns::Names;

    use super::*;
    use crate::model::{Container, ContainerConfig};

    fn container(e: &mut Engine, name: &str) -> String {
        let id = crate::model::new_id().unwrap();
        e.db.insert(&Container {
            id: id.clone(),
            name: name.into(),
            image_id: "sha256:00".into(),
            config: ContainerConfig {
                hostname: format!("{name}-host"),
                ..Default::default()
            },
            state: State::Created,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            created_at: String::new(),
            started_at: String::new(),
            finished_at: String::new(),
            paused: false,
            oom_killed: false,
            checkpoint: Default::default(),
        })
        .unwrap();
        id
    }

    #[test]
    fn the_resolvers_names_come_from_the_database_at_each_query() {
        let dir = std::env::temp_dir().join(format!(
            "berth-dns-names-{}-{}",
            std::process::id(),
            &crate::model::new_id().unwrap()[..8]
        ));
        struct Cleanup(std::path::PathBuf);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let _cleanup = Cleanup(dir.clone());
        let mut e = Engine::open(&dir).unwrap();
        for (name, subnet) in [("front", "10.31.0.0/24"), ("back", "fd00:31::/64")] {
            e.create_network(&NetworkCreate {
                name: name.into(),
                subnets: vec![subnet.into()],
                ..Default::default()
            })
            .unwrap();
        }
        let web = container(&mut e, "web");
        let api = container(&mut e, "api");
        let req = |n: &str| NetworkRequest {
            name: n.into(),
            ..Default::default()
        };
        e.allocate_network(&web, &[req("front"), req("back")], &[])
            .unwrap();
        let names = e.dns_names(&web).unwrap();
        assert!(names.lookup("api").is_empty(), "not started yet");
        e.allocate_network(&api, &[req("front"), req("back")], &[])
            .unwrap();
        // Seen without a new ContainerNames: the database is read per query.
        let both = names.lookup("api");
        assert_eq!(both.len(), 3, "{both:?}");
        assert!(both.contains(&"10.31.0.3".parse().unwrap()));
        // back: the v6 subnet given plus an automatic v4 one, as Docker.
        let back = names.lookup_in("api-host", "back");
        assert_eq!(back.len(), 2, "{back:?}");
        assert!(back.contains(&"fd00:31::3".parse().unwrap()));
        assert_eq!(
            names.lookup_in(&api[..12], "front"),
            vec![IpAddr::V4("10.31.0.3".parse().unwrap())]
        );
        assert_eq!(
            names.reverse("10.31.0.2".parse().unwrap()).as_deref(),
            Some("web.front")
        );
        assert_eq!(names.reverse("10.31.0.9".parse().unwrap()), None);
        e.release_network(&api).unwrap();
        assert!(names.lookup("api").is_empty(), "released");
    }
}
