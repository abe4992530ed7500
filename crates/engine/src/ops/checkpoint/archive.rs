//! The portable checkpoint: `container checkpoint --export FILE.tar.gz`
//! and `container restore --import FILE.tar.gz [--name N]`, so a
//! container moves between two berth roots (or hosts with the same
//! image).
//!
//! The archive is a gzipped tar of: `berth-export.json` (the container's
//! name, image, resolved configuration), `checkpoint/` (CRIU's images and
//! berth's record, flat files), and `rootfs-diff.tar` (the writable
//! layer in OCI layer form: whiteouts as `.wh.` files). It is written
//! beside its destination and renamed into place.
//!
//! An import makes a new container (new id; the name given or the
//! exported one) on the same image, which must be present with the same
//! id (CRIU maps the image's files again and checks them), unpacks the
//! layer into its fresh writable layer, and restores it. If anything
//! fails, the new container is removed again: nothing is left behind.
//!
//! Not carried (refused by name at export): volumes' content, a joined
//! network namespace (`--network container:`). The log starts anew in
//! the new container.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{RestoreOptions, IN_PLACE};
use crate::error::{Error, Result};
use crate::model::{self, Container, ContainerConfig, MountKind, NetworkMode, State};
use crate::ops::start::Started;
use crate::Engine;

const EXPORT_META: &str = "berth-export.json";
const ROOTFS_DIFF: &str = "rootfs-diff.tar";
const CHECKPOINT_DIR: &str = "checkpoint";
/// The newest layout this berth reads and the one it writes.
const VERSION: u32 = 1;

/// `berth-export.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Exported {
    version: u32,
    name: String,
    /// The image's id (`sha256:...`): the import needs the same.
    image_id: String,
    created_at: String,
    config: ContainerConfig,
}

/// `container restore --import FILE`.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// `--name`: else the exported container's name.
    pub name: Option<String>,
    /// The runtime the new container uses (the importing side's).
    pub runtime: PathBuf,
    pub restore: RestoreOptions,
}

impl Engine {
    /// What an export cannot carry, refused before the checkpoint.
    pub(super) fn check_exportable(&self, c: &Container) -> Result<()> {
        if let Some(m) = c.config.mounts.iter().find(|m| m.kind == MountKind::Volume) {
            return Err(Error::NotSupported(format!(
                "--export of a container with volumes is not supported yet (volume {} at {})",
                m.name, m.destination
            )));
        }
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
    pub(super) fn export_checkpoint(&self, c: &Container, dir: &Path, file: &Path) -> Result<()> {
        // The export's own error, not the temp file's wrapping of it.
        let mut failed = None;
        let written = berth_sys::write_atomic_with(file, 0o600, |f| -> io::Result<()> {
            self.write_export(c, dir, f).map_err(|e| {
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
        let meta = Exported {
            version: VERSION,
            name: c.name.clone(),
            image_id: c.image_id.clone(),
            created_at: c.created_at.clone(),
            config: c.config.clone(),
        };
        let meta = serde_json::to_vec_pretty(&meta).expect("the record serializes");
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
            header.set_size(meta.len() as u64);
            header.set_mode(0o600);
            header.set_mtime(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
            );
            header.set_entry_type(tar::EntryType::Regular);
            t.append_data(&mut header, EXPORT_META, meta.as_slice())
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
        let exported = unpack_archive(input, what, staging)?;
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
        let mut c = Container {
            id: id.to_owned(),
            name: String::new(),
            image_id: image_id.to_string(),
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
        self.record(&mut c, Some(&name), &[])?;
        let images = bundle.file(IN_PLACE);
        let made = (|| -> Result<()> {
            self.images.prepare(id, &image_id.to_string())?;
            bundle.write(&c, &spec)?;
            let (upper, _) = self.layers(&c)?;
            let diff = staging.join(ROOTFS_DIFF);
            let layer = File::open(&diff).map_err(|e| Error::io("open", &diff, e))?;
            berth_image::unpack::unpack(layer, &upper, &berth_image::unpack::Limits::default())?;
            let from = staging.join(CHECKPOINT_DIR);
            std::fs::rename(&from, &images).map_err(|e| Error::io("move", &from, e))
        })();
        if let Err(e) = made {
            let _ = self.remove_files(&c);
            return Err(e);
        }
        self.db.created(id)?;
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

/// Extracts the archive's three parts into `staging`, refusing anything
/// else (an entry outside them, a link, a nested path).
fn unpack_archive(f: impl Read, what: &str, staging: &Path) -> Result<Exported> {
    let not_export = |why: String| {
        Error::invalid(
            "checkpoint archive",
            format!("{what} is not a berth checkpoint export: {why}"),
        )
    };
    let checkpoint = staging.join(CHECKPOINT_DIR);
    std::fs::create_dir_all(&checkpoint).map_err(|e| Error::io("create", &checkpoint, e))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut meta = None;
    let mut diff = false;
    let entries = archive
        .entries()
        .map_err(|e| not_export(format!("cannot read it: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| not_export(format!("cannot read it: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| not_export(format!("bad entry name: {e}")))?
            .into_owned();
        let kind = entry.header().entry_type();
        if kind.is_dir() && path == Path::new(CHECKPOINT_DIR) {
            continue;
        }
        if !kind.is_file() {
            return Err(not_export(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        let text = path.to_string_lossy().into_owned();
        let dest = if text == EXPORT_META {
            let mut bytes = Vec::new();
            (&mut entry)
                .take(16 << 20)
                .read_to_end(&mut bytes)
                .map_err(|e| not_export(format!("cannot read {EXPORT_META}: {e}")))?;
            let m: Exported = serde_json::from_slice(&bytes)
                .map_err(|e| not_export(format!("{EXPORT_META}: {e}")))?;
            if m.version > VERSION {
                return Err(not_export(format!(
                    "its layout version {} is newer than this berth reads ({VERSION})",
                    m.version
                )));
            }
            meta = Some(m);
            continue;
        } else if text == ROOTFS_DIFF {
            diff = true;
            staging.join(ROOTFS_DIFF)
        } else {
            let mut parts = path.components();
            match (parts.next(), parts.next(), parts.next()) {
                (
                    Some(std::path::Component::Normal(d)),
                    Some(std::path::Component::Normal(name)),
                    None,
                ) if d == CHECKPOINT_DIR => checkpoint.join(name),
                _ => return Err(not_export(format!("unexpected entry {text}"))),
            }
        };
        let mut out = File::create(&dest).map_err(|e| Error::io("create", &dest, e))?;
        io::copy(&mut entry, &mut out).map_err(|e| Error::io("write", &dest, e))?;
    }
    let meta = meta.ok_or_else(|| not_export(format!("no {EXPORT_META}")))?;
    if !diff {
        return Err(not_export(format!("no {ROOTFS_DIFF}")));
    }
    Ok(meta)
}
