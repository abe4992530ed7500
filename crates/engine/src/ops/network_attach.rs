//! A container's networks while it runs: what the monitor does around the
//! runtime's `create` (addresses from the database, the `/etc` files, then
//! the kernel objects in the init's network namespace and the nft table),
//! what it undoes at the exit, and the same for `network connect` and
//! `disconnect` of a running container.
//!
//! The netns is never bind-mounted: when the container's last process
//! exits the kernel destroys it with its veth ends, so host-side cleanup
//! never depends on entering it. What outlives a container is host-side
//! only: its database rows and its nft rules (both redone from the
//! database here and by the reconcile), and a veth end a still-living
//! netns keeps (deleted by name, and by [`Engine::sweep_network_orphans`]).

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsFd;
use std::sync::Arc;

use berth_net::dns::{self, Resolver};
use berth_net::netlink::{self, bridge, macvlan, tc, veth, Netlink};
use berth_net::nft;
use berth_net::portspec;
use ipnet::IpNet;

use crate::error::{Error, Result};
use crate::model::network::{Driver, Endpoint, Network, NetworkMode, NetworkRequest};
use crate::model::Container;
use crate::Engine;

/// What a start allocated: written into the `/etc` files before the
/// runtime's `create`, made into kernel objects after it.
#[derive(Debug, Default)]
pub struct Attachment {
    pub endpoints: Vec<Endpoint>,
    /// The servers the container's resolver forwards to.
    pub upstreams: Vec<SocketAddr>,
    /// `none`: the container's own namespace without endpoints, where
    /// only `lo` comes up (bridge and user networks bring it up with
    /// their first endpoint).
    pub loopback_only: bool,
}

impl Attachment {
    /// Nothing to do in the container's namespace: `host` and
    /// `container:` (not its own namespace).
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty() && !self.loopback_only
    }
}

impl Engine {
    /// Before `create`: the container's addresses and published ports
    /// (one database transaction), and its `hosts`/`resolv.conf`. For
    /// `none`, `host` and `container:` only the files (and, for `none`,
    /// the note that its `lo` comes up).
    pub(crate) fn network_prepare(&mut self, c: &Container) -> Result<Attachment> {
        let bundle = self.bundle(&c.id);
        let requests: Vec<NetworkRequest> = self
            .requested_networks(&c.config.networks, &c.config.network_mode)?
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        let mode = c.config.network();
        if !matches!(mode, NetworkMode::Bridge | NetworkMode::User(_)) || requests.is_empty() {
            // written at create; again only for a host-gateway record
            if let Some(gateway) = self.host_gateway(c)? {
                bundle.write_network_files(c, &[], Some(gateway))?;
            }
            return Ok(Attachment {
                loopback_only: mode.private_netns(),
                ..Attachment::default()
            });
        }
        let ports = self.ports_to_publish(c);
        let allocation = self.allocate_network(&c.id, &requests, &ports)?;
        let done = (|| -> Result<Attachment> {
            let addrs: Vec<IpAddr> = allocation
                .endpoints
                .iter()
                .flat_map(|e| {
                    e.ipv4
                        .map(IpAddr::V4)
                        .into_iter()
                        .chain(e.ipv6.map(IpAddr::V6))
                })
                .collect();
            let gateway = self.host_gateway(c)?;
            let upstreams = bundle.write_network_files(c, &addrs, gateway)?;
            Ok(Attachment {
                endpoints: allocation.endpoints,
                loopback_only: false,
                upstreams: upstreams
                    .iter()
                    .map(|u| SocketAddr::new(u.addr, 53))
                    .collect(),
            })
        })();
        if done.is_err() {
            let _ = self.db.release(&c.id);
        }
        done
    }

