//! A network's Linux bridge (`berth0`, `br-<12 hex>`): the host side every
//! container veth of the network is a port of, holding the gateway
//! addresses.

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkInfo, LinkMessage};
use netlink_packet_route::RouteNetlinkMessage;
use nix::errno::Errno;

use super::{check_ifname, Error, Netlink, Result};

/// Makes sure bridge `name` exists, holds `gateways` (`172.17.0.1/16`:
/// address and the subnet's prefix) and is up; returns its index.
/// Idempotent, also when several callers race to create it: whoever loses
/// finds it made (`EEXIST`). `mtu` is set only when the bridge is created.
/// A link of that name that is not a bridge is an error.
pub fn ensure(nl: &mut Netlink, name: &str, gateways: &[IpNet], mtu: Option<u32>) -> Result<u32> {
    check_ifname(name)?;
    let mut msg = LinkMessage::default();
    msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
    if let Some(mtu) = mtu {
        msg.attributes.push(LinkAttribute::Mtu(mtu));
    }
    msg.attributes
        .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
            InfoKind::Bridge,
        )]));
    match nl.ack(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL) {
        Err(e) if e.errno() != Some(Errno::EEXIST) => {
            return Err(e.during(format!("create bridge {name}")))
        }
        _ => {}
    }
    let link = nl.link(name)?.ok_or_else(|| {
        Error::Invalid(format!("bridge {name} disappeared right after it was made"))
    })?;
    if link.kind.as_deref() != Some("bridge") {
        return Err(Error::Invalid(format!(
            "link {name} exists and is not a bridge (it is {})",
            link.kind.as_deref().unwrap_or("a device of no kind")
        )));
    }
    for gateway in gateways {
        nl.add_address(link.index, *gateway)?;
    }
    nl.set_up(link.index)?;
    Ok(link.index)
}
