//! A private dockerd for one test: its own data root, exec root, socket,
//! pid file and config, the runtime under test added as runtime `berth`,
//! containers in a cgroup parent only this instance uses, and no network
//! setup at all (`--bridge=none`, no iptables). Started without
//! `--containerd`, dockerd runs its own containerd with root and state
//! under the data and exec roots.
//!
//! Dropping it removes the test's containers, stops dockerd (which stops
//! its containerd), kills whatever is left that uses the temp dir, removes
//! the cgroups and unmounts and removes the temp dir.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::cgroup::CgroupParent;
use crate::daemon::{kill_processes_using, Daemon};
use crate::oci_image::busybox_layer_tar;
use crate::runtime::{Output, Spawned, DEFAULT_TIMEOUT};
use crate::tempdir::TempDir;

/// dockerd; `BERTH_TEST_DOCKERD` overrides it.
const DOCKERD: &str = "/usr/sbin/dockerd";
/// The Docker CLI of Debian's `docker.io`; `BERTH_TEST_DOCKER` overrides
/// it. Named by path: another `docker` earlier on `PATH` may be a newer
/// client that the 20.10 daemon refuses.
const DOCKER: &str = "/usr/bin/docker";

/// A running private dockerd. See the module documentation.
#[derive(Debug)]
pub struct Dockerd {
    daemon: Option<Daemon>,
    socket: PathBuf,
    cgroups: CgroupParent,
    next_io: AtomicU64,
    // Last: removed (and unmounted) after everything above is gone.
    dir: TempDir,
}

/// The image [`Dockerd::import_busybox`] creates.
pub const DOCKER_BUSYBOX_IMAGE: &str = "berth-busybox:latest";

impl Dockerd {
    /// Starts dockerd with `runtime_bin` added as runtime `berth`.
    pub fn start(runtime_bin: &Path) -> Dockerd {
        let dir = TempDir::new("berth-dockerd").expect("dockerd temp dir");
        for sub in ["data", "exec", "io", "cli"] {
            fs::create_dir(dir.join(sub)).expect("dockerd dirs");
        }
        let socket = dir.join("docker.sock");
        // A config of its own, so the host's /etc/docker/daemon.json (if
        // any) does not apply, and the daemon's key goes to the temp dir
        // instead of /etc/docker/key.json.
        let config = dir.join("daemon.json");
        let daemon_json = serde_json::json!({ "deprecated-key-path": dir.join("key.json") });
        fs::write(&config, daemon_json.to_string()).expect("write daemon.json");
        let cgroups = CgroupParent::new();

        let bin = std::env::var("BERTH_TEST_DOCKERD").unwrap_or_else(|_| DOCKERD.into());
        let mut cmd = Command::new(&bin);
        cmd.arg("--config-file")
            .arg(&config)
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}", path(&socket)))
            .arg("--add-runtime")
            .arg(format!("berth={}", path(runtime_bin)))
            .arg("--cgroup-parent")
            .arg(cgroups.path())
            .args([
                "--exec-opt",
                "native.cgroupdriver=cgroupfs",
                // No bridge, no NAT, no iptables: the tests use --network none.
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                "--ip-forward=false",
                "--ip-masq=false",
                "--userland-proxy=false",
                "--log-level=info",
            ]);
        let mut daemon = Daemon::spawn(cmd, "dockerd", &dir.join("dockerd.log"));
        daemon.wait_for_socket(&socket);
        let dockerd = Dockerd {
            daemon: Some(daemon),
            socket,
            cgroups,
            next_io: AtomicU64::new(0),
            dir,
        };
        // The socket exists a moment before the API answers.
        let ready = crate::host::wait_until(crate::daemon::DAEMON_TIMEOUT, || {
            dockerd.docker(&["version"]).success()
        });
        assert!(ready, "dockerd never answered:\n{}", dockerd.log());
        dockerd
    }

    /// The temp dir holding data root, exec root, socket and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// dockerd's own output so far (it includes its containerd's).
    pub fn log(&self) -> String {
        self.daemon.as_ref().map(Daemon::log).unwrap_or_default()
    }

    /// The pid of dockerd.
    pub fn pid(&self) -> u32 {
        self.daemon.as_ref().map(Daemon::pid).unwrap_or(0)
    }

    /// The `--cgroup-parent` containers go under (absolute cgroup path).
    pub fn cgroup_parent(&self) -> String {
        self.cgroups.path()
    }

    /// Starts `docker -H unix://<socket> <args>` with its own client
    /// config dir.
    pub fn spawn_docker(&self, args: &[&str]) -> Spawned {
        let docker = std::env::var("BERTH_TEST_DOCKER").unwrap_or_else(|_| DOCKER.into());
        let mut c = Command::new(&docker);
        c.env("DOCKER_CONFIG", self.dir.join("cli"))
            .arg("-H")
            .arg(format!("unix://{}", path(&self.socket)))
            .args(args);
        let n = self.next_io.fetch_add(1, Ordering::Relaxed);
        Spawned::start(
            c,
            format!("docker {}", args.join(" ")),
            &self.dir.join("io"),
            n,
            |_| {},
        )
    }

    /// Runs `docker <args>` to completion.
    pub fn docker(&self, args: &[&str]) -> Output {
        self.spawn_docker(args).wait_timeout(DEFAULT_TIMEOUT)
    }

    /// `docker import` of a busybox rootfs tar as [`DOCKER_BUSYBOX_IMAGE`].
    pub fn import_busybox(&self) {
        let layer = self.dir.join("rootfs.tar");
        busybox_layer_tar(&layer).expect("make the busybox rootfs tar");
        let out = self.docker(&["import", path(&layer), DOCKER_BUSYBOX_IMAGE]);
        assert!(
            out.success(),
            "docker import failed:\n{out}\n{}",
            self.log()
        );
        fs::remove_file(&layer).ok();
    }

    /// Best-effort `docker rm -f` of every container, so dockerd unmounts
    /// their layers and its shims exit by themselves.
    fn remove_all(&self) {
        let ids = self.docker(&["ps", "-aq"]);
        for id in ids.stdout.split_whitespace() {
            self.docker(&["rm", "-f", id]);
        }
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // A hung docker CLI panics inside remove_all; cleanup must go on.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.remove_all()));
        self.cgroups.remove();
        if let Some(mut daemon) = self.daemon.take() {
            daemon.stop();
        }
        let left = kill_processes_using(self.dir.path());
        if !left.is_empty() {
            eprintln!("cleanup: killed leftover processes {left:?}");
        }
        self.cgroups.remove();
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}
