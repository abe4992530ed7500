//! What berth's table says, and its nft text: a pure function of the
//! networks and published ports the engine read from its database.

use std::collections::btree_map::{BTreeMap, Entry};
use std::fmt::Write as _;
use std::net::IpAddr;

use ipnet::IpNet;

/// Everything berth's table is made from: every bridge network with a
/// running container, and every published port of a running container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub networks: Vec<NetworkRules>,
    pub ports: Vec<PortForward>,
}

impl Ruleset {
    /// True when there is nothing to render: the table should not exist.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty() && self.ports.is_empty()
    }
}

/// One bridge network: its Linux bridge and subnets (IPv4 and/or IPv6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRules {
    pub bridge: String,
    pub subnets: Vec<IpNet>,
    /// `--internal`: nothing leaves the bridge, nothing enters it, no NAT.
    pub internal: bool,
}

/// A published port's transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// nft's (and Docker's) name: `tcp`, `udp`, `sctp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// One published port (a range is one `PortForward` per port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortForward {
    /// `None` (or an unspecified address, `0.0.0.0`/`::`): every local
    /// address of the host, of the container address's family.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub protocol: Protocol,
    pub container_ip: IpAddr,
    pub container_port: u16,
    /// The bridge of the network `container_ip` is on.
    pub bridge: String,
}

/// A bridge name nft can take quoted as is (a Linux interface name:
/// 1..=15 bytes, printable, no `/`, quote or backslash).
pub fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'"' | b'\\'))
}

type Target = (IpAddr, u16);

/// The four DNAT maps' elements, sorted by key.
#[derive(Default)]
struct Maps {
    any4: BTreeMap<(Protocol, u16), Target>,
    addr4: BTreeMap<(IpAddr, Protocol, u16), Target>,
    any6: BTreeMap<(Protocol, u16), Target>,
    addr6: BTreeMap<(IpAddr, Protocol, u16), Target>,
}

impl Maps {
    fn new(r: &Ruleset) -> Maps {
        let internal = |bridge: &str| r.networks.iter().any(|n| n.internal && n.bridge == bridge);
        let mut ports: Vec<&PortForward> = r.ports.iter().collect();
        // The first of two claims on one host address+port wins whatever
        // the input order.
        ports.sort_by_key(|p| (p.container_ip, p.container_port, p.bridge.clone()));
        let mut maps = Maps::default();
        for p in ports {
            // Docker publishes nothing on an --internal network.
            if internal(&p.bridge) {
                continue;
            }
            let target = (p.container_ip, p.container_port);
            let key = (p.protocol, p.host_port);
            let inserted = match (p.host_ip.filter(|ip| !ip.is_unspecified()), p.container_ip) {
                (None, IpAddr::V4(_)) => insert(&mut maps.any4, key, target),
                (None, IpAddr::V6(_)) => insert(&mut maps.any6, key, target),
                (Some(h @ IpAddr::V4(_)), IpAddr::V4(_)) => {
                    insert(&mut maps.addr4, (h, key.0, key.1), target)
                }
                (Some(h @ IpAddr::V6(_)), IpAddr::V6(_)) => {
                    insert(&mut maps.addr6, (h, key.0, key.1), target)
                }
                // No NAT between families.
                _ => {
                    tracing::warn!(
                        ?p,
                        "published port left out: host and container address families differ"
                    );
                    true
                }
            };
            if !inserted {
                tracing::warn!(
                    ?p,
                    "published port left out: its host address and port are already mapped"
                );
            }
        }
        maps
    }
}

fn insert<K: Ord>(map: &mut BTreeMap<K, Target>, key: K, target: Target) -> bool {
    match map.entry(key) {
        Entry::Vacant(v) => {
            v.insert(target);
            true
        }
        Entry::Occupied(o) => *o.get() == target,
    }
}

