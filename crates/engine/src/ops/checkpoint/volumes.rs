//! Volumes in a checkpoint export, as Podman carries them: each volume the
//! container mounts is listed in `berth-export.json` (name, driver,
//! options, labels, anonymous) and its files travel as
//! `volumes/<name>.tar` (a plain tar of its `_data`), unless the export
//! was made with `--ignore-volumes`.
//!
//! At import a named volume whose files are carried must not exist
//! (Podman's refusal: `volume with name X already exists. Use
//! --ignore-volumes to not restore content of volumes`); it is created
//! with the exported driver, options and labels and filled with the
//! image crate's safe unpacker (nothing lands outside its `_data`). A
//! volume without carried files (or any volume, with `--ignore-volumes`
//! at import) is used if it exists and created empty otherwise, as `run`
//! does. An anonymous volume belongs to the container: the new container
//! gets a new one (a new name) with the carried files. Volumes the import
//! created are removed again if the import fails.
//!
//! A volume mounted with the local driver's options (`type`, `device`,
//! `o`) keeps its files elsewhere (a device, NFS, a tmpfs): its export is
//! refused unless `--ignore-volumes` (then only its definition travels).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::mounts::{validate_volume_name, Volume};
use crate::model::{Container, ContainerConfig, MountKind};
use crate::ops::volume_attach::ANONYMOUS_LABEL;
use crate::Engine;

/// The archive's directory of volume tars.
pub(super) const VOLUMES_DIR: &str = "volumes";

/// One volume of the exported container, in `berth-export.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ExportedVolume {
    pub name: String,
    pub driver: String,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub anonymous: bool,
    /// `volumes/<name>.tar` carries its files.
    pub content: bool,
}

/// The archive entry of a volume's files.
pub(super) fn entry_name(volume: &str) -> PathBuf {
    Path::new(VOLUMES_DIR).join(format!("{volume}.tar"))
}

/// The volume a `volumes/<name>.tar` entry name is for, if it is one.
pub(super) fn volume_of_entry(name: &std::ffi::OsStr) -> Option<String> {
    let name = name.to_str()?.strip_suffix(".tar")?;
    validate_volume_name(name).ok()?;
    Some(name.to_owned())
}

/// A volume's files live elsewhere (the local driver's mount options).
fn mounted_elsewhere(v: &Volume) -> bool {
    berth_volume::LocalOptions::parse(&v.options).is_ok_and(|o| o.needs_mount())
}

fn volume_mounts(c: &ContainerConfig) -> impl Iterator<Item = &crate::model::MountPoint> {
    c.mounts.iter().filter(|m| m.kind == MountKind::Volume)
}

impl Engine {
    /// The container's volumes as the export lists them; refuses (before
    /// the checkpoint) one whose files it cannot carry.
    pub(super) fn exported_volumes(
        &self,
        c: &Container,
        ignore_volumes: bool,
    ) -> Result<Vec<ExportedVolume>> {
        let mut out: Vec<ExportedVolume> = Vec::new();
        for m in volume_mounts(&c.config) {
            if out.iter().any(|v| v.name == m.name) {
                continue;
            }
            let v = self.volume(&m.name)?;
            if !ignore_volumes && mounted_elsewhere(&v) {
                return Err(Error::NotSupported(format!(
                    "--export of volume {} is not supported: it is mounted with the local \
                     driver's options, so its files are not in it (--ignore-volumes exports \
                     without volumes' content)",
                    v.name
                )));
            }
            out.push(ExportedVolume {
                name: v.name,
                driver: v.driver,
                options: v.options,
                labels: v.labels,
                anonymous: v.anonymous,
                content: !ignore_volumes,
            });
        }
        Ok(out)
    }

    /// Appends each carried volume's files to the export as
    /// `volumes/<name>.tar` (written to a file beside the container first:
    /// a tar entry needs its size).
    pub(super) fn append_volumes<W: Write>(
        &self,
        c: &Container,
        volumes: &[ExportedVolume],
        t: &mut tar::Builder<W>,
    ) -> Result<()> {
        for v in volumes.iter().filter(|v| v.content) {
            let tmp = self.bundle(&c.id).file("volume-export.tar.tmp");
            let written = (|| -> Result<()> {
                let f = File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
                crate::ops::fs::write_dir_tar(&self.volume_path(&v.name), io::BufWriter::new(f))?;
                t.append_path_with_name(&tmp, entry_name(&v.name))
                    .map_err(|e| Error::io("write", "the checkpoint export", e))
            })();
            let _ = std::fs::remove_file(&tmp);
            written?;
        }
        Ok(())
    }

