//! One stage: its base, its state as the steps change it, and its end.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use berth_image::build::Step;
use berth_image::spec::{ContainerConfig, History};
use berth_image::Digest;

use super::plan::{located, Plan};
use super::{cache, dispatch, Build, BuildError, Result};
use crate::dockerfile::{self, Instruction, Kind};

/// The `PATH` a stage gets when its base sets none (BuildKit's).
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The comment BuildKit puts on its history lines (tools look for it).
pub const HISTORY_COMMENT: &str = "buildkit.dockerfile.v0";

/// A stage as its steps change it.
pub struct State {
    /// The last image recorded (`None`: scratch with no layer yet).
    pub image: Option<Digest>,
    pub config: ContainerConfig,
    pub author: Option<String>,
    /// History lines of config-only steps not recorded in an image yet.
    pub pending: Vec<History>,
    /// The config changed since `image`.
    pub dirty: bool,
    /// The cache key of the state so far.
    pub key: String,
    /// `ARG`s declared in this stage, with their values.
    pub args: BTreeMap<String, String>,
    /// `CMD` was set in this stage (an `ENTRYPOINT` then keeps it).
    pub cmd_set: bool,
    /// A `WORKDIR` whose directory the next layer step makes (or the
    /// stage's end, in a layer of its own).
    pub workdir_pending: bool,
    /// `[name 2/5]` prefix parts.
    pub label: String,
    pub total: usize,
    pub index: usize,
}

impl State {
    /// What `$VAR` means in an instruction: the stage's `ENV` over its
    /// `ARG`s (Docker: an `ENV` wins over an `ARG` of the same name).
    pub fn lookup(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}=");
        self.config
            .env
            .iter()
            .flatten()
            .find_map(|e| e.strip_prefix(&prefix).map(str::to_owned))
            .or_else(|| self.args.get(name).cloned())
    }

    /// A config-only step: its history line (none for `ARG`), its key.
    pub fn note(&mut self, parts: &[&str], history: Option<String>) {
        self.key = cache::chain(&self.key, parts);
        self.dirty = true;
        if let Some(created_by) = history {
            self.pending.push(History {
                created_by: Some(created_by),
                comment: Some(HISTORY_COMMENT.into()),
                empty_layer: true,
                ..Default::default()
            });
        }
    }

    /// The step that records the state plus `created_by`'s layer (or no
    /// layer when `created_by` is `None`).
    pub fn step(&self, b: &Build, created_by: Option<String>) -> Step {
        let mut history = self.pending.clone();
        if let Some(c) = created_by {
            history.push(History {
                created_by: Some(c),
                comment: Some(HISTORY_COMMENT.into()),
                ..Default::default()
            });
        }
        Step {
            base: self.image.clone(),
            platform: b.platform.clone(),
            config: self.config.clone(),
            author: self.author.clone(),
            history,
            compression: b.opts.compression,
            cache_key: None,
        }
    }

    /// After a layer step: `image` holds everything so far.
    pub fn recorded(&mut self, image: Digest, key: String) {
        self.image = Some(image);
        self.key = key;
        self.pending.clear();
        self.dirty = false;
        self.workdir_pending = false;
    }

    pub fn name(&self, n: usize, original: &str) -> String {
        if self.label.is_empty() {
            format!("[{n}/{}] {original}", self.total)
        } else {
            format!("[{} {n}/{}] {original}", self.label, self.total)
        }
    }
}

