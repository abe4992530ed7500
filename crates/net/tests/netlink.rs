//! berth-net's netlink layer against the real kernel, entirely inside
//! network namespaces each test makes (a thread that unshares its network
//! namespace and keeps an fd to it). Nothing touches the host's namespace;
//! everything made goes away with the namespaces when the test ends,
//! passed or not.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use berth_net::netlink::{self, bridge, in_netns, macvlan, tc, veth, Netlink};
use berth_testutil::require_root;
use ipnet::IpNet;
use nix::sched::CloneFlags;

/// A network namespace of the test's own, alive while this fd is.
struct Netns(OwnedFd);

impl Netns {
    fn new() -> Netns {
        let fd = std::thread::spawn(|| -> OwnedFd {
            nix::sched::unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
            File::open("/proc/thread-self/ns/net")
                .expect("open the new network namespace")
                .into()
        })
        .join()
        .expect("the unsharing thread");
        Netns(fd)
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }

    fn netlink(&self) -> Netlink {
        Netlink::open_in(self.fd()).expect("a netlink socket in the test namespace")
    }

    fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        in_netns(self.fd(), f).expect("enter the test namespace")
    }

    /// `lo` up, as a container's is once attached.
    fn lo_up(&self) {
        netlink::loopback_up(&mut self.netlink()).unwrap();
    }
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A host namespace with bridge `br-test` (10.77.0.1/24, fd77::1/64) and
/// a container namespace joined to it by veth `vbtest0` / `eth0`
/// (10.77.0.2/24, fd77::2/64, default routes through the bridge).
struct Pair {
    host: Netns,
    ctr: Netns,
    bridge: u32,
}

const MAC: [u8; 6] = [0x02, 0x42, 0x0a, 0x4d, 0x00, 0x02];

fn pair() -> Pair {
    let host = Netns::new();
    let ctr = Netns::new();
    host.lo_up();
    let mut nl = host.netlink();
    let gateways = [net("10.77.0.1/24"), net("fd77::1/64")];
    let bridge = bridge::ensure(&mut nl, "br-test", &gateways, None).unwrap();
    let addresses = [net("10.77.0.2/24"), net("fd77::2/64")];
    let routes = [ip("10.77.0.1"), ip("fd77::1")];
    veth::attach(
        &mut nl,
        &veth::VethSpec {
            host_name: "vbtest0",
            bridge,
            netns: ctr.fd(),
            ifname: "eth0",
            mac: Some(MAC),
            mtu: None,
            addresses: &addresses,
            gateways: &routes,
        },
    )
    .unwrap();
    Pair { host, ctr, bridge }
}

/// Connects from `from` to `to` (a listener's address in `listener_ns`) and
/// echoes a line through: reachability without ping.
fn tcp_roundtrip(listener_ns: &Netns, bind: SocketAddr, from: &Netns) {
    let listener = listener_ns
        .run(|| TcpListener::bind(bind))
        .unwrap_or_else(|e| panic!("bind {bind}: {e}"));
    let to = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
        s.write_all(&buf).unwrap();
    });
    let mut stream = from
        .run(|| TcpStream::connect_timeout(&to, Duration::from_secs(5)))
        .unwrap_or_else(|e| panic!("connect to {to}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(b"hello").unwrap();
    let mut back = [0u8; 5];
    stream.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"hello");
    server.join().unwrap();
}

