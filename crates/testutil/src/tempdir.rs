//! A temp directory removed on drop, even when a broken runtime left
//! mounts inside it.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::host::mountinfo;

/// A directory under the system temp dir (mode 0755, so processes in a
/// user namespace can traverse it), removed with its content on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    /// Creates `$TMPDIR/<prefix>-XXXXXX`.
    pub fn new(prefix: &str) -> io::Result<TempDir> {
        let template = std::env::temp_dir().join(format!("{prefix}-XXXXXX"));
        let path = nix::unistd::mkdtemp(&template).map_err(io::Error::from)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
        Ok(TempDir {
            path,
            keep: std::env::var_os("BERTH_TEST_KEEP").is_some(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("BERTH_TEST_KEEP: leaving {}", self.path.display());
            return;
        }
        remove_tree(&self.path);
    }
}

/// Best-effort recursive removal. If something is still mounted below
/// `path` (a runtime that leaked a mount into the host namespace), detach
/// those mounts, deepest first, and retry.
pub(crate) fn remove_tree(path: &Path) {
    if fs::remove_dir_all(path).is_ok() || !path.exists() {
        return;
    }
    let mut below: Vec<PathBuf> = mountinfo()
        .into_iter()
        .map(|m| PathBuf::from(m.mount_point))
        .filter(|p| p.starts_with(path))
        .collect();
    below.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for m in &below {
        let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
    }
    if let Err(e) = fs::remove_dir_all(path) {
        eprintln!("warning: could not remove {}: {e}", path.display());
    }
}
