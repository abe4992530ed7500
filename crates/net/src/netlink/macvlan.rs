//! A container's link on a macvlan or ipvlan network: a child of a host
//! link (`parent`), made directly inside the container's network namespace.
//!
//! Kernels built without one of the two (this project's CI kernel has no
//! ipvlan) answer `EOPNOTSUPP` ("Unknown device type"): that becomes
//! [`Error::Unsupported`] with a plain sentence.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{
    InfoData, InfoIpVlan, InfoKind, InfoMacVlan, IpVlanMode as NlIpVlanMode, LinkAttribute,
    LinkInfo, LinkMessage, MacVlanMode as NlMacVlanMode,
};
use netlink_packet_route::RouteNetlinkMessage;
use nix::errno::Errno;

use super::{check_ifname, configure_inside, Error, Netlink, Result};

/// macvlan's modes (`-o macvlan_mode=`), Docker's default being `bridge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MacvlanMode {
    #[default]
    Bridge,
    Private,
    Vepa,
    Passthru,
}

/// ipvlan's modes (`-o ipvlan_mode=`), Docker's default being `l2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpvlanMode {
    #[default]
    L2,
    L3,
    L3s,
}

/// Which driver, in which mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Macvlan(MacvlanMode),
    Ipvlan(IpvlanMode),
}

impl Kind {
    fn driver(self) -> &'static str {
        match self {
            Kind::Macvlan(_) => "macvlan",
            Kind::Ipvlan(_) => "ipvlan",
        }
    }
}

/// One container link on a host link.
#[derive(Debug, Clone, Copy)]
pub struct Spec<'a> {
    /// The index of the host link (in the namespace of the `Netlink` given
    /// to [`attach`]) the new link sits on.
    pub parent: u32,
    pub kind: Kind,
    /// The container's network namespace (an open `/proc/PID/ns/net`).
    pub netns: BorrowedFd<'a>,
    /// The link's name inside the container (`eth0`...).
    pub ifname: &'a str,
    /// macvlan only (an ipvlan link has its parent's address).
    pub mac: Option<[u8; 6]>,
    pub mtu: Option<u32>,
    pub addresses: &'a [IpNet],
    /// Default routes; empty for an internal network.
    pub gateways: &'a [IpAddr],
}

/// Makes the link inside `spec.netns`, brings it and `lo` up, adds its
/// addresses and default routes. On any error the link is deleted.
pub fn attach(nl: &mut Netlink, spec: &Spec<'_>) -> Result<()> {
    check_ifname(spec.ifname)?;
    let data = match spec.kind {
        Kind::Macvlan(mode) => {
            let mode = match mode {
                MacvlanMode::Bridge => NlMacVlanMode::Bridge,
                MacvlanMode::Private => NlMacVlanMode::Private,
                MacvlanMode::Vepa => NlMacVlanMode::Vepa,
                MacvlanMode::Passthru => NlMacVlanMode::Passthrough,
            };
            (
                InfoKind::MacVlan,
                InfoData::MacVlan(vec![InfoMacVlan::Mode(mode)]),
            )
        }
        Kind::Ipvlan(mode) => {
            if spec.mac.is_some() {
                return Err(Error::Invalid(
                    "an ipvlan link has its parent's MAC address: none can be given".into(),
                ));
            }
            let mode = match mode {
                IpvlanMode::L2 => NlIpVlanMode::L2,
                IpvlanMode::L3 => NlIpVlanMode::L3,
                IpvlanMode::L3s => NlIpVlanMode::L3S,
            };
            (
                InfoKind::IpVlan,
                InfoData::IpVlan(vec![InfoIpVlan::Mode(mode)]),
            )
        }
    };
    let mut inner = Netlink::open_in(spec.netns)?;

    let mut msg = LinkMessage::default();
    msg.attributes
        .push(LinkAttribute::IfName(spec.ifname.to_owned()));
    msg.attributes.push(LinkAttribute::Link(spec.parent));
    msg.attributes
        .push(LinkAttribute::NetNsFd(spec.netns.as_raw_fd()));
    if let Some(mac) = spec.mac {
        msg.attributes.push(LinkAttribute::Address(mac.to_vec()));
    }
    if let Some(mtu) = spec.mtu {
        msg.attributes.push(LinkAttribute::Mtu(mtu));
    }
    msg.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(data.0),
        LinkInfo::Data(data.1),
    ]));
    let driver = spec.kind.driver();
    nl.ack(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
        .map_err(|e| {
            if e.errno() == Some(Errno::EOPNOTSUPP) {
                Error::Unsupported(format!("{driver} is not supported by this kernel"))
            } else {
                e.during(format!(
                    "create {driver} link {} on link {} in the container's namespace",
                    spec.ifname, spec.parent
                ))
            }
        })?;

    let configured = configure_inside(&mut inner, spec.ifname, spec.addresses, spec.gateways);
    if configured.is_err() {
        if let Err(e) = inner.delete_link(spec.ifname) {
            tracing::warn!("cleaning up after a failed {driver} link: {e}");
        }
    }
    configured
}
