//! Resources and live operations end to end as root: the resource flags of
//! `run` (limits seen inside the container and in its cgroup files, on v1
//! and v2), bad values (Docker's words, 125, nothing left), `update` of a
//! running container (kept across a restart), `stats` and `top`,
//! `pause`/`unpause` (and `kill`/`stop` of a paused container), and
//! `OOMKilled`. The key tests run with berth-runtime, runc and crun.

mod common;

use std::time::{Duration, Instant};

use berth_testutil::{cgroup_v2, require_root, CgroupParent};
use common::engine::{name, Engine};
use serde_json::Value;

/// An engine for `runtime`, or None (after a SKIPPED line) when that
/// runtime is not installed.
fn engine(runtime: &'static str) -> Option<Engine> {
    if runtime != "berth" && !common::have_tool(runtime) {
        return None;
    }
    Some(Engine::new(runtime))
}

/// Runs a scenario with each runtime: berth-runtime, runc and crun.
macro_rules! with_runtimes {
    ($scenario:ident: $berth:ident, $runc:ident, $crun:ident) => {
        #[test]
        fn $berth() {
            require_root!();
            $scenario("berth");
        }

        #[test]
        fn $runc() {
            require_root!();
            $scenario("runc");
        }

        #[test]
        fn $crun() {
            require_root!();
            $scenario("crun");
        }
    };
}

fn cgroup_of(e: &Engine, id: &str) -> String {
    e.cgroups.path_for(id)
}

fn read(e: &Engine, id: &str, v1: &str, v2: &str) -> String {
    let file = if cgroup_v2() { v2 } else { v1 };
    CgroupParent::read_file(&cgroup_of(e, id), file)
}

/// Whether the kernel accounts swap for cgroups (the swap files exist).
fn swap_accounted(e: &Engine, id: &str) -> bool {
    let file = if cgroup_v2() {
        "memory.swap.max"
    } else {
        "memory.memsw.limit_in_bytes"
    };
    CgroupParent::file_of(&cgroup_of(e, id), file).is_some()
}

const MIB: u64 = 1024 * 1024;

