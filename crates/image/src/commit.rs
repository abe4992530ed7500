//! `commit`: a container's writable layer (as an OCI layer tar) on top of
//! its image becomes a new image, with the container's configuration and
//! Dockerfile-style `--change` instructions.

use std::io::{self, Read, Write};

use crate::compression::decompress;
use crate::digest::DigestReader;
use crate::import::{apply_change, stage_image};
use crate::reference::Reference;
use crate::spec::{media, ContainerConfig, Descriptor, History, Manifest};
use crate::store::{resolve_in, ImageStore, Staging};
use crate::{Digest, Error, Result};

/// Options of [`commit`].
#[derive(Debug, Default, Clone)]
pub struct CommitOptions {
    /// The image config's defaults (the container's Env, Cmd, ...), before
    /// `changes`.
    pub config: ContainerConfig,
    pub changes: Vec<String>,
    pub author: Option<String>,
    pub comment: Option<String>,
    /// The history's `created_by` (Docker puts the container's command).
    pub created_by: String,
}

/// Records `layer` (a plain, gzip or zstd layer tar) on top of image
/// `base` as a new image, tagged `name` when given. Returns its id.
pub fn commit(
    store: &ImageStore,
    base: &str,
    layer: impl Read,
    name: Option<&Reference>,
    opts: &CommitOptions,
) -> Result<Digest> {
    let mut container = opts.config.clone();
    for c in &opts.changes {
        apply_change(&mut container, c)?;
    }
    // Held from here: the GC must not take the base's blobs meanwhile.
    let _w = store.writer_lock()?;
    let (base_id, record) = {
        let state = store.index.read()?;
        let id = resolve_in(&state, base)?;
        let record = state.images[&id].clone();
        (id, record)
    };
    let (mut config, _) = store.config(&base_id)?;
    let (base_manifest, _) = store.manifest(&record)?;

    let (_, plain) = decompress(layer)
        .map_err(|e| Error::invalid("container layer", format!("cannot read: {e}")))?;
    let mut plain = DigestReader::new(plain);
    let mut blob = store.content.ingest()?;
    {
        // Level 1: commit is interactive; a 256 MiB layer of random data
        // took 25 s at the default level (docs/engine.md).
        let mut gz = flate2::GzBuilder::new().write(&mut blob, flate2::Compression::fast());
        io::copy(&mut plain, &mut gz)
            .map_err(|e| Error::invalid("container layer", format!("cannot read: {e}")))?;
        gz.finish()
            .and_then(|w| w.flush())
            .map_err(|e| Error::io("write", blob.path(), e))?;
    }
    let (diff_id, _) = plain.finish();
    let (layer_digest, layer_size) = blob.finish()?;
    let file = std::fs::File::open(blob.path()).map_err(|e| Error::io("open", blob.path(), e))?;
    let staged = store.stage_layer(file, &diff_id, record.chain.last(), "committed layer")?;

    let created = crate::time::now_rfc3339();
    config.created = Some(created.clone());
    config.author = opts.author.clone();
    config.config = Some(container);
    config.rootfs.diff_ids.push(diff_id);
    config.history.push(History {
        created: Some(created),
        created_by: Some(opts.created_by.clone()),
        author: opts.author.clone(),
        comment: opts.comment.clone().filter(|c| !c.is_empty()),
        empty_layer: false,
    });
    let mut staging = Staging::default();
    let mut layers = oci_layers(&base_manifest);
    layers.push(Descriptor::new(
        media::OCI_LAYER_GZIP,
        layer_digest,
        layer_size,
    ));
    let (config_desc, manifest_desc) = stage_image(store, &mut staging, &config, layers)?;
    staging.blobs.push(blob);
    staging.layers.extend(staged);
    let tags: Vec<Reference> = name.cloned().into_iter().collect();
    store.commit_image(staging, manifest_desc, config_desc.digest, &config, &tags)
}

/// A base image's layers for a new OCI manifest on top of it: the same
/// bytes, with Docker's media types turned into the OCI ones for the same
/// formats, so the manifest is one or the other.
pub(crate) fn oci_layers(base: &Manifest) -> Vec<Descriptor> {
    base.layers
        .iter()
        .map(|l| {
            let mut l = l.clone();
            l.media_type = match l.media_type.as_str() {
                media::DOCKER_LAYER_GZIP => media::OCI_LAYER_GZIP.into(),
                media::DOCKER_LAYER => media::OCI_LAYER.into(),
                other => other.to_owned(),
            };
            l
        })
        .collect()
}
