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
