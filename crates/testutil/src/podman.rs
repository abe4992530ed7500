//! A private Podman for client tests: Debian's `podman`, driving the
//! runtime under test with `--runtime`, with its own storage, state,
//! configuration and cgroup parent, all removed on drop.
//!
//! Nothing is shared with the host's Podman or with another test: storage
//! (`--root`, `--runroot`), Podman's temp dir (`--tmpdir`, which holds its
//! locks with `lock_type = "file"` instead of the machine-wide
//! `/dev/shm/libpod_lock`), the events log, the network config dir, and
//! the `containers.conf` / `storage.conf` read (`CONTAINERS_CONF`,
//! `CONTAINERS_STORAGE_CONF`, so `/etc/containers` plays no part).
//! Containers run with `--network none` (no bridge, no NAT) under a
//! [`CgroupParent`] of their own. The runtime keeps its default state root
//! (`/run/<runtime>`): Podman 4.3 does not hand `--runtime-flag` on to the
//! cleanup process it starts when a container exits.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cgroup::CgroupParent;
use crate::root::root_required_by_env;
use crate::rootfs::busybox_rootfs;
use crate::runtime::{Output, Runtime};
use crate::skip::skipped;
use crate::tempdir::TempDir;

/// The image every test container runs: the busybox rootfs, imported.
pub const PODMAN_IMAGE: &str = "localhost/berth-busybox:test";

/// How long one podman command may take before the test fails.
const PODMAN_TIMEOUT: Duration = Duration::from_secs(120);

/// The host's hard limits are below Podman's defaults (nofile 1048576,
/// nproc 4194304), which the runtime could not set.
const ULIMITS: &str = r#"["nofile=20000:20000", "nproc=4096:4096"]"#;

/// A private Podman instance using `runtime`; see the module docs.
#[derive(Debug)]
pub struct Podman {
    bin: PathBuf,
    runtime: Runtime,
    io_dir: PathBuf,
    next_io: AtomicU64,
    global: Vec<String>,
    env: Vec<(String, PathBuf)>,
    // Dropped in this order after Drop::drop removed the containers.
    cgroup: CgroupParent,
    dir: TempDir,
}

