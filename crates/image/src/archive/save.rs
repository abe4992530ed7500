//! `save`: images from the store into a docker-archive or OCI archive.

use std::collections::BTreeSet;
use std::io::{self, Write};

use super::Format;
use crate::reference::Reference;
use crate::spec::{
    media, Descriptor, DockerArchiveEntry, Index, ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME,
    OCI_LAYOUT,
};
use crate::store::{resolve_in, ImageStore};
use crate::{Digest, Error, Result};

/// Writes the images `names` (tags, ids or `name@digest`) as one archive.
pub fn save(store: &ImageStore, names: &[String], format: Format, out: impl Write) -> Result<()> {
    let state = store.index.read()?;
    let mut blobs = BTreeSet::new();
    let mut index = Index {
        schema_version: 2,
        media_type: Some(media::OCI_INDEX.into()),
        manifests: Vec::new(),
        annotations: Default::default(),
        extra: Default::default(),
    };
    let mut docker = Vec::new();
    for name in names {
        let id = resolve_in(&state, name)?;
        let record = &state.images[&id];
        let (manifest, _) = store.manifest(record)?;
        // A name that is a tag saves that tag; an id saves the image alone.
        let tag = Reference::parse(name)
            .ok()
            .filter(|r| r.digest.is_none() && state.tags.get(&r.to_string()) == Some(&id));
        let mut desc = Descriptor::new(
            record.manifest.media_type.as_str(),
            record.manifest.digest.clone(),
            record.manifest.size,
        );
        if let Some(t) = &tag {
            desc.annotations
                .insert(ANNOTATION_IMAGE_NAME.into(), t.to_string());
            desc.annotations.insert(
                ANNOTATION_REF_NAME.into(),
                t.tag.clone().unwrap_or_default(),
            );
        }
        index.manifests.push(desc);
        blobs.insert(record.manifest.digest.clone());
        blobs.insert(manifest.config.digest.clone());
        blobs.extend(manifest.layers.iter().map(|l| l.digest.clone()));
        docker.push(DockerArchiveEntry {
            config: blob_path(&manifest.config.digest),
            repo_tags: tag.map(|t| vec![t.familiar()]),
            layers: manifest
                .layers
                .iter()
                .map(|l| blob_path(&l.digest))
                .collect(),
        });
    }
    let mut tar = tar::Builder::new(out);
    let json = |v: &dyn erased::Json| v.to_vec();
    add_file(&mut tar, "oci-layout", OCI_LAYOUT.as_bytes())?;
    add_file(&mut tar, "index.json", &json(&index)?)?;
    if format == Format::DockerArchive {
        add_file(&mut tar, "manifest.json", &json(&docker)?)?;
    }
    add_dir(&mut tar, "blobs/")?;
    add_dir(&mut tar, "blobs/sha256/")?;
    for digest in &blobs {
        let size = store.content.size(digest)?;
        let reader = store.content.reader(digest)?;
        let mut h = header(size, tar::EntryType::Regular, 0o644);
        tar.append_data(&mut h, blob_path(digest), reader)
            .map_err(write_err)?;
    }
    tar.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(write_err)
}

fn blob_path(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

fn write_err(e: io::Error) -> Error {
    Error::io("write archive", "-", e)
}

fn header(size: u64, kind: tar::EntryType, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn add_file<W: Write>(tar: &mut tar::Builder<W>, path: &str, data: &[u8]) -> Result<()> {
    let mut h = header(data.len() as u64, tar::EntryType::Regular, 0o644);
    tar.append_data(&mut h, path, data).map_err(write_err)
}

fn add_dir<W: Write>(tar: &mut tar::Builder<W>, path: &str) -> Result<()> {
    let mut h = header(0, tar::EntryType::Directory, 0o755);
    tar.append_data(&mut h, path, io::empty())
        .map_err(write_err)
}

mod erased {
    use crate::{Error, Result};

    /// Serializes any of the archive's JSON files.
    pub trait Json {
        fn to_vec(&self) -> Result<Vec<u8>>;
    }

    impl<T: serde::Serialize> Json for T {
        fn to_vec(&self) -> Result<Vec<u8>> {
            serde_json::to_vec(self).map_err(|e| Error::json("archive metadata", e))
        }
    }
}
