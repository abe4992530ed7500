//! Test fixtures for berth's integration tests.
//!
//! Owns everything a privileged test needs to drive an OCI runtime binary
//! the way containerd or Podman would: a root gate ([`require_root!`]),
//! unique names ([`unique_id`]), self-deleting temp dirs ([`TempDir`]), a
//! busybox root filesystem ([`busybox_rootfs`]), OCI bundles with a
//! runc-`spec`-like `config.json` ([`Bundle`]), a runtime binary with its own
//! `--root` ([`Runtime`]), cgroup cleanup and reads ([`CgroupParent`]), a
//! loop block device ([`LoopDevice`]), the receiving end of a
//! `--console-socket` ([`ConsoleSocket`]), and private instances of the
//! real clients driving the runtime, each with a locally made busybox image
//! ([`Podman`], [`Containerd`], [`Dockerd`]), and an unprivileged user with
//! subordinate ids for rootless tests ([`rootless_user`]), and a local
//! registry with a recording proxy in front of it ([`Registry`],
//! [`RegistryProxy`]), and a Debian 12 image made with `mmdebstrap` once
//! per machine ([`import_debian`]).
//!
//! Every fixture cleans up on `Drop`, and every name it makes is unique per
//! process, so tests run in parallel (one process per test under
//! `cargo nextest`) never see each other. It does not own any runtime logic:
//! tests only talk to the runtime through its command line.
//!
//! The runtime under test is chosen by `BERTH_TEST_RUNTIME` (`runc`, `crun`
//! or a path); unset means berth's own binary. Running the suite against
//! runc is how the tests themselves are checked.

#![deny(unsafe_code)]

mod bundle;
mod cgroup;
mod command;
mod console;
mod containerd;
mod daemon;
mod debian;
mod dockerd;
mod host;
mod id;
mod idmap;
mod loopdev;
mod oci_image;
mod podman;
mod registry;
mod root;
mod rootfs;
mod runtime;
mod skip;
mod spec;
mod tempdir;
mod user;

pub use bundle::{Bundle, ConfigGuard};
pub use cgroup::{cgroup_mode, cgroup_v2, hierarchies, CgroupParent, CpuUsage};
pub use command::{
    output_with_input, output_within, status_within, try_output_within, COMMAND_TIMEOUT,
};
pub use console::{ConsoleSocket, TerminalReader};
pub use containerd::{Containerd, BUSYBOX_IMAGE};
pub use daemon::DAEMON_TIMEOUT;
pub use debian::{
    debian_archive, debian_cache_dir, debian_rootfs_tar, import_debian, DEBIAN_CACHE_DIR,
    DEBIAN_IMAGE, DEBIAN_VERSION,
};
pub use dockerd::{Dockerd, DOCKER_BUSYBOX_IMAGE};
pub use host::{host_ns, mountinfo, pid_ns, process_alive, wait_until, HostProcess};
pub use id::unique_id;
pub use idmap::idmapped_mounts_supported;
pub use loopdev::LoopDevice;
pub use oci_image::{busybox_layer_tar, sha256_digest, write_oci_archive};
pub use podman::{Podman, PODMAN_IMAGE};
pub use registry::{
    htpasswd_file, BearerAuth, Logged, ProxyBehavior, Registry, RegistryConfig, RegistryProxy,
};
pub use root::{__test_name, is_root, root_required_by_env, should_skip_for_root};
pub use rootfs::{busybox_applets, busybox_rootfs, BUSYBOX};
pub use runtime::{Output, Runtime, Spawned, DEFAULT_TIMEOUT};
pub use skip::{
    current_test, feature_required, skipped, skipped_for_lack_of, FEATURES_ENV, LEDGER_ENV,
};
pub use spec::default_config;
pub use tempdir::TempDir;
pub use user::{rootless_user, UnprivilegedUser, ROOTLESS_USER};
