//! One query in, one decision out: answer it here (from [`Names`]), forward
//! it, or drop it. Pure: no sockets.
//!
//! Hostile input never panics: the header is checked by hand before hickory
//! parses anything (miekg/dns' default accept rules, which Docker's resolver
//! runs behind), and every answer is built with hickory's encoder.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::{Names, TTL};

/// The size of a DNS header.
pub(crate) const HEADER_LEN: usize = 12;

/// The largest message over TCP (a 16-bit length prefix).
pub(crate) const MAX_TCP_MESSAGE: usize = 65535;

/// What to do with one incoming packet.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Send these bytes back.
    Reply(Vec<u8>),
    /// Not ours to answer: forward the raw query upstream. The parsed query
    /// is kept to build the SERVFAIL if forwarding fails.
    Forward(Box<Message>),
    /// Not a query (a response, or shorter than a header): no answer at all.
    Drop,
}

/// Decides what to do with `packet`, a query from a client over UDP or
/// (`tcp`) TCP.
pub(crate) fn handle(packet: &[u8], tcp: bool, names: &dyn Names) -> Outcome {
    let Some(header) = packet.get(..HEADER_LEN) else {
        return Outcome::Drop;
    };
    if header[2] & 0x80 != 0 {
        // QR set: a response, not a query. Never answer those (no loops).
        return Outcome::Drop;
    }
    let count = |at: usize| u16::from_be_bytes([header[at], header[at + 1]]);
    let opcode = (header[2] >> 3) & 0x0f;
    if opcode != 0 {
        return Outcome::Reply(header_reply(header, ResponseCode::NotImp));
    }
    // One question; at most one answer and one authority record (some
    // clients send them), two additional (OPT and a TSIG): miekg/dns'
    // defaults. Checked before parsing so a hostile count never reaches
    // the decoder.
    if count(4) != 1 || count(6) > 1 || count(8) > 1 || count(10) > 2 {
        return Outcome::Reply(header_reply(header, ResponseCode::FormErr));
    }
    let Ok(query) = Message::from_vec(packet) else {
        return Outcome::Reply(header_reply(header, ResponseCode::FormErr));
    };
    let Some(question) = query.queries.first() else {
        return Outcome::Reply(header_reply(header, ResponseCode::FormErr));
    };
    if question.query_class() != DNSClass::IN {
        return Outcome::Forward(Box::new(query));
    }
    let qname = question.name().clone();
    let labels: Vec<String> = qname
        .iter()
        .map(|label| String::from_utf8_lossy(label).to_ascii_lowercase())
        .collect();
    let answers = match question.query_type() {
        RecordType::A | RecordType::AAAA => {
            let Some(addrs) = resolve(names, &labels) else {
                return Outcome::Forward(Box::new(query));
            };
            let v6 = question.query_type() == RecordType::AAAA;
            let mut records: Vec<Record> = addrs
                .into_iter()
                .filter_map(|ip| match ip {
                    IpAddr::V4(ip) if !v6 => Some(RData::A(A(ip))),
                    IpAddr::V6(ip) if v6 => Some(RData::AAAA(AAAA(ip))),
                    _ => None,
                })
                .map(|data| Record::from_rdata(qname.clone(), TTL, data))
                .collect();
            dedup(&mut records);
            shuffle(&mut records);
            records
        }
        // A known name has no MX: NOERROR with no answer ("implicit MX",
        // RFC 5321 5.1), as Docker.
        RecordType::MX => {
            if resolve(names, &labels).is_none() {
                return Outcome::Forward(Box::new(query));
            }
            Vec::new()
        }
        RecordType::PTR => {
            let target = reverse_ip(&labels)
                .and_then(|ip| names.reverse(ip))
                .and_then(|host| Name::from_ascii(format!("{}.", host.trim_end_matches('.'))).ok());
            let Some(target) = target else {
                return Outcome::Forward(Box::new(query));
            };
            vec![Record::from_rdata(
                qname.clone(),
                TTL,
                RData::PTR(PTR(target)),
            )]
        }
        _ => return Outcome::Forward(Box::new(query)),
    };
    let max = if tcp {
        MAX_TCP_MESSAGE
    } else {
        usize::from(query.max_payload())
    };
    Outcome::Reply(answer(&query, answers, max))
}