    /// After `create`, before `start`: the kernel objects for each
    /// endpoint in the init's network namespace, the nft table, and the
    /// resolver at 127.0.0.11 for user networks; for `none` only `lo` up.
    /// On error nothing made here is left (the caller releases the rows).
    pub(crate) fn network_plumb(
        &mut self,
        c: &Container,
        pid: i32,
        a: &Attachment,
    ) -> Result<Option<Resolver>> {
        if a.is_empty() {
            return Ok(None);
        }
        let netns = open_netns(pid).map_err(|e| init_gone(c, pid, e))?;
        if a.endpoints.is_empty() {
            let mut inner = Netlink::open_in(netns.as_fd()).map_err(net_error)?;
            netlink::loopback_up(&mut inner).map_err(net_error)?;
            return Ok(None);
        }
        let mut host = Netlink::open().map_err(net_error)?;
        let mut made = Vec::new();
        let result = (|| -> Result<Option<Resolver>> {
            for ep in &a.endpoints {
                let n = self.db.network(&ep.network_id)?;
                self.plumb_endpoint(&mut host, &netns, &n, ep, c)?;
                made.push(ep.host_ifname.clone());
            }
            self.apply_firewall()?;
            self.start_resolver(c, &netns, a)
        })();
        if result.is_err() {
            for name in made {
                let _ = host.delete_link(&name);
            }
        }
        result
    }

    /// After the exit (or a failed start): the rows go, the nft table is
    /// redone without the container, and a veth end a netns still held
    /// is deleted.
    pub(crate) fn network_release(&mut self, c: &Container) -> Result<()> {
        let endpoints = self.db.endpoints(&c.id)?;
        let ports = self.db.published_ports(&c.id)?;
        if endpoints.is_empty() && ports.is_empty() {
            return Ok(());
        }
        self.db.release(&c.id)?;
        if let Ok(mut nl) = Netlink::open() {
            for ep in &endpoints {
                if !ep.host_ifname.is_empty() {
                    let _ = nl.delete_link(&ep.host_ifname);
                }
            }
        }
        self.apply_firewall()
    }

    /// `network connect` of a running container: one more endpoint,
    /// plumbed live (`eth1`, ...), the table redone, `/etc/hosts` updated
    /// in place (it is bind-mounted: a rename would not be seen).
    pub(crate) fn network_connect_live(
        &mut self,
        c: &Container,
        request: &NetworkRequest,
    ) -> Result<Endpoint> {
        let pid = c.pid;
        let allocation = self.allocate_network(&c.id, std::slice::from_ref(request), &[])?;
        let ep =
            allocation.endpoints.into_iter().next().ok_or_else(|| {
                Error::Network(format!("no endpoint allocated on {}", request.name))
            })?;
        let made = (|| -> Result<()> {
            let netns = open_netns(pid)?;
            let mut host = Netlink::open().map_err(net_error)?;
            let n = self.db.network(&ep.network_id)?;
            self.plumb_endpoint(&mut host, &netns, &n, &ep, c)?;
            self.apply_firewall()?;
            self.rewrite_hosts(c)
        })();
        if let Err(e) = made {
            let _ = self.db.release_network(&c.id, &ep.network_id);
            if let Ok(mut nl) = Netlink::open() {
                let _ = nl.delete_link(&ep.host_ifname);
            }
            let _ = self.apply_firewall();
            return Err(e);
        }
        Ok(ep)
    }

    /// `network disconnect` of a running container: its link on that
    /// network goes (deleting the host end takes the container's end),
    /// then the rows and the rules.
    pub(crate) fn network_disconnect_live(&mut self, c: &Container, n: &Network) -> Result<()> {
        let ep = self
            .db
            .endpoints(&c.id)?
            .into_iter()
            .find(|e| e.network_id == n.id);
        if let Some(ep) = &ep {
            match n.driver {
                Driver::Bridge => {
                    let mut nl = Netlink::open().map_err(net_error)?;
                    nl.delete_link(&ep.host_ifname).map_err(net_error)?;
                }
                _ => {
                    let netns = open_netns(c.pid)?;
                    let mut nl = Netlink::open_in(netns.as_fd()).map_err(net_error)?;
                    nl.delete_link(&ep.ifname).map_err(net_error)?;
                }
            }
        }
        self.db.release_network(&c.id, &n.id)?;
        self.apply_firewall()?;
        self.rewrite_hosts(c)
    }

    /// `update --network-bandwidth-*` of a running container: the new
    /// rates on each of its links now.
    pub(crate) fn network_bandwidth_live(&mut self, c: &Container) -> Result<()> {
        let endpoints = self.db.endpoints(&c.id)?;
        if endpoints.is_empty() {
            return Ok(());
        }
        let netns = open_netns(c.pid)?;
        let mut host = Netlink::open().map_err(net_error)?;
        for ep in &endpoints {
            let n = self.db.network(&ep.network_id)?;
            apply_bandwidth(&mut host, &netns, &n, ep, c)?;
        }
        Ok(())
    }

