//! IP address management, pure: Docker's rules for `network create`'s
//! `--subnet`/`--gateway`/`--ip-range`, the choice of a free subnet from
//! Docker's default pools, the next free address of a subnet, IPv6 ULA
//! subnets and container MAC addresses. The engine keeps what is taken (its
//! database) and passes it in; nothing here reads the host or a database.

use std::collections::BTreeSet;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Why a subnet, gateway or range is refused, in Docker's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    /// Go's `net.ParseCIDR` error, which `docker network create` prints.
    #[error("invalid CIDR address: {0}")]
    InvalidCidr(String),
    /// Go's `net.ParseIP` failing in the CLI (`--gateway`, `--ip`).
    #[error("invalid IP address: {0}")]
    InvalidIp(String),
    /// The daemon: a subnet with host bits set.
    #[error("invalid subnet {given}: it should be {want}")]
    HostBits { given: String, want: String },
    #[error("multiple overlapping subnet configuration is not supported")]
    OverlappingSubnets,
    #[error("no matching subnet for range {0}")]
    NoSubnetForRange(String),
    #[error("cannot configure multiple ranges ({0}, {1}) on the same subnet ({2})")]
    MultipleRanges(String, String, String),
    #[error("no matching subnet for gateway {0}")]
    NoSubnetForGateway(String),
    #[error("cannot configure multiple gateways ({0}, {1}) for the same subnet ({2})")]
    MultipleGateways(String, String, String),
    /// The daemon: a subnet that overlaps another network's.
    #[error("Pool overlaps with other one on this address space")]
    PoolOverlap,
    /// The daemon: no default pool left.
    #[error("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")]
    NoFreePool,
    /// The daemon: `--ip` taken (by a container or the gateway).
    #[error("Address already in use")]
    AddressInUse,
    /// The daemon: `--ip` outside the network's subnets.
    #[error("no available IPv{family} addresses on this network's address pools")]
    NoAvailable { family: u8 },
    #[error("Invalid address {addr}: It does not belong to any of this network's subnets")]
    NotInSubnet { addr: String },
    #[error("cannot read /dev/urandom: {0}")]
    Random(String),
}

pub type Result<T, E = IpamError> = std::result::Result<T, E>;

/// One subnet of a network: its gateway and the range addresses are handed
/// out from (the whole subnet when none).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SubnetConfig {
    pub subnet: IpNet,
    pub gateway: IpAddr,
    #[serde(default)]
    pub ip_range: Option<IpNet>,
}

/// Parses a `--subnet`/`--ip-range` value as Go's `net.ParseCIDR` would
/// (any host bits allowed: see [`parse_subnet`] for the daemon's check).
pub fn parse_cidr(s: &str) -> Result<IpNet> {
    s.parse::<IpNet>()
        .map_err(|_| IpamError::InvalidCidr(s.to_owned()))
}

/// A `--subnet`: a CIDR whose host bits are zero (the daemon refuses
/// `10.0.0.1/24`: "it should be 10.0.0.0/24").
pub fn parse_subnet(s: &str) -> Result<IpNet> {
    let net = parse_cidr(s)?;
    if net.trunc() != net {
        return Err(IpamError::HostBits {
            given: s.to_owned(),
            want: net.trunc().to_string(),
        });
    }
    Ok(net)
}

