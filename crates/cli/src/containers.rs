//! The container commands: `run`, `create`, `start`, `stop`, `kill`, `rm`,
//! `ps`, `logs`, `inspect`, over `berth-engine`, with Docker's output.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{anyhow, Result};
use berth_engine::{Container, CreateOptions, Engine, State};
use serde_json::{json, Value};

use crate::cli::*;
use crate::format::human_duration;

/// Exit with this code and print nothing (the container's own code).
#[derive(Debug)]
pub struct ExitWith(pub u8);

impl std::fmt::Display for ExitWith {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for ExitWith {}

fn options(runtime: &str, a: CreateArgs) -> Result<CreateOptions> {
    Ok(CreateOptions {
        name: a.name,
        image: a.image,
        cmd: a.command,
        entrypoint: a.entrypoint,
        env: a.env,
        working_dir: a.workdir,
        user: a.user,
        hostname: a.hostname,
        auto_remove: a.rm,
        runtime: berth_engine::runtime::resolve(runtime)?,
        cgroup_parent: a.cgroup_parent,
        network: a.network,
    })
}

pub fn create_cmd(root: &Path, runtime: &str, a: CreateArgs) -> Result<()> {
    crate::system::ensure_image(root, &a.image, &a.pull)?;
    let mut engine = Engine::open(root)?;
    let c = engine.create(&options(runtime, a)?)?;
    println!("{}", c.id);
    Ok(())
}

pub fn run(root: &Path, runtime: &str, a: RunArgs) -> Result<()> {
    crate::system::ensure_image(root, &a.create.image, &a.create.pull)?;
    let mut engine = Engine::open(root)?;
    let c = engine.create(&options(runtime, a.create)?)?;
    // A `--rm` container that failed to start is removed by its monitor.
    let started = engine.start(&c.id)?;
    if a.detach {
        println!("{}", c.id);
        return Ok(());
    }
    let started =
        started.ok_or_else(|| anyhow!("container {} was started by someone else", c.id))?;
    let code = attach_until_exit(&engine.log_path(&c), started.reports)?;
    Err(ExitWith(code).into())
}

/// Copies the log to stdout/stderr as it grows until the monitor reports
/// the exit; returns the container's exit code.
fn attach_until_exit(log: &Path, mut reports: BufReader<io::PipeReader>) -> Result<u8> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let code = match reports.read_line(&mut line) {
            Ok(_) => line
                .trim()
                .strip_prefix("exited ")
                .and_then(|c| c.parse::<i32>().ok()),
            Err(_) => None,
        };
        let _ = tx.send(code);
    });
    let mut follower = LogFollower::new(log.to_owned());
    loop {
        follower.copy_new()?;
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(code) => {
                follower.copy_new()?;
                return match code {
                    Some(c) => Ok((c & 0xff) as u8),
                    None => Err(anyhow!(
                        "the container's monitor ended without reporting an exit code"
                    )),
                };
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                unreachable!("the sender sends before it drops")
            }
        }
    }
}

/// Reads a json-file log from where it left off, writing each entry to
/// stdout or stderr.
struct LogFollower {
    path: PathBuf,
    /// Held once opened: a `--rm` container's monitor removes the log
    /// (with the container) before it reports the exit.
    file: Option<File>,
    offset: u64,
    partial: Vec<u8>,
}

impl LogFollower {
    fn new(path: PathBuf) -> LogFollower {
        let mut f = LogFollower {
            path,
            file: None,
            offset: 0,
            partial: Vec::new(),
        };
        // The monitor made the log before it reported the start.
        let _ = f.open();
        f
    }

