//! The network flags of `create`/`run` as root: bad values and conflicts in
//! Docker's words (exit 125, one line, nothing left behind), what `inspect`
//! shows of them, the `/etc/hosts` and `/etc/resolv.conf` a container
//! gets, `--network container:<id>` (the other init's network namespace),
//! and `update --network-bandwidth-*`.

mod common;

use berth_testutil::require_root;
use common::engine::{name, Engine};
use serde_json::json;

#[test]
fn bad_network_flags_in_dockers_words_leave_nothing() {
    require_root!();
    let e = Engine::new("berth");
    let other = name("netother");
    e.ok(&["create", "--name", &other, "bb:1", "true"]);
    let join = format!("container:{other}");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["-p", "99999:80"], "invalid hostPort: 99999"),
        (vec!["-p", "80:99999"], "invalid containerPort: 99999"),
        (vec!["-p", "1.2.3:80:80"], "invalid IP address: 1.2.3"),
        (vec!["-p", "8000-8001:80-82"], "invalid ranges specified for container and host Ports: 80-82 and 8000-8001"),
        (vec!["-p", "80/quic"], "invalid proto: quic"),
        (vec!["--expose", "80:80"], "invalid port format for --expose: 80:80"),
        (vec!["--expose", "x"], "invalid range format for --expose: x, error: strconv.ParseUint: parsing \"x\": invalid syntax"),
        (vec!["--dns", "1.2.3"], "invalid argument \"1.2.3\" for \"--dns\" flag: IP address is not correctly formatted: 1.2.3"),
        (vec!["--dns-search", "-x-"], "invalid argument \"-x-\" for \"--dns-search\" flag: -x- is not a valid domain"),
        (vec!["--add-host", "nohost"], "invalid argument \"nohost\" for \"--add-host\" flag: bad format for add-host: \"nohost\""),
        (vec!["--add-host", "db:1.2.3"], "invalid argument \"db:1.2.3\" for \"--add-host\" flag: invalid IP address in add-host: \"1.2.3\""),
        (vec!["--mac-address", "02:42"], "02:42 is not a valid mac address"),
        (vec!["--network-bandwidth-egress", "fast"], "invalid argument \"fast\" for \"--network-bandwidth-egress\" flag: invalid rate \"fast\""),
        (vec!["--network", "bridge", "--ip", "172.17.0.9"], "user specified IP address is supported on user defined networks only"),
        (vec!["--ip6", "fd00::9"], "user specified IP address is supported on user defined networks only"),
        (vec!["--network-alias", "a"], "network-scoped alias is supported only for containers in user defined networks"),
        (vec!["--network", "mynet", "--ip", "x"], "invalid IPv4 address: x"),
        (vec!["--network", "host", "--mac-address", "02:42:ac:11:00:02"], "conflicting options: mac-address and the network mode"),
        (vec!["--network", "container:"], "Invalid network mode: invalid container format container:<name|id>"),
        (vec!["--network", &join, "--hostname", "h"], "conflicting options: hostname and the network mode"),
        (vec!["--network", &join, "--dns", "1.1.1.1"], "conflicting options: dns and the network mode"),
        (vec!["--network", &join, "--add-host", "a:1.1.1.1"], "conflicting options: custom host-to-IP mapping and the network mode"),
        (vec!["--network", &join, "-p", "80"], "conflicting options: port publishing and the container type network mode"),
        (vec!["--network", &join, "-P"], "conflicting options: port publishing and the container type network mode"),
        (vec!["--network", &join, "--expose", "80"], "conflicting options: port exposing and the container type network mode"),
        (vec!["--network", "container:no-such-container"], "No such container: no-such-container"),
    ];
    for (flags, message) in &cases {
        for command in ["run", "create"] {
            let mut args = vec![command, "--name", "never"];
            args.extend_from_slice(flags);
            args.extend_from_slice(&["bb:1", "true"]);
            let out = e.run(&args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(125), "{args:?}: {err}");
            assert!(err.contains(message), "{args:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        }
    }
    // Only the container made above.
    assert_eq!(e.ok(&["ps", "-aq"]).lines().count(), 1);
    e.ok(&["rm", &other]);
}

#[test]
fn inspect_shows_network_flags_as_docker() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("netinspect");
    e.ok(&[
        "create",
        "--name",
        &n,
        "--network",
        "bridge",
        "-p",
        "127.0.0.1:8080:80",
        "-p",
        "8000-8010:443",
        "-p",
        "53/udp",
        "--expose",
        "9000-9001",
        "-P",
        "--dns",
        "9.9.9.9",
        "--dns-search",
        "corp.example",
        "--dns-option",
        "ndots:2",
        "--add-host",
        "db:10.0.0.5",
        "--add-host",
        "gw:host-gateway",
        "--domainname",
        "example.com",
        "--network-bandwidth-egress",
        "10mbit",
        "bb:1",
        "true",
    ]);
    let v = e.inspect(&n);
    let host = &v["HostConfig"];
    assert_eq!(host["NetworkMode"], "bridge");
    assert_eq!(
        host["PortBindings"],
        json!({
            "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
            "443/tcp": [{"HostIp": "", "HostPort": "8000-8010"}],
            "53/udp": [{"HostIp": "", "HostPort": ""}],
        })
    );
    assert_eq!(host["PublishAllPorts"], true);
    assert_eq!(host["Dns"], json!(["9.9.9.9"]));
    assert_eq!(host["DnsSearch"], json!(["corp.example"]));
    assert_eq!(host["DnsOptions"], json!(["ndots:2"]));
    assert_eq!(
        host["ExtraHosts"],
        json!(["db:10.0.0.5", "gw:host-gateway"])
    );
    assert_eq!(v["Config"]["Domainname"], "example.com");
    assert_eq!(
        v["Config"]["ExposedPorts"],
        json!({"53/udp": {}, "80/tcp": {}, "443/tcp": {}, "9000/tcp": {}, "9001/tcp": {}})
    );
    // --network host: -p is discarded with Docker's warning.
    let h = name("nethost");
    let out = e.run(&[
        "create",
        "--name",
        &h,
        "--network",
        "host",
        "-p",
        "80",
        "bb:1",
        "true",
    ]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "WARNING: Published ports are discarded when using host network mode\n"
    );
    assert_eq!(e.inspect(&h)["HostConfig"]["PortBindings"], json!({}));
    // update records the rates (and refuses a bad one).
    e.ok(&["update", "--network-bandwidth-ingress", "1gbit", &n]);
    let out = e.run(&["update", "--network-bandwidth-ingress", "1 gbit", &n]);
    assert_eq!(out.status.code(), Some(125));
    e.ok(&["rm", &n, &h]);
}

