//! `linux.seccomp`: the kernel enforces the profile in the container and in
//! exec'd processes; a notify listener gets the descriptor and the state.

mod common;

use std::io::Read;
use std::os::unix::net::UnixListener;
use std::time::Duration;

use common::*;
use serde_json::json;

fn with_profile(b: &mut Bundle, profile: serde_json::Value) {
    b.config_mut()["linux"]["seccomp"] = profile;
    b.set_readonly_root(false);
}

/// SCMP_ACT_ERRNO returns the configured errno; everything else runs.
#[test]
fn denied_syscall_returns_the_configured_errno() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    with_profile(
        &mut b,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}),
    );
    // busybox prints strerror: 13 is EACCES.
    b.set_script("mkdir /tmp/x 2>&1; echo rc=$?; grep '^Seccomp:' /proc/self/status");
    let out = rt.run(&b).ok();
    assert!(out.stdout.contains("Permission denied"), "{out}");
    assert!(out.stdout.contains("rc=1"), "{out}");
    assert!(out.stdout.contains("Seccomp:\t2"), "{out}");
}

/// SCMP_ACT_KILL_PROCESS kills the caller with SIGSYS: the shell sees its
/// `mkdir` child die of signal 31 (status 128+31).
#[test]
fn killed_syscall_kills_the_process() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    with_profile(
        &mut b,
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"}]}),
    );
    b.set_script("mkdir /tmp/y; echo rc=$?; if [ -d /tmp/y ]; then echo created; fi");
    let out = rt.run(&b).ok();
    assert!(
        out.stdout.contains(&format!("rc={}", 128 + libc::SIGSYS)),
        "{out}"
    );
    assert!(!out.stdout.contains("created"), "{out}");
}

/// An exec'd process runs under the container's profile too.
#[test]
fn exec_gets_the_container_profile() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    with_profile(
        &mut b,
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}),
    );
    b.set_script(TERM_AWARE_INIT);
    rt.run_detached(&b).ok();
    let out = rt.exec(b.id(), &["sh", "-c", "mkdir /tmp/z; echo rc=$?"]);
    assert!(out.stdout.contains("rc=1"), "{out}");
}

/// SCMP_ACT_NOTIFY: the listener at listenerPath receives the notify
/// descriptor with the container's state and the metadata; once it closes
/// the descriptor, the trapped syscall fails (ENOSYS) instead of hanging.
#[test]
fn notify_listener_receives_the_descriptor_and_state() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let sock = b.host_dir("listener").join("seccomp.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    with_profile(
        &mut b,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock, "listenerMetadata": "berth-test",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}),
    );
    b.set_script("mkdir /tmp/n 2>/dev/null; echo rc=$?");
    let run = rt.spawn(&["run", "--bundle", b.path().to_str().unwrap(), b.id()]);
    let (mut conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let (payload, fd) = berth_sys::recv_message(std::os::fd::AsFd::as_fd(&conn)).expect("recvmsg");
    let fd = fd.expect("a descriptor came with the message");
    let link = std::fs::read_link(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&fd)
    ))
    .unwrap();
    assert!(
        link.to_string_lossy().contains("seccomp"),
        "not a seccomp notify fd: {link:?}"
    );
    let msg: serde_json::Value = serde_json::from_slice(&payload).expect("the message is JSON");
    assert_eq!(msg["fds"], json!(["seccompFd"]), "{msg}");
    assert_eq!(msg["metadata"], "berth-test", "{msg}");
    assert_eq!(msg["state"]["id"], b.id(), "{msg}");
    assert!(
        msg["pid"].as_u64().unwrap_or(0) > 1,
        "the host pid of the process: {msg}"
    );
    drop(fd);
    let mut rest = String::new();
    let _ = conn.read_to_string(&mut rest);
    let out = run.wait();
    assert!(out.stdout.contains("rc=1"), "{out}");
}

/// The syscalls newer than 2019 (Linux 5.3 to 5.14) that berth-runtime, Rust's
/// std or glibc may use; a profile written before them denies them all.
const NEW_SYSCALLS: [&str; 8] = [
    "close_range",
    "clone3",
    "openat2",
    "faccessat2",
    "pidfd_open",
    "pidfd_send_signal",
    "epoll_pwait2",
    "mount_setattr",
];

