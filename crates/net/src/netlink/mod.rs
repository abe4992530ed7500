//! Every kernel network object berth makes, through NETLINK_ROUTE, without
//! shelling out: links (bridges, veth pairs, macvlan/ipvlan), addresses,
//! routes and tc shaping.
//!
//! A [`Netlink`] socket belongs to the network namespace it was opened in:
//! [`Netlink::open`] for the calling thread's, [`Netlink::open_in`] for a
//! container's (an open `/proc/PID/ns/net`). Nothing here changes the
//! calling thread's namespace: entering one happens on a short thread
//! ([`in_netns`]).

pub mod bridge;
pub mod macvlan;
mod socket;
pub mod tc;
pub mod veth;

use std::io::{self, Write};
use std::net::IpAddr;
use std::os::fd::BorrowedFd;

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
};
use netlink_packet_route::link::{
    InfoBridgePort, InfoPortData, InfoPortKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use nix::errno::Errno;
use nix::sched::CloneFlags;

pub use socket::Netlink;

/// What went wrong, in one line naming what was being done.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel refused a request.
    #[error("{op}: {}{}", .errno.desc(), kernel_text(.message))]
    Kernel {
        op: String,
        errno: Errno,
        /// The kernel's own words, when it gave some ("Unknown device type").
        message: Option<String>,
    },
    /// A system call outside netlink failed (socket, thread, /proc/sys).
    #[error("{op}: {source}")]
    Io { op: String, source: io::Error },
    /// A reply this code could not make sense of.
    #[error("{op}: {detail}")]
    Protocol { op: String, detail: String },
    /// This kernel lacks what was asked for.
    #[error("{0}")]
    Unsupported(String),
    /// A request that cannot be right (a bad name, a zero rate...).
    #[error("{0}")]
    Invalid(String),
}

fn kernel_text(message: &Option<String>) -> String {
    message
        .as_ref()
        .map(|m| format!(" ({m})"))
        .unwrap_or_default()
}

impl Error {
    /// The kernel's error number, for an error the kernel returned.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Kernel { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A network interface as `RTM_GETLINK` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `IFLA_INFO_KIND`: "bridge", "veth", "macvlan"...; `None` for a
    /// physical device or `lo`.
    pub kind: Option<String>,
    /// The bridge (or other master) this link is a port of.
    pub master: Option<u32>,
    /// The Ethernet address, for links that have one of 6 bytes.
    pub mac: Option<[u8; 6]>,
    pub mtu: u32,
    /// `IFF_UP` (administratively up).
    pub up: bool,
    /// For a bridge port: whether hairpin mode is on.
    pub hairpin: Option<bool>,
}

