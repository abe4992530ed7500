//! Stages: which instructions belong to which `FROM`, the `ARG`s before
//! the first `FROM`, the target, and which stages it needs (BuildKit
//! skips the others).

use std::collections::{BTreeMap, BTreeSet};

use super::{BuildError, BuildOptions, Result};
use crate::dockerfile::{expand, Dockerfile, Instruction, Kind};

/// Build args every Dockerfile may use without declaring them (Docker's
/// proxy variables); they never appear in the image's history.
pub const PREDEFINED_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// One `FROM` and what follows it.
#[derive(Debug, Clone)]
pub struct Stage {
    /// `AS name`.
    pub name: Option<String>,
    /// The `FROM` argument after substitution with the global args.
    pub base: String,
    /// `FROM --platform`, substituted.
    pub platform: Option<String>,
    pub from: Instruction,
    pub instructions: Vec<Instruction>,
}

#[derive(Debug)]
pub struct Plan {
    pub stages: Vec<Stage>,
    /// The global `ARG`s (before the first `FROM`) with their values.
    pub global_args: BTreeMap<String, String>,
    pub target: usize,
    /// Stages to build: the target and what it reads from.
    pub needed: Vec<usize>,
}

impl Plan {
    pub fn new(file: &Dockerfile, opts: &BuildOptions) -> Result<Plan> {
        let mut global_args = automatic_args();
        let mut stages: Vec<Stage> = Vec::new();
        for ins in &file.instructions {
            match (&ins.kind, stages.last_mut()) {
                (
                    Kind::From {
                        image,
                        name,
                        platform,
                    },
                    _,
                ) => {
                    let env = |k: &str| global_args.get(k).cloned();
                    let base = expand::word(image, file.escape, &env)
                        .map_err(|e| located(ins, e.to_string()))?;
                    if base.is_empty() {
                        return Err(located(
                            ins,
                            "base name (".to_owned() + image + ") should not be blank",
                        ));
                    }
                    let platform = platform
                        .as_ref()
                        .map(|p| expand::word(p, file.escape, &env))
                        .transpose()
                        .map_err(|e| located(ins, e.to_string()))?;
                    if let Some(n) = name {
                        if stages.iter().any(|s| s.name.as_deref() == Some(n)) {
                            return Err(located(ins, format!("duplicate stage name {n:?}")));
                        }
                    }
                    stages.push(Stage {
                        name: name.clone(),
                        base,
                        platform,
                        from: ins.clone(),
                        instructions: Vec::new(),
                    });
                }
                (Kind::Arg(args), None) => {
                    for (k, default) in args {
                        let env = |k: &str| global_args.get(k).cloned();
                        let value = match opts.build_args.get(k) {
                            Some(v) => Some(v.clone()),
                            None => default
                                .as_ref()
                                .map(|d| expand::word(d, file.escape, &env))
                                .transpose()
                                .map_err(|e| located(ins, e.to_string()))?,
                        };
                        global_args.insert(k.clone(), value.unwrap_or_default());
                    }
                }
                (_, None) => {
                    return Err(located(ins, "no build stage in current context".to_owned()))
                }
                (_, Some(stage)) => stage.instructions.push(ins.clone()),
            }
        }
        if stages.is_empty() {
            return Err(BuildError::Invalid(
                "the Dockerfile has no FROM: no build stage in current context".into(),
            ));
        }
        let target = match &opts.target {
            None => stages.len() - 1,
            Some(t) => stages
                .iter()
                .position(|s| s.name.as_deref() == Some(&t.to_lowercase()))
                .ok_or_else(|| {
                    BuildError::Invalid(format!("target stage {t:?} could not be found"))
                })?,
        };
        let mut plan = Plan {
            stages,
            global_args,
            target,
            needed: Vec::new(),
        };
        plan.needed = plan.closure(target)?;
        Ok(plan)
    }

    /// The stage a `FROM`, `--from` or `from=` word names: by name, or by
    /// index for `--from=N`; `None` for an image.
    pub fn stage_named(&self, word: &str, before: usize) -> Option<usize> {
        let lower = word.to_lowercase();
        if let Some(i) = self.stages[..before]
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
        {
            return Some(i);
        }
        word.parse::<usize>().ok().filter(|i| *i < before)
    }

    /// `index` and every stage it reads from, dependencies first.
    fn closure(&self, index: usize) -> Result<Vec<usize>> {
        let mut seen = BTreeSet::new();
        let mut order = Vec::new();
        self.visit(index, &mut seen, &mut order);
        Ok(order)
    }

    fn visit(&self, index: usize, seen: &mut BTreeSet<usize>, order: &mut Vec<usize>) {
        if !seen.insert(index) {
            return;
        }
        for dep in self.dependencies(index) {
            self.visit(dep, seen, order);
        }
        order.push(index);
    }

    /// The earlier stages stage `index` reads from.
    pub fn dependencies(&self, index: usize) -> Vec<usize> {
        let stage = &self.stages[index];
        let mut out = Vec::new();
        if let Some(i) = self.stage_named(&stage.base, index) {
            // FROM by index is not a thing: only names.
            if self.stages[i].name.as_deref() == Some(stage.base.to_lowercase().as_str()) {
                out.push(i);
            }
        }
        for ins in &stage.instructions {
            let from = match &ins.kind {
                Kind::Copy(c) | Kind::Add(c) => c.from.clone(),
                Kind::Run(r) => {
                    for m in &r.mounts {
                        if let Some(f) = super::runmount::from_of(m) {
                            out.extend(self.stage_named(&f, index));
                        }
                    }
                    None
                }
                _ => None,
            };
            if let Some(f) = from {
                out.extend(self.stage_named(&f, index));
            }
        }
        out
    }
}

/// BuildKit's automatic platform args, in the global scope.
fn automatic_args() -> BTreeMap<String, String> {
    let p = berth_image::platform::Platform::host();
    let full = match &p.variant {
        Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    };
    let mut m = BTreeMap::new();
    for prefix in ["BUILD", "TARGET"] {
        m.insert(format!("{prefix}PLATFORM"), full.clone());
        m.insert(format!("{prefix}OS"), p.os.clone());
        m.insert(format!("{prefix}ARCH"), p.architecture.clone());
        m.insert(
            format!("{prefix}VARIANT"),
            p.variant.clone().unwrap_or_default(),
        );
    }
    m
}

/// An error at an instruction (column 1); the build names the file.
pub fn located(ins: &Instruction, message: impl Into<String>) -> BuildError {
    located_word(ins, "", message)
}

/// An error at `word` of an instruction: its column is where the word
/// first appears in the instruction's line (1 when it is not found).
pub fn located_word(ins: &Instruction, word: &str, message: impl Into<String>) -> BuildError {
    let column = match word {
        "" => 1,
        w => ins
            .original
            .find(w)
            .map(|i| ins.original[..i].chars().count() + 1)
            .unwrap_or(1),
    };
    BuildError::At {
        file: String::new(),
        line: ins.line,
        column,
        keyword: ins.kind.keyword(),
        message: message.into(),
    }
}
