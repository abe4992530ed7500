use std::net::IpAddr;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn port(
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

fn sample() -> Ruleset {
    Ruleset {
        networks: vec![
            NetworkRules {
                bridge: "br-0123456789ab".into(),
                subnets: vec![
                    "10.89.0.0/24".parse().unwrap(),
                    "fd00:89::/64".parse().unwrap(),
                ],
                internal: false,
            },
            NetworkRules {
                bridge: "br-internal0000".into(),
                subnets: vec!["10.90.0.0/24".parse().unwrap()],
                internal: true,
            },
            NetworkRules {
                bridge: "berth0".into(),
                subnets: vec!["172.17.0.0/16".parse().unwrap()],
                internal: false,
            },
        ],
        ports: vec![
            port(None, 8080, Protocol::Tcp, "172.17.0.2", 80, "berth0"),
            port(
                Some("127.0.0.1"),
                5353,
                Protocol::Udp,
                "172.17.0.3",
                53,
                "berth0",
            ),
            port(
                Some("0.0.0.0"),
                443,
                Protocol::Tcp,
                "172.17.0.2",
                443,
                "berth0",
            ),
            port(
                None,
                8080,
                Protocol::Tcp,
                "fd00:89::2",
                80,
                "br-0123456789ab",
            ),
            port(
                Some("::1"),
                9000,
                Protocol::Sctp,
                "fd00:89::2",
                9000,
                "br-0123456789ab",
            ),
            port(
                None,
                7000,
                Protocol::Tcp,
                "10.90.0.2",
                7000,
                "br-internal0000",
            ),
        ],
    }
}

const GOLDEN: &str = r#"table inet berth {
	map hostports4_addr {
		type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service
		elements = { 127.0.0.1 . udp . 5353 : 172.17.0.3 . 53 }
	}
	map hostports4 {
		type inet_proto . inet_service : ipv4_addr . inet_service
		elements = { tcp . 443 : 172.17.0.2 . 443,
			     tcp . 8080 : 172.17.0.2 . 80 }
	}
	map hostports6_addr {
		type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service
		elements = { ::1 . sctp . 9000 : fd00:89::2 . 9000 }
	}
	map hostports6 {
		type inet_proto . inet_service : ipv6_addr . inet_service
		elements = { tcp . 8080 : fd00:89::2 . 80 }
	}
	chain hostports {
		dnat ip to ip daddr . meta l4proto . th dport map @hostports4_addr
		meta nfproto ipv4 dnat ip to meta l4proto . th dport map @hostports4
		dnat ip6 to ip6 daddr . meta l4proto . th dport map @hostports6_addr
		meta nfproto ipv6 dnat ip6 to meta l4proto . th dport map @hostports6
	}
	chain nat_prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local jump hostports
	}
	chain nat_output {
		type nat hook output priority -100; policy accept;
		fib daddr type local jump hostports
	}
	chain nat_postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "berth0" ct status dnat ip saddr 127.0.0.0/8 masquerade
		oifname "berth0" ct status dnat ip saddr 172.17.0.0/16 masquerade
		oifname != "berth0" ip saddr 172.17.0.0/16 masquerade
		oifname "br-0123456789ab" ct status dnat ip saddr 127.0.0.0/8 masquerade
		oifname "br-0123456789ab" ct status dnat ip saddr 10.89.0.0/24 masquerade
		oifname "br-0123456789ab" ct status dnat ip6 saddr fd00:89::/64 masquerade
		oifname != "br-0123456789ab" ip saddr 10.89.0.0/24 masquerade
		oifname != "br-0123456789ab" ip6 saddr fd00:89::/64 masquerade
	}
	chain filter_forward {
		type filter hook forward priority filter; policy accept;
		ct state invalid drop
		iifname "br-internal0000" oifname != "br-internal0000" drop
		oifname "br-internal0000" iifname != "br-internal0000" drop
		ct state established,related accept
		ct status dnat accept
		oifname "berth0" iifname != "berth0" drop
		oifname "br-0123456789ab" iifname != "br-0123456789ab" drop
	}
	chain filter_input {
		type filter hook input priority filter; policy accept;
		iifname "berth0" ip daddr 127.0.0.0/8 ct state != { established, related } drop
		iifname "br-0123456789ab" ip daddr 127.0.0.0/8 ct state != { established, related } drop
	}
}
"#;

#[test]
fn render_golden() {
    let text = render(&sample());
    assert_eq!(text, GOLDEN, "rendered:\n{text}");
}

#[test]
fn render_is_deterministic() {
    let mut shuffled = sample();
    shuffled.networks.reverse();
    shuffled.ports.reverse();
    shuffled.ports.rotate_left(2);
    assert_eq!(render(&shuffled), GOLDEN);
}

#[test]
fn internal_network_publishes_nothing_and_is_not_masqueraded() {
    let text = render(&sample());
    assert!(!text.contains("10.90.0.2"), "{text}");
    assert!(!text.contains("saddr 10.90.0.0/24"), "{text}");
    assert!(text.contains("iifname \"br-internal0000\" oifname != \"br-internal0000\" drop"));
}

#[test]
fn unspecified_host_address_means_every_address() {
    let r = Ruleset {
        networks: vec![],
        ports: vec![
            port(Some("0.0.0.0"), 80, Protocol::Tcp, "10.1.0.2", 80, "b"),
            port(Some("::"), 80, Protocol::Tcp, "fd00::2", 80, "b"),
        ],
    };
    let text = render(&r);
    assert!(
        text.contains("elements = { tcp . 80 : 10.1.0.2 . 80 }"),
        "{text}"
    );
    assert!(
        text.contains("elements = { tcp . 80 : fd00::2 . 80 }"),
        "{text}"
    );
}

#[test]
fn mismatched_families_and_second_claims_are_left_out() {
    let r = Ruleset {
        networks: vec![],
        ports: vec![
            port(Some("::1"), 80, Protocol::Tcp, "10.1.0.2", 80, "b"),
            port(None, 81, Protocol::Udp, "10.1.0.3", 81, "b"),
            port(None, 81, Protocol::Udp, "10.1.0.2", 81, "b"),
            port(None, 81, Protocol::Tcp, "10.1.0.2", 81, "b"),
        ],
    };
    let text = render(&r);
    assert!(!text.contains("::1"), "{text}");
    // One winner for udp 81, chosen by the lower container address.
    assert!(
        text.contains(
            "elements = { tcp . 81 : 10.1.0.2 . 81,\n\t\t\t     udp . 81 : 10.1.0.2 . 81 }"
        ),
        "{text}"
    );
    assert!(!text.contains("10.1.0.3"), "{text}");
}

#[test]
fn empty_ruleset() {
    assert!(Ruleset::default().is_empty());
    let text = render(&Ruleset::default());
    assert!(!text.contains("elements"), "{text}");
    assert!(!text.contains("masquerade"), "{text}");
}

#[test]
fn interface_names() {
    assert!(valid_ifname("berth0"));
    assert!(valid_ifname("br-0123456789ab"));
    assert!(!valid_ifname(""));
    assert!(!valid_ifname("br-0123456789abc"));
    assert!(!valid_ifname("a\"b"));
    assert!(!valid_ifname("a b"));
    assert!(!valid_ifname("a/b"));
}
