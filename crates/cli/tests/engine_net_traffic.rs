//! Networks end to end, with real containers, bridges, veths and nftables
//! rules: each test engine runs berth in a network namespace of its own
//! (see `common::engine`), so "the host" below is that namespace, fixed
//! subnets and ports cannot collide between tests, and no packet leaves it.
//! busybox's `httpd` serves the image's `/etc` (`/hello` reads "hello from
//! berth"); `wget` and `nslookup` are busybox's.

mod common;

use berth_testutil::require_root;
use common::engine::{name, sh, sh_out, text, Engine};
use common::lifecycle::{id_of, monitor_pid, sigkill, wait_for};

const HELLO: &str = "hello from berth\n";

/// `run -d` of busybox's httpd serving `/etc` on port 80.
fn httpd(e: &Engine, flags: &[&str]) -> String {
    let mut args = vec!["run", "-d"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["bb:1", "httpd", "-f", "-p", "80", "-h", "/etc"]);
    e.ok(&args).trim().to_owned()
}

/// A shell loop fetching `url` until it answers (the server may still be
/// starting), at most ~5 s.
fn fetch(url: &str) -> String {
    format!(
        "for i in $(seq 50); do timeout 2 wget -q -O - {url} && exit 0; sleep 0.1; done; exit 1"
    )
}

/// One fetch of `url` that gives up after 2 s, for an address that must
/// not answer. `; exit $?` keeps `sh` the container's PID 1: a lone
/// `timeout 2 wget` is exec'd by sh, and busybox timeout execs wget in its
/// own pid, so wget would be PID 1, which ignores timeout's SIGTERM (no
/// handler): the run would last until the kernel gives up on the SYN
/// (~127 s), not 2 s.
fn fetch_once(url: &str) -> String {
    format!("timeout 2 wget -q -O - {url}; exit $?")
}

/// [`fetch`] from the engine's namespace, with the host's busybox.
fn host_fetch(e: &Engine, url: &str) -> String {
    let out = e.host_sh(&fetch(url).replace("wget", "busybox wget"));
    assert!(out.status.success(), "{url}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// The container's address on `network`, as `inspect` shows it.
fn ip_of(e: &Engine, container: &str, network: &str) -> String {
    let v = e.inspect(container);
    let ip = v["NetworkSettings"]["Networks"][network]["IPAddress"]
        .as_str()
        .unwrap_or_else(|| panic!("no address on {network}: {v}"))
        .to_owned();
    assert!(!ip.is_empty(), "{v}");
    ip
}

/// The links of the engine's network namespace (`ip -o link` names).
fn links(e: &Engine) -> Vec<String> {
    let out = e.host_sh("ip -o link show");
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap().to_owned())
        .collect()
}

/// berth's nftables table in the engine's namespace, or "" when absent.
fn nft_table(e: &Engine) -> String {
    let out = e.host_sh("nft list table inet berth 2>/dev/null || true");
    text(&out.stdout)
}

/// The veths berth made on the host side (`vb…`).
fn host_veths(e: &Engine) -> Vec<String> {
    links(e)
        .into_iter()
        .filter(|l| l.starts_with("vb"))
        .collect()
}

#[test]
fn user_network_resolves_names_aliases_and_short_ids() {
    require_root!();
    let e = Engine::new("berth");
    let net = name("net");
    e.ok(&["network", "create", "--subnet", "10.201.0.0/24", &net]);
    let server = name("srv");
    let id = httpd(
        &e,
        &[
            "--name",
            &server,
            "--network",
            &net,
            "--network-alias",
            "web",
        ],
    );
    let ip = ip_of(&e, &server, &net);
    assert!(ip.starts_with("10.201.0."), "{ip}");
    let flags = ["--network", net.as_str()];
    // by name, by alias, by 12-char id; and the resolver's resolv.conf
    for host in [server.as_str(), "web", &id[..12]] {
        let out = sh(&e, &flags, &fetch(&format!("http://{host}/hello")));
        assert_eq!(out, HELLO, "{host}");
    }
    let out = sh(
        &e,
        &flags,
        &format!("nslookup {server}; cat /etc/resolv.conf"),
    );
    assert!(out.contains(&ip), "{out}");
    assert!(out.contains("nameserver 127.0.0.11"), "{out}");
    // an unknown name is not found (and nothing is forwarded out of here)
    let out = sh_out(&e, &flags, "nslookup no-such-container-here");
    assert!(!out.status.success(), "{}", text(&out.stdout));
}

#[test]
fn default_bridge_has_addresses_but_no_names() {
    require_root!();
    let e = Engine::new("berth");
    let server = name("srv");
    httpd(&e, &["--name", &server, "--network", "bridge"]);
    let ip = ip_of(&e, &server, "bridge");
    assert!(ip.starts_with("172.17."), "{ip}");
    let out = sh(
        &e,
        &["--network", "bridge"],
        &fetch(&format!("http://{ip}/hello")),
    );
    assert_eq!(out, HELLO);
    let out = sh(&e, &[], "cat /etc/resolv.conf /etc/hosts; ip route");
    assert!(!out.contains("127.0.0.11"), "{out}");
    assert!(out.contains("default via 172.17.0.1"), "{out}");
    let out = sh_out(&e, &["--network", "bridge"], &format!("nslookup {server}"));
    assert!(!out.status.success(), "{}", text(&out.stdout));
}

/// Sends `hi` to 127.0.0.1:7000 until a server takes it (it may still be
/// starting), at most ~5 s. busybox `nc` ends at its input's end.
const SEND_HI_TO_LOCALHOST: &str =
    "for i in $(seq 50); do echo hi | nc 127.0.0.1 7000 && exit 0; sleep 0.1; done; exit 1";

/// A `--network none` container has `lo` up with 127.0.0.1 and nothing
/// else, a server on localhost answers inside it, and a container joining
/// its namespace (`container:`) sees the same.
fn none_has_its_loopback_up(runtime: &'static str) {
    let e = Engine::new(runtime);
    let server = name("none");
    // `nc -l` prints what it got.
    e.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &server,
        "bb:1",
        "sh",
        "-c",
        "sleep 100 | nc -l -p 7000",
    ]);
    let links = e.ok(&["exec", &server, "ip", "-o", "link"]);
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(
        links.starts_with("1: lo: <LOOPBACK,UP,LOWER_UP>"),
        "{links}"
    );
    let addrs = e.ok(&["exec", &server, "ip", "-o", "addr"]);
    assert!(addrs.contains("inet 127.0.0.1/8"), "{addrs}");
    assert!(addrs.lines().all(|l| l.starts_with("1: lo")), "{addrs}");
    let joined = e.ok(&[
        "run",
        "--rm",
        "--network",
        &format!("container:{server}"),
        "bb:1",
        "ip",
        "-o",
        "addr",
    ]);
    assert!(joined.contains("inet 127.0.0.1/8"), "{joined}");
    e.ok(&["exec", &server, "sh", "-c", SEND_HI_TO_LOCALHOST]);
    // (`sleep` holds the container after `nc` ends.)
    wait_for("the server to print what it got", || {
        (e.ok(&["logs", &server]) == "hi\n").then_some(())
    });
}