    /// Gives the new container's config its volumes on this side: each
    /// exported one created (and filled from `staging`) or found, its
    /// mounts pointed at this root's directories. The volumes created are
    /// pushed to `created` (for [`Engine::remove_imported_volumes`]).
    pub(super) fn import_volumes(
        &mut self,
        config: &mut ContainerConfig,
        exported: &[ExportedVolume],
        staging: &Path,
        ignore_volumes: bool,
        created: &mut Vec<String>,
    ) -> Result<()> {
        // Old name → the new container's name for it.
        let mut renamed: BTreeMap<String, String> = BTreeMap::new();
        let names: Vec<String> = volume_mounts(config).map(|m| m.name.clone()).collect();
        for name in names {
            if renamed.contains_key(&name) {
                continue;
            }
            let e = exported.iter().find(|v| v.name == name);
            let carried = !ignore_volumes && e.is_some_and(|v| v.content);
            let mut v = Volume {
                name: name.clone(),
                driver: e.map_or_else(|| crate::ops::volume::LOCAL.into(), |v| v.driver.clone()),
                options: e.map(|v| v.options.clone()).unwrap_or_default(),
                labels: e.map(|v| v.labels.clone()).unwrap_or_default(),
                created_at: berth_image::time::now_rfc3339(),
                anonymous: e.is_some_and(|v| v.anonymous),
            };
            if v.anonymous {
                // The container's own: a new one for the new container.
                v.name = crate::model::new_id()?;
                v.labels.insert(ANONYMOUS_LABEL.into(), String::new());
            }
            crate::ops::volume::check_volume(&v)?;
            let dirs = self.volume_dirs();
            match self.db.create_new_volume(&dirs, &v)? {
                Some(_) => created.push(v.name.clone()),
                None if carried => {
                    return Err(Error::StateConflict(format!(
                        "volume with name {} already exists. Use --ignore-volumes to not \
                         restore content of volumes",
                        v.name
                    )))
                }
                // Used as it is, as `run` uses a named volume.
                None => {}
            }
            if carried {
                let tar = staging.join(entry_name(&name));
                let f = File::open(&tar).map_err(|e| Error::io("open", &tar, e))?;
                let data = self.volume_path(&v.name);
                berth_image::unpack::unpack(f, &data, &berth_image::unpack::Limits::default())
                    .map_err(|e| Error::Volume(format!("importing volume {}: {e}", v.name)))?;
            }
            renamed.insert(name, v.name);
        }
        for m in config.mounts.iter_mut() {
            if m.kind == MountKind::Volume {
                if let Some(n) = renamed.get(&m.name) {
                    m.name = n.clone();
                    m.source = self.volume_path(n).to_string_lossy().into_owned();
                }
            }
        }
        Ok(())
    }

    /// A failed import: the volumes it created go again (best effort; one
    /// another container took meanwhile stays).
    pub(super) fn remove_imported_volumes(&mut self, created: &[String]) {
        let dirs = self.volume_dirs();
        for name in created {
            if let Err(e) = self.db.remove_volume(&dirs, name) {
                tracing::warn!(volume = %name, error = %e, "cannot remove a volume of a failed import");
            }
        }
    }
}

/// A checkpoint does not carry bind mounts' files (in place or exported):
/// each source must exist where the container is restored, checked before
/// anything is made, in one line.
pub(super) fn check_bind_sources(config: &ContainerConfig) -> Result<()> {
    for m in config.mounts.iter().filter(|m| m.kind == MountKind::Bind) {
        if std::fs::symlink_metadata(&m.source).is_err() {
            return Err(Error::Missing(format!(
                "bind mount source path does not exist on this host: {} (for {}; a \
                 checkpoint does not carry bind mounts' files)",
                m.source, m.destination
            )));
        }
    }
    Ok(())
}
