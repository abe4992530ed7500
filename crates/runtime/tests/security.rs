//! Known container-escape attacks, replayed: each test sets up what the
//! attack needs and checks it fails. docs/security.md lists what
//! berth-runtime defends against and which test shows it; the defences
//! tested elsewhere (symlinks to `/`, leaked descriptors, masked and
//! read-only paths, user namespace ownership) are listed there too.

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::json;

/// Runs `<runtime> --root <root> <args>` from a shell that first opens
/// `dir` as fd 9: a host directory descriptor the runtime inherits, as a
/// careless caller (or a runtime's own leaked descriptor) provides.
fn with_host_fd_9(rt: &Runtime, dir: &Path, args: &[&str]) -> Output {
    let cmd = format!(
        "exec 9<{dir}; exec {bin} --root {root} \"$@\"",
        dir = dir.display(),
        bin = rt.bin().display(),
        root = rt.root().display(),
    );
    let out = Command::new("sh")
        .args(["-c", &cmd, "sh"])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    Output {
        status: out.status,
        argv: format!("{} {}", rt.name(), args.join(" ")),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        stdout_path: Default::default(),
        stderr_path: Default::default(),
    }
}

/// A host directory with a file the container must never read.
fn host_secret_dir(b: &Bundle) -> std::path::PathBuf {
    let dir = b.host_dir("host-secret");
    fs::write(dir.join("secret"), "HOST SECRET\n").unwrap();
    dir
}

/// CVE-2024-21626 ("Leaky Vessels"), on `run`: `process.cwd` is
/// `/proc/self/fd/9`, a descriptor of a host directory the runtime holds
/// when it chdirs. A vulnerable runtime starts the process with its
/// working directory on the host, where `cat secret` reads host files.
/// berth-runtime checks after chdir that the cwd is reachable from the
/// container's root and refuses to start otherwise.
#[test]
fn cve_2024_21626_cwd_through_a_host_fd_is_refused() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let dir = host_secret_dir(&b);
    b.config_mut()["process"]["cwd"] = json!("/proc/self/fd/9");
    b.set_script("cat secret 2>/dev/null || echo sealed");
    let out = with_host_fd_9(
        &rt,
        &dir,
        &["run", "--bundle", b.path().to_str().unwrap(), b.id()],
    );
    assert!(
        !out.stdout.contains("HOST SECRET"),
        "the container read the host: {out}"
    );
    assert!(
        !out.success(),
        "run must refuse a cwd outside the root: {out}"
    );
    if rt.is_berth() {
        assert!(
            error_message(&out).contains("outside the container's root"),
            "{out}"
        );
    }
    rt.delete_force(b.id()).ok();
}

/// CVE-2024-21626 on `exec`: `exec --cwd /proc/self/fd/9` with fd 9 a host
/// directory. The exec'd process must not start on the host.
#[test]
fn cve_2024_21626_exec_cwd_through_a_host_fd_is_refused() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let dir = host_secret_dir(&b);
    run_term_aware(&rt, &mut b);
    let out = with_host_fd_9(
        &rt,
        &dir,
        &[
            "exec",
            "--cwd",
            "/proc/self/fd/9",
            b.id(),
            "sh",
            "-c",
            "cat secret 2>/dev/null || echo sealed",
        ],
    );
    rt.delete_force(b.id()).ok();
    assert!(
        !out.stdout.contains("HOST SECRET"),
        "the exec'd process read the host: {out}"
    );
    assert!(
        !out.success(),
        "exec must refuse a cwd outside the root: {out}"
    );
    if rt.is_berth() {
        assert!(
            error_message(&out).contains("outside the container's root"),
            "{out}"
        );
    }
}

