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

/// A bundle for a container with no namespace of its own: the default
/// config less its namespaces, its hostname and its masked and read-only
/// paths (which need a mount namespace, with runc too). Its rootfs holds a
/// `/marker` the host's root has not.
fn bundle_without_namespaces(rt: &Runtime, keep: &[&str]) -> Bundle {
    let mut b = Bundle::new(rt);
    {
        let mut c = b.config_mut();
        c.as_object_mut().unwrap().remove("hostname");
        let linux = c["linux"].as_object_mut().unwrap();
        linux.remove("maskedPaths");
        linux.remove("readonlyPaths");
        linux.insert(
            "namespaces".into(),
            json!(keep
                .iter()
                .map(|k| json!({ "type": k }))
                .collect::<Vec<_>>()),
        );
    }
    fs::write(b.rootfs().join("marker"), "in-the-rootfs\n").unwrap();
    b
}

/// Mounts of the host at or below the bundle's rootfs (the rootfs itself
/// is a plain directory here).
fn mounts_under(b: &Bundle) -> Vec<String> {
    let rootfs = b.rootfs().to_string_lossy().into_owned();
    mountinfo()
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| p == &rootfs || p.starts_with(&format!("{rootfs}/")))
        .collect()
}

/// The propagation fields (`shared:N`, `master:N`...) of the host's `/`.
fn root_propagation() -> String {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = text
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some("/"))
        .unwrap()
        .to_owned();
    let left = line.split(" - ").next().unwrap();
    left.split(' ').skip(6).collect::<Vec<_>>().join(" ")
}

/// runc (1.1 to 1.4) runs such configs too, but makes the host's `/` rslave
/// (private, on a host where it had no master) and leaves the container's
/// mounts on the host: not something to do to the machine the suite runs on.
const RUNC_CHANGES_THE_HOST: &str =
    "without a mount namespace runc makes the host's / rslave and leaves its mounts behind";

/// The runtime-spec: a namespace not listed is the runtime's own. With none
/// listed at all the container shares every one, still sees only its
/// rootfs (chroot), gets its mounts and read-only root there, and leaves
/// nothing on the host: no mount, no change to the host's propagation.
#[test]
fn with_no_namespaces_listed_every_one_is_the_runtimes() {
    require_root!();
    let rt = runtime();
    if skip_unless_berth(&rt, RUNC_CHANGES_THE_HOST) {
        return;
    }
    let propagation = root_propagation();
    let mut b = bundle_without_namespaces(&rt, &[]);
    let kinds = ["pid", "net", "mnt", "uts", "ipc", "cgroup", "user", "time"];
    b.set_script(&format!(
        "{}; cat /marker; touch /x 2>/dev/null && echo writable || echo read-only; \
         grep -c ' /proc proc ' /proc/self/mounts",
        ns_script(&kinds)
    ));
    let out = rt.run(&b).ok();
    let seen = parse_ns(&out.stdout);
    assert_eq!(seen.len(), kinds.len(), "{out}");
    for (kind, link) in seen {
        assert_eq!(
            link,
            host_ns(&kind),
            "{kind} namespace should be the host's"
        );
    }
    let tail: Vec<&str> = out.stdout.lines().skip(kinds.len()).collect();
    assert_eq!(tail, ["in-the-rootfs", "read-only", "1"], "{out}");
    assert_eq!(mounts_under(&b), Vec::<String>::new(), "mounts left behind");
    assert_eq!(root_propagation(), propagation, "the host's / changed");
    // Read-only was the container's view only.
    fs::write(b.rootfs().join("after"), "x").expect("rootfs writable from the host");
}

