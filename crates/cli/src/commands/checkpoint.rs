//! `container checkpoint` and `container restore` (Podman's forms): each
//! container's name as given when done, as Podman prints it.

use std::path::Path;

use anyhow::Result;
use berth_engine::ops::checkpoint::{CheckpointOptions, RestoreOptions};
use berth_engine::Engine;

use crate::args::{ContainerCheckpointArgs, ContainerRestoreArgs};
use crate::output::each;

pub fn container_checkpoint(root: &Path, a: ContainerCheckpointArgs) -> Result<()> {
    let engine = Engine::open(root)?;
    let opts = CheckpointOptions {
        leave_running: a.leave_running,
        tcp_established: a.tcp_established,
    };
    each(&a.containers.containers, |key| {
        engine.checkpoint(key, &opts)?;
        Ok(())
    })
}

pub fn container_restore(root: &Path, a: ContainerRestoreArgs) -> Result<()> {
    let mut engine = Engine::open(root)?;
    let opts = RestoreOptions {
        tcp_established: a.tcp_established,
        keep: a.keep,
    };
    each(&a.containers.containers, |key| {
        engine.restore(key, &opts)?;
        Ok(())
    })
}
