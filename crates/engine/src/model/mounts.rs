//! Volumes, bind mounts and tmpfs mounts as Docker records them: what the
//! flags ask for (`MountRequest`, from `-v`, `--mount`, an image's
//! `VOLUME`), what a container is created with (`MountPoint`, in
//! `ContainerConfig::mounts` and inspect's `Mounts`), and a named volume
//! (`Volume`, a row of the `volumes` table).
//!
//! The flags' parsers, in Docker's words: `volume_flag.rs` (`-v`,
//! `--volumes-from`), `mount_flag.rs` (`--mount`, with `csv.rs`), `rules.rs` (what both
//! share: paths, volume names, duplicate mount points, the bind source).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

mod csv;
mod mount_flag;
mod rules;
mod volume_flag;

pub use mount_flag::{absolute_mount_source, parse_mount};
pub use rules::{
    check_bind_source, check_duplicates, check_volume_driver, clean_path, parse_requests,
    validate_volume_name,
};
pub use volume_flag::{absolute_volume_source, parse_volume, parse_volumes_from};

/// Docker's mount types (`--mount type=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    #[default]
    Bind,
    Volume,
    Tmpfs,
}

impl MountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Bind => "bind",
            MountKind::Volume => "volume",
            MountKind::Tmpfs => "tmpfs",
        }
    }
}

/// Bind propagation (`bind-propagation=`, `-v ...:rshared`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Propagation {
    #[default]
    Rprivate,
    Private,
    Rshared,
    Shared,
    Rslave,
    Slave,
}

impl Propagation {
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Rprivate => "rprivate",
            Propagation::Private => "private",
            Propagation::Rshared => "rshared",
            Propagation::Shared => "shared",
            Propagation::Rslave => "rslave",
            Propagation::Slave => "slave",
        }
    }

    /// Docker's six modes, by their names.
    pub fn parse(s: &str) -> Option<Propagation> {
        Some(match s {
            "rprivate" => Propagation::Rprivate,
            "private" => Propagation::Private,
            "rshared" => Propagation::Rshared,
            "shared" => Propagation::Shared,
            "rslave" => Propagation::Rslave,
            "slave" => Propagation::Slave,
            _ => return None,
        })
    }
}

/// One mount a flag asks for, checked but not yet resolved against the
/// host (the volume may not exist yet, an anonymous one has no name).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountRequest {
    pub kind: MountKind,
    /// Bind: the absolute host path. Volume: its name, empty for an
    /// anonymous volume. Tmpfs: empty.
    pub source: String,
    /// The absolute path in the container, cleaned.
    pub target: String,
    pub readonly: bool,
    /// Binds only; Docker's default is rprivate.
    pub propagation: Option<Propagation>,
    /// `bind-nonrecursive`: no submounts of the source.
    pub bind_nonrecursive: bool,
    /// `-v /host:/ctr` creates a missing host directory; `--mount
    /// type=bind` refuses it.
    pub create_host_path: bool,
    /// `nocopy`/`volume-nocopy`: no copy of the image's content into an
    /// empty volume.
    pub volume_nocopy: bool,
    /// `volume-opt` for a volume created by this mount.
    pub volume_opts: BTreeMap<String, String>,
    /// `volume-label` for a volume created by this mount.
    pub volume_labels: BTreeMap<String, String>,
    /// `tmpfs-size` in bytes.
    pub tmpfs_size: Option<u64>,
    /// `tmpfs-mode` (permission bits).
    pub tmpfs_mode: Option<u32>,
    /// `-v`'s mode field as given (`ro`, `z`, `rw,rshared`, ...), shown as
    /// inspect's `Mode`; empty for `--mount`.
    pub mode: String,
}

impl MountRequest {
    /// A volume without a name: one is made for the container.
    pub fn is_anonymous(&self) -> bool {
        self.kind == MountKind::Volume && self.source.is_empty()
    }
}

/// A mount of a created container (`ContainerConfig::mounts`), resolved:
/// volumes have names and host paths. Inspect's `Mounts` entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountPoint {
    pub kind: MountKind,
    /// The volume's name (generated for an anonymous one); empty for binds
    /// and tmpfs.
    #[serde(default)]
    pub name: String,
    /// The host path mounted: a bind's source, a volume's `_data`
    /// directory; empty for tmpfs.
    #[serde(default)]
    pub source: String,
    pub destination: String,
    /// `local` for volumes; empty otherwise.
    #[serde(default)]
    pub driver: String,
    #[serde(default)]
    pub mode: String,
    pub rw: bool,
    /// Binds only (empty for volumes and tmpfs, as Docker shows them).
    #[serde(default)]
    pub propagation: Option<Propagation>,
    #[serde(default)]
    pub bind_nonrecursive: bool,
    #[serde(default)]
    pub volume_nocopy: bool,
    #[serde(default)]
    pub tmpfs_size: Option<u64>,
    #[serde(default)]
    pub tmpfs_mode: Option<u32>,
    /// An anonymous volume (removed by `rm -v` and `--rm`).
    #[serde(default)]
    pub anonymous: bool,
}

/// A named or anonymous volume (`berth volume ...`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub name: String,
    /// Only `local`.
    pub driver: String,
    /// `--opt` (`type`, `device`, `o`): the local driver's mount.
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// RFC 3339.
    pub created_at: String,
    /// Made for `-v /path`, an image's `VOLUME` or `--mount
    /// type=volume` without a source (Docker labels them
    /// `com.docker.volume.anonymous`).
    pub anonymous: bool,
}
