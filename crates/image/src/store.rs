//! The image store: names → images over the content store and the
//! snapshotter, and every operation that changes them.
//!
//! Writers (import, load, prepare) hold `<root>/gc.lock` shared from their
//! first blob to their index record; the garbage collector holds it
//! exclusive, so it never removes what a writer is about to reference.
//! New blobs and layers are staged (temp files, temp dirs) and only
//! committed once everything verified, so a failure leaves the store as it
//! was.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::content::{ContentStore, Ingest};
use crate::fsutil::{create_dir_all, Lock, TempTree};
use crate::index::{ImageRecord, Index, SnapshotKind, SnapshotRecord, State};
use crate::reference::Reference;
use crate::snapshot::{OverlayMount, Snapshotter};
use crate::spec::{Descriptor, Document, ImageConfig, Manifest};
use crate::unpack::{self, Limits};
use crate::{Digest, Error, Result};

#[derive(Debug, Clone)]
pub struct ImageStore {
    root: PathBuf,
    pub content: ContentStore,
    pub snapshots: Snapshotter,
    pub index: Index,
    limits: Limits,
}

/// An image as listed: its id, record and tags.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    pub id: Digest,
    pub record: ImageRecord,
    /// Full references pointing at it.
    pub tags: Vec<Reference>,
}

/// One step `rmi` took, in Docker's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    Untagged(String),
    Deleted(Digest),
}

/// What a garbage collection removed.
#[derive(Debug, Clone, Default)]
pub struct GcReport {
    pub blobs: Vec<Digest>,
    pub snapshots: Vec<u64>,
    pub bytes: u64,
}

/// A layer unpacked into a staging directory, not yet in the index.
pub(crate) struct StagedLayer {
    pub chain: Digest,
    pub parent: Option<Digest>,
    pub tree: TempTree,
    pub size: u64,
}

/// Everything one import or load adds, committed at once.
#[derive(Default)]
pub(crate) struct Staging {
    pub blobs: Vec<Ingest>,
    pub layers: Vec<StagedLayer>,
}

impl ImageStore {
    /// Opens (creating) the store under `root`.
    pub fn open(root: &Path) -> Result<ImageStore> {
        create_dir_all(root)?;
        Ok(ImageStore {
            root: root.to_owned(),
            content: ContentStore::open(root)?,
            snapshots: Snapshotter::open(root)?,
            index: Index::open(root),
            limits: Limits::default(),
        })
    }