fn limits_inside_and_in_cgroup(runtime: &'static str) {
    let Some(e) = engine(runtime) else { return };
    let n = name("lim");
    let id = e
        .ok(&[
            "run",
            "-d",
            "--name",
            &n,
            "-m",
            "64m",
            "--memory-reservation",
            "32m",
            "--cpus",
            "0.5",
            "--cpu-shares",
            "512",
            "--pids-limit",
            "20",
            "--cpuset-cpus",
            "0",
            "bb:1",
            "sleep",
            "1000",
        ])
        .trim()
        .to_owned();
    assert_eq!(
        read(&e, &id, "memory.limit_in_bytes", "memory.max"),
        (64 * MIB).to_string()
    );
    assert_eq!(
        read(&e, &id, "memory.soft_limit_in_bytes", "memory.low"),
        (32 * MIB).to_string()
    );
    if swap_accounted(&e, &id) {
        // Docker's default: swap as large as the memory (memory+swap twice it).
        let expected = if cgroup_v2() { 64 * MIB } else { 128 * MIB };
        assert_eq!(
            read(&e, &id, "memory.memsw.limit_in_bytes", "memory.swap.max"),
            expected.to_string()
        );
    }
    if cgroup_v2() {
        assert_eq!(read(&e, &id, "", "cpu.max"), "50000 100000");
    } else {
        assert_eq!(read(&e, &id, "cpu.cfs_quota_us", ""), "50000");
        assert_eq!(read(&e, &id, "cpu.cfs_period_us", ""), "100000");
        assert_eq!(read(&e, &id, "cpu.shares", ""), "512");
    }
    assert_eq!(read(&e, &id, "pids.max", "pids.max"), "20");
    assert_eq!(read(&e, &id, "cpuset.cpus", "cpuset.cpus"), "0");

    let v = e.inspect(&n);
    assert_eq!(v["HostConfig"]["Memory"], 64 * MIB);
    assert_eq!(v["HostConfig"]["MemorySwap"], 128 * MIB);
    assert_eq!(v["HostConfig"]["NanoCpus"], 500_000_000);
    assert_eq!(v["HostConfig"]["PidsLimit"], 20);

    // Inside: the memory limit in the container's own cgroup view and the
    // CPU set.
    let out = e.ok(&[
        "run", "--rm", "-m", "48m", "--cpuset-cpus", "0", "bb:1", "sh", "-c",
        "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; \
         grep Cpus_allowed_list /proc/self/status",
    ]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some((48 * MIB).to_string().as_str()), "{out}");
    assert_eq!(
        lines
            .next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["Cpus_allowed_list:", "0"]),
        "{out}"
    );
    // sh and two sleeps fit in a pids limit of 3; the third sleep's fork
    // fails, and sh gives up (exit 2) before "after".
    let out = e.run(&[
        "run",
        "--rm",
        "--pids-limit",
        "3",
        "bb:1",
        "sh",
        "-c",
        "sleep 5 & sleep 5 & sleep 5 & echo after",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("can't fork: Resource temporarily unavailable"),
        "{err}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    e.ok(&["rm", "-f", &n]);
}
with_runtimes!(limits_inside_and_in_cgroup: limits_berth, limits_runc, limits_crun);

#[test]
fn bad_values_in_dockers_words_leave_nothing() {
    require_root!();
    let e = Engine::new("berth");
    let cases: &[(&[&str], &str)] = &[
        (&["--memory", "12qq"], "invalid argument \"12qq\" for \"-m, --memory\" flag: invalid size: '12qq'"),
        (&["-m", "1m"], "Minimum memory limit allowed is 6MB"),
        (&["--memory-swap", "1g"], "You should always set the Memory limit when using Memoryswap limit, see usage"),
        (&["-m", "64m", "--memory-swap", "32m"], "Minimum memoryswap limit should be larger than memory limit, see usage"),
        (&["-m", "32m", "--memory-reservation", "64m"], "Minimum memory limit can not be less than memory reservation limit, see usage"),
        (&["--cpus", "1", "--cpu-quota", "50000"], "Conflicting options: Nano CPUs and CPU Quota cannot both be set"),
        (&["--cpus", "1", "--cpu-period", "50000"], "Conflicting options: Nano CPUs and CPU Period cannot both be set"),
        (&["--cpus", "abc"], "invalid argument \"abc\" for \"--cpus\" flag: failed to parse abc as a rational number"),
        (&["--cpus", "1000"], "Range of CPUs is from 0.01 to"),
        (&["--cpu-period", "10"], "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"),
        (&["--cpu-shares", "x"], "invalid argument \"x\" for \"-c, --cpu-shares\" flag: strconv.ParseInt: parsing \"x\": invalid syntax"),
        (&["--cpuset-cpus", "0-x"], "Invalid value 0-x for cpuset cpus"),
        (&["--cpuset-cpus", "999"], "Requested CPUs are not available - requested 999, available:"),
        (&["--blkio-weight", "5"], "Range of blkio weight is from 10 to 1000"),
        (&["--device-read-bps", "sda:1mb"], "bad format for device path: sda:1mb"),
        (&["--device-write-bps", "/dev/no-such-disk:1mb"], "stat /dev/no-such-disk"),
        (&["--pids-limit", "many"], "invalid argument \"many\" for \"--pids-limit\" flag"),
    ];
    for (flags, message) in cases {
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
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    let containers = e.berth.root.join("containers");
    let left: Vec<_> = std::fs::read_dir(&containers)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    assert!(CgroupParent::dirs_of(&e.cgroups.path()).is_empty());
    assert!(e.mounts_under_root().is_empty());
}

/// crun's version is older than 1.13 (`crun --version`: "crun version 1.8.1").
fn crun_before_1_13() -> bool {
    let out = std::process::Command::new("crun")
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text
        .lines()
        .find_map(|l| l.strip_prefix("crun version "))
        .unwrap_or_else(|| panic!("crun --version: {text}"));
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) < (1, 13)
}

fn update_changes_live_limits(runtime: &'static str) {
    let Some(e) = engine(runtime) else { return };
    let n = name("upd");
    let id = e
        .ok(&[
            "run",
            "-d",
            "--name",
            &n,
            "-m",
            "64m",
            "--pids-limit",
            "20",
            "bb:1",
            "sleep",
            "1000",
        ])
        .trim()
        .to_owned();
    assert_eq!(
        e.ok(&[
            "update",
            "-m",
            "96m",
            "--memory-swap",
            "192m",
            "--pids-limit",
            "30",
            "--cpu-shares",
            "256",
            &n
        ]),
        format!("{n}\n")
    );
    assert_eq!(
        read(&e, &id, "memory.limit_in_bytes", "memory.max"),
        (96 * MIB).to_string()
    );
    assert_eq!(read(&e, &id, "pids.max", "pids.max"), "30");
    if !cgroup_v2() {
        assert_eq!(read(&e, &id, "cpu.shares", ""), "256");
    }
    // Docker's merge rule: more memory than the recorded swap needs the
    // swap too; the refusal changes nothing.
    let out = e.run(&["update", "-m", "512m", &n]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("Cannot update container {id}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time")),
        "{err}"
    );
    assert_eq!(
        read(&e, &id, "memory.limit_in_bytes", "memory.max"),
        (96 * MIB).to_string()
    );
    let v = e.inspect(&n);
    assert_eq!(v["HostConfig"]["Memory"], 96 * MIB);
    assert_eq!(v["HostConfig"]["MemorySwap"], 192 * MIB);
    assert_eq!(v["HostConfig"]["PidsLimit"], 30);
    assert_eq!(v["HostConfig"]["CpuShares"], 256);
    // Unlimited pids (-1 in the OCI request, as Docker sends it), then a
    // restart keeps what was updated. crun before 1.13 writes -1 literally
    // into a v1 pids.max (the kernel refuses it; it spells "max" only on
    // v2), and no other value means "max" to it (0 is "no change" to crun
    // and runc alike): the update fails and leaves the record as it was.
    let pids = if e.runtime == "crun" && !cgroup_v2() && crun_before_1_13() {
        let out = e.run(&["update", "--pids-limit", "-1", &n]);
        assert_eq!(out.status.code(), Some(125));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("Cannot update container {id}: crun update failed")),
            "{err}"
        );
        assert_eq!(e.inspect(&n)["HostConfig"]["PidsLimit"], 30);
        "30"
    } else {
        e.ok(&["update", "--pids-limit", "-1", &n]);
        assert_eq!(e.inspect(&n)["HostConfig"]["PidsLimit"], Value::Null);
        "max"
    };
    assert_eq!(read(&e, &id, "pids.max", "pids.max"), pids);
    e.ok(&["stop", "-t", "0", &n]);
    e.ok(&["start", &n]);
    assert_eq!(
        read(&e, &id, "memory.limit_in_bytes", "memory.max"),
        (96 * MIB).to_string()
    );
    assert_eq!(read(&e, &id, "pids.max", "pids.max"), pids);
    // A stopped container's update is recorded for its next start.
    e.ok(&["stop", "-t", "0", &n]);
    e.ok(&["update", "--memory-reservation", "16m", &n]);
    e.ok(&["start", &n]);
    assert_eq!(
        read(&e, &id, "memory.soft_limit_in_bytes", "memory.low"),
        (16 * MIB).to_string()
    );
    // No flags: Docker's refusal.
    let out = e.run(&["update", &n]);
    assert_eq!(out.status.code(), Some(125));
    e.ok(&["rm", "-f", &n]);
}
with_runtimes!(update_changes_live_limits: update_berth, update_runc, update_crun);

