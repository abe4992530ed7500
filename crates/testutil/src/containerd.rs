//! A private containerd for one test binary or test: its own root, state
//! dir, socket, config and namespace under a temp dir, the runtime under
//! test as the runc binary of the `io.containerd.runc.v2` shim, and a
//! busybox image imported from a locally made OCI archive.
//!
//! Dropping it deletes what is left of the test's tasks and containers,
//! stops containerd, kills any shim still running for it, removes the
//! container cgroups and unmounts and removes the temp dir, so a failed
//! test leaves nothing behind.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::cgroup::CgroupParent;
use crate::daemon::{kill_processes_using, Daemon};
use crate::id::unique_id;
use crate::oci_image::{busybox_layer_tar, write_oci_archive};
use crate::runtime::{Output, Spawned, DEFAULT_TIMEOUT};
use crate::tempdir::TempDir;

/// The containerd binary; `BERTH_TEST_CONTAINERD` overrides it.
const CONTAINERD: &str = "/usr/bin/containerd";
/// The ctr binary; `BERTH_TEST_CTR` overrides it.
const CTR: &str = "/usr/bin/ctr";
/// The name the test image is imported under.
pub const BUSYBOX_IMAGE: &str = "docker.io/library/berth-busybox:latest";

/// A running private containerd. See the module documentation.
#[derive(Debug)]
pub struct Containerd {
    daemon: Option<Daemon>,
    socket: PathBuf,
    namespace: String,
    runtime_bin: PathBuf,
    cgroups: CgroupParent,
    next_io: AtomicU64,
    // Last: removed (and unmounted) after everything above is gone.
    dir: TempDir,
}

impl Containerd {
    /// Starts containerd with its own root, state, socket and config under
    /// a new temp dir; `runtime_bin` is what `ctr run` will pass as
    /// `--runc-binary`. Plugins the tests do not use (CRI, the other
    /// snapshotters, tracing) are disabled.
    pub fn start(runtime_bin: &Path) -> Containerd {
        let dir = TempDir::new("berth-ctrd").expect("containerd temp dir");
        for sub in ["root", "state", "opt", "io", "fifo", "runc"] {
            fs::create_dir(dir.join(sub)).expect("containerd dirs");
        }
        let socket = dir.join("containerd.sock");
        let config = dir.join("config.toml");
        fs::write(&config, config_toml(dir.path(), &socket)).expect("write containerd config");

        let bin = std::env::var("BERTH_TEST_CONTAINERD").unwrap_or_else(|_| CONTAINERD.into());
        let mut cmd = Command::new(&bin);
        cmd.arg("--config")
            .arg(&config)
            .args(["--log-level", "info"]);
        let mut daemon = Daemon::spawn(cmd, "containerd", &dir.join("containerd.log"));
        daemon.wait_for_socket(&socket);
        Containerd {
            daemon: Some(daemon),
            socket,
            namespace: unique_id("berth"),
            runtime_bin: runtime_bin.to_owned(),
            cgroups: CgroupParent::new(),
            next_io: AtomicU64::new(0),
            dir,
        }
    }

    /// The temp dir holding root, state, socket, config and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// containerd's own output so far, for failure messages.
    pub fn log(&self) -> String {
        self.daemon.as_ref().map(Daemon::log).unwrap_or_default()
    }

    /// The cgroups path `ctr run --cgroup` gets for container `id`: under a
    /// parent only this instance uses.
    pub fn cgroup_path(&self, id: &str) -> String {
        self.cgroups.path_for(id)
    }

    /// The directory the runtime gets as `--root` (`ctr run --runc-root`).
    pub fn runtime_root(&self) -> PathBuf {
        self.dir.join("runc")
    }

    /// `ctr --address <socket> --namespace <ns>`: the command line every
    /// ctr call starts with, for a caller that runs ctr itself (under
    /// `script(1)` for a terminal).
    pub fn ctr_argv(&self) -> Vec<String> {
        vec![
            std::env::var("BERTH_TEST_CTR").unwrap_or_else(|_| CTR.into()),
            "--address".into(),
            path(&self.socket).into(),
            "--namespace".into(),
            self.namespace.clone(),
        ]
    }

