//! The pids limit the kernel enforces: fork fails once the container's
//! cgroup holds `linux.resources.pids.limit` tasks, and `update
//! --pids-limit` moves the limit of a running container.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use common::*;
use serde_json::json;

/// Starts `sleep 100 &` up to `n` times from a subshell (ash gives up on
/// the first fork that fails, and the subshell keeps that from ending the
/// script), printing the count after each success, then `forks-done`.
/// Builtins only besides the sleeps: at the limit nothing else can fork.
/// The sleeps get /dev/null for stdio, so they do not hold an `exec`'s
/// output pipes open (runc exec waits for EOF on them).
fn fork_sleeps(n: u32) -> String {
    format!(
        "(i=0; while [ $i -lt {n} ]; do sleep 100 </dev/null >/dev/null 2>&1 & i=$((i+1)); echo $i; done) 2>&1; \
         echo forks-done"
    )
}

/// The last count [`fork_sleeps`] printed (0 if none).
fn forks_made(out: &str) -> u32 {
    out.lines()
        .rev()
        .find_map(|l| l.trim().parse().ok())
        .unwrap_or(0)
}

/// With `pids.limit` 5, fork fails once 5 tasks exist: the init shell and
/// its subshell leave room for exactly 3 sleeps, the 4th fork fails with
/// EAGAIN ("can't fork").
#[test]
fn fork_fails_past_the_limit() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.config_mut()["linux"]["resources"]["pids"] = json!({ "limit": 5 });
    b.set_script(&fork_sleeps(10));
    let out = rt.run(&b).ok();
    assert_eq!(forks_made(&out.stdout), 3, "{out}");
    assert!(
        out.stdout.contains("can't fork") || out.stdout.contains("Resource temporarily"),
        "no fork failure reported:\n{out}"
    );
    assert!(out.stdout.ends_with("forks-done\n"), "{out}");
}

/// Wakes a container blocked in `read x < fifo` (a builtin: a shell at
/// its pids limit can still wait that way). Opening without blocking fails
/// until the reader is there, so a container that died fails the test
/// instead of hanging it.
fn signal_fifo(fifo: &Path) {
    let opened = || {
        OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(fifo)
    };
    let mut writer = None;
    assert!(
        wait_until(STATE_TIMEOUT, || {
            writer = opened().ok();
            writer.is_some()
        }),
        "nobody reads {}",
        fifo.display()
    );
    writer.unwrap().write_all(b"go\n").expect("write fifo");
}

/// `update --pids-limit` moves a running container's limit: `pids.max`
/// shows it, and forks that the old limit refused then succeed. The
/// container's own init forks, on the host's signal, so no `exec` (whose
/// runtime processes count against the limit too) is needed.
#[test]
fn update_pids_limit_live() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let ctl = b.host_dir("ctl");
    for fifo in ["go1", "go2", "park"] {
        nix::unistd::mkfifo(
            &ctl.join(fifo),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .expect("mkfifo");
    }
    b.add_mount("/ctl", "bind", ctl.to_str().unwrap(), &["rbind", "rw"]);
    // The init, a subshell and 2 sleeps: the 3rd sleep cannot fork.
    b.config_mut()["linux"]["resources"]["pids"] = json!({ "limit": 4 });
    let forks = fork_sleeps(5);
    b.set_script(&format!(
        "read x < /ctl/go1; {{ {forks}; }} > /ctl/out1; \
         read x < /ctl/go2; {{ {forks}; }} > /ctl/out2; \
         read x < /ctl/park"
    ));
    rt.run_detached(&b).ok();
    let done = |name: &str| {
        let path = ctl.join(name);
        assert!(
            wait_until(STATE_TIMEOUT, || fs::read_to_string(&path)
                .is_ok_and(|s| s.ends_with("forks-done\n"))),
            "{name}: {:?}",
            fs::read_to_string(&path)
        );
        fs::read_to_string(&path).unwrap()
    };

    signal_fifo(&ctl.join("go1"));
    let before = done("out1");
    assert_eq!(forks_made(&before), 2, "pids.max=4:\n{before}");
    assert!(before.contains("can't fork"), "{before}");

    rt.cmd(&["update", "--pids-limit", "20", b.id()]).ok();
    assert_eq!(CgroupParent::read_file(&b.cgroup_path(), "pids.max"), "20");
    signal_fifo(&ctl.join("go2"));
    let after = done("out2");
    assert_eq!(forks_made(&after), 5, "pids.max=20:\n{after}");
}
