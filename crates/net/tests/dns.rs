//! The container resolver over real sockets: on loopback with port 0 in the
//! test's own network namespace, and (as root) at 127.0.0.11:53 inside a
//! namespace the test makes, with a fake upstream server that answers fixed
//! bytes. Nothing here leaves loopback.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use berth_net::dns::{Config, Names, Resolver, FORWARD_TIMEOUT, MAX_FORWARDS};
use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use nix::sched::CloneFlags;

// ---------------------------------------------------------------- fixtures

/// The engine's side, as a table: `web` (both families, alias `www`), `db`
/// (IPv4 only), and `db` on network `backend`.
struct Table {
    names: HashMap<&'static str, Vec<IpAddr>>,
    in_network: HashMap<(&'static str, &'static str), Vec<IpAddr>>,
    ptr: HashMap<IpAddr, &'static str>,
}

impl Names for Table {
    fn lookup(&self, name: &str) -> Vec<IpAddr> {
        self.names.get(name).cloned().unwrap_or_default()
    }
    fn lookup_in(&self, name: &str, network: &str) -> Vec<IpAddr> {
        self.in_network
            .get(&(name, network))
            .cloned()
            .unwrap_or_default()
    }
    fn reverse(&self, ip: IpAddr) -> Option<String> {
        self.ptr.get(&ip).map(|s| s.to_string())
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn names() -> Arc<dyn Names> {
    let web = vec![ip("172.18.0.2"), ip("fd00:18::2")];
    Arc::new(Table {
        names: HashMap::from([
            ("web", web.clone()),
            ("www", web),
            ("db", vec![ip("172.18.0.3")]),
        ]),
        in_network: HashMap::from([(("db", "backend"), vec![ip("172.18.0.3")])]),
        ptr: HashMap::from([
            (ip("172.18.0.2"), "web.frontend"),
            (ip("fd00:18::2"), "web.frontend"),
        ]),
    })
}

fn loopback_config(upstreams: Vec<SocketAddr>, forward: bool) -> Config {
    Config {
        listen: ip("127.0.0.1"),
        port: 0,
        upstreams,
        forward,
    }
}

fn start(upstreams: Vec<SocketAddr>, forward: bool) -> Resolver {
    Resolver::start(None, loopback_config(upstreams, forward), names()).expect("start resolver")
}

fn query(name: &str, rtype: RecordType) -> Message {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    m
}

/// Sends `bytes` over UDP and waits (up to `wait`) for one datagram back.
fn udp_exchange(server: SocketAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind(match server {
        SocketAddr::V4(_) => "127.0.0.1:0",
        SocketAddr::V6(_) => "[::1]:0",
    })
    .unwrap();
    socket.set_read_timeout(Some(wait)).unwrap();
    socket.send_to(bytes, server).unwrap();
    let mut buf = vec![0u8; 65535];
    let (n, from) = socket.recv_from(&mut buf).ok()?;
    assert_eq!(from, server);
    Some(buf[..n].to_vec())
}

fn ask_udp(server: SocketAddr, q: &Message) -> Message {
    let answer =
        udp_exchange(server, &q.to_vec().unwrap(), Duration::from_secs(10)).expect("no UDP answer");
    let m = Message::from_vec(&answer).unwrap();
    assert_eq!(m.metadata.id, q.metadata.id);
    assert_eq!(m.metadata.message_type, MessageType::Response);
    m
}

fn tcp_write(stream: &mut TcpStream, bytes: &[u8]) {
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    stream.write_all(&framed).unwrap();
}

fn tcp_read(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).ok()?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).ok()?;
    Some(buf)
}

fn ask_tcp(server: SocketAddr, q: &Message) -> Message {
    let mut stream = TcpStream::connect(server).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    tcp_write(&mut stream, &q.to_vec().unwrap());
    let m = Message::from_vec(&tcp_read(&mut stream).expect("no TCP answer")).unwrap();
    assert_eq!(m.metadata.id, q.metadata.id);
    m
}

fn addresses(m: &Message) -> Vec<IpAddr> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect()
}

/// How a fake upstream answers one query (`tcp`: it came over TCP); None:
/// silence.
type Behaviour = dyn Fn(&[u8], bool) -> Option<Vec<u8>> + Send + Sync;

/// A query a fake upstream got: over TCP?, its bytes.
type Received = (bool, Vec<u8>);