/// The runtime's own mount propagation is left as it was: run in a mount
/// namespace whose `/` is shared (this host's is private), `/` is still
/// shared after the container ran, and none of its mounts is left there.
#[test]
fn without_a_mount_namespace_the_runtimes_propagation_is_kept() {
    require_root!();
    let rt = runtime();
    if skip_unless_berth(&rt, RUNC_CHANGES_THE_HOST) {
        return;
    }
    let mut b = bundle_without_namespaces(&rt, &[]);
    b.set_args(&["cat", "/marker"]);
    let script =
        "root() { awk '$5 == \"/\" { line = $0 } END { print line }' /proc/self/mountinfo; }; \
                  root; \"$0\" --root \"$1\" run --bundle \"$2\" \"$3\" || echo run-failed; root; \
                  grep -c \" $4\" /proc/self/mountinfo";
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "shared", "sh", "-c", script])
        .arg(rt.bin())
        .arg(rt.root())
        .arg(b.path())
        .arg(b.id())
        .arg(b.rootfs())
        .output()
        .expect("run unshare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let why = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(lines.len(), 4, "{why}");
    assert!(lines[0].contains(" shared:"), "{why}");
    assert_eq!(lines[1], "in-the-rootfs", "{why}");
    assert_eq!(lines[2], lines[0], "the runtime's / changed: {why}");
    assert_eq!(lines[3], "0", "mounts left under the rootfs: {why}");
}

/// Only some namespaces listed: those are new, the rest the runtime's.
#[test]
fn with_only_a_pid_namespace_the_rest_is_the_runtimes() {
    require_root!();
    let rt = runtime();
    if skip_unless_berth(&rt, RUNC_CHANGES_THE_HOST) {
        return;
    }
    let mut b = bundle_without_namespaces(&rt, &["pid"]);
    b.set_script(&format!("echo $$; {}", ns_script(&["pid", "mnt", "net"])));
    let out = rt.run(&b).ok();
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some("1"), "{out}");
    let seen = parse_ns(&lines.collect::<Vec<_>>().join("\n"));
    assert_eq!(seen.len(), 3, "{out}");
    assert_ne!(seen[0].1, host_ns("pid"));
    assert_eq!(seen[1].1, host_ns("mnt"));
    assert_eq!(seen[2].1, host_ns("net"));
    assert_eq!(mounts_under(&b), Vec::<String>::new(), "mounts left behind");
}

/// `exec` into a container without a mount namespace takes the init's
/// root: the new process sees the container's files, not the host's.
#[test]
fn exec_without_a_mount_namespace_sees_the_containers_root() {
    require_root!();
    let rt = runtime();
    if skip_unless_berth(&rt, RUNC_CHANGES_THE_HOST) {
        return;
    }
    let mut b = bundle_without_namespaces(&rt, &[]);
    b.set_args(&["sleep", "1000"]);
    rt.run_detached(&b).ok();
    assert!(!mounts_under(&b).is_empty(), "no rootfs bind while running");
    let out = rt.exec(b.id(), &["sh", "-c", "cat /marker; pwd"]).ok();
    assert_eq!(out.stdout, "in-the-rootfs\n/\n");
    rt.delete_force(b.id()).ok();
    assert_eq!(mounts_under(&b), Vec::<String>::new(), "mounts left behind");
}

