//! `berth build` and `berth builder prune`: flags → the engine's build,
//! with BuildKit's progress output (plain lines, or live lines on a
//! terminal).

use std::collections::{BTreeMap, HashMap};
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use berth_engine::build::{BuildRequest, ContextSource, DockerfileSource};
use berth_engine::builder::{BuildOptions, Network, Progress};
use berth_engine::image::{ArchiveFormat, Platform, Reference};
use berth_engine::Engine;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::{BuildArgs, BuilderPruneArgs};
use crate::output::{human_size, write_file_atomic};

pub fn build(root: &Path, runtime: &str, a: BuildArgs) -> Result<()> {
    let tags = a
        .tags
        .iter()
        .map(|t| Reference::parse(t).with_context(|| format!("invalid tag {t:?}")))
        .collect::<Result<Vec<_>>>()?;
    let mut build_args = BTreeMap::new();
    for kv in &a.build_args {
        match kv.split_once('=') {
            Some((k, v)) => build_args.insert(k.to_owned(), v.to_owned()),
            // Docker: `--build-arg K` takes K from the environment, and
            // is left out when the environment has none.
            None => match std::env::var(kv) {
                Ok(v) => build_args.insert(kv.clone(), v),
                Err(_) => None,
            },
        };
    }
    let labels = a
        .labels
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (kv.clone(), String::new()),
        })
        .collect();
    let mut secrets = BTreeMap::new();
    for s in &a.secrets {
        let (id, src) = parse_secret(s)?;
        secrets.insert(id, src);
    }
    let output = a.output.as_deref().map(parse_output).transpose()?;
    let options = BuildOptions {
        tags,
        build_args,
        target: a.target.clone(),
        no_cache: a.no_cache,
        pull: a.pull,
        labels,
        platform: a.platform.as_deref().map(Platform::parse).transpose()?,
        network: Network::parse(&a.network)?,
        secrets,
        compression: match a.compression.as_str() {
            "zstd" => berth_engine::image::Compression::Zstd,
            _ => berth_engine::image::Compression::Gzip,
        },
        ..Default::default()
    };
    // The context and the Dockerfile, as `docker build` takes them.
    let stdin_used = a.context == "-" || a.file.as_deref() == Some("-");
    if a.context == "-" && a.file.as_deref() == Some("-") {
        bail!("invalid argument: can't use stdin for both build context and dockerfile");
    }
    let (context, dockerfile) = if a.context == "-" {
        let mut data = Vec::new();
        io::stdin().lock().read_to_end(&mut data)?;
        if looks_like_tar(&data) {
            let file = a.file.clone().unwrap_or_else(|| "Dockerfile".into());
            (
                ContextSource::Tar(Box::new(io::Cursor::new(data))),
                DockerfileSource::Path(file),
            )
        } else {
            // A Dockerfile on stdin: an empty context.
            let text = String::from_utf8(data).context("the Dockerfile on stdin is not UTF-8")?;
            (ContextSource::Empty, DockerfileSource::Text(text))
        }
    } else {
        let dir = PathBuf::from(&a.context);
        if !dir.is_dir() {
            bail!("unable to prepare context: path {:?} not found", a.context);
        }
        let dockerfile = match a.file.as_deref() {
            Some("-") => {
                let mut t = String::new();
                io::stdin().lock().read_to_string(&mut t)?;
                DockerfileSource::Text(t)
            }
            Some(f) => {
                // Docker: -f is relative to the current directory.
                let p = std::path::absolute(f)?;
                if !p.is_file() {
                    bail!("unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat {}: no such file or directory", p.display());
                }
                DockerfileSource::Path(p.to_string_lossy().into_owned())
            }
            None => DockerfileSource::Path("Dockerfile".into()),
        };
        (ContextSource::Dir(dir), dockerfile)
    };
    let _ = stdin_used;
    let mut engine = Engine::open(root)?;
    let quiet = a.quiet || a.progress == "quiet";
    let mode = match a.progress.as_str() {
        _ if quiet => Mode::Quiet,
        "tty" => Mode::Tty,
        "plain" => Mode::Plain,
        _ if io::stderr().is_terminal() => Mode::Tty,
        _ => Mode::Plain,
    };
    let progress = Display::new(mode);
    let req = BuildRequest {
        context,
        dockerfile,
        options,
        runtime: berth_engine::runtime::resolve(runtime)?,
        cgroup_parent: a.cgroup_parent.clone(),
        tls_verify: Some(true),
        credentials: Default::default(),
    };
    let started = Instant::now();
    let result = engine.build(req, &progress);
    progress.finish();
    let built = result?;
    let id = built.image.to_string();
    progress.line(&format!(
        "writing image {id} done ({} steps run, {} cached, {:.1}s)",
        built.ran,
        built.cached,
        started.elapsed().as_secs_f64()
    ));
    for t in &a.tags {
        if let Ok(r) = Reference::parse(t) {
            progress.line(&format!("naming to {r} done"));
        }
    }
    if let Some(f) = &a.iidfile {
        write_file_atomic(Path::new(f), |file| Ok(file.write_all(id.as_bytes())?))?;
    }
    if let Some((format, dest)) = output {
        let names = vec![id.clone()];
        if dest == "-" {
            engine.save_images(&names, format, io::stdout().lock())?;
        } else {
            write_file_atomic(Path::new(&dest), |file| {
                Ok(engine.save_images(&names, format, file)?)
            })?;
        }
    }
    if quiet {
        writeln!(io::stdout().lock(), "{id}")?;
    }
    Ok(())
}