/// Renders the whole `table inet berth { ... }` (no command around it).
///
/// Deterministic: networks are ordered by bridge name and map elements by
/// key, whatever the input's order. Left out (the engine refuses them
/// before they get here): ports on an `--internal` network, ports whose
/// host and container addresses are of different families, and a second
/// mapping of a host address+protocol+port already mapped.
///
/// The rules (Docker's and netavark's semantics):
/// - `nat_prerouting` (dstnat) and `nat_output` (-100; libnftables 1.0.6
///   refuses `dstnat` on the output hook) send packets for a local address
///   (`fib daddr type local`) to `hostports`, which DNATs through four
///   maps: host address . protocol . port first, then protocol . port
///   (host address "any"), for IPv4 and for IPv6 containers.
/// - `nat_postrouting` (srcnat), per non-internal network: a DNAT'd
///   connection from the host's loopback `127.0.0.0/8` (needs
///   `net.ipv4.conf.<bridge>.route_localnet=1`) or from the network's own
///   subnet (hairpin) going out its bridge is masqueraded, so replies come
///   back through the host's conntrack; traffic from the subnet leaving by
///   any other interface is masqueraded.
/// - `filter_forward`: invalid drop; an internal network's bridge neither
///   sends to nor receives from any other interface; established/related
///   and DNAT'd accept; then nothing else enters a non-internal bridge from
///   another interface (isolation between networks, and no routed access to
///   unpublished container ports, as Docker). Same-bridge traffic (seen
///   here with br_netfilter) and traffic leaving a non-internal bridge pass.
pub fn render(r: &Ruleset) -> String {
    let mut networks: Vec<&NetworkRules> = r.networks.iter().collect();
    networks.sort_by(|a, b| a.bridge.cmp(&b.bridge));
    networks.dedup_by(|a, b| a.bridge == b.bridge);
    let maps = Maps::new(r);

    let mut s = String::from("table inet berth {\n");
    map(
        &mut s,
        "hostports4_addr",
        "ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service",
        maps.addr4
            .iter()
            .map(|(&(h, p, port), &t)| addr_element(h, p, port, t)),
    );
    map(
        &mut s,
        "hostports4",
        "inet_proto . inet_service : ipv4_addr . inet_service",
        maps.any4
            .iter()
            .map(|(&(p, port), &t)| any_element(p, port, t)),
    );
    map(
        &mut s,
        "hostports6_addr",
        "ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service",
        maps.addr6
            .iter()
            .map(|(&(h, p, port), &t)| addr_element(h, p, port, t)),
    );
    map(
        &mut s,
        "hostports6",
        "inet_proto . inet_service : ipv6_addr . inet_service",
        maps.any6
            .iter()
            .map(|(&(p, port), &t)| any_element(p, port, t)),
    );

    chain(
        &mut s,
        "hostports",
        None,
        [
            "dnat ip to ip daddr . meta l4proto . th dport map @hostports4_addr",
            "meta nfproto ipv4 dnat ip to meta l4proto . th dport map @hostports4",
            "dnat ip6 to ip6 daddr . meta l4proto . th dport map @hostports6_addr",
            "meta nfproto ipv6 dnat ip6 to meta l4proto . th dport map @hostports6",
        ]
        .map(String::from),
    );
    chain(
        &mut s,
        "nat_prerouting",
        Some("type nat hook prerouting priority dstnat; policy accept;"),
        ["fib daddr type local jump hostports".to_owned()],
    );
    chain(
        &mut s,
        "nat_output",
        Some("type nat hook output priority -100; policy accept;"),
        ["fib daddr type local jump hostports".to_owned()],
    );

    let mut post = Vec::new();
    for n in networks.iter().filter(|n| !n.internal) {
        let br = &n.bridge;
        if n.subnets.iter().any(|s| matches!(s, IpNet::V4(_))) {
            post.push(format!(
                "oifname \"{br}\" ct status dnat ip saddr 127.0.0.0/8 masquerade"
            ));
        }
        for net in &n.subnets {
            let fam = family(net);
            post.push(format!(
                "oifname \"{br}\" ct status dnat {fam} saddr {net} masquerade"
            ));
        }
        for net in &n.subnets {
            let fam = family(net);
            post.push(format!("oifname != \"{br}\" {fam} saddr {net} masquerade"));
        }
    }
    chain(
        &mut s,
        "nat_postrouting",
        Some("type nat hook postrouting priority srcnat; policy accept;"),
        post,
    );

    let mut fwd = vec!["ct state invalid drop".to_owned()];
    for n in networks.iter().filter(|n| n.internal) {
        let br = &n.bridge;
        fwd.push(format!("iifname \"{br}\" oifname != \"{br}\" drop"));
        fwd.push(format!("oifname \"{br}\" iifname != \"{br}\" drop"));
    }
    fwd.push("ct state established,related accept".to_owned());
    fwd.push("ct status dnat accept".to_owned());
    for n in networks.iter().filter(|n| !n.internal) {
        let br = &n.bridge;
        fwd.push(format!("oifname \"{br}\" iifname != \"{br}\" drop"));
    }
    chain(
        &mut s,
        "filter_forward",
        Some("type filter hook forward priority filter; policy accept;"),
        fwd,
    );

    // route_localnet (for 127.0.0.1:PORT) also lets a packet for
    // 127.0.0.0/8 arrive from a bridge: a container could reach the host's
    // loopback-only services (CVE-2020-8558's pattern). Nothing legitimate
    // starts that way; answers to the host's own connections are
    // established.
    let input: Vec<String> = networks
        .iter()
        .filter(|n| !n.internal && n.subnets.iter().any(|s| matches!(s, IpNet::V4(_))))
        .map(|n| {
            format!(
                "iifname \"{}\" ip daddr 127.0.0.0/8 ct state != {{ established, related }} drop",
                n.bridge
            )
        })
        .collect();
    chain(
        &mut s,
        "filter_input",
        Some("type filter hook input priority filter; policy accept;"),
        input,
    );

    s.push_str("}\n");
    s
}

fn addr_element(host: IpAddr, p: Protocol, port: u16, (ip, cport): Target) -> String {
    format!("{host} . {} . {port} : {ip} . {cport}", p.as_str())
}

fn any_element(p: Protocol, port: u16, (ip, cport): Target) -> String {
    format!("{} . {port} : {ip} . {cport}", p.as_str())
}

fn family(net: &IpNet) -> &'static str {
    match net {
        IpNet::V4(_) => "ip",
        IpNet::V6(_) => "ip6",
    }
}

fn map(s: &mut String, name: &str, ty: &str, elements: impl Iterator<Item = String>) {
    let elements: Vec<String> = elements.collect();
    let _ = writeln!(s, "\tmap {name} {{");
    let _ = writeln!(s, "\t\ttype {ty}");
    if !elements.is_empty() {
        let _ = writeln!(
            s,
            "\t\telements = {{ {} }}",
            elements.join(",\n\t\t\t     ")
        );
    }
    s.push_str("\t}\n");
}

fn chain(s: &mut String, name: &str, hook: Option<&str>, rules: impl IntoIterator<Item = String>) {
    let _ = writeln!(s, "\tchain {name} {{");
    if let Some(hook) = hook {
        let _ = writeln!(s, "\t\t{hook}");
    }
    for rule in rules {
        let _ = writeln!(s, "\t\t{rule}");
    }
    s.push_str("\t}\n");
}
