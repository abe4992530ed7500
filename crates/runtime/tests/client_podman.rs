//! Podman (Debian 12's 4.3, with its conmon) runs berth-runtime unchanged:
//! `podman --runtime <berth-runtime>`, with the image made by `podman
//! import` of the busybox rootfs. Each test has a private Podman
//! ([`Podman`]: own storage, state, config, cgroup parent, `--network
//! none`) and checks what the user would see: output, exit codes, states,
//! and the limits in the container's cgroup and inside it.
//!
//! `BERTH_TEST_RUNTIME=runc` runs the same tests with runc as Podman's
//! runtime, which is how they were checked.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;

use common::*;
use serde_json::Value;

/// A private Podman over the runtime under test, or return (SKIPPED) when
/// podman is missing outside CI.
macro_rules! podman {
    () => {{
        require_root!();
        match Podman::start(&runtime()) {
            Some(p) => p,
            None => return,
        }
    }};
}

/// Controller file `v1` (on a v1/hybrid host) or `v2` (pure v2) of a
/// container's cgroup, read from the host.
fn cgroup_file(pm: &Podman, id: &str, v1: &str, v2: &str) -> String {
    let file = if cgroup_v2() { v2 } else { v1 };
    CgroupParent::read_file(&pm.cgroup_of(id), file)
}

/// The same file as the container sees it in its own `/sys/fs/cgroup`
/// (Podman gives it a cgroup namespace on v2; on v1 the runtime binds the
/// container's own cgroup directories there).
fn cgroup_file_inside(pm: &Podman, id: &str, v1: &str, v2: &str) -> String {
    let path = if cgroup_v2() {
        format!("/sys/fs/cgroup/{v2}")
    } else {
        format!("/sys/fs/cgroup/{v1}")
    };
    pm.ok(&["exec", id, "cat", &path]).stdout.trim().to_owned()
}

/// One line of `/proc/<pid>/status` (`Uid`, `CapEff`...), the value only.
fn proc_status(pid: u32, key: &str) -> String {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
        .trim()
        .to_owned()
}

/// A script that prints `ready` once its TERM and USR1 handlers are set,
/// then waits; TERM exits with 7. (pid 1 ignores signals it has no handler
/// for.)
const TRAPS: &str = "trap 'echo got-term; exit 7' TERM; trap 'echo got-usr1' USR1; echo ready; \
     while true; do sleep 1000 & wait $!; done";

/// `run -d` of [`TRAPS`], returning once the handlers are in place.
fn run_with_traps(pm: &Podman, extra: &[&str]) -> String {
    let id = pm.run_detached(extra, TRAPS);
    assert!(
        pm.wait_for_log(&id, "ready", STATE_TIMEOUT),
        "never ready:\n{}",
        pm.logs(&id)
    );
    id
}

#[test]
fn run_prints_the_output_and_returns_the_exit_code() {
    let pm = podman!();
    let out = pm.run(
        &["--rm", "--hostname", "pod-host"],
        &["sh", "-c", "echo hello from $(hostname); exit 3"],
    );
    assert_eq!(out.code(), Some(3), "{out}");
    assert_eq!(out.stdout, "hello from pod-host\n", "{out}");
    // --rm: gone from Podman and from the runtime.
    assert_eq!(pm.ok(&["ps", "--all", "--quiet"]).stdout, "");

    let out = pm.run(&["--rm"], &["sh", "-c", "exit 0"]);
    assert_eq!(out.code(), Some(0), "{out}");
    let out = pm.run(&["--rm"], &["no-such-program"]);
    assert_ne!(out.code(), Some(0), "{out}");
    assert!(out.stderr.contains("no-such-program"), "{out}");
}

#[test]
fn run_with_a_terminal() {
    let pm = podman!();
    let out = pm.run(&["--rm", "-t"], &["sh", "-c", "tty; exit 4"]);
    assert_eq!(out.code(), Some(4), "{out}");
    // Through the pty: CRLF line ends.
    assert_eq!(out.stdout, "/dev/pts/0\r\n", "{out}");
}

