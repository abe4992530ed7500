//! The container's OCI runtime spec (`config.json`), typed with oci-spec:
//! [`build`] is a pure function of the recorded container, the host facts
//! it depends on ([`HostFacts`]), the user resolved in the image's files
//! ([`ResolvedUser`]) and the bundle directory. It is composed of one small
//! converter per area, each owning its part of the document:
//!
//! - `process.rs`: argv, env, cwd, user, and the process's security
//!   settings (from `security.rs`) and terminal (from `stdio.rs`);
//! - `mounts.rs`: Docker's default mounts, the files of the bundle, `--init`,
//!   `--tmpfs`, `--shm-size`;
//! - `namespaces.rs`: Docker's namespaces, `--network host`, cgroupns;
//! - `security.rs`: capabilities, seccomp, devices, masked paths, sysctls;
//! - `resources.rs`: `linux.resources` from Docker's limits (also what
//!   `update` sends the runtime);
//! - `stdio.rs`: `-t`'s terminal, console size and `TERM`;
//! - `exec.rs`: an exec's process, from the container's.
//!
//! Networks and volumes will be converters of their own, called from
//! [`build`] the same way. [`for_create`] and [`for_start`] read the host
//! (and, at start, the image's users) and build; the bundle writes it.

mod exec;
mod mounts;
mod namespaces;
mod process;
mod resources;
mod security;
mod stdio;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Linux, LinuxResources, Root, Spec};

use crate::error::{Error, Result};
use crate::model::resources::device_numbers;
use crate::model::security::{caps, devices, Device};
use crate::model::{seccomp, Container, ContainerConfig, Resources};

pub use crate::users::ResolvedUser;
pub use exec::exec_process;
pub use process::process;

/// The OCI version berth writes.
const OCI_VERSION: &str = "1.0.2";

/// What the spec depends on from the host, read once per build
/// ([`HostFacts::detect`]) so that [`build`] itself reads nothing.
#[derive(Debug, Clone)]
pub struct HostFacts {
    /// A cgroup v2 host: containers get a private cgroup namespace.
    pub cgroup2: bool,
    /// What "all capabilities" means (`--privileged`, `--cap-add ALL`):
    /// berth's own effective set, since a runtime cannot give more.
    pub capabilities: Vec<String>,
    /// Architecture and kernel, which select the seccomp rules.
    pub seccomp: seccomp::Host,
    /// The host's device nodes a `--privileged` container gets (read only
    /// for one).
    pub devices: Vec<Device>,
    /// Major and minor numbers of the devices the blkio throttles name.
    pub block_devices: BTreeMap<String, (u64, u64)>,
    /// `--network container:<id>`: the network namespace joined
    /// (`/proc/<pid>/ns/net` of that container's init, known at start).
    pub network_namespace: Option<PathBuf>,
}

impl HostFacts {
    /// Reads what the spec of `c` needs from this host.
    pub fn detect(c: &ContainerConfig) -> Result<HostFacts> {
        Ok(HostFacts {
            // The one place the host's cgroup mode is read for the spec.
            cgroup2: berth_cgroups::host().is_ok_and(|h| h.mode() == berth_cgroups::Mode::V2),
            capabilities: caps::current_capabilities(),
            seccomp: seccomp::Host::current(),
            devices: if c.security.privileged {
                host_devices()?
            } else {
                Vec::new()
            },
            block_devices: block_devices(&c.resources)?,
            network_namespace: None,
        })
    }
}

/// The runtime spec of `c` (Docker's defaults, moby `oci/defaults.go` and
/// `daemon/oci_linux.go`, with the container's settings), its bundle at
/// `bundle_dir`.
pub fn build(
    c: &Container,
    host: &HostFacts,
    user: &ResolvedUser,
    bundle_dir: &Path,
) -> Result<Spec> {
    let cfg = &c.config;
    let caps = security::capabilities(&cfg.security, host);
    let mut resources = resources::limits(&cfg.resources, &host.block_devices)?;
    resources.set_devices(Some(security::device_rules(&cfg.security)));

    let mut root = Root::default();
    root.set_path("rootfs".into());
    root.set_readonly(Some(cfg.security.read_only));

    let mut linux = Linux::default();
    linux.set_cgroups_path(Some(
        berth_cgroups::container_path(&cfg.cgroup_parent, &c.id).into(),
    ));
    linux.set_resources(Some(resources));
    linux.set_namespaces(Some(namespaces::namespaces(cfg, host)));
    let (masked, readonly) = security::hidden_paths(&cfg.security);
    linux.set_masked_paths(Some(masked));
    linux.set_readonly_paths(Some(readonly));
    linux.set_sysctl(security::sysctls(&cfg.security));
    linux.set_devices(security::devices(&cfg.security, host)?);
    linux.set_seccomp(security::seccomp(&cfg.security, &caps, host)?);
    // What `Linux::default()` fills in and berth does not set.
    linux.set_uid_mappings(None);
    linux.set_gid_mappings(None);
    linux.set_rootfs_propagation(None);

    let mut spec = Spec::default();
    spec.set_version(OCI_VERSION.into());
    spec.set_process(Some(process::process(cfg, host, user)?));
    spec.set_root(Some(root));
    spec.set_hostname(Some(cfg.hostname.clone()));
    spec.set_mounts(Some(mounts::mounts(&cfg.security, &cfg.mounts, bundle_dir)));
    spec.set_linux(Some(linux));
    spec.set_annotations(Some(
        cfg.labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    ));
    Ok(spec)
}

/// The host's device nodes, which a `--privileged` container gets.
fn host_devices() -> Result<Vec<Device>> {
    let mut out = Vec::new();
    devices::walk_devices(Path::new("/dev"), &mut |host, rel| {
        out.extend(devices::device(host, &format!("/dev/{rel}"), "rwm"));
    })
    .map_err(|e| Error::io("list", "/dev", e))?;
    Ok(out)
}

/// What `update` sends the runtime: the fields `change` names, with the
/// values `merged` (the record after it) has for them.
pub fn update_request(merged: &Resources, change: &Resources) -> Result<LinuxResources> {
    resources::update_request(merged, change, &block_devices(change)?)
}

/// Major and minor numbers of the devices `r`'s throttles name.
fn block_devices(r: &Resources) -> Result<BTreeMap<String, (u64, u64)>> {
    r.throttle_devices()
        .map(|d| Ok((d.path.clone(), device_numbers(&d.path)?)))
        .collect()
}

/// The spec `create` checks before anything is recorded and writes, with
/// the user as far as it is known without the image's files (names are
/// resolved at start).
pub fn for_create(c: &Container, bundle_dir: &Path) -> Result<Spec> {
    let host = HostFacts::detect(&c.config)?;
    build(c, &host, &ResolvedUser::numeric(&c.config.user), bundle_dir)
}

/// The spec of a start, the image mounted at `rootfs`: the user resolved
/// in its files; `network_namespace` the one `--network container:` joins.
pub fn for_start(
    c: &Container,
    bundle_dir: &Path,
    rootfs: &Path,
    network_namespace: Option<PathBuf>,
) -> Result<Spec> {
    let user = crate::users::resolve(rootfs, &c.config.user, &c.config.security.group_add)?;
    let mut host = HostFacts::detect(&c.config)?;
    host.network_namespace = network_namespace;
    build(c, &host, &user, bundle_dir)
}

#[cfg(test)]
mod golden;

#[cfg(test)]
mod tests;
