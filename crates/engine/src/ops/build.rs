//! `build`: berth-build's driver with the engine as its executor. A `RUN`
//! step is a container like any other (created from the step's base
//! image, started through the monitor and the configured runtime, its
//! writable layer recorded, removed with its anonymous volumes); `COPY`
//! and `ADD` write into a snapshot mounted under `<root>/build/mnt/`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use berth_build::builder::{self, BuildError, BuildOptions, Built, Executor, Network, Progress};
use berth_build::builder::{RunMount, RunRequest};
use berth_build::context::Context;
use berth_image::build::{record_step, Step, Workspace};
use berth_image::platform::Platform;
use berth_image::Digest;

use crate::attach::Frame;
use crate::error::{Error, Result};
use crate::ops::create::CreateOptions;
use crate::ops::images::{Credentials, PullPolicy, RegistryAccess};
use crate::store::owner::ProcessId;
use crate::Engine;

/// The label on a `RUN` step's container: the build process that owns it.
const OWNER_LABEL: &str = "berth.build.owner";
/// The prefix of the snapshots `COPY`/`ADD` steps write in.
const SNAPSHOT_PREFIX: &str = "build-";

/// Where the build context comes from.
pub enum ContextSource {
    Dir(PathBuf),
    /// A tar on standard input (`build -`).
    Tar(Box<dyn Read>),
    /// No context (a Dockerfile on standard input).
    Empty,
}

/// A directory removed on drop.
struct ScratchDir(PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if self.0.exists() {
            if let Err(e) = std::fs::remove_dir_all(&self.0) {
                tracing::warn!(dir = %self.0.display(), "removing a build context: {e}");
            }
        }
    }
}

/// What `berth build` asks the engine for.
pub struct BuildRequest {
    pub context: ContextSource,
    /// `-f`: a path (relative to the context when not absolute), or the
    /// Dockerfile's text (`-f -`, or a Dockerfile given on stdin).
    pub dockerfile: DockerfileSource,
    pub options: BuildOptions,
    /// The OCI runtime `RUN` steps use.
    pub runtime: PathBuf,
    /// `--cgroup-parent` of the `RUN` steps' containers.
    pub cgroup_parent: Option<String>,
    /// How base images' registries are reached: verified HTTPS or not
    /// (`berth build`), or `None` for dockerd's default per registry
    /// (the API's builds, [`RegistryAccess::daemon_default`]).
    pub tls_verify: Option<bool>,
    /// Credentials for base images' registries by host, used instead of
    /// the stored ones (the API's `X-Registry-Config`).
    pub credentials: BTreeMap<String, Credentials>,
}

pub enum DockerfileSource {
    /// In the context (default `Dockerfile`) or an absolute path.
    Path(String),
    Text(String),
}

impl Engine {
    /// Builds an image (`berth build`).
    pub fn build(&mut self, req: BuildRequest, progress: &dyn Progress) -> Result<Built> {
        self.sweep_dead_builds()?;
        // A context tar is unpacked into a directory of this build's own,
        // removed at the end whatever happens.
        let me = ProcessId::current();
        let scratch = ScratchDir(self.root.join("build").join("contexts").join(format!(
            "{}-{}-{}",
            me.pid,
            me.start_time,
            &crate::model::new_id()?[..16]
        )));
        let context = match req.context {
            ContextSource::Dir(d) => Context::from_dir(&d),
            ContextSource::Tar(r) => Context::from_tar(r, &scratch.0),
            ContextSource::Empty => {
                std::fs::create_dir_all(&scratch.0)
                    .map_err(|e| Error::io("create", &scratch.0, e))?;
                Context::from_dir(&scratch.0)
            }
        }
        .map_err(|e| Error::Build(e.to_string()))?;
        let mut options = req.options;
        match req.dockerfile {
            DockerfileSource::Text(t) => {
                options.dockerfile = t;
                if options.dockerfile_name.is_empty() {
                    options.dockerfile_name = "Dockerfile".into();
                }
            }
            DockerfileSource::Path(p) => {
                let text = if Path::new(&p).is_absolute() {
                    std::fs::read(&p).map_err(|e| Error::io("read", &p, e))?
                } else {
                    context
                        .read_file(&p)
                        .map_err(|e| Error::Build(e.to_string()))?
                };
                options.dockerfile = String::from_utf8(text)
                    .map_err(|_| Error::Build(format!("{p}: the Dockerfile is not UTF-8 text")))?;
                options.dockerfile_name = Path::new(&p)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or(p);
            }
        }
        let exec = EngineExecutor {
            root: self.root.clone(),
            images: self.images.clone(),
            runtime: req.runtime,
            cgroup_parent: req.cgroup_parent,
            tls_verify: req.tls_verify,
            credentials: req.credentials,
        };
        builder::build(&self.images, &exec, progress, &context, &options)
            .map_err(|e| Error::Build(e.to_string()))
    }

