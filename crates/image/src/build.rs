//! What a build keeps in the store: every step's result as an
//! intermediate image (Docker's classic builder's model: a step is a
//! commit on the step before), the build cache (a step's key → the image
//! it made), the build's result, and `builder prune`. The builder (crate
//! berth-build) decides what a step is; this module only records.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::compression::decompress;
use crate::digest::DigestReader;
use crate::import::stage_image;
use crate::index::{CacheRecord, SnapshotKind};
use crate::platform::Platform;
use crate::reference::Reference;
use crate::spec::{media, ContainerConfig, Descriptor, History, ImageConfig, RootFs};
use crate::store::{resolve_in, GcReport, ImageStore, Staging};
use crate::{Digest, Error, Result};

/// How a step's layer is compressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Compression {
    #[default]
    Gzip,
    Zstd,
}

/// One step's image: its base, its config and history, and the layer it
/// adds (none for steps that only change the config).
#[derive(Debug, Clone)]
pub struct Step {
    /// The image below (`None`: `FROM scratch`).
    pub base: Option<Digest>,
    /// The platform of a scratch base.
    pub platform: Platform,
    /// The whole container config after the step.
    pub config: ContainerConfig,
    /// `MAINTAINER`.
    pub author: Option<String>,
    /// History lines since `base`, oldest first: the config-only steps
    /// folded into this one (`empty_layer`), then this step's own line
    /// (`empty_layer` false when a layer is given). `created` is filled
    /// in when missing.
    pub history: Vec<History>,
    pub compression: Compression,
    /// The build cache key to record the result under (in the same index
    /// update as the image).
    pub cache_key: Option<String>,
}

/// The config of an empty (`scratch`) image for `platform`.
pub fn scratch_config(platform: &Platform) -> ImageConfig {
    ImageConfig {
        architecture: platform.architecture.clone(),
        os: platform.os.clone(),
        variant: platform.variant.clone(),
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: Vec::new(),
        },
        ..Default::default()
    }
}

/// Records `step` as an intermediate image, with `layer` (a plain, gzip
/// or zstd layer tar) on top of its base when given. Returns its id.
pub fn record_step(
    store: &ImageStore,
    step: &Step,
    layer: Option<&mut dyn Read>,
) -> Result<Digest> {
    let _w = store.writer_lock()?;
    let (mut config, mut layers) = match &step.base {
        Some(base) => {
            let record = {
                let state = store.index.read()?;
                let id = resolve_in(&state, base.as_str())?;
                state.images[&id].clone()
            };
            let (config, _) = store.config(base)?;
            let (manifest, _) = store.manifest(&record)?;
            let layers = crate::commit::oci_layers(&manifest);
            (config, layers)
        }
        None => (scratch_config(&step.platform), Vec::new()),
    };
    let mut staging = Staging::default();
    let empty_layer = layer.is_none();
    if let Some(layer) = layer {
        let (diff_id, descriptor, blob) = store_layer(store, layer, step.compression)?;
        let file =
            std::fs::File::open(blob.path()).map_err(|e| Error::io("open", blob.path(), e))?;
        let parent = config.chain_ids().last().cloned();
        let staged = store.stage_layer(file, &diff_id, parent.as_ref(), "build step layer")?;
        staging.blobs.push(blob);
        staging.layers.extend(staged);
        config.rootfs.diff_ids.push(diff_id);
        layers.push(descriptor);
    }
    let created = crate::time::now_rfc3339();
    config.created = Some(created.clone());
    if step.author.is_some() {
        config.author = step.author.clone();
    }
    config.config = Some(step.config.clone());
    let lines = step.history.len();
    for (i, h) in step.history.iter().enumerate() {
        let mut h = h.clone();
        h.created.get_or_insert_with(|| created.clone());
        // Only the last line can be the layer's.
        h.empty_layer = i + 1 != lines || empty_layer;
        config.history.push(h);
    }
    let (config_desc, manifest_desc) = stage_image(store, &mut staging, &config, layers)?;
    store.commit_image_as(
        staging,
        manifest_desc,
        config_desc.digest,
        &config,
        &[],
        true,
        step.cache_key.as_deref(),
    )
}

