//! The build driver: a parsed Dockerfile, its context and options → an
//! image in the store.
//!
//! Every step is Docker's classic-builder commit: its result is an
//! intermediate image ([`berth_image::build`]), found again through the
//! cache by a key that chains the base image and every step's meaning
//! (`cache.rs`). Steps that only change the config (`ENV`, `LABEL`, ...)
//! are folded into the next step that adds a layer (or the stage's end),
//! so they cost no image of their own. `RUN` runs through the
//! [`Executor`] the engine passes in (a container like any other); `COPY`
//! and `ADD` write into a snapshot the executor mounts. Stages the target
//! does not need are skipped; the others build in parallel, each waiting
//! only for the stages it reads from.

mod cache;
mod dispatch;
mod plan;
mod runmount;
mod stage;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use berth_image::build::{Compression, Step};
use berth_image::platform::Platform;
use berth_image::reference::Reference;
use berth_image::{Digest, ImageStore};

use crate::context::Context;
use crate::dockerfile;

pub use runmount::RunMount;

/// A failed build, in one line.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Parse(#[from] dockerfile::ParseError),
    /// An instruction the build refuses: `Dockerfile:2:11: EXPOSE: <why>`
    /// (BuildKit's form; `file` is filled in when the build returns).
    #[error("{file}:{line}:{column}: {keyword}: {message}")]
    At {
        file: String,
        line: usize,
        column: usize,
        keyword: &'static str,
        message: String,
    },
    /// A step failed: `[stage-1 3/5] RUN make: <why>`.
    #[error("{step}: {message}")]
    Step { step: String, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Image(#[from] berth_image::Error),
    #[error(transparent)]
    Copy(#[from] crate::error::Error),
    /// What the executor reports (the engine's words).
    #[error("{0}")]
    Executor(String),
}

pub type Result<T, E = BuildError> = std::result::Result<T, E>;

impl BuildError {
    /// Names the Dockerfile in an error at one of its instructions.
    fn in_file(self, name: &str) -> BuildError {
        match self {
            BuildError::At {
                line,
                column,
                keyword,
                message,
                ..
            } => BuildError::At {
                file: name.to_owned(),
                line,
                column,
                keyword,
                message,
            },
            e => e,
        }
    }
}

/// `--network` of `build` and of `RUN --network`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Network {
    /// The engine's default network (`bridge`).
    #[default]
    Default,
    None,
    Host,
}

impl Network {
    pub fn parse(s: &str) -> Result<Network> {
        match s {
            "default" | "bridge" => Ok(Network::Default),
            "none" => Ok(Network::None),
            "host" => Ok(Network::Host),
            other => Err(BuildError::Invalid(format!(
                "network mode {other:?} not supported by buildkit; want default, none or host"
            ))),
        }
    }
}

/// What `berth build` asked for.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The Dockerfile's text and the name errors give it.
    pub dockerfile: String,
    pub dockerfile_name: String,
    pub tags: Vec<Reference>,
    /// `--build-arg K=V` (`K` alone: from the environment, resolved by
    /// the caller).
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    /// `--pull`: fetch every base image again.
    pub pull: bool,
    pub labels: BTreeMap<String, String>,
    pub platform: Option<Platform>,
    pub network: Network,
    /// `--secret id=X,src=PATH`.
    pub secrets: BTreeMap<String, PathBuf>,
    pub compression: Compression,
}

/// A `RUN` step as the executor runs it.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub argv: Vec<String>,
    /// The stage's environment and the build args in scope.
    pub env: Vec<String>,
    pub user: String,
    pub workdir: String,
    pub network: Network,
    pub mounts: Vec<RunMount>,
}

/// Work on a mounted root filesystem.
pub type RootfsHook<'a> = &'a mut dyn FnMut(&Path) -> Result<()>;

/// What runs containers and mounts snapshots for the builder: the
/// engine. Shared by the stages building in parallel.
pub trait Executor: Sync {
    /// The image a `FROM` names, pulled when missing or when `pull`.
    fn base_image(&self, name: &str, pull: bool, platform: &Platform) -> Result<Digest>;
    /// Runs `req` in a container of `step.base`, streaming its output to
    /// `output`; a zero exit records its changes as `step`'s layer and
    /// returns the new image. `prepare`, when given, changes the
    /// container's root before it starts (a `WORKDIR` to make).
    fn run(
        &self,
        req: &RunRequest,
        step: &Step,
        prepare: Option<RootfsHook<'_>>,
        output: &mut dyn FnMut(&[u8]),
    ) -> Result<Digest>;
    /// Mounts a new snapshot of `step.base` (or an empty one for
    /// scratch), lets `write` change it, and records the changes as
    /// `step`'s layer.
    fn write(&self, step: &Step, write: &mut dyn FnMut(&Path) -> Result<()>) -> Result<Digest>;
    /// Mounts `image` and lets `read` see its files.
    fn read(&self, image: &Digest, read: &mut dyn FnMut(&Path) -> Result<()>) -> Result<()>;
}

/// Where the builder reports progress: BuildKit's vertices, one per step.
pub trait Progress: Sync {
    /// Step `id` begins; `name` is e.g. `[stage-1 2/4] RUN make`.
    fn start(&self, id: usize, name: &str);
    /// Output of a running step.
    fn output(&self, id: usize, data: &[u8]);
    /// Step `id` ended: from the cache, or after `took`.
    fn done(&self, id: usize, cached: bool, took: Duration);
    /// A note (a warning, `# syntax=` ignored).
    fn note(&self, text: &str);
    /// The number of steps the build will show, once planned (the
    /// classic builder's `Step N/M`).
    fn planned(&self, _steps: usize) {}
    /// Step `id`'s image: a `FROM`'s base, or what a layer step made or
    /// found in the cache (the classic builder's ` ---> <id>`).
    fn image(&self, _id: usize, _image: &Digest) {}
}

