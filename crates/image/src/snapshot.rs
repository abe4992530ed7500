//! The overlay snapshotter: directories under `<root>/snapshots/<id>/`.
//!
//! A committed snapshot is one unpacked layer (`fs/`), keyed in the index
//! by its chain id, so a layer shared by many images is unpacked once. An
//! active snapshot is a container's writable layer (`fs/` as upperdir,
//! `work/` as workdir) over an image's top layer. Directory names are short
//! numbers (as in containerd) and mounts name them relative to the
//! snapshots directory, from a helper whose cwd is there
//! ([`berth_sys::fs::mount_in_dir`]): 130 layers take ~1 KiB of mount data,
//! well under the one-page limit that absolute chain-id paths would break.
//! It never reads the content store.

use std::ffi::CString;
use std::fs;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::fsutil::{create_dir_all, unique_name, TempTree};
use crate::index::{SnapshotKind, State};
use crate::{Error, Result};

/// Prefix of snapshots being unpacked; the GC removes leftovers.
pub(crate) const STAGING_PREFIX: &str = ".tmp-";

#[derive(Debug, Clone)]
pub struct Snapshotter {
    dir: PathBuf,
}

/// The overlay of one active snapshot: its own dir on top of its parents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayMount {
    /// Snapshot ids of the read-only layers, top first.
    pub lower: Vec<u64>,
    /// The writable layer's snapshot id.
    pub upper: u64,
}

impl OverlayMount {
    /// overlayfs options with paths relative to the snapshots directory.
    pub fn options(&self) -> String {
        let lower: Vec<String> = self.lower.iter().map(|id| format!("{id}/fs")).collect();
        format!(
            "lowerdir={},upperdir={}/fs,workdir={}/work",
            lower.join(":"),
            self.upper,
            self.upper
        )
    }
}

impl Snapshotter {
    pub fn open(root: &Path) -> Result<Snapshotter> {
        let dir = root.join("snapshots");
        create_dir_all(&dir)?;
        Ok(Snapshotter { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory a snapshot's files live in (`<id>/fs`).
    pub fn fs_path(&self, id: u64) -> PathBuf {
        self.dir.join(id.to_string()).join("fs")
    }

    /// A new staging directory with an empty `fs/` (and `work/` for an
    /// active snapshot), removed on drop unless committed.
    pub(crate) fn stage(&self, active: bool) -> Result<TempTree> {
        let tree = TempTree::create(self.dir.join(unique_name(STAGING_PREFIX)))?;
        let fs_dir = tree.path().join("fs");
        fs::create_dir(&fs_dir).map_err(|e| Error::io("create directory", &fs_dir, e))?;
        if active {
            let work = tree.path().join("work");
            fs::create_dir(&work).map_err(|e| Error::io("create directory", &work, e))?;
        }
        Ok(tree)
    }

    /// The overlay for the active snapshot `key` as recorded in `state`.
    pub fn overlay(&self, state: &State, key: &str) -> Result<OverlayMount> {
        let rec = state
            .snapshots
            .get(key)
            .ok_or_else(|| Error::SnapshotNotFound(key.to_owned()))?;
        if rec.kind != SnapshotKind::Active {
            return Err(Error::invalid(
                format!("snapshot {key}"),
                "is a committed layer, not a container snapshot",
            ));
        }
        let mut lower = Vec::new();
        for k in state.lineage(key).iter().skip(1) {
            let r = state
                .snapshots
                .get(k)
                .ok_or_else(|| Error::SnapshotNotFound(k.clone()))?;
            lower.push(r.id);
        }
        if lower.is_empty() {
            return Err(Error::invalid(
                format!("snapshot {key}"),
                "has no layers below it",
            ));
        }
        Ok(OverlayMount {
            lower,
            upper: rec.id,
        })
    }

    /// Mounts `overlay` on `target` (an existing directory).
    pub fn mount(&self, overlay: &OverlayMount, target: &Path) -> Result<()> {
        let dir = nix::fcntl::open(
            &self.dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::io("open", &self.dir, e.into()))?;
        let data = overlay.options();
        if data.len() >= 4096 {
            return Err(Error::invalid(
                "overlay mount",
                format!(
                    "{} layers need {} bytes of mount data (limit 4095)",
                    overlay.lower.len(),
                    data.len()
                ),
            ));
        }
        let c =
            |s: &[u8]| CString::new(s).map_err(|_| Error::invalid("mount target", "NUL in path"));
        // The helper works from inside the snapshots directory.
        let target = std::path::absolute(target).map_err(|e| Error::io("resolve", target, e))?;
        let target_c = c(target.as_os_str().as_bytes())?;
        let data_c = c(data.as_bytes())?;
        berth_sys::fs::mount_in_dir(dir.as_fd(), c"overlay", &target_c, c"overlay", 0, &data_c)
            .map_err(|source| Error::Mount {
                target: target.to_owned(),
                source,
            })
    }

    /// Unmounts an overlay mounted by [`Snapshotter::mount`].
    pub fn unmount(target: &Path) -> Result<()> {
        nix::mount::umount2(target, nix::mount::MntFlags::empty()).map_err(|e| Error::Mount {
            target: target.to_owned(),
            source: e.into(),
        })
    }

    pub(crate) fn remove_dir(&self, id: u64) -> Result<()> {
        let path = self.dir.join(id.to_string());
        match fs::remove_dir_all(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::io("remove snapshot", &path, e))
            }
            _ => Ok(()),
        }
    }

    /// Directory names present on disk: numeric ids and staging leftovers.
    pub(crate) fn on_disk(&self) -> Result<(Vec<u64>, Vec<PathBuf>)> {
        let mut ids = Vec::new();
        let mut staging = Vec::new();
        for e in fs::read_dir(&self.dir).map_err(|e| Error::io("read directory", &self.dir, e))? {
            let e = e.map_err(|err| Error::io("read directory", &self.dir, err))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if let Ok(id) = name.parse() {
                ids.push(id);
            } else if name.starts_with(STAGING_PREFIX) {
                staging.push(e.path());
            }
        }
        Ok((ids, staging))
    }
}