    /// What a build killed before its end left: its step containers and
    /// its mounted snapshots (each named after its builder process, so a
    /// running build's are never taken).
    fn sweep_dead_builds(&mut self) -> Result<()> {
        let dead = |owner: &str| ProcessId::parse(owner).is_some_and(|p| !p.is_alive());
        for c in self.list()? {
            if c.config.labels.get(OWNER_LABEL).is_some_and(|o| dead(o)) {
                self.remove(&c.id, true, true)?;
            }
        }
        let keys: Vec<String> = self
            .images
            .index
            .read()?
            .snapshots
            .keys()
            .filter(|k| k.starts_with(SNAPSHOT_PREFIX))
            .cloned()
            .collect();
        for key in keys {
            let owner = key[SNAPSHOT_PREFIX.len()..]
                .rsplit_once('-')
                .map(|(o, _)| o);
            if !owner.is_some_and(|o| dead(&o.replacen('-', ":", 1))) {
                continue;
            }
            let dir = self.root.join("build").join("mnt").join(&key);
            // Lazily: nothing else uses a dead build's mount.
            let _ = nix::mount::umount2(&dir, nix::mount::MntFlags::MNT_DETACH);
            let _ = std::fs::remove_dir(&dir);
            self.images.remove_snapshot(&key)?;
        }
        Ok(())
    }

    /// `builder prune`: the build cache, the intermediate images no
    /// container uses and the cache mounts' directories. Returns the
    /// bytes freed.
    pub fn prune_build_cache(&self) -> Result<u64> {
        let used: std::collections::BTreeSet<String> =
            self.list()?.into_iter().map(|c| c.image_id).collect();
        let (_, report) =
            berth_image::build::prune(&self.images, &|id| used.contains(&id.to_string()))?;
        let mounts = self.root.join("build").join("cache-mounts");
        let mut freed = report.bytes;
        if mounts.exists() {
            freed += berth_volume::dir_size(&mounts).unwrap_or(0);
            std::fs::remove_dir_all(&mounts).map_err(|e| Error::io("remove", &mounts, e))?;
        }
        Ok(freed)
    }

    /// `system df`'s Build Cache row.
    pub fn build_cache_usage(&self) -> Result<berth_image::build::CacheUsage> {
        let mut u = berth_image::build::usage(&self.images)?;
        let mounts = self.root.join("build").join("cache-mounts");
        if mounts.exists() {
            u.size += berth_volume::dir_size(&mounts).unwrap_or(0);
        }
        Ok(u)
    }
}

/// The engine as the builder's executor. Each call opens its own
/// `Engine` (a database connection is not shared between threads), so
/// stages build in parallel.
struct EngineExecutor {
    root: PathBuf,
    images: berth_image::ImageStore,
    runtime: PathBuf,
    cgroup_parent: Option<String>,
    tls_verify: Option<bool>,
    credentials: BTreeMap<String, Credentials>,
}

fn engine_error(e: Error) -> BuildError {
    BuildError::Executor(e.to_string())
}

/// Removes a step's container whatever happens.
struct StepContainer<'a> {
    engine: &'a mut Engine,
    id: String,
}

impl Drop for StepContainer<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.engine.remove(&self.id, true, true) {
            tracing::warn!(id = %self.id, "removing a build step's container: {e}");
        }
    }
}

impl EngineExecutor {
    fn engine(&self) -> builder::Result<Engine> {
        Engine::open(&self.root).map_err(engine_error)
    }