#[test]
fn bridge_and_veth_connect_two_namespaces() {
    require_root!();
    let p = pair();
    let mut host = p.host.netlink();
    let mut ctr = p.ctr.netlink();

    // The bridge, idempotently ensured again, keeps its index.
    let again = bridge::ensure(&mut host, "br-test", &[net("10.77.0.1/24")], None).unwrap();
    assert_eq!(again, p.bridge);
    let br = host.link("br-test").unwrap().unwrap();
    assert_eq!(br.kind.as_deref(), Some("bridge"));
    assert!(br.up);

    // The host end: a port of the bridge, up, hairpin on.
    let vb = host.link("vbtest0").unwrap().unwrap();
    assert_eq!(vb.kind.as_deref(), Some("veth"));
    assert_eq!(vb.master, Some(p.bridge));
    assert!(vb.up);
    assert_eq!(vb.hairpin, Some(true));
    // The container end is not in the host namespace...
    assert_eq!(host.link("eth0").unwrap(), None);
    // ... but in the container's, up, with its MAC, next to lo (up).
    let links = ctr.links().unwrap();
    let eth0 = links.iter().find(|l| l.name == "eth0").expect("eth0");
    assert_eq!(eth0.kind.as_deref(), Some("veth"));
    assert_eq!(eth0.mac, Some(MAC));
    assert!(eth0.up);
    assert!(links.iter().any(|l| l.name == "lo" && l.up));
    assert_eq!(links.len(), 2, "{links:?}");

    // Addresses and on-link routes on both sides.
    let addrs = ctr.addresses().unwrap();
    assert!(
        addrs.contains(&(eth0.index, net("10.77.0.2/24"))),
        "{addrs:?}"
    );
    assert!(
        addrs.contains(&(eth0.index, net("fd77::2/64"))),
        "{addrs:?}"
    );
    let host_addrs = host.addresses().unwrap();
    assert!(
        host_addrs.contains(&(p.bridge, net("10.77.0.1/24"))),
        "{host_addrs:?}"
    );
    let onlink = host.onlink_routes().unwrap();
    assert!(onlink.contains(&net("10.77.0.0/24")), "{onlink:?}");
    assert!(onlink.contains(&net("fd77::/64")), "{onlink:?}");
    assert!(!onlink.iter().any(|n| n.prefix_len() == 0), "{onlink:?}");
    // A second default route is kept out quietly: the first one stays.
    ctr.add_default_route(ip("10.77.0.9"), eth0.index).unwrap();

    // TCP both ways, v4 and v6, and through the default route to an
    // address of the host namespace off the bridge's subnet.
    tcp_roundtrip(&p.host, "10.77.0.1:0".parse().unwrap(), &p.ctr);
    tcp_roundtrip(&p.ctr, "10.77.0.2:0".parse().unwrap(), &p.host);
    tcp_roundtrip(&p.host, "[fd77::1]:0".parse().unwrap(), &p.ctr);
    let lo = host.link("lo").unwrap().unwrap();
    host.add_address(lo.index, net("10.78.0.1/32")).unwrap();
    tcp_roundtrip(&p.host, "10.78.0.1:0".parse().unwrap(), &p.ctr);

    // Deleting the host end takes the container end with it.
    assert!(host.delete_link("vbtest0").unwrap());
    assert!(!host.delete_link("vbtest0").unwrap());
    assert_eq!(ctr.link("eth0").unwrap(), None);
}

#[test]
fn a_failed_attach_leaves_no_link() {
    require_root!();
    let host = Netns::new();
    let ctr = Netns::new();
    let mut nl = host.netlink();
    let br = bridge::ensure(&mut nl, "br-test", &[net("10.77.0.1/24")], None).unwrap();
    // A gateway off every subnet of the container: the route is refused
    // after the pair was made.
    let err = veth::attach(
        &mut nl,
        &veth::VethSpec {
            host_name: "vbfail0",
            bridge: br,
            netns: ctr.fd(),
            ifname: "eth0",
            mac: None,
            mtu: None,
            addresses: &[net("10.77.0.2/24")],
            gateways: &[ip("192.0.2.1")],
        },
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("default route via 192.0.2.1"), "{msg}");
    assert_eq!(nl.link("vbfail0").unwrap(), None);
    assert_eq!(ctr.netlink().link("eth0").unwrap(), None);
}

