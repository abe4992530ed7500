//! The container's security and process settings, observed from inside
//! real containers as root: Docker's default capabilities and seccomp
//! profile, `--security-opt`, `--privileged`, `--cap-add/--cap-drop`,
//! `--read-only`, `--tmpfs`, `--device`, `--shm-size`, `--ulimit`,
//! `--oom-score-adj`, `--sysctl`, labels and env files, user names and
//! groups from the image's files, `--network host`, `--init`. The ones
//! the runtime enforces run with runc too. Bad values: exit 125, one line,
//! nothing left behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use berth_testutil::require_root;
use common::engine::{name, Engine};

/// Docker's default capability set as /proc/<pid>/status shows it.
const DOCKER_DEFAULT_CAPS: &str = "00000000a80425fb";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `berth run --rm IMAGE sh -c SCRIPT` with `flags` before the image;
/// returns the output, expecting success.
fn sh(e: &Engine, flags: &[&str], script: &str) -> String {
    let out = sh_out(e, flags, script);
    assert!(
        out.status.success(),
        "{flags:?} {script:?}: {}\n{}",
        out.status,
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn sh_out(e: &Engine, flags: &[&str], script: &str) -> Output {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["bb:1", "sh", "-c", script]);
    e.run(&args)
}

/// A line of /proc/self/status in the container, e.g. `CapEff`.
fn status_field(out: &str, field: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {out}"))
        .trim()
        .to_owned()
}

fn runc_available() -> bool {
    common::have_tool("runc")
}

fn default_security(runtime: &'static str) {
    let e = Engine::new(runtime);
    let out = sh(
        &e,
        &[],
        "cat /proc/self/status; unshare -U true 2>&1; echo unshare=$?; \
         grep -c ' /sys/firmware ' /proc/self/mountinfo; grep ' /sys ' /proc/self/mountinfo",
    );
    assert_eq!(status_field(&out, "CapEff"), DOCKER_DEFAULT_CAPS);
    assert_eq!(status_field(&out, "CapBnd"), DOCKER_DEFAULT_CAPS);
    assert_eq!(status_field(&out, "Seccomp"), "2", "{out}");
    assert_eq!(status_field(&out, "NoNewPrivs"), "0");
    // Creating a user namespace needs no capability, but Docker's profile
    // allows unshare(2) only with CAP_SYS_ADMIN: seccomp refused it.
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(out.contains("unshare=1"), "{out}");
    // Masked /sys/firmware, read-only /sys.
    assert!(out.contains("\n1\n"), "{out}");
    assert!(out.contains(" /sys ro,"), "{out}");
}

#[test]
fn docker_defaults_capabilities_and_seccomp() {
    require_root!();
    default_security("berth");
}

#[test]
fn docker_defaults_with_runc() {
    require_root!();
    if runc_available() {
        default_security("runc");
    }
}

fn seccomp_options(runtime: &'static str) {
    let e = Engine::new(runtime);
    let out = sh(
        &e,
        &["--security-opt", "seccomp=unconfined"],
        "grep Seccomp: /proc/self/status; unshare -U true && echo unshare-ok",
    );
    assert!(out.contains("Seccomp:\t0"), "{out}");
    assert!(out.contains("unshare-ok"), "{out}");

    // The profile follows the capabilities: with CAP_SYS_ADMIN, unshare and
    // mount are allowed (a mount namespace needs that capability anyway).
    let out = sh(
        &e,
        &["--cap-add", "SYS_ADMIN"],
        "grep Seccomp: /proc/self/status; unshare -m true && echo unshare-ok",
    );
    assert!(
        out.contains("Seccomp:\t2") && out.contains("unshare-ok"),
        "{out}"
    );

    // A custom Docker-format profile: mkdir fails with the errno it names
    // (EACCES, which root never gets from the filesystem here).
    let profile = e.berth.dir.join("deny-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let out = sh(
        &e,
        &["--security-opt", &opt],
        "grep Seccomp: /proc/self/status; mkdir /tmp/d 2>&1; touch /tmp/f && echo touch-ok; unshare -U true && echo unshare-ok",
    );
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(
        out.contains("can't create directory '/tmp/d': Permission denied"),
        "{out}"
    );
    assert!(
        out.contains("touch-ok") && out.contains("unshare-ok"),
        "{out}"
    );
}

#[test]
fn seccomp_unconfined_capabilities_and_custom_profiles() {
    require_root!();
    seccomp_options("berth");
}

#[test]
fn seccomp_options_with_runc() {
    require_root!();
    if runc_available() {
        seccomp_options("runc");
    }
}

fn privileged(runtime: &'static str) {
    let e = Engine::new(runtime);
    let host_caps = status_field(
        &std::fs::read_to_string("/proc/self/status").unwrap(),
        "CapEff",
    );
    let out = sh(
        &e,
        &["--privileged"],
        "cat /proc/self/status; grep -c ' /sys/firmware ' /proc/self/mountinfo; \
         grep ' /sys ' /proc/self/mountinfo; ls /dev; \
         mount -t tmpfs none /mnt && echo mount-ok",
    );
    assert_eq!(status_field(&out, "CapEff"), host_caps, "{out}");
    assert_eq!(status_field(&out, "Seccomp"), "0");
    assert!(out.contains("\n0\n"), "/sys/firmware still masked: {out}");
    assert!(out.contains(" /sys rw,"), "{out}");
    assert!(out.contains("mount-ok"), "{out}");
    // The host's devices (a default container has only null, zero, full,
    // random, urandom, tty and the pty/fd links).
    for dev in std::fs::read_dir("/dev").unwrap() {
        let dev = dev.unwrap();
        let ft = dev.file_type().unwrap();
        use std::os::unix::fs::FileTypeExt;
        if ft.is_char_device() && dev.file_name() != "console" {
            let n = dev.file_name().to_string_lossy().into_owned();
            assert!(out.lines().any(|l| l == n), "/dev/{n} missing: {out}");
        }
    }
}

#[test]
fn privileged_has_all_capabilities_devices_and_no_confinement() {
    require_root!();
    privileged("berth");
}

#[test]
fn privileged_with_runc() {
    require_root!();
    if runc_available() {
        privileged("runc");
    }
}

#[test]
fn cap_add_and_drop() {
    require_root!();
    let e = Engine::new("berth");
    // CAP_CHOWN (0) and CAP_KILL (5) only; names in any case, with or
    // without the prefix.
    let out = sh(
        &e,
        &[
            "--cap-drop",
            "all",
            "--cap-add",
            "chown",
            "--cap-add",
            "Cap_Kill",
        ],
        "grep CapEff /proc/self/status",
    );
    assert_eq!(status_field(&out, "CapEff"), "0000000000000021");
    // The defaults minus CAP_NET_RAW (13) plus CAP_SYS_TIME (25).
    let out = sh(
        &e,
        &["--cap-drop", "NET_RAW", "--cap-add", "CAP_SYS_TIME"],
        "grep CapEff /proc/self/status",
    );
    let want = u64::from_str_radix(DOCKER_DEFAULT_CAPS, 16).unwrap() & !(1 << 13) | (1 << 25);
    assert_eq!(status_field(&out, "CapEff"), format!("{want:016x}"));
    // What a dropped capability guards fails: chown needs CAP_CHOWN.
    let out = sh_out(
        &e,
        &["--cap-drop", "CHOWN"],
        "touch /tmp/f; chown 1000 /tmp/f",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("Operation not permitted"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn no_new_privileges_and_apparmor() {
    require_root!();
    let e = Engine::new("berth");
    let out = sh(
        &e,
        &["--security-opt", "no-new-privileges"],
        "grep NoNewPrivs /proc/self/status",
    );
    assert_eq!(status_field(&out, "NoNewPrivs"), "1");
    let out = sh(
        &e,
        &["--security-opt", "no-new-privileges=false"],
        "grep NoNewPrivs /proc/self/status",
    );
    assert_eq!(status_field(&out, "NoNewPrivs"), "0");

    // apparmor=PROFILE goes to the runtime as process.apparmorProfile.
    let n = name("aa");
    e.ok(&[
        "create",
        "--name",
        &n,
        "--security-opt",
        "apparmor=berth-test-profile",
        "bb:1",
        "true",
    ]);
    let id = e.ok(&["ps", "-aq", "--no-trunc"]).trim().to_owned();
    let config: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            e.berth
                .root
                .join("containers")
                .join(&id)
                .join("config.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(config["process"]["apparmorProfile"], "berth-test-profile");
    if !Path::new("/sys/kernel/security/apparmor").exists() {
        // berth-runtime refuses a profile it cannot apply.
        let out = e.run(&["start", &n]);
        assert_eq!(out.status.code(), Some(125));
        assert!(
            text(&out.stderr).to_lowercase().contains("apparmor"),
            "{}",
            text(&out.stderr)
        );
    }
}

fn filesystem_and_limits(runtime: &'static str) {
    let e = Engine::new(runtime);
    let out = sh(
        &e,
        &[
            "--read-only",
            "--tmpfs",
            "/run:size=1m,mode=700",
            "--shm-size",
            "128m",
            "--ulimit",
            "nofile=1024:2048",
            "--ulimit",
            "nproc=500",
            "--oom-score-adj",
            "300",
            "--sysctl",
            "kernel.shmmax=12345678",
            "--sysctl",
            "net.ipv4.ip_unprivileged_port_start=1000",
        ],
        "touch /x 2>&1; touch /run/ok && echo run-writable; \
         grep -E ' / | /run | /dev/shm ' /proc/self/mountinfo; stat -c %a /run; \
         echo nofile=$(ulimit -n):$(ulimit -Hn) nproc=$(ulimit -u); cat /proc/self/oom_score_adj; \
         cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_unprivileged_port_start",
    );
    assert!(out.contains("touch: /x: Read-only file system"), "{out}");
    assert!(out.contains("run-writable"), "{out}");
    let mount = |dest: &str| {
        out.lines()
            .find(|l| l.split(' ').nth(4) == Some(dest))
            .unwrap_or_else(|| panic!("no {dest} mount: {out}"))
            .to_owned()
    };
    assert!(
        mount("/").split(' ').nth(5).unwrap().starts_with("ro"),
        "{out}"
    );
    let run = mount("/run");
    assert!(
        run.contains("tmpfs") && run.contains("size=1024k") && run.contains("noexec"),
        "{run}"
    );
    assert!(out.lines().any(|l| l == "700"), "{out}");
    assert!(mount("/dev/shm").contains("size=131072k"), "{out}");
    assert!(out.contains("nofile=1024:2048 nproc=500"), "{out}");
    assert!(out.lines().any(|l| l == "300"), "{out}");
    assert!(out.contains("12345678\n1000\n"), "{out}");
}

#[test]
fn read_only_tmpfs_shm_ulimits_oom_score_sysctls() {
    require_root!();
    filesystem_and_limits("berth");
}

#[test]
fn read_only_tmpfs_shm_ulimits_oom_score_sysctls_with_runc() {
    require_root!();
    if runc_available() {
        filesystem_and_limits("runc");
    }
}

fn devices(runtime: &'static str) {
    let e = Engine::new(runtime);
    // A loop device: no default rule allows it, unlike /dev/null.
    let dev = berth_testutil::LoopDevice::new(1 << 20);
    let read_only = format!("{}:/dev/blk:r", dev.path().display());
    let out = sh(
        &e,
        &[
            "--device",
            "/dev/null:/dev/mynull:rw",
            "--device",
            &read_only,
        ],
        "stat -c '%F %t:%T %n' /dev/mynull /dev/blk; echo hi > /dev/mynull && echo null-write-ok; \
         head -c 512 /dev/blk | wc -c; \
         dd if=/dev/zero of=/dev/blk bs=512 count=1 2>&1 || echo blk-write-refused",
    );
    assert!(
        out.contains("character special file 1:3 /dev/mynull"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "block special file {:x}:{:x} /dev/blk",
            dev.major(),
            dev.minor()
        )),
        "{out}"
    );
    assert!(out.contains("null-write-ok"), "{out}");
    assert!(out.lines().any(|l| l.trim() == "512"), "{out}");
    // The cgroup rule allows reading only.
    assert!(
        out.contains("Operation not permitted") && out.contains("blk-write-refused"),
        "{out}"
    );
}

#[test]
fn device_nodes_and_cgroup_rules() {
    require_root!();
    devices("berth");
}

#[test]
fn device_nodes_and_cgroup_rules_with_runc() {
    require_root!();
    if runc_available() {
        devices("runc");
    }
}

#[test]
fn labels_label_files_and_env_files() {
    require_root!();
    let e = Engine::new("berth");
    let dir = e.berth.dir.path();
    std::fs::write(
        dir.join("labels"),
        "# team labels\na=from-file\nb=2\nflag\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("env"),
        "# env\nFROM_FILE=yes\n  SPACED=x y\nOVERRIDDEN=file\n",
    )
    .unwrap();
    let n = name("lbl");
    let label_file = dir.join("labels");
    let env_file = dir.join("env");
    let out = e.ok(&[
        "run",
        "--name",
        &n,
        "--label-file",
        label_file.to_str().unwrap(),
        "-l",
        "a=from-flag",
        "--label",
        "c=3",
        "--env-file",
        env_file.to_str().unwrap(),
        "-e",
        "OVERRIDDEN=flag",
        "bb:1",
        "sh",
        "-c",
        "echo $FROM_FILE/$SPACED/$OVERRIDDEN",
    ]);
    assert_eq!(out, "yes/x y/flag\n");
    let labels = &e.inspect(&n)["Config"]["Labels"];
    assert_eq!(
        labels,
        &serde_json::json!({"a": "from-flag", "b": "2", "c": "3", "flag": ""})
    );
    let out = e.run(&[
        "run",
        "--rm",
        "--env-file",
        "/nonexistent/env",
        "bb:1",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("/nonexistent/env"),
        "{}",
        text(&out.stderr)
    );
}

/// An image with groups listing `user` as a member and USER set to a name.
fn import_users_image(e: &Engine) {
    let dir = e.berth.dir.join("users-rootfs");
    berth_testutil::busybox_rootfs(&dir).unwrap();
    let group = std::fs::read_to_string(dir.join("etc/group")).unwrap();
    std::fs::write(
        dir.join("etc/group"),
        format!("{group}wheel:x:10:user,nobody\naudio:x:29:user\n"),
    )
    .unwrap();
    let tar = e.berth.dir.join("users.tar");
    let ok = Command::new("tar")
        .arg("-C")
        .arg(&dir)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap()
        .success();
    assert!(ok);
    e.berth.ok(&[
        "import",
        "--change",
        "USER user",
        tar.to_str().unwrap(),
        "users:1",
    ]);
}

fn users(runtime: &'static str) {
    let e = Engine::new(runtime);
    import_users_image(&e);
    let id = |flags: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["users:1", "id"]);
        e.ok(&args).trim().to_owned()
    };
    // The image's USER, by name, with its supplementary groups; the
    // primary group is one of them (moby's getUser since the fix of
    // CVE-2023-25173's kind); the kernel keeps them sorted.
    assert_eq!(
        id(&[]),
        "uid=1000(user) gid=1000(user) groups=10(wheel),29(audio),1000(user)"
    );
    assert_eq!(
        id(&["-u", "nobody"]),
        "uid=65534(nobody) gid=65534(nogroup) groups=10(wheel),65534(nogroup)"
    );
    assert_eq!(
        id(&["-u", "1000"]),
        "uid=1000(user) gid=1000(user) groups=10(wheel),29(audio),1000(user)"
    );
    // An explicit group: no supplementary groups but it, as in Docker.
    assert_eq!(
        id(&["-u", "user:audio"]),
        "uid=1000(user) gid=29(audio) groups=29(audio)"
    );
    // A uid without an entry gets group 0.
    assert_eq!(id(&["-u", "4242"]), "uid=4242 gid=0(root) groups=0(root)");
    assert_eq!(
        id(&["-u", "root", "--group-add", "audio", "--group-add", "777"]),
        "uid=0(root) gid=0(root) groups=0(root),29(audio),777"
    );
    let out = e.run(&["run", "--rm", "-u", "nosuch", "users:1", "id"]);
    assert_eq!(out.status.code(), Some(125));
    let err = text(&out.stderr);
    assert!(
        err.contains("unable to find user nosuch: no matching entries in passwd file"),
        "{err}"
    );
    let out = e.run(&["run", "--rm", "-u", "user:nosuch", "users:1", "id"]);
    assert!(
        text(&out.stderr).contains("unable to find group nosuch"),
        "{}",
        text(&out.stderr)
    );
    assert!(e.mounts_under_root().is_empty());
}

#[test]
fn user_names_and_groups_from_the_image() {
    require_root!();
    users("berth");
}

#[test]
fn user_names_and_groups_with_runc() {
    require_root!();
    if runc_available() {
        users("runc");
    }
}

#[test]
fn network_host_shares_the_hosts_namespace() {
    require_root!();
    let e = Engine::new("berth");
    // berth runs in the test engine's own netns: "the host's" is that one
    let host_ns = e.net_ns();
    let host_name = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let out = sh(
        &e,
        &["--network", "host"],
        "readlink /proc/self/ns/net; hostname; cat /etc/hosts",
    );
    let mut lines = out.lines();
    assert_eq!(lines.next().unwrap(), host_ns.to_str().unwrap());
    assert_eq!(lines.next().unwrap(), host_name);
    assert!(
        out.ends_with(&std::fs::read_to_string("/etc/hosts").unwrap()),
        "{out}"
    );
    // The default stays an empty network namespace of its own.
    let out = sh(&e, &[], "readlink /proc/self/ns/net");
    assert_ne!(out.trim(), host_ns.to_str().unwrap());
    // net.* sysctls would change the host's.
    let out = sh_out(
        &e,
        &["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"],
        "true",
    );
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("network namespace"),
        "{}",
        text(&out.stderr)
    );
}

/// The static berth-init: `BERTH_TEST_INIT`, else built once by
/// scripts/build-init.sh (a no-op when it is up to date).
fn init_binary() -> &'static Path {
    static INIT: OnceLock<PathBuf> = OnceLock::new();
    INIT.get_or_init(|| {
        if let Some(p) = std::env::var_os("BERTH_TEST_INIT") {
            return PathBuf::from(p);
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/build-init.sh");
        let out = Command::new("bash").arg(&script).output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            script.display(),
            text(&out.stderr)
        );
        PathBuf::from(text(&out.stdout).trim())
    })
}

fn with_init(e: &Engine, args: &[&str]) -> Output {
    e.command(args)
        .env("BERTH_INIT", init_binary())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// The script forks an orphan (its parent exits at once), which the
/// kernel hands to PID 1; it then waits until the orphan is gone.
const ORPHAN: &str = "(sleep 1 & echo $! > /tmp/orphan); p=$(cat /tmp/orphan); \
    echo ppid=$(cut -d' ' -f4 /proc/$p/stat); \
    for i in $(seq 300); do [ -e /proc/$p ] || { echo reaped; exit 0; }; sleep 0.1; done; \
    echo not-reaped; cat /proc/$p/stat";

fn init(runtime: &'static str) {
    let e = Engine::new(runtime);
    let out = with_init(
        &e,
        &[
            "run",
            "--rm",
            "--init",
            "bb:1",
            "sh",
            "-c",
            &format!("cat /proc/1/cmdline | tr '\\0' ' '; echo; {ORPHAN}"),
        ],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.starts_with("/sbin/berth-init -- sh -c"), "{stdout}");
    // The orphan was re-parented to the init, which reaped it.
    assert!(
        stdout.contains("ppid=1\n") && stdout.contains("reaped"),
        "{stdout}"
    );

    // Signals reach the command through the init; its exit code is ours.
    let n = name("init");
    let out = with_init(
        &e,
        &[
            "run",
            "-d",
            "--init",
            "--name",
            &n,
            "bb:1",
            "sh",
            "-c",
            "trap 'echo got TERM; exit 3' TERM; echo ready; while :; do sleep 0.1; done",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    for _ in 0..1200 {
        if e.ok(&["logs", &n]).contains("ready") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        e.ok(&["logs", &n]).contains("ready"),
        "the container never started"
    );
    e.ok(&["stop", "-t", "60", &n]);
    assert_eq!(e.inspect(&n)["State"]["ExitCode"], 3);
    assert!(e.ok(&["logs", &n]).contains("got TERM"));
    // Killed by a signal: 128 + N, as tini reports it.
    let out = with_init(
        &e,
        &["run", "--rm", "--init", "bb:1", "sh", "-c", "kill -9 $$"],
    );
    assert_eq!(out.status.code(), Some(137), "{}", text(&out.stderr));
}

#[test]
fn init_reaps_orphans_and_forwards_signals() {
    require_root!();
    init("berth");
}

#[test]
fn init_with_runc() {
    require_root!();
    if runc_available() {
        init("runc");
    }
}

/// The container's snapshots besides the image's layer.
fn snapshot_count(e: &Engine) -> usize {
    let images: serde_json::Value =
        serde_json::from_slice(&std::fs::read(e.berth.root.join("images.json")).unwrap()).unwrap();
    images["snapshots"].as_object().map_or(0, |s| s.len())
}

#[test]
fn bad_values_are_one_line_errors_that_leave_nothing() {
    require_root!();
    let e = Engine::new("berth");
    let snapshots = snapshot_count(&e);
    let missing_init = e.berth.dir.join("no-init");
    let dynamic = env!("CARGO_BIN_EXE_berth");
    let cases: &[(&[&str], &str, Option<&str>)] = &[
        (&["--cap-add", "FOO"], "invalid CapAdd: unknown capability: \"CAP_FOO\"", None),
        (&["--cap-drop", "bogus"], "invalid CapDrop: unknown capability: \"CAP_BOGUS\"", None),
        (&["--ulimit", "nofile=x"], "invalid argument \"nofile=x\" for \"--ulimit\" flag", None),
        (&["--ulimit", "bogus=1"], "invalid ulimit type: bogus", None),
        (&["--device", "/nonexistent"], "error gathering device information while adding custom device \"/nonexistent\": no such file or directory", None),
        (&["--device", "/etc/hostname"], "not a device node", None),
        (&["--security-opt", "bogus=1"], "invalid --security-opt: \"bogus=1\"", None),
        (&["--security-opt", "label=disable"], "SELinux", None),
        (&["--security-opt", "seccomp=/nonexistent.json"], "opening seccomp profile (/nonexistent.json) failed", None),
        (&["--shm-size", "12qq"], "invalid argument \"12qq\" for \"--shm-size\" flag: invalid size: '12qq'", None),
        (&["--sysctl", "kernel.hostname=x"], "sysctl 'kernel.hostname=x' is not allowed", None),
        (&["--oom-score-adj", "5000"], "range for oom score adj is [-1000, 1000]", None),
        (&["--tmpfs", "relative"], "for \"--tmpfs\" flag", None),
        (&["--init"], "cannot read the init binary", Some(missing_init.to_str().unwrap())),
        (&["--init"], "is dynamically linked", Some(dynamic)),
    ];
    let bad_profile = e.berth.dir.join("bad.json");
    std::fs::write(&bad_profile, "{\"defaultAction\": \"SCMP_ACT_NOPE\"}").unwrap();
    let bad_profile_opt = format!("seccomp={}", bad_profile.display());
    let bad_profile_case: [&str; 2] = ["--security-opt", &bad_profile_opt];
    let all = cases.iter().copied().chain([(
        &bad_profile_case[..],
        "invalid seccomp profile: unknown action \"SCMP_ACT_NOPE\"",
        None,
    )]);
    for (flags, want, init) in all {
        for verb in ["run", "create"] {
            let mut args = vec![verb, "--name", "never"];
            args.extend_from_slice(flags);
            args.extend_from_slice(&["bb:1", "true"]);
            let mut cmd = e.command(&args);
            if let Some(init) = init {
                cmd.env("BERTH_INIT", init);
            }
            let out = cmd.output().unwrap();
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(125), "{args:?}: {err}");
            assert!(
                err.starts_with("Error: ") && err.lines().count() == 1,
                "{args:?}: {err}"
            );
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert_eq!(
        std::fs::read_dir(e.berth.root.join("containers")).map_or(0, |d| d.count()),
        0
    );
    assert_eq!(snapshot_count(&e), snapshots);
    assert!(e.mounts_under_root().is_empty());
}
