//! The container commands: `run`, `create`, `start`, `stop`, `kill`, `rm`,
//! `ps`, `logs`, `inspect`, over `berth-engine`, with Docker's output.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Result};
use berth_engine::logfile::{self, LogDriver};
use berth_engine::{Container, CreateOptions, Engine, State};
use serde_json::{json, Value};

use crate::cli::*;
use crate::format::{created_since, human_duration, tabulate};

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
            console_size: if a.stdio.tty { crate::attach::terminal_size() } else { None },
        },
        restart: a.restart,
        log_driver: a.log_driver,
        log_opts: a.log_opts,
    })
}

pub fn create_cmd(root: &Path, runtime: &str, a: CreateArgs) -> Result<()> {
    let mut engine = Engine::open(root)?;
    let c = engine.create(&options(runtime, a)?)?;
    println!("{}", c.id);
    Ok(())
}

pub fn run(root: &Path, runtime: &str, a: RunArgs) -> Result<()> {
    let mut engine = Engine::open(root)?;
    let mut o = options(runtime, a.create)?;
    // Docker's foreground `run -i` closes the container's stdin with ours.
    o.stdio.stdin_once = o.stdio.open_stdin && !a.detach;
    if !a.detach {
        crate::attach::check_tty_input(o.stdio.tty, o.stdio.open_stdin)?;
    }
    let c = engine.create(&o)?;
    if !a.detach {
        // A `--rm` container that failed to start is removed by its monitor.
        return crate::attach::run_foreground(
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

/// Reads a log (json-file or k8s-file) from where it left off, writing each
/// entry to stdout or stderr; follows the live file across rotations.
struct LogFollower {
    path: PathBuf,
    driver: LogDriver,
    max_file: u32,
    /// Held once opened: a `--rm` container's monitor removes the log
    /// (with the container) before it reports the exit.
    file: Option<File>,
    offset: u64,
    partial: Vec<u8>,
}

impl LogFollower {
    fn new(engine: &Engine, c: &Container) -> LogFollower {
        let mut f = LogFollower {
            path: engine.log_path(c).unwrap_or_default(),
            driver: c.config.log.driver,
            max_file: c.config.log.max_file,
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

    /// Copies what was added since the last call, moving on to newer files
    /// when the monitor rotated the one being read.
    fn copy_new(&mut self) -> Result<()> {
        loop {
            if !self.open()? {
                return Ok(());
            }
            self.copy_to_end()?;
            let Some(next) = self.next_file()? else {
                return Ok(());
            };
            // Rotated away, so it gets no more entries: take the ones
            // written between our end of file and the rotation.
            self.copy_to_end()?;
            self.partial.clear();
            self.offset = 0;
            self.file = match File::open(&next) {
                Ok(f) => Some(f),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(e.into()),
            };
        }
    }

    fn copy_to_end(&mut self) -> Result<()> {
        let mut f = self.file.as_ref().expect("opened");
        // max-file 1 rotates by emptying the file.
        if f.metadata()?.len() < self.offset {
            self.offset = 0;
            self.partial.clear();
        }
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
            let entry = logfile::parse_line(self.driver, &self.partial);
            self.partial.clear();
            let Some(entry) = entry else { continue };
            if entry.stream == "stderr" {
                err.write_all(&entry.text)?;
            } else {
                out.write_all(&entry.text)?;
            }
        }
        out.flush()?;
        Ok(())
    }

    /// The file after the one being read when that one is no longer the
    /// live file: the next newer rotated file, or the live one. None while
    /// it is still the live file.
    fn next_file(&self) -> Result<Option<PathBuf>> {
        use std::os::unix::fs::MetadataExt;
        let Some(f) = &self.file else {
            return Ok(None);
        };
        let m = f.metadata()?;
        let same = |p: &Path| {
            std::fs::metadata(p).is_ok_and(|o| o.ino() == m.ino() && o.dev() == m.dev())
        };
        if same(&self.path) || !self.path.exists() {
            return Ok(None);
        }
        let rotated: Vec<PathBuf> = (1..self.max_file.max(1))
            .map(|n| logfile::rotated_path(&self.path, n))
            .collect();
        if let Some(k) = rotated.iter().position(|p| same(p)) {
            return Ok(Some(if k == 0 {
                self.path.clone()
            } else {
                rotated[k - 1].clone()
            }));
        }
        // Ours fell off the end: every file left is newer.
        Ok(Some(
            rotated
                .into_iter()
                .rev()
                .find(|p| p.exists())
                .unwrap_or_else(|| self.path.clone()),
        ))
    }

    /// Copies the rotated files (oldest first) before the live one.
    fn copy_rotated(&self, max_file: u32) -> Result<()> {
        let files = logfile::files_oldest_first(&self.path, max_file);
        for p in &files[..files.len() - 1] {
            let mut old = LogFollower {
                path: p.clone(),
                driver: self.driver,
                max_file: 1,
                file: None,
                offset: 0,
                partial: Vec::new(),
            };
            old.copy_new()?;
        }
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
pub(crate) fn each(keys: &[String], mut f: impl FnMut(&str) -> Result<()>) -> Result<()> {
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

fn status(c: &Container) -> String {
    let since = |t: &str| {
        berth_image::time::parse_rfc3339(t).map(|s| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            human_duration(now - s)
        })
    };
    match c.state {
        State::Running if c.paused => format!("Up {} (Paused)", since(&c.started_at).unwrap_or_default()),
        State::Running => format!("Up {}", since(&c.started_at).unwrap_or_default()),
        State::Starting => "Starting".into(),
        State::Exited => format!(
            "Exited ({}) {} ago",
            c.exit_code,
            since(&c.finished_at).unwrap_or_default()
        ),
        State::Created => "Created".into(),
        State::Restarting => format!(
            "Restarting ({}) {} ago",
            c.exit_code,
            since(&c.finished_at).unwrap_or_default()
        ),
    }
}

fn command_line(c: &Container, no_trunc: bool) -> String {
    let cmd = c.config.args().join(" ");
    if no_trunc || cmd.chars().count() <= 20 {
        format!("\"{cmd}\"")
    } else {
        format!("\"{}…\"", cmd.chars().take(19).collect::<String>())
    }
}

pub fn ps(root: &Path, a: PsArgs) -> Result<()> {
    let engine = Engine::open(root)?;
    let list: Vec<Container> = engine
        .list()?
        .into_iter()
        .filter(|c| {
            a.all
                || matches!(
                    c.state,
                    State::Running | State::Starting | State::Restarting
                )
        })
        .collect();
    let id = |c: &Container| {
        if a.no_trunc {
            c.id.clone()
        } else {
            c.id[..12].to_owned()
        }
    };
    let mut out = io::stdout().lock();
    if a.quiet {
        for c in &list {
            writeln!(out, "{}", id(c))?;
        }
        return Ok(());
    }
    let mut rows = vec!["CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES".to_owned()];
    for c in &list {
        rows.push(format!(
            "{}\t{}\t{}\t{}\t{}\t\t{}",
            id(c),
            c.config.image,
            command_line(c, a.no_trunc),
            created_since(&c.created_at),
            status(c),
            c.name
        ));
    }
    write!(out, "{}", tabulate(&rows))?;
    Ok(())
}

pub fn logs(root: &Path, a: LogsArgs) -> Result<()> {
    let engine = Engine::open(root)?;
    let c = engine.find(&a.container)?;
    if c.config.log.driver == LogDriver::None {
        return Err(anyhow!(
            "configured logging driver does not support reading"
        ));
    }
    let mut follower = LogFollower::new(&engine, &c);
    follower.copy_rotated(c.config.log.max_file)?;
    follower.copy_new()?;
    if !a.follow {
        return Ok(());
    }
    while !engine.wait_not_running(&c.id, Duration::from_millis(100))? {
        follower.copy_new()?;
    }
    follower.copy_new()
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
            Some(c) => values.push(inspect_container(&engine, &c)),
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

pub fn restart(root: &Path, a: StopArgs) -> Result<()> {
    let mut engine = Engine::open(root)?;
    each(&a.containers, |key| {
        engine.restart(key, Duration::from_secs(a.time))?;
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
