//! Disk usage: a container's writable layer (`ps -s`, `inspect --size`,
//! prune's freed bytes) and `system df`'s totals (volumes: ops/volume.rs).

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::Result;
use crate::model::Container;
use crate::ops::images::{Digest, Reference};
use crate::ops::prune::stopped;
use crate::ops::volume::VolumeUsage;
use crate::Engine;

pub use crate::model::time::rfc3339_nanos;

/// Bytes under `dir` as Docker counts a writable layer: the size of
/// everything but directories, links not followed.
fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match std::fs::symlink_metadata(e.path()) {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// One image of `system df -v`.
#[derive(Debug, Clone)]
pub struct ImageUsage {
    pub id: Digest,
    pub tags: Vec<Reference>,
    pub created: String,
    pub size: u64,
    /// Bytes of layers other images share.
    pub shared: u64,
    /// Containers made from it.
    pub containers: usize,
}

/// `system df`: images and containers with their sizes.
#[derive(Debug, Clone)]
pub struct DiskUsage {
    pub images: Vec<ImageUsage>,
    /// Images some container uses.
    pub active_images: usize,
    /// All layers' bytes, shared layers once.
    pub images_size: u64,
    /// The bytes of the layers of images in use.
    pub images_active_size: u64,
    /// Each container with its writable layer's size.
    pub containers: Vec<(Container, u64)>,
    /// The local volumes (without mount options), by name.
    pub volumes: Vec<VolumeUsage>,
}

impl Engine {
    /// The bytes of the container's writable layer.
    pub fn container_size(&self, c: &Container) -> u64 {
        self.layers(c).map(|(u, _)| dir_size(&u)).unwrap_or(0)
    }

    /// The writable layer's size and that plus the image's (`ps -s`).
    pub fn container_sizes(&self, c: &Container) -> (u64, u64) {
        let rw = self.container_size(c);
        let image = self
            .images
            .resolve(&c.image_id)
            .map(|(_, r)| r.size)
            .unwrap_or(0);
        (rw, rw + image)
    }

    /// `system df`.
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        let containers = self.list()?;
        // Intermediate images are the build cache's row, not the images'.
        let images: Vec<_> = self
            .images
            .list()?
            .into_iter()
            .filter(|i| !i.record.intermediate)
            .collect();
        let state = self.images.index.read()?;
        let used: BTreeSet<String> = containers.iter().map(|c| c.image_id.clone()).collect();
        let size_of = |c: &Digest| state.snapshots.get(c.as_str()).map_or(0, |s| s.size);
        // Shared layers count once.
        let layer_size = |chains: &mut dyn Iterator<Item = &Digest>| -> u64 {
            let set: BTreeSet<(String, u64)> = chains
                .filter_map(|c| {
                    state
                        .snapshots
                        .get(c.as_str())
                        .map(|s| (c.to_string(), s.size))
                })
                .collect();
            set.iter().map(|(_, s)| s).sum()
        };
        let images_size = layer_size(&mut images.iter().flat_map(|i| i.record.chain.iter()));
        let images_active_size = layer_size(
            &mut images
                .iter()
                .filter(|i| used.contains(&i.id.to_string()))
                .flat_map(|i| i.record.chain.iter()),
        );
        let active_images = images
            .iter()
            .filter(|i| used.contains(&i.id.to_string()))
            .count();
        let usage = images
            .iter()
            .map(|info| ImageUsage {
                id: info.id.clone(),
                tags: info.tags.clone(),
                created: self
                    .images
                    .config(&info.id)
                    .ok()
                    .and_then(|(c, _)| c.created)
                    .unwrap_or_default(),
                size: info.record.size,
                shared: info
                    .record
                    .chain
                    .iter()
                    .filter(|c| {
                        images
                            .iter()
                            .any(|o| o.id != info.id && o.record.chain.contains(c))
                    })
                    .map(size_of)
                    .sum(),
                containers: containers
                    .iter()
                    .filter(|c| c.image_id == info.id.to_string())
                    .count(),
            })
            .collect();
        let containers = containers
            .into_iter()
            .map(|c| {
                let size = self.container_size(&c);
                (c, size)
            })
            .collect();
        Ok(DiskUsage {
            images: usage,
            active_images,
            images_size,
            images_active_size,
            containers,
            volumes: self.volume_usage()?,
        })
    }
}

/// Whether a prune may remove it (for `system df`'s reclaimable bytes).
pub fn reclaimable(c: &Container) -> bool {
    stopped(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_sort_as_times() {
        assert!(rfc3339_nanos("2024-01-01T00:00:05.1Z") > rfc3339_nanos("2024-01-01T00:00:05.09Z"));
        assert_eq!(
            rfc3339_nanos("2024-01-01T00:00:05Z") + 120_000_000,
            rfc3339_nanos("2024-01-01T00:00:05.12Z")
        );
    }
}
