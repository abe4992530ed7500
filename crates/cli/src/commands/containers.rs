//! The container commands: `run`, `create`, `start`, `stop`, `kill`, `rm`,
//! `ps`, `logs`, `inspect`, over `berth-engine`, with Docker's output.

use std::io::{self, Write};
use std::path::Path;

use anyhow::{anyhow, Result};
use berth_engine::{Container, CreateOptions, Engine};

use crate::args::*;
use crate::output::{each, ExitWith, Template};

fn options(runtime: &str, a: CreateArgs) -> Result<CreateOptions> {
    // Flag values first: a bad one is Docker's flag error, before anything.
    let resources = a.resources.to_resources()?;
    if a.network.as_deref() == Some("host") && !a.net.publish.is_empty() {
        // Docker's daemon warning; the engine drops them.
        eprintln!("WARNING: Published ports are discarded when using host network mode");
    }
    // Docker reads --env-file first; -e overrides it.
    let env = a.security.env()?.into_iter().chain(a.env).collect();
    let (volumes, mounts, volumes_from) = a.mounts.specs();
    Ok(CreateOptions {
        volumes,
        mounts,
        volumes_from,
        labels: a.security.labels()?,
        security: a.security.options(),
        name: a.name,
        image: a.image,
        cmd: a.command,
        entrypoint: a.entrypoint,
        env,
        working_dir: a.workdir,
        user: a.user,
        hostname: a.hostname,
        auto_remove: a.rm,
        runtime: berth_engine::runtime::resolve(runtime)?,
        cgroup_parent: a.cgroup_parent,
        network: a.network,
        net: a.net.options(),
        resources,
        stdio: berth_engine::StdioConfig {
            tty: a.stdio.tty,
            open_stdin: a.stdio.interactive,
            stdin_once: false,
            console_size: if a.stdio.tty {
                berth_engine::ops::exec_session::terminal_size()
            } else {
                None
            },
        },
        restart: a.restart,
        stop_signal: a.stop_signal,
        stop_timeout: a.stop_timeout,
        log_driver: a.log_driver,
        log_opts: a.log_opts,
    })
}

pub fn create_cmd(root: &Path, runtime: &str, a: CreateArgs) -> Result<()> {
    let mut engine = Engine::open(root)?;
    super::images::ensure_image(&engine, &a.image, &a.pull)?;
    let c = engine.create(&options(runtime, a)?)?;
    println!("{}", c.id);
    Ok(())
}

pub fn run(root: &Path, runtime: &str, a: RunArgs) -> Result<()> {
    let mut engine = Engine::open(root)?;
    super::images::ensure_image(&engine, &a.create.image, &a.create.pull)?;
    let mut o = options(runtime, a.create)?;
    // Docker's foreground `run -i` closes the container's stdin with ours.
    o.stdio.stdin_once = o.stdio.open_stdin && !a.detach;
    if !a.detach {
        super::attach::check_tty_input(o.stdio.tty, o.stdio.open_stdin)?;
    }
    let c = engine.create(&o)?;
    if !a.detach {
        // A `--rm` container that failed to start is removed by its monitor.
        return super::attach::run_foreground(
            root,
            &mut engine,
            &c,
            &a.attach.detach_keys,
            a.attach.sig_proxy,
        );
    }
    engine.start(&c.id)?;
    println!("{}", c.id);
    Ok(())
}

pub fn start(root: &Path, a: ContainersArgs) -> Result<()> {
    let mut engine = Engine::open(root)?;
    each(&a.containers, |key| {
        engine.start(key)?;
        Ok(())
    })
}

pub fn stop(root: &Path, a: StopArgs) -> Result<()> {
    let engine = Engine::open(root)?;
    each(&a.containers, |key| {
        engine.stop(key, engine.stop_timeout(key, a.time)?)?;
        Ok(())
    })
}

pub fn kill(root: &Path, a: KillArgs) -> Result<()> {
    let engine = Engine::open(root)?;
    each(&a.containers, |key| {
        engine.kill(key, &a.signal)?;
        Ok(())
    })
}

pub fn rm(root: &Path, a: RmArgs) -> Result<()> {
    let mut engine = Engine::open(root)?;
    each(&a.containers, |key| {
        engine.remove(key, a.force, a.volumes)?;
        Ok(())
    })
}

/// Containers first, then images (Docker's `inspect` without `--type`).
pub fn inspect(
    root: &Path,
    a: InspectArgs,
    images: impl FnOnce(InspectArgs) -> Result<()>,
) -> Result<()> {
    let engine = Engine::open(root)?;
    let found: Vec<Option<Container>> = a.images.iter().map(|k| engine.find(k).ok()).collect();
    if found.iter().all(|c| c.is_none()) || a.format.is_some() && found.iter().any(|c| c.is_none())
    {
        return images(a);
    }
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for (key, c) in a.images.iter().zip(found) {
        match c {
            Some(c) => values.push(engine.inspect_container(&c, a.size)),
            None => missing.push(key.clone()),
        }
    }
    let mut out = io::stdout().lock();
    if let Some(f) = &a.format {
        let t = Template::parse(f)?;
        for v in &values {
            writeln!(out, "{}", t.render(v)?)?;
        }
    } else {
        writeln!(out, "{}", serde_json::to_string_pretty(&values)?)?;
    }
    if let Some(m) = missing.first() {
        return Err(anyhow!("No such object: {m}"));
    }
    Ok(())
}

pub fn restart(root: &Path, a: StopArgs) -> Result<()> {
    let mut engine = Engine::open(root)?;
    each(&a.containers, |key| {
        let timeout = engine.stop_timeout(key, a.time)?;
        engine.restart(key, timeout)?;
        Ok(())
    })
}

/// Docker's `wait`: one exit code per line, in order; 125 if any failed.
pub fn wait(root: &Path, a: ContainersArgs) -> Result<()> {
    let engine = Engine::open(root)?;
    let mut failed = false;
    for key in &a.containers {
        match engine.wait(key) {
            Ok(code) => println!("{code}"),
            Err(e) => {
                if a.containers.len() == 1 {
                    return Err(e.into());
                }
                eprintln!("Error: {e}");
                failed = true;
            }
        }
    }
    if failed {
        return Err(ExitWith(125).into());
    }
    Ok(())
}

/// `system boot`: the reconcile ran when the engine opened; start what the
/// restart policies say, printing each name started.
pub fn system_boot(root: &Path) -> Result<()> {
    let mut engine = Engine::open(root)?;
    let mut failed = false;
    for s in engine.boot()? {
        match s.result {
            Ok(()) => println!("{}", s.name),
            Err(e) => {
                eprintln!("Error: {}: {e}", s.name);
                failed = true;
            }
        }
    }
    if failed {
        return Err(ExitWith(125).into());
    }
    Ok(())
}
