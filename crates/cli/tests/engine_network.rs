//! `berth network create|ls|inspect|rm|prune|connect|disconnect`: Docker's
//! output and errors. Networks here are data only (no container runs, so
//! no bridge is made, except one by hand for `rm` to delete); the
//! lifecycle's tests cover the rest of the kernel side. Each test has an
//! engine of its own, in a network namespace of its own (`rm` deletes
//! bridges in berth's namespace).

mod common;

use berth_testutil::require_root;
use berth_testutil::{output_with_input, COMMAND_TIMEOUT};
use common::engine::{name, Engine};
use common::lifecycle::sql;
use serde_json::Value;

/// Runs and expects exit code 125; returns stderr.
fn fails(e: &Engine, args: &[&str]) -> String {
    let out = e.run(args);
    assert_eq!(
        out.status.code(),
        Some(125),
        "berth {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr).unwrap()
}

fn ok_stdin(e: &Engine, args: &[&str], input: &[u8]) -> String {
    let out = output_with_input(&mut e.command(args), input, COMMAND_TIMEOUT);
    assert!(out.status.success(), "berth {args:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn inspect(b: &Engine, net: &str) -> Value {
    let v: Value = serde_json::from_str(&b.ok(&["network", "inspect", net])).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    v[0].clone()
}

#[test]
fn create_ls_inspect_rm_with_dockers_output() {
    require_root!();
    let b = Engine::new("berth");
    // The predefined networks, Docker's columns, sorted by name.
    let ls = b.ok(&["network", "ls"]);
    let lines: Vec<&str> = ls.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    );
    let rows: Vec<Vec<&str>> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 3, "{ls}");
    assert_eq!(rows[0][1..], ["bridge", "bridge", "local"]);
    assert_eq!(rows[1][1..], ["host", "host", "local"]);
    assert_eq!(rows[2][1..], ["none", "null", "local"]);
    assert!(rows.iter().all(|r| r[0].len() == 12));

    let id = b.ok(&[
        "network",
        "create",
        "--subnet",
        "10.123.0.0/24",
        "--gateway",
        "10.123.0.254",
        "--ip-range",
        "10.123.0.128/25",
        "--label",
        "team=a",
        "-o",
        "com.docker.network.driver.mtu=1400",
        "--attachable",
        "front",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64);
    assert!(id.bytes().all(|c| c.is_ascii_hexdigit()));

    let n = inspect(&b, "front");
    assert_eq!(n["Id"], id);
    assert_eq!(n["Name"], "front");
    assert_eq!(n["Driver"], "bridge");
    assert_eq!(n["Scope"], "local");
    assert_eq!(n["Internal"], false);
    assert_eq!(n["EnableIPv6"], false);
    assert_eq!(n["IPAM"]["Driver"], "default");
    assert_eq!(n["IPAM"]["Config"][0]["Subnet"], "10.123.0.0/24");
    assert_eq!(n["IPAM"]["Config"][0]["Gateway"], "10.123.0.254");
    assert_eq!(n["IPAM"]["Config"][0]["IPRange"], "10.123.0.128/25");
    assert_eq!(n["Labels"]["team"], "a");
    assert_eq!(n["Options"]["com.docker.network.driver.mtu"], "1400");
    assert_eq!(n["Containers"], serde_json::json!({}));
    // By id prefix too, and -f.
    assert_eq!(
        b.ok(&[
            "network",
            "inspect",
            "-f",
            "{{.Name}} {{.Driver}}",
            &id[..6]
        ]),
        "front bridge\n"
    );

    // An automatic subnet from Docker's pools, dual stack with --ipv6.
    b.ok(&["network", "create", "--ipv6", "--internal", "back"]);
    let back = inspect(&b, "back");
    let v4 = back["IPAM"]["Config"][0]["Subnet"].as_str().unwrap();
    assert!(
        v4.starts_with("172.") && v4.ends_with(".0.0/16") || v4.starts_with("192.168."),
        "{v4}"
    );
    assert_ne!(v4, "172.17.0.0/16", "kept for the default bridge");
    let v6 = back["IPAM"]["Config"][1]["Subnet"].as_str().unwrap();
    assert!(v6.starts_with("fd") && v6.ends_with("::/64"), "{v6}");
    assert_eq!(back["EnableIPv6"], true);
    assert_eq!(back["Internal"], true);

    // ls: -q, --no-trunc, filters, --format.
    let q = b.ok(&["network", "ls", "-q", "--filter", "type=custom"]);
    assert_eq!(q.lines().count(), 2);
    assert!(q.lines().any(|l| l == &id[..12]));
    let full = b.ok(&["network", "ls", "-q", "--no-trunc", "-f", "name=fro"]);
    assert_eq!(full, format!("{id}\n"));
    assert_eq!(
        b.ok(&[
            "network",
            "ls",
            "-f",
            "label=team=a",
            "--format",
            "{{.Name}} {{.Labels}} {{.IPv6}}"
        ]),
        "front team=a false\n"
    );
    assert_eq!(
        b.ok(&[
            "network",
            "ls",
            "-f",
            "driver=null",
            "--format",
            "{{.Name}}"
        ]),
        "none\n"
    );
    assert_eq!(
        b.ok(&[
            "network",
            "ls",
            "--format",
            "table {{.Name}}\t{{.Driver}}",
            "-f",
            "type=builtin"
        ]),
        "NAME      DRIVER\nbridge    bridge\nhost      host\nnone      null\n"
    );

    // rm prints the names; the rest are Docker's refusals.
    assert_eq!(b.ok(&["network", "rm", "front", "back"]), "front\nback\n");
    assert_eq!(b.ok(&["network", "ls", "-q", "-f", "type=custom"]), "");
}

#[test]
fn errors_in_dockers_words() {
    require_root!();
    let b = Engine::new("berth");
    let err = |args: &[&str]| fails(&b, args).trim_end().to_owned();
    assert_eq!(
        err(&["network", "create", "--subnet", "10.0.0.0/33", "x"]),
        "Error: invalid CIDR address: 10.0.0.0/33"
    );
    assert_eq!(
        err(&[
            "network",
            "create",
            "--subnet",
            "10.0.0.0/24",
            "--gateway",
            "10.1.0.1",
            "x"
        ]),
        "Error: no matching subnet for gateway 10.1.0.1"
    );
    assert_eq!(
        err(&[
            "network",
            "create",
            "--subnet",
            "10.0.0.0/24",
            "--ip-range",
            "10.2.0.0/28",
            "x"
        ]),
        "Error: no matching subnet for range 10.2.0.0/28"
    );
    assert_eq!(
        err(&["network", "create", "--subnet", "10.0.0.1/24", "x"]),
        "Error: invalid subnet 10.0.0.1/24: it should be 10.0.0.0/24"
    );
    assert_eq!(
        err(&["network", "create", "-d", "overlay", "x"]),
        "Error: plugin \"overlay\" not found"
    );
    assert_eq!(
        err(&["network", "create", "-d", "host", "x"]),
        "Error: only one instance of \"host\" network is allowed"
    );
    b.ok(&["network", "create", "--subnet", "10.9.0.0/16", "a"]);
    assert_eq!(
        err(&["network", "create", "--subnet", "10.9.8.0/24", "x"]),
        "Error: Pool overlaps with other one on this address space"
    );
    assert_eq!(
        err(&["network", "create", "a"]),
        "Error: network with name a already exists"
    );
    // Nothing was left behind by the failures.
    assert_eq!(
        b.ok(&[
            "network",
            "ls",
            "-f",
            "type=custom",
            "--format",
            "{{.Name}}"
        ]),
        "a\n"
    );
    assert_eq!(
        err(&["network", "inspect", "nope"]),
        "Error: No such network: nope"
    );
    assert_eq!(
        err(&["network", "rm", "nope"]),
        "Error: network nope not found"
    );
    assert_eq!(
        err(&["network", "rm", "bridge"]),
        "Error: bridge is a pre-defined network and cannot be removed"
    );
    assert_eq!(
        err(&["network", "ls", "-f", "color=red"]),
        "Error: invalid filter 'color'"
    );
    // -f: a missing network is no error.
    assert_eq!(b.ok(&["network", "rm", "-f", "nope"]), "");
    // Several: each done or reported, 125 if any failed.
    let out = b.run(&["network", "rm", "a", "nope"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a\n");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: network nope not found\n"
    );
}

#[test]
fn prune_removes_unused_custom_networks_matching_the_filter() {
    require_root!();
    let b = Engine::new("berth");
    b.ok(&["network", "create", "--label", "keep=yes", "kept"]);
    b.ok(&["network", "create", "--label", "tmp", "gone1"]);
    b.ok(&["network", "create", "gone2"]);
    assert_eq!(
        b.ok(&["network", "prune", "-f", "--filter", "label!=keep"]),
        "Deleted Networks:\ngone1\ngone2\n\n"
    );
    // Nothing to prune: nothing printed; the predefined ones stay.
    assert_eq!(
        b.ok(&["network", "prune", "-f", "--filter", "label=tmp"]),
        ""
    );
    // Without -f it asks; "n" keeps everything.
    assert_eq!(ok_stdin(&b, &["network", "prune"], b"n\n"), "");
    assert_eq!(
        b.ok(&["network", "ls", "--format", "{{.Name}}"]),
        "bridge\nhost\nkept\nnone\n"
    );
    assert_eq!(
        ok_stdin(&b, &["network", "prune"], b"y\n"),
        "Deleted Networks:\nkept\n\n"
    );
}

#[test]
fn rm_and_prune_keep_a_network_with_active_endpoints() {
    require_root!();
    let e = Engine::new("berth");
    e.ok(&["network", "create", "--subnet", "10.44.0.0/24", "busy"]);
    let c = name("busy");
    let id = e.ok(&["create", "--name", &c, "bb:1", "true"]);
    let id = id.trim();
    let net = e.ok(&["network", "inspect", "-f", "{{.Id}}", "busy"]);
    // An endpoint row as the lifecycle writes it while the container runs
    // (owned by this live test process, so no reconcile takes it).
    let (pid, start) = own_process();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    sql(
        &e,
        &format!(
            "UPDATE containers SET state = 'running', monitor_pid = {pid}, monitor_start = {start},
             boot_id = '{}' WHERE id = '{id}';
             INSERT INTO endpoints (container_id, network_id, ifname, host_ifname, ipv4, mac, aliases)
             VALUES ('{id}', '{}', 'eth0', 'vb000000000001', '10.44.0.2', '02:42:0a:2c:00:02', '[]')",
            boot.trim(),
            net.trim()
        ),
    );
    let out = e.run(&["network", "rm", "busy"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "Error: error while removing network: network busy has active endpoints (name:\"{c}\" id:\"{}\")\n",
            &id[..12]
        )
    );
    assert_eq!(e.ok(&["network", "prune", "-f"]), "");
    let n: Value = serde_json::from_str(&e.ok(&["network", "inspect", "busy"])).unwrap();
    assert_eq!(n[0]["Containers"][id]["Name"], c.as_str());
    assert_eq!(n[0]["Containers"][id]["IPv4Address"], "10.44.0.2/24");
    assert_eq!(n[0]["Containers"][id]["MacAddress"], "02:42:0a:2c:00:02");
    // Exited (its release lost, as after a crash): the next command's
    // reconcile frees the endpoint.
    sql(
        &e,
        &format!("UPDATE containers SET state = 'exited', monitor_pid = 0 WHERE id = '{id}'"),
    );
    assert_eq!(e.ok(&["network", "rm", "busy"]), "busy\n");
}

#[test]
fn connect_and_disconnect_a_created_container() {
    require_root!();
    let e = Engine::new("berth");
    // In the engine's own netns the default bridge gets Docker's 172.17/16.
    assert_eq!(
        e.ok(&[
            "network",
            "inspect",
            "-f",
            "{{json .IPAM.Config}}",
            "bridge"
        ]),
        "[{\"Gateway\":\"172.17.0.1\",\"Subnet\":\"172.17.0.0/16\"}]\n"
    );
    e.ok(&["network", "create", "--subnet", "10.45.0.0/24", "one"]);
    e.ok(&["network", "create", "two"]);
    let c = name("conn");
    // (`create`'s default network is still `none`; connecting such a
    // container makes the network its first.)
    e.ok(&["create", "--name", &c, "bb:1", "true"]);
    let err = |args: &[&str]| {
        let out = e.run(args);
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        String::from_utf8_lossy(&out.stderr).trim_end().to_owned()
    };
    let h0 = name("plain");
    e.ok(&["create", "--name", &h0, "bb:1", "true"]);
    e.ok(&[
        "network",
        "connect",
        "--ip",
        "10.45.0.9",
        "--alias",
        "web",
        "one",
        &c,
    ]);
    e.ok(&["network", "connect", "two", &c]);
    e.ok(&["network", "connect", "bridge", &c]);
    let config = stored_networks(&e, &c);
    assert_eq!(config[0]["name"], "one");
    assert_eq!(config[0]["ip"], "10.45.0.9");
    assert_eq!(config[0]["aliases"][0], "web");
    assert_eq!(config[1]["name"], "two");
    assert_eq!(config[2]["name"], "bridge");
    assert_eq!(e.inspect(&c)["HostConfig"]["NetworkMode"], "one");
    assert_eq!(
        err(&["network", "connect", "one", &c]),
        format!("Error: endpoint with name {c} already exists in network one")
    );
    assert_eq!(
        err(&["network", "connect", "--ip", "172.17.0.9", "bridge", &h0]),
        "Error: user specified IP address is supported on user defined networks only"
    );
    assert_eq!(
        err(&["network", "connect", "host", &c]),
        "Error: container cannot be disconnected from host network or connected to host network"
    );
    assert_eq!(
        err(&["network", "connect", "nope", &c]),
        "Error: network nope not found"
    );
    assert_eq!(
        err(&["network", "connect", "one", "nosuch"]),
        "Error: No such container: nosuch"
    );
    e.ok(&["network", "disconnect", "one", &c]);
    let config = stored_networks(&e, &c);
    let names: Vec<&str> = config.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["two", "bridge"]);
    let id = e.inspect(&c)["Id"].as_str().unwrap().to_owned();
    assert_eq!(
        err(&["network", "disconnect", "one", &c]),
        format!("Error: container {id} is not connected to network one")
    );
    // A host-network container joins no other network.
    let h = name("hostnet");
    e.ok(&["create", "--name", &h, "--network", "host", "bb:1", "true"]);
    assert_eq!(
        err(&["network", "connect", "one", &h]),
        "Error: container sharing network namespace with another container or host cannot be connected to any other network"
    );
}

/// This process's pid and start time (`/proc/self/stat` field 22), as
/// the engine records an owner.
fn own_process() -> (u32, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let start = after.split(' ').nth(19).unwrap().parse().unwrap();
    (std::process::id(), start)
}

/// The container's stored network requests (`ContainerConfig.networks`).
fn stored_networks(e: &Engine, name: &str) -> Vec<Value> {
    let db = rusqlite::Connection::open(e.berth.root.join("berth.db")).unwrap();
    let config: String = db
        .query_row(
            "SELECT config FROM containers WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .unwrap();
    let v: Value = serde_json::from_str(&config).unwrap();
    v["networks"].as_array().cloned().unwrap_or_default()
}

#[test]
fn rm_deletes_the_networks_bridge() {
    require_root!();
    let e = Engine::new("berth");
    let id = e.ok(&["network", "create", "--subnet", "10.46.0.0/24", "withbr"]);
    let bridge = format!("br-{}", &id.trim()[..12]);
    let custom = "berthtestbr0";
    e.ok(&[
        "network",
        "create",
        "-o",
        &format!("com.docker.network.bridge.name={custom}"),
        "custom",
    ]);
    // The links the lifecycle makes at first attach, made by hand here.
    for name in [&bridge, custom] {
        let out = e.host_sh(&format!("ip link add {name} type bridge"));
        assert!(out.status.success(), "{out:?}");
    }
    let links = || String::from_utf8(e.host_sh("ip -o link show").stdout).unwrap();
    assert!(links().contains(&bridge));
    assert_eq!(
        e.ok(&["network", "rm", "withbr", "custom"]),
        "withbr\ncustom\n"
    );
    let left = links();
    assert!(!left.contains(&bridge), "{left}");
    assert!(!left.contains(custom), "{left}");
    // A network whose bridge was never made is removed all the same.
    e.ok(&["network", "create", "never"]);
    assert_eq!(e.ok(&["network", "rm", "never"]), "never\n");
}
