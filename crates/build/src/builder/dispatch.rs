//! One instruction's effect on a stage: config-only instructions change
//! the state; `RUN`, `COPY` and `ADD` look up the cache and, on a miss,
//! make a layer.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{json, Value};

use super::plan::{located, located_word, Plan, PREDEFINED_ARGS};
use super::runmount::{self, RunMount};
use super::stage::{count, State};
use super::{cache, Build, BuildError, Network, Result, RunRequest};
use crate::copy::{self, CopyRequest, SourceRoot};
use crate::dockerfile::{expand, Command, CopySpec, Healthcheck, Instruction, Kind, RunSpec};

const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

/// Applies instruction `ins` (step `n` of the stage) to `state`.
pub fn step(b: &Build, plan: &Plan, state: &mut State, ins: &Instruction, n: usize) -> Result<()> {
    let err = |e: expand::ExpandError| located(ins, e.to_string());
    let escape = b.escape;
    let word = |state: &State, raw: &str| -> Result<String> {
        expand::word(raw, escape, &|k| state.lookup(k)).map_err(err)
    };
    let original = &ins.original;
    match &ins.kind {
        Kind::From { .. } => unreachable!("FROM starts a stage"),
        Kind::Run(run) => return run_step(b, state, ins, run, n),
        Kind::Copy(c) => return copy_step(b, plan, state, ins, c, false, n),
        Kind::Add(c) => return copy_step(b, plan, state, ins, c, true, n),
        Kind::Env(pairs) => {
            let mut parts = vec!["ENV".to_owned()];
            for (k, v) in pairs {
                let k = word(state, k)?;
                let v = word(state, v)?;
                if k.is_empty() {
                    return Err(located(ins, "ENV names can not be blank"));
                }
                set_env(&mut state.config.env, &k, &v);
                parts.push(format!("{k}={v}"));
            }
            let line = parts.join(" ");
            let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
            state.note(&refs, Some(line));
        }
        Kind::Arg(args) => {
            for (k, default) in args {
                let value = match b.opts.build_args.get(k) {
                    Some(v) => Some(v.clone()),
                    None => match default {
                        Some(d) => Some(word(state, d)?),
                        // A global ARG's value, when redeclared bare.
                        None => b.global_arg(k),
                    },
                };
                b.consumed.lock().expect("consumed lock").insert(k.clone());
                let value = value.unwrap_or_default();
                // The value is no part of the key: as in Docker, a
                // changed arg misses the cache where it is used (a RUN's
                // environment, an expanded word), not where declared.
                state.note(&["ARG", k], None);
                state.args.insert(k.clone(), value);
            }
        }
        Kind::Label(pairs) => {
            let mut parts = vec!["LABEL".to_owned()];
            let mut expanded = Vec::new();
            for (k, v) in pairs {
                let k = word(state, k)?;
                let v = word(state, v)?;
                expanded.push((k, v));
            }
            let labels = state.config.labels.get_or_insert_with(Default::default);
            for (k, v) in expanded {
                parts.push(format!("{k}={v}"));
                labels.insert(k, v);
            }
            let line = parts.join(" ");
            let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
            state.note(&refs, Some(line));
        }
        Kind::Expose(words) => {
            let mut ports = Vec::new();
            for w in words {
                for p in expand::words(w, escape, &|k| state.lookup(k)).map_err(err)? {
                    ports.extend(expose_ports(&p).map_err(|m| located_word(ins, &p, m))?);
                }
            }
            let exposed = state
                .config
                .exposed_ports
                .get_or_insert_with(Default::default);
            for p in &ports {
                exposed.insert(p.clone(), json!({}));
            }
            let line = format!("EXPOSE {}", ports.join(" "));
            state.note(&["EXPOSE", &ports.join(" ")], Some(line));
        }
        Kind::User(u) => {
            let u = word(state, u)?;
            if u.is_empty() {
                return Err(located(ins, "USER requires exactly one argument"));
            }
            state.config.user = Some(u.clone());
            state.note(&["USER", &u], Some(format!("USER {u}")));
        }
        Kind::Workdir(w) => {
            let w = word(state, w)?;
            let dir = join_workdir(state.config.working_dir.as_deref(), &w);
            state.config.working_dir = Some(dir.clone());
            state.workdir_pending = true;
            state.note(&["WORKDIR", &dir], Some(format!("WORKDIR {dir}")));
        }
        Kind::Volume(words) => {
            let mut vols = Vec::new();
            for w in words {
                let v = word(state, w)?;
                if v.is_empty() {
                    return Err(located(ins, "VOLUME specified can not be an empty string"));
                }
                vols.push(v);
            }
            let map = state.config.volumes.get_or_insert_with(Default::default);
            for v in &vols {
                map.insert(v.clone(), json!({}));
            }
            let line = format!("VOLUME [{}]", vols.join(" "));
            state.note(&["VOLUME", &vols.join("\0")], Some(line));
        }
        Kind::StopSignal(s) => {
            let s = word(state, s)?;
            check_signal(&s).map_err(|m| located(ins, m))?;
            state.config.stop_signal = Some(s.clone());
            state.note(&["STOPSIGNAL", &s], Some(format!("STOPSIGNAL {s}")));
        }
        Kind::Healthcheck(h) => {
            let value = healthcheck(h, &shell(state)).map_err(|m| located(ins, m))?;
            let text = value.to_string();
            state.config.extra.insert("Healthcheck".into(), value);
            state.note(&["HEALTHCHECK", &text], Some(original.clone()));
        }
        Kind::Shell(argv) => {
            state.config.extra.insert("Shell".into(), json!(argv));
            state.note(&["SHELL", &argv.join("\0")], Some(original.clone()));
        }
        Kind::Cmd(c) => {
            let argv = command_argv(c, &shell(state));
            state.config.cmd = Some(argv.clone());
            state.cmd_set = true;
            state.note(
                &["CMD", &argv.join("\0")],
                Some(format!("CMD {}", json!(argv))),
            );
        }
        Kind::Entrypoint(c) => {
            let argv = command_argv(c, &shell(state));
            state.config.entrypoint = Some(argv.clone());
            // Docker: an ENTRYPOINT resets a CMD inherited from the base.
            if !state.cmd_set {
                state.config.cmd = None;
            }
            state.note(
                &["ENTRYPOINT", &argv.join("\0")],
                Some(format!("ENTRYPOINT {}", json!(argv))),
            );
        }
        Kind::Onbuild(trigger) => {
            let list = state
                .config
                .extra
                .entry("OnBuild".to_owned())
                .or_insert_with(|| json!([]));
            if let Value::Array(items) = list {
                items.push(json!(trigger));
            }
            state.note(&["ONBUILD", trigger], Some(original.clone()));
        }
        Kind::Maintainer(m) => {
            state.author = Some(m.clone());
            state.note(&["MAINTAINER", m], Some(original.clone()));
        }
    }
    // Config-only steps show as instant in the progress.
    let v = b.vertex();
    b.progress.start(v, &state.name(n, original));
    b.progress.done(v, false, std::time::Duration::ZERO);
    Ok(())
}