impl Link {
    fn from_message(msg: LinkMessage) -> Link {
        let mut link = Link {
            index: msg.header.index,
            name: String::new(),
            kind: None,
            master: None,
            mac: None,
            mtu: 0,
            up: msg.header.flags.contains(LinkFlags::Up),
            hairpin: None,
        };
        for attr in msg.attributes {
            match attr {
                LinkAttribute::IfName(name) => link.name = name,
                LinkAttribute::Mtu(mtu) => link.mtu = mtu,
                LinkAttribute::Controller(master) => link.master = Some(master),
                LinkAttribute::Address(mac) => link.mac = mac.try_into().ok(),
                LinkAttribute::LinkInfo(infos) => {
                    for info in infos {
                        match info {
                            LinkInfo::Kind(kind) => link.kind = Some(kind.to_string()),
                            LinkInfo::PortData(InfoPortData::BridgePort(port)) => {
                                for p in port {
                                    if let InfoBridgePort::HairpinMode(on) = p {
                                        link.hairpin = Some(on);
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        link
    }
}

/// Refuses an interface name the kernel would refuse (or misread): empty,
/// longer than 15 bytes, `.`/`..`, or with `/`, `:` or whitespace.
pub(crate) fn check_ifname(name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.len() > 15
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c == '\0');
    if bad {
        return Err(Error::Invalid(format!(
            "invalid interface name {name:?}: 1 to 15 bytes, no '/', ':' or spaces"
        )));
    }
    Ok(())
}

fn by_name(name: &str) -> LinkMessage {
    let mut msg = LinkMessage::default();
    msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
    msg
}

impl Netlink {
    /// The link called `name`, or `None` when there is none.
    pub fn link(&mut self, name: &str) -> Result<Option<Link>> {
        check_ifname(name)?;
        match self.request(RouteNetlinkMessage::GetLink(by_name(name)), 0) {
            Ok(replies) => Ok(replies.into_iter().find_map(|r| match r {
                RouteNetlinkMessage::NewLink(msg) => Some(Link::from_message(msg)),
                _ => None,
            })),
            Err(e) if e.errno() == Some(Errno::ENODEV) => Ok(None),
            Err(e) => Err(e.during(format!("look up link {name}"))),
        }
    }

    /// Every link of this namespace.
    pub fn links(&mut self) -> Result<Vec<Link>> {
        let replies = self
            .dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))
            .map_err(|e| e.during("list links"))?;
        Ok(replies
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewLink(msg) => Some(Link::from_message(msg)),
                _ => None,
            })
            .collect())
    }

    /// Deletes the link called `name` (for a veth, both ends); `false` when
    /// there was none.
    pub fn delete_link(&mut self, name: &str) -> Result<bool> {
        check_ifname(name)?;
        match self.ack(RouteNetlinkMessage::DelLink(by_name(name)), 0) {
            Ok(()) => Ok(true),
            Err(e) if e.errno() == Some(Errno::ENODEV) => Ok(false),
            Err(e) => Err(e.during(format!("delete link {name}"))),
        }
    }

    /// Brings link `index` up.
    pub fn set_up(&mut self, index: u32) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        self.ack(RouteNetlinkMessage::SetLink(msg), 0)
            .map_err(|e| e.during(format!("bring link {index} up")))
    }

    /// Turns hairpin mode of bridge port `index` on or off: a frame may
    /// leave through the port it came in on (a container reaching its own
    /// published port through the host). It must be an `RTM_NEWLINK`
    /// without `NLM_F_CREATE`: the kernel acknowledges an `RTM_SETLINK`
    /// with port data and ignores it.
    pub fn set_hairpin(&mut self, index: u32, on: bool) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::PortKind(InfoPortKind::Bridge),
            LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
                on,
            )])),
        ]));
        self.ack(RouteNetlinkMessage::NewLink(msg), 0)
            .map_err(|e| e.during(format!("set hairpin mode on link {index}")))
    }

    /// Adds `addr` (address and prefix, `172.17.0.1/16`) to link `index`;
    /// an address already there is fine. IPv6 addresses skip duplicate
    /// address detection (`IFA_F_NODAD`): they are usable at once.
    pub fn add_address(&mut self, index: u32, addr: IpNet) -> Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.index = index;
        msg.header.prefix_len = addr.prefix_len();
        match addr {
            IpNet::V4(net) => {
                msg.header.family = AddressFamily::Inet;
                msg.attributes
                    .push(AddressAttribute::Local(IpAddr::V4(net.addr())));
                msg.attributes
                    .push(AddressAttribute::Address(IpAddr::V4(net.addr())));
                if net.prefix_len() < 31 {
                    msg.attributes
                        .push(AddressAttribute::Broadcast(net.broadcast()));
                }
            }
            IpNet::V6(net) => {
                msg.header.family = AddressFamily::Inet6;
                msg.header.flags = AddressHeaderFlags::Nodad;
                msg.attributes
                    .push(AddressAttribute::Address(IpAddr::V6(net.addr())));
                msg.attributes
                    .push(AddressAttribute::Flags(AddressFlags::Nodad));
            }
        }
        match self.ack(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Err(e) if e.errno() != Some(Errno::EEXIST) => {
                Err(e.during(format!("add address {addr} to link {index}")))
            }
            _ => Ok(()),
        }
    }

    /// Every address of this namespace, with the index of its link.
    pub fn addresses(&mut self) -> Result<Vec<(u32, IpNet)>> {
        let replies = self
            .dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()))
            .map_err(|e| e.during("list addresses"))?;
        let mut out = Vec::new();
        for reply in replies {
            let RouteNetlinkMessage::NewAddress(msg) = reply else {
                continue;
            };
            let (mut local, mut address) = (None, None);
            for attr in &msg.attributes {
                match attr {
                    AddressAttribute::Local(ip) => local = Some(*ip),
                    AddressAttribute::Address(ip) => address = Some(*ip),
                    _ => {}
                }
            }
            // IFA_LOCAL is the address itself; IFA_ADDRESS is the peer's on
            // a point-to-point link (and the only one for IPv6).
            if let Some(ip) = local.or(address) {
                if let Ok(net) = IpNet::new(ip, msg.header.prefix_len) {
                    out.push((msg.header.index, net));
                }
            }
        }
        Ok(out)
    }

    /// Adds the default route through `gateway` out of link `oif` (IPv4 or
    /// IPv6, by the gateway). When a default route of that family is
    /// already there it is kept: the first network a container joins
    /// keeps its gateway, as in Docker.
    pub fn add_default_route(&mut self, gateway: IpAddr, oif: u32) -> Result<()> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = match gateway {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        };
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.scope = RouteScope::Universe;
        msg.header.kind = RouteType::Unicast;
        msg.attributes
            .push(RouteAttribute::Gateway(RouteAddress::from(gateway)));
        msg.attributes.push(RouteAttribute::Oif(oif));
        match self.ack(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Err(e) if e.errno() != Some(Errno::EEXIST) => {
                Err(e.during(format!("add the default route via {gateway} on link {oif}")))
            }
            _ => Ok(()),
        }
    }

    /// The subnets reachable directly on a link of this namespace (routes
    /// of the main table without a gateway, other than the default route):
    /// what a new network's subnet must not overlap. IPv4 takes the routes
    /// of scope link, as Docker does; IPv6 the gateway-less unicast routes
    /// other than link-local `fe80::/10` ones (IPv6 has no scope link).
    pub fn onlink_routes(&mut self) -> Result<Vec<IpNet>> {
        let replies = self
            .dump(RouteNetlinkMessage::GetRoute(RouteMessage::default()))
            .map_err(|e| e.during("list routes"))?;
        let mut out = Vec::new();
        for reply in replies {
            let RouteNetlinkMessage::NewRoute(msg) = reply else {
                continue;
            };
            let h = &msg.header;
            let mut table = u32::from(h.table);
            let (mut dst, mut gateway) = (None, false);
            for attr in &msg.attributes {
                match attr {
                    RouteAttribute::Table(t) => table = *t,
                    RouteAttribute::Destination(RouteAddress::Inet(ip)) => {
                        dst = Some(IpAddr::V4(*ip))
                    }
                    RouteAttribute::Destination(RouteAddress::Inet6(ip)) => {
                        dst = Some(IpAddr::V6(*ip))
                    }
                    RouteAttribute::Gateway(_) | RouteAttribute::Via(_) => gateway = true,
                    RouteAttribute::MultiPath(_) => gateway = true,
                    _ => {}
                }
            }
            if table != u32::from(RouteHeader::RT_TABLE_MAIN)
                || h.kind != RouteType::Unicast
                || h.destination_prefix_length == 0
                || gateway
            {
                continue;
            }
            let Some(dst) = dst else { continue };
            let keep = match dst {
                IpAddr::V4(_) => h.scope == RouteScope::Link,
                IpAddr::V6(ip) => (ip.segments()[0] & 0xffc0) != 0xfe80,
            };
            if keep {
                if let Ok(net) = IpNet::new(dst, h.destination_prefix_length) {
                    out.push(net.trunc());
                }
            }
        }
        Ok(out)
    }
}