fn stats_json(e: &Engine, n: &str) -> Value {
    let out = e.ok(&["stats", "--no-stream", "--format", "{{json .}}", n]);
    serde_json::from_str(out.trim()).unwrap_or_else(|err| panic!("{err}: {out}"))
}

fn percent(v: &Value) -> f64 {
    v.as_str().unwrap().trim_end_matches('%').parse().unwrap()
}

/// The container's processes as `top` lists them (header excluded).
fn top_rows(e: &Engine, n: &str) -> Vec<Vec<String>> {
    let out = e.ok(&["top", n]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    );
    lines
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

/// `stats` and `top` on one container: a shell with two sleeps and a busy
/// loop.
fn stats_and_top(runtime: &'static str) {
    let Some(e) = engine(runtime) else { return };
    let n = name("st");
    e.ok(&[
        "run",
        "-d",
        "--name",
        &n,
        "-m",
        "64m",
        "bb:1",
        "sh",
        "-c",
        "sleep 1000 & sleep 1000 & while :; do :; done",
    ]);
    let init = e.inspect(&n)["State"]["Pid"].as_i64().unwrap().to_string();
    // top: the shell (the init) and its two sleeps, once it forked them.
    eventually("the shell forks its sleeps", || top_rows(&e, &n).len() == 3);
    let rows = top_rows(&e, &n);
    assert!(rows.iter().all(|r| r[0] == "root"), "{rows:?}");
    assert!(
        rows.iter().any(|r| r[1] == init && r[7] == "sh"),
        "{rows:?}"
    );
    let sleeps: Vec<_> = rows
        .iter()
        .filter(|r| r[7..] == ["sleep", "1000"])
        .collect();
    assert_eq!(sleeps.len(), 2, "{rows:?}");
    assert!(sleeps.iter().all(|r| r[2] == init), "{rows:?}");
    // With ps options, host ps's columns, Docker's 20-wide table.
    let out = e.ok(&["top", &n, "-o", "pid,comm"]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!("PID{}COMMAND", " ".repeat(17))
    );
    assert!(out.contains(&format!("{init:<20}sh\n")), "{out}");
    assert_eq!(lines.filter(|l| l.ends_with("sleep")).count(), 2, "{out}");

    let s = stats_json(&e, &n);
    assert_eq!(s["Name"], n.as_str());
    assert_eq!(s["Container"], n.as_str());
    assert_eq!(s["PIDs"], "3", "{s}");
    let mem = s["MemUsage"].as_str().unwrap();
    let (usage, limit) = mem.split_once(" / ").unwrap();
    assert_eq!(limit, "64MiB", "{s}");
    assert!(
        usage != "0B" && (usage.ends_with("KiB") || usage.ends_with("MiB")),
        "{s}"
    );
    assert!(
        percent(&s["MemPerc"]) > 0.0 && percent(&s["MemPerc"]) < 100.0,
        "{s}"
    );
    // The busy loop uses CPU. The bound only catches unit mistakes: under
    // emulation (the v2 guest) /proc/stat loses ticks, and one busy thread
    // can read above 100% per CPU.
    let cpus = std::thread::available_parallelism().unwrap().get() as f64;
    let cpu = percent(&s["CPUPerc"]);
    assert!(cpu > 0.0 && cpu <= cpus * 1000.0, "{s}");
    // eth0's counters on the default bridge (IPv6 neighbour discovery
    // already moves a few bytes)
    let net = s["NetIO"].as_str().unwrap();
    assert!(net.split(" / ").count() == 2 && net.ends_with('B'), "{s}");

    // Docker's default table, running containers only without -a.
    let table = e.ok(&["stats", "--no-stream"]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .split("   ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "CONTAINER ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "NET I/O",
            "BLOCK I/O",
            "PIDS"
        ]
    );
    assert_eq!(lines.count(), 1, "{table}");
    stats_redraws(&e, &n);

    e.ok(&["stop", "-t", "0", &n]);
    assert_eq!(e.ok(&["stats", "--no-stream"]).lines().count(), 1);
    let all = e.ok(&[
        "stats",
        "--no-stream",
        "-a",
        "--format",
        "{{.Name}} {{.PIDs}} {{.MemUsage}}",
    ]);
    assert_eq!(all, format!("{n} 0 0B / 0B\n"));
    let out = e.run(&["stats", "--no-stream", "no-such-container"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such container: no-such-container"));
    let out = e.run(&["top", &n]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not running"));
    e.ok(&["rm", &n]);
}
with_runtimes!(stats_and_top: stats_top_berth, stats_top_runc, stats_top_crun);

/// The live view: frames that each clear the screen and draw the table.
fn stats_redraws(e: &Engine, n: &str) {
    let mut child = e
        .command(&["stats", n])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    // Read until two frames arrived (each starts by clearing the screen).
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    while text.windows(4).filter(|w| w == b"\x1b[2J").count() < 2 {
        use std::io::Read;
        let got = stdout.read(&mut buf).unwrap();
        assert!(got > 0, "stats ended: {}", String::from_utf8_lossy(&text));
        text.extend_from_slice(&buf[..got]);
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = String::from_utf8_lossy(&text);
    let frames: Vec<&str> = text
        .split("\x1b[2J\x1b[H")
        .filter(|f| !f.is_empty())
        .collect();
    assert!(frames[0].starts_with("CONTAINER ID"), "{text}");
    assert!(frames[0].contains(n), "{text}");
}

/// The number of lines the container logged so far.
fn logged(e: &Engine, n: &str) -> usize {
    e.ok(&["logs", n]).lines().count()
}

/// Waits (without a time assertion: the limit only stops a hung test)
/// until `f` holds.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn pause_freezes(runtime: &'static str) {
    let Some(e) = engine(runtime) else { return };
    let n = name("pause");
    let id = e
        .ok(&[
            "run",
            "-d",
            "--name",
            &n,
            "bb:1",
            "sh",
            "-c",
            "trap 'exit 3' TERM; i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done",
        ])
        .trim()
        .to_owned();
    eventually("the counter starts", || logged(&e, &n) > 2);
    assert_eq!(e.ok(&["pause", &n]), format!("{n}\n"));
    let v = e.inspect(&n);
    assert_eq!(v["State"]["Status"], "paused");
    assert_eq!(v["State"]["Paused"], true);
    assert_eq!(v["State"]["Running"], true);
    assert!(e.ok(&["ps"]).contains("(Paused)"));
    assert_eq!(
        e.ok(&["ps", "-q", "--no-trunc", "--filter", "status=paused"]),
        format!("{id}\n")
    );
    assert_eq!(e.ok(&["ps", "-q", "--filter", "status=running"]), "");
    if cgroup_v2() {
        assert_eq!(read(&e, &id, "", "cgroup.freeze"), "1");
    } else {
        assert_eq!(read(&e, &id, "freezer.state", ""), "FROZEN");
    }
    // Frozen: the counter does not move while we look.
    let frozen = logged(&e, &n);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(logged(&e, &n), frozen);
    let out = e.run(&["pause", &n]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is already paused"));
    let out = e.run(&["start", &n]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("cannot start a paused container, try unpause instead"));
    assert_eq!(e.ok(&["unpause", &n]), format!("{n}\n"));
    assert_eq!(e.inspect(&n)["State"]["Status"], "running");
    eventually("the counter moves again", || logged(&e, &n) > frozen);
    let out = e.run(&["unpause", &n]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not paused"));

    // Docker's kill and stop of a paused container deliver the signal
    // (the container is resumed for it).
    e.ok(&["pause", &n]);
    e.ok(&["kill", &n]);
    eventually("the killed container exits", || {
        e.inspect(&n)["State"]["Status"] == "exited"
    });
    let v = e.inspect(&n);
    assert_eq!(v["State"]["ExitCode"], 137);
    assert_eq!(v["State"]["Paused"], false);
    // The stop signal reaches the paused shell's trap: it exits 3, not
    // SIGKILL's 137 (the 60 s grace only bounds a broken run).
    e.ok(&["start", &n]);
    e.ok(&["pause", &n]);
    e.ok(&["stop", "-t", "60", &n]);
    let v = e.inspect(&n);
    assert_eq!(v["State"]["Status"], "exited");
    assert_eq!(v["State"]["ExitCode"], 3);
    let out = e.run(&["pause", &n]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not running"));
    e.ok(&["rm", &n]);
}
with_runtimes!(pause_freezes: pause_berth, pause_runc, pause_crun);

fn oom_killed(runtime: &'static str) {
    let Some(e) = engine(runtime) else { return };
    let n = name("oom");
    // `--network none`: on cgroup v2 a new network namespace's kernel
    // memory is charged to the container, and with runc's Go init that
    // sits close to 8m (an init killed before its network is set up is
    // reported as such: "container init was OOM-killed").
    let out = e.run(&[
        "run",
        "--name",
        &n,
        "--network",
        "none",
        "--memory",
        "8m",
        "bb:1",
        "sh",
        "-c",
        "x=a; while :; do x=$x$x; done",
    ]);
    assert_eq!(
        out.status.code(),
        Some(137),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = e.inspect(&n);
    assert_eq!(v["State"]["OOMKilled"], true);
    assert_eq!(v["State"]["ExitCode"], 137);
    // A later run that ends normally clears it.
    let ok = name("nooom");
    e.ok(&[
        "run",
        "--name",
        &ok,
        "--network",
        "none",
        "--memory",
        "8m",
        "bb:1",
        "true",
    ]);
    assert_eq!(e.inspect(&ok)["State"]["OOMKilled"], false);
    e.ok(&["rm", &n, &ok]);
}
with_runtimes!(oom_killed: oom_berth, oom_runc, oom_crun);

/// berth-runtime behind a script that refuses `resume` while the file
/// `<script>.refuse` exists: how a failing resume is made.
fn resume_refusing_runtime(dir: &std::path::Path) -> (&'static str, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let real = std::path::Path::new(env!("CARGO_BIN_EXE_berth")).with_file_name("berth-runtime");
    let script = dir.join("refuses-resume");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do\n  if [ \"$a\" = resume ] && [ -e \"$0.refuse\" ]; then\n    echo 'resume refused by the test' >&2; exit 1\n  fi\ndone\nexec {} \"$@\"\n",
            real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let refuse = dir.join("refuses-resume.refuse");
    (
        Box::leak(script.to_str().unwrap().to_owned().into_boxed_str()),
        refuse,
    )
}

/// `info` counts a paused container as paused (not running, as Docker's);
/// a signal other than SIGKILL and the stop signal leaves a paused
/// container paused (pending until `unpause`, as Docker's); a resume that
/// fails leaves it marked paused.
#[test]
fn paused_counts_signals_and_failed_resume() {
    require_root!();
    let dir = berth_testutil::TempDir::new("berth-resume").unwrap();
    let (runtime, refuse) = resume_refusing_runtime(dir.path());
    let e = Engine::new(runtime);
    let (a, b, c) = (name("pa"), name("pb"), name("pc"));
    // The init of a pid namespace gets only the signals it handles.
    let traps = "trap 'exit 3' TERM USR1; while :; do sleep 0.1; done";
    e.ok(&["run", "-d", "--name", &a, "bb:1", "sh", "-c", traps]);
    e.ok(&["run", "-d", "--name", &b, "bb:1", "sleep", "300"]);
    e.ok(&["create", "--name", &c, "bb:1", "true"]);
    e.ok(&["pause", &a]);
    let counts = || {
        e.ok(&[
            "info",
            "-f",
            "{{.Containers}} {{.ContainersRunning}} {{.ContainersPaused}} {{.ContainersStopped}}",
        ])
    };
    assert_eq!(counts(), "3 1 1 1\n");
    let info = e.ok(&["info"]);
    assert!(
        info.contains(" Containers: 3\n  Running: 1\n  Paused: 1\n  Stopped: 1\n"),
        "{info}"
    );

    // USR1 is neither SIGKILL nor the stop signal (SIGTERM by default).
    e.ok(&["kill", "-s", "USR1", &a]);
    let v = e.inspect(&a);
    assert_eq!(v["State"]["Status"], "paused");
    assert_eq!(v["State"]["Paused"], true);

    // The stop signal resumes it, but here the resume fails.
    std::fs::write(&refuse, "").unwrap();
    e.ok(&["kill", "-s", "TERM", &a]);
    let v = e.inspect(&a);
    assert_eq!(v["State"]["Status"], "paused");
    assert_eq!(v["State"]["Paused"], true);
    assert_eq!(counts(), "3 1 1 1\n");
    std::fs::remove_file(&refuse).unwrap();

    // Thawed, the pending signals reach its trap.
    e.ok(&["unpause", &a]);
    eventually("the signalled container exits", || {
        e.inspect(&a)["State"]["Status"] == "exited"
    });
    assert_eq!(e.inspect(&a)["State"]["ExitCode"], 3);
    assert_eq!(counts(), "3 1 0 2\n");
    e.ok(&["rm", "-f", &a, &b, &c]);
}

/// A running container whose numbers cannot be read (its cgroup in one
/// hierarchy is gone) shows Docker's `--`, not zeros.
#[test]
fn stats_of_an_unreadable_container_are_dashes() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("unreadable");
    let id = e
        .ok(&["run", "-d", "--name", &n, "bb:1", "sleep", "300"])
        .trim()
        .to_owned();
    assert!(percent(&stats_json(&e, &n)["MemPerc"]) >= 0.0);
    // Move the container's processes to the root of one hierarchy and
    // remove its directory there.
    let rel = cgroup_of(&e, &id).trim_start_matches('/').to_owned();
    let hierarchy = berth_testutil::hierarchies()
        .into_iter()
        .find(|h| h.join(&rel).is_dir())
        .expect("the container has a cgroup");
    let dir = hierarchy.join(&rel);
    for pid in std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap()
        .lines()
    {
        std::fs::write(hierarchy.join("cgroup.procs"), pid).unwrap();
    }
    eventually("the emptied cgroup is removed", || {
        std::fs::remove_dir(&dir).is_ok()
    });
    let s = stats_json(&e, &n);
    assert_eq!(s["Name"], n.as_str());
    assert_eq!(s["ID"], &id[..12]);
    for field in ["CPUPerc", "MemPerc", "NetIO", "BlockIO", "PIDs"] {
        assert_eq!(s[field], "--", "{field}: {s}");
    }
    assert_eq!(s["MemUsage"], "-- / --");
    e.ok(&["rm", "-f", &n]);
}