#[test]
fn etc_files_of_a_container() {
    require_root!();
    let e = Engine::new("berth");
    let out = e.ok(&[
        "run",
        "--rm",
        "--hostname",
        "web",
        "--domainname",
        "example.com",
        "--dns",
        "9.9.9.9",
        "--dns-search",
        "corp.example",
        "--dns-option",
        "ndots:2",
        "--add-host",
        "db:10.0.0.5",
        "bb:1",
        "cat",
        "/etc/resolv.conf",
        "/etc/hosts",
    ]);
    assert_eq!(
        out,
        "# Generated by berth.\n\
         # This file can be edited; berth will not make further changes once it\n\
         # has been modified.\n\n\
         nameserver 9.9.9.9\nsearch corp.example\noptions ndots:2\n\n\
         # Based on host file: '".to_owned()
            + berth_net_host_file().as_str()
            + "' (legacy)\n# Overrides: [nameservers search options]\n# Option ndots from: override\n\
         127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::\tip6-localnet\n\
         ff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n10.0.0.5\tdb\n"
    );
}

/// The host file a container's resolv.conf is based on here (Docker's
/// choice: systemd-resolved's when 127.0.0.53 is the only server).
fn berth_net_host_file() -> String {
    let etc = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let servers: Vec<&str> = etc
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver "))
        .map(str::trim)
        .collect();
    if servers == ["127.0.0.53"]
        && std::path::Path::new("/run/systemd/resolve/resolv.conf").exists()
    {
        "/run/systemd/resolve/resolv.conf".into()
    } else {
        "/etc/resolv.conf".into()
    }
}

#[test]
fn network_container_joins_the_other_namespace() {
    require_root!();
    let e = Engine::new("berth");
    let a = name("netjoin-a");
    let b = name("netjoin-b");
    e.ok(&[
        "run",
        "-d",
        "--name",
        &a,
        "--hostname",
        "shared",
        "--add-host",
        "db:10.0.0.5",
        "bb:1",
        "sleep",
        "1000",
    ]);
    let a_id = e.inspect(&a)["Id"].as_str().unwrap().to_owned();
    let join = format!("container:{a}");
    e.ok(&[
        "create",
        "--name",
        &b,
        "--network",
        &join,
        "bb:1",
        "sleep",
        "1000",
    ]);
    let vb = e.inspect(&b);
    assert_eq!(vb["HostConfig"]["NetworkMode"], format!("container:{a_id}"));
    assert_eq!(vb["Config"]["Hostname"], "shared");
    e.ok(&["start", &b]);
    let pid = |n: &str| e.inspect(n)["State"]["Pid"].as_i64().unwrap();
    let ns = |pid: i64| std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    assert_eq!(ns(pid(&a)), ns(pid(&b)));
    assert_ne!(ns(pid(&a)), ns(std::process::id() as i64));
    // The other container's files.
    let hosts = e.ok(&["exec", &b, "cat", "/etc/hosts"]);
    assert!(hosts.contains("10.0.0.5\tdb\n"), "{hosts}");
    // With the other one gone, it cannot start.
    e.ok(&["rm", "-f", &b]);
    e.ok(&["create", "--name", &b, "--network", &join, "bb:1", "true"]);
    e.ok(&["rm", "-f", &a]);
    let out = e.run(&["start", &b]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("No such container"), "{err}");
    e.ok(&["rm", "-f", &b]);
    // Created, then the other one stops.
    e.ok(&["run", "-d", "--name", &a, "bb:1", "sleep", "1000"]);
    e.ok(&["create", "--name", &b, "--network", &join, "bb:1", "true"]);
    e.ok(&["kill", &a]);
    e.ok(&["wait", &a]);
    let out = e.run(&["start", &b]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("cannot join network of a non running container: "),
        "{err}"
    );
    e.ok(&["rm", "-f", &a, &b]);
}
