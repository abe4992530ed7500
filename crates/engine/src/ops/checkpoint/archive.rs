//! The portable checkpoint: `container checkpoint --export FILE.tar.gz`
//! and `container restore --import FILE.tar.gz [--name N]`, so a
//! container moves between two berth roots (or hosts with the same
//! image).
//!
//! The archive is a gzipped tar of: `berth-export.json` (the container's
//! name, image, resolved configuration, its volumes), `checkpoint/`
//! (CRIU's images and berth's record, flat files), `rootfs-diff.tar` (the
//! writable layer in OCI layer form: whiteouts as `.wh.` files) and
//! `volumes/<name>.tar` (each volume's files, [`super::volumes`]). It is
//! written beside its destination and renamed into place.
//!
//! An import makes a new container (new id; the name given or the
//! exported one) on the same image, which must be present with the same
//! id (CRIU maps the image's files again and checks them), unpacks the
//! layer into its fresh writable layer, and restores it. If anything
//! fails, the new container is removed again: nothing is left behind.
//!
//! `--publish` at import replaces the exported port mappings (Podman's).
//! Bind mounts' files are not carried: their sources must exist on the
//! importing side. Not carried (refused by name at export): a joined
//! network namespace (`--network container:`). The log starts anew in
//! the new container.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod unpack;

use super::volumes::{self, ExportedVolume};
use super::{RestoreOptions, IN_PLACE};
use crate::error::{Error, Result};
use crate::model::{self, Container, ContainerConfig, NetworkMode, State};
use crate::ops::start::Started;
use crate::Engine;

const EXPORT_META: &str = "berth-export.json";
const ROOTFS_DIFF: &str = "rootfs-diff.tar";
const CHECKPOINT_DIR: &str = "checkpoint";
/// The newest layout this berth reads; it writes 1 (no volumes, which older
/// berths read) or 2 (with volumes, which they would mistake).
const VERSION: u32 = 2;

/// `berth-export.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Exported {
    version: u32,
    name: String,
    /// The image's id (`sha256:...`): the import needs the same.
    image_id: String,
    created_at: String,
    config: ContainerConfig,
    #[serde(default)]
    volumes: Vec<ExportedVolume>,
}

/// `container restore --import FILE`.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// `--name`: else the exported container's name.
    pub name: Option<String>,
    /// `--ignore-volumes`: no volume's files restored; the volumes are
    /// used if they exist, else created empty.
    pub ignore_volumes: bool,
    /// `-p/--publish` as `run` takes them: when given, they replace the
    /// exported port mappings (Podman's).
    pub publish: Vec<String>,
    /// The runtime the new container uses (the importing side's).
    pub runtime: PathBuf,
    pub restore: RestoreOptions,
}

impl Engine {
    /// What an export cannot carry, refused before the checkpoint.
    pub(crate) fn check_exportable(&self, c: &Container) -> Result<()> {
        self.check_exportable_with(c, false)
    }

    /// [`Engine::check_exportable`]; `ignore_volumes`: without the
    /// volumes' files (`--ignore-volumes`).
    pub(crate) fn check_exportable_with(&self, c: &Container, ignore_volumes: bool) -> Result<()> {
        self.exported_volumes(c, ignore_volumes)?;
        if let NetworkMode::Container(other) = c.config.network() {
            return Err(Error::NotSupported(format!(
                "--export of a container that joins another's network namespace \
                 (--network container:{other}) is not supported"
            )));
        }
        Ok(())
    }

    /// Writes `file` from the checkpoint in `dir` and the container's
    /// writable layer (beside it, renamed into place).
    pub(super) fn export_checkpoint(
        &self,
        c: &Container,
        dir: &Path,
        file: &Path,
        ignore_volumes: bool,
    ) -> Result<()> {
        // The export's own error, not the temp file's wrapping of it.
        let mut failed = None;
        let written = berth_sys::write_atomic_with(file, 0o600, |f| -> io::Result<()> {
            self.write_export_with(c, dir, f, ignore_volumes)
                .map_err(|e| {
                    let short = io::Error::other(e.to_string());
                    failed = Some(e);
                    short
                })
        });
        match (written, failed) {
            (Ok(()), _) => Ok(()),
            (Err(_), Some(e)) => Err(e),
            (Err(e), None) => Err(Error::io("write", file, e)),
        }
    }

