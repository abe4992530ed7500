//! berth's nftables table against the real kernel, each test inside network
//! namespaces of its own (threads that `unshare(CLONE_NEWNET)`): the host's
//! namespace is never touched. Needs root and libnftables.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::process::Command;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use berth_net::nft::{self, NetworkRules, PortForward, Protocol, Ruleset};
use berth_testutil::require_root;

type Job = Box<dyn FnOnce() + Send>;

/// A thread alone in a new network namespace that runs closures (and, for
/// them, child processes) in it. The namespace goes when the thread ends.
struct Netns {
    tx: Option<mpsc::Sender<Job>>,
    tid: i32,
    thread: Option<JoinHandle<()>>,
}

impl Netns {
    fn new() -> Netns {
        let (tx, rx) = mpsc::channel::<Job>();
        let (tid_tx, tid_rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                .expect("unshare(CLONE_NEWNET)");
            tid_tx.send(nix::unistd::gettid().as_raw()).unwrap();
            for job in rx {
                job();
            }
        });
        let tid = tid_rx.recv().expect("netns thread died");
        let ns = Netns {
            tx: Some(tx),
            tid,
            thread: Some(thread),
        };
        ns.sh("ip link set lo up");
        ns
    }

    /// Runs `f` on the namespace's thread and returns its result (a panic
    /// in `f` is the caller's panic).
    fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
        });
        self.tx
            .as_ref()
            .unwrap()
            .send(job)
            .expect("netns thread gone");
        match rx.recv().expect("netns thread gone") {
            Ok(value) => value,
            Err(panic) => resume_unwind(panic),
        }
    }

    /// Runs a shell script in the namespace; it must succeed.
    fn sh(&self, script: &str) {
        let script = script.to_owned();
        self.run(move || {
            let out = Command::new("sh")
                .arg("-ec")
                .arg(&script)
                .output()
                .expect("sh");
            assert!(
                out.status.success(),
                "`{script}` failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        })
    }

    /// A TCP server in the namespace answering each connection with the
    /// peer address it sees, then closing.
    fn serve_tcp(&self, addr: &str) {
        let addr: SocketAddr = addr.parse().unwrap();
        let listener = self.run(move || TcpListener::bind(addr).expect("bind"));
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let peer = conn.peer_addr().unwrap().ip().to_string();
                let _ = conn.write_all(peer.as_bytes());
            }
        });
    }

    /// A UDP server in the namespace answering each datagram with the peer
    /// address it sees.
    fn serve_udp(&self, addr: &str) {
        let addr: SocketAddr = addr.parse().unwrap();
        let socket = self.run(move || UdpSocket::bind(addr).expect("bind"));
        std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while let Ok((_, peer)) = socket.recv_from(&mut buf) {
                let _ = socket.send_to(peer.ip().to_string().as_bytes(), peer);
            }
        });
    }

    /// Connects from the namespace to `addr`: the address the server saw
    /// us as, or the error. Long enough for SYN retransmissions.
    fn tcp(&self, addr: &str) -> Result<String, String> {
        self.tcp_within(addr, Duration::from_secs(5))
    }

    /// True when a connection to `addr` fails within a second (dropped or
    /// refused): each such check waits for the whole timeout, so it is short.
    fn tcp_blocked(&self, addr: &str) -> bool {
        self.tcp_within(addr, Duration::from_secs(1)).is_err()
    }

    fn tcp_within(&self, addr: &str, timeout: Duration) -> Result<String, String> {
        let addr: SocketAddr = addr.parse().unwrap();
        self.run(move || {
            let mut conn = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
            conn.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            let mut seen = String::new();
            conn.read_to_string(&mut seen).map_err(|e| e.to_string())?;
            Ok(seen)
        })
    }

    fn udp(&self, addr: &str) -> Result<String, String> {
        let addr: SocketAddr = addr.parse().unwrap();
        self.run(move || {
            let bind: SocketAddr = if addr.is_ipv4() {
                "0.0.0.0:0"
            } else {
                "[::]:0"
            }
            .parse()
            .unwrap();
            let socket = UdpSocket::bind(bind).map_err(|e| e.to_string())?;
            socket
                .set_read_timeout(Some(Duration::from_secs(3)))
                .unwrap();
            socket.send_to(b"hi", addr).map_err(|e| e.to_string())?;
            let mut buf = [0u8; 64];
            let (n, _) = socket.recv_from(&mut buf).map_err(|e| e.to_string())?;
            Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
        })
    }

    fn apply(&self, r: &Ruleset) -> Result<(), nft::Error> {
        let r = r.clone();
        self.run(move || nft::apply(&r))
    }

    fn current(&self) -> Option<String> {
        self.run(|| nft::current().expect("list table"))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn network(bridge: &str, subnets: &[&str], internal: bool) -> NetworkRules {
    NetworkRules {
        bridge: bridge.to_owned(),
        subnets: subnets.iter().map(|s| s.parse().unwrap()).collect(),
        internal,
    }
}

fn forward(
    host_ip: Option<&str>,
    host_port: u16,
    protocol: Protocol,
    ctr: &str,
    ctr_port: u16,
    bridge: &str,
) -> PortForward {
    PortForward {
        host_ip: host_ip.map(ip),
        host_port,
        protocol,
        container_ip: ip(ctr),
        container_port: ctr_port,
        bridge: bridge.to_owned(),
    }
}

fn many_ports(n: u16) -> Ruleset {
    Ruleset {
        networks: vec![network("berth0", &["172.17.0.0/16"], false)],
        ports: (0..n)
            .map(|i| {
                forward(
                    None,
                    20000 + i,
                    Protocol::Tcp,
                    "172.17.0.2",
                    80 + i,
                    "berth0",
                )
            })
            .collect(),
    }
}

#[test]
fn apply_read_replace_delete() {
    require_root!();
    let host = Netns::new();
    assert_eq!(host.current(), None);
    // Deleting what is not there is fine.
    host.run(|| nft::delete().unwrap());

    let first = many_ports(3);
    host.apply(&first).unwrap();
    let listed = host.current().expect("table after apply");
    assert!(listed.contains("tcp . 20002 : 172.17.0.2 . 82"), "{listed}");
    assert!(
        listed.contains("oifname != \"berth0\" ip saddr 172.17.0.0/16 masquerade"),
        "{listed}"
    );

    // Idempotent: the same ruleset again lists the same.
    host.apply(&first).unwrap();
    assert_eq!(host.current().unwrap(), listed);

    // Replaced whole: the old elements are gone.
    let mut second = many_ports(1);
    second.ports[0].host_port = 30000;
    host.apply(&second).unwrap();
    let listed = host.current().unwrap();
    assert!(listed.contains("tcp . 30000 : 172.17.0.2 . 80"), "{listed}");
    assert!(!listed.contains("20001"), "{listed}");

    // Empty: deleted; empty again: still fine.
    host.apply(&Ruleset::default()).unwrap();
    assert_eq!(host.current(), None);
    host.apply(&Ruleset::default()).unwrap();
    host.apply(&second).unwrap();
    host.run(|| nft::delete().unwrap());
    assert_eq!(host.current(), None);
}

#[test]
fn other_tables_are_left_alone() {
    require_root!();
    let host = Netns::new();
    host.run(|| {
        let mut ctx = berth_sys::nftables::Context::new().unwrap();
        ctx.run("table inet other {\n chain c {\n type filter hook input priority 0; policy accept;\n }\n}\n")
            .unwrap();
    });
    host.apply(&many_ports(2)).unwrap();
    host.apply(&Ruleset::default()).unwrap();
    let tables = host.run(|| {
        let mut ctx = berth_sys::nftables::Context::new().unwrap();
        ctx.run("list tables").unwrap()
    });
    assert_eq!(tables.trim(), "table inet other");
}

#[test]
fn refused_ruleset_leaves_previous_table() {
    require_root!();
    let host = Netns::new();
    let good = many_ports(2);
    host.apply(&good).unwrap();
    let before = host.current().unwrap();

    // Refused before anything is sent.
    let mut bad = many_ports(5);
    bad.networks[0].bridge = "no\"such".into();
    let err = host.apply(&bad).unwrap_err();
    assert!(matches!(err, nft::Error::InvalidBridge(_)), "{err}");
    assert_eq!(host.current().unwrap(), before);

    // Refused by the kernel at the end of apply's very batch: nothing of
    // it applies, the old table stays.
    let err = host.run(|| {
        let script = nft::script(&many_ports(5)) + "delete table inet berth_no_such_table\n";
        berth_sys::nftables::Context::new()
            .unwrap()
            .run(&script)
            .unwrap_err()
    });
    assert!(err.contains("No such file or directory"), "{err}");
    assert_eq!(host.current().unwrap(), before);
}

#[test]
fn fifty_ports_apply_in_one_table() {
    require_root!();
    let host = Netns::new();
    host.apply(&many_ports(50)).unwrap();
    let listed = host.current().expect("table after apply");
    for i in 0..50u16 {
        let element = format!("tcp . {} : 172.17.0.2 . {}", 20000 + i, 80 + i);
        assert!(listed.contains(&element), "{element} missing: {listed}");
    }
}

/// A host namespace with a berth-like bridge and containers behind it, and
/// an "outside" namespace on a veth to the host.
struct Topology {
    host: Netns,
    outside: Netns,
    /// c1, c2 on `brt` (10.99.0.0/24, fd99::/64)
    c1: Netns,
    c2: Netns,
    /// c3 on `brt2` (10.97.0.0/24)
    c3: Netns,
    /// c4, c5 on internal `brti` (10.96.0.0/24)
    c4: Netns,
    c5: Netns,
}

impl Topology {
    fn new(br_netfilter: bool) -> Topology {
        let t = Topology {
            host: Netns::new(),
            outside: Netns::new(),
            c1: Netns::new(),
            c2: Netns::new(),
            c3: Netns::new(),
            c4: Netns::new(),
            c5: Netns::new(),
        };
        let nf = u8::from(br_netfilter);
        t.host.sh(&format!(
            "echo {nf} > /proc/sys/net/bridge/bridge-nf-call-iptables
             echo {nf} > /proc/sys/net/bridge/bridge-nf-call-ip6tables
             echo 1 > /proc/sys/net/ipv4/ip_forward
             echo 1 > /proc/sys/net/ipv6/conf/all/forwarding
             ip link add vout type veth peer name eth0 netns {outside}
             ip addr add 10.98.0.1/24 dev vout
             ip addr add fd98::1/64 dev vout nodad
             ip link set vout up",
            outside = t.outside.tid
        ));
        t.outside.sh("ip addr add 10.98.0.2/24 dev eth0
             ip addr add fd98::2/64 dev eth0 nodad
             ip link set eth0 up");
        t.bridge("brt", "10.99.0.1/24", Some("fd99::1/64"));
        t.bridge("brt2", "10.97.0.1/24", None);
        t.bridge("brti", "10.96.0.1/24", None);
        t.attach(&t.c1, "vb1", "brt", "10.99.0.2/24", Some("fd99::2/64"));
        t.attach(&t.c2, "vb2", "brt", "10.99.0.3/24", Some("fd99::3/64"));
        t.attach(&t.c3, "vb3", "brt2", "10.97.0.2/24", None);
        t.attach(&t.c4, "vb4", "brti", "10.96.0.2/24", None);
        t.attach(&t.c5, "vb5", "brti", "10.96.0.3/24", None);
        for c in [&t.c1, &t.c2, &t.c3, &t.c4, &t.c5] {
            c.serve_tcp("0.0.0.0:80");
            c.serve_tcp("[::]:8000");
        }
        t.c1.serve_udp("0.0.0.0:53");
        t.outside.serve_tcp("0.0.0.0:9999");
        t.outside.serve_tcp("[::]:9997");
        t.host.serve_tcp("0.0.0.0:9998");
        t
    }

    fn bridge(&self, name: &str, v4: &str, v6: Option<&str>) {
        self.host.sh(&format!(
            "ip link add {name} type bridge
             ip addr add {v4} dev {name}
             {}
             ip link set {name} up
             echo 1 > /proc/sys/net/ipv4/conf/{name}/route_localnet",
            v6.map(|a| format!("ip addr add {a} dev {name} nodad"))
                .unwrap_or_default()
        ));
    }

    fn attach(&self, c: &Netns, veth: &str, bridge: &str, v4: &str, v6: Option<&str>) {
        self.host.sh(&format!(
            "ip link add {veth} type veth peer name eth0 netns {tid}
             ip link set {veth} master {bridge}
             ip link set {veth} type bridge_slave hairpin on
             ip link set {veth} up",
            tid = c.tid
        ));
        let gw4 = v4
            .split('/')
            .next()
            .unwrap()
            .rsplit_once('.')
            .unwrap()
            .0
            .to_owned()
            + ".1";
        c.sh(&format!(
            "ip addr add {v4} dev eth0
             ip link set eth0 up
             ip route add default via {gw4}
             {}",
            v6.map(|a| format!(
                "ip addr add {a} dev eth0 nodad
                 ip -6 route add default via {}",
                a.split('/')
                    .next()
                    .unwrap()
                    .rsplit_once(':')
                    .unwrap()
                    .0
                    .to_owned()
                    + ":1"
            ))
            .unwrap_or_default()
        ));
    }

    fn ruleset() -> Ruleset {
        Ruleset {
            networks: vec![
                network("brt", &["10.99.0.0/24", "fd99::/64"], false),
                network("brt2", &["10.97.0.0/24"], false),
                network("brti", &["10.96.0.0/24"], true),
            ],
            ports: vec![
                forward(None, 8080, Protocol::Tcp, "10.99.0.2", 80, "brt"),
                forward(None, 8080, Protocol::Tcp, "fd99::2", 8000, "brt"),
                forward(None, 5353, Protocol::Udp, "10.99.0.2", 53, "brt"),
                forward(
                    Some("10.98.0.1"),
                    8081,
                    Protocol::Tcp,
                    "10.99.0.3",
                    80,
                    "brt",
                ),
                forward(
                    Some("127.0.0.1"),
                    8082,
                    Protocol::Tcp,
                    "10.99.0.3",
                    80,
                    "brt",
                ),
                forward(None, 8083, Protocol::Tcp, "10.97.0.2", 80, "brt2"),
                // Left out: Docker publishes nothing on an internal network.
                forward(None, 8084, Protocol::Tcp, "10.96.0.2", 80, "brti"),
            ],
        }
    }
}

/// Everything the rules must do, as traffic, in one topology (setting it up
/// costs more than the checks).
fn traffic(br_netfilter: bool) {
    let t = Topology::new(br_netfilter);

    // Without berth's table: no DNAT, no masquerade, no isolation.
    assert!(t.outside.tcp_blocked("10.98.0.1:8080"));
    assert!(
        t.c1.tcp_blocked("10.98.0.2:9999"),
        "reached outside without masquerade?"
    );
    assert!(
        t.c1.tcp_blocked("[fd98::2]:9997"),
        "reached outside without masquerade?"
    );
    assert_eq!(t.c1.tcp("10.97.0.2:80").unwrap(), "10.99.0.2");
    assert_eq!(t.c4.tcp("10.99.0.2:80").unwrap(), "10.96.0.2");

    t.host.apply(&Topology::ruleset()).unwrap();

    // DNAT from outside, the client's own address kept (IPv4, IPv6, UDP).
    assert_eq!(t.outside.tcp("10.98.0.1:8080").unwrap(), "10.98.0.2");
    assert_eq!(t.outside.tcp("[fd98::1]:8080").unwrap(), "fd98::2");
    assert_eq!(t.outside.udp("10.98.0.1:5353").unwrap(), "10.98.0.2");
    // A port published on one host address only.
    assert_eq!(t.outside.tcp("10.98.0.1:8081").unwrap(), "10.98.0.2");
    assert!(
        t.outside.tcp_blocked("10.98.0.1:8082"),
        "127.0.0.1-only port reached from outside"
    );
    // The host's other addresses and its loopback (masqueraded to the
    // bridge address: route_localnet on the bridge).
    assert_eq!(t.host.tcp("10.98.0.1:8080").unwrap(), "10.98.0.1");
    assert_eq!(t.host.tcp("127.0.0.1:8080").unwrap(), "10.99.0.1");
    assert_eq!(t.host.tcp("127.0.0.1:8082").unwrap(), "10.99.0.1");
    // (the source 10.99.0.1 is in brt's subnet, leaving by brt2: masqueraded)
    assert_eq!(t.host.tcp("10.99.0.1:8083").unwrap(), "10.97.0.1");

    // Hairpin: a container reaches its own and its neighbour's published
    // port through a host address, and sees the bridge address.
    assert_eq!(t.c1.tcp("10.98.0.1:8080").unwrap(), "10.99.0.1");
    assert_eq!(t.c1.tcp("10.99.0.1:8080").unwrap(), "10.99.0.1");
    assert_eq!(t.c2.tcp("10.99.0.1:8080").unwrap(), "10.99.0.1");
    assert_eq!(t.c1.tcp("10.98.0.1:8081").unwrap(), "10.99.0.1");
    assert_eq!(t.c1.udp("10.99.0.1:5353").unwrap(), "10.99.0.1");
    assert_eq!(t.c1.tcp("[fd98::1]:8080").unwrap(), "fd99::1");
    assert_eq!(t.c2.tcp("[fd99::1]:8080").unwrap(), "fd99::1");

    // Masquerade on the way out.
    assert_eq!(t.c1.tcp("10.98.0.2:9999").unwrap(), "10.98.0.1");
    assert_eq!(t.c3.tcp("10.98.0.2:9999").unwrap(), "10.98.0.1");
    assert_eq!(t.c1.tcp("[fd98::2]:9997").unwrap(), "fd98::1");
    // Same bridge: direct, unchanged.
    assert_eq!(t.c1.tcp("10.99.0.3:80").unwrap(), "10.99.0.2");
    assert_eq!(t.c2.tcp("[fd99::2]:8000").unwrap(), "fd99::3");
    // The host reaches its containers directly.
    assert_eq!(t.host.tcp("10.99.0.2:80").unwrap(), "10.99.0.1");

    // Isolation: no network reaches another one directly, either way; a
    // published port of another network through the host works (DNAT'd).
    assert!(t.c1.tcp_blocked("10.97.0.2:80"), "brt reached brt2");
    assert!(t.c3.tcp_blocked("10.99.0.2:80"), "brt2 reached brt");
    // (leaving by another bridge than its own: masqueraded, as Docker)
    assert_eq!(t.c1.tcp("10.98.0.1:8083").unwrap(), "10.97.0.1");
    // No routed access from outside to an unpublished container port.
    t.outside.sh("ip route add 10.99.0.0/24 via 10.98.0.1");
    assert!(
        t.outside.tcp_blocked("10.99.0.2:80"),
        "outside reached a container directly"
    );

    // Internal: nothing out, nothing in, its own bridge fine, nothing published.
    assert!(
        t.c4.tcp_blocked("10.98.0.2:9999"),
        "internal reached outside"
    );
    assert!(t.c4.tcp_blocked("10.99.0.2:80"), "internal reached brt");
    assert!(
        t.c4.tcp_blocked("10.98.0.1:8080"),
        "internal reached a published port"
    );
    assert!(t.c1.tcp_blocked("10.96.0.2:80"), "brt reached internal");
    assert!(
        t.outside.tcp_blocked("10.98.0.1:8084"),
        "internal port published"
    );
    assert_eq!(t.c4.tcp("10.96.0.3:80").unwrap(), "10.96.0.2");

    // Replaced by an empty ruleset: all gone again.
    t.host.apply(&Ruleset::default()).unwrap();
    assert!(t.outside.tcp_blocked("10.98.0.1:8080"));
    assert_eq!(t.c1.tcp("10.97.0.2:80").unwrap(), "10.99.0.2");
}

#[test]
fn traffic_with_br_netfilter() {
    require_root!();
    traffic(true);
}

#[test]
fn traffic_without_br_netfilter() {
    require_root!();
    traffic(false);
}
