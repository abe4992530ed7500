//! A test engine: its own berth root with the busybox image imported as
//! `bb:1`, a runtime, and a unique cgroup parent; removes its containers
//! and mounts on drop, even when the test fails.
//!
//! crun 1.8 refuses a hybrid cgroup host (v1 controllers plus an empty
//! cgroup2 at /sys/fs/cgroup/unified). On such a host a crun engine runs
//! every berth command (and so its monitors and mounts) in one private
//! mount namespace without that mount, the way bench/ runs crun; elsewhere
//! it runs crun directly.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

use berth_testutil::{output_within, try_output_within, CgroupParent, COMMAND_TIMEOUT};

use super::{rootfs_tar, Berth};

pub struct Engine {
    pub runtime: &'static str,
    pub cgroups: CgroupParent,
    pub berth: Berth,
    /// The mount namespace every command runs in (crun on a hybrid host).
    mount_ns: Option<Child>,
}

/// True when /sys/fs/cgroup/unified is a cgroup2 mount (a hybrid host).
fn hybrid_cgroups() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some("/sys/fs/cgroup/unified") && l.contains(" - cgroup2 "))
}

/// A process holding a private mount namespace without the unified mount.
fn private_mount_ns() -> Child {
    let mut holder = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg("umount /sys/fs/cgroup/unified && echo ready && exec sleep 100000")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("unshare (util-linux)");
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        line, "ready\n",
        "could not prepare a mount namespace for crun"
    );
    holder
}

impl Engine {
    /// `runtime` is `berth` (berth-runtime), `runc` or `crun`.
    /// `BERTH_TEST_ENGINE_RUNTIME=runc|crun` runs the tests written for
    /// berth-runtime with another runtime (the suite passes with all three).
    pub fn new(runtime: &'static str) -> Engine {
        let runtime = match (
            runtime,
            std::env::var("BERTH_TEST_ENGINE_RUNTIME").as_deref(),
        ) {
            ("berth", Ok("runc")) => "runc",
            ("berth", Ok("crun")) => "crun",
            ("berth", Ok(other)) if other != "berth" => {
                panic!("BERTH_TEST_ENGINE_RUNTIME={other}: only berth, runc or crun")
            }
            _ => runtime,
        };
        let berth = Berth::new();
        let tar = rootfs_tar(berth.dir.path());
        berth.ok(&["import", tar.to_str().unwrap(), "bb:1"]);
        let mount_ns = (runtime == "crun" && hybrid_cgroups()).then(private_mount_ns);
        Engine {
            runtime,
            cgroups: CgroupParent::new(),
            berth,
            mount_ns,
        }
    }

    /// A command that runs in the engine's mount namespace: a test step
    /// acting on the engine's mounts or running berth (as a boot script
    /// does) must see what the engine sees.
    pub fn in_namespace(&self, c: Command) -> Command {
        let Some(ns) = &self.mount_ns else { return c };
        let mut n = Command::new("nsenter");
        n.arg("-t").arg(ns.id().to_string()).arg("-m").arg("--");
        n.arg(c.get_program()).args(c.get_args());
        for (k, v) in c.get_envs() {
            match v {
                Some(v) => n.env(k, v),
                None => n.env_remove(k),
            };
        }
        n
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = self.berth.command();
        c.arg("--runtime").arg(self.runtime);
        let mut args = args.iter();
        if let Some(first) = args.next() {
            c.arg(first);
            if *first == "run" || *first == "create" {
                c.arg("--cgroup-parent").arg(self.cgroups.path());
            }
        }
        c.args(args);
        self.in_namespace(c)
    }

    pub fn run(&self, args: &[&str]) -> Output {
        output_within(&mut self.command(args), COMMAND_TIMEOUT)
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "berth {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(&self.ok(&["inspect", name])).unwrap();
        v[0].clone()
    }

    /// Lazily unmounts `m` in the engine's mount namespace.
    pub fn umount(&self, m: &str) -> Result<(), String> {
        let Some(ns) = &self.mount_ns else {
            return nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH)
                .map_err(|e| format!("umount {m}: {e}"));
        };
        let out = try_output_within(
            Command::new("nsenter")
                .arg("-t")
                .arg(ns.id().to_string())
                .args(["-m", "--", "umount", "-l", m]),
            COMMAND_TIMEOUT,
        )?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "umount {m}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    pub fn mounts_under_root(&self) -> Vec<String> {
        let root = self.berth.root.to_str().unwrap().to_owned();
        let mountinfo = match &self.mount_ns {
            Some(ns) => format!("/proc/{}/mountinfo", ns.id()),
            None => "/proc/self/mountinfo".to_owned(),
        };
        std::fs::read_to_string(mountinfo)
            .unwrap()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
            .filter(|m| m.starts_with(&root))
            .collect()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Ok(out) = try_output_within(
            &mut self.command(&["ps", "-aq", "--no-trunc"]),
            COMMAND_TIMEOUT,
        ) {
            for id in String::from_utf8_lossy(&out.stdout).lines() {
                if let Err(e) =
                    try_output_within(&mut self.command(&["rm", "-f", id]), COMMAND_TIMEOUT)
                {
                    eprintln!("warning: cleanup: {e}");
                }
            }
        }
        for m in self.mounts_under_root().iter().rev() {
            let _ = self.umount(m);
        }
        if let Some(ns) = &mut self.mount_ns {
            let _ = ns.kill();
            let _ = ns.wait();
        }
    }
}

/// A unique container name for this test run.
pub fn name(tag: &str) -> String {
    berth_testutil::unique_id(&format!("e-{tag}"))
}
