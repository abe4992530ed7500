//! Networks, endpoints and published ports (migration 5).
//!
//! - `networks`: one row per network, the predefined `bridge`, `host` and
//!   `none` included (made on first use: [`Db::ensure_default_networks`]).
//! - `endpoints`: one row per container x network *while the container
//!   runs*: its addresses (`UNIQUE(network_id, ipv4)` and `ipv6`), MAC and
//!   interface names. Written by [`Db::allocate`] before the runtime's
//!   `create`, deleted by [`Db::release`] after the exit (or by the
//!   reconcile when the owner died).
//! - `ports`: the published ports of running containers.
//!
//! Every allocation is one `BEGIN IMMEDIATE` transaction: two processes
//! allocating at once serialize on SQLite's write lock, so each sees the
//! other's addresses and ports.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use berth_net::ipam::{self, IpamError, SubnetConfig};
use berth_net::portspec::{PortMapping, Protocol};
use ipnet::IpNet;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{Db, Tx};
use crate::error::{Error, Result};
use crate::model::network::{
    Active, ActivePort, Allocation, DnsRecord, Driver, Endpoint, Network, NetworkCreate,
    NetworkRequest, PublishedPort, DEFAULT_BRIDGE, DEFAULT_BRIDGE_IFNAME,
};
use crate::model::ContainerConfig;

pub(super) const MIGRATION: &str = "CREATE TABLE networks (
        id       TEXT PRIMARY KEY,
        name     TEXT NOT NULL UNIQUE,
        driver   TEXT NOT NULL,
        bridge   TEXT NOT NULL,
        subnets  TEXT NOT NULL,
        internal INTEGER NOT NULL,
        ipv6     INTEGER NOT NULL,
        options  TEXT NOT NULL,
        labels   TEXT NOT NULL,
        created  TEXT NOT NULL
    );
    CREATE TABLE endpoints (
        container_id TEXT NOT NULL,
        network_id   TEXT NOT NULL,
        ifname       TEXT NOT NULL,
        host_ifname  TEXT NOT NULL UNIQUE,
        ipv4         TEXT,
        ipv6         TEXT,
        mac          TEXT NOT NULL,
        aliases      TEXT NOT NULL,
        PRIMARY KEY (container_id, network_id),
        UNIQUE (network_id, ipv4),
        UNIQUE (network_id, ipv6)
    );
    CREATE TABLE ports (
        container_id   TEXT NOT NULL,
        network_id     TEXT,
        host_ip        TEXT NOT NULL,
        host_port      INTEGER NOT NULL,
        container_port INTEGER NOT NULL,
        protocol       TEXT NOT NULL
    );
    CREATE INDEX ports_container ON ports (container_id);
    CREATE INDEX ports_host_port ON ports (host_port);";

/// Where a published port with host port 0 gets one: Linux's default
/// `ip_local_port_range`, as Docker's port allocator.
pub const EPHEMERAL_PORTS: std::ops::RangeInclusive<u16> = 32768..=60999;

const NETWORK_COLUMNS: &str =
    "id, name, driver, bridge, subnets, internal, ipv6, options, labels, created";

fn network_from_row(r: &Row) -> rusqlite::Result<Network> {
    fn json<T: serde::de::DeserializeOwned>(r: &Row, i: usize) -> rusqlite::Result<T> {
        let s: String = r.get(i)?;
        serde_json::from_str(&s).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
        })
    }
    let driver: String = r.get(2)?;
    Ok(Network {
        id: r.get(0)?,
        name: r.get(1)?,
        driver: Driver::parse_stored(&driver),
        bridge: r.get(3)?,
        subnets: json(r, 4)?,
        internal: r.get(5)?,
        ipv6: r.get(6)?,
        options: json(r, 7)?,
        labels: json(r, 8)?,
        created: r.get(9)?,
    })
}

const ENDPOINT_COLUMNS: &str =
    "container_id, network_id, ifname, host_ifname, ipv4, ipv6, mac, aliases";

fn endpoint_from_row(r: &Row) -> rusqlite::Result<Endpoint> {
    let ipv4: Option<String> = r.get(4)?;
    let ipv6: Option<String> = r.get(5)?;
    let aliases: String = r.get(7)?;
    Ok(Endpoint {
        container_id: r.get(0)?,
        network_id: r.get(1)?,
        ifname: r.get(2)?,
        host_ifname: r.get(3)?,
        ipv4: ipv4.and_then(|s| s.parse().ok()),
        ipv6: ipv6.and_then(|s| s.parse().ok()),
        mac: r.get(6)?,
        aliases: serde_json::from_str(&aliases).unwrap_or_default(),
    })
}

fn port_from_row(r: &Row) -> rusqlite::Result<PublishedPort> {
    let host_ip: String = r.get(2)?;
    let protocol: String = r.get(5)?;
    Ok(PublishedPort {
        container_id: r.get(0)?,
        network_id: r.get(1)?,
        host_ip: host_ip.parse().ok(),
        host_port: r.get(3)?,
        container_port: r.get(4)?,
        protocol: protocol.parse().unwrap_or_default(),
    })
}

enum Lookup {
    Found(Network),
    None,
    Ambiguous(usize),
}

impl Lookup {
    /// `missing` makes the error for an unknown key (`inspect` and `rm`
    /// word it differently).
    fn found(self, key: &str, missing: fn(String) -> Error) -> Result<Network> {
        match self {
            Lookup::Found(n) => Ok(n),
            Lookup::None => Err(missing(key.to_owned())),
            Lookup::Ambiguous(n) => Err(Error::BadRequest(format!(
                "network {key} is ambiguous ({n} matches found based on ID prefix)"
            ))),
        }
    }
}

/// A network by full id, name, or unique id prefix (Docker's order).
fn find_network(conn: &Connection, key: &str) -> rusqlite::Result<Lookup> {
    let exact = conn
        .query_row(
            &format!(
                "SELECT {NETWORK_COLUMNS} FROM networks WHERE id = ?1 OR name = ?1
                 ORDER BY id = ?1 DESC LIMIT 1"
            ),
            [key],
            network_from_row,
        )
        .optional()?;
    if let Some(n) = exact {
        return Ok(Lookup::Found(n));
    }
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(Lookup::None);
    }
    let mut stmt = conn.prepare(&format!(
        "SELECT {NETWORK_COLUMNS} FROM networks WHERE id LIKE ?1 || '%' LIMIT 2"
    ))?;
    let mut found = stmt
        .query_map([key.to_ascii_lowercase()], network_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(match found.len() {
        1 => Lookup::Found(found.remove(0)),
        0 => Lookup::None,
        n => Lookup::Ambiguous(n),
    })
}

