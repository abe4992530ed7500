//! Docker drives the runtime under test unchanged: each test starts its own
//! dockerd (Debian's docker.io 20.10) with `--add-runtime berth=<runtime>`,
//! its own data root, exec root, socket and containerd, no bridge and no
//! iptables, imports a busybox rootfs with `docker import`, and runs
//! `docker run --runtime berth --network none`. With
//! `BERTH_TEST_RUNTIME=runc` the same tests check themselves against runc.

mod common;

use common::*;

/// The Docker CLI of Debian's docker.io (a newer one elsewhere on PATH may
/// not talk to the 20.10 daemon).
const DOCKER_CLI: &str = "/usr/bin/docker";

/// A private dockerd with the busybox image and the runtime under test as
/// runtime `berth`; skips (or fails under CI) when docker.io is missing.
fn dockerd() -> Option<Dockerd> {
    for bin in ["/usr/sbin/dockerd", DOCKER_CLI] {
        if !std::path::Path::new(bin).exists() {
            if root_required_by_env() {
                panic!("{bin} is missing (apt-get install docker.io), and CI asks for every test");
            }
            skipped(&format!("{bin} is missing (docker.io not installed)"));
            return None;
        }
    }
    let rt = runtime();
    let d = Dockerd::start(rt.bin());
    d.import_busybox();
    Some(d)
}

/// `docker run --runtime berth --network none <flags> <image> <argv>`.
fn docker_run(d: &Dockerd, flags: &[&str], argv: &[&str]) -> Output {
    let mut args = vec!["run", "--runtime", "berth", "--network", "none"];
    args.extend_from_slice(flags);
    args.push(DOCKER_BUSYBOX_IMAGE);
    args.extend_from_slice(argv);
    d.docker(&args)
}

/// `docker run -d` of a named container; returns once it is running.
fn run_detached(d: &Dockerd, name: &str, flags: &[&str], argv: &[&str]) {
    let mut all = vec!["-d", "--name", name];
    all.extend_from_slice(flags);
    let out = docker_run(d, &all, argv);
    assert!(out.success(), "docker run -d failed:\n{out}\n{}", d.log());
    wait_for_state(d, name, "running");
}

/// `docker inspect -f <format> <name>`, trimmed.
fn inspect(d: &Dockerd, name: &str, format: &str) -> String {
    d.docker(&["inspect", "-f", format, name])
        .ok()
        .stdout
        .trim()
        .to_owned()
}

#[track_caller]
fn wait_for_state(d: &Dockerd, name: &str, want: &str) {
    let mut last = String::new();
    let reached = wait_until(STATE_TIMEOUT, || {
        last = inspect(d, name, "{{.State.Status}}");
        last == want
    });
    assert!(
        reached,
        "{name} never became {want}; last: {last}\n{}",
        d.log()
    );
}

/// `docker exec <name> sh -c <script>`, which must succeed; its stdout.
fn exec_sh(d: &Dockerd, name: &str, script: &str) -> String {
    d.docker(&["exec", name, "sh", "-c", script]).ok().stdout
}

/// A cgroup file as the container sees it: `v2` under /sys/fs/cgroup on a
/// unified host, else `v1` in the controller's own directory.
fn cgroup_file_script(v2: &str, v1: &str) -> String {
    format!("cat /sys/fs/cgroup/{v2} 2>/dev/null || cat /sys/fs/cgroup/{v1}")
}

#[test]
fn run_gives_output_exit_code_and_default_seccomp() {
    require_root!();
    let Some(d) = dockerd() else { return };
    let out = docker_run(
        &d,
        &["--rm"],
        &[
            "sh",
            "-c",
            "echo out-$(id -u); grep ^Seccomp: /proc/self/status; echo err >&2; exit 7",
        ],
    );
    assert_eq!(out.code(), Some(7), "exit code of the container:\n{out}");
    let lines: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    assert_eq!(lines.first(), Some(&"out-0"), "{out}");
    // Docker's default seccomp profile is in force (mode 2, filter).
    assert!(
        lines.get(1).is_some_and(|l| l.ends_with('2')),
        "seccomp mode:\n{out}"
    );
    assert!(out.stderr.contains("err"), "{out}");
}

#[test]
fn detached_run_exec_and_logs() {
    require_root!();
    let Some(d) = dockerd() else { return };
    let name = unique_id("dk-exec");
    run_detached(&d, &name, &[], &["sh", "-c", "echo started-$$; sleep 1000"]);

    let out = d.docker(&[
        "exec",
        &name,
        "sh",
        "-c",
        "cat /proc/1/cmdline | tr '\\0' ' '; exit 3",
    ]);
    assert_eq!(out.code(), Some(3), "exit code of docker exec:\n{out}");
    assert!(out.stdout.contains("sleep 1000"), "{out}");

    let logs = d.docker(&["logs", &name]).ok();
    assert_eq!(
        logs.stdout.trim(),
        "started-1",
        "the init is pid 1:\n{logs}"
    );
}