    /// A fresh directory to mount a step's snapshot on, and the
    /// snapshot's key: `build-<pid>-<start time>-<random>`.
    fn mount_point(&self) -> builder::Result<(String, PathBuf)> {
        let me = ProcessId::current();
        let random = crate::model::new_id().map_err(engine_error)?;
        let key = format!(
            "{SNAPSHOT_PREFIX}{}-{}-{}",
            me.pid,
            me.start_time,
            &random[..16]
        );
        let dir = self.root.join("build").join("mnt").join(&key);
        std::fs::create_dir_all(&dir)
            .map_err(|e| BuildError::Executor(format!("create {}: {e}", dir.display())))?;
        Ok((key, dir))
    }

    fn record(&self, step: &Step, upper: PathBuf) -> builder::Result<Digest> {
        let mut layer = Engine::layer_stream(upper).map_err(engine_error)?;
        Ok(record_step(&self.images, step, Some(&mut layer))?)
    }
}

impl Executor for EngineExecutor {
    fn base_image(&self, name: &str, pull: bool, platform: &Platform) -> builder::Result<Digest> {
        let engine = self.engine()?;
        let policy = if pull {
            PullPolicy::Always
        } else {
            PullPolicy::Missing
        };
        let access = |domain: &str| {
            let mut a = match self.tls_verify {
                Some(tls_verify) => RegistryAccess {
                    tls_verify,
                    credentials: None,
                },
                None => RegistryAccess::daemon_default(domain),
            };
            a.credentials = self.credentials.get(domain).cloned();
            a
        };
        engine
            .ensure_image_with(name, policy, Some(platform), &access, &mut |_| {})
            .map_err(engine_error)?;
        Ok(engine.images.resolve(name)?.0)
    }

    fn run(
        &self,
        req: &RunRequest,
        step: &Step,
        prepare: Option<builder::RootfsHook<'_>>,
        output: &mut dyn FnMut(&[u8]),
    ) -> builder::Result<Digest> {
        let base = step
            .base
            .as_ref()
            .ok_or_else(|| BuildError::Invalid("RUN needs a base image".into()))?;
        let mut engine = self.engine()?;
        let mounts = req.mounts.iter().map(mount_flag).collect();
        let opts = CreateOptions {
            image: base.to_string(),
            cmd: req.argv.clone(),
            entrypoint: Some(String::new()),
            env: req.env.clone(),
            working_dir: Some(req.workdir.clone()),
            // An empty USER is root.
            user: Some(if req.user.is_empty() {
                "0".into()
            } else {
                req.user.clone()
            }),
            runtime: self.runtime.clone(),
            cgroup_parent: self.cgroup_parent.clone(),
            network: match req.network {
                Network::None => Some("none".into()),
                Network::Host => Some("host".into()),
                Network::Default => None,
            },
            mounts,
            labels: vec![format!("{OWNER_LABEL}={}", ProcessId::current())],
            ..Default::default()
        };
        let c = engine.create(&opts).map_err(engine_error)?;
        let guard = StepContainer {
            engine: &mut engine,
            id: c.id.clone(),
        };
        if let Some(prepare) = prepare {
            // The container's own snapshot, mounted for a moment before
            // it starts.
            let (_, dir) = self.mount_point()?;
            guard.engine.images.mount(&c.id, &dir)?;
            let out = prepare(&dir);
            let unmounted = berth_image::snapshot::Snapshotter::unmount(&dir);
            let _ = std::fs::remove_dir(&dir);
            out?;
            unmounted?;
        }
        let started = guard.engine.start_attached(&c.id).map_err(engine_error)?;
        let mut code = None;
        if let Some(started) = started {
            if let Some(mut stream) = started.attach {
                loop {
                    match Frame::read_from(&mut stream) {
                        Ok(Some(Frame::Stdout(b))) | Ok(Some(Frame::Stderr(b))) => output(&b),
                        Ok(Some(Frame::Exit(c))) => {
                            code = Some(c);
                            break;
                        }
                        Ok(Some(_)) => {}
                        Ok(None) | Err(_) => break,
                    }
                }
            }
        }
        let code = match code {
            Some(c) => c,
            None => guard.engine.wait(&c.id).map_err(engine_error)?,
        };
        if code != 0 {
            return Err(BuildError::Executor(format!(
                "process {} did not complete successfully: exit code: {code}",
                go_quote(&req.argv.join(" "))
            )));
        }
        let c = guard.engine.find(&c.id).map_err(engine_error)?;
        let (upper, lowers) = guard.engine.layers(&c).map_err(engine_error)?;
        remove_mount_points(&upper, &lowers, &req.mounts);
        let id = self.record(step, upper)?;
        drop(guard);
        Ok(id)
    }