/// Docker's search for a name (`Sandbox.ResolveName`): the whole name on any
/// network, then `a.b` on network `c`, then `a` on network `b.c`. `None`:
/// unknown everywhere.
fn resolve(names: &dyn Names, labels: &[String]) -> Option<Vec<IpAddr>> {
    if labels.is_empty() {
        return None;
    }
    let found = names.lookup(&labels.join("."));
    if !found.is_empty() {
        return Some(found);
    }
    (1..labels.len()).rev().find_map(|split| {
        let found = names.lookup_in(&labels[..split].join("."), &labels[split..].join("."));
        (!found.is_empty()).then_some(found)
    })
}

/// The address a PTR name stands for: `d.c.b.a.in-addr.arpa` or the 32
/// nibbles of `....ip6.arpa`. Anything else (a partial zone, a bad label)
/// is not ours.
fn reverse_ip(labels: &[String]) -> Option<IpAddr> {
    match labels {
        [d, c, b, a, in_addr, arpa] if in_addr == "in-addr" && arpa == "arpa" => {
            // Plain decimal, no leading zeros or signs: exactly what an
            // address reverses to.
            let octet = |s: &String| -> Option<u8> {
                let canonical = !s.is_empty()
                    && s.len() <= 3
                    && !(s.len() > 1 && s.starts_with('0'))
                    && s.bytes().all(|b| b.is_ascii_digit());
                if canonical {
                    s.parse().ok()
                } else {
                    None
                }
            };
            Some(IpAddr::V4(Ipv4Addr::new(
                octet(a)?,
                octet(b)?,
                octet(c)?,
                octet(d)?,
            )))
        }
        [nibbles @ .., ip6, arpa] if ip6 == "ip6" && arpa == "arpa" && nibbles.len() == 32 => {
            let mut value: u128 = 0;
            for nibble in nibbles.iter().rev() {
                let [digit] = nibble.as_bytes() else {
                    return None;
                };
                let digit = char::from(*digit).to_digit(16)?;
                value = (value << 4) | u128::from(digit);
            }
            Some(IpAddr::V6(Ipv6Addr::from(value)))
        }
        _ => None,
    }
}

/// A positive reply with `answers`, as Docker's `createRespMsg`: the query's
/// id, opcode, RD and CD and its question; RA set. Answers that do not fit
/// in `max` bytes are dropped from the end and TC set, so the client retries
/// over TCP.
fn answer(query: &Message, answers: Vec<Record>, max: usize) -> Vec<u8> {
    let mut reply = reply_to(query, ResponseCode::NoError);
    reply.metadata.recursion_available = true;
    reply.answers = answers;
    loop {
        match reply.to_vec() {
            Ok(bytes) if bytes.len() <= max || reply.answers.is_empty() => return bytes,
            Ok(_) => {
                reply.answers.pop();
                reply.metadata.truncation = true;
            }
            Err(_) => return error_reply(query, ResponseCode::ServFail),
        }
    }
}

/// An error reply to a parsed query, with its question (glibc ignores an
/// error reply whose question does not match its query).
pub(crate) fn error_reply(query: &Message, rcode: ResponseCode) -> Vec<u8> {
    reply_to(query, rcode).to_vec().unwrap_or_else(|_| {
        let id = query.metadata.id.to_be_bytes();
        let mut header = [0u8; HEADER_LEN];
        header[..2].copy_from_slice(&id);
        if query.metadata.recursion_desired {
            header[2] = 0x01;
        }
        header_reply(&header, rcode)
    })
}

fn reply_to(query: &Message, rcode: ResponseCode) -> Message {
    let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.checking_disabled = query.metadata.checking_disabled;
    reply.metadata.response_code = rcode;
    reply.queries = query.queries.iter().take(1).cloned().collect();
    reply
}