fn set_env(env: &mut Option<Vec<String>>, k: &str, v: &str) {
    let env = env.get_or_insert_with(Vec::new);
    let prefix = format!("{k}=");
    match env.iter_mut().find(|e| e.starts_with(&prefix)) {
        Some(e) => *e = format!("{k}={v}"),
        None => env.push(format!("{k}={v}")),
    }
}

/// The stage's `SHELL` (default `/bin/sh -c`).
fn shell(state: &State) -> Vec<String> {
    match state.config.extra.get("Shell") {
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => DEFAULT_SHELL.iter().map(|s| s.to_string()).collect(),
    }
}

fn command_argv(c: &Command, shell: &[String]) -> Vec<String> {
    match c {
        Command::Exec(argv) => argv.clone(),
        Command::Shell(line) => {
            let mut v = shell.to_vec();
            v.push(line.clone());
            v
        }
    }
}

/// WORKDIR: relative to the one before, cleaned (Go's `filepath.Clean`).
pub fn join_workdir(current: Option<&str>, w: &str) -> String {
    let joined = if w.starts_with('/') {
        w.to_owned()
    } else {
        format!("{}/{w}", current.unwrap_or("/"))
    };
    crate::gomatch::clean(&joined)
}

/// `80`, `80/udp`, `8000-8002/tcp` → `80/tcp`, ...
fn expose_ports(p: &str) -> std::result::Result<Vec<String>, String> {
    let (ports, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    let proto = proto.to_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let bad = || format!("invalid containerPort: {ports}");
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let n = ports.parse::<u16>().map_err(|_| bad())?;
            (n, n)
        }
    };
    if hi < lo {
        return Err(bad());
    }
    Ok((lo..=hi).map(|n| format!("{n}/{proto}")).collect())
}