/// Compresses a layer into an ingest; returns its diff id, descriptor and
/// the (finished, uncommitted) blob.
fn store_layer(
    store: &ImageStore,
    layer: &mut dyn Read,
    compression: Compression,
) -> Result<(Digest, Descriptor, crate::content::Ingest)> {
    let bad = |e: io::Error| Error::invalid("build step layer", format!("cannot read: {e}"));
    let (_, plain) = decompress(layer).map_err(bad)?;
    let mut plain = DigestReader::new(plain);
    let mut blob = store.content.ingest()?;
    let media_type = match compression {
        Compression::Gzip => {
            // Fast: a build's layers are written once per change, and the
            // ratio at level 1 is within a few percent of the default's.
            let mut gz = flate2::GzBuilder::new().write(&mut blob, flate2::Compression::fast());
            io::copy(&mut plain, &mut gz).map_err(bad)?;
            gz.finish()
                .and_then(|w| w.flush())
                .map_err(|e| Error::io("write", blob.path(), e))?;
            media::OCI_LAYER_GZIP
        }
        Compression::Zstd => {
            let mut z = zstd::Encoder::new(&mut blob, 3)
                .map_err(|e| Error::io("compress", "build step layer", e))?;
            io::copy(&mut plain, &mut z).map_err(bad)?;
            z.finish()
                .and_then(|w| w.flush())
                .map_err(|e| Error::io("write", blob.path(), e))?;
            media::OCI_LAYER_ZSTD
        }
    };
    let (diff_id, _) = plain.finish();
    let (digest, size) = blob.finish()?;
    Ok((diff_id, Descriptor::new(media_type, digest, size), blob))
}

/// The image a cache key names, if the entry and its image still exist.
pub fn cached(store: &ImageStore, key: &str) -> Result<Option<Digest>> {
    let state = store.index.read()?;
    Ok(state
        .build_cache
        .get(key)
        .filter(|c| state.images.contains_key(&c.image))
        .map(|c| c.image.clone()))
}

/// The cache entry `key` → `image`, made or refreshed.
pub(crate) fn put_cache(state: &mut crate::index::State, key: &str, image: &Digest) {
    let now = crate::time::now_rfc3339();
    let entry = state
        .build_cache
        .entry(key.to_owned())
        .or_insert_with(|| CacheRecord {
            image: image.clone(),
            created: now.clone(),
            last_used: now.clone(),
        });
    entry.image = image.clone();
    entry.last_used = now;
}

/// Makes `image` a build's result: visible in `images`, tagged `tags`.
pub fn finish(store: &ImageStore, image: &Digest, tags: &[Reference]) -> Result<()> {
    store.index.update(|state| {
        let rec = state
            .images
            .get_mut(image)
            .ok_or_else(|| Error::NoSuchImage(image.to_string()))?;
        rec.intermediate = false;
        for t in tags {
            state.tags.insert(t.to_string(), image.clone());
        }
        Ok(())
    })
}

/// A writable snapshot a step works in: mounted (overlay over the base's
/// layers) at `rootfs`, or, on a base without layers, the upper directory
/// itself (nothing to merge with).
#[derive(Debug)]
pub struct Workspace {
    pub key: String,
    /// Where the step writes.
    pub rootfs: PathBuf,
    /// The upper directory: the step's changes.
    pub upper: PathBuf,
    mounted: bool,
}

