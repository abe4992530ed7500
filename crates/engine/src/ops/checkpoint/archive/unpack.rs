//! Reading an export: its entries checked one by one into a staging
//! directory before anything is made from them.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use super::super::volumes::{self, VOLUMES_DIR};
use super::{Exported, CHECKPOINT_DIR, EXPORT_META, ROOTFS_DIFF, VERSION};
use crate::error::{Error, Result};

/// Extracts the archive's parts into `staging`, refusing anything else
/// (an entry outside them, a link, a nested path, a volume's files the
/// record does not list or lacks).
pub(super) fn unpack_archive(f: impl Read, what: &str, staging: &Path) -> Result<Exported> {
    let not_export = |why: String| {
        Error::invalid(
            "checkpoint archive",
            format!("{what} is not a berth checkpoint export: {why}"),
        )
    };
    let checkpoint = staging.join(CHECKPOINT_DIR);
    std::fs::create_dir_all(&checkpoint).map_err(|e| Error::io("create", &checkpoint, e))?;
    let volume_tars = staging.join(VOLUMES_DIR);
    std::fs::create_dir_all(&volume_tars).map_err(|e| Error::io("create", &volume_tars, e))?;
    let mut carried: Vec<String> = Vec::new();
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
        if kind.is_dir() && (path == Path::new(CHECKPOINT_DIR) || path == Path::new(VOLUMES_DIR)) {
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
                (
                    Some(std::path::Component::Normal(d)),
                    Some(std::path::Component::Normal(name)),
                    None,
                ) if d == VOLUMES_DIR => match volumes::volume_of_entry(name) {
                    Some(v) if !carried.contains(&v) => {
                        carried.push(v);
                        volume_tars.join(name)
                    }
                    _ => return Err(not_export(format!("unexpected entry {text}"))),
                },
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
    for v in &meta.volumes {
        if v.content != carried.contains(&v.name) {
            return Err(not_export(format!(
                "volume {}'s files are {}",
                v.name,
                if v.content { "missing" } else { "not listed" }
            )));
        }
    }
    if let Some(v) = carried
        .iter()
        .find(|c| !meta.volumes.iter().any(|v| &v.name == *c))
    {
        return Err(not_export(format!("volume {v}'s files are not listed")));
    }
    Ok(meta)
}