/// Brings `lo` up in the namespace `nl` belongs to; the kernel gives it
/// 127.0.0.1/8 (and ::1 with IPv6) as it comes up. A new namespace's `lo`
/// is down: a container with its own namespace gets it up whatever its
/// network (`none` included, as Docker's).
pub fn loopback_up(nl: &mut Netlink) -> Result<()> {
    let lo = nl
        .link("lo")?
        .ok_or_else(|| Error::Invalid("the container's namespace has no lo".into()))?;
    nl.set_up(lo.index)
}

/// Inside a container's namespace (`inner`): `lo` up, `ifname` up, its
/// `addresses`, and a default route through each of `gateways`.
pub(crate) fn configure_inside(
    inner: &mut Netlink,
    ifname: &str,
    addresses: &[IpNet],
    gateways: &[IpAddr],
) -> Result<()> {
    loopback_up(inner)?;
    let link = inner.link(ifname)?.ok_or_else(|| {
        Error::Invalid(format!(
            "{ifname} is missing from the container's namespace right after it was made"
        ))
    })?;
    // Up before the routes: the kernel refuses a gateway on a link that is down.
    inner.set_up(link.index)?;
    for addr in addresses {
        inner.add_address(link.index, *addr)?;
    }
    for gateway in gateways {
        inner.add_default_route(*gateway, link.index)?;
    }
    Ok(())
}