#[test]
fn none_has_its_loopback_up_and_answering() {
    require_root!();
    none_has_its_loopback_up("berth");
}

#[test]
fn none_has_its_loopback_up_with_runc() {
    require_root!();
    if common::have_tool("runc") {
        none_has_its_loopback_up("runc");
    }
}

#[test]
fn none_has_its_loopback_up_with_crun() {
    require_root!();
    if common::have_tool("crun") {
        none_has_its_loopback_up("crun");
    }
}

fn published_port(runtime: &'static str) {
    let e = Engine::new(runtime);
    let server = name("srv");
    httpd(
        &e,
        &[
            "--name",
            &server,
            "-p",
            "127.0.0.1:18080:80",
            "-p",
            "18081:80",
        ],
    );
    // the host's loopback, through the output chain's DNAT
    assert_eq!(host_fetch(&e, "http://127.0.0.1:18080/hello"), HELLO);
    // `port` shows both
    let ports = e.ok(&["port", &server]);
    assert!(ports.contains("80/tcp -> 127.0.0.1:18080"), "{ports}");
    assert!(ports.contains("80/tcp -> 0.0.0.0:18081"), "{ports}");
    // hairpin: the container itself, and another one, through the host's
    // address on the bridge
    let gateway = e.inspect(&server)["NetworkSettings"]["Networks"]["bridge"]["Gateway"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("http://{gateway}:18081/hello");
    let out = e.ok(&["exec", &server, "sh", "-c", &fetch(&url)]);
    assert_eq!(out, HELLO);
    assert_eq!(sh(&e, &[], &fetch(&url)), HELLO);
}

#[test]
fn published_ports_answer_the_hosts_loopback_and_hairpin() {
    require_root!();
    published_port("berth");
}

#[test]
fn published_ports_with_runc() {
    require_root!();
    if common::have_tool("runc") {
        published_port("runc");
    }
}

#[test]
fn published_ports_with_crun() {
    require_root!();
    if common::have_tool("crun") {
        published_port("crun");
    }
}

#[test]
fn publish_all_uses_the_exposed_ports_and_random_host_ports() {
    require_root!();
    let e = Engine::new("berth");
    let server = name("srv");
    httpd(&e, &["--name", &server, "--expose", "80", "-P"]);
    let ports = e.ok(&["port", &server, "80"]);
    let host_port: u16 = ports
        .lines()
        .next()
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("{ports}"));
    assert!(host_port >= 1024, "{ports}");
    assert_eq!(
        host_fetch(&e, &format!("http://127.0.0.1:{host_port}/hello")),
        HELLO
    );
}

