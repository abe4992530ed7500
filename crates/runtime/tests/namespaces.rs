//! Namespaces: each one asked for is new, each one given a `path` is
//! joined, and the ones left out are the host's.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use common::*;
use serde_json::json;

/// Prints `<kind> <link>` for each namespace kind, from inside.
fn ns_script(kinds: &[&str]) -> String {
    kinds
        .iter()
        .map(|k| format!("echo {k} $(readlink /proc/self/ns/{k})"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Parses `ns_script` output into (kind, link) pairs.
fn parse_ns(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn default_namespaces_are_all_new() {
    require_root!();
    let rt = runtime();
    let kinds = ["pid", "net", "mnt", "uts", "ipc"];
    let out = run_script(&rt, &ns_script(&kinds));
    let seen = parse_ns(&out);
    assert_eq!(seen.len(), kinds.len(), "{out}");
    for (kind, link) in seen {
        assert!(link.starts_with(&format!("{kind}:[")), "{kind}: {link}");
        assert_ne!(link, host_ns(&kind), "{kind} namespace is the host's");
    }
}

#[test]
fn namespaces_not_asked_for_are_the_hosts() {
    require_root!();
    let rt = runtime();
    // The default spec has no cgroup, user or time namespace.
    let kinds = ["cgroup", "user"];
    let out = run_script(&rt, &ns_script(&kinds));
    for (kind, link) in parse_ns(&out) {
        assert_eq!(link, host_ns(&kind), "{kind} namespace should be shared");
    }
}

#[test]
fn network_namespace_can_be_left_out() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.remove_namespace("network");
    b.set_script(&ns_script(&["net"]));
    let out = rt.run(&b).ok();
    assert_eq!(
        parse_ns(&out.stdout),
        vec![("net".to_owned(), host_ns("net"))]
    );
}

#[test]
fn pid_namespace_makes_the_process_pid_1() {
    require_root!();
    let rt = runtime();
    let out = run_script(&rt, "echo $$; ls /proc | grep -c '^[0-9]'");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1");
    // sh, the ls and the grep (and maybe a subshell): nothing of the host.
    let visible: u32 = lines[1].parse().unwrap();
    assert!(visible <= 4, "{visible} pids visible:\n{out}");
}

#[test]
fn cgroup_namespace_is_new_when_asked() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_namespace("cgroup", None);
    b.set_script(&format!(
        "{}; cat /proc/self/cgroup",
        ns_script(&["cgroup"])
    ));
    let out = rt.run(&b).ok().stdout;
    let link = out.lines().next().unwrap().split_once(' ').unwrap().1;
    assert_ne!(link, host_ns("cgroup"));
    // Inside, the container's own cgroup is the root: the parent's name
    // must not show.
    let parent = b.cgroup_parent().path();
    assert!(
        !out.contains(&parent),
        "cgroup path leaks into the namespace:\n{out}"
    );
}

#[test]
fn network_namespace_is_joined_by_path() {
    require_root!();
    let holder = HostProcess::spawn(&["unshare", "--net", "sleep", "100"]);
    let pid = holder.pid();
    // Wait until unshare has moved itself into the new namespace.
    assert!(wait_until(Duration::from_secs(5), || {
        fs::read_link(format!("/proc/{pid}/ns/net"))
            .map(|l| l.to_string_lossy() != host_ns("net"))
            .unwrap_or(false)
    }));
    let want = pid_ns(pid, "net");

    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_namespace("network", Some(&holder.ns_path("net")));
    b.set_script(&ns_script(&["net"]));
    let out = rt.run(&b).ok();
    assert_eq!(parse_ns(&out.stdout), vec![("net".to_owned(), want)]);
}

#[test]
fn uts_namespace_joined_by_path_sees_its_hostname() {
    require_root!();
    let holder = HostProcess::spawn(&[
        "unshare",
        "--uts",
        "sh",
        "-c",
        "hostname joined-uts; exec sleep 100",
    ]);
    let pid = holder.pid();
    assert!(wait_until(Duration::from_secs(5), || {
        fs::read_to_string(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with("sleep"))
    }));
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_namespace("uts", Some(&holder.ns_path("uts")));
    // A joined UTS namespace keeps its name: `hostname` in the config would
    // be an error for runc, so drop it.
    b.config_mut().as_object_mut().unwrap().remove("hostname");
    b.set_script("hostname");
    assert_eq!(rt.run(&b).ok().stdout, "joined-uts\n");
}

#[test]
fn hostname_is_set() {
    require_root!();
    let host_name = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_hostname("berth-box");
    b.set_script("hostname; cat /proc/sys/kernel/hostname");
    let out = rt.run(&b).ok();
    assert_eq!(out.stdout, "berth-box\nberth-box\n");
    assert_eq!(
        fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        host_name
    );
}

#[test]
fn domainname_is_set() {
    require_root!();
    let rt = runtime();
    // runc 1.1 parses `domainname` but never sets it (inside reads "(none)").
    if skip_unless_berth(&rt, "runc 1.1 ignores `domainname`") {
        return;
    }
    let host_domain = fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
    let mut b = Bundle::new(&rt);
    b.config_mut()["domainname"] = json!("example.test");
    b.set_script("cat /proc/sys/kernel/domainname");
    assert_eq!(rt.run(&b).ok().stdout, "example.test\n");
    assert_eq!(
        fs::read_to_string("/proc/sys/kernel/domainname").unwrap(),
        host_domain
    );
}

#[test]
fn user_namespace_maps_root_to_100000() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let data = b.host_dir("data");
    nix::unistd::chown(&data, Some(100000.into()), Some(100000.into())).unwrap();
    b.set_namespace("user", None);
    {
        let mut c = b.config_mut();
        let map = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
        c["linux"]["uidMappings"] = map.clone();
        c["linux"]["gidMappings"] = map;
    }
    // Root in the namespace is uid 100000 on the host and cannot create
    // the mount point in a rootfs owned by the host's root: make it here.
    fs::create_dir(b.rootfs().join("data")).unwrap();
    b.add_mount("/data", "bind", data.to_str().unwrap(), &["rbind", "rw"]);
    b.set_script(&format!(
        "id -u; id -g; cat /proc/self/uid_map; touch /data/made-inside; {}",
        ns_script(&["user"])
    ));
    let out = rt.run(&b).ok().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0", "{out}");
    assert_eq!(lines[1], "0", "{out}");
    let map: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(map, ["0", "100000", "65536"]);
    let user_ns = lines[3].split_once(' ').unwrap().1;
    assert_ne!(user_ns, host_ns("user"));

    let meta = fs::metadata(data.join("made-inside")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (100000, 100000));
}

/// Whether the runtime under test claims time namespace support. berth
/// must support it; runc 1.1 does not (it is in runc 1.2).
fn supports_time_namespace(rt: &Runtime) -> bool {
    if rt.is_berth() {
        return true;
    }
    let out = rt.cmd(&["features"]);
    let features: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
    features["linux"]["namespaces"]
        .as_array()
        .is_some_and(|l| l.iter().any(|n| n == "time"))
}

#[test]
fn time_namespace_offsets_show_in_uptime() {
    require_root!();
    let rt = runtime();
    if !supports_time_namespace(&rt) {
        skipped(&format!("{} has no time namespace support", rt.name()));
        return;
    }
    const TEN_DAYS: u64 = 10 * 24 * 3600;
    let mut b = Bundle::new(&rt);
    b.set_namespace("time", None);
    b.config_mut()["linux"]["timeOffsets"] = json!({
        "boottime": { "secs": TEN_DAYS, "nanosecs": 0 },
        "monotonic": { "secs": TEN_DAYS, "nanosecs": 0 }
    });
    b.set_script(&format!("cat /proc/uptime; {}", ns_script(&["time"])));
    let host_uptime = uptime(&fs::read_to_string("/proc/uptime").unwrap());
    let out = rt.run(&b).ok().stdout;
    let inside = uptime(out.lines().next().unwrap());
    assert!(
        inside >= host_uptime + TEN_DAYS as f64 && inside < host_uptime + TEN_DAYS as f64 + 60.0,
        "uptime inside {inside}, host {host_uptime}"
    );
    let link = out.lines().nth(1).unwrap().split_once(' ').unwrap().1;
    assert_ne!(link, host_ns("time"));
}

fn uptime(line: &str) -> f64 {
    line.split_whitespace().next().unwrap().parse().unwrap()
}