#[test]
fn stop_sends_sigterm_and_records_the_exit_code() {
    require_root!();
    let Some(d) = dockerd() else { return };
    let name = unique_id("dk-stop");
    let script = TERM_AWARE_INIT.replace("exit 143", "echo got-term; exit 143");
    run_detached(&d, &name, &[], &["sh", "-c", &script]);
    assert!(
        wait_until(STATE_TIMEOUT, || d
            .docker(&["logs", &name])
            .stdout
            .contains("ready")),
        "init never got ready"
    );
    d.docker(&["stop", "-t", "30", &name]).ok();
    assert_eq!(inspect(&d, &name, "{{.State.Status}}"), "exited");
    assert_eq!(inspect(&d, &name, "{{.State.ExitCode}}"), "143");
    assert!(d.docker(&["logs", &name]).stdout.contains("got-term"));
}

#[test]
fn kill_sends_sigkill() {
    require_root!();
    let Some(d) = dockerd() else { return };
    let name = unique_id("dk-kill");
    run_detached(&d, &name, &[], &["sleep", "1000"]);
    d.docker(&["kill", &name]).ok();
    wait_for_state(&d, &name, "exited");
    assert_eq!(inspect(&d, &name, "{{.State.ExitCode}}"), "137");
}

#[test]
fn pause_and_unpause() {
    require_root!();
    let Some(d) = dockerd() else { return };
    let name = unique_id("dk-pause");
    run_detached(
        &d,
        &name,
        &[],
        &[
            "sh",
            "-c",
            "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done",
        ],
    );
    let full_id = inspect(&d, &name, "{{.Id}}");
    d.docker(&["pause", &name]).ok();
    wait_for_state(&d, &name, "paused");
    let cgroup = format!("{}/{full_id}", d.cgroup_parent());
    let freezer = CgroupParent::file_of(&cgroup, "freezer.state")
        .or_else(|| CgroupParent::file_of(&cgroup, "cgroup.freeze"))
        .unwrap_or_else(|| panic!("no freezer file for {cgroup}"));
    let frozen = std::fs::read_to_string(&freezer).unwrap();
    assert!(
        matches!(frozen.trim(), "FROZEN" | "1"),
        "{}: {frozen}",
        freezer.display()
    );

    d.docker(&["unpause", &name]).ok();
    wait_for_state(&d, &name, "running");
    let read = || {
        exec_sh(&d, &name, "cat /tmp/n")
            .trim()
            .parse::<u64>()
            .unwrap_or(0)
    };
    let first = read();
    assert!(
        wait_until(STATE_TIMEOUT, || read() > first),
        "the counter did not advance after unpause"
    );
}

#[test]
fn limits_are_seen_inside_and_in_stats() {
    require_root!();
    let Some(d) = dockerd() else { return };
    let name = unique_id("dk-limits");
    run_detached(
        &d,
        &name,
        &["--memory", "64m", "--cpus", "0.5", "--pids-limit", "42"],
        &["sleep", "1000"],
    );
    let memory = exec_sh(
        &d,
        &name,
        &cgroup_file_script("memory.max", "memory/memory.limit_in_bytes"),
    );
    assert_eq!(memory.trim(), (64u64 << 20).to_string());
    let pids = exec_sh(&d, &name, &cgroup_file_script("pids.max", "pids/pids.max"));
    assert_eq!(pids.trim(), "42");
    let cpu = exec_sh(
        &d,
        &name,
        "cat /sys/fs/cgroup/cpu.max 2>/dev/null || \
         echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)",
    );
    assert_eq!(cpu.trim(), "50000 100000");

    let stats = d
        .docker(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.MemUsage}}|{{.PIDs}}",
            &name,
        ])
        .ok();
    let (mem, pids) = stats.stdout.trim().split_once('|').expect("stats line");
    assert!(mem.ends_with("/ 64MiB"), "memory usage / limit: {stats}");
    assert_eq!(pids.trim(), "1", "{stats}");
}

#[test]
fn update_changes_limits_of_a_running_container() {
    require_root!();
    let Some(d) = dockerd() else { return };
    let name = unique_id("dk-update");
    run_detached(&d, &name, &["--memory", "64m"], &["sleep", "1000"]);
    // Docker wants the swap limit (by default twice the memory) raised too.
    d.docker(&[
        "update",
        "--memory",
        "96m",
        "--memory-swap",
        "192m",
        "--pids-limit",
        "17",
        "--cpus",
        "1.5",
        &name,
    ])
    .ok();
    let memory = exec_sh(
        &d,
        &name,
        &cgroup_file_script("memory.max", "memory/memory.limit_in_bytes"),
    );
    assert_eq!(memory.trim(), (96u64 << 20).to_string());
    let pids = exec_sh(&d, &name, &cgroup_file_script("pids.max", "pids/pids.max"));
    assert_eq!(pids.trim(), "17");
    let quota = exec_sh(
        &d,
        &name,
        "cut -d' ' -f1 /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us",
    );
    assert_eq!(quota.trim(), "150000");
    assert_eq!(
        inspect(&d, &name, "{{.HostConfig.Memory}}"),
        (96u64 << 20).to_string()
    );
}