/// Runs `f` on a short thread that entered the network namespace `netns`
/// (an open `/proc/PID/ns/net`); the calling thread's namespace never
/// changes. Sockets `f` opens stay in `netns`. A panic in `f` is resumed
/// in the caller.
pub fn in_netns<T: Send>(netns: BorrowedFd<'_>, f: impl FnOnce() -> T + Send) -> Result<T> {
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("berth-netns".into())
            .spawn_scoped(scope, move || {
                nix::sched::setns(netns, CloneFlags::CLONE_NEWNET).map_err(|e| Error::Io {
                    op: "enter the network namespace".into(),
                    source: e.into(),
                })?;
                Ok(f())
            })
            .map_err(|source| Error::Io {
                op: "start a thread to enter a network namespace".into(),
                source,
            })?;
        match thread.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Writes `value` to `/proc/sys/<key>`, `key` in path form
/// (`net/ipv4/conf/berth0/route_localnet`: interface names may hold dots).
/// The file is the one of the calling thread's network namespace: call it
/// inside [`in_netns`] for a container's.
pub fn write_sysctl(key: &str, value: &str) -> Result<()> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        return Err(Error::Invalid(format!(
            "invalid sysctl {key:?}: want a path under /proc/sys like net/ipv4/ip_forward"
        )));
    }
    let path = format!("/proc/sys/{key}");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut file| file.write_all(value.as_bytes()))
        .map_err(|source| Error::Io {
            op: format!("write {value:?} to {path}"),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names() {
        for ok in ["eth0", "berth0", "br-0123456789ab", "vb0123456789ab", "a"] {
            check_ifname(ok).unwrap();
        }
        for bad in ["", "0123456789abcdef", "a/b", "a:b", "a b", ".", ".."] {
            let e = check_ifname(bad).unwrap_err().to_string();
            assert!(e.contains("invalid interface name"), "{e}");
        }
    }

    #[test]
    fn sysctl_keys_are_paths_under_proc_sys() {
        for bad in ["", "/net/ipv4/ip_forward", "net/../../etc/passwd", "net//x"] {
            let e = write_sysctl(bad, "1").unwrap_err().to_string();
            assert!(e.contains("invalid sysctl"), "{e}");
        }
    }

    #[test]
    fn kernel_errors_read_as_one_line() {
        let e = Error::Kernel {
            op: "create link x".into(),
            errno: Errno::EOPNOTSUPP,
            message: Some("Unknown device type".into()),
        };
        assert_eq!(
            e.to_string(),
            "create link x: Operation not supported on transport endpoint (Unknown device type)"
        );
    }
}
