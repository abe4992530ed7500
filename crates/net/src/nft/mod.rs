//! berth's nftables table, `inet berth`: rendered whole from what the
//! engine's database says ([`render`]) and swapped in atomically through
//! libnftables, in-process ([`apply`]). Nothing outside the table is ever
//! touched, and the ruleset is never flushed.
//!
//! Sysctls the rules rely on (the caller sets them; this module writes
//! none): `net.ipv4.ip_forward=1` (and `net.ipv6.conf.all.forwarding=1`
//! with IPv6 subnets) while a non-internal network exists, and
//! `net.ipv4.conf.<bridge>.route_localnet=1` on each non-internal bridge
//! for host-loopback access to published ports (IPv6 `::1` cannot be
//! routed out of `lo`: no loopback access over IPv6, as Docker and Podman).
//! With br_netfilter on, a container reaching its *own* published port
//! also needs hairpin mode on its bridge port.

mod apply;
pub mod dns;
pub mod restore_lock;
mod ruleset;

pub use apply::{apply, current, delete, script, Error};
pub use ruleset::{render, valid_ifname, NetworkRules, PortForward, Protocol, Ruleset};

#[cfg(test)]
mod tests;