/// An error reply made from a query's header alone (it could not be
/// parsed): id, opcode and RD copied, no sections.
pub(crate) fn header_reply(header: &[u8], rcode: ResponseCode) -> Vec<u8> {
    let mut reply = vec![0u8; HEADER_LEN];
    reply[..2].copy_from_slice(&header[..2]);
    // QR set; the query's opcode and RD kept; AA and TC clear.
    reply[2] = 0x80 | (header[2] & 0x79);
    reply[3] = rcode.low() & 0x0f;
    reply
}

/// The same address twice (two aliases of one container) is answered once.
fn dedup(records: &mut Vec<Record>) {
    let mut seen: Vec<RData> = Vec::with_capacity(records.len());
    records.retain(|r| {
        if seen.contains(&r.data) {
            false
        } else {
            seen.push(r.data.clone());
            true
        }
    });
}

/// Several addresses (an alias shared by several containers) come in a
/// random order each time, as Docker's `shuffleAddr`: poor man's load
/// balancing.
fn shuffle(records: &mut [Record]) {
    use std::hash::{BuildHasher, Hasher};
    if records.len() < 2 {
        return;
    }
    let mut state = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        | 1;
    for i in (1..records.len()).rev() {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = (state % (i as u64 + 1)) as usize;
        records.swap(i, j);
    }
}

/// The response code of a raw DNS message (the header's low 4 bits; an EDNS
/// extension is ignored), None if it is too short.
pub(crate) fn rcode(message: &[u8]) -> Option<u8> {
    message.get(3).map(|b| b & 0x0f)
}

/// The id of a raw DNS message, None if it is too short.
pub(crate) fn id(message: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*message.first()?, *message.get(1)?]))
}