/// `id=X[,src=PATH]` (or `source=`, `type=file`); without src, Docker
/// reads the file named by the id... only env and file types exist:
/// berth takes files.
fn parse_secret(s: &str) -> Result<(String, PathBuf)> {
    let mut id = None;
    let mut src = None;
    for kv in s.split(',') {
        match kv.split_once('=') {
            Some(("id", v)) => id = Some(v.to_owned()),
            Some(("src" | "source", v)) => src = Some(PathBuf::from(v)),
            Some(("type", "file")) => {}
            Some(("type", t)) => bail!("unsupported secret type {t:?}: berth takes files"),
            Some(("env", _)) => {
                bail!("secrets from the environment are not supported: use src=FILE")
            }
            _ => bail!("invalid secret {s:?}: want id=ID,src=FILE"),
        }
    }
    let id = id.with_context(|| format!("invalid secret {s:?}: no id"))?;
    let src = src.unwrap_or_else(|| PathBuf::from(&id));
    if !src.is_file() {
        bail!(
            "failed to read secret {id}: {}: no such file",
            src.display()
        );
    }
    Ok((id, std::path::absolute(src)?))
}

/// `type=oci|docker,dest=FILE`.
fn parse_output(s: &str) -> Result<(ArchiveFormat, String)> {
    let mut kind = None;
    let mut dest = None;
    for kv in s.split(',') {
        match kv.split_once('=') {
            Some(("type", v)) => kind = Some(v.to_owned()),
            Some(("dest", v)) => dest = Some(v.to_owned()),
            _ => bail!("invalid output {s:?}: want type=oci|docker,dest=FILE"),
        }
    }
    let format = match kind.as_deref() {
        Some("oci") => ArchiveFormat::OciArchive,
        Some("docker") => ArchiveFormat::DockerArchive,
        Some(other) => bail!("output type {other:?} is not supported: use oci or docker"),
        None => bail!("invalid output {s:?}: no type"),
    };
    let dest = dest.with_context(|| format!("invalid output {s:?}: no dest"))?;
    Ok((format, dest))
}

fn looks_like_tar(data: &[u8]) -> bool {
    let gzip = data.starts_with(&[0x1f, 0x8b]);
    let ustar = data.len() > 262 && &data[257..262] == b"ustar";
    gzip || ustar
}

pub fn prune(root: &Path, a: BuilderPruneArgs) -> Result<()> {
    let _ = (a.all, a.force);
    let engine = Engine::open(root)?;
    let freed = engine.prune_build_cache()?;
    writeln!(io::stdout().lock(), "Total:\t{}", human_size(freed))?;
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Quiet,
    Plain,
    Tty,
}