fn check_signal(s: &str) -> std::result::Result<(), String> {
    if s.parse::<u32>().is_ok_and(|n| n > 0 && n < 65) {
        return Ok(());
    }
    let name = s.strip_prefix("SIG").unwrap_or(s);
    let known = nix::sys::signal::Signal::iterator()
        .any(|sig| sig.as_str().strip_prefix("SIG") == Some(name));
    let rt = name.starts_with("RTMIN") || name.starts_with("RTMAX");
    if known || rt {
        Ok(())
    } else {
        Err(format!("Invalid signal: {s}"))
    }
}

/// HEALTHCHECK → the image config's `Healthcheck` (durations in ns).
fn healthcheck(h: &Healthcheck, shell: &[String]) -> std::result::Result<Value, String> {
    match h {
        Healthcheck::None => Ok(json!({ "Test": ["NONE"] })),
        Healthcheck::Check {
            command,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        } => {
            let test = match command {
                Command::Exec(argv) => {
                    let mut t = vec!["CMD".to_owned()];
                    t.extend(argv.iter().cloned());
                    t
                }
                Command::Shell(line) => vec!["CMD-SHELL".to_owned(), line.clone()],
            };
            let _ = shell;
            let mut v = json!({ "Test": test });
            for (key, raw) in [
                ("Interval", interval),
                ("Timeout", timeout),
                ("StartPeriod", start_period),
                ("StartInterval", start_interval),
            ] {
                if let Some(raw) = raw {
                    let ns = crate::dockerfile::parse_duration(raw)?;
                    v[key] = json!(ns);
                }
            }
            if let Some(r) = retries {
                let n: i64 = r
                    .parse()
                    .map_err(|_| format!("strconv.ParseInt: parsing \"{r}\": invalid syntax"))?;
                if n < 0 {
                    return Err("--retries cannot be negative".into());
                }
                v["Retries"] = json!(n);
            }
            Ok(v)
        }
    }
}

/// `RUN`: key, cache, or a container.
fn run_step(
    b: &Build,
    state: &mut State,
    ins: &Instruction,
    run: &RunSpec,
    n: usize,
) -> Result<()> {
    let shell = shell(state);
    let argv = match (&run.command, run.heredocs.as_slice()) {
        (Command::Shell(line), [doc]) if is_only_heredoc(line) => {
            let mut v = shell.clone();
            v.push(doc.content.clone());
            v
        }
        (Command::Shell(line), docs) if !docs.is_empty() => {
            // The shell reads the heredocs itself: the line and the bodies
            // as one script.
            let mut script = line.clone();
            script.push('\n');
            for d in docs {
                script.push_str(&d.content);
                script.push_str(&d.name);
                script.push('\n');
            }
            let mut v = shell.clone();
            v.push(script);
            v
        }
        (c, _) => command_argv(c, &shell),
    };
    if let Some(s) = &run.security {
        if s != "sandbox" {
            return Err(located(
                ins,
                format!("RUN --security={s} is not supported by berth build"),
            ));
        }
    }
    let network = match &run.network {
        Some(n) => Network::parse(n).map_err(|e| located(ins, e.to_string()))?,
        None => b.opts.network,
    };
    // The environment: the stage's ENV, then its ARGs and the proxy args
    // given, which ENV wins over.
    let mut env = state.config.env.clone().unwrap_or_default();
    let mut extra: Vec<(String, String)> = state
        .args
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for p in PREDEFINED_ARGS {
        if let Some(v) = b.opts.build_args.get(*p) {
            extra.push((p.to_string(), v.clone()));
        }
    }
    for (k, v) in extra {
        let prefix = format!("{k}=");
        if !env.iter().any(|e| e.starts_with(&prefix)) {
            env.push(format!("{k}={v}"));
        }
    }
    let mut mounts = Vec::new();
    let mut mount_key = Vec::new();
    for raw in &run.mounts {
        let raw = expand::word(raw, b.escape, &|k| state.lookup(k))
            .map_err(|e| located(ins, e.to_string()))?;
        let spec = runmount::parse(&raw).map_err(|e| located(ins, e.to_string()))?;
        if let Some(m) = resolve_mount(b, &spec).map_err(|e| located(ins, e.to_string()))? {
            mount_key.push(format!("{spec:?}"));
            mounts.push(m);
        }
    }
    let user = state.config.user.clone().unwrap_or_default();
    let workdir = state
        .config
        .working_dir
        .clone()
        .unwrap_or_else(|| "/".into());
    let key = cache::chain(
        &state.key,
        &[
            "RUN",
            &argv.join("\0"),
            &env.join("\0"),
            &user,
            &workdir,
            &format!("{network:?}"),
            &mount_key.join("\0"),
        ],
    );
    let name = state.name(n, &ins.original);
    let created_by = format!("RUN {} # buildkit", argv.join(" "));
    let workdir_pending = state.workdir_pending;
    layer_step(b, state, &name, key, created_by, |b, step, vertex| {
        if step.base.is_none() {
            return Err(BuildError::Invalid(
                "a stage FROM scratch has no files to RUN in yet".into(),
            ));
        }
        let req = RunRequest {
            argv: argv.clone(),
            env: env.clone(),
            user: user.clone(),
            workdir: workdir.clone(),
            network,
            mounts: mounts.clone(),
        };
        let mut mkdir = |rootfs: &Path| make_workdir(step, rootfs);
        let prepare: Option<super::RootfsHook<'_>> = match workdir_pending {
            true => Some(&mut mkdir),
            false => None,
        };
        b.exec.run(&req, step, prepare, &mut |data| {
            b.progress.output(vertex, data)
        })
    })
}

