//! The container process: user and groups, cwd, env, capabilities,
//! no_new_privs, rlimits, oom_score_adj, sysctls.

mod common;

use common::*;
use serde_json::json;

/// The `<field>:` line of /proc/self/status printed by `script` output.
fn status_field<'a>(out: &'a str, field: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in:\n{out}"))
        .trim()
}

#[test]
fn default_capabilities_and_no_new_privs() {
    require_root!();
    let rt = runtime();
    let out = run_script(&rt, "cat /proc/self/status");
    // CAP_KILL (5), CAP_NET_BIND_SERVICE (10), CAP_AUDIT_WRITE (29).
    let want = format!("{:016x}", (1u64 << 5) | (1 << 10) | (1 << 29));
    for field in ["CapPrm", "CapEff", "CapBnd"] {
        assert_eq!(status_field(&out, field), want, "{field}");
    }
    // The spec lists no inheritable set, and the kernel only raises an
    // ambient capability that is also inheritable: runc ignores the
    // failure and both sets stay empty.
    for field in ["CapInh", "CapAmb"] {
        assert_eq!(status_field(&out, field), "0000000000000000", "{field}");
    }
    assert_eq!(status_field(&out, "NoNewPrivs"), "1");
}

#[test]
fn added_capability_takes_effect() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    for set in ["bounding", "effective", "permitted"] {
        b.config_mut()["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_SYS_ADMIN"));
    }
    b.set_readonly_root(false);
    b.set_script("mkdir -p /m && mount -t tmpfs none /m && echo mounted");
    assert_eq!(rt.run(&b).ok().stdout, "mounted\n");

    let mut denied = Bundle::new(&rt);
    denied.set_readonly_root(false);
    denied.set_script(
        "mkdir -p /m; mount -t tmpfs none /m 2>/dev/null && echo mounted || echo refused",
    );
    assert_eq!(rt.run(&denied).ok().stdout, "refused\n");
}

#[test]
fn user_groups_and_cwd() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.config_mut()["process"]["user"] =
        json!({ "uid": 1000, "gid": 1000, "additionalGids": [65534] });
    b.config_mut()["process"]["cwd"] = json!("/home/user");
    b.set_script("id -u; id -g; id -G; pwd; echo $HOME");
    let out = rt.run(&b).ok().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..4],
        ["1000", "1000", "1000 65534", "/home/user"],
        "{out}"
    );
}

#[test]
fn env_is_exactly_the_config() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.add_env("GREETING", "hello world");
    b.set_script("echo \"$GREETING\"; echo $TERM; echo $PATH");
    let out = rt.run(&b).ok().stdout;
    assert_eq!(
        out,
        "hello world\nxterm\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
    );
}

#[test]
fn rlimits_are_applied() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.config_mut()["process"]["rlimits"] = json!([
        { "type": "RLIMIT_NOFILE", "hard": 2048, "soft": 512 },
        { "type": "RLIMIT_NPROC", "hard": 300, "soft": 300 }
    ]);
    b.set_script("ulimit -n; ulimit -Hn; ulimit -u");
    assert_eq!(rt.run(&b).ok().stdout, "512\n2048\n300\n");
}

#[test]
fn oom_score_adj_is_applied() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.config_mut()["process"]["oomScoreAdj"] = json!(500);
    b.set_script("cat /proc/self/oom_score_adj");
    assert_eq!(rt.run(&b).ok().stdout, "500\n");
}

#[test]
fn sysctls_are_applied_in_the_container_only() {
    require_root!();
    let rt = runtime();
    let host = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap();
    let mut b = Bundle::new(&rt);
    b.config_mut()["linux"]["sysctl"] = json!({ "net.ipv4.ip_unprivileged_port_start": "80" });
    b.set_script("cat /proc/sys/net/ipv4/ip_unprivileged_port_start");
    assert_eq!(rt.run(&b).ok().stdout, "80\n");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap(),
        host
    );
}

#[test]
fn stdio_is_passed_through() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_script("echo to-out; echo to-err >&2; cat");
    let out = rt
        .cmd(&["run", "--bundle", b.path().to_str().unwrap(), b.id()])
        .ok();
    assert_eq!(out.stdout, "to-out\n");
    assert!(out.stderr.contains("to-err\n"), "{out}");
}

/// The init's host pid, from `state`.
fn init_pid(rt: &Runtime, id: &str) -> i32 {
    rt.state(id)["pid"].as_i64().expect("state has a pid") as i32
}

/// Field `n` (1-based, as in proc(5)) of /proc/<pid>/stat.
fn stat_field(pid: i32, n: usize) -> i64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name (field 2) may hold spaces: count from its ')'.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split_whitespace().nth(n - 3).unwrap().parse().unwrap()
}

/// process.ioPriority: the kernel reports the class and level for the
/// container's process (ioprio_get from the host, busybox has no ionice).
#[test]
fn io_priority_is_applied() {
    require_root!();
    let rt = runtime();
    if skip_unless_berth(&rt, "process.ioPriority is runc 1.2's") {
        return;
    }
    let mut b = Bundle::new(&rt);
    b.config_mut()["process"]["ioPriority"] = json!({ "class": "IOPRIO_CLASS_BE", "priority": 6 });
    run_term_aware(&rt, &mut b);
    let pid = init_pid(&rt, b.id());
    // IOPRIO_CLASS_BE is 2.
    assert_eq!(berth_sys::io_priority_of(pid).unwrap(), (2, 6));

    let mut idle = Bundle::new(&rt);
    idle.config_mut()["process"]["ioPriority"] =
        json!({ "class": "IOPRIO_CLASS_IDLE", "priority": 0 });
    run_term_aware(&rt, &mut idle);
    let pid = init_pid(&rt, idle.id());
    assert_eq!(berth_sys::io_priority_of(pid).unwrap().0, 3);
}

/// process.scheduler: policy and nice as /proc/<pid>/stat shows them.
#[test]
fn scheduler_is_applied() {
    require_root!();
    let rt = runtime();
    if skip_unless_berth(&rt, "process.scheduler is runc 1.2's") {
        return;
    }
    let mut b = Bundle::new(&rt);
    b.config_mut()["process"]["scheduler"] = json!({ "policy": "SCHED_BATCH", "nice": 7 });
    run_term_aware(&rt, &mut b);
    let pid = init_pid(&rt, b.id());
    // Field 19 is nice, 41 the policy (SCHED_BATCH is 3).
    assert_eq!(stat_field(pid, 19), 7);
    assert_eq!(stat_field(pid, 41), 3);
    // Children inherit it, as the spec's process would.
    let out = rt
        .exec(b.id(), &["sh", "-c", "cut -d' ' -f19 /proc/self/stat"])
        .ok();
    assert_eq!(out.stdout.trim(), "7", "{out}");
}

/// linux.personality LINUX32: `uname -m` reports a 32-bit machine.
#[cfg(target_arch = "x86_64")]
#[test]
fn personality_linux32_changes_uname() {
    require_root!();
    let rt = runtime();
    if skip_unless_berth(&rt, "runc 1.1 ignores linux.personality") {
        return;
    }
    let mut b = Bundle::new(&rt);
    b.config_mut()["linux"]["personality"] = json!({ "domain": "LINUX32" });
    b.set_script("uname -m");
    assert_eq!(rt.run(&b).ok().stdout, "i686\n");

    let mut plain = Bundle::new(&rt);
    plain.config_mut()["linux"]["personality"] = json!({ "domain": "LINUX" });
    plain.set_script("uname -m");
    assert_eq!(rt.run(&plain).ok().stdout, "x86_64\n");
}