#[test]
fn internal_networks_have_no_route_out() {
    require_root!();
    let e = Engine::new("berth");
    let internal = name("int");
    e.ok(&[
        "network",
        "create",
        "--internal",
        "--subnet",
        "10.202.0.0/24",
        &internal,
    ]);
    let out = sh(
        &e,
        &["--network", &internal],
        "ip route; ip -o addr show eth0",
    );
    assert!(!out.contains("default"), "{out}");
    assert!(out.contains("10.202.0."), "{out}");
    // the host answers on a published port of another container, but not
    // to the internal network
    httpd(&e, &["-p", "18082:80"]);
    let out = sh_out(
        &e,
        &["--network", &internal],
        &fetch_once("http://10.202.0.1:18082/hello"),
    );
    assert!(!out.status.success(), "{}", text(&out.stdout));
}

#[test]
fn two_networks_are_isolated_from_each_other() {
    require_root!();
    let e = Engine::new("berth");
    let (a, b) = (name("neta"), name("netb"));
    e.ok(&["network", "create", "--subnet", "10.203.0.0/24", &a]);
    e.ok(&["network", "create", "--subnet", "10.204.0.0/24", &b]);
    let server = name("srv");
    httpd(&e, &["--name", &server, "--network", &a]);
    let ip = ip_of(&e, &server, &a);
    assert_eq!(
        sh(
            &e,
            &["--network", &a],
            &fetch(&format!("http://{ip}/hello"))
        ),
        HELLO
    );
    let out = sh_out(
        &e,
        &["--network", &b],
        &fetch_once(&format!("http://{ip}/hello")),
    );
    assert!(!out.status.success(), "{}", text(&out.stdout));
    // nor by name across networks
    let out = sh_out(&e, &["--network", &b], &format!("nslookup {server}"));
    assert!(!out.status.success(), "{}", text(&out.stdout));
}