/// An allow list as written before Linux 5.3 (the shape of Docker 19.03's
/// default profile, trimmed): nothing newer than `statx`, everything else
/// answers EPERM. `clone` is allowed without namespace flags, as Docker does.
fn old_allow_list(except: &[&str]) -> serde_json::Value {
    let names: Vec<&str> = OLD_ALLOWED
        .split_whitespace()
        .filter(|n| !except.contains(n))
        .collect();
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": names, "action": "SCMP_ACT_ALLOW"},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}
        ]
    })
}

const OLD_ALLOWED: &str =
    "accept accept4 access alarm arch_prctl bind brk capget capset chdir chmod \
    chown clock_getres clock_gettime clock_nanosleep close connect copy_file_range creat dup dup2 \
    dup3 epoll_create epoll_create1 epoll_ctl epoll_pwait epoll_wait eventfd eventfd2 execve \
    execveat exit exit_group faccessat fadvise64 fallocate fchdir fchmod fchmodat fchown fchownat \
    fcntl fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstatfs fsync \
    ftruncate futex futimesat getcpu getcwd getdents getdents64 getegid geteuid getgid getgroups \
    getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid getresuid \
    getrlimit get_robust_list getrusage getsid getsockname getsockopt gettid gettimeofday getuid \
    getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch ioctl ioprio_get \
    ioprio_set kill lchown lgetxattr link linkat listen listxattr llistxattr lremovexattr lseek \
    lsetxattr lstat madvise memfd_create mincore mkdir mkdirat mknod mknodat mlock mmap mprotect \
    mremap msync munlock munmap nanosleep newfstatat open openat pause pipe pipe2 poll ppoll prctl \
    pread64 preadv prlimit64 pselect6 pwrite64 pwritev read readahead readlink readlinkat readv \
    recvfrom recvmmsg recvmsg rename renameat renameat2 restart_syscall rmdir rt_sigaction \
    rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait \
    rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam sched_get_priority_max \
    sched_get_priority_min sched_getscheduler sched_setaffinity sched_setattr sched_setparam \
    sched_setscheduler sched_yield select sendfile sendmmsg sendmsg sendto setfsgid setfsuid \
    setgid setgroups setitimer setpgid setpriority setregid setresgid setresuid setreuid setrlimit \
    set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setxattr shutdown \
    sigaltstack socket socketpair splice stat statfs statx symlink symlinkat sync sync_file_range \
    syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime \
    timer_settime timerfd_create timerfd_gettime timerfd_settime times tkill truncate umask uname \
    unlink unlinkat utime utimensat utimes vfork wait4 waitid write writev";