/// BuildKit's progress: `#N name`, `#N 0.123 output`, `#N DONE 0.2s` /
/// `#N CACHED` (plain), or a live line per step (tty).
struct Display {
    mode: Mode,
    started: Mutex<HashMap<usize, Instant>>,
    /// Partial output lines by step.
    partial: Mutex<HashMap<usize, Vec<u8>>>,
    bars: MultiProgress,
    live: Mutex<HashMap<usize, ProgressBar>>,
    names: Mutex<HashMap<usize, String>>,
}

impl Display {
    fn new(mode: Mode) -> Display {
        let bars = MultiProgress::with_draw_target(match mode {
            Mode::Tty => ProgressDrawTarget::stderr(),
            _ => ProgressDrawTarget::hidden(),
        });
        Display {
            mode,
            started: Mutex::new(HashMap::new()),
            partial: Mutex::new(HashMap::new()),
            bars,
            live: Mutex::new(HashMap::new()),
            names: Mutex::new(HashMap::new()),
        }
    }

    fn line(&self, text: &str) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Plain => eprintln!("{text}"),
            Mode::Tty => {
                let _ = self.bars.println(format!(" => {text}"));
            }
        }
    }

    fn finish(&self) {
        for (_, bar) in self.live.lock().expect("bars").drain() {
            bar.finish_and_clear();
        }
    }

    fn flush_partial(&self, id: usize) {
        if let Some(rest) = self.partial.lock().expect("partial").remove(&id) {
            if !rest.is_empty() {
                self.output_line(id, &rest);
            }
        }
    }

    fn output_line(&self, id: usize, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let elapsed = self
            .started
            .lock()
            .expect("started")
            .get(&id)
            .map(|t| t.elapsed().as_secs_f64())
            .unwrap_or(0.0);
        match self.mode {
            Mode::Quiet => {}
            Mode::Plain => eprintln!("#{id} {elapsed:.3} {text}"),
            Mode::Tty => {
                let _ = self.bars.println(format!("#{id} {elapsed:.3} {text}"));
            }
        }
    }
}

impl Progress for Display {
    fn start(&self, id: usize, name: &str) {
        self.started
            .lock()
            .expect("started")
            .insert(id, Instant::now());
        self.names
            .lock()
            .expect("names")
            .insert(id, name.to_owned());
        match self.mode {
            Mode::Quiet => {}
            Mode::Plain => eprintln!("#{id} {name}"),
            Mode::Tty => {
                let bar = self.bars.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template(" {spinner} {msg} {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message(name.to_owned());
                bar.enable_steady_tick(Duration::from_millis(100));
                self.live.lock().expect("bars").insert(id, bar);
            }
        }
    }

    fn output(&self, id: usize, data: &[u8]) {
        if self.mode == Mode::Quiet {
            return;
        }
        let mut lines = Vec::new();
        {
            let mut partial = self.partial.lock().expect("partial");
            let buf = partial.entry(id).or_default();
            buf.extend_from_slice(data);
            while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=pos).collect();
                lines.push(line[..line.len() - 1].to_vec());
            }
        }
        for l in lines {
            self.output_line(id, &l);
        }
    }

    fn done(&self, id: usize, cached: bool, took: Duration) {
        self.flush_partial(id);
        let name = self
            .names
            .lock()
            .expect("names")
            .get(&id)
            .cloned()
            .unwrap_or_default();
        match self.mode {
            Mode::Quiet => {}
            Mode::Plain if cached => eprintln!("#{id} CACHED"),
            Mode::Plain => eprintln!("#{id} DONE {:.1}s", took.as_secs_f64()),
            Mode::Tty => {
                if let Some(bar) = self.live.lock().expect("bars").remove(&id) {
                    bar.finish_and_clear();
                }
                let end = if cached {
                    "CACHED".to_owned()
                } else {
                    format!("{:.1}s", took.as_secs_f64())
                };
                let _ = self.bars.println(format!(" => {name}  {end}"));
            }
        }
    }

    fn note(&self, text: &str) {
        match self.mode {
            Mode::Quiet => {}
            _ => self.line(text),
        }
    }
}