/// Builds stage `index` of `plan`; returns its image.
pub fn build_stage(b: &Build, plan: &Plan, index: usize) -> Result<Digest> {
    let stage = &plan.stages[index];
    let many = plan.stages.len() > 1;
    let label = match (&stage.name, many) {
        (Some(n), _) => n.clone(),
        (None, true) => format!("stage-{index}"),
        (None, false) => String::new(),
    };
    // The base: an earlier stage, scratch, or an image.
    let vertex = b.vertex();
    let started = Instant::now();
    let total = stage.instructions.len() + 1;
    let mut state = State {
        image: None,
        config: ContainerConfig::default(),
        author: None,
        pending: Vec::new(),
        dirty: false,
        key: String::new(),
        args: BTreeMap::new(),
        cmd_set: false,
        workdir_pending: false,
        label,
        total,
        index,
    };
    b.progress
        .start(vertex, &state.name(1, &stage.from.original));
    if let Some(p) = &stage.platform {
        let want = berth_image::platform::Platform::parse(p)
            .map_err(|e| located(&stage.from, e.to_string()))?;
        if !b.platform.satisfies(&want) && !want.satisfies(&b.platform) {
            return Err(located(
                &stage.from,
                format!("platform {p} is not supported: berth builds for this host only"),
            ));
        }
    }
    let from_stage = plan
        .stage_named(&stage.base, index)
        .filter(|i| plan.stages[*i].name.as_deref() == Some(stage.base.to_lowercase().as_str()));
    let base = match from_stage {
        Some(i) => Some(b.stage_result(i)?),
        None if stage.base.eq_ignore_ascii_case("scratch") => None,
        None => Some(b.exec.base_image(&stage.base, b.opts.pull, &b.platform)?),
    };
    let mut onbuild = Vec::new();
    if let Some(id) = &base {
        let (config, _) = b.store.config(id)?;
        state.author = config.author.clone();
        let mut c = config.config.unwrap_or_default();
        // Triggers run here, in this build; the new image does not pass
        // them on (Docker's rule).
        if let Some(serde_json::Value::Array(triggers)) = c.extra.remove("OnBuild") {
            onbuild = triggers
                .into_iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect();
        }
        state.config = c;
    }
    // BuildKit (and buildah) make sure PATH is set.
    let env = state.config.env.get_or_insert_with(Vec::new);
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.push(DEFAULT_PATH.to_owned());
    }
    state.image = base.clone();
    state.key = cache::base_key(base.as_ref(), &b.platform.architecture);
    if let Some(id) = &base {
        b.progress.image(vertex, id);
    }
    b.progress.done(vertex, false, started.elapsed());

    let mut instructions: Vec<Instruction> = Vec::new();
    for trigger in &onbuild {
        instructions.push(parse_trigger(trigger, &stage.from)?);
    }
    state.total += onbuild.len();
    instructions.extend(stage.instructions.iter().cloned());
    for (n, ins) in instructions.iter().enumerate() {
        dispatch::step(b, plan, &mut state, ins, n + 2).map_err(|e| match e {
            e @ (BuildError::Step { .. } | BuildError::Parse(_) | BuildError::At { .. }) => e,
            e => BuildError::Step {
                step: state.name(n + 2, &ins.original),
                message: e.to_string(),
            },
        })?;
    }
    if index == plan.target && !b.opts.labels.is_empty() {
        let labels = state.config.labels.get_or_insert_with(Default::default);
        let mut parts = vec!["--label".to_owned()];
        for (k, v) in &b.opts.labels {
            labels.insert(k.clone(), v.clone());
            parts.push(format!("{k}={v}"));
        }
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        state.note(&parts, None);
    }
    finish_stage(b, state)
}

/// The stage's image: the last one recorded, or one more for the
/// config-only steps after it.
fn finish_stage(b: &Build, mut state: State) -> Result<Digest> {
    if state.workdir_pending {
        // The directory needs a layer of its own (BuildKit makes one).
        let dir = state
            .config
            .working_dir
            .clone()
            .unwrap_or_else(|| "/".into());
        let key = cache::chain(&state.key, &["WORKDIR mkdir", &dir]);
        let name = state.name(state.total, &format!("WORKDIR {dir}"));
        let created_by = format!("WORKDIR {dir} # buildkit");
        dispatch::layer_step(b, &mut state, &name, key, created_by, |b, step, _| {
            b.exec
                .write(step, &mut |rootfs| dispatch::make_workdir(step, rootfs))
        })?;
    }
    if let (Some(image), false) = (&state.image, state.dirty) {
        return Ok(image.clone());
    }
    let key = cache::chain(&state.key, &["END"]);
    if !b.opts.no_cache {
        if let Some(hit) = berth_image::build::cached(b.store, &key)? {
            return Ok(hit);
        }
    }
    let mut step = state.step(b, None);
    step.cache_key = Some(key);
    Ok(berth_image::build::record_step(b.store, &step, None)?)
}

/// An `ONBUILD` trigger of the base image, parsed as an instruction of
/// this Dockerfile at the `FROM`'s line.
fn parse_trigger(text: &str, from: &Instruction) -> Result<Instruction> {
    let file = dockerfile::parse(&format!("FROM scratch\n{text}\n"), "ONBUILD trigger")?;
    let mut ins = file
        .instructions
        .into_iter()
        .nth(1)
        .ok_or_else(|| located(from, format!("empty ONBUILD trigger {text:?}")))?;
    if matches!(ins.kind, Kind::From { .. } | Kind::Onbuild(_)) {
        return Err(located(
            from,
            format!("{} isn't allowed as an ONBUILD trigger", ins.kind.keyword()),
        ));
    }
    ins.line = from.line;
    ins.end_line = from.end_line;
    Ok(ins)
}

/// Counts a step as run or cached.
pub fn count(b: &Build, cached: bool) {
    if cached {
        b.cached.fetch_add(1, Ordering::Relaxed);
    } else {
        b.ran.fetch_add(1, Ordering::Relaxed);
    }
}