    /// Streams the export of the checkpoint in `dir` to `out` (a file, or
    /// the pipe into a migration's destination).
    pub(crate) fn write_export(&self, c: &Container, dir: &Path, out: impl Write) -> Result<()> {
        self.write_export_with(c, dir, out, false)
    }

    /// [`Engine::write_export`]; `ignore_volumes`: the volumes are listed
    /// without their files.
    pub(crate) fn write_export_with(
        &self,
        c: &Container,
        dir: &Path,
        out: impl Write,
        ignore_volumes: bool,
    ) -> Result<()> {
        let volumes = self.exported_volumes(c, ignore_volumes)?;
        let meta = Exported {
            version: if volumes.is_empty() { 1 } else { VERSION },
            name: c.name.clone(),
            image_id: c.image_id.clone(),
            created_at: c.created_at.clone(),
            config: c.config.clone(),
            volumes,
        };
        let bytes = serde_json::to_vec_pretty(&meta).expect("the record serializes");
        // The layer tar first, as a file: a tar entry needs its size.
        let diff = self.bundle(&c.id).file("rootfs-diff.tar.tmp");
        let written = (|| -> Result<()> {
            let (upper, _) = self.layers(c)?;
            let mut layer = Engine::layer_stream(upper)?;
            let mut f = File::create(&diff).map_err(|e| Error::io("create", &diff, e))?;
            io::copy(&mut layer, &mut f).map_err(|e| Error::io("write", &diff, e))?;
            let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| Error::io("read", dir, e))?
                .map(|e| e.map(|e| e.path()))
                .collect::<io::Result<_>>()
                .map_err(|e| Error::io("read", dir, e))?;
            names.sort();
            let gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
            let mut t = tar::Builder::new(gz);
            let stream = |e| Error::io("write", "the checkpoint export", e);
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o600);
            header.set_mtime(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
            );
            header.set_entry_type(tar::EntryType::Regular);
            t.append_data(&mut header, EXPORT_META, bytes.as_slice())
                .map_err(stream)?;
            for path in &names {
                if !path.is_file() {
                    continue;
                }
                let name = Path::new(CHECKPOINT_DIR).join(path.file_name().expect("an entry"));
                t.append_path_with_name(path, name).map_err(stream)?;
            }
            t.append_path_with_name(&diff, ROOTFS_DIFF)
                .map_err(stream)?;
            self.append_volumes(c, &meta.volumes, &mut t)?;
            t.into_inner()
                .and_then(|gz| gz.finish())
                .and_then(|mut out| out.flush())
                .map_err(stream)
        })();
        let _ = std::fs::remove_file(&diff);
        written
    }

    /// `container restore --import FILE [--name N]`: a new container from
    /// the export read from `input` (a file, or standard input: `what`
    /// names it in errors), restored. Returns it and its start.
    pub fn restore_import(
        &mut self,
        input: impl Read,
        what: &str,
        o: &ImportOptions,
    ) -> Result<(Container, Option<Started>)> {
        let id = model::new_id()?;
        let staging = self.containers_dir().join(format!(".import-{id}"));
        let result = self.import_staged(&id, &staging, input, what, o);
        let _ = std::fs::remove_dir_all(&staging);
        result
    }

    fn import_staged(
        &mut self,
        id: &str,
        staging: &Path,
        input: impl Read,
        what: &str,
        o: &ImportOptions,
    ) -> Result<(Container, Option<Started>)> {
        let exported = unpack::unpack_archive(input, what, staging)?;
        tracing::debug!("import read");
        let name = o.name.clone().unwrap_or_else(|| exported.name.clone());
        model::validate_name(&name)?;
        let (image_id, _) = self.images.resolve(&exported.image_id).map_err(|_| {
            Error::Missing(format!(
                "image {} ({}) of the exported container is not in this berth root: pull or load it first",
                exported.config.image, exported.image_id
            ))
        })?;
        let mut config = exported.config;
        config.runtime = o.runtime.clone();
        match config.network() {
            NetworkMode::User(n) => {
                let n = n.to_owned();
                self.network(&n).map_err(|_| Error::NetworkNotFound(n))?;
            }
            NetworkMode::Container(_) => {
                return Err(Error::NotSupported(
                    "an export that joins another container's network namespace".into(),
                ))
            }
            _ => {}
        }
        volumes::check_bind_sources(&config)?;
        if !o.publish.is_empty() {
            republish(&mut config, &o.publish)?;
        }
        let mut created = Vec::new();
        let result = (|| {
            self.import_volumes(
                &mut config,
                &exported.volumes,
                staging,
                o.ignore_volumes,
                &mut created,
            )?;
            self.import_container(id, &name, &image_id.to_string(), config, staging, o)
        })();
        if result.is_err() {
            // After the container is gone: nothing uses them now.
            self.remove_imported_volumes(&created);
        }
        result
    }

    /// Records the new container with `config`, fills its writable layer
    /// and checkpoint from `staging` and restores it; removes it again if
    /// anything fails.
    fn import_container(
        &mut self,
        id: &str,
        name: &str,
        image_id: &str,
        config: ContainerConfig,
        staging: &Path,
        o: &ImportOptions,
    ) -> Result<(Container, Option<Started>)> {
        let mut c = Container {
            id: id.to_owned(),
            name: String::new(),
            image_id: image_id.to_owned(),
            config,
            state: State::Created,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            created_at: berth_image::time::now_rfc3339(),
            started_at: String::new(),
            finished_at: String::new(),
            paused: false,
            oom_killed: false,
            checkpoint: Default::default(),
        };
        let bundle = self.bundle(id);
        let spec = crate::spec::for_create(&c, bundle.dir())?;
        self.record(&mut c, Some(name), &[])?;
        let images = bundle.file(IN_PLACE);
        let made = (|| -> Result<()> {
            self.images.prepare(id, image_id)?;
            bundle.write(&c, &spec)?;
            let (upper, _) = self.layers(&c)?;
            let diff = staging.join(ROOTFS_DIFF);
            let layer = File::open(&diff).map_err(|e| Error::io("open", &diff, e))?;
            berth_image::unpack::unpack(layer, &upper, &berth_image::unpack::Limits::default())?;
            let from = staging.join(CHECKPOINT_DIR);
            std::fs::rename(&from, &images).map_err(|e| Error::io("move", &from, e))?;
            self.db.created(id)
        })();
        if let Err(e) = made {
            let _ = self.remove_files(&c);
            return Err(e);
        }
        tracing::debug!("import staged; restoring");
        match self.restore_from(&c, &images, &o.restore) {
            Ok(started) => {
                if !o.restore.keep {
                    let _ = std::fs::remove_dir_all(&images);
                }
                Ok((self.find(id)?, started))
            }
            Err(e) => {
                // Nothing left behind: the new container goes again.
                if let Ok(c) = self.find(id) {
                    let _ = self.remove_files(&c);
                }
                Err(e)
            }
        }
    }
}

/// `--publish` at import: `run -p`'s parser; the mappings replace the
/// exported ones (Podman's), and their container ports are exposed as
/// `run` exposes them.
fn republish(config: &mut ContainerConfig, publish: &[String]) -> Result<()> {
    match config.network() {
        NetworkMode::Bridge | NetworkMode::User(_) => {}
        _ => {
            return Err(Error::BadRequest(format!(
            "--publish at import needs a container on a bridge or user network, not --network {}",
            config.network_mode
        )))
        }
    }
    let mut mappings = Vec::new();
    for p in publish {
        mappings.extend(
            berth_net::portspec::parse_publish(p).map_err(|e| Error::BadRequest(e.to_string()))?,
        );
    }
    for p in &mappings {
        config.expose.push(berth_net::portspec::ExposedPort {
            port: p.container_port,
            protocol: p.protocol,
        });
    }
    config.expose.sort();
    config.expose.dedup();
    config.publish = mappings;
    Ok(())
}