/// `RUN <<EOF` alone (the heredoc is the script).
fn is_only_heredoc(line: &str) -> bool {
    let t = line.trim();
    t.starts_with("<<") && !t.contains(char::is_whitespace)
}

/// A `--mount` as the executor makes it (`None`: an optional secret not
/// given).
fn resolve_mount(b: &Build, spec: &runmount::Spec) -> Result<Option<RunMount>> {
    use runmount::Spec;
    let refuse_from = |from: &Option<String>| {
        match from {
        Some(f) => Err(BuildError::Invalid(format!(
            "RUN --mount from={f} is not supported by berth build (mount the context, a cache, a tmpfs or a secret)"
        ))),
        None => Ok(()),
    }
    };
    match spec {
        Spec::Bind {
            target,
            source,
            from,
            rw,
        } => {
            refuse_from(from)?;
            if *rw {
                return Err(BuildError::Invalid(
                    "RUN --mount=type=bind,rw is not supported by berth build (its writes would be discarded)".into(),
                ));
            }
            let source = b.context.resolve(source)?;
            Ok(Some(RunMount::Bind {
                source,
                target: target.clone(),
                readonly: true,
            }))
        }
        Spec::Cache {
            target,
            id,
            mode,
            uid,
            gid,
            readonly,
            from,
        } => {
            refuse_from(from)?;
            let dir = cache_mount_dir(b.store.root(), id);
            if !dir.exists() {
                make_cache_dir(
                    &dir,
                    mode.unwrap_or(0o755),
                    uid.unwrap_or(0),
                    gid.unwrap_or(0),
                )?;
            }
            Ok(Some(RunMount::Bind {
                source: dir,
                target: target.clone(),
                readonly: *readonly,
            }))
        }
        Spec::Tmpfs { target, size } => Ok(Some(RunMount::Tmpfs {
            target: target.clone(),
            size: *size,
        })),
        Spec::Secret {
            id,
            target,
            required,
        } => match b.opts.secrets.get(id) {
            Some(path) => Ok(Some(RunMount::Bind {
                source: path.clone(),
                target: target.clone(),
                readonly: true,
            })),
            None if *required => Err(BuildError::Invalid(format!("secret {id}: not found"))),
            None => Ok(None),
        },
    }
}

/// A cache mount's directory, kept between builds: `<root>/build/cache-mounts/<sha256(id)>`.
pub fn cache_mount_dir(root: &Path, id: &str) -> PathBuf {
    root.join("build")
        .join("cache-mounts")
        .join(cache::chain("", &["cache-mount", id]))
}