#[test]
fn errors_name_what_failed() {
    require_root!();
    let p = pair();
    let mut host = p.host.netlink();

    // A host end name that is taken.
    let other = Netns::new();
    let err = veth::attach(
        &mut host,
        &veth::VethSpec {
            host_name: "vbtest0",
            bridge: p.bridge,
            netns: other.fd(),
            ifname: "eth0",
            mac: None,
            mtu: None,
            addresses: &[],
            gateways: &[],
        },
    )
    .unwrap_err();
    assert_eq!(err.errno(), Some(nix::errno::Errno::EEXIST));
    let msg = err.to_string();
    assert!(msg.starts_with("create veth vbtest0"), "{msg}");
    assert!(msg.contains("File exists"), "{msg}");
    assert!(!msg.contains('\n'));
    // The first pair is untouched.
    assert!(host.link("vbtest0").unwrap().is_some());

    // A bridge name held by a veth.
    let msg = bridge::ensure(&mut host, "vbtest0", &[], None)
        .unwrap_err()
        .to_string();
    assert_eq!(msg, "link vbtest0 exists and is not a bridge (it is veth)");

    // Names the kernel would refuse never reach it.
    let msg = host.link("a-name-of-16-chr").unwrap_err().to_string();
    assert!(msg.starts_with("invalid interface name"), "{msg}");

    // Unknown links.
    assert_eq!(host.link("nosuchlink").unwrap(), None);
    assert!(!host.delete_link("nosuchlink").unwrap());
    let msg = host.set_up(999_999).unwrap_err().to_string();
    assert!(
        msg.starts_with("bring link 999999 up: No such device"),
        "{msg}"
    );
    let msg = tc::set_rate(&mut host, 999_999, Some(1_000_000))
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("limit link 999999 to 1000000 bit/s: "),
        "{msg}"
    );
}

#[test]
fn concurrent_bridge_ensures_agree() {
    require_root!();
    let ns = Netns::new();
    let indexes: Vec<u32> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    let mut nl = ns.netlink();
                    bridge::ensure(&mut nl, "br-race", &[net("10.79.0.1/16")], None).unwrap()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert!(indexes.iter().all(|&i| i == indexes[0]), "{indexes:?}");
    let mut nl = ns.netlink();
    let bridges: Vec<_> = nl
        .links()
        .unwrap()
        .into_iter()
        .filter(|l| l.kind.as_deref() == Some("bridge"))
        .collect();
    assert_eq!(bridges.len(), 1, "{bridges:?}");
    let addrs = nl.addresses().unwrap();
    let gateways = addrs
        .iter()
        .filter(|(i, a)| *i == indexes[0] && *a == net("10.79.0.1/16"))
        .count();
    assert_eq!(gateways, 1, "{addrs:?}");
}

#[test]
fn loopback_up_gives_a_new_namespace_its_localhost() {
    require_root!();
    let ns = Netns::new();
    let mut nl = ns.netlink();
    let lo = nl.link("lo").unwrap().expect("lo");
    assert!(!lo.up, "a new namespace's lo starts down");
    assert!(nl.addresses().unwrap().is_empty());
    netlink::loopback_up(&mut nl).unwrap();
    assert!(nl.link("lo").unwrap().expect("lo").up);
    let addrs = nl.addresses().unwrap();
    assert!(addrs.contains(&(lo.index, net("127.0.0.1/8"))), "{addrs:?}");
    tcp_roundtrip(&ns, "127.0.0.1:0".parse().unwrap(), &ns);
    // Again: already up is no error (a restore's hook may find it so).
    netlink::loopback_up(&mut nl).unwrap();
}

#[test]
fn entering_something_that_is_no_network_namespace_fails() {
    require_root!();
    let not_a_netns = File::open("/dev/null").unwrap();
    let msg = Netlink::open_in(not_a_netns.as_fd())
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        "enter the network namespace: Invalid argument (os error 22)"
    );
    let uts = File::open("/proc/self/ns/uts").unwrap();
    assert!(in_netns(uts.as_fd(), || ()).is_err());
}