/// A profile that answers EPERM for `name` only.
fn deny_one(name: &str) -> serde_json::Value {
    json!({"defaultAction": "SCMP_ACT_ALLOW",
           "syscalls": [{"names": [name], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]})
}

/// `run` of a script that exits 0, then `exec` into a running container,
/// both under `profile` with noNewPrivileges `nnp`; and the capabilities
/// the process ends with are exactly the configured ones (loading a filter
/// without no_new_privs must not leave CAP_SYS_ADMIN behind).
fn runs_under(profile: &serde_json::Value, nnp: bool, what: &str) {
    let rt = runtime();
    // CAP_KILL, CAP_NET_BIND_SERVICE, CAP_AUDIT_WRITE: the test default.
    let caps = format!("{:016x}", (1u64 << 5) | (1 << 10) | (1 << 29));
    let mut b = Bundle::new(&rt);
    with_profile(&mut b, profile.clone());
    b.config_mut()["process"]["noNewPrivileges"] = json!(nnp);
    b.set_script("grep -E '^Cap(Prm|Eff)' /proc/self/status; echo ran");
    let out = rt.run(&b);
    assert!(out.success(), "run, {what}, noNewPrivileges {nnp}:\n{out}");
    assert!(out.stdout.ends_with("ran\n"), "{what}, nnp {nnp}:\n{out}");
    assert!(
        out.stdout.contains(&format!("CapPrm:\t{caps}"))
            && out.stdout.contains(&format!("CapEff:\t{caps}")),
        "{what}, nnp {nnp}: capabilities differ from the config:\n{out}"
    );

    let mut b = Bundle::new(&rt);
    with_profile(&mut b, profile.clone());
    b.config_mut()["process"]["noNewPrivileges"] = json!(nnp);
    run_term_aware(&rt, &mut b);
    let out = rt.exec(
        b.id(),
        &[
            "sh",
            "-c",
            "grep -E '^Cap(Prm|Eff)' /proc/self/status; echo exec-ran",
        ],
    );
    assert!(out.success(), "exec, {what}, noNewPrivileges {nnp}:\n{out}");
    assert!(
        out.stdout.ends_with("exec-ran\n"),
        "{what}, nnp {nnp}:\n{out}"
    );
    assert!(
        out.stdout.contains(&format!("CapPrm:\t{caps}")),
        "exec, {what}, nnp {nnp}: capabilities differ from the config:\n{out}"
    );
}

macro_rules! denied_new_syscall {
    ($($test:ident: $name:literal,)*) => {$(
        /// Denying a syscall newer than 2019 breaks neither `run` nor `exec`.
        #[test]
        fn $test() {
            require_root!();
            assert!(NEW_SYSCALLS.contains(&$name));
            for nnp in [true, false] {
                runs_under(&deny_one($name), nnp, concat!($name, " denied"));
            }
        }
    )*};
}

denied_new_syscall! {
    denied_close_range_runs: "close_range",
    denied_clone3_runs: "clone3",
    denied_openat2_runs: "openat2",
    denied_faccessat2_runs: "faccessat2",
    denied_pidfd_open_runs: "pidfd_open",
    denied_pidfd_send_signal_runs: "pidfd_send_signal",
    denied_epoll_pwait2_runs: "epoll_pwait2",
    denied_mount_setattr_runs: "mount_setattr",
}

/// Docker 19.03-style profile: default ERRNO, an allow list without any
/// post-5.3 syscall. `run` and `exec` of busybox sh work with and without
/// no_new_privs (Docker's and Kubernetes' default is without).
#[test]
fn old_allow_list_profile_runs_busybox_sh() {
    require_root!();
    for n in NEW_SYSCALLS {
        assert!(!OLD_ALLOWED.split_whitespace().any(|a| a == n), "{n}");
    }
    for nnp in [true, false] {
        runs_under(&old_allow_list(&[]), nnp, "old allow list");
    }
}

/// startContainer hooks fork and exec in the container; glibc's spawn uses
/// clone3, which an old profile answers with EPERM. The hooks run before
/// the filter is loaded, so they work.
#[test]
fn start_container_hook_runs_under_an_old_profile() {
    require_root!();
    let rt = runtime();
    for (what, profile) in [
        ("clone3 denied", deny_one("clone3")),
        ("old allow list", old_allow_list(&[])),
    ] {
        for nnp in [true, false] {
            let mut b = Bundle::new(&rt);
            with_profile(&mut b, profile.clone());
            b.config_mut()["process"]["noNewPrivileges"] = json!(nnp);
            // Runs in the container: the path is the rootfs's busybox.
            b.add_hook(
                "startContainer",
                "/bin/sh",
                &["sh", "-c", "echo hooked > /tmp/hook"],
            );
            b.set_script("cat /tmp/hook");
            let out = rt.run(&b);
            assert!(out.success(), "{what}, nnp {nnp}:\n{out}");
            assert_eq!(out.stdout, "hooked\n", "{what}, nnp {nnp}:\n{out}");
        }
    }
}

/// A cwd of / is legitimate even when the profile denies getcwd (the
/// runtime's breakout check must not run under the user's filter).
#[test]
fn cwd_root_works_when_the_profile_denies_getcwd() {
    require_root!();
    let rt = runtime();
    // runc checks the cwd under the filter and fails ("failed to verify if
    // current working directory is safe: operation not permitted").
    if skip_unless_berth(&rt, "runc checks the cwd after loading the filter") {
        return;
    }
    for nnp in [true, false] {
        let mut b = Bundle::new(&rt);
        with_profile(&mut b, old_allow_list(&["getcwd"]));
        b.config_mut()["process"]["noNewPrivileges"] = json!(nnp);
        b.config_mut()["process"]["cwd"] = json!("/");
        b.set_script("echo in-root");
        let out = rt.run(&b);
        assert!(out.success(), "nnp {nnp}:\n{out}");
        assert_eq!(out.stdout, "in-root\n", "nnp {nnp}:\n{out}");
    }
}

/// Runs `script` under a profile that gives `mkdir`/`mkdirat` `action`.
fn run_with_mkdir_action(action: &str, script: &str) -> Output {
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    with_profile(
        &mut b,
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": action}]}),
    );
    b.set_script(script);
    rt.run(&b).ok()
}

const MKDIR: &str = "mkdir /tmp/d 2>&1; echo rc=$?; if [ -d /tmp/d ]; then echo created; fi";

/// SCMP_ACT_TRAP: the caller gets SIGSYS (status 128+31 in the shell).
#[test]
fn trap_action_raises_sigsys() {
    require_root!();
    let out = run_with_mkdir_action("SCMP_ACT_TRAP", MKDIR);
    assert!(
        out.stdout.contains(&format!("rc={}", 128 + libc::SIGSYS)),
        "{out}"
    );
    assert!(!out.stdout.contains("created"), "{out}");
}

/// SCMP_ACT_KILL_THREAD: the calling (only) thread dies of SIGSYS.
#[test]
fn kill_thread_action_kills_the_caller() {
    require_root!();
    let out = run_with_mkdir_action("SCMP_ACT_KILL_THREAD", MKDIR);
    assert!(
        out.stdout.contains(&format!("rc={}", 128 + libc::SIGSYS)),
        "{out}"
    );
    assert!(!out.stdout.contains("created"), "{out}");
}

/// SCMP_ACT_LOG: the call is allowed (and logged).
#[test]
fn log_action_allows_the_call() {
    require_root!();
    let out = run_with_mkdir_action("SCMP_ACT_LOG", MKDIR);
    assert!(out.stdout.contains("rc=0"), "{out}");
    assert!(out.stdout.contains("created"), "{out}");
}

/// SCMP_ACT_TRACE without a tracer: the kernel fails the call with ENOSYS.
#[test]
fn trace_action_without_a_tracer_fails_with_enosys() {
    require_root!();
    let out = run_with_mkdir_action("SCMP_ACT_TRACE", MKDIR);
    assert!(out.stdout.contains("Function not implemented"), "{out}");
    assert!(out.stdout.contains("rc=1"), "{out}");
    assert!(!out.stdout.contains("created"), "{out}");
}

/// The filter flags reach the kernel: with each, the filter is in place
/// (one filter, mkdir denied); SPEC_ALLOW leaves speculative store bypass
/// as the host has it, where a filter without it would force the
/// mitigation (on hosts whose mitigation mode is `seccomp`).
#[test]
fn filter_flags_are_accepted_and_take_effect() {
    require_root!();
    let rt = runtime();
    if skip_unless_berth(&rt, "runc 1.1: seccomp flags are not yet supported") {
        return;
    }
    let script = "mkdir /tmp/f 2>/dev/null; echo rc=$?; grep -E '^(Seccomp|Seccomp_filters|Speculation_Store_Bypass):' /proc/self/status";
    let run = |flags: serde_json::Value| {
        let mut b = Bundle::new(&rt);
        with_profile(
            &mut b,
            json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": flags,
                   "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}),
        );
        b.set_script(script);
        rt.run(&b).ok().stdout
    };
    let ssb = |out: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix("Speculation_Store_Bypass:"))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    // SECCOMP_FILTER_FLAG_LOG: log_flag_audits_errno_actions.
    for flag in [
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    ] {
        let out = run(json!([flag]));
        assert!(out.contains("rc=1"), "{flag}: mkdir not denied:\n{out}");
        assert!(out.contains("Seccomp:\t2"), "{flag}:\n{out}");
        assert!(out.contains("Seccomp_filters:\t1"), "{flag}:\n{out}");
    }
    let without = ssb(&run(json!([])));
    let with = ssb(&run(json!(["SECCOMP_FILTER_FLAG_SPEC_ALLOW"])));
    assert_ne!(
        with, "thread force mitigated",
        "SPEC_ALLOW did not reach the kernel"
    );
    if without == "thread force mitigated" {
        assert_ne!(with, without);
    }
}

