//! A test engine: its own berth root with the busybox image imported as
//! `bb:1`, a runtime, and a unique cgroup parent; removes its containers
//! and mounts on drop, even when the test fails.

use std::process::{Command, Output, Stdio};

use berth_testutil::CgroupParent;

use super::{rootfs_tar, Berth};

pub struct Engine {
    pub runtime: &'static str,
    pub cgroups: CgroupParent,
    pub berth: Berth,
}

impl Engine {
    pub fn new(runtime: &'static str) -> Engine {
        let berth = Berth::new();
        let tar = rootfs_tar(berth.dir.path());
        berth.ok(&["import", tar.to_str().unwrap(), "bb:1"]);
        Engine {
            runtime,
            cgroups: CgroupParent::new(),
            berth,
        }
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
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().unwrap()
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

    pub fn mounts_under_root(&self) -> Vec<String> {
        let root = self.berth.root.to_str().unwrap().to_owned();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
            .filter(|m| m.starts_with(&root))
            .collect()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Ok(out) = self.command(&["ps", "-aq", "--no-trunc"]).output() {
            for id in String::from_utf8_lossy(&out.stdout).lines() {
                let _ = self.command(&["rm", "-f", id]).output();
            }
        }
        for m in self.mounts_under_root().iter().rev() {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

/// A unique container name for this test run.
pub fn name(tag: &str) -> String {
    berth_testutil::unique_id(&format!("e-{tag}"))
}