#[test]
fn sockets_and_sysctls_stay_in_their_namespace() {
    require_root!();
    let a = Netns::new();
    let b = Netns::new();
    let mut nl = a.netlink();
    bridge::ensure(&mut nl, "br-a", &[], Some(1400)).unwrap();
    let br = nl.link("br-a").unwrap().unwrap();
    assert_eq!(br.mtu, 1400);
    assert!(b.netlink().link("br-a").unwrap().is_none());

    let key = "net/ipv4/conf/br-a/route_localnet";
    let read = || std::fs::read_to_string(format!("/proc/sys/{key}")).unwrap();
    a.run(|| netlink::write_sysctl(key, "1")).unwrap();
    assert_eq!(a.run(read).trim(), "1");
    // A new namespace copies IPv4 settings from the host's
    // (net.core.devconf_inherit_init_net=0), so ip_forward starts as the
    // host has it: flip it in `a` and check that `b` keeps its own value.
    let forward = || std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let before = b.run(forward).trim().to_string();
    let flipped = if before == "1" { "0" } else { "1" };
    a.run(|| netlink::write_sysctl("net/ipv4/ip_forward", flipped))
        .unwrap();
    assert_eq!(a.run(forward).trim(), flipped);
    assert_eq!(b.run(forward).trim(), before);
    let msg = b
        .run(|| netlink::write_sysctl(key, "1"))
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("write \"1\" to /proc/sys/net/ipv4/conf/br-a/route_localnet: "),
        "{msg}"
    );
}

#[test]
fn macvlan_links_on_a_veth_parent() {
    require_root!();
    let p = pair();
    // The parent: the container end of the pair (a veth that is no bridge
    // port), in namespace `ctr`; the macvlan goes to a third namespace.
    let mut parent_nl = p.ctr.netlink();
    let parent = parent_nl.link("eth0").unwrap().unwrap().index;
    let third = Netns::new();
    let mac = [0x02, 0x42, 0x0a, 0x4d, 0x00, 0x03];
    macvlan::attach(
        &mut parent_nl,
        &macvlan::Spec {
            parent,
            kind: macvlan::Kind::Macvlan(macvlan::MacvlanMode::Bridge),
            netns: third.fd(),
            ifname: "eth0",
            mac: Some(mac),
            mtu: Some(1400),
            addresses: &[net("10.77.0.3/24")],
            gateways: &[ip("10.77.0.1")],
        },
    )
    .unwrap();
    let mut nl3 = third.netlink();
    let link = nl3.link("eth0").unwrap().unwrap();
    assert_eq!(link.kind.as_deref(), Some("macvlan"));
    assert_eq!(link.mac, Some(mac));
    assert_eq!(link.mtu, 1400);
    assert!(link.up);
    assert!(nl3.link("lo").unwrap().unwrap().up);
    // Out through the veth parent, over the bridge, to the host namespace.
    tcp_roundtrip(&p.host, "10.77.0.1:0".parse().unwrap(), &third);
    assert!(nl3.delete_link("eth0").unwrap());

    // Every mode can be made; a name taken in the target namespace is an
    // error that leaves the parent alone.
    for mode in [
        macvlan::MacvlanMode::Private,
        macvlan::MacvlanMode::Vepa,
        macvlan::MacvlanMode::Passthru,
    ] {
        let ns = Netns::new();
        macvlan::attach(
            &mut parent_nl,
            &macvlan::Spec {
                parent,
                kind: macvlan::Kind::Macvlan(mode),
                netns: ns.fd(),
                ifname: "eth1",
                mac: None,
                mtu: None,
                addresses: &[],
                gateways: &[],
            },
        )
        .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        let mut nl = ns.netlink();
        let link = nl.link("eth1").unwrap().unwrap();
        assert_eq!(link.kind.as_deref(), Some("macvlan"), "{mode:?}");
        // Explicitly: a namespace is torn down asynchronously, and
        // passthru refuses a parent that still has other macvlans.
        assert!(nl.delete_link("eth1").unwrap());
    }
    let err = macvlan::attach(
        &mut parent_nl,
        &macvlan::Spec {
            parent,
            kind: macvlan::Kind::Macvlan(macvlan::MacvlanMode::Bridge),
            netns: p.ctr.fd(),
            ifname: "eth0",
            mac: None,
            mtu: None,
            addresses: &[],
            gateways: &[],
        },
    )
    .unwrap_err();
    assert_eq!(err.errno(), Some(nix::errno::Errno::EEXIST), "{err}");
    assert!(parent_nl.link("eth0").unwrap().is_some());
}