pub fn parse_ip(s: &str) -> Result<IpAddr> {
    s.parse::<IpAddr>()
        .map_err(|_| IpamError::InvalidIp(s.to_owned()))
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// `docker network create`'s `consolidateIpam`: pairs each `--gateway` and
/// `--ip-range` with the `--subnet` containing it (Docker's errors when one
/// matches none or two match one subnet), refuses subnets overlapping each
/// other, and gives a subnet without `--gateway` its first address.
pub fn consolidate(
    subnets: &[String],
    gateways: &[String],
    ranges: &[String],
) -> Result<Vec<SubnetConfig>> {
    let mut nets = Vec::new();
    for s in subnets {
        nets.push(parse_subnet(s)?);
    }
    for (i, a) in nets.iter().enumerate() {
        if nets[..i].iter().any(|b| overlaps(a, b)) {
            return Err(IpamError::OverlappingSubnets);
        }
    }
    let mut out: Vec<(IpNet, Option<IpAddr>, Option<IpNet>)> =
        nets.iter().map(|n| (*n, None, None)).collect();
    for r in ranges {
        let range = parse_cidr(r)?;
        let mut matched = false;
        for (subnet, _, slot) in &mut out {
            if !subnet.contains(&range.network()) {
                continue;
            }
            if let Some(prev) = slot {
                return Err(IpamError::MultipleRanges(
                    r.clone(),
                    prev.to_string(),
                    subnet.to_string(),
                ));
            }
            *slot = Some(range);
            matched = true;
        }
        if !matched {
            return Err(IpamError::NoSubnetForRange(r.clone()));
        }
    }
    for g in gateways {
        let ip = parse_ip(g)?;
        let mut matched = false;
        for (subnet, slot, _) in &mut out {
            if !subnet.contains(&ip) {
                continue;
            }
            if let Some(prev) = slot {
                return Err(IpamError::MultipleGateways(
                    g.clone(),
                    prev.to_string(),
                    subnet.to_string(),
                ));
            }
            *slot = Some(ip);
            matched = true;
        }
        if !matched {
            return Err(IpamError::NoSubnetForGateway(g.clone()));
        }
    }
    Ok(out
        .into_iter()
        .map(|(subnet, gateway, ip_range)| SubnetConfig {
            subnet,
            gateway: gateway.unwrap_or_else(|| default_gateway(&subnet)),
            ip_range,
        })
        .collect())
}

/// The daemon's check of explicit subnets against the other networks'
/// (not against host routes: Docker does not check those for `--subnet`).
pub fn check_overlap(new: &[IpNet], existing: &[IpNet]) -> Result<()> {
    if new.iter().any(|n| existing.iter().any(|e| overlaps(n, e))) {
        return Err(IpamError::PoolOverlap);
    }
    Ok(())
}

/// A subnet's first host address: Docker's default gateway.
pub fn default_gateway(subnet: &IpNet) -> IpAddr {
    next_addr(subnet.network()).expect("a subnet's network address is not the last")
}

/// Docker's default address pools (`ipamutils`), in order: 172.17/16,
/// 172.18/16, 172.19/16, 172.20/14 .. 172.28/14 split into /16s (so up to
/// 172.31/16), then 192.168.0.0/16 split into /20s.
pub fn default_pools() -> impl Iterator<Item = Ipv4Net> {
    let b = (17u8..=31).map(|x| Ipv4Net::new(Ipv4Addr::new(172, x, 0, 0), 16).unwrap());
    let c = (0u8..16).map(|x| Ipv4Net::new(Ipv4Addr::new(192, 168, x * 16, 0), 20).unwrap());
    b.chain(c)
}

/// Chooses a free IPv4 subnet from [`default_pools`]: the first that
/// overlaps none of `used` (other networks' subnets) nor `reserved` (the
/// host's on-link routes, its addresses and its nameservers, found by the
/// caller, as Docker's `InferReservedNetworks`). `for_default_bridge`:
/// 172.17/16 is kept for the default `bridge` network (Docker creates it
/// first; berth creates it on first use), so user networks start at
/// 172.18/16.
pub fn choose_subnet(
    used: &[IpNet],
    reserved: &[IpNet],
    for_default_bridge: bool,
) -> Result<Ipv4Net> {
    let default_bridge = Ipv4Net::new(Ipv4Addr::new(172, 17, 0, 0), 16).unwrap();
    default_pools()
        .filter(|p| for_default_bridge || *p != default_bridge)
        .find(|p| {
            let p = IpNet::V4(*p);
            !used.iter().chain(reserved).any(|u| overlaps(&p, u))
        })
        .ok_or(IpamError::NoFreePool)
}

fn next_addr(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(a) => u32::from(a)
            .checked_add(1)
            .map(|n| Ipv4Addr::from(n).into()),
        IpAddr::V6(a) => u128::from(a)
            .checked_add(1)
            .map(|n| Ipv6Addr::from(n).into()),
    }
}