    /// Starts `ctr --address <socket> --namespace <ns> <args>`.
    pub fn spawn_ctr(&self, args: &[&str]) -> Spawned {
        let argv = self.ctr_argv();
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]).args(args);
        let n = self.next_io.fetch_add(1, Ordering::Relaxed);
        Spawned::start(
            c,
            format!("ctr {}", args.join(" ")),
            &self.dir.join("io"),
            n,
            |_| {},
        )
    }

    /// Runs `ctr <args>` to completion (see [`spawn_ctr`](Self::spawn_ctr)).
    pub fn ctr(&self, args: &[&str]) -> Output {
        self.spawn_ctr(args).wait_timeout(DEFAULT_TIMEOUT)
    }

    /// Imports the busybox test image (a layer tar of
    /// [`busybox_rootfs`](crate::busybox_rootfs) in an OCI archive) as
    /// [`BUSYBOX_IMAGE`] with `ctr image import`.
    pub fn import_busybox(&self) {
        let layer = self.dir.join("layer.tar");
        let archive = self.dir.join("busybox-oci.tar");
        busybox_layer_tar(&layer).expect("make the busybox layer");
        write_oci_archive(&layer, BUSYBOX_IMAGE, &archive).expect("make the OCI archive");
        let out = self.ctr(&["image", "import", path(&archive)]);
        assert!(out.success(), "image import failed:\n{out}\n{}", self.log());
        fs::remove_file(&layer).ok();
        fs::remove_file(&archive).ok();
    }

    /// The arguments of `ctr run` up to the image (excluded): the runtime
    /// under test as `--runc-binary`, its `--runc-root`, the cgroup, the
    /// FIFO dir inside the temp dir, then `extra` (`-d`, `-t`,
    /// `--memory-limit N`...).
    pub fn run_args(&self, id: &str, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "run".into(),
            "--runc-binary".into(),
            path(&self.runtime_bin).into(),
            "--runc-root".into(),
            path(&self.runtime_root()).into(),
            "--cgroup".into(),
            self.cgroup_path(id),
            "--fifo-dir".into(),
            path(&self.dir.join("fifo")).into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    /// `ctr run [extra] <busybox> <id> <argv>` to completion.
    pub fn run(&self, id: &str, extra: &[&str], argv: &[&str]) -> Output {
        let mut args = self.run_args(id, extra);
        args.push(BUSYBOX_IMAGE.into());
        args.push(id.into());
        args.extend(argv.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.ctr(&args)
    }

    /// `ctr task exec --exec-id <unique> <id> <argv>` to completion, with
    /// the FIFOs in the temp dir.
    pub fn exec(&self, id: &str, argv: &[&str]) -> Output {
        let exec_id = unique_id("exec");
        let fifo = self.dir.join("fifo");
        let mut args = vec![
            "task",
            "exec",
            "--fifo-dir",
            path(&fifo),
            "--exec-id",
            &exec_id,
            id,
        ];
        args.extend_from_slice(argv);
        self.ctr(&args)
    }

    /// Best-effort removal of every task and container of this instance's
    /// namespace, so the shims unmount the rootfs and exit by themselves.
    fn remove_all(&self) {
        let quiet = |args: &[&str]| {
            let s = self.spawn_ctr(args);
            s.wait_timeout(DEFAULT_TIMEOUT)
        };
        let tasks = quiet(&["task", "ls", "-q"]);
        for id in tasks.stdout.split_whitespace() {
            quiet(&["task", "kill", "-a", "-s", "SIGKILL", id]);
            quiet(&["task", "delete", "-f", id]);
        }
        let containers = quiet(&["container", "ls", "-q"]);
        for id in containers.stdout.split_whitespace() {
            quiet(&["container", "delete", id]);
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // A hung ctr panics inside remove_all; cleanup must go on anyway.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.remove_all()));
        // Containers still running die with their cgroups.
        self.cgroups.remove();
        if let Some(mut daemon) = self.daemon.take() {
            daemon.stop();
        }
        let shims = kill_processes_using(self.dir.path());
        if !shims.is_empty() {
            eprintln!("cleanup: killed leftover processes {shims:?}");
        }
        self.cgroups.remove();
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// containerd's config: everything under `dir`, only the plugins the tests
/// use.
fn config_toml(dir: &Path, socket: &Path) -> String {
    let dir = path(dir);
    let socket = path(socket);
    format!(
        r#"version = 2
root = "{dir}/root"
state = "{dir}/state"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "{socket}"

[ttrpc]
  address = "{socket}.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{dir}/opt"
"#
    )
}