/// True when `message` is a response to query `id`.
pub(crate) fn is_response_to(message: &[u8], query_id: u16) -> bool {
    message.len() >= HEADER_LEN && id(message) == Some(query_id) && message[2] & 0x80 != 0
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use hickory_proto::op::{Edns, MessageType, Query};

    use super::*;

    /// `lookup` and `lookup_in` from fixed tables; records every call.
    #[derive(Default)]
    pub(crate) struct Table {
        pub names: HashMap<String, Vec<IpAddr>>,
        pub in_network: HashMap<(String, String), Vec<IpAddr>>,
        pub ptr: HashMap<IpAddr, String>,
        pub calls: Mutex<Vec<String>>,
    }

    impl Names for Table {
        fn lookup(&self, name: &str) -> Vec<IpAddr> {
            self.calls.lock().unwrap().push(name.to_owned());
            self.names.get(name).cloned().unwrap_or_default()
        }
        fn lookup_in(&self, name: &str, network: &str) -> Vec<IpAddr> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("{name} in {network}"));
            self.in_network
                .get(&(name.to_owned(), network.to_owned()))
                .cloned()
                .unwrap_or_default()
        }
        fn reverse(&self, ip: IpAddr) -> Option<String> {
            self.ptr.get(&ip).cloned()
        }
    }

    fn table() -> Table {
        let mut t = Table::default();
        t.names.insert(
            "web".into(),
            vec!["172.18.0.2".parse().unwrap(), "fd00::2".parse().unwrap()],
        );
        t.names
            .insert("db".into(), vec!["172.18.0.3".parse().unwrap()]);
        t.in_network.insert(
            ("db".into(), "my.net".into()),
            vec!["172.18.0.3".parse().unwrap()],
        );
        t.ptr
            .insert("172.18.0.2".parse().unwrap(), "web.mynet".into());
        t.ptr.insert("fd00::2".parse().unwrap(), "web.mynet".into());
        t
    }

    fn query(name: &str, rtype: RecordType) -> Message {
        let mut m = Message::query();
        m.metadata.id = 0x4242;
        m.metadata.recursion_desired = true;
        // Raw labels, so a test can send what a hostile client would.
        let labels = name.split('.').filter(|l| !l.is_empty()).map(str::as_bytes);
        m.add_query(Query::query(Name::from_labels(labels).unwrap(), rtype));
        m
    }

    fn reply(outcome: Outcome) -> Message {
        match outcome {
            Outcome::Reply(bytes) => Message::from_vec(&bytes).unwrap(),
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    fn ask(names: &dyn Names, name: &str, rtype: RecordType) -> Outcome {
        handle(&query(name, rtype).to_vec().unwrap(), false, names)
    }

    fn a(ip: &str) -> RData {
        RData::A(A(ip.parse().unwrap()))
    }

    #[test]
    fn a_and_aaaa_come_from_names_with_docker_ttl_and_flags() {
        let t = table();
        let r = reply(ask(&t, "web.", RecordType::A));
        assert_eq!(r.metadata.id, 0x4242);
        assert_eq!(r.metadata.message_type, MessageType::Response);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert!(r.metadata.recursion_desired && r.metadata.recursion_available);
        assert!(!r.metadata.authoritative && !r.metadata.truncation);
        assert_eq!(r.queries, query("web.", RecordType::A).queries);
        assert_eq!(r.answers.len(), 1);
        assert_eq!(r.answers[0].ttl, 600);
        assert_eq!(r.answers[0].data, a("172.18.0.2"));
        let r = reply(ask(&t, "web.", RecordType::AAAA));
        assert_eq!(r.answers.len(), 1);
        assert_eq!(
            r.answers[0].data,
            RData::AAAA(AAAA("fd00::2".parse().unwrap()))
        );
    }

    #[test]
    fn names_are_looked_up_lower_case_and_answered_in_the_query_case() {
        let t = table();
        let r = reply(ask(&t, "WeB.", RecordType::A));
        assert_eq!(r.answers.len(), 1);
        assert_eq!(r.answers[0].name.to_ascii(), "WeB.");
        assert_eq!(t.calls.lock().unwrap().as_slice(), ["web"]);
    }

    #[test]
    fn known_name_without_address_of_that_family_is_noerror_empty() {
        let t = table();
        let r = reply(ask(&t, "db.", RecordType::AAAA));
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert!(r.answers.is_empty());
        let r = reply(ask(&t, "db.", RecordType::MX));
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert!(r.answers.is_empty());
    }

    #[test]
    fn unknown_names_and_other_types_are_forwarded() {
        let t = table();
        let forwarded = |o: Outcome| matches!(o, Outcome::Forward(_));
        assert!(forwarded(ask(&t, "example.com.", RecordType::A)));
        assert!(forwarded(ask(&t, "nope.", RecordType::MX)));
        assert!(forwarded(ask(&t, "web.", RecordType::TXT)));
        assert!(forwarded(ask(&t, "web.", RecordType::SRV)));
        assert!(forwarded(ask(&t, ".", RecordType::A)));
        let mut chaos = query("web.", RecordType::A);
        chaos.queries[0].set_query_class(DNSClass::CH);
        assert!(forwarded(handle(&chaos.to_vec().unwrap(), false, &t)));
    }

    #[test]
    fn dotted_names_follow_dockers_name_dot_network_rule() {
        let t = table();
        let r = reply(ask(&t, "db.my.net.", RecordType::A));
        assert_eq!(r.answers.len(), 1);
        assert_eq!(
            t.calls.lock().unwrap().as_slice(),
            ["db.my.net", "db.my in net", "db in my.net"]
        );
        let t = table();
        assert!(matches!(
            ask(&t, "a.b.c.", RecordType::A),
            Outcome::Forward(_)
        ));
        assert_eq!(
            t.calls.lock().unwrap().as_slice(),
            ["a.b.c", "a.b in c", "a in b.c"]
        );
    }

    #[test]
    fn ptr_for_container_addresses_v4_and_v6() {
        let t = table();
        let web = RData::PTR(PTR(Name::from_ascii("web.mynet.").unwrap()));
        let r = reply(ask(&t, "2.0.18.172.in-addr.arpa.", RecordType::PTR));
        assert_eq!(r.answers.len(), 1);
        assert_eq!(r.answers[0].ttl, 600);
        assert_eq!(r.answers[0].data, web);
        let v6 = "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.";
        let r = reply(ask(&t, v6, RecordType::PTR));
        assert_eq!(r.answers[0].data, web);
        // Unknown address, partial zone, odd labels: forwarded.
        for name in [
            "3.0.18.172.in-addr.arpa.",
            "18.172.in-addr.arpa.",
            "02.0.18.172.in-addr.arpa.",
            "+2.0.18.172.in-addr.arpa.",
            "256.0.18.172.in-addr.arpa.",
            "x.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.",
        ] {
            assert!(
                matches!(ask(&t, name, RecordType::PTR), Outcome::Forward(_)),
                "{name}"
            );
        }
    }

    #[test]
    fn reverse_ip_parses_exactly() {
        let l = |s: &str| s.split('.').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            reverse_ip(&l("4.3.2.1.in-addr.arpa")),
            Some("1.2.3.4".parse().unwrap())
        );
        assert_eq!(
            reverse_ip(&l("0.0.0.0.in-addr.arpa")),
            Some("0.0.0.0".parse().unwrap())
        );
        assert_eq!(reverse_ip(&l("1.2.3.4.5.in-addr.arpa")), None);
        let ip: Ipv6Addr = "2001:db8::567:89ab".parse().unwrap();
        let nibbles: Vec<String> = format!("{:032x}", u128::from(ip))
            .chars()
            .rev()
            .map(|c| c.to_string())
            .chain(["ip6".into(), "arpa".into()])
            .collect();
        assert_eq!(reverse_ip(&nibbles), Some(IpAddr::V6(ip)));
        assert_eq!(reverse_ip(&nibbles[1..]), None);
    }

    #[test]
    fn duplicate_addresses_are_answered_once_and_many_are_shuffled() {
        let mut t = Table::default();
        let many: Vec<IpAddr> = (2..22)
            .map(|i| IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)))
            .collect();
        let mut twice = many.clone();
        twice.extend(many.iter().copied());
        t.names.insert("svc".into(), twice);
        let want: Vec<String> = {
            let mut v: Vec<String> = many.iter().map(|ip| ip.to_string()).collect();
            v.sort();
            v
        };
        let orders: Vec<Vec<String>> = (0..5)
            .map(|_| {
                reply(ask(&t, "svc.", RecordType::A))
                    .answers
                    .iter()
                    .map(|r| r.data.to_string())
                    .collect()
            })
            .collect();
        for order in &orders {
            let mut got = order.clone();
            got.sort();
            assert_eq!(got, want);
        }
        assert!(orders.windows(2).any(|w| w[0] != w[1]), "never shuffled");
    }

    #[test]
    fn answers_over_512_bytes_are_truncated_on_udp_but_not_tcp_or_edns() {
        let mut t = Table::default();
        let many: Vec<IpAddr> = (0..60)
            .map(|i| IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, i)))
            .collect();
        t.names.insert("big".into(), many);
        let q = query("big.", RecordType::AAAA);
        let bytes = q.to_vec().unwrap();
        let Outcome::Reply(udp) = handle(&bytes, false, &t) else {
            panic!("no reply")
        };
        assert!(udp.len() <= 512);
        let udp = Message::from_vec(&udp).unwrap();
        assert!(udp.metadata.truncation);
        assert!(udp.answers.len() < 60);
        let tcp = reply(handle(&bytes, true, &t));
        assert!(!tcp.metadata.truncation);
        assert_eq!(tcp.answers.len(), 60);
        let mut big = q.clone();
        let mut edns = Edns::new();
        edns.set_max_payload(4096);
        big.set_edns(edns);
        let r = reply(handle(&big.to_vec().unwrap(), false, &t));
        assert!(!r.metadata.truncation);
        assert_eq!(r.answers.len(), 60);
    }

    #[test]
    fn bad_headers_get_formerr_notimp_or_nothing() {
        let t = table();
        let good = query("web.", RecordType::A).to_vec().unwrap();
        // Too short: dropped.
        for n in 0..HEADER_LEN {
            assert!(matches!(handle(&good[..n], false, &t), Outcome::Drop));
        }
        // A response: dropped.
        let mut resp = good.clone();
        resp[2] |= 0x80;
        assert!(matches!(handle(&resp, false, &t), Outcome::Drop));
        // Not a QUERY (an UPDATE): NOTIMP, id and opcode kept.
        let mut update = good.clone();
        update[2] = (update[2] & 0x87) | (5 << 3);
        let Outcome::Reply(r) = handle(&update, false, &t) else {
            panic!("no reply to an UPDATE")
        };
        assert_eq!(&r[..2], &[0x42, 0x42]);
        assert_eq!(rcode(&r), Some(4));
        assert_eq!(r[2], 0x80 | (5 << 3) | 0x01);
        // Two questions, none, or hostile counts: FORMERR before parsing.
        for (at, value) in [
            (4, 2u16),
            (4, 0),
            (4, 0xffff),
            (6, 0xffff),
            (8, 2),
            (10, 0xffff),
        ] {
            let mut bad = good.clone();
            bad[at..at + 2].copy_from_slice(&value.to_be_bytes());
            let Outcome::Reply(r) = handle(&bad, false, &t) else {
                panic!("no reply for count at {at} = {value}")
            };
            assert_eq!(rcode(&r), Some(1), "count at {at} = {value}");
        }
        // Truncated body: FORMERR.
        for n in HEADER_LEN..good.len() {
            let Outcome::Reply(r) = handle(&good[..n], false, &t) else {
                panic!("no reply for {n} bytes")
            };
            assert_eq!(rcode(&r), Some(1));
        }
    }

    #[test]
    fn error_reply_keeps_the_question() {
        let q = query("example.com.", RecordType::TXT);
        let r = Message::from_vec(&error_reply(&q, ResponseCode::ServFail)).unwrap();
        assert_eq!(r.metadata.id, 0x4242);
        assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
        assert_eq!(r.metadata.message_type, MessageType::Response);
        assert_eq!(r.queries, q.queries);
    }

    #[test]
    fn garbage_never_panics() {
        let t = table();
        let seeds = [
            query("web.", RecordType::A).to_vec().unwrap(),
            query("2.0.18.172.in-addr.arpa.", RecordType::PTR)
                .to_vec()
                .unwrap(),
            query("db.my.net.", RecordType::AAAA).to_vec().unwrap(),
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..20_000 {
            let mut p = seeds[round % seeds.len()].clone();
            match next() % 4 {
                // Flip random bytes.
                0 | 1 => {
                    for _ in 0..1 + next() % 6 {
                        let i = (next() as usize) % p.len();
                        p[i] = next() as u8;
                    }
                }
                // Cut it short.
                2 => p.truncate((next() as usize) % (p.len() + 1)),
                // Pure noise, with a plausible header sometimes.
                _ => {
                    p = (0..next() % 600).map(|_| next() as u8).collect();
                    if p.len() >= HEADER_LEN && next() % 2 == 0 {
                        p[2] &= 0x07;
                        p[4..12].copy_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
                    }
                }
            }
            // Compression-pointer loops, in particular.
            if round % 97 == 0 && p.len() > HEADER_LEN + 2 {
                p[HEADER_LEN] = 0xc0;
                p[HEADER_LEN + 1] = HEADER_LEN as u8;
            }
            for tcp in [false, true] {
                if let Outcome::Reply(bytes) = handle(&p, tcp, &t) {
                    assert!(bytes.len() >= HEADER_LEN);
                    assert_eq!(bytes[..2], p[..2]);
                    assert_eq!(bytes[2] & 0x80, 0x80);
                }
            }
        }
    }
}