/// Sets up CVE-2021-30465's shape: the image holds `/hostlink`, a symlink
/// to the absolute host path of an empty host directory (the victim), and
/// a bind mount's destination goes through it. Returns (victim, payload).
fn symlink_to_host_dir(b: &mut Bundle) -> (std::path::PathBuf, std::path::PathBuf) {
    let victim = b.host_dir("victim");
    let payload = b.host_dir("payload");
    fs::write(payload.join("planted"), "planted\n").unwrap();
    symlink(&victim, b.rootfs().join("hostlink")).unwrap();
    b.add_mount(
        "/hostlink/made/here",
        "bind",
        payload.to_str().unwrap(),
        &["rbind", "ro"],
    );
    b.set_readonly_root(false);
    b.set_script("cat /hostlink/made/here/planted");
    (victim, payload)
}

fn assert_untouched(victim: &Path) {
    let left: Vec<_> = fs::read_dir(victim)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "the mount created {left:?} in the host directory {}",
        victim.display()
    );
}

/// CVE-2021-30465's family, where the symlink's target also exists inside
/// the image: resolved inside the rootfs, the mount and the directories
/// made for it land under the rootfs; the host directory stays empty.
#[test]
fn cve_2021_30465_symlink_to_a_host_path_mounts_inside_the_rootfs() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let (victim, _) = symlink_to_host_dir(&mut b);
    let inside = b.rootfs().join(victim.strip_prefix("/").unwrap());
    fs::create_dir_all(&inside).unwrap();
    let out = rt.run(&b).ok();
    assert_eq!(out.stdout, "planted\n");
    assert_untouched(&victim);
    assert!(
        inside.join("made/here").is_dir(),
        "the destination was not made inside the rootfs"
    );
}

/// The same when the symlink dangles inside the image (its target exists
/// only on the host): berth-runtime refuses to create directories through
/// a dangling symlink, runc creates them inside the rootfs; either way the
/// host directory stays empty.
#[test]
fn cve_2021_30465_dangling_symlink_to_a_host_path_leaves_the_host_alone() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let (victim, _) = symlink_to_host_dir(&mut b);
    let out = rt.run(&b);
    rt.delete_force(b.id()).ok();
    assert_untouched(&victim);
    if rt.is_berth() {
        assert!(!out.success(), "{out}");
        assert!(error_message(&out).contains("hostlink"), "{out}");
    } else {
        assert_eq!(out.stdout, "planted\n", "{out}");
    }
}

/// Replaces the image's `/<name>` with a symlink to `/tmp/fake<name>`.
fn symlinked_kernel_fs(b: &Bundle, name: &str) -> std::path::PathBuf {
    let at = b.rootfs().join(name);
    let _ = fs::remove_dir(&at);
    let fake = b.rootfs().join(format!("tmp/fake{name}"));
    fs::create_dir_all(&fake).unwrap();
    symlink(format!("/tmp/fake{name}"), &at).unwrap();
    fake
}

/// CVE-2019-16884 / CVE-2019-19921: an image whose `/proc` is a symlink.
/// Mounted through it, procfs would land where the image points, and the
/// runtime's writes to /proc (masking, LSM labels, oom_score_adj) would
/// go to whatever the image put at `/proc`. Like runc, berth-runtime
/// refuses to mount proc on anything but an ordinary directory.
#[test]
fn cve_2019_19921_proc_on_a_symlink_is_refused() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let fake = symlinked_kernel_fs(&b, "proc");
    b.set_script("cat /proc/keys /proc/kcore 2>/dev/null | wc -c");
    let out = rt.run(&b);
    rt.delete_force(b.id()).ok();
    assert!(!out.success(), "proc mounted through a symlink: {out}");
    assert!(error_message(&out).contains("ordinary directory"), "{out}");
    assert!(
        fs::read_dir(&fake).unwrap().next().is_none(),
        "something was mounted at the symlink's target"
    );
}

/// The same for sysfs: `/sys` a symlink is refused.
#[test]
fn sysfs_on_a_symlink_is_refused() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    symlinked_kernel_fs(&b, "sys");
    b.set_script("true");
    let out = rt.run(&b);
    rt.delete_force(b.id()).ok();
    assert!(!out.success(), "sysfs mounted through a symlink: {out}");
    assert!(error_message(&out).contains("ordinary directory"), "{out}");
}

/// A capability mask as /proc/self/status prints it.
fn mask(caps: &[u32]) -> String {
    format!("{:016x}", caps.iter().fold(0u64, |m, c| m | 1 << c))
}