/// Whether `ip` may be given to a container of `cfg`: inside the subnet
/// (and the range, when one is set), not the network address, not the
/// IPv4 broadcast, not the gateway.
pub fn assignable(cfg: &SubnetConfig, ip: IpAddr) -> bool {
    let subnet = &cfg.subnet;
    if !subnet.contains(&ip) || ip == subnet.network() || ip == cfg.gateway {
        return false;
    }
    if subnet.addr().is_ipv4() && subnet.prefix_len() < 31 && ip == subnet.broadcast() {
        return false;
    }
    cfg.ip_range.is_none_or(|r| r.contains(&ip))
}

/// Docker's local-scope rule: the first free address of the range (or the
/// subnet), skipping the network address, the gateway and the IPv4
/// broadcast. `used`: the addresses containers hold. None when full.
pub fn next_free(cfg: &SubnetConfig, used: &BTreeSet<IpAddr>) -> Option<IpAddr> {
    let range = cfg.ip_range.unwrap_or(cfg.subnet);
    let mut ip = range.network();
    // At most used.len() + 3 steps: every other address is assignable.
    loop {
        if assignable(cfg, ip) && !used.contains(&ip) {
            return Some(ip);
        }
        if ip == range.broadcast() {
            return None;
        }
        ip = next_addr(ip)?;
    }
}

/// Checks a fixed `--ip`/`--ip6` for `cfg`'s subnet: in it, not the
/// gateway, not taken ("Address already in use" as Docker says).
pub fn check_fixed(cfg: &SubnetConfig, ip: IpAddr, used: &BTreeSet<IpAddr>) -> Result<()> {
    if !cfg.subnet.contains(&ip) {
        return Err(IpamError::NotInSubnet {
            addr: ip.to_string(),
        });
    }
    if ip == cfg.gateway || used.contains(&ip) {
        return Err(IpamError::AddressInUse);
    }
    if ip == cfg.subnet.network()
        || (ip.is_ipv4() && cfg.subnet.prefix_len() < 31 && ip == cfg.subnet.broadcast())
    {
        return Err(IpamError::AddressInUse);
    }
    Ok(())
}

/// The IPv4 on-link routes of a `/proc/net/route` text (routes without a
/// gateway; the default route excluded), which Docker's automatic subnet
/// choice avoids (`InferReservedNetworks`). The file prints addresses as
/// the kernel's network-order u32 in the host's byte order.
pub fn on_link_routes(proc_net_route: &str) -> Vec<IpNet> {
    let hex = |s: &str| {
        u32::from_str_radix(s, 16)
            .ok()
            .map(|v| Ipv4Addr::from(v.to_ne_bytes()))
    };
    let mut out = Vec::new();
    for line in proc_net_route.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let (Some(dst), Some(gw), Some(mask)) = (hex(f[1]), hex(f[2]), hex(f[7])) else {
            continue;
        };
        let prefix = u32::from(mask).count_ones() as u8;
        if !gw.is_unspecified() || prefix == 0 {
            continue;
        }
        if let Ok(n) = Ipv4Net::new(dst, prefix) {
            out.push(IpNet::V4(n.trunc()));
        }
    }
    out
}

