//! A test engine: its own berth root with the busybox image imported as
//! `bb:1`, a runtime, a unique cgroup parent and a network namespace of its
//! own; removes its containers and mounts on drop, even when the test fails.
//!
//! Every berth command runs in the engine's network namespace (made by a
//! holder process, loopback up): berth's bridges, veths, nftables table and
//! sysctls belong to the netns berth runs in, and one berth root per netns
//! is what berth supports (as one dockerd per host). So parallel tests
//! never share a bridge or a table, and nothing touches the host's network.
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
    /// Holds the network namespace every command runs in, and (crun on a
    /// hybrid host) its mount namespace.
    holder: Child,
    private_mounts: bool,
    /// Commands stay in the test's own network namespace (a registry on
    /// the host's loopback): such a test must not make networks.
    host_network: bool,
}

/// True when /sys/fs/cgroup/unified is a cgroup2 mount (a hybrid host).
fn hybrid_cgroups() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some("/sys/fs/cgroup/unified") && l.contains(" - cgroup2 "))
}

/// A process holding a new network namespace with loopback up and, with
/// `private_mounts`, a private mount namespace without the unified mount.
fn namespace_holder(private_mounts: bool) -> Child {
    let mut unshare = Command::new("unshare");
    unshare.arg("-n");
    let mut script = String::new();
    if private_mounts {
        unshare.args(["-m", "--propagation", "private"]);
        script.push_str("umount /sys/fs/cgroup/unified && ");
    }
    script.push_str("ip link set lo up && echo ready && exec sleep 100000");
    let mut holder = unshare
        .args(["sh", "-c", &script])
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
        "could not prepare the test engine's namespaces"
    );
    holder
}

impl Engine {
    /// `runtime` is `berth` (berth-runtime), `runc` or `crun`.
    /// `BERTH_TEST_ENGINE_RUNTIME=runc|crun` runs the tests written for
    /// berth-runtime with another runtime (the suite passes with all three).
    pub fn new(runtime: &'static str) -> Engine {
        Engine::with_network(runtime, false)
    }

    /// An engine whose commands run in the test's own network namespace,
    /// to reach a registry on its loopback. Its containers must use
    /// `--network none` (or host): nothing may make networks there.
    pub fn on_host_network(runtime: &'static str) -> Engine {
        Engine::with_network(runtime, true)
    }

    fn with_network(runtime: &'static str, host_network: bool) -> Engine {
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
        let private_mounts = runtime == "crun" && hybrid_cgroups();
        Engine {
            runtime,
            cgroups: CgroupParent::new(),
            berth,
            holder: namespace_holder(private_mounts),
            private_mounts,
            host_network,
        }
    }

    /// A command that runs in the engine's namespaces: a test step acting
    /// on the engine's mounts or network, or running berth (as a boot
    /// script does), must see what the engine sees.
    pub fn in_namespace(&self, c: Command) -> Command {
        if self.host_network && !self.private_mounts {
            return c;
        }
        let mut n = Command::new("nsenter");
        n.arg("-t").arg(self.holder.id().to_string());
        if !self.host_network {
            n.arg("-n");
        }
        if self.private_mounts {
            n.arg("-m");
        }
        n.arg("--");
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
            if *first == "run" || *first == "create" || *first == "build" {
                c.arg("--cgroup-parent").arg(self.cgroups.path());
            }
        }
        c.args(args);
        self.in_namespace(c)
    }

    /// This engine's berth as a shell command line (program and
    /// arguments quoted; berth's arguments go after it): the destination
    /// of a `berth migrate` from another engine, as `ssh host berth`
    /// would be.
    pub fn command_line(&self) -> String {
        let c = self.command(&[]);
        assert!(c.get_envs().next().is_none(), "no environment to carry");
        std::iter::once(c.get_program())
            .chain(c.get_args())
            .map(|a| format!("'{}'", a.to_str().unwrap().replace('\'', "'\\''")))
            .collect::<Vec<_>>()
            .join(" ")
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

    /// The engine's network namespace, as `readlink /proc/PID/ns/net`
    /// shows it (what `--network host` containers share).
    pub fn net_ns(&self) -> std::path::PathBuf {
        std::fs::read_link(format!("/proc/{}/ns/net", self.holder.id())).unwrap()
    }

    /// A shell command run in the engine's network namespace, as the
    /// host's side of a test (`wget` to a published port, `ip link`).
    pub fn host_sh(&self, script: &str) -> Output {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        output_within(&mut self.in_namespace(c), COMMAND_TIMEOUT)
    }

    /// Lazily unmounts `m` in the engine's mount namespace.
    pub fn umount(&self, m: &str) -> Result<(), String> {
        if !self.private_mounts {
            return nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH)
                .map_err(|e| format!("umount {m}: {e}"));
        }
        let out = try_output_within(
            Command::new("nsenter")
                .arg("-t")
                .arg(self.holder.id().to_string())
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
        let mountinfo = match self.private_mounts {
            true => format!("/proc/{}/mountinfo", self.holder.id()),
            false => "/proc/self/mountinfo".to_owned(),
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
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// A unique container name for this test run.
pub fn name(tag: &str) -> String {
    berth_testutil::unique_id(&format!("e-{tag}"))
}

/// Output bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `run --rm FLAGS bb:1 sh -c SCRIPT`.
pub fn sh_out(e: &Engine, flags: &[&str], script: &str) -> Output {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["bb:1", "sh", "-c", script]);
    e.run(&args)
}

pub fn sh(e: &Engine, flags: &[&str], script: &str) -> String {
    let out = sh_out(e, flags, script);
    assert!(
        out.status.success(),
        "{flags:?} {script:?}: {}\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}