#[test]
fn detached_run_exec_and_logs() {
    let pm = podman!();
    let id = pm.run_detached(&[], "echo started; echo to-stderr >&2; sleep 1000 & wait");
    assert!(
        pm.wait_for_log(&id, "to-stderr", STATE_TIMEOUT),
        "{}",
        pm.logs(&id)
    );
    assert_eq!(pm.status(&id), "running");
    let pid = pm.pid(&id);
    assert!(process_alive(pid));
    // The init is in the container's own pid namespace and cgroup.
    assert_ne!(pid_ns(pid, "pid"), host_ns("pid"));
    assert!(CgroupParent::procs_of(&pm.cgroup_of(&id)).contains(&pid));

    let out = pm.cmd(&[
        "exec",
        &id,
        "sh",
        "-c",
        "echo in exec; cat /proc/1/cmdline | tr '\\0' ' '; echo; exit 5",
    ]);
    assert_eq!(out.code(), Some(5), "{out}");
    assert_eq!(
        out.stdout,
        "in exec\nsh -c echo started; echo to-stderr >&2; sleep 1000 & wait \n"
    );
    let out = pm.ok(&[
        "exec",
        "--user",
        "1000",
        "--workdir",
        "/tmp",
        "--env",
        "FOO=bar",
        &id,
        "sh",
        "-c",
        "echo $(id -u) $PWD $FOO",
    ]);
    assert_eq!(out.stdout, "1000 /tmp bar\n");
    // An exec joins the container's cgroup too (the same line as pid 1's
    // on v1's full paths and in v2's cgroup namespace alike).
    let out = pm.ok(&["exec", &id, "cat", "/proc/self/cgroup", "/proc/1/cgroup"]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let (own, init) = lines.split_at(lines.len() / 2);
    assert!(!own.is_empty() && own == init, "{out}");

    let out = pm.ok(&["logs", &id]);
    assert_eq!(out.stdout, "started\n");
    assert_eq!(out.stderr, "to-stderr\n");
}

#[test]
fn stop_delivers_term_and_records_the_exit_code() {
    let pm = podman!();
    let id = run_with_traps(&pm, &[]);
    let pid = pm.pid(&id);
    pm.ok(&["stop", "--time", "30", &id]);
    let state = &pm.inspect(&id)["State"];
    assert_eq!(state["Status"], "exited", "{state}");
    // 7 comes from the TERM handler: not a SIGKILL after the timeout.
    assert_eq!(state["ExitCode"], 7, "{state}");
    assert!(pm.logs(&id).contains("got-term"));
    assert!(!process_alive(pid));
    // Stopped, the runtime has forgotten it (Podman deletes it on exit).
    assert!(!pm.runtime_state_dir(&id).exists());
    // And it starts again.
    pm.ok(&["start", &id]);
    assert_eq!(pm.status(&id), "running");
}

#[test]
fn kill_sends_the_signal_given() {
    let pm = podman!();
    let id = run_with_traps(&pm, &[]);
    pm.ok(&["kill", "--signal", "USR1", &id]);
    assert!(
        pm.wait_for_log(&id, "got-usr1", STATE_TIMEOUT),
        "{}",
        pm.logs(&id)
    );
    assert_eq!(pm.status(&id), "running");

    pm.ok(&["kill", &id]); // SIGKILL, Podman's default
    pm.ok(&["wait", &id]);
    let state = &pm.inspect(&id)["State"];
    assert_eq!(state["Status"], "exited", "{state}");
    assert_eq!(state["ExitCode"], 137, "{state}");
}

#[test]
fn pause_freezes_and_unpause_thaws() {
    let pm = podman!();
    let out_dir = pm.host_dir("counter");
    let vol = format!("{}:/out", out_dir.display());
    let id = pm.run_detached(
        &["-v", &vol],
        "i=0; while true; do i=$((i+1)); echo $i > /out/n; sleep 0.05; done",
    );
    let count = || fs::read_to_string(out_dir.join("n")).unwrap_or_default();
    assert!(wait_until(STATE_TIMEOUT, || !count().is_empty()));

    pm.ok(&["pause", &id]);
    assert_eq!(pm.status(&id), "paused");
    if cgroup_v2() {
        assert_eq!(cgroup_file(&pm, &id, "", "cgroup.freeze"), "1");
    } else {
        assert_eq!(cgroup_file(&pm, &id, "freezer.state", ""), "FROZEN");
    }
    let frozen = count();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(count(), frozen, "the counter moved while paused");

    pm.ok(&["unpause", &id]);
    assert_eq!(pm.status(&id), "running");
    assert!(
        wait_until(STATE_TIMEOUT, || count() != frozen),
        "the counter never moved again"
    );
    pm.ok(&["exec", &id, "true"]);
}

#[test]
fn stats_reports_the_containers_numbers() {
    let pm = podman!();
    let id = pm.run_detached(&["--memory", "64m"], "echo ready; sleep 1000 & wait");
    assert!(pm.wait_for_log(&id, "ready", STATE_TIMEOUT));
    let out = pm.ok(&["stats", "--no-stream", "--format", "json", &id]);
    let stats: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"));
    let s = &stats[0];
    assert_eq!(s["id"].as_str().unwrap(), &id[..12], "{s}");
    // sh and its sleep.
    assert_eq!(s["pids"], "2", "{s}");
    let (usage, limit) = s["mem_usage"].as_str().unwrap().split_once(" / ").unwrap();
    assert_eq!(limit, "67.11MB", "{s}"); // 64 MiB in Podman's decimal units
    assert!(!usage.starts_with("0B") && usage.ends_with('B'), "{s}");
    let cpu = s["cpu_time"].as_str().unwrap();
    assert!(cpu != "0s" && cpu.ends_with('s'), "{s}");
}

#[test]
fn update_changes_the_limits_in_the_cgroup() {
    let pm = podman!();
    let id = pm.run_detached(&["--memory", "64m", "--cpus", "1"], "sleep 1000 & wait");
    assert_eq!(
        cgroup_file(&pm, &id, "memory.limit_in_bytes", "memory.max"),
        "67108864"
    );
    pm.ok(&["update", "--memory", "96m", "--cpus", "0.5", &id]);
    assert_eq!(
        cgroup_file(&pm, &id, "memory.limit_in_bytes", "memory.max"),
        "100663296"
    );
    assert_eq!(
        cgroup_file_inside(&pm, &id, "memory/memory.limit_in_bytes", "memory.max"),
        "100663296"
    );
    if cgroup_v2() {
        assert_eq!(cgroup_file(&pm, &id, "", "cpu.max"), "50000 100000");
    } else {
        assert_eq!(cgroup_file(&pm, &id, "cpu.cfs_quota_us", ""), "50000");
        assert_eq!(cgroup_file(&pm, &id, "cpu.cfs_period_us", ""), "100000");
    }
    assert_eq!(pm.status(&id), "running");
}

#[test]
fn rm_removes_the_container_everywhere() {
    let pm = podman!();
    let id = pm.run_detached(&[], "sleep 1000 & wait");
    let pid = pm.pid(&id);
    let cgroup = pm.cgroup_of(&id);
    assert!(!CgroupParent::dirs_of(&cgroup).is_empty());
    assert!(pm.runtime_state_dir(&id).exists());
    assert!(
        pm.mounts().iter().any(|m| m.ends_with("/merged")),
        "{:?}",
        pm.mounts()
    );

    pm.ok(&["rm", "--force", "--time", "0", &id]);
    assert_eq!(pm.ok(&["ps", "--all", "--quiet"]).stdout, "");
    assert!(!process_alive(pid));
    assert!(
        !pm.runtime_state_dir(&id).exists(),
        "the runtime kept its state"
    );
    assert_eq!(
        CgroupParent::dirs_of(&cgroup),
        Vec::<std::path::PathBuf>::new()
    );
    assert!(
        !pm.mounts().iter().any(|m| m.ends_with("/merged")),
        "{:?}",
        pm.mounts()
    );
    assert!(!pm.cmd(&["inspect", &id]).success());
}

#[test]
fn uid_mapping_shifts_the_container_users() {
    let pm = podman!();
    let vol_dir = pm.host_dir("vol");
    nix::unistd::chown(&vol_dir, Some(100000.into()), Some(100000.into())).unwrap();
    let vol = format!("{}:/vol", vol_dir.display());
    let id = pm.run_detached(
        &["--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536", "-v", &vol],
        "cat /proc/self/uid_map > /vol/map; id -u > /vol/id; touch /vol/made; echo ready; sleep 1000 & wait",
    );
    assert!(
        pm.wait_for_log(&id, "ready", STATE_TIMEOUT),
        "{}",
        pm.logs(&id)
    );
    let map: Vec<String> = fs::read_to_string(vol_dir.join("map"))
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(map, ["0", "100000", "65536"]);
    assert_eq!(fs::read_to_string(vol_dir.join("id")).unwrap(), "0\n");
    // Root inside is 100000 on the host: for its files and its processes.
    let made = fs::metadata(vol_dir.join("made")).unwrap();
    assert_eq!((made.uid(), made.gid()), (100000, 100000));
    let pid = pm.pid(&id);
    assert!(
        proc_status(pid, "Uid").starts_with("100000\t"),
        "{}",
        proc_status(pid, "Uid")
    );
    assert_ne!(pid_ns(pid, "user"), host_ns("user"));
}

/// Podman's `-v src:dst:idmap` hands the runtime a bind mount with the
/// `idmap` option and no mappings: the container's own are used, so the
/// host root's files are root's inside and root's writes are root's.
#[test]
fn volume_with_idmap_keeps_host_ownership() {
    if skip_unless_berth(&runtime(), "runc 1.1 has no idmapped mounts") {
        return;
    }
    let pm = podman!();
    let vol_dir = pm.host_dir("vol");
    fs::write(vol_dir.join("host-file"), "").unwrap();
    let vol = format!("{}:/vol:idmap", vol_dir.display());
    let out = pm.run(
        &[
            "--rm",
            "--uidmap",
            "0:100000:65536",
            "--gidmap",
            "0:100000:65536",
            "-v",
            &vol,
        ],
        &[
            "sh",
            "-c",
            "stat -c '%u %g' /vol/host-file; touch /vol/made",
        ],
    );
    // Where the kernel cannot idmap the temp dir (tmpfs before 6.3), the
    // refusal reaches Podman's user.
    if !idmapped_mounts_supported(&vol_dir) {
        assert!(
            !feature_required("idmap"),
            "the kernel cannot idmap {}",
            vol_dir.display()
        );
        let out = out.failed();
        assert!(
            out.stderr.contains("does not support idmapped mounts"),
            "{out}"
        );
        return;
    }
    let out = out.ok();
    assert_eq!(out.stdout, "0 0\n", "{out}");
    let made = fs::metadata(vol_dir.join("made")).unwrap();
    assert_eq!((made.uid(), made.gid()), (0, 0));
}

#[test]
fn cap_drop_and_cap_add_set_the_capabilities() {
    let pm = podman!();
    let out = pm
        .run(
            &[
                "--rm",
                "--cap-drop",
                "all",
                "--cap-add",
                "CHOWN",
                "--cap-add",
                "KILL",
            ],
            &["grep", "^Cap", "/proc/self/status"],
        )
        .ok();
    // CAP_CHOWN is bit 0, CAP_KILL bit 5.
    assert_eq!(
        out.stdout,
        "CapInh:\t0000000000000000\nCapPrm:\t0000000000000021\nCapEff:\t0000000000000021\n\
         CapBnd:\t0000000000000021\nCapAmb:\t0000000000000000\n"
    );
    let chown =
        "touch /tmp/f; if chown 1000 /tmp/f 2>/dev/null; then echo chowned; else echo refused; fi";
    assert_eq!(
        pm.run(&["--rm"], &["sh", "-c", chown]).ok().stdout,
        "chowned\n"
    );
    assert_eq!(
        pm.run(&["--rm", "--cap-drop", "CHOWN"], &["sh", "-c", chown])
            .ok()
            .stdout,
        "refused\n"
    );
}

#[test]
fn seccomp_profile_denies_with_its_errno() {
    let pm = podman!();
    let profile = pm.host_dir("seccomp").join("deny-mkdir.json");
    // ENOLINK (67): an errno nothing else would produce here.
    fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":67}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let script = "mkdir /tmp/d; echo mkdir=$?; grep '^Seccomp:' /proc/self/status";
    let out = pm
        .run(&["--rm", "--security-opt", &opt], &["sh", "-c", script])
        .ok();
    assert_eq!(out.stdout, "mkdir=1\nSeccomp:\t2\n", "{out}");
    assert!(out.stderr.contains("Link has been severed"), "{out}");
    // Podman's default profile allows it.
    let out = pm.run(&["--rm"], &["sh", "-c", script]).ok();
    assert_eq!(out.stdout, "mkdir=0\nSeccomp:\t2\n", "{out}");
}

#[test]
fn memory_limit_is_in_the_containers_cgroup() {
    let pm = podman!();
    let id = pm.run_detached(&["--memory", "48m"], "sleep 1000 & wait");
    assert_eq!(
        cgroup_file(&pm, &id, "memory.limit_in_bytes", "memory.max"),
        "50331648"
    );
    assert_eq!(
        cgroup_file_inside(&pm, &id, "memory/memory.limit_in_bytes", "memory.max"),
        "50331648"
    );
}

#[test]
fn cpus_become_a_cfs_quota() {
    let pm = podman!();
    let id = pm.run_detached(&["--cpus", "0.25"], "sleep 1000 & wait");
    if cgroup_v2() {
        assert_eq!(cgroup_file(&pm, &id, "", "cpu.max"), "25000 100000");
    } else {
        assert_eq!(cgroup_file(&pm, &id, "cpu.cfs_quota_us", ""), "25000");
        assert_eq!(cgroup_file(&pm, &id, "cpu.cfs_period_us", ""), "100000");
    }
}

#[test]
fn pids_limit_caps_the_processes() {
    let pm = podman!();
    // A child shell forks sleeps until fork fails (ash then gives up);
    // pid 1 reports and starts one more sleep in the pid it freed.
    let id = pm.run_detached(
        &["--pids-limit", "12"],
        "sh -c 'for i in $(seq 30); do sleep 1000 & done'; echo spawned; sleep 1000 & wait",
    );
    assert!(
        pm.wait_for_log(&id, "spawned", STATE_TIMEOUT),
        "{}",
        pm.logs(&id)
    );
    assert!(pm.logs(&id).contains("can't fork"), "{}", pm.logs(&id));
    assert_eq!(cgroup_file(&pm, &id, "pids.max", "pids.max"), "12");
    // The limit is reached: pid 1, 10 sleeps of the child shell, 1 of pid 1.
    assert_eq!(cgroup_file(&pm, &id, "pids.current", "pids.current"), "12");
    assert_eq!(CgroupParent::procs_of(&pm.cgroup_of(&id)).len(), 12);
}

#[test]
fn tmpfs_and_read_only_root() {
    let pm = podman!();
    // Podman mounts --tmpfs with "tmpcopyup": /etc keeps the image's files.
    let script = "grep -c '^root:' /etc/passwd; grep ' /etc ' /proc/mounts | cut -d' ' -f3; \
                  echo new > /etc/new && cat /etc/new";
    let out = pm
        .run(&["--rm", "--tmpfs", "/etc"], &["sh", "-c", script])
        .ok();
    assert_eq!(out.stdout, "1\ntmpfs\nnew\n", "{out}");
    let out = pm
        .run(&["--rm"], &["sh", "-c", "test -e /etc/new; echo $?"])
        .ok();
    assert_eq!(out.stdout, "1\n", "a tmpfs write reached the image");

    // --read-only: a read-only root with writable tmpfs /tmp, /run, /var/tmp.
    let script =
        "touch /x 2>/dev/null; echo root=$?; touch /tmp/x /run/x /var/tmp/x; echo tmpfs=$?";
    let out = pm.run(&["--rm", "--read-only"], &["sh", "-c", script]).ok();
    assert_eq!(out.stdout, "root=1\ntmpfs=0\n", "{out}");
}