#[test]
fn rm_removes_the_container_and_its_cgroup() {
    require_root!();
    let Some(d) = dockerd() else { return };
    let name = unique_id("dk-rm");
    run_detached(&d, &name, &[], &["sleep", "1000"]);
    let cgroup = format!("{}/{}", d.cgroup_parent(), inspect(&d, &name, "{{.Id}}"));
    assert!(
        !CgroupParent::dirs_of(&cgroup).is_empty(),
        "{cgroup} exists while running"
    );

    d.docker(&["rm", "-f", &name]).ok();
    let all = d.docker(&["ps", "-a", "--format", "{{.Names}}"]).ok();
    assert!(!all.stdout.contains(&name), "{all}");
    assert!(
        wait_until(STATE_TIMEOUT, || CgroupParent::dirs_of(&cgroup).is_empty()),
        "cgroup left: {:?}",
        CgroupParent::dirs_of(&cgroup)
    );
}

#[test]
fn cap_drop_removes_capabilities() {
    require_root!();
    let Some(d) = dockerd() else { return };
    let out = docker_run(
        &d,
        &["--rm", "--cap-drop", "CHOWN", "--cap-drop", "NET_RAW"],
        &[
            "sh",
            "-c",
            "grep ^CapEff: /proc/self/status; touch /tmp/f; chown 1 /tmp/f && echo chowned",
        ],
    );
    assert_ne!(
        out.code(),
        Some(0),
        "chown without CAP_CHOWN must fail:\n{out}"
    );
    assert!(!out.stdout.contains("chowned"), "{out}");
    let eff = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(|h| u64::from_str_radix(h.trim(), 16).expect("hex CapEff"))
        .expect("CapEff line");
    const CAP_CHOWN: u64 = 1 << 0;
    const CAP_KILL: u64 = 1 << 5;
    const CAP_NET_RAW: u64 = 1 << 13;
    assert_eq!(eff & (CAP_CHOWN | CAP_NET_RAW), 0, "CapEff {eff:x}");
    // What was not dropped is still there.
    assert_ne!(eff & CAP_KILL, 0, "CapEff {eff:x}");
}

#[test]
fn seccomp_profile_from_a_file() {
    require_root!();
    let Some(d) = dockerd() else { return };
    let profile = d.dir().join("seccomp.json");
    std::fs::write(
        &profile,
        r#"{
  "defaultAction": "SCMP_ACT_ALLOW",
  "syscalls": [
    { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }
  ]
}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let out = docker_run(
        &d,
        &["--rm", "--security-opt", &opt],
        &[
            "sh",
            "-c",
            "mkdir /tmp/x 2>&1; echo mkdir=$?; touch /tmp/y && echo touch-ok",
        ],
    );
    assert!(out.success(), "{out}");
    assert!(out.stdout.contains("Operation not permitted"), "{out}");
    assert!(out.stdout.contains("mkdir=1"), "{out}");
    assert!(
        out.stdout.contains("touch-ok"),
        "other calls are allowed:\n{out}"
    );
}

#[test]
fn dockerd_keeps_its_containerd_and_runtime_state_in_the_temp_dir() {
    require_root!();
    let Some(d) = dockerd() else { return };
    let name = unique_id("dk-layout");
    run_detached(&d, &name, &[], &["sleep", "1000"]);
    let id = inspect(&d, &name, "{{.Id}}");

    // dockerd started its own containerd, configured under the exec root.
    let config = d.dir().join("exec/containerd/containerd.toml");
    let toml = std::fs::read_to_string(&config)
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", config.display(), d.log()));
    let dir = d.dir().to_string_lossy().into_owned();
    for key in ["root", "state"] {
        let line = toml
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{key} =")))
            .unwrap_or_else(|| panic!("no {key} in {toml}"));
        assert!(
            line.contains(&dir),
            "containerd {key} outside {dir}: {line}"
        );
    }

    // The runtime under test holds the container: its own `state`, run
    // against the root dockerd gave it, says running.
    let state_dir = walk(d.dir())
        .into_iter()
        .find(|p| p.ends_with(format!("{id}/state.json")))
        .unwrap_or_else(|| panic!("no runtime state.json for {id} under {dir}"));
    let root = state_dir.parent().and_then(|p| p.parent()).unwrap();
    let state = std::process::Command::new(runtime().bin())
        .arg("--root")
        .arg(root)
        .args(["state", &id])
        .output()
        .expect("run the runtime's state");
    let state: serde_json::Value = serde_json::from_slice(&state.stdout)
        .unwrap_or_else(|e| panic!("state JSON: {e}: {state:?}"));
    assert_eq!(state["status"], "running", "{state}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            out.push(e.path());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(walk(&e.path()));
            }
        }
    }
    out
}
