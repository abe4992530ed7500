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
//! - `stdio.rs`: `-t`'s terminal, console size and `TERM`.
//!
//! Networks and volumes will be converters of their own, called from
//! [`build`] the same way. [`write_for_start`] is the one impure entry:
//! it resolves the user, reads the host and writes `config.json` once.

mod mounts;
mod namespaces;
pub(crate) mod process;
pub(crate) mod resources;
mod security;
pub(crate) mod stdio;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use oci_spec::runtime::{Linux, LinuxResources, Root, Spec};

use crate::error::{Error, Result};
use crate::security::Device;
use crate::{Container, ContainerConfig};

pub use crate::users::ResolvedUser;
pub(crate) use security::process_capabilities;

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
    pub seccomp: crate::seccomp::Host,
    /// The host's device nodes a `--privileged` container gets (read only
    /// for one).
    pub devices: Vec<Device>,
    /// Major and minor numbers of the devices the blkio throttles name.
    pub block_devices: BTreeMap<String, (u64, u64)>,
}

impl HostFacts {
    /// Reads what the spec of `c` needs from this host.
    pub fn detect(c: &ContainerConfig) -> Result<HostFacts> {
        Ok(HostFacts {
            // The one place the host's cgroup mode is read for the spec.
            cgroup2: Path::new("/sys/fs/cgroup/cgroup.controllers").exists(),
            capabilities: crate::security::caps::current_capabilities(),
            seccomp: crate::seccomp::Host::current(),
            devices: if c.security.privileged {
                crate::security::host_devices()?
            } else {
                Vec::new()
            },
            block_devices: block_devices(&c.resources)?,
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
        format!("{}/{}", cfg.cgroup_parent.trim_end_matches('/'), c.id).into(),
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
    spec.set_mounts(Some(mounts::mounts(&cfg.security, bundle_dir)));
    spec.set_linux(Some(linux));
    spec.set_annotations(Some(
        cfg.labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    ));
    Ok(spec)
}

/// What `update` sends the runtime for the limits in `r` (device rules
/// are not updated).
pub fn update_resources(r: &crate::Resources) -> Result<LinuxResources> {
    resources::limits(r, &block_devices(r)?)
}

/// Major and minor numbers of the devices `r`'s throttles name.
fn block_devices(r: &crate::Resources) -> Result<BTreeMap<String, (u64, u64)>> {
    r.throttle_devices()
        .map(|d| Ok((d.path.clone(), crate::resources::device_numbers(&d.path)?)))
        .collect()
}

/// Builds the spec `create` checks before anything is recorded, with the
/// user as far as it is known without the image's files (names are
/// resolved at start).
pub fn for_create(c: &Container, bundle_dir: &Path) -> Result<Spec> {
    let host = HostFacts::detect(&c.config)?;
    build(c, &host, &ResolvedUser::numeric(&c.config.user), bundle_dir)
}

/// At start, with the image mounted at `rootfs`: resolves the user in its
/// files, builds the spec and writes `config.json` atomically.
pub fn write_for_start(c: &Container, bundle_dir: &Path, rootfs: &Path) -> Result<()> {
    let user = crate::users::resolve(rootfs, &c.config.user, &c.config.security.group_add)?;
    let host = HostFacts::detect(&c.config)?;
    write(&build(c, &host, &user, bundle_dir)?, bundle_dir)
}

/// Writes `config.json` in `bundle_dir`: temp file, fsync, rename; not
/// when it already holds this spec (a start after `create` of a container
/// whose user resolved to the numbers it was checked with), as the fsync
/// is most of the cost.
pub fn write(spec: &Spec, bundle_dir: &Path) -> Result<()> {
    let text = serde_json::to_vec_pretty(spec).expect("spec serializes");
    let path = bundle_dir.join("config.json");
    if std::fs::read(&path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    write_atomic(&path, &text)
}

/// Until berth-sys has the shared `write_atomic`.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io("rename", path, e))
}

#[cfg(test)]
mod golden;

#[cfg(test)]
mod tests;