/// The host's own IPv4 addresses (as /32) from a `/proc/net/fib_trie`
/// text (`|-- ADDR` followed by `/32 host LOCAL`), loopback excluded: an
/// address whose prefix route is missing (a /32 address, a VPN peer) is
/// still avoided by the automatic subnet choice.
pub fn local_addresses(fib_trie: &str) -> Vec<IpNet> {
    let mut out: Vec<IpNet> = Vec::new();
    let mut last: Option<Ipv4Addr> = None;
    for line in fib_trie.lines() {
        let t = line.trim_start();
        if let Some(a) = t.strip_prefix("|-- ") {
            last = a.trim().parse().ok();
        } else if t.starts_with("/32 host LOCAL") {
            if let Some(a) = last.filter(|a| !a.is_loopback()) {
                let n = IpNet::V4(Ipv4Net::from(a));
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
    }
    out
}

/// The `nameserver` addresses of a resolv.conf text as host networks (/32,
/// /128), which Docker's automatic subnet choice avoids too.
pub fn nameserver_nets(resolv_conf: &str) -> Vec<IpNet> {
    resolv_conf
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver")).then(|| w.next())?
        })
        .filter_map(|a| a.split('%').next()?.parse::<IpAddr>().ok())
        .map(IpNet::from)
        .collect()
}

/// Fills `buf` from /dev/urandom.
pub fn random_bytes(buf: &mut [u8]) -> Result<()> {
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .map_err(|e| IpamError::Random(e.to_string()))
}

/// A unique local (RFC 4193) /64 for `--ipv6` without a v6 `--subnet`:
/// `fdXX:XXXX:XXXX:YYYY::/64` with a random global id and subnet id,
/// avoiding `used`.
pub fn ula_subnet(used: &[IpNet]) -> Result<Ipv6Net> {
    loop {
        let mut b = [0u8; 16];
        random_bytes(&mut b[1..8])?;
        b[0] = 0xfd;
        let net = Ipv6Net::new(Ipv6Addr::from(b), 64).unwrap().trunc();
        if !used.iter().any(|u| overlaps(&IpNet::V6(net), u)) {
            return Ok(net);
        }
    }
}