impl Workspace {
    /// A new snapshot `key` over `image` (`None`: scratch), mounted at
    /// `target` (an empty directory) unless there are no layers below.
    pub fn prepare(
        store: &ImageStore,
        key: &str,
        image: Option<&Digest>,
        target: &Path,
    ) -> Result<Workspace> {
        let sid = store.prepare_on(key, image.map(|d| d.as_str()), true)?;
        let upper = store.snapshots.fs_path(sid);
        let has_layers = store
            .index
            .read()?
            .snapshots
            .get(key)
            .is_some_and(|s| s.parent.is_some());
        if !has_layers {
            return Ok(Workspace {
                key: key.to_owned(),
                rootfs: upper.clone(),
                upper,
                mounted: false,
            });
        }
        if let Err(e) = store.mount(key, target) {
            let _ = store.remove_snapshot(key);
            return Err(e);
        }
        Ok(Workspace {
            key: key.to_owned(),
            rootfs: target.to_owned(),
            upper,
            mounted: true,
        })
    }

    /// Unmounts (when mounted) and removes the snapshot.
    pub fn remove(self, store: &ImageStore) -> Result<()> {
        if self.mounted {
            crate::snapshot::Snapshotter::unmount(&self.rootfs)?;
        }
        store.remove_snapshot(&self.key)
    }
}

/// What the build cache holds, for `system df`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheUsage {
    /// Intermediate images.
    pub records: usize,
    /// Bytes of the layers only intermediate images use.
    pub size: u64,
    /// One entry per intermediate image, oldest first: the bytes of the
    /// cache-only layers first found in its chain (so they add up to
    /// `size`), for the Engine API's `BuildCache` records.
    pub entries: Vec<CacheEntry>,
}

/// One intermediate image in [`CacheUsage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    pub image: Digest,
    /// When it was recorded (RFC 3339).
    pub recorded: String,
    pub size: u64,
}

/// Counts intermediate images and the layers only they use.
pub fn usage(store: &ImageStore) -> Result<CacheUsage> {
    let state = store.index.read()?;
    let mut visible = std::collections::BTreeSet::new();
    for rec in state.images.values().filter(|r| !r.intermediate) {
        visible.extend(rec.chain.iter().cloned());
    }
    for (key, snap) in &state.snapshots {
        if snap.kind == SnapshotKind::Active {
            visible.extend(
                state
                    .lineage(key)
                    .into_iter()
                    .filter_map(|k| Digest::parse(&k).ok()),
            );
        }
    }
    let mut counted = std::collections::BTreeSet::new();
    let mut intermediates: Vec<(&Digest, &crate::index::ImageRecord)> = state
        .images
        .iter()
        .filter(|(_, r)| r.intermediate)
        .collect();
    intermediates.sort_by(|a, b| a.1.recorded.cmp(&b.1.recorded));
    let mut entries = Vec::new();
    for (id, rec) in intermediates {
        let mut own = 0;
        for c in rec.chain.iter().filter(|c| !visible.contains(*c)) {
            if counted.insert(c.clone()) {
                own += state.snapshots.get(c.as_str()).map_or(0, |s| s.size);
            }
        }
        entries.push(CacheEntry {
            image: id.clone(),
            recorded: rec.recorded.clone(),
            size: own,
        });
    }
    Ok(CacheUsage {
        records: entries.len(),
        size: entries.iter().map(|e| e.size).sum(),
        entries,
    })
}

/// `builder prune`: forgets the build cache and removes every
/// intermediate image `in_use` does not keep (a container made from it),
/// then collects garbage. Returns the removed images.
pub fn prune(
    store: &ImageStore,
    in_use: &dyn Fn(&Digest) -> bool,
) -> Result<(Vec<Digest>, GcReport)> {
    let removed = store.index.update(|state| {
        state.build_cache.clear();
        let victims: Vec<Digest> = state
            .images
            .iter()
            .filter(|(id, r)| r.intermediate && state.tagged(id).is_empty() && !in_use(id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &victims {
            state.images.remove(id);
        }
        Ok(victims)
    })?;
    Ok((removed, store.gc()?))
}