#[test]
fn connect_and_disconnect_a_running_container() {
    require_root!();
    let e = Engine::new("berth");
    let (a, b) = (name("neta"), name("netb"));
    e.ok(&["network", "create", "--subnet", "10.205.0.0/24", &a]);
    e.ok(&["network", "create", "--subnet", "10.206.0.0/24", &b]);
    let server = name("srv");
    httpd(&e, &["--name", &server, "--network", &a]);
    e.ok(&["network", "connect", "--alias", "second", &b, &server]);
    let ip_b = ip_of(&e, &server, &b);
    assert!(ip_b.starts_with("10.206.0."), "{ip_b}");
    let out = e.ok(&["exec", &server, "ip", "-o", "addr"]);
    assert!(out.contains(&ip_b), "{out}");
    assert_eq!(
        sh(&e, &["--network", &b], &fetch("http://second/hello")),
        HELLO
    );
    let inspect = e.ok(&["network", "inspect", &b]);
    assert!(inspect.contains(&id_of(&e, &server)), "{inspect}");
    e.ok(&["network", "disconnect", &b, &server]);
    let out = e.ok(&["exec", &server, "ip", "-o", "addr"]);
    assert!(!out.contains(&ip_b), "{out}");
    let out = sh_out(
        &e,
        &["--network", &b],
        &fetch_once(&format!("http://{ip_b}/hello")),
    );
    assert!(!out.status.success());
    assert_eq!(host_veths(&e).len(), 1, "{:?}", links(&e));
    // a network with a container on it cannot go
    let out = e.run(&["network", "rm", &a]);
    assert!(!out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("active endpoints"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn parallel_runs_on_one_network_get_distinct_addresses() {
    require_root!();
    let e = Engine::new("berth");
    let net = name("net");
    e.ok(&["network", "create", "--subnet", "10.207.0.0/24", &net]);
    let names: Vec<String> = (0..20).map(|i| name(&format!("p{i}"))).collect();
    std::thread::scope(|s| {
        for n in &names {
            let (e, net) = (&e, &net);
            s.spawn(move || {
                e.ok(&[
                    "run",
                    "-d",
                    "--name",
                    n,
                    "--network",
                    net,
                    "bb:1",
                    "sleep",
                    "60",
                ])
            });
        }
    });
    let mut ips: Vec<String> = names.iter().map(|n| ip_of(&e, n, &net)).collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 20, "{ips:?}");
    assert_eq!(host_veths(&e).len(), 20);
}

#[test]
fn nothing_is_left_after_rm_auto_remove_and_a_killed_monitor() {
    require_root!();
    let e = Engine::new("berth");
    let net = name("net");
    let id = e.ok(&["network", "create", "--subnet", "10.208.0.0/24", &net]);
    let bridge = format!("br-{}", &id.trim()[..12]);
    // --rm
    sh(&e, &["--network", &net, "-p", "18083:80"], "true");
    assert!(host_veths(&e).is_empty(), "{:?}", links(&e));
    assert!(!nft_table(&e).contains("18083"), "{}", nft_table(&e));
    // rm -f of a running one
    let c = httpd(&e, &["--network", &net, "-p", "18084:80"]);
    assert!(nft_table(&e).contains("18084"), "{}", nft_table(&e));
    e.ok(&["rm", "-f", &c]);
    assert!(host_veths(&e).is_empty(), "{:?}", links(&e));
    assert!(!nft_table(&e).contains("18084"), "{}", nft_table(&e));
    // kill -9 of the monitor; the next command reconciles
    let c = httpd(&e, &["--network", &net, "-p", "18085:80"]);
    let ip = ip_of(&e, &c, &net);
    let monitor = monitor_pid(&c).expect("monitor");
    sigkill(monitor);
    wait_for("the reconcile", || {
        e.ok(&["ps", "-a"]);
        (host_veths(&e).is_empty() && !nft_table(&e).contains("18085")).then_some(())
    });
    let inspect = e.ok(&["network", "inspect", &net]);
    assert!(!inspect.contains(&ip), "{inspect}");
    // the address is free again: a fixed --ip takes it
    e.ok(&[
        "run",
        "--rm",
        "--network",
        &net,
        "--ip",
        &ip,
        "bb:1",
        "true",
    ]);
    // the network's rules stay while it exists and go with it
    assert!(nft_table(&e).contains(&bridge), "{}", nft_table(&e));
    e.ok(&["network", "rm", &net]);
    assert!(!nft_table(&e).contains(&bridge), "{}", nft_table(&e));
    assert!(!links(&e).contains(&bridge), "{:?}", links(&e));
}

#[test]
fn bad_input_is_one_line_exit_125_and_leaves_nothing() {
    require_root!();
    let e = Engine::new("berth");
    let net = name("net");
    e.ok(&["network", "create", "--subnet", "10.209.0.0/24", &net]);
    httpd(&e, &["-p", "18086:80"]);
    let before = (links(&e), nft_table(&e));
    let cases: &[(&[&str], &str)] = &[
        (&["run", "--rm", "-p", "99999:80", "bb:1", "true"], "99999"),
        (
            &["run", "--rm", "--network", "no-such-net", "bb:1", "true"],
            "no-such-net",
        ),
        (
            &["run", "--rm", "-p", "18086:80", "bb:1", "true"],
            "already allocated",
        ),
        (
            &[
                "run",
                "--rm",
                "--network",
                &net,
                "--ip",
                "10.99.0.5",
                "bb:1",
                "true",
            ],
            "10.99.0.5",
        ),
    ];
    for (args, word) in cases {
        let out = e.run(args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(word), "{args:?}: {err}");
    }
    for (args, word) in [
        (
            vec!["network", "create", "--subnet", "10.0.0.0/33", "x1"],
            "10.0.0.0/33",
        ),
        (
            vec!["network", "create", "--subnet", "10.209.0.0/16", "x2"],
            "overlaps",
        ),
        (vec!["network", "create", &net], "already exists"),
        (vec!["network", "rm", "no-such-net"], "no-such-net"),
    ] {
        let out = e.run(&args);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(word), "{args:?}: {err}");
    }
    assert_eq!((links(&e), nft_table(&e)), before);
    assert_eq!(e.ok(&["ps", "-aq"]).lines().count(), 1);
}

#[test]
fn macvlan_on_a_parent_link_and_ipvlan_where_the_kernel_has_it() {
    require_root!();
    let e = Engine::new("berth");
    // this kernel has no dummy links: a veth pair's end is the parent
    let out = e.host_sh("ip link add mvparent type veth peer name mvpeer && ip link set mvparent up && ip link set mvpeer up");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let net = name("mv");
    e.ok(&[
        "network",
        "create",
        "-d",
        "macvlan",
        "-o",
        "parent=mvparent",
        "--subnet",
        "10.210.0.0/24",
        &net,
    ]);
    let server = name("srv");
    httpd(&e, &["--name", &server, "--network", &net]);
    let out = sh(
        &e,
        &["--network", &net],
        &format!(
            "ip -o addr show eth0; {}",
            fetch(&format!("http://{}/hello", ip_of(&e, &server, &net)))
        ),
    );
    assert!(out.contains("10.210.0."), "{out}");
    assert!(out.ends_with(HELLO), "{out}");
    // no veth: the link is a macvlan on the parent
    assert!(host_veths(&e).is_empty(), "{:?}", links(&e));
    // one network per parent link (Docker's rule): another for ipvlan
    let out = e.host_sh("ip link add ivparent type veth peer name ivpeer && ip link set ivparent up && ip link set ivpeer up");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ipvlan = name("iv");
    let out = e.run(&[
        "network",
        "create",
        "-d",
        "ipvlan",
        "-o",
        "parent=ivparent",
        "--subnet",
        "10.211.0.0/24",
        &ipvlan,
    ]);
    let kernel_has_ipvlan = std::path::Path::new("/sys/module/ipvlan").exists();
    if out.status.success() {
        let out = sh_out(&e, &["--network", &ipvlan], "ip -o addr show eth0");
        if kernel_has_ipvlan {
            assert!(out.status.success() && text(&out.stdout).contains("10.211.0."));
        } else {
            // refused at the first container: one clear line
            assert_eq!(out.status.code(), Some(125));
            assert!(
                text(&out.stderr).contains("ipvlan"),
                "{}",
                text(&out.stderr)
            );
        }
    } else {
        assert!(!kernel_has_ipvlan);
        assert!(
            text(&out.stderr).contains("ipvlan"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn dual_stack_network_serves_ipv6() {
    require_root!();
    let e = Engine::new("berth");
    let net = name("v6");
    e.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "10.212.0.0/24",
        "--subnet",
        "fd00:212::/64",
        &net,
    ]);
    let server = name("srv");
    httpd(&e, &["--name", &server, "--network", &net]);
    let v = e.inspect(&server);
    let v6 = v["NetworkSettings"]["Networks"][&net]["GlobalIPv6Address"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(v6.starts_with("fd00:212::"), "{v}");
    assert!(ip_of(&e, &server, &net).starts_with("10.212.0."));
    let out = sh(
        &e,
        &["--network", &net],
        &fetch(&format!("http://[{v6}]/hello")),
    );
    assert_eq!(out, HELLO);
}

#[test]
fn bandwidth_limits_are_set_on_both_ends_and_changed_live() {
    require_root!();
    let e = Engine::new("berth");
    let c = e.ok(&[
        "run",
        "-d",
        "--network-bandwidth-ingress",
        "10mbit",
        "--network-bandwidth-egress",
        "20mbit",
        "bb:1",
        "sleep",
        "1000",
    ]);
    let c = c.trim();
    let veth = host_veths(&e).pop().expect("a host veth");
    let pid = e.inspect(c)["State"]["Pid"].as_i64().unwrap();
    let qdisc = |inside: bool| {
        let out = match inside {
            false => e.host_sh(&format!("tc qdisc show dev {veth}")),
            true => e.host_sh(&format!("nsenter -t {pid} -n tc qdisc show dev eth0")),
        };
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    // ingress: what the host sends the container, on the host end
    assert!(
        qdisc(false).contains("tbf") && qdisc(false).contains("rate 10Mbit"),
        "{}",
        qdisc(false)
    );
    assert!(
        qdisc(true).contains("tbf") && qdisc(true).contains("rate 20Mbit"),
        "{}",
        qdisc(true)
    );
    e.ok(&["update", "--network-bandwidth-ingress", "30mbit", c]);
    assert!(qdisc(false).contains("rate 30Mbit"), "{}", qdisc(false));
    assert!(qdisc(true).contains("rate 20Mbit"), "{}", qdisc(true));
    let v = e.inspect(c);
    assert_eq!(
        v["HostConfig"]["NetworkBandwidthIngress"], 30_000_000,
        "{v}"
    );
    assert_eq!(v["HostConfig"]["NetworkBandwidthEgress"], 20_000_000, "{v}");
}
