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

#[test]
fn render_prints() {
    println!("{}", render(&sample()));
}
