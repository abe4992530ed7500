//! `container checkpoint` and `container restore` (Podman's forms): each
//! container's name as given when done, as Podman prints it; `checkpoint
//! create/ls/rm` and `start --checkpoint` (Docker's experimental forms).

use std::path::Path;

use anyhow::{bail, Context, Result};
use berth_engine::ops::checkpoint::{
    CheckpointOptions, Destination, ImportOptions, MigrateOptions, NamedCheckpoint, RestoreOptions,
};
use berth_engine::Engine;

use crate::args::{
    CheckpointCommand, ContainerCheckpointArgs, ContainerRestoreArgs, MigrateArgs, StartArgs,
};
use crate::output::each;

pub fn run(root: &Path, command: CheckpointCommand) -> Result<()> {
    match command {
        CheckpointCommand::Create(a) => {
            let engine = Engine::open(root)?;
            let at = NamedCheckpoint {
                name: &a.checkpoint,
                dir: a.checkpoint_dir.as_deref(),
            };
            let opts = CheckpointOptions {
                leave_running: a.leave_running,
                ..Default::default()
            };
            engine.checkpoint_create(&a.container, &at, &opts)?;
            println!("{}", a.checkpoint);
        }
        CheckpointCommand::Ls(a) => {
            let engine = Engine::open(root)?;
            let names = engine.checkpoint_list(&a.container, a.checkpoint_dir.as_deref())?;
            println!("CHECKPOINT NAME");
            for n in names {
                println!("{n}");
            }
        }
        CheckpointCommand::Rm(a) => {
            let engine = Engine::open(root)?;
            let at = NamedCheckpoint {
                name: &a.checkpoint,
                dir: a.checkpoint_dir.as_deref(),
            };
            engine.checkpoint_remove(&a.container, &at)?;
        }
    }
    Ok(())
}

/// `start [-a] [-i] --checkpoint NAME [--checkpoint-dir D] C` (Docker's).
pub fn start(root: &Path, a: StartArgs) -> Result<()> {
    let Some(name) = a.checkpoint.as_deref() else {
        // Docker ignores --checkpoint-dir without --checkpoint.
        let mut engine = Engine::open(root)?;
        return each(&a.containers.containers, |key| {
            engine.start(key)?;
            Ok(())
        });
    };
    if a.containers.containers.len() > 1 {
        bail!("you cannot restore multiple containers at once");
    }
    if a.attach || a.interactive {
        // As `start -a`/`-ai`, the restore taking the fresh start's place.
        return crate::commands::attach::start(root, a);
    }
    let mut engine = Engine::open(root)?;
    let at = NamedCheckpoint {
        name,
        dir: a.checkpoint_dir.as_deref(),
    };
    // Docker prints nothing here.
    engine.start_from_checkpoint(&a.containers.containers[0], &at)?;
    Ok(())
}

pub fn container_checkpoint(root: &Path, a: ContainerCheckpointArgs) -> Result<()> {
    let engine = Engine::open(root)?;
    if a.export.is_some() && a.containers.containers.len() > 1 {
        bail!("--export can only be used with one container");
    }
    if a.ignore_volumes && a.export.is_none() {
        bail!("--ignore-volumes can only be used with --export");
    }
    let opts = CheckpointOptions {
        leave_running: a.leave_running,
        tcp_established: a.tcp_established,
        tcp_skip_in_flight: a.tcp_skip_in_flight,
        export: a.export,
        ignore_volumes: a.ignore_volumes,
    };
    each(&a.containers.containers, |key| {
        engine.checkpoint(key, &opts)?;
        Ok(())
    })
}

/// `container restore C...`, or `--import FILE [--name N]
/// [--ignore-volumes] [-p P...]` (Podman prints the new container's id).
pub fn container_restore(root: &Path, runtime: &str, a: ContainerRestoreArgs) -> Result<()> {
    let mut engine = Engine::open(root)?;
    let opts = RestoreOptions {
        tcp_established: a.tcp_established,
        keep: a.keep,
        tcp_close: a.tcp_close,
    };
    if let Some(file) = a.import {
        if !a.containers.is_empty() {
            bail!("--import restores a new container: give no container with it");
        }
        let import = ImportOptions {
            name: a.name,
            ignore_volumes: a.ignore_volumes,
            publish: a.publish,
            runtime: berth_engine::runtime::resolve(runtime)?,
            restore: opts,
        };
        // `-` is standard input: what `berth migrate` streams into.
        let (c, _) = if file == Path::new("-") {
            engine.restore_import(std::io::stdin().lock(), "standard input", &import)?
        } else {
            let f = std::fs::File::open(&file)
                .with_context(|| format!("failed to open {}", file.display()))?;
            engine.restore_import(f, &file.display().to_string(), &import)?
        };
        println!("{}", c.id);
        return Ok(());
    }
    if a.name.is_some() {
        bail!("--name can only be used with --import");
    }
    if a.ignore_volumes {
        bail!("--ignore-volumes can only be used with --import");
    }
    if !a.publish.is_empty() {
        bail!("--publish can only be used with --import");
    }
    if a.containers.is_empty() {
        bail!("restore needs at least one container, or --import FILE");
    }
    each(&a.containers, |key| {
        engine.restore(key, &opts)?;
        Ok(())
    })
}

/// `migrate C DEST`: prints the container's id at the destination.
pub fn migrate(root: &Path, a: MigrateArgs) -> Result<()> {
    let mut engine = Engine::open(root)?;
    let opts = MigrateOptions {
        destination: Destination::parse(&a.destination),
        name: a.name,
        remove: a.rm,
        publish: a.publish,
        tcp_established: a.tcp_established,
    };
    let m = engine.migrate(&a.container, &opts)?;
    tracing::debug!(
        downtime_ms = m.downtime.as_millis() as u64,
        image_sent = m.image_sent,
        "migrated"
    );
    println!("{}", m.id);
    Ok(())
}