    /// Replaces the per-layer bounds (entries, bytes).
    pub fn with_limits(mut self, limits: Limits) -> ImageStore {
        self.limits = limits;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn writer_lock(&self) -> Result<Lock> {
        Lock::shared(&self.root.join("gc.lock"))
    }

    /// Every image, tagged or not, newest first.
    pub fn list(&self) -> Result<Vec<ImageInfo>> {
        let state = self.index.read()?;
        let mut out: Vec<ImageInfo> = state
            .images
            .iter()
            .map(|(id, record)| ImageInfo {
                id: id.clone(),
                record: record.clone(),
                tags: state
                    .tagged(id)
                    .iter()
                    .filter_map(|t| Reference::parse(t).ok())
                    .collect(),
            })
            .collect();
        out.sort_by(|a, b| {
            b.record
                .recorded
                .cmp(&a.record.recorded)
                .then(a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// Finds an image by reference, `name@digest`, full id or id prefix.
    pub fn resolve(&self, name: &str) -> Result<(Digest, ImageRecord)> {
        let state = self.index.read()?;
        resolve_in(&state, name).map(|id| (id.clone(), state.images[&id].clone()))
    }

    /// The config of an image, as parsed and as stored.
    pub fn config(&self, id: &Digest) -> Result<(ImageConfig, Vec<u8>)> {
        let raw = self.content.read(id)?;
        Ok((ImageConfig::parse(&raw)?, raw))
    }

    pub fn manifest(&self, record: &ImageRecord) -> Result<(Manifest, Vec<u8>)> {
        let raw = self.content.read(&record.manifest.digest)?;
        match Document::parse("manifest", &raw)? {
            Document::Manifest(m) => Ok((m, raw)),
            Document::Index(_) => Err(Error::invalid("image record", "points at an index")),
        }
    }

    /// Points `target` at the image `source` names.
    pub fn tag(&self, source: &str, target: &str) -> Result<()> {
        let target = Reference::parse(target)?;
        if target.digest.is_some() {
            return Err(Error::InvalidReference(format!(
                "{target}: cannot tag with a digest"
            )));
        }
        self.index.update(|state| {
            let id = resolve_in(state, source)?;
            state.tags.insert(target.to_string(), id);
            Ok(())
        })
    }

    /// `rmi`: untags a reference (deleting the image when that was its
    /// last tag), or deletes an image by id. Deleting an image that has
    /// several tags, or that a container snapshot uses, needs `force`.
    pub fn remove(&self, name: &str, force: bool) -> Result<Vec<Removed>> {
        let out = self.index.update(|state| {
            let id = resolve_in(state, name)?;
            let by_tag = Reference::parse(name)
                .ok()
                .map(|r| r.to_string())
                .filter(|r| state.tags.get(r) == Some(&id));
            let tags = state.tagged(&id);
            let mut out = Vec::new();
            let users = containers_using(state, &id);
            match by_tag {
                Some(tag) if tags.len() > 1 => {
                    state.tags.remove(&tag);
                    out.push(Removed::Untagged(familiar_tag(&tag)));
                    return Ok(out);
                }
                Some(_) => {}
                None if tags.len() > 1 && !force => {
                    return Err(Error::Conflict(
                        id.short().to_owned(),
                        "image is referenced in multiple repositories".into(),
                    ));
                }
                None => {}
            }
            if !users.is_empty() && !force {
                return Err(Error::Conflict(
                    id.short().to_owned(),
                    format!(
                        "image is being used by container snapshot {}",
                        users.join(", ")
                    ),
                ));
            }
            for tag in tags {
                state.tags.remove(&tag);
                out.push(Removed::Untagged(familiar_tag(&tag)));
            }
            if users.is_empty() {
                state.images.remove(&id);
                out.push(Removed::Deleted(id));
            }
            Ok(out)
        })?;
        self.gc()?;
        Ok(out)
    }

    /// `image prune`: removes untagged images (every image without a
    /// container when `all`), then collects garbage.
    pub fn prune(&self, all: bool) -> Result<(Vec<Digest>, GcReport)> {
        let removed = self.index.update(|state| {
            let victims: Vec<Digest> = state
                .images
                .keys()
                .filter(|id| {
                    (all || state.tagged(id).is_empty())
                        && !state.images[*id].intermediate
                        && containers_using(state, id).is_empty()
                })
                .cloned()
                .collect();
            for id in &victims {
                state.images.remove(id);
                state.tags.retain(|_, v| v != id);
            }
            Ok(victims)
        })?;
        Ok((removed, self.gc()?))
    }

    /// Removes every blob and snapshot no image or container references,
    /// and what crashed writers left behind.
    pub fn gc(&self) -> Result<GcReport> {
        let _gc = Lock::exclusive(&self.root.join("gc.lock"))?;
        let mut report = GcReport::default();
        // Under the index lock so the recorded state cannot change under us.
        self.index.update(|state| {
            // Cache entries whose image is gone are no use.
            let images = &state.images;
            state
                .build_cache
                .retain(|_, c| images.contains_key(&c.image));
            let mut keep_blobs = BTreeSet::new();
            let mut keep_snaps = BTreeSet::new();
            for (id, rec) in &state.images {
                keep_blobs.insert(id.clone());
                keep_blobs.insert(rec.manifest.digest.clone());
                // An unreadable manifest stops the collection: guessing
                // would delete the layers of a recorded image.
                let (manifest, _) = self.manifest(rec)?;
                keep_blobs.extend(manifest.layers.iter().map(|l| l.digest.clone()));
                if let Some(top) = rec.chain.last() {
                    keep_snaps.extend(state.lineage(top.as_str()));
                }
            }
            for (key, snap) in &state.snapshots {
                if snap.kind == SnapshotKind::Active {
                    keep_snaps.extend(state.lineage(key));
                }
            }
            let dropped: Vec<(String, u64)> = state
                .snapshots
                .iter()
                .filter(|(k, _)| !keep_snaps.contains(*k))
                .map(|(k, s)| (k.clone(), s.id))
                .collect();
            for (key, _) in &dropped {
                state.snapshots.remove(key);
            }
            for digest in self.content.list()? {
                if !keep_blobs.contains(&digest) {
                    report.bytes += self.content.size(&digest).unwrap_or(0);
                    report.blobs.push(digest);
                }
            }
            Ok(())
        })?;
        // The index no longer names them: remove from disk.
        for digest in &report.blobs {
            self.content.remove(digest)?;
        }
        let state = self.index.read()?;
        let known: BTreeSet<u64> = state.snapshots.values().map(|s| s.id).collect();
        let (ids, staging) = self.snapshots.on_disk()?;
        for id in ids.into_iter().filter(|id| !known.contains(id)) {
            self.snapshots.remove_dir(id)?;
            report.snapshots.push(id);
        }
        for path in staging.into_iter().chain(self.content.stale_ingests()?) {
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
        report.snapshots.sort_unstable();
        Ok(report)
    }

    /// Unpacks one layer into a staging directory unless its chain id is
    /// already a snapshot; checks its diff id.
    pub(crate) fn stage_layer(
        &self,
        blob: impl Read,
        diff_id: &Digest,
        parent: Option<&Digest>,
        what: &str,
    ) -> Result<Option<StagedLayer>> {
        let chain = Digest::chain(parent, diff_id);
        if self.index.read()?.snapshots.contains_key(chain.as_str()) {
            // Already unpacked; still prove this blob is that layer, so a
            // lying manifest cannot slip another blob in under its name.
            let (_, plain) = crate::compression::decompress(blob).map_err(|e| Error::BadLayer {
                layer: what.to_owned(),
                reason: format!("cannot read: {e}"),
            })?;
            let mut hashed = crate::digest::DigestReader::new(plain);
            std::io::copy(&mut hashed, &mut std::io::sink()).map_err(|e| Error::BadLayer {
                layer: what.to_owned(),
                reason: format!("cannot read: {e}"),
            })?;
            let (actual, _) = hashed.finish();
            if &actual != diff_id {
                return Err(Error::DigestMismatch {
                    what: format!("uncompressed {what} (diff id)"),
                    expected: diff_id.to_string(),
                    actual: actual.to_string(),
                });
            }
            return Ok(None);
        }
        let tree = self.snapshots.stage(false)?;
        let unpacked =
            unpack::unpack(blob, &tree.path().join("fs"), &self.limits).map_err(|e| match e {
                Error::BadLayer { reason, .. } => Error::BadLayer {
                    layer: what.to_owned(),
                    reason,
                },
                e => e,
            })?;
        if &unpacked.diff_id != diff_id {
            return Err(Error::DigestMismatch {
                what: format!("uncompressed {what} (diff id)"),
                expected: diff_id.to_string(),
                actual: unpacked.diff_id.to_string(),
            });
        }
        Ok(Some(StagedLayer {
            chain,
            parent: parent.cloned(),
            tree,
            size: unpacked.size,
        }))
    }

    /// Commits staged blobs and layers and records the image under `tags`.
    pub(crate) fn commit_image(
        &self,
        staging: Staging,
        manifest: Descriptor,
        id: Digest,
        config: &ImageConfig,
        tags: &[Reference],
    ) -> Result<Digest> {
        self.commit_image_as(staging, manifest, id, config, tags, false, None)
    }

    /// [`Self::commit_image`], recording a build step's intermediate image
    /// when `intermediate` (an image recorded before keeps its
    /// visibility), and the build cache entry `cache_key` for it in the
    /// same index update.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn commit_image_as(
        &self,
        staging: Staging,
        manifest: Descriptor,
        id: Digest,
        config: &ImageConfig,
        tags: &[Reference],
        intermediate: bool,
        cache_key: Option<&str>,
    ) -> Result<Digest> {
        for blob in staging.blobs {
            blob.commit()?;
        }
        let chain = config.chain_ids();
        let snapshots = &self.snapshots;
        self.index.update(|state| {
            for layer in staging.layers {
                if state.snapshots.contains_key(layer.chain.as_str()) {
                    continue; // a concurrent writer unpacked it first
                }
                let sid = next_id(state, snapshots);
                layer.tree.persist(&snapshots.dir().join(sid.to_string()))?;
                state.snapshots.insert(
                    layer.chain.to_string(),
                    SnapshotRecord {
                        id: sid,
                        kind: SnapshotKind::Committed,
                        parent: layer.parent.map(|p| p.to_string()),
                        size: layer.size,
                    },
                );
            }
            let mut size = 0;
            for c in &chain {
                let snap = state
                    .snapshots
                    .get(c.as_str())
                    .ok_or_else(|| Error::SnapshotNotFound(c.to_string()))?;
                size += snap.size;
            }
            let recorded = crate::time::now_rfc3339();
            let intermediate =
                intermediate && state.images.get(&id).is_none_or(|old| old.intermediate);
            state.images.insert(
                id.clone(),
                ImageRecord {
                    manifest,
                    chain,
                    size,
                    recorded,
                    intermediate,
                },
            );
            for t in tags {
                state.tags.insert(t.to_string(), id.clone());
            }
            if let Some(key) = cache_key {
                crate::build::put_cache(state, key, &id);
            }
            Ok(())
        })?;
        Ok(id)
    }

    /// Creates the writable snapshot `key` over `image`'s layers.
    pub fn prepare(&self, key: &str, image: &str) -> Result<OverlayMount> {
        self.prepare_snapshot(key, image, false)?;
        self.overlay(key)
    }

    /// Creates the writable snapshot `key` over `image`'s layers, or
    /// over nothing for an image without layers (a `FROM scratch` build
    /// stage); returns its directory number.
    pub(crate) fn prepare_snapshot(
        &self,
        key: &str,
        image: &str,
        allow_empty: bool,
    ) -> Result<u64> {
        self.prepare_on(key, Some(image), allow_empty)
    }

    /// [`Self::prepare_snapshot`]; `image` `None`: over nothing.
    pub(crate) fn prepare_on(
        &self,
        key: &str,
        image: Option<&str>,
        allow_empty: bool,
    ) -> Result<u64> {
        if key.is_empty()
            || key.len() > 128
            || key.contains(['/', '\0'])
            || key.starts_with("sha256:")
        {
            return Err(Error::invalid("snapshot key", format!("{key:?}")));
        }
        let _w = self.writer_lock()?;
        let tree = self.snapshots.stage(true)?;
        let snapshots = &self.snapshots;
        self.index.update(|state| {
            if state.snapshots.contains_key(key) {
                return Err(Error::SnapshotExists(key.to_owned()));
            }
            let top = match image {
                Some(image) => {
                    let id = resolve_in(state, image)?;
                    let top = state.images[&id].chain.last().cloned();
                    if top.is_none() && !allow_empty {
                        return Err(Error::invalid(format!("image {image}"), "has no layers"));
                    }
                    top
                }
                None => None,
            };
            let sid = next_id(state, snapshots);
            tree.persist(&snapshots.dir().join(sid.to_string()))?;
            state.snapshots.insert(
                key.to_owned(),
                SnapshotRecord {
                    id: sid,
                    kind: SnapshotKind::Active,
                    parent: top.map(|t| t.to_string()),
                    size: 0,
                },
            );
            Ok(sid)
        })
    }

    /// The overlay of an existing container snapshot.
    pub fn overlay(&self, key: &str) -> Result<OverlayMount> {
        self.snapshots.overlay(&self.index.read()?, key)
    }

    /// Mounts the container snapshot `key` on `target`.
    pub fn mount(&self, key: &str, target: &Path) -> Result<()> {
        self.snapshots.mount(&self.overlay(key)?, target)
    }

    /// Removes a container snapshot (unmount it first); its layers stay
    /// until the next GC finds them unreferenced.
    pub fn remove_snapshot(&self, key: &str) -> Result<()> {
        let rec = self.index.update(|state| {
            match state.snapshots.get(key) {
                Some(r) if r.kind == SnapshotKind::Active => {}
                _ => return Err(Error::SnapshotNotFound(key.to_owned())),
            }
            Ok(state.snapshots.remove(key).expect("checked above"))
        })?;
        self.snapshots.remove_dir(rec.id)
    }
}

/// A fresh snapshot directory number. Skips numbers a crashed writer left
/// on disk (renamed into place, never recorded) until GC removes them.
fn next_id(state: &mut State, snapshots: &Snapshotter) -> u64 {
    loop {
        state.next_snapshot_id += 1;
        if !snapshots
            .dir()
            .join(state.next_snapshot_id.to_string())
            .exists()
        {
            return state.next_snapshot_id;
        }
    }
}

fn familiar_tag(full: &str) -> String {
    Reference::parse(full)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| full.to_owned())
}

/// Container snapshots whose layers include image `id`'s top layer.
fn containers_using(state: &State, id: &Digest) -> Vec<String> {
    let Some(top) = state.images.get(id).and_then(|r| r.chain.last()) else {
        return Vec::new();
    };
    state
        .snapshots
        .iter()
        .filter(|(_, s)| {
            s.kind == SnapshotKind::Active && s.parent.as_deref() == Some(top.as_str())
        })
        .map(|(k, _)| k.clone())
        .collect()
}

/// The image a user's name means: a tag, `name@digest`, or an id.
pub(crate) fn resolve_in(state: &State, name: &str) -> Result<Digest> {
    let not_found = || Error::NoSuchImage(name.to_owned());
    if let Ok(r) = Reference::parse(name) {
        if let Some(d) = &r.digest {
            return state
                .images
                .iter()
                .find(|(_, rec)| &rec.manifest.digest == d)
                .map(|(id, _)| id.clone())
                .ok_or_else(not_found);
        }
        if let Some(id) = state.tags.get(&r.to_string()) {
            return Ok(id.clone());
        }
    }
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    if !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        let hits: Vec<&Digest> = state
            .images
            .keys()
            .filter(|id| id.hex().starts_with(hex))
            .collect();
        return match hits.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(not_found()),
            _ => Err(Error::invalid(
                "image id",
                format!("{name} matches several images"),
            )),
        };
    }
    Err(not_found())
}

/// Groups images by tag for display: `(repository, tag)` pairs.
pub fn repo_tags(info: &ImageInfo) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in &info.tags {
        out.entry(t.familiar_name().to_owned())
            .or_default()
            .push(t.tag.clone().unwrap_or_default());
    }
    out
}
