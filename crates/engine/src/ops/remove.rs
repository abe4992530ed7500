//! `rm`, and removing a container's files (also for `--rm`, a failed
//! `create` and recovery).

use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::model::{Container, State};
use crate::Engine;

impl Engine {
    /// `rm [-f] [-v]`: `volumes` removes its anonymous volumes too.
    pub fn remove(&mut self, key: &str, force: bool, volumes: bool) -> Result<Container> {
        let c = self.find(key)?;
        if matches!(
            c.state,
            State::Running | State::Starting | State::Restarting
        ) {
            if !force {
                return Err(Error::RemoveRunning(c.name));
            }
            self.db.mark_stopped_by_user(&c.id, true)?;
            self.db
                .transition(&c.id, &[State::Restarting], State::Exited)?;
            let _ = self.kill_recorded(&c, "KILL");
            self.resume_after_signal(&c, "KILL");
            if !self.wait_not_running(&c.id, Duration::from_secs(30))? {
                return Err(Error::Monitor {
                    id: c.id,
                    message: "the container did not exit 30s after SIGKILL".into(),
                });
            }
        }
        self.remove_files(&c)?;
        if volumes && !c.config.auto_remove {
            self.remove_anonymous_volumes(&c);
        }
        Ok(c)
    }

    /// Runtime state, rootfs mount, snapshot, directory, then the record
    /// (last, so an interrupted removal can be run again). Each step
    /// tolerates being done already (the monitor of a `--rm` container and
    /// `rm -f` may race).
    pub(crate) fn remove_files(&mut self, c: &Container) -> Result<()> {
        let _ = self.runtime_for(c).delete(&c.id, true);
        self.remove_files_after_delete(c)
    }

    /// [`Engine::remove_files`] without the runtime's `delete`, for the
    /// monitor, which has just deleted the container's runtime state.
    pub(crate) fn remove_files_after_delete(&mut self, c: &Container) -> Result<()> {
        let bundle = self.bundle(&c.id);
        unmount(&bundle.rootfs())?;
        match self.images.remove_snapshot(&c.id) {
            Err(berth_image::Error::SnapshotNotFound(_)) | Ok(()) => {}
            Err(e) => return Err(e.into()),
        }
        match std::fs::remove_dir_all(bundle.dir()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::io("remove", bundle.dir(), e))
            }
            _ => {}
        }
        self.db.delete(&c.id)?;
        // `--rm` takes its anonymous volumes (Docker's)
        if c.config.auto_remove {
            self.remove_anonymous_volumes(c);
        }
        Ok(())
    }
}

/// Detaches the rootfs overlay; not mounted is fine.
pub(crate) fn unmount(path: &Path) -> Result<()> {
    use nix::errno::Errno;
    match nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(Error::io("unmount", path, e.into())),
    }
}