/// Makes a cache directory whole or not at all (a temp name renamed).
fn make_cache_dir(dir: &Path, mode: u32, uid: u32, gid: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let parent = dir.parent().expect("cache dirs have a parent");
    let io = |what: &str, e: std::io::Error| {
        BuildError::Invalid(format!("{what} {}: {e}", dir.display()))
    };
    std::fs::create_dir_all(parent).map_err(|e| io("create", e))?;
    let tmp = parent.join(format!(".tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir(&tmp).map_err(|e| io("create", e))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))
        .map_err(|e| io("chmod", e))?;
    std::os::unix::fs::chown(&tmp, Some(uid), Some(gid)).map_err(|e| io("chown", e))?;
    match std::fs::rename(&tmp, dir) {
        Ok(()) => Ok(()),
        // Another build made it first.
        Err(_) if dir.is_dir() => {
            let _ = std::fs::remove_dir(&tmp);
            Ok(())
        }
        Err(e) => Err(io("rename", e)),
    }
}

/// `COPY`/`ADD`: key from the sources' digest, cache, or a layer.
fn copy_step(
    b: &Build,
    plan: &Plan,
    state: &mut State,
    ins: &Instruction,
    c: &CopySpec,
    add: bool,
    n: usize,
) -> Result<()> {
    let keyword = if add { "ADD" } else { "COPY" };
    let exp = |raw: &str| {
        expand::word(raw, b.escape, &|k| state.lookup(k)).map_err(|e| located(ins, e.to_string()))
    };
    if c.checksum.is_some() {
        return Err(located(ins, "ADD --checksum is only supported for HTTP(S) sources, which berth build cannot fetch offline"));
    }
    if c.keep_git_dir.is_some() {
        return Err(located(
            ins,
            "ADD --keep-git-dir is only for git sources, which berth build cannot fetch offline",
        ));
    }
    let sources: Vec<String> = c.sources.iter().map(|s| exp(s)).collect::<Result<_>>()?;
    let dest = exp(&c.dest)?;
    let chown = c.chown.as_deref().map(exp).transpose()?;
    let chmod = match &c.chmod {
        Some(m) => {
            let m = exp(m)?;
            Some(
                u32::from_str_radix(&m, 8)
                    .ok()
                    .filter(|v| *v <= 0o7777)
                    .ok_or_else(|| {
                        located(
                            ins,
                            format!("invalid chmod parameter: {m}: only octal modes are supported"),
                        )
                    })?,
            )
        }
        None => None,
    };
    let heredocs: Vec<(String, Vec<u8>)> = c
        .heredocs
        .iter()
        .map(|d| {
            let body = if d.expand {
                expand::heredoc(&d.content, &|k| state.lookup(k))
                    .map_err(|e| located(ins, e.to_string()))?
            } else {
                d.content.clone()
            };
            Ok((d.name.clone(), body.into_bytes()))
        })
        .collect::<Result<_>>()?;
    let workdir = state
        .config
        .working_dir
        .clone()
        .unwrap_or_else(|| "/".into());
    // Where the files come from: the context, a stage or an image.
    let from_image = match &c.from {
        None => None,
        Some(f) => {
            let f = exp(f)?;
            Some(match plan.stage_named(&f, state.index) {
                Some(i) => b.stage_result(i)?,
                None => b.exec.base_image(&f, false, &b.platform)?,
            })
        }
    };
    let numeric_chown = chown.as_deref().and_then(numeric_owner);
    let workdir_pending = state.workdir_pending;
    let req = CopyRequest {
        sources: &sources,
        dest: &dest,
        workdir: &workdir,
        chown: numeric_chown,
        chmod,
        add,
        heredocs: &heredocs,
    };
    let source_id = match &from_image {
        Some(id) => id.to_string(),
        None => copy::digest(&SourceRoot::Context(b.context), &req)?,
    };
    let key = cache::chain(
        &state.key,
        &[
            keyword,
            &source_id,
            &sources.join("\0"),
            &dest,
            chown.as_deref().unwrap_or(""),
            &format!("{chmod:?}"),
            &workdir,
            &format!("{}", c.link),
        ],
    );
    let name = state.name(n, &ins.original);
    let mut created_by = format!("{keyword} {} {dest} # buildkit", sources.join(" "));
    if !heredocs.is_empty() && sources.is_empty() {
        created_by = format!(
            "{keyword} {} # buildkit",
            ins.original.trim_start_matches(keyword).trim()
        );
    }
    layer_step(b, state, &name, key, created_by, |b, step, _vertex| {
        let do_copy = |root: &SourceRoot, rootfs: &Path| -> Result<()> {
            if workdir_pending {
                make_workdir(step, rootfs)?;
            }
            let owner = match (&chown, numeric_chown) {
                (Some(spec), None) => Some(copy::resolve_chown(rootfs, spec)?),
                _ => numeric_chown,
            };
            let req = CopyRequest {
                chown: owner,
                ..req
            };
            copy::copy(root, &req, rootfs)?;
            Ok(())
        };
        match &from_image {
            None => b.exec.write(step, &mut |rootfs| {
                do_copy(&SourceRoot::Context(b.context), rootfs)
            }),
            Some(image) => {
                let mut out = None;
                b.exec.read(image, &mut |src| {
                    out = Some(b.exec.write(step, &mut |rootfs| {
                        do_copy(&SourceRoot::Rootfs(src), rootfs)
                    })?);
                    Ok(())
                })?;
                Ok(out.expect("read ran the closure"))
            }
        }
    })
}

/// `--chown=1000:1000` or `--chown=1000`: no passwd lookup needed.
fn numeric_owner(spec: &str) -> Option<(u32, u32)> {
    let (u, g) = spec.split_once(':').unwrap_or((spec, spec));
    Some((u.parse().ok()?, g.parse().ok()?))
}

/// Makes the step's `WORKDIR` in `rootfs`, owned by its `USER` (names
/// from the image's own passwd and group files), as BuildKit does.
pub fn make_workdir(step: &berth_image::build::Step, rootfs: &Path) -> Result<()> {
    let dir = step.config.working_dir.as_deref().unwrap_or("/");
    let owner = match step.config.user.as_deref() {
        None | Some("") => (0, 0),
        Some(user) => match numeric_owner(user) {
            Some(ids) => ids,
            None => copy::resolve_chown(rootfs, user)?,
        },
    };
    Ok(copy::make_workdir(rootfs, dir, owner)?)
}

/// A step that makes a layer: a cache hit, or `make` on a miss.
pub fn layer_step(
    b: &Build,
    state: &mut State,
    name: &str,
    key: String,
    created_by: String,
    make: impl FnOnce(&Build, &berth_image::build::Step, usize) -> Result<berth_image::Digest>,
) -> Result<()> {
    let vertex = b.vertex();
    let started = Instant::now();
    b.progress.start(vertex, name);
    if !b.opts.no_cache {
        if let Some(hit) = berth_image::build::cached(b.store, &key)? {
            b.progress.image(vertex, &hit);
            state.recorded(hit, key);
            count(b, true);
            b.progress.done(vertex, true, started.elapsed());
            return Ok(());
        }
    }
    let mut step = state.step(b, Some(created_by));
    // Recorded with the image, in one index update.
    step.cache_key = Some(key.clone());
    let image = make(b, &step, vertex).map_err(|e| BuildError::Step {
        step: name.to_owned(),
        message: e.to_string(),
    })?;
    b.progress.image(vertex, &image);
    state.recorded(image, key);
    count(b, false);
    b.progress.done(vertex, false, started.elapsed());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workdirs_join_and_clean() {
        assert_eq!(join_workdir(None, "app"), "/app");
        assert_eq!(join_workdir(Some("/a"), "b/../c"), "/a/c");
        assert_eq!(join_workdir(Some("/a"), "/x/"), "/x");
    }

    #[test]
    fn exposes_like_docker() {
        assert_eq!(expose_ports("80").unwrap(), ["80/tcp"]);
        assert_eq!(expose_ports("53/UDP").unwrap(), ["53/udp"]);
        assert_eq!(
            expose_ports("8000-8002").unwrap(),
            ["8000/tcp", "8001/tcp", "8002/tcp"]
        );
        assert_eq!(expose_ports("x").unwrap_err(), "invalid containerPort: x");
        assert_eq!(expose_ports("80/foo").unwrap_err(), "invalid proto: foo");
    }

    #[test]
    fn signals() {
        assert!(check_signal("SIGTERM").is_ok());
        assert!(check_signal("KILL").is_ok());
        assert!(check_signal("9").is_ok());
        assert!(check_signal("SIGRTMIN+3").is_ok());
        assert_eq!(
            check_signal("SIGFOO").unwrap_err(),
            "Invalid signal: SIGFOO"
        );
    }
}