impl Podman {
    /// A Podman with the busybox image imported, or `None` (after a
    /// visible SKIPPED) when podman is not installed and neither `CI` nor
    /// `BERTH_REQUIRE_ROOT` asks for every test to run.
    pub fn start(runtime: &Runtime) -> Option<Podman> {
        let Some(bin) = Runtime::find("podman") else {
            let why = "podman is not installed (apt-get install podman)";
            assert!(
                !root_required_by_env(),
                "{why}, and CI requires the Podman tests"
            );
            skipped(why);
            return None;
        };
        // A short prefix: conmon's attach socket path must fit in 108 bytes.
        let dir = TempDir::new("bp").expect("create podman temp dir");
        for sub in ["root", "runroot", "tmp", "networks", "io"] {
            fs::create_dir(dir.join(sub)).expect("create podman dir");
        }
        let p = |sub: &str| dir.join(sub).to_str().expect("UTF-8 temp dir").to_owned();
        fs::write(
            dir.join("containers.conf"),
            format!(
                "[containers]\ndefault_ulimits = {ULIMITS}\nlog_driver = \"k8s-file\"\n\
                 [engine]\nlock_type = \"file\"\nevents_logger = \"file\"\n\
                 cgroup_manager = \"cgroupfs\"\n\
                 [network]\nnetwork_config_dir = \"{}\"\n",
                p("networks")
            ),
        )
        .expect("write containers.conf");
        fs::write(
            dir.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"overlay\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
                p("root"),
                p("runroot")
            ),
        )
        .expect("write storage.conf");
        let global = [
            "--root",
            &p("root"),
            "--runroot",
            &p("runroot"),
            "--tmpdir",
            &p("tmp"),
            "--storage-driver",
            "overlay",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
            "--runtime",
            runtime.bin().to_str().expect("UTF-8 runtime path"),
        ]
        .map(str::to_owned)
        .to_vec();
        let env = vec![
            ("CONTAINERS_CONF".to_owned(), dir.join("containers.conf")),
            (
                "CONTAINERS_STORAGE_CONF".to_owned(),
                dir.join("storage.conf"),
            ),
        ];
        let podman = Podman {
            bin,
            runtime: runtime.clone(),
            io_dir: dir.join("io"),
            next_io: AtomicU64::new(0),
            global,
            env,
            cgroup: CgroupParent::new(),
            dir,
        };
        podman.import_busybox();
        Some(podman)
    }

    fn import_busybox(&self) {
        let rootfs = self.dir.join("image");
        busybox_rootfs(&rootfs).expect("build busybox rootfs");
        let tar = self.dir.join("image.tar");
        let status = crate::status_within(
            Command::new("tar")
                .arg("-C")
                .arg(&rootfs)
                .arg("-cf")
                .arg(&tar)
                .arg("."),
            crate::COMMAND_TIMEOUT,
        );
        assert!(status.success(), "tar of the busybox rootfs failed");
        self.ok(&["import", path_str(&tar), PODMAN_IMAGE]);
        fs::remove_dir_all(&rootfs).expect("remove image rootfs");
    }

    /// The runtime Podman drives.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The cgroup parent every container of this Podman goes under.
    pub fn cgroup_parent(&self) -> &CgroupParent {
        &self.cgroup
    }

    /// A directory of this instance, for volumes and seccomp profiles.
    pub fn host_dir(&self, name: &str) -> PathBuf {
        let d = self.dir.join(name);
        fs::create_dir_all(&d).expect("create host dir");
        d
    }

    /// `podman <global flags> <args>` to completion (stdin on /dev/null).
    pub fn cmd(&self, args: &[&str]) -> Output {
        let n = self.next_io.fetch_add(1, Ordering::Relaxed);
        let stdout_path = self.io_dir.join(format!("{n}.stdout"));
        let stderr_path = self.io_dir.join(format!("{n}.stderr"));
        let mut c = Command::new(&self.bin);
        c.args(&self.global)
            .args(args)
            .stdin(Stdio::null())
            .stdout(File::create(&stdout_path).expect("create stdout file"))
            .stderr(File::create(&stderr_path).expect("create stderr file"));
        for (k, v) in &self.env {
            c.env(k, v);
        }
        let argv = format!("podman {}", args.join(" "));
        let mut child = c
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.bin.display()));
        let deadline = Instant::now() + PODMAN_TIMEOUT;
        let status = loop {
            match child.try_wait().expect("wait for podman") {
                Some(status) => break status,
                None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                None => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "`{argv}` timed out after {PODMAN_TIMEOUT:?}; stderr:\n{}",
                        fs::read_to_string(&stderr_path).unwrap_or_default()
                    );
                }
            }
        };
        Output {
            status,
            argv,
            stdout: fs::read_to_string(&stdout_path).unwrap_or_default(),
            stderr: fs::read_to_string(&stderr_path).unwrap_or_default(),
            stdout_path,
            stderr_path,
        }
    }

    /// [`cmd`](Self::cmd), which must succeed.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> Output {
        self.cmd(args).ok()
    }

    /// `podman run <flags> <extra> IMAGE <argv>`, where the flags keep the
    /// container off the network and in this instance's cgroup parent.
    pub fn run(&self, extra: &[&str], argv: &[&str]) -> Output {
        let parent = self.cgroup.path();
        let mut args = vec!["run", "--network", "none", "--cgroup-parent", &parent];
        args.extend_from_slice(extra);
        args.push(PODMAN_IMAGE);
        args.extend_from_slice(argv);
        self.cmd(&args)
    }

    /// `run -d` of a shell script; returns the container id.
    #[track_caller]
    pub fn run_detached(&self, extra: &[&str], script: &str) -> String {
        let mut flags = vec!["-d"];
        flags.extend_from_slice(extra);
        let out = self.run(&flags, &["sh", "-c", script]).ok();
        out.stdout.trim().to_owned()
    }

    /// `podman inspect` of one container.
    #[track_caller]
    pub fn inspect(&self, id: &str) -> Value {
        let out = self.ok(&["inspect", id]);
        let v: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("inspect {id}: not JSON ({e}):\n{}", out.stdout));
        v[0].clone()
    }

    /// `State.Status` of a container: `running`, `paused`, `exited`...
    pub fn status(&self, id: &str) -> String {
        self.inspect(id)["State"]["Status"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The host pid of a running container's init.
    pub fn pid(&self, id: &str) -> u32 {
        let pid = self.inspect(id)["State"]["Pid"].as_u64().unwrap_or(0);
        assert!(pid > 0, "container {id} has no pid");
        pid as u32
    }

    /// The container's cgroup, as an absolute cgroup path
    /// (`/<parent>/libpod-<id>` with the cgroupfs manager).
    pub fn cgroup_of(&self, id: &str) -> String {
        format!("{}/libpod-{id}", self.cgroup.path())
    }

    /// The runtime's state directory for container `id`: Podman does not
    /// pass `--root`, so it is the runtime's default.
    pub fn runtime_state_dir(&self, id: &str) -> PathBuf {
        let root = if self.runtime.is_berth() {
            "/run/berth-runtime".to_owned()
        } else {
            format!("/run/{}", self.runtime.name())
        };
        Path::new(&root).join(id)
    }

    /// `podman logs` of a container (stdout and stderr, as Podman keeps
    /// them in one k8s-file log).
    pub fn logs(&self, id: &str) -> String {
        let out = self.ok(&["logs", id]);
        out.stdout + &out.stderr
    }

    /// Waits until the container's log holds `text`; false after
    /// `timeout`. Reads Podman's k8s-file log itself rather than polling
    /// `podman logs`, which is slow on an emulated test machine.
    pub fn wait_for_log(&self, id: &str, text: &str, timeout: Duration) -> bool {
        let inspect = self.inspect(id);
        let log = inspect["HostConfig"]["LogConfig"]["Path"]
            .as_str()
            .unwrap_or_default();
        assert!(!log.is_empty(), "container {id} has no log path: {inspect}");
        crate::host::wait_until(timeout, || {
            fs::read_to_string(log).is_ok_and(|l| l.contains(text))
        })
    }

    /// Paths mounted under this instance's directory (its storage).
    pub fn mounts(&self) -> Vec<String> {
        crate::host::mountinfo()
            .into_iter()
            .map(|m| m.mount_point)
            .filter(|p| Path::new(p).starts_with(self.dir.path()))
            .collect()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Containers first (a failed test may leave some running): their
        // conmon, runtime state, storage mounts. Quiet and bounded.
        let mut c = Command::new(&self.bin);
        c.args(&self.global)
            .args(["rm", "--all", "--force", "--time", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        if let Ok(mut child) = c.spawn() {
            let done = crate::host::wait_until(Duration::from_secs(60), || {
                !matches!(child.try_wait(), Ok(None))
            });
            if !done {
                eprintln!("warning: `podman rm --all --force` hung; killed it");
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        // Then the image layers Podman keeps mounted, if any.
        let mut left = self.mounts();
        left.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for m in left {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        // The cgroup parent (with conmon's cgroup) and the temp dir go
        // when the fields drop.
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}