    /// Rewrites the whole `inet berth` table from the database, under a
    /// lock: two monitors that each read the database and then apply must
    /// not apply an older read over a newer one. A table identical to the
    /// one this root last applied in this network namespace and boot is
    /// not applied again (libnftables costs 10-20 ms a call, most of a
    /// networked `run`'s own cost; a container without published ports
    /// changes nothing).
    pub(crate) fn apply_firewall(&self) -> Result<()> {
        let lock_path = self.root.join("network.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io("open", &lock_path, e))?;
        let _lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::io("lock", &lock_path, e.into()))?;
        let ruleset = self.db.active()?.ruleset();
        let applied = self.root.join("network.applied");
        let stamp = format!(
            "{} {}\n{}",
            crate::store::owner::boot_id(),
            std::fs::read_link("/proc/thread-self/ns/net")
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            nft::script(&ruleset)
        );
        if std::fs::read_to_string(&applied).is_ok_and(|s| s == stamp) {
            return Ok(());
        }
        let _ = std::fs::remove_file(&applied);
        nft::apply(&ruleset).map_err(|e| Error::Network(e.to_string()))?;
        berth_sys::replace_atomic(&applied, stamp.as_bytes())
            .map_err(|e| Error::io("write", &applied, e))
    }

    /// Forgets what [`Engine::apply_firewall`] applied, so that the next
    /// call applies whatever it finds (the sweep: the table may have been
    /// flushed by hand).
    fn forget_firewall(&self) {
        let _ = std::fs::remove_file(self.root.join("network.applied"));
    }

    /// `--add-host NAME:host-gateway`: the default bridge's gateway.
    fn host_gateway(&mut self, c: &Container) -> Result<Option<IpAddr>> {
        if !c
            .config
            .extra_hosts
            .iter()
            .any(|h| h.ends_with(":host-gateway"))
        {
            return Ok(None);
        }
        self.ensure_default_networks()?;
        let n = self.db.network("bridge")?;
        Ok(n.subnet_v4().map(|s| s.gateway))
    }

    /// `-p` plus, with `-P`, every exposed port not published yet.
    fn ports_to_publish(&self, c: &Container) -> Vec<portspec::PortMapping> {
        let mut ports = c.config.publish.clone();
        if c.config.publish_all {
            ports.extend(portspec::publish_all(&c.config.expose, &c.config.publish));
        }
        ports
    }

    fn plumb_endpoint(
        &self,
        host: &mut Netlink,
        netns: &File,
        n: &Network,
        ep: &Endpoint,
        c: &Container,
    ) -> Result<()> {
        let addresses = endpoint_addresses(n, ep);
        // the first network's gateways become the default routes
        let gateways: Vec<IpAddr> = if n.internal || ep.ifname != "eth0" {
            Vec::new()
        } else {
            n.subnets.iter().map(|s| s.gateway).collect()
        };
        let mac = parse_mac(&ep.mac);
        match n.driver {
            Driver::Bridge => {
                let bridge_addrs: Vec<IpNet> = n
                    .subnets
                    .iter()
                    .filter_map(|s| IpNet::new(s.gateway, s.subnet.prefix_len()).ok())
                    .collect();
                let index =
                    bridge::ensure(host, &n.bridge, &bridge_addrs, n.mtu()).map_err(net_error)?;
                bridge_sysctls(n)?;
                veth::attach(
                    host,
                    &veth::VethSpec {
                        host_name: &ep.host_ifname,
                        bridge: index,
                        netns: netns.as_fd(),
                        ifname: &ep.ifname,
                        mac,
                        mtu: n.mtu(),
                        addresses: &addresses,
                        gateways: &gateways,
                    },
                )
                .map_err(net_error)?;
            }
            Driver::Macvlan | Driver::Ipvlan => {
                let parent = n.parent().ok_or_else(|| {
                    Error::Network(format!(
                        "network {} has no parent link (-o parent=IF)",
                        n.name
                    ))
                })?;
                let link = host.link(parent).map_err(net_error)?.ok_or_else(|| {
                    Error::Network(format!(
                        "parent link {parent} of network {} not found",
                        n.name
                    ))
                })?;
                let kind = vlan_kind(n)?;
                macvlan::attach(
                    host,
                    &macvlan::Spec {
                        parent: link.index,
                        kind,
                        netns: netns.as_fd(),
                        ifname: &ep.ifname,
                        mac: if n.driver == Driver::Macvlan {
                            mac
                        } else {
                            None
                        },
                        mtu: n.mtu(),
                        addresses: &addresses,
                        gateways: &gateways,
                    },
                )
                .map_err(net_error)?;
            }
            Driver::Host | Driver::Null => return Ok(()),
        }
        // A new link has no qdisc to remove: no limits, no work (a socket
        // into the netns is a thread and a few round trips per start).
        if c.config.bandwidth.is_empty() {
            return Ok(());
        }
        apply_bandwidth(host, netns, n, ep, c)
    }