/// Whether this kernel was built with ipvlan, from its own config.
fn kernel_has_ipvlan() -> bool {
    let mut config = String::new();
    flate2::read::GzDecoder::new(
        File::open("/proc/config.gz").expect(
            "/proc/config.gz: the test decides what ipvlan must do from the kernel's config",
        ),
    )
    .read_to_string(&mut config)
    .expect("read /proc/config.gz");
    if config.lines().any(|l| l == "CONFIG_IPVLAN=y") {
        return true;
    }
    assert!(
        config.lines().any(|l| l == "# CONFIG_IPVLAN is not set"),
        "CONFIG_IPVLAN is neither built in nor unset (a module?): this test does not know what to expect"
    );
    false
}

#[test]
fn ipvlan_works_or_says_the_kernel_lacks_it() {
    require_root!();
    let p = pair();
    let mut parent_nl = p.ctr.netlink();
    let parent = parent_nl.link("eth0").unwrap().unwrap().index;
    let third = Netns::new();
    let result = macvlan::attach(
        &mut parent_nl,
        &macvlan::Spec {
            parent,
            kind: macvlan::Kind::Ipvlan(macvlan::IpvlanMode::L2),
            netns: third.fd(),
            ifname: "eth0",
            mac: None,
            mtu: None,
            addresses: &[net("10.77.0.4/24")],
            gateways: &[],
        },
    );
    let mut nl3 = third.netlink();
    if kernel_has_ipvlan() {
        result.unwrap();
        let link = nl3.link("eth0").unwrap().unwrap();
        assert_eq!(link.kind.as_deref(), Some("ipvlan"));
        tcp_roundtrip(&p.host, "10.77.0.1:0".parse().unwrap(), &third);
    } else {
        let err = result.unwrap_err();
        assert!(matches!(err, netlink::Error::Unsupported(_)), "{err:?}");
        assert_eq!(err.to_string(), "ipvlan is not supported by this kernel");
        assert_eq!(nl3.link("eth0").unwrap(), None);
    }
    // An ipvlan link cannot be given a MAC address.
    let msg = macvlan::attach(
        &mut parent_nl,
        &macvlan::Spec {
            parent,
            kind: macvlan::Kind::Ipvlan(macvlan::IpvlanMode::L3),
            netns: third.fd(),
            ifname: "eth1",
            mac: Some(MAC),
            mtu: None,
            addresses: &[],
            gateways: &[],
        },
    )
    .unwrap_err()
    .to_string();
    assert!(msg.contains("parent's MAC address"), "{msg}");
}

#[test]
fn tc_rate_set_read_replace_remove() {
    require_root!();
    let p = pair();
    let mut host = p.host.netlink();
    let vb = host.link("vbtest0").unwrap().unwrap().index;
    assert_eq!(tc::rate(&mut host, vb).unwrap(), None);
    // Removing a limit that is not there is fine.
    tc::set_rate(&mut host, vb, None).unwrap();

    tc::set_rate(&mut host, vb, Some(tc::parse_rate("10mbit").unwrap())).unwrap();
    assert_eq!(tc::rate(&mut host, vb).unwrap(), Some(10_000_000));
    tc::set_rate(&mut host, vb, Some(1_000_000_000)).unwrap();
    assert_eq!(tc::rate(&mut host, vb).unwrap(), Some(1_000_000_000));
    // Above 2^32 bytes/s the rate travels as a 64-bit attribute.
    tc::set_rate(&mut host, vb, Some(40_000_000_000)).unwrap();
    assert_eq!(tc::rate(&mut host, vb).unwrap(), Some(40_000_000_000));
    // The container's own eth0, from the host through a socket in its namespace.
    let mut ctr = p.ctr.netlink();
    let eth0 = ctr.link("eth0").unwrap().unwrap().index;
    tc::set_rate(&mut ctr, eth0, Some(5_000_000)).unwrap();
    assert_eq!(tc::rate(&mut ctr, eth0).unwrap(), Some(5_000_000));
    assert_eq!(tc::rate(&mut host, vb).unwrap(), Some(40_000_000_000));

    tc::set_rate(&mut host, vb, None).unwrap();
    assert_eq!(tc::rate(&mut host, vb).unwrap(), None);
    tc::set_rate(&mut host, vb, None).unwrap();
    let msg = tc::set_rate(&mut host, vb, Some(7))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("too low"), "{msg}");
}