    fn write(
        &self,
        step: &Step,
        write: &mut dyn FnMut(&Path) -> builder::Result<()>,
    ) -> builder::Result<Digest> {
        let (key, dir) = self.mount_point()?;
        let ws = Workspace::prepare(&self.images, &key, step.base.as_ref(), &dir)?;
        let out = write(&ws.rootfs).and_then(|()| self.record(step, ws.upper.clone()));
        let removed = ws.remove(&self.images);
        let _ = std::fs::remove_dir(&dir);
        let id = out?;
        removed?;
        Ok(id)
    }

    fn read(
        &self,
        image: &Digest,
        read: &mut dyn FnMut(&Path) -> builder::Result<()>,
    ) -> builder::Result<()> {
        let (key, dir) = self.mount_point()?;
        let ws = Workspace::prepare(&self.images, &key, Some(image), &dir)?;
        let out = read(&ws.rootfs);
        let removed = ws.remove(&self.images);
        let _ = std::fs::remove_dir(&dir);
        out?;
        Ok(removed?)
    }
}

/// What the runtime made in the step's upper directory only to mount
/// `RUN --mount`s on (an empty directory or file, and the empty
/// directories above it that no lower layer has): BuildKit leaves no
/// trace of a mount in the layer. Nothing behind a symlink is touched.
fn remove_mount_points(upper: &Path, lowers: &[PathBuf], mounts: &[RunMount]) {
    use std::path::Component;
    for m in mounts {
        let target = match m {
            RunMount::Bind { target, .. } | RunMount::Tmpfs { target, .. } => target,
        };
        let mut rel = PathBuf::new();
        for c in Path::new(target).components() {
            match c {
                Component::Normal(n) => rel.push(n),
                Component::RootDir | Component::CurDir => {}
                // A `..` target: leave the layer as it is.
                Component::ParentDir | Component::Prefix(_) => {
                    rel.clear();
                    break;
                }
            }
        }
        // Every level above the target in the upper directory must be a
        // real directory, not a link the container made.
        let mut parent = upper.to_path_buf();
        let safe = rel.parent().is_none_or(|p| {
            p.components().all(|c| {
                parent.push(c);
                std::fs::symlink_metadata(&parent).is_ok_and(|m| m.is_dir())
            })
        });
        if !safe {
            continue;
        }
        while rel.file_name().is_some() {
            if lowers
                .iter()
                .any(|l| std::fs::symlink_metadata(l.join(&rel)).is_ok())
            {
                break;
            }
            let path = upper.join(&rel);
            let removed = match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => std::fs::remove_dir(&path).is_ok(),
                Ok(m) if m.is_file() && m.len() == 0 => std::fs::remove_file(&path).is_ok(),
                _ => false,
            };
            if !removed {
                break;
            }
            rel.pop();
        }
    }
}

/// A `RUN --mount` as the `--mount` flag `create` takes.
fn mount_flag(m: &RunMount) -> String {
    match m {
        RunMount::Bind {
            source,
            target,
            readonly,
        } => {
            let mut s = format!("type=bind,source={},target={target}", source.display());
            if *readonly {
                s.push_str(",readonly");
            }
            s
        }
        RunMount::Tmpfs { target, size } => match size {
            Some(n) => format!("type=tmpfs,target={target},tmpfs-size={n}"),
            None => format!("type=tmpfs,target={target}"),
        },
    }
}

/// Go's `%q` of a string (BuildKit's words quote the command so): one
/// line whatever the script holds.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_like_go() {
        assert_eq!(
            super::go_quote("/bin/sh -c exit 3"),
            "\"/bin/sh -c exit 3\""
        );
        assert_eq!(super::go_quote("a\nb \"c\""), "\"a\\nb \\\"c\\\"\"");
    }
}