/// The kernel log from now on: `/dev/kmsg` positioned at its end.
struct KernelLog(std::fs::File);

impl KernelLog {
    fn open() -> KernelLog {
        use std::io::{Seek, SeekFrom};
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::File::options()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .expect("open /dev/kmsg");
        f.seek(SeekFrom::End(0)).expect("seek /dev/kmsg");
        KernelLog(f)
    }

    /// The records logged since `open` (or the last call).
    fn new_records(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 8192];
        loop {
            match self.0.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
                // Records overwritten before we read them.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(_) => break,
            }
        }
        out
    }
}

/// SECCOMP_FILTER_FLAG_LOG: an ERRNO action, which the kernel does not log
/// otherwise, is audited (type=1326, code=0x50000, SECCOMP_RET_ERRNO). No
/// other test uses the flag with ERRNO. The kernel rate-limits these
/// lines, so the logged run is tried a few times; the unlogged run can
/// only fail by a line that should not exist.
#[test]
fn log_flag_audits_errno_actions() {
    require_root!();
    let rt = runtime();
    if skip_unless_berth(&rt, "runc 1.1: seccomp flags are not yet supported") {
        return;
    }
    let run = |flags: serde_json::Value| {
        let mut b = Bundle::new(&rt);
        with_profile(
            &mut b,
            json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": flags,
                   "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}),
        );
        b.set_script("mkdir /tmp/l 2>/dev/null; echo rc=$?");
        assert_eq!(rt.run(&b).ok().stdout, "rc=1\n");
    };
    let audited = |records: &[String]| {
        records.iter().any(|r| {
            r.contains("type=1326") && r.contains("comm=\"mkdir\"") && r.contains("code=0x50000")
        })
    };
    let mut log = KernelLog::open();
    run(json!([]));
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !audited(&log.new_records()),
        "an ERRNO action was audited without the LOG flag"
    );
    let mut seen = false;
    for _ in 0..5 {
        run(json!(["SECCOMP_FILTER_FLAG_LOG"]));
        std::thread::sleep(Duration::from_millis(300));
        if audited(&log.new_records()) {
            seen = true;
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(
        seen,
        "no audit record of the ERRNO action with SECCOMP_FILTER_FLAG_LOG"
    );
}

/// A bundle whose container sees the host's /usr (read-only), so the
/// host's dynamically linked programs (perl) run in it.
fn bundle_with_host_usr(rt: &Runtime, profile: serde_json::Value, nnp: bool) -> Bundle {
    let mut b = Bundle::new(rt);
    with_profile(&mut b, profile);
    b.config_mut()["process"]["noNewPrivileges"] = json!(nnp);
    let root = b.rootfs();
    std::fs::create_dir_all(root.join("usr")).unwrap();
    for (link, to) in [("lib", "usr/lib"), ("lib64", "usr/lib64")] {
        let _ = std::os::unix::fs::symlink(to, root.join(link));
    }
    b.add_mount("/usr", "bind", "/usr", &["rbind", "ro"]);
    b
}

/// As runc does: under a profile that names no syscall newer than some
/// number (an old allow list), newer syscalls fail with ENOSYS rather than
/// the default EPERM, so glibc falls back from clone3 to clone and a
/// threaded program (Debian's perl with ithreads) works; a syscall the
/// profile knows and denies still gets EPERM.
#[test]
fn newer_syscalls_than_the_profile_fail_with_enosys() {
    require_root!();
    let rt = runtime();
    for nnp in [true, false] {
        let mut b = bundle_with_host_usr(&rt, old_allow_list(&["mkdir", "mkdirat"]), nnp);
        // 435 is clone3 on x86_64 and aarch64.
        b.set_script(
            "/usr/bin/perl -e 'syscall(435, 0, 0); print $!+0, \"\\n\"'; \
             mkdir /tmp/m 2>/dev/null; echo mkdir=$?; \
             /usr/bin/perl -Mthreads -e 'threads->create(sub { print \"thread ran\\n\" })->join'",
        );
        let out = rt.run(&b);
        assert!(out.success(), "nnp {nnp}:\n{out}");
        assert_eq!(out.stdout, "38\nmkdir=1\nthread ran\n", "nnp {nnp}:\n{out}");
    }
}

/// With a default action that allows, nothing changes: an unnamed newer
/// syscall runs (clone3 with a null argument fails with EFAULT/EINVAL, not
/// ENOSYS).
#[test]
fn enosys_stub_is_not_added_to_an_allowing_profile() {
    require_root!();
    let rt = runtime();
    let mut b = bundle_with_host_usr(&rt, deny_one("mkdir"), true);
    b.set_script("/usr/bin/perl -e 'syscall(435, 0, 0); print $!+0, \"\\n\"'");
    let out = rt.run(&b).ok();
    assert_ne!(out.stdout, "38\n", "{out}");
    assert_ne!(out.stdout, "1\n", "{out}");
}

/// A non-root user under an old profile without no_new_privs: the user
/// change, the capability sets (ambient ones included) and the filter all
/// hold, with nothing left of the CAP_SYS_ADMIN the load needed.
#[test]
fn old_profile_with_a_non_root_user() {
    require_root!();
    let rt = runtime();
    let caps = format!("{:016x}", (1u64 << 5) | (1 << 10) | (1 << 29));
    let mut b = Bundle::new(&rt);
    with_profile(&mut b, old_allow_list(&["mkdir", "mkdirat"]));
    b.config_mut()["process"]["noNewPrivileges"] = json!(false);
    b.config_mut()["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
    b.config_mut()["process"]["capabilities"]["inheritable"] =
        json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    b.set_script(
        "id -u; grep -E '^(CapPrm|CapEff|CapAmb|Seccomp):' /proc/self/status; \
         mkdir /tmp/u 2>/dev/null; echo mkdir=$?",
    );
    let out = rt.run(&b).ok();
    for want in [
        "1000\n".to_string(),
        format!("CapPrm:\t{caps}\n"),
        format!("CapEff:\t{caps}\n"),
        format!("CapAmb:\t{caps}\n"),
        "Seccomp:\t2\n".to_string(),
        "mkdir=1\n".to_string(),
    ] {
        assert!(out.stdout.contains(&want), "no {want:?} in:\n{out}");
    }
}

/// A profile that denies capset, without no_new_privs: the runtime needs
/// no capset under the filter (execve recomputes the sets), so the program
/// runs, with exactly the configured capabilities.
#[test]
fn capset_denied_without_no_new_privs() {
    require_root!();
    let rt = runtime();
    if skip_unless_berth(&rt, "runc sets capabilities after loading the filter") {
        return;
    }
    let caps = format!("{:016x}", (1u64 << 5) | (1 << 10) | (1 << 29));
    for user in [
        json!({ "uid": 0, "gid": 0 }),
        json!({ "uid": 1000, "gid": 1000 }),
    ] {
        let mut b = Bundle::new(&rt);
        with_profile(&mut b, deny_one("capset"));
        b.config_mut()["process"]["noNewPrivileges"] = json!(false);
        b.config_mut()["process"]["user"] = user.clone();
        b.config_mut()["process"]["capabilities"]["inheritable"] =
            json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
        b.set_script("grep -E '^Cap(Prm|Eff):' /proc/self/status");
        let out = rt.run(&b);
        assert!(out.success(), "user {user}:\n{out}");
        assert_eq!(
            out.stdout,
            format!("CapPrm:\t{caps}\nCapEff:\t{caps}\n"),
            "user {user}:\n{out}"
        );
    }
}