    fn open(&mut self) -> Result<bool> {
        if self.file.is_none() {
            match File::open(&self.path) {
                Ok(f) => self.file = Some(f),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(true)
    }

    fn copy_new(&mut self) -> Result<()> {
        if !self.open()? {
            return Ok(());
        }
        let mut f = self.file.as_ref().expect("opened");
        f.seek(SeekFrom::Start(self.offset))?;
        let mut r = BufReader::new(f);
        let mut out = io::stdout().lock();
        let mut err = io::stderr().lock();
        loop {
            let n = r.read_until(b'\n', &mut self.partial)?;
            if n == 0 {
                break;
            }
            self.offset += n as u64;
            if !self.partial.ends_with(b"\n") {
                break; // the monitor is mid-write; finish it next time
            }
            let entry: Value = serde_json::from_slice(&self.partial).unwrap_or(Value::Null);
            self.partial.clear();
            let text = entry["log"].as_str().unwrap_or("");
            if entry["stream"] == "stderr" {
                err.write_all(text.as_bytes())?;
            } else {
                out.write_all(text.as_bytes())?;
            }
        }
        out.flush()?;
        Ok(())
    }
}

pub fn start(root: &Path, a: ContainersArgs) -> Result<()> {
    let mut engine = Engine::open(root)?;
    each(&a.containers, |key| {
        engine.start(key)?;
        Ok(())
    })
}

/// Docker's pattern for commands over several containers: print each name
/// done, report each failure, exit 125 if any failed.
fn each(keys: &[String], mut f: impl FnMut(&str) -> Result<()>) -> Result<()> {
    let mut failed = 0;
    for key in keys {
        match f(key) {
            Ok(()) => println!("{key}"),
            Err(e) => {
                failed += 1;
                if keys.len() == 1 {
                    return Err(e);
                }
                eprintln!("Error: {e}");
            }
        }
    }
    if failed > 0 {
        return Err(ExitWith(125).into());
    }
    Ok(())
}

pub fn stop(root: &Path, a: StopArgs) -> Result<()> {
    let engine = Engine::open(root)?;
    each(&a.containers, |key| {
        engine.stop(key, Duration::from_secs(a.time))?;
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

pub(crate) fn status(c: &Container) -> String {
    let since = |t: &str| {
        berth_image::time::parse_rfc3339(t).map(|s| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            human_duration(now - s)
        })
    };
    match c.state {
        State::Running => format!("Up {}", since(&c.started_at).unwrap_or_default()),
        State::Starting => "Starting".into(),
        State::Exited => format!(
            "Exited ({}) {} ago",
            c.exit_code,
            since(&c.finished_at).unwrap_or_default()
        ),
        State::Created => "Created".into(),
    }
}

fn inspect_container(engine: &Engine, c: &Container) -> Value {
    let bundle = engine.bundle(&c.id);
    let running = c.state == State::Running;
    let zero = "0001-01-01T00:00:00Z";
    let or_zero = |t: &str| {
        if t.is_empty() {
            zero.to_owned()
        } else {
            t.to_owned()
        }
    };
    let cfg = &c.config;
    let args = cfg.args();
    json!({
        "Id": c.id,
        "Created": c.created_at,
        "Path": args.first().cloned().unwrap_or_default(),
        "Args": args.get(1..).unwrap_or_default(),
        "State": {
            "Status": if c.state == State::Starting { "created" } else { c.state.as_str() },
            "Running": running,
            "Paused": false,
            "Restarting": false,
            "OOMKilled": false,
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
        "LogPath": engine.log_path(c),
        "Name": format!("/{}", c.name),
        "RestartCount": 0,
        "Driver": "overlay",
        "Platform": "linux",
        "HostConfig": {
            "AutoRemove": cfg.auto_remove,
            "Runtime": cfg.runtime,
            "CgroupParent": cfg.cgroup_parent,
            "NetworkMode": "none",
            "LogConfig": { "Type": "json-file", "Config": {} },
            "CapAdd": null,
            "CapDrop": null,
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
        },
        "NetworkSettings": { "Networks": { "none": {} } },
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
            Some(c) => values.push(crate::ps::with_sizes(
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
        let t = crate::format::Template::parse(f)?;
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
