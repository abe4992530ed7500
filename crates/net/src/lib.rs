//! berth's networking, below the engine: the kernel objects a container's
//! network is made of, and the pure rules that decide them.
//!
//! - `netlink`: a blocking NETLINK_ROUTE socket (in the host's or a
//!   container's network namespace) and what berth does with it: bridges,
//!   veth pairs, macvlan/ipvlan links, addresses, routes, tc shaping.
//! - `nft`: berth's own nftables table (`inet berth`), rendered whole from
//!   the engine's database and applied atomically through libnftables.
//! - `dns`: the resolver a container on a user network asks at 127.0.0.11.
//! - `ipam`, `portspec`, `etc_files`: pure rules (subnets and addresses,
//!   `-p` syntax, `/etc/hosts` and `/etc/resolv.conf` text).
//!
//! The engine decides *what* (from its database); this crate only knows
//! *how*. Nothing here touches the database.
#![forbid(unsafe_code)]

pub mod dns;
pub mod etc_files;
pub mod ipam;
pub mod netlink;
pub mod nft;
pub mod portspec;