fn status_field<'a>(out: &'a str, field: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in:\n{out}"))
        .trim()
}

const CAP_CHOWN: u32 = 0;
const CAP_KILL: u32 = 5;
const CAP_NET_BIND_SERVICE: u32 = 10;
const CAP_NET_RAW: u32 = 13;
const CAP_SYS_ADMIN: u32 = 21;

/// The five sets of a non-root process (uid 1000), chosen so the kernel's
/// execve rules keep them as configured: the ambient set survives exec and
/// becomes the permitted and effective sets.
fn configure_caps(b: &mut Bundle) {
    let two = json!(["CAP_KILL", "CAP_NET_RAW"]);
    let mut c = b.config_mut();
    c["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
    c["process"]["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"],
        "effective": two, "permitted": two, "inheritable": two, "ambient": two,
    });
}

fn assert_caps(status: &str, bounding: &str, others: &str) {
    assert_eq!(status_field(status, "CapBnd"), bounding, "CapBnd");
    for field in ["CapEff", "CapPrm", "CapInh", "CapAmb"] {
        assert_eq!(status_field(status, field), others, "{field}");
    }
}

/// Privilege the config did not grant is not there: all five capability
/// sets of the container's process, and of a process exec'd into it, are
/// exactly the configured ones (nothing left over from the runtime's
/// full set).
#[test]
fn capability_sets_are_exactly_the_config() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    configure_caps(&mut b);
    b.set_script("cat /proc/self/status; sleep 1000");
    rt.run_detached(&b).ok();
    let bounding = mask(&[CAP_CHOWN, CAP_KILL, CAP_NET_BIND_SERVICE, CAP_NET_RAW]);
    let others = mask(&[CAP_KILL, CAP_NET_RAW]);
    let init = rt.exec(b.id(), &["cat", "/proc/1/status"]).ok();
    let exec = rt
        .cmd(&[
            "exec",
            "--user",
            "1000:1000",
            b.id(),
            "cat",
            "/proc/self/status",
        ])
        .ok();
    rt.delete_force(b.id()).ok();
    assert_caps(&init.stdout, &bounding, &others);
    assert_caps(&exec.stdout, &bounding, &others);
}

/// `exec --cap` adds a capability the container's config lacks, to that
/// process only: CAP_SYS_ADMIN is in the bounding and effective sets of
/// `exec --cap CAP_SYS_ADMIN`, and in neither without it.
#[test]
fn exec_cap_adds_only_what_is_asked() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    run_term_aware(&rt, &mut b);
    let plain = rt.exec(b.id(), &["cat", "/proc/self/status"]).ok();
    let added = rt
        .cmd(&[
            "exec",
            "--cap",
            "CAP_SYS_ADMIN",
            b.id(),
            "cat",
            "/proc/self/status",
        ])
        .ok();
    let init = rt.exec(b.id(), &["cat", "/proc/1/status"]).ok();
    rt.delete_force(b.id()).ok();
    let has = |status: &str, field: &str| {
        u64::from_str_radix(status_field(status, field), 16).unwrap() & (1 << CAP_SYS_ADMIN) != 0
    };
    for field in ["CapBnd", "CapEff"] {
        assert!(
            !has(&plain.stdout, field),
            "plain exec has CAP_SYS_ADMIN in {field}"
        );
        assert!(
            !has(&init.stdout, field),
            "the init gained CAP_SYS_ADMIN in {field}"
        );
        assert!(
            has(&added.stdout, field),
            "exec --cap lacks CAP_SYS_ADMIN in {field}"
        );
    }
}