    /// The resolver at 127.0.0.11 when the container is on a user
    /// network (the default bridge has no name resolution, as Docker's).
    fn start_resolver(
        &self,
        c: &Container,
        netns: &File,
        a: &Attachment,
    ) -> Result<Option<Resolver>> {
        let mut user = Vec::new();
        for ep in &a.endpoints {
            let n = self.db.network(&ep.network_id)?;
            if n.is_user_defined() {
                user.push(n);
            }
        }
        if user.is_empty() {
            return Ok(None);
        }
        let names = Arc::new(self.dns_names(&c.id)?);
        // Random ports, 127.0.0.11:53 redirected to them inside the
        // netns: the container keeps port 53 for its own programs.
        let config = dns::Config {
            listen: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11)),
            port: 0,
            upstreams: a.upstreams.clone(),
            forward: user.iter().any(|n| !n.internal),
        };
        let resolver = Resolver::start(Some(netns.as_fd()), config, names)
            .map_err(|e| Error::Network(e.to_string()))?;
        let (udp, tcp) = (resolver.udp_addr().port(), resolver.tcp_addr().port());
        netlink::in_netns(netns.as_fd(), || nft::dns::redirect(udp, tcp))
            .map_err(net_error)?
            .map_err(|e| Error::Network(e.to_string()))?;
        Ok(Some(resolver))
    }

    /// `/etc/hosts` after a live connect/disconnect, written in place.
    fn rewrite_hosts(&mut self, c: &Container) -> Result<()> {
        let addrs: Vec<IpAddr> = self
            .db
            .endpoints(&c.id)?
            .iter()
            .flat_map(|e| {
                e.ipv4
                    .map(IpAddr::V4)
                    .into_iter()
                    .chain(e.ipv6.map(IpAddr::V6))
            })
            .collect();
        let gateway = self.host_gateway(c)?;
        self.bundle(&c.id)
            .rewrite_hosts_in_place(c, &addrs, gateway)
    }

    /// Host-side veth ends (`vb…`) no endpoint row names, left by a netns
    /// that outlived its container or a monitor killed mid-start, and the
    /// nft table redone: what the reconcile and `system boot` run after
    /// freeing rows.
    pub(crate) fn sweep_network_orphans(&mut self) -> Result<()> {
        let mut nl = Netlink::open().map_err(net_error)?;
        // Links first, rows second: a start makes its rows before its veth,
        // so a veth listed here whose rows are missing after is no one's.
        let links = nl.links().map_err(net_error)?;
        let known: std::collections::BTreeSet<String> = self
            .db
            .active()?
            .networks
            .iter()
            .flat_map(|(_, eps)| eps.iter().map(|e| e.host_ifname.clone()))
            .collect();
        for link in links {
            if is_berth_veth(&link.name) && !known.contains(&link.name) {
                let _ = nl.delete_link(&link.name);
            }
        }
        if nft::current()
            .map_err(|e| Error::Network(e.to_string()))?
            .is_some()
            || !known.is_empty()
        {
            self.forget_firewall();
            self.apply_firewall()?;
        }
        Ok(())
    }
}