/// Docker's MAC for an IPv4 endpoint: `02:42:` and the four address bytes.
pub fn mac_from_ipv4(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

/// A random locally administered unicast MAC (for an endpoint with no
/// IPv4 address).
pub fn random_mac() -> Result<[u8; 6]> {
    let mut m = [0u8; 6];
    random_bytes(&mut m)?;
    m[0] = (m[0] & 0xfe) | 0x02;
    Ok(m)
}

pub fn format_mac(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses `aa:bb:cc:dd:ee:ff` (`--mac-address`).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut m = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.len() != 2 {
            return None;
        }
        m[i] = u8::from_str_radix(p, 16).ok()?;
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }
    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_errors_in_docker_words() {
        assert_eq!(
            parse_subnet("10.0.0.0/33").unwrap_err().to_string(),
            "invalid CIDR address: 10.0.0.0/33"
        );
        assert_eq!(
            parse_subnet("nonsense").unwrap_err().to_string(),
            "invalid CIDR address: nonsense"
        );
        assert_eq!(
            parse_subnet("10.0.0.1/24").unwrap_err().to_string(),
            "invalid subnet 10.0.0.1/24: it should be 10.0.0.0/24"
        );
        assert_eq!(parse_subnet("fd00:1::/64").unwrap(), net("fd00:1::/64"));
    }

    #[test]
    fn consolidate_pairs_gateways_and_ranges() {
        let c = consolidate(
            &s(&["10.1.0.0/16", "fd00:1::/64"]),
            &s(&["10.1.0.254", "fd00:1::fe"]),
            &s(&["10.1.2.0/24"]),
        )
        .unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].gateway, ip("10.1.0.254"));
        assert_eq!(c[0].ip_range, Some(net("10.1.2.0/24")));
        assert_eq!(c[1].gateway, ip("fd00:1::fe"));
        assert_eq!(c[1].ip_range, None);
        let d = consolidate(&s(&["192.168.5.0/24"]), &[], &[]).unwrap();
        assert_eq!(d[0].gateway, ip("192.168.5.1"));
    }

    #[test]
    fn consolidate_errors() {
        let e = |sub: &[&str], gw: &[&str], r: &[&str]| {
            consolidate(&s(sub), &s(gw), &s(r)).unwrap_err().to_string()
        };
        assert_eq!(
            e(&["10.0.0.0/24"], &["10.1.0.1"], &[]),
            "no matching subnet for gateway 10.1.0.1"
        );
        assert_eq!(
            e(&["10.0.0.0/24"], &[], &["10.1.0.0/28"]),
            "no matching subnet for range 10.1.0.0/28"
        );
        assert_eq!(
            e(&["10.0.0.0/16", "10.0.1.0/24"], &[], &[]),
            "multiple overlapping subnet configuration is not supported"
        );
        assert_eq!(
            e(&["10.0.0.0/24"], &["10.0.0.1", "10.0.0.2"], &[]),
            "cannot configure multiple gateways (10.0.0.2, 10.0.0.1) for the same subnet (10.0.0.0/24)"
        );
        assert_eq!(
            e(&["10.0.0.0/24"], &["bad"], &[]),
            "invalid IP address: bad"
        );
    }

    #[test]
    fn overlap_with_other_networks() {
        assert_eq!(
            check_overlap(&[net("172.18.5.0/24")], &[net("172.18.0.0/16")])
                .unwrap_err()
                .to_string(),
            "Pool overlaps with other one on this address space"
        );
        check_overlap(&[net("172.19.0.0/16")], &[net("172.18.0.0/16")]).unwrap();
    }

    #[test]
    fn pools_in_docker_order() {
        let p: Vec<String> = default_pools().map(|p| p.to_string()).collect();
        assert_eq!(p[0], "172.17.0.0/16");
        assert_eq!(p[14], "172.31.0.0/16");
        assert_eq!(p[15], "192.168.0.0/20");
        assert_eq!(p[16], "192.168.16.0/20");
        assert_eq!(p.len(), 31);
    }

    #[test]
    fn choose_skips_used_and_on_link_routes() {
        assert_eq!(
            choose_subnet(&[], &[], true).unwrap().to_string(),
            "172.17.0.0/16"
        );
        assert_eq!(
            choose_subnet(&[], &[], false).unwrap().to_string(),
            "172.18.0.0/16"
        );
        // A host route inside 172.18/16 and a host address in 172.19/16.
        let reserved = [net("172.18.3.0/24"), net("172.19.0.5/32")];
        assert_eq!(
            choose_subnet(&[net("172.17.0.0/16")], &reserved, false)
                .unwrap()
                .to_string(),
            "172.20.0.0/16"
        );
        // A host route covering everything 172.16/12.
        assert_eq!(
            choose_subnet(&[], &[net("172.16.0.0/12")], true)
                .unwrap()
                .to_string(),
            "192.168.0.0/20"
        );
        let all: Vec<IpNet> = default_pools().map(IpNet::V4).collect();
        assert_eq!(
            choose_subnet(&all, &[], true).unwrap_err(),
            IpamError::NoFreePool
        );
    }

    #[test]
    fn first_free_address() {
        let cfg = SubnetConfig {
            subnet: net("10.0.0.0/29"),
            gateway: ip("10.0.0.1"),
            ip_range: None,
        };
        let mut used = BTreeSet::new();
        let mut got = Vec::new();
        while let Some(a) = next_free(&cfg, &used) {
            used.insert(a);
            got.push(a.to_string());
        }
        // .0 network, .1 gateway, .7 broadcast are skipped.
        assert_eq!(
            got,
            ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
        );
        // A freed address is the next one given (first free).
        used.remove(&ip("10.0.0.3"));
        assert_eq!(next_free(&cfg, &used), Some(ip("10.0.0.3")));
    }

    #[test]
    fn gateway_in_the_middle_and_range() {
        let cfg = SubnetConfig {
            subnet: net("10.0.0.0/24"),
            gateway: ip("10.0.0.2"),
            ip_range: Some(net("10.0.0.0/30")),
        };
        let mut used = BTreeSet::new();
        let a = next_free(&cfg, &used).unwrap();
        assert_eq!(a, ip("10.0.0.1"));
        used.insert(a);
        assert_eq!(next_free(&cfg, &used), Some(ip("10.0.0.3")));
        used.insert(ip("10.0.0.3"));
        assert_eq!(next_free(&cfg, &used), None);
    }

    #[test]
    fn ipv6_first_free() {
        let cfg = SubnetConfig {
            subnet: net("fd00:1::/64"),
            gateway: ip("fd00:1::1"),
            ip_range: None,
        };
        let used = BTreeSet::from([ip("fd00:1::2")]);
        assert_eq!(next_free(&cfg, &used), Some(ip("fd00:1::3")));
    }

    #[test]
    fn fixed_addresses() {
        let cfg = SubnetConfig {
            subnet: net("10.0.0.0/24"),
            gateway: ip("10.0.0.1"),
            ip_range: None,
        };
        let used = BTreeSet::from([ip("10.0.0.5")]);
        assert_eq!(
            check_fixed(&cfg, ip("10.0.0.5"), &used)
                .unwrap_err()
                .to_string(),
            "Address already in use"
        );
        assert_eq!(
            check_fixed(&cfg, ip("10.0.0.1"), &used).unwrap_err(),
            IpamError::AddressInUse
        );
        assert!(check_fixed(&cfg, ip("10.0.1.5"), &used).is_err());
        check_fixed(&cfg, ip("10.0.0.6"), &used).unwrap();
    }

    #[test]
    fn ula_is_a_random_fd_slash_64() {
        let a = ula_subnet(&[]).unwrap();
        let b = ula_subnet(&[IpNet::V6(a)]).unwrap();
        assert_eq!(a.prefix_len(), 64);
        assert_eq!(a.addr().octets()[0], 0xfd);
        assert_ne!(a, b);
    }

    #[test]
    fn host_reserved_from_proc_and_resolv_conf() {
        let route =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t0000A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
tun0\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
eth0\t0000000A\t0100A8C0\t0003\t0\t0\t0\t000000FF\t0\t0\t0
";
        let got: Vec<String> = on_link_routes(route)
            .iter()
            .map(|n| n.to_string())
            .collect();
        if cfg!(target_endian = "little") {
            assert_eq!(got, ["192.168.0.0/24", "172.18.0.0/16"]);
        }
        let ns = nameserver_nets("# x\nnameserver 10.0.0.53\nnameserver fe80::1%eth0\nsearch a\n");
        assert_eq!(ns, vec![net("10.0.0.53/32"), net("fe80::1/128")]);
        // The choice skips the on-link 172.18/16 of a VPN.
        let reserved = on_link_routes(route);
        if cfg!(target_endian = "little") {
            assert_eq!(
                choose_subnet(&[], &reserved, false).unwrap().to_string(),
                "172.19.0.0/16"
            );
        }
    }

    #[test]
    fn local_addresses_from_fib_trie() {
        let trie = "Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 10.0.2.0/24 2 0 2
        |-- 10.0.2.2
           /32 link UNICAST
        |-- 10.0.2.15
           /32 host LOCAL
     |-- 127.0.0.1
        /32 host LOCAL
Local:
     |-- 10.0.2.15
        /32 host LOCAL
     |-- 172.20.9.9
        /32 host LOCAL
";
        assert_eq!(
            local_addresses(trie),
            vec![net("10.0.2.15/32"), net("172.20.9.9/32")]
        );
    }

    #[test]
    fn macs() {
        assert_eq!(
            format_mac(&mac_from_ipv4("172.17.0.2".parse().unwrap())),
            "02:42:ac:11:00:02"
        );
        let m = random_mac().unwrap();
        assert_eq!(m[0] & 0x03, 0x02, "locally administered unicast");
        assert_eq!(
            parse_mac("02:42:ac:11:00:02"),
            Some([2, 0x42, 0xac, 0x11, 0, 2])
        );
        assert_eq!(parse_mac("02:42:ac:11:00"), None);
    }
}