/// What still needs a namespace of the container's own is refused with a
/// clear error, before anything is left on the host.
#[test]
fn without_a_namespace_what_needs_it_is_refused() {
    require_root!();
    let rt = runtime();
    let berth = rt.is_berth();
    type Change = fn(&mut serde_json::Value);
    let mut cases: Vec<(&str, Change, &str)> = vec![
        (
            "maskedPaths",
            |c| c["linux"]["maskedPaths"] = json!(["/proc/kcore"]),
            if berth {
                "linux.maskedPaths needs a mount namespace"
            } else {
                "without a private MNT namespace"
            },
        ),
        (
            "readonlyPaths",
            |c| c["linux"]["readonlyPaths"] = json!(["/proc/sys"]),
            if berth {
                "linux.readonlyPaths needs a mount namespace"
            } else {
                "without a private MNT namespace"
            },
        ),
        (
            "hostname",
            |c| c["hostname"] = json!("box"),
            "unable to set hostname without a private UTS namespace",
        ),
    ];
    if berth {
        cases.push((
            "user namespace",
            |c| {
                c["linux"]["namespaces"] = json!([{ "type": "user" }]);
                let map = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
                c["linux"]["uidMappings"] = map.clone();
                c["linux"]["gidMappings"] = map;
            },
            "a user namespace (its root cannot mount in the runtime's mount namespace) needs a mount namespace",
        ));
        cases.push((
            "shared root",
            |c| c["linux"]["rootfsPropagation"] = json!("rshared"),
            "linux.rootfsPropagation \"rshared\" needs a mount namespace",
        ));
        cases.push((
            "net sysctl",
            |c| c["linux"]["sysctl"] = json!({ "net.ipv4.ip_forward": "1" }),
            "sysctl \"net.ipv4.ip_forward\" is not in a separate kernel namespace",
        ));
    }
    for (what, change, wording) in cases {
        let mut b = bundle_without_namespaces(&rt, &[]);
        change(&mut b.config_mut());
        b.set_args(&["true"]);
        let out = rt.create(&b).failed();
        assert!(error_message(&out).contains(wording), "{what}: {out}");
        assert!(!rt.root().join(b.id()).exists(), "{what}: state dir left");
        assert_eq!(
            mounts_under(&b),
            Vec::<String>::new(),
            "{what}: mounts left"
        );
        assert!(leftover_cgroups(&b).is_empty(), "{what}: cgroup left");
    }
}

/// `net.*` sysctls need a network namespace of the container's own: one
/// joined by a path that is the runtime's own is the host's (as runc).
#[test]
fn net_sysctl_in_the_hosts_network_namespace_joined_by_path_is_refused() {
    require_root!();
    let rt = runtime();
    let forward = fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let mut b = Bundle::new(&rt);
    let own = format!("/proc/{}/ns/net", std::process::id());
    b.set_namespace("network", Some(std::path::Path::new(&own)));
    // The host's current value: harmless if a runtime wrote it.
    b.config_mut()["linux"]["sysctl"] = json!({ "net.ipv4.ip_forward": forward.trim() });
    b.set_args(&["true"]);
    let out = rt.create(&b).failed();
    let msg = error_message(&out);
    assert!(
        msg.contains("net.ipv4.ip_forward")
            && msg.contains("not allowed in")
            && msg.contains("network namespace"),
        "{out}"
    );
    assert!(!rt.root().join(b.id()).exists(), "state dir left");
}

/// Two containers without a mount namespace on one rootfs would stack
/// their rootfs binds (deleting one would take the other's mounts): the
/// second is refused while the first has its bind there.
#[test]
fn two_containers_without_mount_namespaces_cannot_share_a_rootfs() {
    require_root!();
    let rt = runtime();
    if skip_unless_berth(&rt, RUNC_CHANGES_THE_HOST) {
        return;
    }
    let mut first = bundle_without_namespaces(&rt, &[]);
    first.set_args(&["sleep", "1000"]);
    rt.run_detached(&first).ok();
    let mut second = bundle_without_namespaces(&rt, &[]);
    second.config_mut()["root"]["path"] = json!(first.rootfs());
    second.set_args(&["true"]);
    let out = rt.create(&second).failed();
    assert!(
        error_message(&out).contains(&format!("is in use by container {}", first.id())),
        "{out}"
    );
    let out = rt.exec(first.id(), &["cat", "/marker"]).ok();
    assert_eq!(out.stdout, "in-the-rootfs\n");
    rt.delete_force(first.id()).ok();
    assert_eq!(
        mounts_under(&first),
        Vec::<String>::new(),
        "mounts left behind"
    );
    // Once the first is gone, the rootfs is free again.
    rt.run(&second).ok();
    assert_eq!(
        mounts_under(&first),
        Vec::<String>::new(),
        "mounts left behind"
    );
}