/// The finished build.
#[derive(Debug, Clone)]
pub struct Built {
    pub image: Digest,
    /// Steps run and steps found in the cache.
    pub ran: usize,
    pub cached: usize,
}

/// Shared by the stages of one build.
pub(crate) struct Build<'a> {
    pub store: &'a ImageStore,
    pub exec: &'a dyn Executor,
    pub progress: &'a dyn Progress,
    pub context: &'a Context,
    pub opts: &'a BuildOptions,
    pub escape: char,
    pub platform: Platform,
    pub global_args: BTreeMap<String, String>,
    pub next_vertex: AtomicUsize,
    pub ran: AtomicUsize,
    pub cached: AtomicUsize,
    /// Results of finished stages by index, waited on by stages that
    /// read from them.
    pub results: Mutex<BTreeMap<usize, std::result::Result<Digest, String>>>,
    pub finished: Condvar,
    /// Build args some instruction declared (the rest get a warning).
    pub consumed: Mutex<std::collections::BTreeSet<String>>,
}

impl Build<'_> {
    /// A global `ARG`'s value (for a bare `ARG NAME` in a stage).
    pub fn global_arg(&self, name: &str) -> Option<String> {
        self.global_args.get(name).cloned()
    }

    pub fn vertex(&self) -> usize {
        self.next_vertex.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Waits for stage `index` and returns its image.
    pub fn stage_result(&self, index: usize) -> Result<Digest> {
        let mut results = self.results.lock().expect("results lock");
        loop {
            if let Some(r) = results.get(&index) {
                return r
                    .clone()
                    .map_err(|_| BuildError::Invalid(format!("stage {index} failed")));
            }
            results = self.finished.wait(results).expect("results lock");
        }
    }

    fn publish(&self, index: usize, r: std::result::Result<Digest, String>) {
        self.results.lock().expect("results lock").insert(index, r);
        self.finished.notify_all();
    }
}

/// Builds the Dockerfile in `opts` with `context`; tags the result.
pub fn build(
    store: &ImageStore,
    exec: &dyn Executor,
    progress: &dyn Progress,
    context: &Context,
    opts: &BuildOptions,
) -> Result<Built> {
    let file = dockerfile::parse(&opts.dockerfile, &opts.dockerfile_name)?;
    if let Some(syntax) = &file.syntax {
        progress.note(&format!(
            "# syntax={syntax} is ignored: berth builds with its own Dockerfile frontend"
        ));
    }
    let host = Platform::host();
    if let Some(p) = &opts.platform {
        if !host.satisfies(p) && !p.satisfies(&host) {
            return Err(BuildError::Invalid(format!(
                "platform {}/{} is not supported: berth builds for this host ({}/{}) only",
                p.os, p.architecture, host.os, host.architecture
            )));
        }
    }
    let plan = plan::Plan::new(&file, opts).map_err(|e| e.in_file(&opts.dockerfile_name))?;
    progress.planned(
        plan.needed
            .iter()
            .map(|i| plan.stages[*i].instructions.len() + 1)
            .sum(),
    );
    let b = Build {
        store,
        exec,
        progress,
        context,
        opts,
        escape: file.escape,
        platform: host,
        global_args: plan.global_args.clone(),
        next_vertex: AtomicUsize::new(0),
        ran: AtomicUsize::new(0),
        cached: AtomicUsize::new(0),
        results: Mutex::new(BTreeMap::new()),
        finished: Condvar::new(),
        consumed: Mutex::new(Default::default()),
    };
    let target = plan.target;
    let first_error: Mutex<Option<BuildError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for &index in &plan.needed {
            let b = &b;
            let plan = &plan;
            let first_error = &first_error;
            s.spawn(move || {
                let r = stage::build_stage(b, plan, index);
                let published = match &r {
                    Ok(d) => Ok(d.clone()),
                    Err(e) => Err(e.to_string()),
                };
                if let Err(e) = r {
                    let mut slot = first_error.lock().expect("error lock");
                    // The first real failure, not a dependent's "stage N failed".
                    if slot.is_none() {
                        *slot = Some(e);
                    }
                }
                b.publish(index, published);
            });
        }
    });
    if let Some(e) = first_error.into_inner().expect("error lock") {
        return Err(e.in_file(&opts.dockerfile_name));
    }
    let image = b.stage_result(target)?;
    berth_image::build::finish(store, &image, &opts.tags)?;
    let consumed = b.consumed.into_inner().expect("consumed lock");
    let unused: Vec<&String> = opts
        .build_args
        .keys()
        .filter(|k| !consumed.contains(*k) && !plan::PREDEFINED_ARGS.contains(&k.as_str()))
        .collect();
    if !unused.is_empty() {
        let names: Vec<&str> = unused.iter().map(|s| s.as_str()).collect();
        progress.note(&format!(
            "[Warning] One or more build-args [{}] were not consumed",
            names.join(" ")
        ));
    }
    Ok(Built {
        image,
        ran: b.ran.into_inner(),
        cached: b.cached.into_inner(),
    })
}
