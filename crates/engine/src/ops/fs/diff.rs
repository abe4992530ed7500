//! `diff`: a container's changes read from its overlay upper dir, as
//! moby's overlay walk reports them.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub(super) const OVERLAY_OPAQUE: &CStr = c"trusted.overlay.opaque";

/// Where the runtime mounts over the rootfs. When the image lacks one, the
/// runtime leaves an empty file or directory in the writable layer; Docker
/// keeps these in an init layer below it, so `diff` and `commit` skip them.
pub(super) const MOUNT_POINTS: &[&str] = &[
    "etc/hostname",
    "etc/hosts",
    "etc/resolv.conf",
    "proc",
    "sys",
    "dev",
    "dev/pts",
    "dev/shm",
    "dev/mqueue",
];

/// An empty file or directory at one of [`MOUNT_POINTS`].
fn is_mount_point_artifact(rel: &Path, meta: &std::fs::Metadata, full: &Path) -> bool {
    let Some(rel) = rel.to_str() else {
        return false;
    };
    MOUNT_POINTS.contains(&rel)
        && if meta.is_dir() {
            std::fs::read_dir(full).is_ok_and(|mut d| d.next().is_none())
        } else {
            meta.is_file() && meta.len() == 0
        }
}

/// The kind of a `diff` line, Docker's letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Changed,
    Deleted,
}

impl ChangeKind {
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Added => 'A',
            ChangeKind::Changed => 'C',
            ChangeKind::Deleted => 'D',
        }
    }

    /// Docker's `Kind` number in the API (0 modified, 1 added, 2 deleted).
    pub fn number(self) -> u8 {
        match self {
            ChangeKind::Changed => 0,
            ChangeKind::Added => 1,
            ChangeKind::Deleted => 2,
        }
    }
}

/// One line of `diff`: an absolute path in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    pub path: String,
}

pub(super) fn is_whiteout(meta: &std::fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

pub(super) fn is_opaque(dir: &Path) -> bool {
    let Ok(c) = CString::new(dir.join(".").as_os_str().as_bytes()) else {
        return false;
    };
    matches!(
        berth_sys::fs::get_xattr_nofollow(&c, OVERLAY_OPAQUE),
        Ok(Some(v)) if v == b"y"
    )
}

/// Moby's overlay change walk: a whiteout or an opaque directory is a
/// deletion; anything else is a change when a lower layer has the path
/// and an addition when none has; the parents of a change are changed.
/// A directory is changed by itself only when its mode or owner differs
/// (Docker also compares mtime and size, which the runtime's mount points
/// change in directories the container never touched).
pub(super) fn diff_dir(
    upper: &Path,
    rel: &Path,
    lower: &[PathBuf],
    changes: &mut BTreeMap<Vec<String>, ChangeKind>,
) -> Result<()> {
    let dir = upper.join(rel);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| Error::io("read", &dir, e))?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    names.sort();
    for name in names {
        let path = rel.join(&name);
        let full = upper.join(&path);
        let Ok(meta) = std::fs::symlink_metadata(&full) else {
            continue; // removed while we walked
        };
        if is_mount_point_artifact(&path, &meta, &full) {
            continue;
        }
        let kind = if is_whiteout(&meta) || meta.is_dir() && is_opaque(&full) {
            Some(ChangeKind::Deleted)
        } else {
            match lower.iter().find_map(|l| lower_meta(l, &path)) {
                None => Some(ChangeKind::Added),
                Some(old) if old.is_dir() && meta.is_dir() => {
                    let same = old.mode() == meta.mode()
                        && old.uid() == meta.uid()
                        && old.gid() == meta.gid();
                    (!same).then_some(ChangeKind::Changed)
                }
                Some(_) => Some(ChangeKind::Changed),
            }
        };
        if let Some(kind) = kind {
            let comps: Vec<String> = path
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            for n in 1..comps.len() {
                changes
                    .entry(comps[..n].to_vec())
                    .or_insert(ChangeKind::Changed);
            }
            changes.insert(comps, kind);
        }
        if meta.is_dir() {
            diff_dir(upper, &path, lower, changes)?;
        }
    }
    Ok(())
}

/// The metadata of `path` in a lower layer, a final symlink not followed;
/// `None` when absent or when a parent on the way is not a directory
/// (a symlink there would lead outside the layer).
fn lower_meta(layer: &Path, path: &Path) -> Option<std::fs::Metadata> {
    let mut cur = layer.to_owned();
    let mut comps = path.components().peekable();
    while let Some(c) = comps.next() {
        cur.push(c);
        let meta = std::fs::symlink_metadata(&cur).ok()?;
        if comps.peek().is_none() {
            return (!is_whiteout(&meta)).then_some(meta);
        }
        if !meta.is_dir() {
            return None;
        }
    }
    None
}