fn all_networks(conn: &Connection) -> rusqlite::Result<Vec<Network>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {NETWORK_COLUMNS} FROM networks ORDER BY created, name"
    ))?;
    let rows = stmt
        .query_map([], network_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn insert_network(conn: &Connection, n: &Network) -> rusqlite::Result<()> {
    conn.execute(
        &format!(
            "INSERT INTO networks ({NETWORK_COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ),
        params![
            n.id,
            n.name,
            n.driver.as_str(),
            n.bridge,
            serde_json::to_string(&n.subnets).expect("subnets serialize"),
            n.internal,
            n.ipv6,
            serde_json::to_string(&n.options).expect("strings serialize"),
            serde_json::to_string(&n.labels).expect("strings serialize"),
            n.created,
        ],
    )?;
    Ok(())
}

fn used_subnets(conn: &Connection) -> rusqlite::Result<Vec<IpNet>> {
    Ok(all_networks(conn)?
        .iter()
        .flat_map(|n| n.subnets.iter().map(|s| s.subnet))
        .collect())
}

fn endpoints_where(conn: &Connection, filter: &str, arg: &str) -> rusqlite::Result<Vec<Endpoint>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE {filter} ORDER BY container_id, ifname"
    ))?;
    let rows = stmt
        .query_map([arg], endpoint_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn used_addresses(conn: &Connection, network_id: &str) -> rusqlite::Result<BTreeSet<IpAddr>> {
    let mut stmt = conn.prepare(
        "SELECT ipv4 FROM endpoints WHERE network_id = ?1 AND ipv4 IS NOT NULL
         UNION ALL SELECT ipv6 FROM endpoints WHERE network_id = ?1 AND ipv6 IS NOT NULL",
    )?;
    let rows = stmt
        .query_map([network_id], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows.iter().filter_map(|s| s.parse().ok()).collect())
}

fn held_ports(
    conn: &Connection,
    protocol: Protocol,
) -> rusqlite::Result<Vec<(Option<IpAddr>, u16)>> {
    let mut stmt = conn.prepare("SELECT host_ip, host_port FROM ports WHERE protocol = ?1")?;
    let rows = stmt
        .query_map([protocol.as_str()], |r| {
            let ip: String = r.get(0)?;
            Ok((ip.parse().ok(), r.get(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Docker's port conflict rule: same protocol and port (checked by the
/// caller), and the same address or either one every address.
fn conflicts(a: Option<IpAddr>, b: Option<IpAddr>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b || a.is_unspecified() || b.is_unspecified(),
        _ => true,
    }
}

/// `-o macvlan_mode=`, `-o ipvlan_mode=`, `-o ipvlan_flag=` and `-o
/// parent=` as Docker's macvlan/ipvlan drivers check them.
fn check_vlan_options(driver: Driver, options: &BTreeMap<String, String>) -> Result<()> {
    let kind = driver.as_str();
    let bad = |m: String| Err(Error::BadRequest(m));
    match (driver, options.get("macvlan_mode").map(String::as_str)) {
        (Driver::Macvlan, Some(m)) if !["bridge", "private", "vepa", "passthru"].contains(&m) => {
            return bad(format!(
                "requested macvlan mode '{m}' is not valid, 'bridge' mode is the macvlan driver default"
            ))
        }
        _ => {}
    }
    if driver == Driver::Ipvlan {
        if let Some(m) = options.get("ipvlan_mode") {
            if !["l2", "l3", "l3s"].contains(&m.as_str()) {
                return bad(format!(
                    "requested ipvlan mode '{m}' is not valid, 'l2' mode is the ipvlan driver default"
                ));
            }
        }
        if let Some(f) = options.get("ipvlan_flag") {
            if !["bridge", "private", "vepa"].contains(&f.as_str()) {
                return bad(format!(
                    "requested ipvlan flag '{f}' is not valid, 'bridge' is the ipvlan driver default"
                ));
            }
        }
    }
    if options.get("parent").map(String::as_str) == Some("lo") {
        return bad(format!(
            "loopback interface is not a valid {kind} parent link"
        ));
    }
    Ok(())
}

/// The endpoint rows and ports of a container, in the caller's transaction.
pub(super) fn release_in(conn: &Connection, container_id: &str) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM endpoints WHERE container_id = ?1",
        [container_id],
    )?;
    conn.execute("DELETE FROM ports WHERE container_id = ?1", [container_id])?;
    Ok(())
}

impl Db {
    /// Creates the predefined `bridge` (with a subnet chosen now: 172.17/16
    /// unless taken by another network or `reserved`, the host's on-link
    /// routes and addresses), `host` and `none` networks if missing.
    pub fn ensure_default_networks(&mut self, reserved: &[IpNet]) -> Result<()> {
        let present: i64 = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM networks WHERE name IN ('bridge', 'host', 'none')",
                [],
                |r| r.get(0),
            )
            .map_err(self.err())?;
        if present == 3 {
            return Ok(());
        }
        self.immediate(|tx| {
            let now = berth_image::time::now_rfc3339();
            for (name, driver) in [
                (DEFAULT_BRIDGE, Driver::Bridge),
                ("host", Driver::Host),
                ("none", Driver::Null),
            ] {
                let exists: bool = tx
                    .query_row(
                        "SELECT COUNT(*) > 0 FROM networks WHERE name = ?1",
                        [name],
                        |r| r.get(0),
                    )
                    .map_err(tx.err())?;
                if exists {
                    continue;
                }
                let bridge = driver == Driver::Bridge;
                let mut subnets = Vec::new();
                let mut options = BTreeMap::new();
                if bridge {
                    let used = used_subnets(tx).map_err(tx.err())?;
                    let subnet = IpNet::V4(ipam::choose_subnet(&used, reserved, true)?);
                    subnets.push(SubnetConfig {
                        subnet,
                        gateway: ipam::default_gateway(&subnet),
                        ip_range: None,
                    });
                    options.insert(
                        "com.docker.network.bridge.name".to_owned(),
                        DEFAULT_BRIDGE_IFNAME.to_owned(),
                    );
                }
                let n = Network {
                    id: crate::model::new_id()?,
                    name: name.to_owned(),
                    driver,
                    bridge: if bridge {
                        DEFAULT_BRIDGE_IFNAME.to_owned()
                    } else {
                        String::new()
                    },
                    subnets,
                    internal: false,
                    ipv6: false,
                    options,
                    labels: BTreeMap::new(),
                    created: now.clone(),
                };
                insert_network(tx, &n).map_err(tx.err())?;
            }
            Ok(())
        })
    }

    /// `network create`: Docker's checks of the options, the subnet chosen
    /// (when none is given) and recorded in one transaction, so two
    /// creates never get the same pool. `reserved`: the host's on-link
    /// routes, addresses and nameservers (for the automatic choice only,
    /// as Docker).
    pub fn create_network(&mut self, o: &NetworkCreate, reserved: &[IpNet]) -> Result<Network> {
        let driver = if o.driver.is_empty() {
            Driver::Bridge
        } else {
            Driver::parse_user(&o.driver)?
        };
        let given = ipam::consolidate(&o.subnets, &o.gateways, &o.ip_ranges)?;
        // A v6 --subnet is a dual-stack network, as Docker 28.
        let ipv6 = o.ipv6 || given.iter().any(|s| s.subnet.addr().is_ipv6());
        if let Some(mtu) = o.options.get("com.docker.network.driver.mtu") {
            mtu.parse::<u32>().map_err(|_| {
                Error::BadRequest(format!("strconv.Atoi: parsing {mtu:?}: invalid syntax"))
            })?;
        }
        let bridge_name = o.options.get("com.docker.network.bridge.name").cloned();
        if let Some(b) = &bridge_name {
            if b.is_empty() || b.len() > 15 || b.contains('/') || b.contains(char::is_whitespace) {
                return Err(Error::BadRequest(format!("invalid bridge name {b:?}")));
            }
        }
        let mut internal = o.internal;
        if matches!(driver, Driver::Macvlan | Driver::Ipvlan) {
            check_vlan_options(driver, &o.options)?;
            // Docker: with no parent the network is internal.
            internal |= !o.options.contains_key("parent");
        }
        let id = crate::model::new_id()?;
        self.immediate(|tx| {
            if let Some(parent) = o.options.get("parent") {
                for other in all_networks(tx).map_err(tx.err())? {
                    if other.parent() == Some(parent.as_str()) {
                        return Err(Error::StateConflict(format!(
                            "network {} is already using parent interface {parent}",
                            other.id
                        )));
                    }
                }
            }
            let taken = tx
                .query_row("SELECT 1 FROM networks WHERE name = ?1", [&o.name], |_| {
                    Ok(())
                })
                .optional()
                .map_err(tx.err())?;
            if taken.is_some() {
                return Err(Error::NetworkExists(o.name.clone()));
            }
            let mut used = used_subnets(tx).map_err(tx.err())?;
            let given_nets: Vec<IpNet> = given.iter().map(|s| s.subnet).collect();
            ipam::check_overlap(&given_nets, &used)?;
            let mut subnets = given.clone();
            if !subnets.iter().any(|s| s.subnet.addr().is_ipv4()) {
                // The default bridge keeps 172.17/16 even before it exists.
                let has_bridge: bool = tx
                    .query_row(
                        "SELECT COUNT(*) > 0 FROM networks WHERE name = 'bridge'",
                        [],
                        |r| r.get(0),
                    )
                    .map_err(tx.err())?;
                if !has_bridge {
                    used.push("172.17.0.0/16".parse().expect("a subnet"));
                }
                let subnet = IpNet::V4(ipam::choose_subnet(&used, reserved, false)?);
                subnets.insert(
                    0,
                    SubnetConfig {
                        subnet,
                        gateway: ipam::default_gateway(&subnet),
                        ip_range: None,
                    },
                );
            }
            if ipv6 && !subnets.iter().any(|s| s.subnet.addr().is_ipv6()) {
                let subnet = IpNet::V6(ipam::ula_subnet(&used)?);
                subnets.push(SubnetConfig {
                    subnet,
                    gateway: ipam::default_gateway(&subnet),
                    ip_range: None,
                });
            }
            let bridge = match driver {
                Driver::Bridge => bridge_name
                    .clone()
                    .unwrap_or_else(|| format!("br-{}", &id[..12])),
                _ => String::new(),
            };
            if !bridge.is_empty() {
                let holder: Option<String> = tx
                    .query_row(
                        "SELECT name FROM networks WHERE bridge = ?1",
                        [&bridge],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(tx.err())?;
                if let Some(holder) = holder {
                    return Err(Error::StateConflict(format!(
                        "bridge name {bridge} is already used by network {holder}"
                    )));
                }
            }
            let n = Network {
                id: id.clone(),
                name: o.name.clone(),
                driver,
                bridge,
                subnets,
                internal,
                ipv6,
                options: o.options.clone(),
                labels: o.labels.clone(),
                created: berth_image::time::now_rfc3339(),
            };
            insert_network(tx, &n).map_err(tx.err())?;
            Ok(n)
        })
    }

    /// A network by id, name or unique id prefix: "No such network: X".
    pub fn network(&self, key: &str) -> Result<Network> {
        find_network(&self.conn, key)
            .map_err(self.err())?
            .found(key, Error::NoSuchNetwork)
    }

    /// Every network, oldest first.
    pub fn networks(&self) -> Result<Vec<Network>> {
        all_networks(&self.conn).map_err(self.err())
    }

    /// `network rm`: Docker's refusals (unknown: "network X not found",
    /// predefined, active endpoints), then the row, in one transaction
    /// (an `allocate` after it fails with "not found").
    pub fn remove_network(&mut self, key: &str) -> Result<Network> {
        self.immediate(|tx| {
            let n = find_network(tx, key)
                .map_err(tx.err())?
                .found(key, Error::NetworkNotFound)?;
            if n.is_predefined() {
                return Err(Error::StateConflict(format!(
                    "{} is a pre-defined network and cannot be removed",
                    n.name
                )));
            }
            let holder: Option<(String, String)> = tx
                .query_row(
                    "SELECT e.container_id, COALESCE(c.name, '') FROM endpoints e
                     LEFT JOIN containers c ON c.id = e.container_id
                     WHERE e.network_id = ?1 ORDER BY c.name LIMIT 1",
                    [&n.id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(tx.err())?;
            if let Some((id, name)) = holder {
                return Err(Error::StateConflict(format!(
                    "error while removing network: network {} has active endpoints (name:\"{name}\" id:\"{}\")",
                    n.name,
                    &id[..12.min(id.len())]
                )));
            }
            tx.execute("DELETE FROM networks WHERE id = ?1", [&n.id])
                .map_err(tx.err())?;
            Ok(n)
        })
    }

    /// Allocates, in one transaction, an endpoint per request (in order:
    /// `eth0`, `eth1`, ... after the container's existing endpoints) and
    /// the published ports (host port 0: a free one of
    /// [`EPHEMERAL_PORTS`]; a host range: its first free port). Nothing
    /// is recorded when any step fails: a
    /// taken `--ip` ("Address already in use"), a host port held by another
    /// running container ("Bind for 0.0.0.0:8080 failed: port is already
    /// allocated"), an unknown network ("network X not found").
    pub fn allocate(
        &mut self,
        container_id: &str,
        requests: &[NetworkRequest],
        ports: &[PortMapping],
    ) -> Result<Allocation> {
        let mut random = [0u8; 2];
        ipam::random_bytes(&mut random)?;
        self.immediate(|tx| {
            let existing =
                endpoints_where(tx, "container_id = ?1", container_id).map_err(tx.err())?;
            let mut out = Allocation::default();
            for (i, req) in requests.iter().enumerate() {
                let n = find_network(tx, &req.name)
                    .map_err(tx.err())?
                    .found(&req.name, Error::NetworkNotFound)?;
                let ep = allocate_endpoint(tx, container_id, &n, req, existing.len() + i)?;
                out.endpoints.push(ep);
            }
            let target = existing
                .iter()
                .chain(&out.endpoints)
                .find(|e| e.ipv4.is_some() || e.ipv6.is_some())
                .map(|e| e.network_id.clone());
            let mut offset = u16::from_le_bytes(random);
            for p in ports {
                let held = held_ports(tx, p.protocol).map_err(tx.err())?;
                let taken = |port: u16| {
                    held.iter()
                        .any(|(ip, hp)| *hp == port && conflicts(*ip, p.host_ip))
                };
                let any = p.host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
                let host_port = if p.host_port == 0 {
                    let start = *EPHEMERAL_PORTS.start();
                    let span = EPHEMERAL_PORTS.end() - start + 1;
                    let free = (0..span)
                        .map(|k| start + offset.wrapping_add(k) % span)
                        .find(|port| !taken(*port));
                    let Some(free) = free else {
                        return Err(Error::StateConflict(
                            "no free host port left to publish".into(),
                        ));
                    };
                    offset = offset.wrapping_add(1);
                    free
                } else if p.host_port_end > p.host_port {
                    let Some(free) = (p.host_port..=p.host_port_end).find(|port| !taken(*port))
                    else {
                        return Err(Error::StateConflict(format!(
                            "Bind for {}-{} failed: port is already allocated",
                            SocketAddr::new(any, p.host_port),
                            p.host_port_end
                        )));
                    };
                    free
                } else if taken(p.host_port) {
                    return Err(Error::StateConflict(format!(
                        "Bind for {} failed: port is already allocated",
                        SocketAddr::new(any, p.host_port)
                    )));
                } else {
                    p.host_port
                };
                let port = PublishedPort {
                    container_id: container_id.to_owned(),
                    network_id: target.clone(),
                    host_ip: p.host_ip,
                    host_port,
                    container_port: p.container_port,
                    protocol: p.protocol,
                };
                tx.execute(
                    "INSERT INTO ports (container_id, network_id, host_ip, host_port,
                     container_port, protocol) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        port.container_id,
                        port.network_id,
                        port.host_ip.map(|ip| ip.to_string()).unwrap_or_default(),
                        port.host_port,
                        port.container_port,
                        port.protocol.as_str()
                    ],
                )
                .map_err(tx.err())?;
                out.ports.push(port);
            }
            Ok(out)
        })
    }

    /// Frees the rows of containers that are gone or not live (an owner
    /// that died between recording the exit and releasing, a start that
    /// failed before its release): endpoint and port rows exist only
    /// while a container is starting, running or restarting. A read
    /// first, so the reconcile of every command writes only when there is
    /// something to free. Returns whether it freed anything.
    pub fn release_orphans(&mut self) -> Result<bool> {
        const ORPHANS: &str = "SELECT container_id FROM endpoints
             UNION SELECT container_id FROM ports
             EXCEPT SELECT id FROM containers
             WHERE state IN ('starting', 'running', 'restarting', 'paused')";
        let any: bool = self
            .conn
            .query_row(&format!("SELECT EXISTS ({ORPHANS})"), [], |r| r.get(0))
            .map_err(self.err())?;
        if !any {
            return Ok(false);
        }
        self.immediate(|tx| {
            tx.execute(
                &format!("DELETE FROM endpoints WHERE container_id IN ({ORPHANS})"),
                [],
            )
            .map_err(tx.err())?;
            tx.execute(
                &format!("DELETE FROM ports WHERE container_id IN ({ORPHANS})"),
                [],
            )
            .map_err(tx.err())?;
            Ok(true)
        })
    }

    /// The container's endpoints and ports are gone (it exited).
    pub fn release(&mut self, container_id: &str) -> Result<()> {
        self.immediate(|tx| release_in(tx, container_id).map_err(tx.err()))
    }

    /// One network's endpoint of a container (`network disconnect` of a
    /// running container), with the ports forwarded to it.
    pub fn release_network(&mut self, container_id: &str, network_id: &str) -> Result<()> {
        self.immediate(|tx| {
            tx.execute(
                "DELETE FROM endpoints WHERE container_id = ?1 AND network_id = ?2",
                [container_id, network_id],
            )
            .map_err(tx.err())?;
            tx.execute(
                "DELETE FROM ports WHERE container_id = ?1 AND network_id = ?2",
                [container_id, network_id],
            )
            .map_err(tx.err())?;
            Ok(())
        })
    }

    /// A container's endpoints, `eth0` first.
    pub fn endpoints(&self, container_id: &str) -> Result<Vec<Endpoint>> {
        endpoints_where(&self.conn, "container_id = ?1", container_id).map_err(self.err())
    }

    /// A network's endpoints (`network inspect`'s Containers).
    pub fn network_endpoints(&self, network_id: &str) -> Result<Vec<Endpoint>> {
        endpoints_where(&self.conn, "network_id = ?1", network_id).map_err(self.err())
    }

    /// A container's published ports.
    pub fn published_ports(&self, container_id: &str) -> Result<Vec<PublishedPort>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT container_id, network_id, host_ip, host_port, container_port, protocol
                 FROM ports WHERE container_id = ?1 ORDER BY rowid",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([container_id], port_from_row)
            .map_err(self.err())?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())?;
        Ok(rows)
    }

    /// Everything the nft table is rendered from, read in one snapshot.
    pub fn active(&self) -> Result<Active> {
        let read = || -> rusqlite::Result<Active> {
            let tx = self.conn.unchecked_transaction()?;
            let networks = all_networks(&tx)?;
            let mut stmt = tx.prepare(&format!(
                "SELECT {ENDPOINT_COLUMNS} FROM endpoints ORDER BY container_id, ifname"
            ))?;
            let endpoints = stmt
                .query_map([], endpoint_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut stmt = tx.prepare(
                "SELECT container_id, network_id, host_ip, host_port, container_port, protocol
                 FROM ports ORDER BY host_port, protocol, rowid",
            )?;
            let ports = stmt
                .query_map([], port_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let ports = ports
                .into_iter()
                .map(|port| {
                    let ep = endpoints.iter().find(|e| {
                        e.container_id == port.container_id
                            && Some(&e.network_id) == port.network_id.as_ref()
                    });
                    let bridge = networks
                        .iter()
                        .find(|n| Some(&n.id) == port.network_id.as_ref())
                        .map(|n| n.bridge.clone())
                        .unwrap_or_default();
                    ActivePort {
                        ipv4: ep.and_then(|e| e.ipv4),
                        ipv6: ep.and_then(|e| e.ipv6),
                        bridge,
                        port,
                    }
                })
                .collect();
            let networks = networks
                .into_iter()
                .map(|n| {
                    let eps = endpoints
                        .iter()
                        .filter(|e| e.network_id == n.id)
                        .cloned()
                        .collect();
                    (n, eps)
                })
                .collect();
            Ok(Active { networks, ports })
        };
        read().map_err(self.err())
    }

    /// The names the DNS responder of `container_id` answers: every
    /// container (itself included) on a user network it is on, with its
    /// names there (name, aliases, 12-char short id, hostname; Docker's
    /// order, deduplicated) and addresses. The default `bridge` has no
    /// name resolution.
    pub fn dns_records(&self, container_id: &str) -> Result<Vec<DnsRecord>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT e2.container_id, e2.network_id, e2.ipv4, e2.ipv6, e2.aliases,
                        c.name, COALESCE(json_extract(c.config, '$.hostname'), ''), n.name
                 FROM endpoints e1
                 JOIN endpoints e2 ON e2.network_id = e1.network_id
                 JOIN networks n ON n.id = e1.network_id
                 JOIN containers c ON c.id = e2.container_id
                 WHERE e1.container_id = ?1 AND n.name NOT IN ('bridge', 'host', 'none')
                 ORDER BY e1.ifname, c.name",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([container_id], |r| {
                let id: String = r.get(0)?;
                let ipv4: Option<String> = r.get(2)?;
                let ipv6: Option<String> = r.get(3)?;
                let aliases: String = r.get(4)?;
                let aliases: Vec<String> = serde_json::from_str(&aliases).unwrap_or_default();
                let name: String = r.get(5)?;
                let hostname: String = r.get(6)?;
                let short = id[..12.min(id.len())].to_owned();
                let mut names: Vec<String> = Vec::new();
                for n in std::iter::once(name)
                    .chain(aliases)
                    .chain([short, hostname])
                {
                    if !n.is_empty() && !names.contains(&n) {
                        names.push(n);
                    }
                }
                Ok(DnsRecord {
                    network_id: r.get(1)?,
                    network_name: r.get(7)?,
                    container_id: id,
                    names,
                    ipv4: ipv4.and_then(|s| s.parse::<Ipv4Addr>().ok()),
                    ipv6: ipv6.and_then(|s| s.parse::<Ipv6Addr>().ok()),
                })
            })
            .map_err(self.err())?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())?;
        Ok(rows)
    }

    /// Replaces a (not running) container's network requests and mode
    /// (`network connect`/`disconnect`), as `set_config` without an event.
    pub fn set_container_networks(&self, id: &str, config: &ContainerConfig) -> Result<()> {
        let config = serde_json::to_string(config).expect("config serializes");
        self.conn
            .execute(
                "UPDATE containers SET config = ?2 WHERE id = ?1",
                params![id, config],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// The records answering `name` (case-insensitive, a trailing dot
    /// allowed) for `container_id`'s resolver.
    pub fn dns_lookup(&self, container_id: &str, name: &str) -> Result<Vec<DnsRecord>> {
        let name = name.trim_end_matches('.');
        Ok(self
            .dns_records(container_id)?
            .into_iter()
            .filter(|r| r.names.iter().any(|n| n.eq_ignore_ascii_case(name)))
            .collect())
    }
}

fn allocate_endpoint(
    tx: &Tx,
    container_id: &str,
    n: &Network,
    req: &NetworkRequest,
    index: usize,
) -> Result<Endpoint> {
    if matches!(n.driver, Driver::Host | Driver::Null) {
        return Err(Error::BadRequest(format!(
            "container cannot be disconnected from host network or connected to {} network",
            n.name
        )));
    }
    let taken: bool = tx
        .query_row(
            "SELECT COUNT(*) > 0 FROM endpoints WHERE container_id = ?1 AND network_id = ?2",
            [container_id, &n.id],
            |r| r.get(0),
        )
        .map_err(tx.err())?;
    if taken {
        let name: String = tx
            .query_row(
                "SELECT name FROM containers WHERE id = ?1",
                [container_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(tx.err())?
            .unwrap_or_else(|| container_id.to_owned());
        return Err(Error::StateConflict(format!(
            "endpoint with name {name} already exists in network {}",
            n.name
        )));
    }
    let used = used_addresses(tx, &n.id).map_err(tx.err())?;
    let pick = |cfg: Option<&SubnetConfig>, fixed: Option<IpAddr>, family: u8| match (cfg, fixed) {
        (Some(cfg), Some(ip)) => {
            ipam::check_fixed(cfg, ip, &used)?;
            Ok(Some(ip))
        }
        (Some(cfg), None) => ipam::next_free(cfg, &used)
            .map(Some)
            .ok_or(IpamError::NoAvailable { family }),
        (None, Some(ip)) => Err(IpamError::NotInSubnet {
            addr: ip.to_string(),
        }),
        (None, None) => Ok(None),
    };
    let ipv4 = match pick(n.subnet_v4(), req.ip.map(IpAddr::V4), 4)? {
        Some(IpAddr::V4(a)) => Some(a),
        _ => None,
    };
    let v6cfg = if n.ipv6 { n.subnet_v6() } else { None };
    let ipv6 = match pick(v6cfg, req.ip6.map(IpAddr::V6), 6)? {
        Some(IpAddr::V6(a)) => Some(a),
        _ => None,
    };
    let mac = match &req.mac {
        Some(m) => {
            let parsed = ipam::parse_mac(m)
                .ok_or_else(|| Error::BadRequest(format!("{m} is not a valid mac address")))?;
            ipam::format_mac(&parsed)
        }
        None => match ipv4 {
            Some(a) => ipam::format_mac(&ipam::mac_from_ipv4(a)),
            None => ipam::format_mac(&ipam::random_mac()?),
        },
    };
    let ep = Endpoint {
        container_id: container_id.to_owned(),
        network_id: n.id.clone(),
        ifname: format!("eth{index}"),
        host_ifname: format!("vb{}", &crate::model::new_id()?[..12]),
        ipv4,
        ipv6,
        mac,
        aliases: req.aliases.clone(),
    };
    let inserted = tx.execute(
        &format!(
            "INSERT INTO endpoints ({ENDPOINT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ),
        params![
            ep.container_id,
            ep.network_id,
            ep.ifname,
            ep.host_ifname,
            ep.ipv4.map(|a| a.to_string()),
            ep.ipv6.map(|a| a.to_string()),
            ep.mac,
            serde_json::to_string(&ep.aliases).expect("strings serialize"),
        ],
    );
    match inserted {
        Ok(_) => Ok(ep),
        // UNIQUE(network_id, ipv4/ipv6): only reachable if the check above
        // missed a row; Docker's words all the same.
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(Error::Ipam(IpamError::AddressInUse))
        }
        Err(e) => Err(tx.err()(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Container, State};
    use crate::store::owner::ProcessId;

    struct TempDir(std::path::PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!(
                "berth-networks-{tag}-{}-{}",
                std::process::id(),
                &crate::model::new_id().unwrap()[..8]
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn create(db: &mut Db, name: &str, f: impl FnOnce(&mut NetworkCreate)) -> Result<Network> {
        let mut o = NetworkCreate {
            name: name.into(),
            ..Default::default()
        };
        f(&mut o);
        db.create_network(&o, &[])
    }

    fn container(db: &mut Db, name: &str, hostname: &str) -> String {
        let id = crate::model::new_id().unwrap();
        let c = Container {
            id: id.clone(),
            name: name.into(),
            image_id: "sha256:00".into(),
            config: ContainerConfig {
                hostname: hostname.into(),
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
        };
        db.insert(&c).unwrap();
        id
    }

    fn on(name: &str) -> NetworkRequest {
        NetworkRequest {
            name: name.into(),
            ..Default::default()
        }
    }

    fn port(host_ip: Option<&str>, host_port: u16, protocol: &str) -> PortMapping {
        PortMapping {
            host_ip: host_ip.map(|s| s.parse().unwrap()),
            host_port,
            host_port_end: host_port,
            container_port: 80,
            protocol: protocol.parse().unwrap(),
        }
    }

    fn count(db: &Db, table: &str) -> i64 {
        db.conn
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn defaults_then_user_networks_take_docker_pools() {
        let dir = TempDir::new("pools");
        let mut db = Db::open(&dir.0).unwrap();
        // A user network made before the default bridge leaves it 172.17.
        let a = create(&mut db, "a", |_| {}).unwrap();
        assert_eq!(a.subnets[0].subnet.to_string(), "172.18.0.0/16");
        assert_eq!(a.subnets[0].gateway.to_string(), "172.18.0.1");
        assert_eq!(a.bridge, format!("br-{}", &a.id[..12]));
        db.ensure_default_networks(&["172.17.5.0/24".parse().unwrap()])
            .unwrap();
        let bridge = db.network("bridge").unwrap();
        // 172.17/16 was on a host route: the next free pool.
        assert_eq!(bridge.subnets[0].subnet.to_string(), "172.19.0.0/16");
        assert_eq!(bridge.bridge, "berth0");
        assert_eq!(db.network("host").unwrap().driver, Driver::Host);
        assert_eq!(db.network("none").unwrap().driver, Driver::Null);
        db.ensure_default_networks(&[]).unwrap();
        assert_eq!(db.networks().unwrap().len(), 4);
        let b = create(&mut db, "b", |_| {}).unwrap();
        assert_eq!(b.subnets[0].subnet.to_string(), "172.20.0.0/16");
        // Prefix lookups, errors in Docker's words.
        assert_eq!(db.network(&b.id[..10]).unwrap().name, "b");
        assert_eq!(
            db.network("nope").unwrap_err().to_string(),
            "No such network: nope"
        );
        assert_eq!(
            create(&mut db, "b", |_| {}).unwrap_err().to_string(),
            "network with name b already exists"
        );
        assert_eq!(
            create(&mut db, "c", |o| o.subnets = vec!["172.20.1.0/24".into()])
                .unwrap_err()
                .to_string(),
            "Pool overlaps with other one on this address space"
        );
        assert_eq!(
            create(&mut db, "c", |o| o.driver = "overlay".into())
                .unwrap_err()
                .to_string(),
            "plugin \"overlay\" not found"
        );
        let v6 = create(&mut db, "v6", |o| o.ipv6 = true).unwrap();
        assert!(v6.ipv6);
        assert_eq!(v6.subnets.len(), 2);
        assert_eq!(v6.subnet_v6().unwrap().subnet.prefix_len(), 64);
        let dual = create(&mut db, "dual", |o| {
            o.subnets = vec!["10.9.0.0/24".into(), "fd00:9::/64".into()];
            o.gateways = vec!["10.9.0.254".into()];
        })
        .unwrap();
        assert!(dual.ipv6);
        assert_eq!(dual.subnet_v4().unwrap().gateway.to_string(), "10.9.0.254");
        assert_eq!(dual.subnet_v6().unwrap().gateway.to_string(), "fd00:9::1");
        // macvlan/ipvlan: Docker's checks; no parent is internal.
        let opt = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
        assert_eq!(
            create(&mut db, "m", |o| {
                o.driver = "macvlan".into();
                o.options = opt("macvlan_mode", "nope");
            })
            .unwrap_err()
            .to_string(),
            "requested macvlan mode 'nope' is not valid, 'bridge' mode is the macvlan driver default"
        );
        assert_eq!(
            create(&mut db, "m", |o| {
                o.driver = "ipvlan".into();
                o.options = opt("parent", "lo");
            })
            .unwrap_err()
            .to_string(),
            "loopback interface is not a valid ipvlan parent link"
        );
        let m = create(&mut db, "m", |o| o.driver = "macvlan".into()).unwrap();
        assert!(m.internal);
        assert!(m.bridge.is_empty());
        let m2 = create(&mut db, "m2", |o| {
            o.driver = "macvlan".into();
            o.options = opt("parent", "eth0");
        })
        .unwrap();
        assert!(!m2.internal);
        assert_eq!(
            create(&mut db, "m3", |o| {
                o.driver = "ipvlan".into();
                o.options = opt("parent", "eth0");
            })
            .unwrap_err()
            .to_string(),
            format!("network {} is already using parent interface eth0", m2.id)
        );
        // Nothing half-made by the failures.
        assert_eq!(count(&db, "networks"), 9);
    }

    #[test]
    fn allocate_first_free_fixed_and_atomic() {
        let dir = TempDir::new("alloc");
        let mut db = Db::open(&dir.0).unwrap();
        db.ensure_default_networks(&[]).unwrap();
        let n = create(&mut db, "n", |o| {
            o.subnets = vec!["10.5.0.0/24".into(), "fd00:5::/64".into()]
        })
        .unwrap();
        let (c1, c2, c3) = (
            container(&mut db, "c1", ""),
            container(&mut db, "c2", ""),
            container(&mut db, "c3", ""),
        );
        let a1 = db.allocate(&c1, &[on("n"), on("bridge")], &[]).unwrap();
        assert_eq!(a1.endpoints[0].ipv4, Some("10.5.0.2".parse().unwrap()));
        assert_eq!(a1.endpoints[0].ipv6, Some("fd00:5::2".parse().unwrap()));
        assert_eq!(a1.endpoints[0].mac, "02:42:0a:05:00:02");
        assert_eq!(a1.endpoints[0].ifname, "eth0");
        assert_eq!(a1.endpoints[1].ifname, "eth1");
        assert_eq!(a1.endpoints[1].ipv4, Some("172.17.0.2".parse().unwrap()));
        assert_eq!(a1.endpoints[1].ipv6, None, "bridge is IPv4 only");
        assert!(a1.endpoints[0].host_ifname.starts_with("vb"));
        assert_eq!(a1.endpoints[0].host_ifname.len(), 14);
        let fixed = NetworkRequest {
            ip: Some("10.5.0.9".parse().unwrap()),
            ..on(&n.id)
        };
        let a2 = db.allocate(&c2, std::slice::from_ref(&fixed), &[]).unwrap();
        assert_eq!(a2.endpoints[0].ipv4, Some("10.5.0.9".parse().unwrap()));
        // Taken: Docker's words, and c3's other request is not recorded.
        let err = db.allocate(&c3, &[on("bridge"), fixed], &[]).unwrap_err();
        assert_eq!(err.to_string(), "Address already in use");
        assert!(db.endpoints(&c3).unwrap().is_empty());
        let gw = NetworkRequest {
            ip: Some("10.5.0.1".parse().unwrap()),
            ..on("n")
        };
        assert_eq!(
            db.allocate(&c3, &[gw], &[]).unwrap_err().to_string(),
            "Address already in use"
        );
        assert_eq!(
            db.allocate(&c3, &[on("gone")], &[])
                .unwrap_err()
                .to_string(),
            "network gone not found"
        );
        assert_eq!(
            db.allocate(&c1, &[on("n")], &[]).unwrap_err().to_string(),
            "endpoint with name c1 already exists in network n"
        );
        let a3 = db.allocate(&c3, &[on("n")], &[]).unwrap();
        assert_eq!(a3.endpoints[0].ipv4, Some("10.5.0.3".parse().unwrap()));
        // Released: c1's address is the first free again.
        db.release(&c1).unwrap();
        assert!(db.endpoints(&c1).unwrap().is_empty());
        let again = db.allocate(&c1, &[on("n")], &[]).unwrap();
        assert_eq!(again.endpoints[0].ipv4, Some("10.5.0.2".parse().unwrap()));
        // Deleting a container frees its rows too.
        db.delete(&c1).unwrap();
        assert_eq!(db.network_endpoints(&n.id).unwrap().len(), 2);
    }

    #[test]
    fn full_network_and_ip_range() {
        let dir = TempDir::new("full");
        let mut db = Db::open(&dir.0).unwrap();
        create(&mut db, "tiny", |o| {
            o.subnets = vec!["10.6.0.0/24".into()];
            o.ip_ranges = vec!["10.6.0.128/31".into()];
        })
        .unwrap();
        let ips: Vec<String> = (0..2)
            .map(|i| {
                let c = container(&mut db, &format!("t{i}"), "");
                let a = db.allocate(&c, &[on("tiny")], &[]).unwrap();
                a.endpoints[0].ipv4.unwrap().to_string()
            })
            .collect();
        assert_eq!(ips, ["10.6.0.128", "10.6.0.129"]);
        let c = container(&mut db, "t2", "");
        assert_eq!(
            db.allocate(&c, &[on("tiny")], &[]).unwrap_err().to_string(),
            "no available IPv4 addresses on this network's address pools"
        );
    }

    #[test]
    fn ports_conflict_and_random() {
        let dir = TempDir::new("ports");
        let mut db = Db::open(&dir.0).unwrap();
        db.ensure_default_networks(&[]).unwrap();
        let (c1, c2) = (container(&mut db, "p1", ""), container(&mut db, "p2", ""));
        let a = db
            .allocate(
                &c1,
                &[on("bridge")],
                &[
                    port(None, 8080, "tcp"),
                    port(None, 0, "tcp"),
                    port(None, 0, "tcp"),
                ],
            )
            .unwrap();
        assert_eq!(a.ports[0].host_port, 8080);
        assert_eq!(
            a.ports[0].network_id,
            Some(a.endpoints[0].network_id.clone())
        );
        assert!(EPHEMERAL_PORTS.contains(&a.ports[1].host_port));
        assert!(EPHEMERAL_PORTS.contains(&a.ports[2].host_port));
        assert_ne!(a.ports[1].host_port, a.ports[2].host_port);
        let mut err = |p: PortMapping| {
            let e = db.allocate(&c2, &[on("bridge")], &[p]).unwrap_err();
            assert!(db.endpoints(&c2).unwrap().is_empty(), "rolled back");
            e.to_string()
        };
        assert_eq!(
            err(port(None, 8080, "tcp")),
            "Bind for 0.0.0.0:8080 failed: port is already allocated"
        );
        assert_eq!(
            err(port(Some("127.0.0.1"), 8080, "tcp")),
            "Bind for 127.0.0.1:8080 failed: port is already allocated"
        );
        // Another protocol or a port released is free.
        db.allocate(&c2, &[on("bridge")], &[port(None, 8080, "udp")])
            .unwrap();
        db.release(&c1).unwrap();
        db.release(&c2).unwrap();
        db.allocate(
            &c2,
            &[on("bridge")],
            &[port(Some("127.0.0.1"), 8080, "tcp")],
        )
        .unwrap();
        assert_eq!(
            db.allocate(
                &c1,
                &[],
                &[
                    port(Some("::1"), 9090, "tcp"),
                    port(Some("::1"), 9090, "tcp")
                ]
            )
            .unwrap_err()
            .to_string(),
            "Bind for [::1]:9090 failed: port is already allocated"
        );
        // A host range: its first free port, Docker's words when none is.
        let range = |a, b| PortMapping {
            host_port_end: b,
            ..port(None, a, "tcp")
        };
        let r = db.allocate(&c1, &[], &[range(8080, 8082)]).unwrap();
        assert_eq!(r.ports[0].host_port, 8081, "8080 is c2's");
        assert_eq!(
            db.allocate(&c1, &[], &[range(8080, 8081)])
                .unwrap_err()
                .to_string(),
            "Bind for 0.0.0.0:8080-8081 failed: port is already allocated"
        );
        db.release(&c1).unwrap();
        let active = db.active().unwrap();
        assert_eq!(active.ports.len(), 1);
        assert_eq!(active.ports[0].bridge, "berth0");
        assert_eq!(active.ports[0].ipv4, Some("172.17.0.2".parse().unwrap()));
        // The nft table's input: the bridge in use and c2's one port.
        let rules = active.ruleset();
        assert_eq!(rules.networks.len(), 1, "only networks with containers");
        assert_eq!(rules.networks[0].bridge, "berth0");
        assert_eq!(rules.ports.len(), 1);
        assert_eq!(rules.ports[0].host_port, 8080);
        assert_eq!(rules.ports[0].container_ip.to_string(), "172.17.0.2");
    }

    #[test]
    fn ruleset_forwards_each_family_the_host_address_allows() {
        let dir = TempDir::new("ruleset");
        let mut db = Db::open(&dir.0).unwrap();
        create(&mut db, "dual", |o| {
            o.subnets = vec!["10.12.0.0/24".into(), "fd00:12::/64".into()];
            o.internal = true;
        })
        .unwrap();
        create(&mut db, "idle", |_| {}).unwrap();
        create(&mut db, "mv", |o| o.driver = "macvlan".into()).unwrap();
        let c = container(&mut db, "d", "");
        let m = container(&mut db, "m", "");
        db.allocate(
            &c,
            &[on("dual")],
            &[
                port(None, 80, "tcp"),
                port(Some("127.0.0.1"), 81, "udp"),
                port(Some("::1"), 82, "sctp"),
            ],
        )
        .unwrap();
        db.allocate(&m, &[on("mv")], &[port(None, 90, "tcp")])
            .unwrap();
        let r = db.active().unwrap().ruleset();
        // every bridge network, used or not (the macvlan one has no rules)
        assert_eq!(r.networks.len(), 2, "{r:?}");
        let dual = r
            .networks
            .iter()
            .find(|n| n.internal)
            .expect("the dual network");
        assert_eq!(dual.subnets.len(), 2);
        let fwd: Vec<String> = r
            .ports
            .iter()
            .map(|p| format!("{}/{} {}", p.host_port, p.protocol.as_str(), p.container_ip))
            .collect();
        assert_eq!(
            fwd,
            [
                "80/tcp 10.12.0.2",
                "80/tcp fd00:12::2",
                "81/udp 10.12.0.2",
                "82/sctp fd00:12::2"
            ]
        );
    }

    #[test]
    fn remove_refusals() {
        let dir = TempDir::new("rm");
        let mut db = Db::open(&dir.0).unwrap();
        db.ensure_default_networks(&[]).unwrap();
        create(&mut db, "busy", |_| {}).unwrap();
        let c = container(&mut db, "web", "");
        db.allocate(&c, &[on("busy")], &[]).unwrap();
        assert_eq!(
            db.remove_network("busy").unwrap_err().to_string(),
            format!(
                "error while removing network: network busy has active endpoints (name:\"web\" id:\"{}\")",
                &c[..12]
            )
        );
        assert_eq!(
            db.remove_network("bridge").unwrap_err().to_string(),
            "bridge is a pre-defined network and cannot be removed"
        );
        assert_eq!(
            db.remove_network("nope").unwrap_err().to_string(),
            "network nope not found"
        );
        db.release(&c).unwrap();
        assert_eq!(db.remove_network("busy").unwrap().name, "busy");
        assert!(db.network("busy").is_err());
    }

    #[test]
    fn dns_records_on_shared_user_networks() {
        let dir = TempDir::new("dns");
        let mut db = Db::open(&dir.0).unwrap();
        db.ensure_default_networks(&[]).unwrap();
        create(&mut db, "front", |o| o.subnets = vec!["10.7.0.0/24".into()]).unwrap();
        create(&mut db, "back", |o| o.subnets = vec!["10.8.0.0/24".into()]).unwrap();
        let web = container(&mut db, "web", "webhost");
        let db_c = container(&mut db, "db", "");
        let other = container(&mut db, "other", "");
        let lone = container(&mut db, "lone", "");
        db.allocate(&web, &[on("front"), on("back")], &[]).unwrap();
        let req = NetworkRequest {
            aliases: vec!["database".into(), "db".into()],
            ..on("back")
        };
        db.allocate(&db_c, &[req], &[]).unwrap();
        db.allocate(&other, &[on("front")], &[]).unwrap();
        db.allocate(&lone, &[on("bridge")], &[]).unwrap();
        let recs = db.dns_records(&other).unwrap();
        let names: Vec<&str> = recs.iter().map(|r| r.names[0].as_str()).collect();
        assert_eq!(names, ["other", "web"], "only front's containers");
        let found = db.dns_lookup(&web, "DATABASE.").unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].names,
            vec!["db".to_owned(), "database".into(), db_c[..12].to_owned()]
        );
        assert_eq!(found[0].ipv4, Some("10.8.0.3".parse().unwrap()));
        let host = db.dns_lookup(&db_c, "webhost").unwrap();
        assert_eq!(host[0].ipv4, Some("10.8.0.2".parse().unwrap()));
        // The default bridge resolves no names.
        assert!(db.dns_records(&lone).unwrap().is_empty());
        assert!(db.dns_lookup(&other, "db").unwrap().is_empty());
    }

    #[test]
    fn reconcile_releases_a_dead_owners_rows() {
        let dir = TempDir::new("reconcile");
        let mut db = Db::open(&dir.0).unwrap();
        db.ensure_default_networks(&[]).unwrap();
        let c = container(&mut db, "dead", "");
        db.allocate(&c, &[on("bridge")], &[port(None, 80, "tcp")])
            .unwrap();
        let me = ProcessId::current();
        db.conn
            .execute(
                "UPDATE containers SET state = 'running', monitor_pid = ?2, monitor_start = ?3 WHERE id = ?1",
                params![c, me.pid, me.start_time as i64],
            )
            .unwrap();
        assert!(db.reconciled(&c, me, 255, "gone", "now").unwrap());
        assert!(db.endpoints(&c).unwrap().is_empty());
        assert_eq!(count(&db, "ports"), 0);
    }

    #[test]
    fn orphans_released_live_kept() {
        let dir = TempDir::new("orphans");
        let mut db = Db::open(&dir.0).unwrap();
        db.ensure_default_networks(&[]).unwrap();
        let live = container(&mut db, "live", "");
        let stopped = container(&mut db, "stopped", "");
        db.allocate(&live, &[on("bridge")], &[port(None, 80, "tcp")])
            .unwrap();
        db.allocate(&stopped, &[on("bridge")], &[port(None, 81, "tcp")])
            .unwrap();
        db.allocate("gone", &[on("bridge")], &[port(None, 82, "tcp")])
            .unwrap();
        db.conn
            .execute(
                "UPDATE containers SET state = 'running' WHERE id = ?1",
                [&live],
            )
            .unwrap();
        assert!(db.release_orphans().unwrap());
        assert!(!db.release_orphans().unwrap(), "nothing left to free");
        assert_eq!(db.endpoints(&live).unwrap().len(), 1);
        assert!(db.endpoints(&stopped).unwrap().is_empty());
        assert!(db.endpoints("gone").unwrap().is_empty());
        assert_eq!(count(&db, "ports"), 1);
    }

    const CHILD_DB: &str = "BERTH_TEST_NETWORKS_CHILD_DB";
    const PARALLEL: usize = 20;

    /// The child side of `concurrent_allocations_from_processes` (does
    /// nothing when run on its own).
    #[test]
    fn child_allocate() {
        let Ok(dir) = std::env::var(CHILD_DB) else {
            return;
        };
        let id = std::env::var("BERTH_TEST_NETWORKS_CHILD_ID").unwrap();
        let mut db = Db::open(std::path::Path::new(&dir)).unwrap();
        db.allocate(
            &id,
            &[on("race")],
            &[port(None, 0, "tcp"), port(None, 7000, "udp")],
        )
        .map(|_| ())
        .unwrap_or_else(|e| {
            // Exactly one child gets udp 7000.
            assert!(e.to_string().contains("port is already allocated"), "{e}");
            db.allocate(&id, &[on("race")], &[port(None, 0, "tcp")])
                .unwrap();
        });
    }

    fn check_race(db: &Db, ids: &[String]) {
        let eps: Vec<Endpoint> = ids
            .iter()
            .flat_map(|id| db.endpoints(id).unwrap())
            .collect();
        assert_eq!(eps.len(), PARALLEL);
        let ips: BTreeSet<_> = eps.iter().map(|e| e.ipv4.unwrap()).collect();
        assert_eq!(ips.len(), PARALLEL, "no address given twice");
        let first: Ipv4Addr = "10.77.0.2".parse().unwrap();
        let last = Ipv4Addr::from(u32::from(first) + PARALLEL as u32 - 1);
        assert_eq!(ips.first(), Some(&first));
        assert_eq!(ips.last(), Some(&last), "first free, no gaps");
        let active = db.active().unwrap();
        let tcp: BTreeSet<u16> = active
            .ports
            .iter()
            .filter(|p| p.port.protocol == Protocol::Tcp)
            .map(|p| p.port.host_port)
            .collect();
        assert_eq!(tcp.len(), PARALLEL, "no random port given twice");
        let udp = active
            .ports
            .iter()
            .filter(|p| p.port.protocol == Protocol::Udp);
        assert_eq!(udp.count(), 1);
    }

    #[test]
    fn concurrent_allocations_from_processes() {
        let dir = TempDir::new("race-proc");
        let mut db = Db::open(&dir.0).unwrap();
        create(&mut db, "race", |o| o.subnets = vec!["10.77.0.0/16".into()]).unwrap();
        let ids: Vec<String> = (0..PARALLEL)
            .map(|i| container(&mut db, &format!("r{i}"), ""))
            .collect();
        let exe = std::env::current_exe().unwrap();
        let children: Vec<_> = ids
            .iter()
            .map(|id| {
                std::process::Command::new(&exe)
                    .args([
                        "--exact",
                        "store::networks::tests::child_allocate",
                        "--quiet",
                    ])
                    .env(CHILD_DB, &dir.0)
                    .env("BERTH_TEST_NETWORKS_CHILD_ID", id)
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success(), "a child failed");
        }
        check_race(&db, &ids);
    }

    #[test]
    fn concurrent_allocations_from_threads() {
        let dir = TempDir::new("race-thread");
        let mut db = Db::open(&dir.0).unwrap();
        create(&mut db, "race", |o| o.subnets = vec!["10.77.0.0/16".into()]).unwrap();
        let ids: Vec<String> = (0..PARALLEL)
            .map(|i| container(&mut db, &format!("r{i}"), ""))
            .collect();
        let barrier = std::sync::Barrier::new(PARALLEL);
        std::thread::scope(|s| {
            for id in &ids {
                let (root, barrier) = (&dir.0, &barrier);
                s.spawn(move || {
                    let mut db = Db::open(root).unwrap();
                    barrier.wait();
                    let udp = db.allocate(
                        id,
                        &[on("race")],
                        &[port(None, 0, "tcp"), port(None, 7000, "udp")],
                    );
                    if udp.is_err() {
                        db.allocate(id, &[on("race")], &[port(None, 0, "tcp")])
                            .unwrap();
                    }
                });
            }
        });
        check_race(&db, &ids);
    }
}
