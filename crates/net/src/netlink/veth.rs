//! A container's link to a bridge network: a veth pair whose container end
//! is made directly inside the container's network namespace (one
//! `RTM_NEWLINK`), so no link ever shows in the host namespace under the
//! container's name, and the pair goes away with the namespace.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkInfo, LinkMessage,
};
use netlink_packet_route::RouteNetlinkMessage;

use super::{check_ifname, configure_inside, Error, Netlink, Result};

/// One container end on one bridge.
#[derive(Debug, Clone, Copy)]
pub struct VethSpec<'a> {
    /// The host end's name (`vb` + 12 hex).
    pub host_name: &'a str,
    /// The index of the bridge the host end becomes a port of.
    pub bridge: u32,
    /// The container's network namespace (an open `/proc/PID/ns/net`).
    pub netns: BorrowedFd<'a>,
    /// The container end's name (`eth0`, `eth1`...).
    pub ifname: &'a str,
    /// The container end's MAC address; `None` lets the kernel pick one.
    pub mac: Option<[u8; 6]>,
    /// Both ends' MTU; `None` keeps the kernel's default (1500).
    pub mtu: Option<u32>,
    /// The container end's addresses, with the network's prefix length.
    pub addresses: &'a [IpNet],
    /// One default route through each (v4 and/or v6); empty for an
    /// internal network or a container's second network.
    pub gateways: &'a [IpAddr],
}

/// Makes the pair: the host end `host_name` a port of `bridge` with hairpin
/// mode on, up; the container end `ifname` inside `netns`, up, with its
/// addresses and default routes, and `lo` up there. On any error the host
/// end is deleted (which deletes the container end with it).
pub fn attach(nl: &mut Netlink, spec: &VethSpec<'_>) -> Result<()> {
    check_ifname(spec.host_name)?;
    check_ifname(spec.ifname)?;
    // The container's socket first: if the namespace cannot be entered,
    // nothing was made.
    let mut inner = Netlink::open_in(spec.netns)?;

    let mut peer = LinkMessage::default();
    peer.attributes
        .push(LinkAttribute::IfName(spec.ifname.to_owned()));
    peer.attributes
        .push(LinkAttribute::NetNsFd(spec.netns.as_raw_fd()));
    if let Some(mac) = spec.mac {
        peer.attributes.push(LinkAttribute::Address(mac.to_vec()));
    }
    let mut host = LinkMessage::default();
    host.attributes
        .push(LinkAttribute::IfName(spec.host_name.to_owned()));
    if let Some(mtu) = spec.mtu {
        peer.attributes.push(LinkAttribute::Mtu(mtu));
        host.attributes.push(LinkAttribute::Mtu(mtu));
    }
    host.attributes.push(LinkAttribute::Controller(spec.bridge));
    host.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
    ]));
    nl.ack(
        RouteNetlinkMessage::NewLink(host),
        NLM_F_CREATE | NLM_F_EXCL,
    )
    .map_err(|e| {
        e.during(format!(
            "create veth {} (container end {} in the container's namespace) on bridge {}",
            spec.host_name, spec.ifname, spec.bridge
        ))
    })?;

    let configured = (|| {
        let host = nl.link(spec.host_name)?.ok_or_else(|| {
            Error::Invalid(format!(
                "veth {} disappeared right after it was made",
                spec.host_name
            ))
        })?;
        nl.set_hairpin(host.index, true)?;
        nl.set_up(host.index)?;
        configure_inside(&mut inner, spec.ifname, spec.addresses, spec.gateways)
    })();
    if configured.is_err() {
        if let Err(e) = nl.delete_link(spec.host_name) {
            tracing::warn!("cleaning up after a failed veth: {e}");
        }
    }
    configured
}
