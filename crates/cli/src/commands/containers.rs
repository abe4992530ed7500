//! The container commands: `run`, `create`, `start`, `stop`, `kill`, `rm`,
//! `ps`, `logs`, `inspect`, over `berth-engine`, with Docker's output.

use std::io::{self, Write};
use std::path::Path;

use anyhow::{anyhow, Result};
use berth_engine::{Container, CreateOptions, Engine, State};
use serde_json::{json, Value};

use crate::args::*;
use crate::output::{each, ExitWith, Template};

fn options(runtime: &str, a: CreateArgs) -> Result<CreateOptions> {
    // Flag values first: a bad one is Docker's flag error, before anything.
    let resources = a.resources.to_resources()?;
    // Docker reads --env-file first; -e overrides it.
    let env = a.security.env()?.into_iter().chain(a.env).collect();
    Ok(CreateOptions {
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
        engine.remove(key, a.force)?;
        Ok(())
    })
}

fn inspect_container(engine: &Engine, c: &Container) -> Value {
    let bundle = engine.bundle(&c.id);
    let running = matches!(c.state, State::Running | State::Restarting);
    let lifecycle = engine.lifecycle(c).unwrap_or_default();
    let zero = "0001-01-01T00:00:00Z";
    let or_zero = |t: &str| {
        if t.is_empty() {
            zero.to_owned()
        } else {
            t.to_owned()
        }
    };
    let cfg = &c.config;
    let sec = &cfg.security;
    let args = cfg.args();
    let mut v = json!({
        "Id": c.id,
        "Created": c.created_at,
        "Path": args.first().cloned().unwrap_or_default(),
        "Args": args.get(1..).unwrap_or_default(),
        "State": {
            "Status": match c.state {
                State::Starting => "created",
                State::Running if c.paused => "paused",
                s => s.as_str(),
            },
            "Running": running,
            "Paused": c.paused,
            "Restarting": c.state == State::Restarting,
            "OOMKilled": c.oom_killed,
            "Dead": false,
            "Pid": c.pid,
            "ExitCode": c.exit_code,
            "Error": c.error,
            "StartedAt": or_zero(&c.started_at),
            "FinishedAt": or_zero(&c.finished_at),
        },
        "Image": c.image_id,
        "ResolvConfPath": bundle.file("resolv.conf"),
        "HostnamePath": bundle.file("hostname"),
        "HostsPath": bundle.file("hosts"),
        "LogPath": engine.log_path(c).unwrap_or_default(),
        "Name": format!("/{}", c.name),
        "RestartCount": lifecycle.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "HostConfig": {
            "AutoRemove": cfg.auto_remove,
            "Runtime": cfg.runtime,
            "CgroupParent": cfg.cgroup_parent,
            "NetworkMode": if cfg.network_mode.is_empty() { "none" } else { &cfg.network_mode },
            "LogConfig": { "Type": cfg.log.driver.name(), "Config": cfg.log.opts },
            "RestartPolicy": {
                "Name": cfg.restart.name(),
                "MaximumRetryCount": cfg.restart.max_retries(),
            },
            "CapAdd": if sec.cap_add.is_empty() { Value::Null } else { json!(sec.cap_add) },
            "CapDrop": if sec.cap_drop.is_empty() { Value::Null } else { json!(sec.cap_drop) },
            "Privileged": sec.privileged,
            "ReadonlyRootfs": sec.read_only,
            "Init": sec.init.is_some(),
            "OomScoreAdj": sec.oom_score_adj,
            "GroupAdd": if sec.group_add.is_empty() { Value::Null } else { json!(sec.group_add) },
            "Sysctls": sec.sysctls,
        },
        "GraphDriver": {
            "Name": "overlay",
            "Data": { "MergedDir": bundle.rootfs() },
        },
        "Config": {
            "Hostname": cfg.hostname,
            "User": cfg.user,
            "Env": cfg.env,
            "Cmd": cfg.cmd,
            "Image": cfg.image,
            "WorkingDir": cfg.working_dir,
            "Entrypoint": if cfg.entrypoint.is_empty() { Value::Null } else { json!(cfg.entrypoint) },
            "Labels": cfg.labels,
            "StopSignal": if cfg.stop_signal.is_empty() { Value::Null } else { json!(cfg.stop_signal) },
            "StopTimeout": cfg.stop_timeout,
        },
        "NetworkSettings": { "Networks": { "none": {} } },
    });
    // Docker's HostConfig carries the limits (Memory, NanoCpus, ...).
    if let (Some(host), Ok(serde_json::Value::Object(limits))) = (
        v["HostConfig"].as_object_mut(),
        serde_json::to_value(&cfg.resources),
    ) {
        host.extend(limits);
    }
    v
}

/// `inspect --size`: Docker's `SizeRw` (the writable layer) and
/// `SizeRootFs` (with the image).
fn with_sizes(engine: &Engine, c: &Container, mut v: Value, size: bool) -> Value {
    if size {
        let (rw, rootfs) = engine.container_sizes(c);
        v["SizeRw"] = json!(rw);
        v["SizeRootFs"] = json!(rootfs);
    }
    v
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
            Some(c) => values.push(with_sizes(
                &engine,
                &c,
                inspect_container(&engine, &c),
                a.size,
            )),
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
