//! The image index: which names point at which images, what each image is
//! made of, and which snapshot directory holds which layer or container
//! layer. One JSON document, `<root>/images.json`, changed only under an
//! exclusive `flock` (`images.lock`) by read-modify-write and an atomic
//! replace (temp file, fsync, rename), so every change is all-or-nothing
//! and concurrent `berth` processes serialize. (The engine's SQLite
//! database will take containers; images stay here so the image crate
//! works alone.)

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsutil::Lock;
use crate::spec::Descriptor;
use crate::{Digest, Error, Result};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// By image id (the config digest).
    #[serde(default)]
    pub images: BTreeMap<Digest, ImageRecord>,
    /// Full reference (`docker.io/library/busybox:latest`) → image id.
    #[serde(default)]
    pub tags: BTreeMap<String, Digest>,
    /// By key: a layer's chain id, or a container's key.
    #[serde(default)]
    pub snapshots: BTreeMap<String, SnapshotRecord>,
    #[serde(default)]
    pub next_snapshot_id: u64,
    /// The build cache: a step's cache key → the intermediate image that
    /// step made (see [`crate::build`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub build_cache: BTreeMap<String, CacheRecord>,
}

/// One build cache entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CacheRecord {
    pub image: Digest,
    /// When the entry was first made and last recorded (RFC 3339; a hit
    /// writes nothing, so a cached rebuild costs no index update).
    pub created: String,
    pub last_used: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The manifest this image was recorded from.
    pub manifest: Descriptor,
    /// Chain ids of its layers, bottom first.
    pub chain: Vec<Digest>,
    /// Bytes of unpacked file content over all layers.
    pub size: u64,
    /// When berth recorded it (RFC 3339).
    pub recorded: String,
    /// A build step's result, not asked for by name: `images` hides it
    /// (as Docker hides its builder's intermediate images), `image prune`
    /// leaves it to `builder prune`. Cleared when a build names it as its
    /// result.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub intermediate: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotKind {
    /// An unpacked, read-only layer.
    Committed,
    /// A container's writable layer over a committed parent.
    Active,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotRecord {
    /// Directory name under `<root>/snapshots/`: short, so deep overlay
    /// mounts fit in one page of mount data.
    pub id: u64,
    pub kind: SnapshotKind,
    /// Key of the snapshot below, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default)]
    pub size: u64,
}

impl State {
    /// The image ids some tag points at.
    pub fn tagged(&self, id: &Digest) -> Vec<String> {
        self.tags
            .iter()
            .filter(|(_, v)| *v == id)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Keys of `key` and every snapshot under it.
    pub fn lineage(&self, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = Some(key.to_owned());
        while let Some(k) = cur {
            cur = self.snapshots.get(&k).and_then(|s| s.parent.clone());
            out.push(k);
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct Index {
    path: PathBuf,
    lock: PathBuf,
}

impl Index {
    pub fn open(root: &Path) -> Index {
        Index {
            path: root.join("images.json"),
            lock: root.join("images.lock"),
        }
    }

    /// The current state (a consistent snapshot thanks to atomic replace).
    pub fn read(&self) -> Result<State> {
        match fs::read(&self.path) {
            Ok(data) => serde_json::from_slice(&data)
                .map_err(|e| Error::json(self.path.display().to_string(), e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(Error::io("read", &self.path, e)),
        }
    }

    /// Applies `change` to the state under the lock and stores the result;
    /// an error leaves the stored state as it was.
    pub fn update<T>(&self, change: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let _lock = Lock::exclusive(&self.lock)?;
        let mut state = self.read()?;
        let out = change(&mut state)?;
        let data = serde_json::to_vec_pretty(&state).map_err(|e| Error::json("image index", e))?;
        berth_sys::write_atomic(&self.path, &data)
            .map_err(|e| Error::io("write", &self.path, e))?;
        Ok(out)
    }
}