/// A DNS server on 127.0.0.1 (UDP and TCP on one port) that records every
/// query it gets and answers as told. Stopped on drop.
struct FakeUpstream {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl FakeUpstream {
    fn start(behaviour: impl Fn(&[u8], bool) -> Option<Vec<u8>> + Send + Sync + 'static) -> Self {
        let behaviour: Arc<Behaviour> = Arc::new(behaviour);
        // UDP and TCP on the same free port.
        let (udp, tcp) = (0..50)
            .find_map(|_| {
                let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
                let tcp = TcpListener::bind(udp.local_addr().unwrap()).ok()?;
                Some((udp, tcp))
            })
            .expect("a free port for UDP and TCP");
        let addr = udp.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        udp.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        tcp.set_nonblocking(true).unwrap();
        let udp_thread = {
            let (received, stop, behaviour) = (received.clone(), stop.clone(), behaviour.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65535];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, peer)) = udp.recv_from(&mut buf) else {
                        continue;
                    };
                    received.lock().unwrap().push((false, buf[..n].to_vec()));
                    if let Some(answer) = behaviour(&buf[..n], false) {
                        udp.send_to(&answer, peer).unwrap();
                    }
                }
            })
        };
        let tcp_thread = {
            let (received, stop) = (received.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok((mut stream, _)) = tcp.accept() else {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    };
                    stream.set_nonblocking(false).unwrap();
                    stream
                        .set_read_timeout(Some(Duration::from_secs(5)))
                        .unwrap();
                    while let Some(q) = tcp_read(&mut stream) {
                        received.lock().unwrap().push((true, q.clone()));
                        match behaviour(&q, true) {
                            Some(answer) => tcp_write(&mut stream, &answer),
                            None => break,
                        }
                    }
                }
            })
        };
        FakeUpstream {
            addr,
            received,
            stop,
            threads: vec![udp_thread, tcp_thread],
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A fixed answer (one A record, 192.0.2.1, TTL 42) to whatever was asked,
/// with the query's id: what an upstream would send back, byte for byte.
fn fixed_answer(q: &[u8], rcode: ResponseCode, truncated: bool) -> Vec<u8> {
    let q = Message::from_vec(q).unwrap();
    let mut m = Message::response(q.metadata.id, q.metadata.op_code);
    m.metadata.recursion_desired = q.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.metadata.truncation = truncated;
    m.metadata.response_code = rcode;
    m.queries = q.queries.clone();
    if rcode == ResponseCode::NoError && !truncated {
        let name = q.queries[0].name().clone();
        m.answers.push(Record::from_rdata(
            name,
            42,
            RData::A(A("192.0.2.1".parse().unwrap())),
        ));
    }
    m.to_vec().unwrap()
}

// ---------------------------------------------------------------- tests

#[test]
fn answers_container_names_over_udp_and_tcp() {
    let resolver = start(vec![], true);
    for (name, want) in [
        ("web.", vec![ip("172.18.0.2")]),
        ("WWW.", vec![ip("172.18.0.2")]),
        ("Db.", vec![ip("172.18.0.3")]),
        // Docker's name.network: `db` on network `backend`.
        ("db.backend.", vec![ip("172.18.0.3")]),
    ] {
        let q = query(name, RecordType::A);
        for m in [
            ask_udp(resolver.udp_addr(), &q),
            ask_tcp(resolver.tcp_addr(), &q),
        ] {
            assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{name}");
            assert_eq!(addresses(&m), want, "{name}");
            assert_eq!(m.answers[0].ttl, 600);
            // The question comes back as asked (case included).
            assert_eq!(m.queries, q.queries);
            assert!(m.metadata.recursion_available);
        }
    }
    resolver.stop();
}

#[test]
fn aaaa_and_the_other_family() {
    let resolver = start(vec![], true);
    let m = ask_udp(resolver.udp_addr(), &query("web.", RecordType::AAAA));
    assert_eq!(addresses(&m), vec![ip("fd00:18::2")]);
    assert!(matches!(m.answers[0].data, RData::AAAA(AAAA(_))));
    // `db` is known but has no IPv6: NOERROR, no answers (not NXDOMAIN),
    // and not forwarded (there is no upstream: it would be SERVFAIL).
    let m = ask_udp(resolver.udp_addr(), &query("db.", RecordType::AAAA));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
}

#[test]
fn ptr_for_container_addresses() {
    let resolver = start(vec![], true);
    for name in [
        "2.0.18.172.in-addr.arpa.",
        "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.1.0.0.0.0.d.f.ip6.arpa.",
    ] {
        let m = ask_udp(resolver.udp_addr(), &query(name, RecordType::PTR));
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{name}");
        assert_eq!(m.answers.len(), 1);
        assert_eq!(
            m.answers[0].data,
            RData::PTR(PTR(Name::from_ascii("web.frontend.").unwrap()))
        );
    }
}

#[test]
fn unknown_names_are_forwarded_raw_over_udp_and_the_answer_relayed_verbatim() {
    let upstream = FakeUpstream::start(|q, _| Some(fixed_answer(q, ResponseCode::NoError, false)));
    let resolver = start(vec![upstream.addr], true);
    let mut q = query("example.test.", RecordType::A);
    // EDNS too: forwarded untouched.
    q.set_edns(Edns::new());
    let sent = q.to_vec().unwrap();
    let got = udp_exchange(resolver.udp_addr(), &sent, Duration::from_secs(10)).unwrap();
    assert_eq!(got, fixed_answer(&sent, ResponseCode::NoError, false));
    assert_eq!(upstream.received(), vec![(false, sent)]);
    // Other types for a container's name are not ours either.
    let txt = query("web.", RecordType::TXT);
    let m = ask_udp(resolver.udp_addr(), &txt);
    assert_eq!(addresses(&m), vec![ip("192.0.2.1")]);
    // Nor is a PTR for an address that is no container's.
    let m = ask_udp(
        resolver.udp_addr(),
        &query("1.2.0.192.in-addr.arpa.", RecordType::PTR),
    );
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(upstream.received().len(), 3);
}

#[test]
fn tcp_queries_are_forwarded_over_tcp() {
    let upstream = FakeUpstream::start(|q, _| Some(fixed_answer(q, ResponseCode::NoError, false)));
    let resolver = start(vec![upstream.addr], true);
    let q = query("example.test.", RecordType::A);
    // Two queries on one connection: the connection stays open between.
    let mut stream = TcpStream::connect(resolver.tcp_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for _ in 0..2 {
        tcp_write(&mut stream, &q.to_vec().unwrap());
        let got = tcp_read(&mut stream).unwrap();
        assert_eq!(
            got,
            fixed_answer(&q.to_vec().unwrap(), ResponseCode::NoError, false)
        );
    }
    let received = upstream.received();
    assert_eq!(received.len(), 2);
    assert!(received
        .iter()
        .all(|(tcp, bytes)| *tcp && *bytes == q.to_vec().unwrap()));
}

#[test]
fn a_truncated_udp_answer_reaches_the_client_whose_tcp_retry_is_forwarded_over_tcp() {
    // Docker's behaviour: the TC answer goes back as it is; the client
    // (glibc, musl) retries over TCP, and that is forwarded over TCP.
    let upstream = FakeUpstream::start(|q, tcp| Some(fixed_answer(q, ResponseCode::NoError, !tcp)));
    let resolver = start(vec![upstream.addr], true);
    let q = query("big.example.test.", RecordType::A);
    let m = ask_udp(resolver.udp_addr(), &q);
    assert!(m.metadata.truncation);
    assert!(m.answers.is_empty());
    let m = ask_tcp(resolver.tcp_addr(), &q);
    assert!(!m.metadata.truncation);
    assert_eq!(addresses(&m), vec![ip("192.0.2.1")]);
    let protocols: Vec<bool> = upstream.received().iter().map(|(tcp, _)| *tcp).collect();
    assert_eq!(protocols, vec![false, true]);
}

#[test]
fn servfail_and_refused_upstreams_are_skipped_for_the_next() {
    let failing = FakeUpstream::start(|q, _| Some(fixed_answer(q, ResponseCode::ServFail, false)));
    let refusing = FakeUpstream::start(|q, _| Some(fixed_answer(q, ResponseCode::Refused, false)));
    let good = FakeUpstream::start(|q, _| Some(fixed_answer(q, ResponseCode::NoError, false)));
    let resolver = start(vec![failing.addr, refusing.addr, good.addr], true);
    let m = ask_udp(resolver.udp_addr(), &query("example.test.", RecordType::A));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(addresses(&m), vec![ip("192.0.2.1")]);
    for u in [&failing, &refusing, &good] {
        assert_eq!(u.received().len(), 1);
    }
    // NXDOMAIN is an answer: relayed, the next server is not asked.
    let nx = FakeUpstream::start(|q, _| Some(fixed_answer(q, ResponseCode::NXDomain, false)));
    let unasked = FakeUpstream::start(|q, _| Some(fixed_answer(q, ResponseCode::NoError, false)));
    let resolver = start(vec![nx.addr, unasked.addr], true);
    let m = ask_udp(resolver.udp_addr(), &query("nope.test.", RecordType::A));
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(unasked.received().is_empty());
}

#[test]
fn silent_upstreams_give_servfail_within_the_timeout_without_blocking_other_queries() {
    let silent = FakeUpstream::start(|_, _| None);
    let also_silent = FakeUpstream::start(|_, _| None);
    let resolver = start(vec![silent.addr, also_silent.addr], true);
    let addr = resolver.udp_addr();
    let started = Instant::now();
    let pending = std::thread::spawn(move || {
        let q = query("slow.example.test.", RecordType::A);
        (ask_udp(addr, &q), q)
    });
    // Meanwhile, names of containers are answered at once.
    std::thread::sleep(Duration::from_millis(200));
    let quick = Instant::now();
    let m = ask_udp(addr, &query("web.", RecordType::A));
    assert_eq!(addresses(&m), vec![ip("172.18.0.2")]);
    assert!(
        quick.elapsed() < Duration::from_secs(1),
        "{:?}",
        quick.elapsed()
    );
    let (m, q) = pending.join().unwrap();
    let took = started.elapsed();
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(m.queries, q.queries, "SERVFAIL carries the question");
    assert!(
        took >= FORWARD_TIMEOUT - Duration::from_millis(300)
            && took < FORWARD_TIMEOUT + Duration::from_secs(2),
        "took {took:?}"
    );
    // Both servers were asked, each with a share of the budget.
    assert_eq!(silent.received().len(), 1);
    assert_eq!(also_silent.received().len(), 1);
}

#[test]
fn no_forwarding_on_internal_networks_or_without_upstreams_is_servfail() {
    let upstream = FakeUpstream::start(|q, _| Some(fixed_answer(q, ResponseCode::NoError, false)));
    for resolver in [start(vec![upstream.addr], false), start(vec![], true)] {
        let q = query("example.test.", RecordType::A);
        let started = Instant::now();
        for m in [
            ask_udp(resolver.udp_addr(), &q),
            ask_tcp(resolver.tcp_addr(), &q),
        ] {
            assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
            assert_eq!(m.queries, q.queries);
        }
        assert!(started.elapsed() < Duration::from_secs(1));
        // Container names still resolve.
        let m = ask_udp(resolver.udp_addr(), &query("web.", RecordType::A));
        assert_eq!(addresses(&m), vec![ip("172.18.0.2")]);
    }
    assert!(upstream.received().is_empty());
}

#[test]
fn forwards_past_the_cap_are_refused() {
    let silent = FakeUpstream::start(|_, _| None);
    let resolver = start(vec![silent.addr], true);
    let addr = resolver.udp_addr();
    // MAX_FORWARDS queries hang on the silent upstream...
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..MAX_FORWARDS {
        let mut q = query(&format!("q{i}.example.test."), RecordType::A);
        q.metadata.id = i as u16;
        client.send_to(&q.to_vec().unwrap(), addr).unwrap();
    }
    // ... until every forwarding thread is busy (the upstream saw them all).
    let deadline = Instant::now() + Duration::from_secs(3);
    while silent.received().len() < MAX_FORWARDS {
        assert!(
            Instant::now() < deadline,
            "only {} forwarded",
            silent.received().len()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // One more is refused at once.
    let m = ask_udp(addr, &query("one-too-many.example.test.", RecordType::A));
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    // And the held ones end in SERVFAIL after the timeout, freeing the slots.
    client
        .set_read_timeout(Some(FORWARD_TIMEOUT + Duration::from_secs(3)))
        .unwrap();
    let mut buf = [0u8; 512];
    for _ in 0..MAX_FORWARDS {
        let (n, _) = client
            .recv_from(&mut buf)
            .expect("a SERVFAIL per held query");
        assert_eq!(
            Message::from_vec(&buf[..n]).unwrap().metadata.response_code,
            ResponseCode::ServFail
        );
    }
    let ok = FakeUpstream::start(|q, _| Some(fixed_answer(q, ResponseCode::NoError, false)));
    drop(resolver);
    let resolver = start(vec![ok.addr], true);
    let m = ask_udp(
        resolver.udp_addr(),
        &query("after.example.test.", RecordType::A),
    );
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
}

#[test]
fn garbage_over_udp_and_tcp_leaves_the_resolver_serving() {
    let upstream = FakeUpstream::start(|q, _| Some(fixed_answer(q, ResponseCode::NoError, false)));
    let resolver = start(vec![upstream.addr], true);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let good = query("web.", RecordType::A).to_vec().unwrap();
    for i in 0..3000 {
        let packet: Vec<u8> = match i % 3 {
            0 => (0..next() % 700).map(|_| next() as u8).collect(),
            1 => good[..(next() as usize) % good.len()].to_vec(),
            _ => {
                let mut p = good.clone();
                let at = (next() as usize) % p.len();
                p[at] = next() as u8;
                p
            }
        };
        client.send_to(&packet, resolver.udp_addr()).unwrap();
    }
    // An empty datagram, and a response (QR set) which must not be answered.
    client.send_to(&[], resolver.udp_addr()).unwrap();
    let mut response = good.clone();
    response[2] |= 0x80;
    assert_eq!(
        udp_exchange(resolver.udp_addr(), &response, Duration::from_millis(300)),
        None
    );
    // TCP: a length with nothing after it, a huge length then close, noise.
    for junk in [
        vec![0u8, 40],
        vec![0xff, 0xff, 1, 2, 3],
        vec![0, 3, 1, 2, 3],
        vec![0, 0],
    ] {
        let mut s = TcpStream::connect(resolver.tcp_addr()).unwrap();
        s.write_all(&junk).unwrap();
        drop(s);
    }
    // Still serving, both ways.
    let q = query("web.", RecordType::A);
    assert_eq!(
        addresses(&ask_udp(resolver.udp_addr(), &q)),
        vec![ip("172.18.0.2")]
    );
    assert_eq!(
        addresses(&ask_tcp(resolver.tcp_addr(), &q)),
        vec![ip("172.18.0.2")]
    );
}

#[test]
fn stop_closes_the_sockets() {
    let resolver = start(vec![], true);
    let (udp, tcp) = (resolver.udp_addr(), resolver.tcp_addr());
    // An idle TCP connection does not hold stop up.
    let idle = TcpStream::connect(tcp).unwrap();
    let started = Instant::now();
    resolver.stop();
    assert!(started.elapsed() < Duration::from_secs(1));
    UdpSocket::bind(udp).expect("UDP port free again after stop");
    TcpListener::bind(tcp).expect("TCP port free again after stop");
    drop(idle);
}

#[test]
fn binding_an_address_in_use_is_a_clear_error() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut config = loopback_config(vec![], true);
    config.port = taken.local_addr().unwrap().port();
    let err = Resolver::start(None, config, names()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "binding the DNS resolver to udp {}: Address already in use (os error 98)",
            taken.local_addr().unwrap()
        )
    );
}

// ------------------------------------------------- inside a network namespace

/// A fresh network namespace with `lo` up, made by a thread that unshared
/// (the host's namespace is never touched); gone when the fd is dropped.
fn new_netns() -> OwnedFd {
    std::thread::spawn(|| {
        nix::sched::unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
        // `ip` runs in this thread's namespace: forked from it.
        let status = Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status()
            .expect("run ip (iproute2) to bring lo up in the test namespace");
        assert!(status.success(), "ip link set lo up: {status}");
        OwnedFd::from(File::open("/proc/thread-self/ns/net").unwrap())
    })
    .join()
    .unwrap()
}

/// Runs `f` on a thread inside `netns`.
fn in_netns<T: Send + 'static>(netns: &OwnedFd, f: impl FnOnce() -> T + Send + 'static) -> T {
    let fd = netns.try_clone().unwrap();
    std::thread::spawn(move || {
        nix::sched::setns(fd.as_fd(), CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
    .join()
    .unwrap()
}

fn container_config(upstreams: Vec<SocketAddr>) -> Config {
    Config {
        listen: berth_net::dns::LISTEN,
        port: 53,
        upstreams,
        forward: true,
    }
}

#[test]
fn serves_127_0_0_11_inside_the_namespace_and_forwards_from_the_callers() {
    berth_testutil::require_root!();
    let netns = new_netns();
    // The upstream listens on the host's loopback: unreachable from inside
    // the namespace, so an answer proves the forward left from the caller's.
    let upstream = FakeUpstream::start(|q, _| Some(fixed_answer(q, ResponseCode::NoError, false)));
    let upstream_addr = upstream.addr;
    let resolver = Resolver::start(
        Some(netns.as_fd()),
        container_config(vec![upstream.addr]),
        names(),
    )
    .expect("start in the namespace");
    assert_eq!(resolver.udp_addr(), "127.0.0.11:53".parse().unwrap());
    let (local, forwarded, tcp, upstream_direct) = in_netns(&netns, move || {
        let dns: SocketAddr = "127.0.0.11:53".parse().unwrap();
        (
            ask_udp(dns, &query("web.", RecordType::A)),
            ask_udp(dns, &query("example.test.", RecordType::A)),
            ask_tcp(dns, &query("db.", RecordType::A)),
            udp_exchange(
                upstream_addr,
                &query("direct.test.", RecordType::A).to_vec().unwrap(),
                Duration::from_millis(300),
            ),
        )
    });
    assert_eq!(addresses(&local), vec![ip("172.18.0.2")]);
    assert_eq!(addresses(&forwarded), vec![ip("192.0.2.1")]);
    assert_eq!(addresses(&tcp), vec![ip("172.18.0.3")]);
    assert_eq!(
        upstream_direct, None,
        "the host's loopback is reachable from the namespace?"
    );
    assert_eq!(upstream.received().len(), 1);
    // Stopped: 127.0.0.11:53 is free again inside the namespace.
    resolver.stop();
    in_netns(&netns, || {
        UdpSocket::bind("127.0.0.11:53").expect("UDP 127.0.0.11:53 free after stop");
        TcpListener::bind("127.0.0.11:53").expect("TCP 127.0.0.11:53 free after stop");
    });
}

#[test]
fn glibc_and_busybox_resolve_through_it() {
    berth_testutil::require_root!();
    let netns = new_netns();
    let upstream = FakeUpstream::start(|q, _| Some(fixed_answer(q, ResponseCode::NoError, false)));
    let _resolver = Resolver::start(
        Some(netns.as_fd()),
        container_config(vec![upstream.addr]),
        names(),
    )
    .expect("start in the namespace");
    // Docker's resolv.conf for a user network, bind-mounted over the
    // host's in a private mount namespace of the child only.
    struct TempDir(std::path::PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let dir = TempDir(std::env::temp_dir().join(format!("berth-dns-test-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let resolv = dir.0.join("resolv.conf");
    std::fs::write(&resolv, "nameserver 127.0.0.11\noptions ndots:0\n").unwrap();
    let netns_path = format!("/proc/{}/fd/{}", std::process::id(), netns.as_raw_fd());
    let run = |cmd: &str| {
        let out = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "mount --bind {} /etc/resolv.conf && exec nsenter --net={netns_path} {cmd}",
                resolv.display()
            ))
            .output()
            .expect("run unshare");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // (`getent ahostsv4` cannot serve here: its AI_ADDRCONFIG finds no
    // IPv4 address but loopback in the namespace, even for localhost.)
    let (ok, out, err) = run("getent ahosts web");
    assert!(ok, "getent: {out} {err}");
    assert!(
        out.contains("172.18.0.2 ") && out.contains("fd00:18::2 "),
        "{out}"
    );
    // AAAA first: NOERROR with no answer, so glibc goes on with A.
    let (ok, out, err) = run("getent hosts db");
    assert!(ok, "getent: {out} {err}");
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["172.18.0.3", "db"]
    );
    let (ok, out, err) = run("getent hosts fd00:18::2");
    assert!(ok, "getent PTR: {out} {err}");
    assert!(out.contains("web.frontend"), "{out}");
    let (ok, out, err) = run("getent ahosts example.test");
    assert!(ok, "getent forwarded: {out} {err}");
    assert!(out.starts_with("192.0.2.1 "), "{out}");
    let (ok, out, err) = run("busybox nslookup db 127.0.0.11");
    assert!(ok, "busybox nslookup: {out} {err}");
    assert!(out.contains("172.18.0.3"), "{out}");
}

#[test]
fn a_descriptor_that_is_no_network_namespace_is_a_clear_error() {
    let not_a_netns = File::open("/dev/null").unwrap();
    let err = Resolver::start(
        Some(not_a_netns.as_fd()),
        loopback_config(vec![], true),
        names(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "entering the container's network namespace for its DNS resolver: EINVAL: Invalid argument"
    );
}