/// `vb` + 12 hex: the host ends berth names.
fn is_berth_veth(name: &str) -> bool {
    name.len() == 14 && name.starts_with("vb") && name[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn net_error(e: netlink::Error) -> Error {
    Error::Network(e.to_string())
}

/// The init died between the runtime's `create` and its network: say
/// why where the cgroup knows (runc's words for an OOM kill; a Go runtime
/// such as runc's init can need more than a small `--memory`).
fn init_gone(c: &Container, pid: i32, e: Error) -> Error {
    if std::path::Path::new(&format!("/proc/{pid}")).exists() {
        return e;
    }
    let oom = crate::ops::cgroup::cgroup(c)
        .ok()
        .and_then(|cg| cg.oom_kill_count().ok())
        .is_some_and(|n| n > 0);
    Error::Network(if oom {
        "container init was OOM-killed (memory limit too low?)".into()
    } else {
        format!("container init (pid {pid}) exited before its network was set up")
    })
}

fn open_netns(pid: i32) -> Result<File> {
    let path = format!("/proc/{pid}/ns/net");
    File::open(&path).map_err(|e| Error::io("open", path, e))
}

fn endpoint_addresses(n: &Network, ep: &Endpoint) -> Vec<IpNet> {
    let mut out = Vec::new();
    if let (Some(ip), Some(s)) = (ep.ipv4, n.subnet_v4()) {
        out.extend(IpNet::new(IpAddr::V4(ip), s.subnet.prefix_len()).ok());
    }
    if let (Some(ip), Some(s)) = (ep.ipv6, n.subnet_v6()) {
        out.extend(IpNet::new(IpAddr::V6(ip), s.subnet.prefix_len()).ok());
    }
    out
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

fn vlan_kind(n: &Network) -> Result<macvlan::Kind> {
    let opt = |k: &str| n.options.get(k).map(String::as_str);
    Ok(match n.driver {
        Driver::Ipvlan => macvlan::Kind::Ipvlan(match opt("ipvlan_mode") {
            Some("l3") => macvlan::IpvlanMode::L3,
            Some("l3s") => macvlan::IpvlanMode::L3s,
            _ => macvlan::IpvlanMode::L2,
        }),
        _ => macvlan::Kind::Macvlan(match opt("macvlan_mode") {
            Some("private") => macvlan::MacvlanMode::Private,
            Some("vepa") => macvlan::MacvlanMode::Vepa,
            Some("passthru") => macvlan::MacvlanMode::Passthru,
            _ => macvlan::MacvlanMode::Bridge,
        }),
    })
}

/// What the nft rules need of the host for a bridge network (see
/// `berth_net::nft`): forwarding while a network may route out, loopback
/// sources routed to the bridge for `127.0.0.1:PORT`. Per network
/// namespace, so only berth's own.
fn bridge_sysctls(n: &Network) -> Result<()> {
    let set = |k: &str, v: &str| netlink::write_sysctl(k, v).map_err(net_error);
    if !n.internal {
        set("net/ipv4/ip_forward", "1")?;
        set(&format!("net/ipv4/conf/{}/route_localnet", n.bridge), "1")?;
        if n.subnet_v6().is_some() {
            set("net/ipv6/conf/all/forwarding", "1")?;
        }
    }
    Ok(())
}

/// `--network-bandwidth-ingress` shapes what the host sends into the
/// container (its veth's host end); `-egress` what the container sends
/// (its own end, set from a socket in its netns). macvlan/ipvlan links
/// have no host end: both on the container's link.
fn apply_bandwidth(
    host: &mut Netlink,
    netns: &File,
    n: &Network,
    ep: &Endpoint,
    c: &Container,
) -> Result<()> {
    let bw = c.config.bandwidth;
    let mut inside = Netlink::open_in(netns.as_fd()).map_err(net_error)?;
    let own = inside
        .link(&ep.ifname)
        .map_err(net_error)?
        .ok_or_else(|| Error::Network(format!("{} not found in the container", ep.ifname)))?;
    tc::set_rate(&mut inside, own.index, bw.egress).map_err(net_error)?;
    if n.driver == Driver::Bridge {
        let link = host
            .link(&ep.host_ifname)
            .map_err(net_error)?
            .ok_or_else(|| Error::Network(format!("{} not found", ep.host_ifname)))?;
        tc::set_rate(host, link.index, bw.ingress).map_err(net_error)?;
    } else if bw.ingress.is_some() {
        return Err(Error::Network(format!(
            "--network-bandwidth-ingress is not supported on {} networks",
            n.driver.as_str()
        )));
    }
    Ok(())
}
