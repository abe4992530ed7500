//! Small file-system helpers: unique temp names, fsync of directories,
//! advisory locks. (Atomic writes: `berth_sys::write_atomic`.)

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::fcntl::{Flock, FlockArg};

use crate::{Error, Result};

/// A name no other writer (thread or process) picks: pid, a counter and
/// the clock.
pub(crate) fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}{}-{n}-{nanos:x}", std::process::id())
}

pub(crate) fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("fsync directory", dir, e))
}

pub(crate) fn create_dir_all(path: &Path) -> Result<()> {
    fs::create_dir_all(path).map_err(|e| Error::io("create directory", path, e))
}

/// An advisory `flock` on a file, released on drop.
pub(crate) struct Lock(#[allow(dead_code)] Flock<File>);

impl Lock {
    pub(crate) fn shared(path: &Path) -> Result<Lock> {
        Lock::take(path, FlockArg::LockShared)
    }

    pub(crate) fn exclusive(path: &Path) -> Result<Lock> {
        Lock::take(path, FlockArg::LockExclusive)
    }

    fn take(path: &Path, how: FlockArg) -> Result<Lock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| Error::io("open lock file", path, e))?;
        Flock::lock(file, how)
            .map(Lock)
            .map_err(|(_, e)| Error::io("lock", path, e.into()))
    }
}

/// A directory removed with its content on drop unless kept.
pub(crate) struct TempTree {
    path: PathBuf,
    keep: bool,
}

impl TempTree {
    pub(crate) fn create(path: PathBuf) -> Result<TempTree> {
        fs::create_dir(&path).map_err(|e| Error::io("create directory", &path, e))?;
        Ok(TempTree { path, keep: false })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the tree to `to`; it is no longer removed on drop.
    pub(crate) fn persist(mut self, to: &Path) -> Result<()> {
        fs::rename(&self.path, to).map_err(|e| Error::io("rename into place", to, e))?;
        self.keep = true;
        Ok(())
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}