/// CVE-2019-5736's way in: while a container is created, its init is still
/// the runtime's binary. A process in the container (root, default
/// capabilities, no CAP_SYS_PTRACE) must not be able to open it through
/// `/proc/1/exe`. berth keeps the init non-dumpable until execve; runc
/// instead runs a sealed memfd copy, which may be read (harmlessly), so
/// this is berth's own contract.
#[test]
fn cve_2019_5736_runtime_binary_is_not_reachable_from_the_container() {
    require_root!();
    let rt = runtime();
    if skip_unless_berth(
        &rt,
        "runc exposes a sealed memfd copy at /proc/1/exe instead",
    ) {
        return;
    }
    let mut b = Bundle::new(&rt);
    b.set_script("true");
    rt.create(&b).ok();
    let out = rt.exec(b.id(), &["sh", "-c", "cat /proc/1/exe >/dev/null 2>&1 && echo READ || echo denied; ls -l /proc/1/exe 2>&1 | grep -c berth-runtime"]);
    assert!(
        out.stdout.starts_with("denied\n"),
        "the container read the runtime binary:\n{out}"
    );
    assert!(
        out.stdout.ends_with("0\n"),
        "the container sees where the runtime binary lives:\n{out}"
    );
    rt.delete_force(b.id()).ok();
}

/// CVE-2019-5736 itself, by a container given CAP_SYS_PTRACE and no user
/// namespace: while the container is created its init is still the
/// runtime's binary, so a process exec'd into it can open `/proc/1/exe`
/// (CAP_SYS_PTRACE overrides non-dumpable). It keeps that descriptor until
/// no runtime process runs the binary any more (the init has exec'd its
/// program, `exec -d` and `start` have exited), then reopens it for
/// writing through `/proc/self/fd/3`. On a vulnerable runtime the write
/// lands in the host's runtime binary; here the binary the container can
/// reach is a read-only or sealed view of it and the write is refused.
/// The runtime is a private copy of the binary, so no other test keeps it
/// busy (ETXTBSY would hide the hole).
#[test]
fn cve_2019_5736_runtime_binary_is_not_writable_through_proc_exe() {
    require_root!();
    let shared = runtime();
    let dir = TempDir::new("berth-5736").unwrap();
    let bin = dir.join(shared.name());
    fs::copy(shared.bin(), &bin).unwrap();
    let original = fs::read(&bin).unwrap();
    let rt = Runtime::new(&bin);

    let mut b = Bundle::new(&rt);
    b.set_readonly_root(false);
    b.set_script("echo up >/tmp/up; exec sleep 600");
    rt.create(&b).ok();
    let attack = "exec 3</proc/1/exe || { echo noopen >/tmp/attack; exit 0; }; \
                  echo held >/tmp/attack; \
                  while [ ! -e /tmp/go ]; do sleep 0.05; done; \
                  if echo PWNED 1<>/proc/self/fd/3; then echo wrote >>/tmp/attack; else echo refused >>/tmp/attack; fi";
    rt.cmd(&[
        "exec",
        "-d",
        "--cap",
        "CAP_SYS_PTRACE",
        b.id(),
        "sh",
        "-c",
        attack,
    ])
    .ok();
    let report = b.rootfs().join("tmp/attack");
    let read = |p: &Path| fs::read_to_string(p).unwrap_or_default();
    assert!(
        wait_until(STATE_TIMEOUT, || !read(&report).is_empty()),
        "the attacker never reported"
    );
    assert_eq!(
        read(&report),
        "held\n",
        "with CAP_SYS_PTRACE the attacker must reach /proc/1/exe, or this test proves nothing"
    );

    rt.start(b.id()).ok();
    assert!(
        wait_until(STATE_TIMEOUT, || b.rootfs().join("tmp/up").exists()),
        "the init never exec'd its program"
    );
    fs::write(b.rootfs().join("tmp/go"), "").unwrap();
    assert!(
        wait_until(STATE_TIMEOUT, || read(&report).lines().count() == 2),
        "the attacker never finished: {}",
        read(&report)
    );
    let overwritten = fs::read(&bin).unwrap() != original;
    if overwritten {
        // Put the binary back so that the cleanup can still run it.
        fs::write(&bin, &original).unwrap();
    }
    rt.delete_force(b.id()).ok();
    assert!(
        !overwritten,
        "the container overwrote the runtime binary through /proc/1/exe: {}",
        read(&report)
    );
    assert_eq!(read(&report), "held\nrefused\n");
}