/// Bytes per second of TCP payload sent from `from` to a listener at
/// `to_ip` in `to`, measured by the receiver after a warm-up.
fn goodput(from: &Netns, to: &Netns, to_ip: IpAddr, warmup: Duration, span: Duration) -> f64 {
    let listener = to
        .run(|| TcpListener::bind(SocketAddr::new(to_ip, 0)))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let total = warmup + span;
    let sender = {
        let stream = from
            .run(|| TcpStream::connect_timeout(&addr, Duration::from_secs(5)))
            .unwrap();
        std::thread::spawn(move || {
            let mut stream = stream;
            let chunk = vec![0x5au8; 64 * 1024];
            let start = Instant::now();
            // Bounded: stops by itself shortly after the receiver.
            while start.elapsed() < total + Duration::from_secs(2) {
                if stream.write_all(&chunk).is_err() {
                    break;
                }
            }
        })
    };
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    let start = Instant::now();
    let mut counted = 0u64;
    let mut counting_since = None;
    while start.elapsed() < total {
        let n = s.read(&mut buf).expect("receive");
        if n == 0 {
            break;
        }
        if counting_since.is_some() {
            counted += n as u64;
        } else if start.elapsed() >= warmup {
            counting_since = Some(Instant::now());
        }
    }
    let elapsed = counting_since.map(|t| t.elapsed()).unwrap_or_default();
    drop(s);
    sender.join().unwrap();
    counted as f64 / elapsed.as_secs_f64()
}

/// TCP payload per byte on the wire at MTU 1500 with timestamps:
/// 1448 of 1514 (Ethernet header included: tbf counts it).
const PAYLOAD_PER_WIRE_BYTE: f64 = 1448.0 / 1514.0;

#[test]
fn tc_rate_shapes_both_directions_accurately() {
    require_root!();
    let p = pair();
    let mut host = p.host.netlink();
    let mut ctr = p.ctr.netlink();
    let vb = host.link("vbtest0").unwrap().unwrap().index;
    let eth0 = ctr.link("eth0").unwrap().unwrap().index;
    let mut failures = Vec::new();
    for mbit in [1u64, 10, 100] {
        let bits = mbit * 1_000_000;
        let expected = bits as f64 / 8.0 * PAYLOAD_PER_WIRE_BYTE;
        // Container ingress: shaped on the host end's egress.
        tc::set_rate(&mut host, vb, Some(bits)).unwrap();
        let warmup = Duration::from_millis(500);
        let span = Duration::from_secs(2);
        let ingress = goodput(&p.host, &p.ctr, ip("10.77.0.2"), warmup, span);
        tc::set_rate(&mut host, vb, None).unwrap();
        // Container egress: shaped on its eth0.
        tc::set_rate(&mut ctr, eth0, Some(bits)).unwrap();
        let egress = goodput(&p.ctr, &p.host, ip("10.77.0.1"), warmup, span);
        tc::set_rate(&mut ctr, eth0, None).unwrap();
        for (what, got) in [("ingress", ingress), ("egress", egress)] {
            let ratio = got / expected;
            eprintln!(
                "{mbit:>4} Mbit/s {what:<7}: {:>8.3} Mbit/s of TCP payload = {:.3} of the expected {:.3}",
                got * 8.0 / 1e6,
                ratio,
                expected * 8.0 / 1e6
            );
            if !(0.90..=1.05).contains(&ratio) {
                failures.push(format!("{mbit} Mbit/s {what}: {ratio:.3} of the rate"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}
