//! Nodes to typed instructions ([`Kind`]): argument counts, flags and the
//! checks BuildKit makes when it reads an instruction
//! (`instructions/parse.go`), one function per family, in BuildKit's order
//! so the first error reported is the one Docker reports.

use super::ast::{Command, CopySpec, Healthcheck, Heredoc, Kind, RunSpec};
use super::duration::parse_duration;
use super::error::Problem;
use super::flags::{Flags, Type};
use super::heredoc::{self, Word};
use super::node::Node;

/// Every instruction keyword, lower case.
pub(crate) const KEYWORDS: &[&str] = &[
    "add",
    "arg",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "maintainer",
    "onbuild",
    "run",
    "shell",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

/// A heredoc read after its line: the word and the raw body.
#[derive(Debug, Clone)]
pub(crate) struct Body {
    pub word: Word,
    pub body: String,
}

impl Body {
    fn heredoc(&self) -> Heredoc {
        Heredoc {
            name: self.word.name.clone(),
            content: content(&self.body, self.word.chomp),
            expand: self.word.expand,
        }
    }
}

fn content(body: &str, chomp: bool) -> String {
    if chomp {
        heredoc::chomp(body)
    } else {
        body.to_string()
    }
}

/// Reads a node whose keyword is known; `original` is its line.
pub(crate) fn build(node: &Node, original: &str, bodies: &[Body]) -> Result<Kind, Problem> {
    let args = &node.args;
    match node.lower().as_str() {
        "from" => from(node),
        "run" => run(node, bodies),
        "copy" => Ok(Kind::Copy(copy(node, bodies, "COPY")?)),
        "add" => Ok(Kind::Add(copy(node, bodies, "ADD")?)),
        "cmd" => {
            flags(node, &[])?;
            Ok(Kind::Cmd(command(node)))
        }
        "entrypoint" => {
            flags(node, &[])?;
            Ok(Kind::Entrypoint(command(node)))
        }
        "shell" => shell(node),
        "env" => {
            flags(node, &[])?;
            Ok(Kind::Env(key_values(args, "ENV")?))
        }
        "label" => {
            flags(node, &[])?;
            Ok(Kind::Label(key_values(args, "LABEL")?))
        }
        "arg" => arg(args),
        "expose" => {
            at_least_one(args, "EXPOSE")?;
            flags(node, &[])?;
            let mut ports = args.clone();
            ports.sort();
            Ok(Kind::Expose(ports))
        }
        "user" => Ok(Kind::User(one_with_flags(node, "USER")?)),
        "workdir" => Ok(Kind::Workdir(one_with_flags(node, "WORKDIR")?)),
        "maintainer" => Ok(Kind::Maintainer(one_with_flags(node, "MAINTAINER")?)),
        // BuildKit reads no flags for STOPSIGNAL.
        "stopsignal" => Ok(Kind::StopSignal(exactly_one(args, "STOPSIGNAL")?)),
        "volume" => volume(node),
        "healthcheck" => healthcheck(node),
        "onbuild" => onbuild(node, original, bodies),
        other => Err(Problem::new(format!("unknown instruction: {other}"))),
    }
}

fn flags(node: &Node, known: &[(&'static str, Type)]) -> Result<Flags, Problem> {
    Flags::parse(&node.flags, known)
}

fn at_least_one(args: &[String], keyword: &str) -> Result<(), Problem> {
    if args.is_empty() {
        return Err(Problem::new(format!(
            "{keyword} requires at least one argument"
        )));
    }
    Ok(())
}

fn exactly_one(args: &[String], keyword: &str) -> Result<String, Problem> {
    match args {
        [one] => Ok(one.clone()),
        _ => Err(Problem::new(format!(
            "{keyword} requires exactly one argument"
        ))),
    }
}

fn one_with_flags(node: &Node, keyword: &str) -> Result<String, Problem> {
    let value = exactly_one(&node.args, keyword)?;
    flags(node, &[])?;
    Ok(value)
}

/// A string flag, `None` when absent or empty (as BuildKit treats both).
fn non_empty(flags: &Flags, name: &str) -> Option<String> {
    flags.string(name).filter(|v| !v.is_empty())
}

fn command(node: &Node) -> Command {
    if node.json {
        Command::Exec(node.args.clone())
    } else {
        Command::Shell(node.args.join(" "))
    }
}

fn from(node: &Node) -> Result<Kind, Problem> {
    let args = &node.args;
    let name = match args.as_slice() {
        [_, as_word, name] if as_word.eq_ignore_ascii_case("as") => {
            let lower = name.to_lowercase();
            if !valid_stage_name(&lower) {
                return Err(Problem::at(
                    format!(
                        "invalid name for build stage: {name:?}, name can't start with a number or contain symbols"
                    ),
                    name,
                ));
            }
            Some(lower)
        }
        [_] => None,
        _ => return Err(Problem::new("FROM requires either one or three arguments")),
    };
    let flags = flags(node, &[("platform", Type::String)])?;
    Ok(Kind::From {
        image: args[0].clone(),
        name,
        platform: non_empty(&flags, "platform"),
    })
}

/// `^[a-z][a-z0-9-_.]*$`.
fn valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

fn run(node: &Node, bodies: &[Body]) -> Result<Kind, Problem> {
    let flags = flags(
        node,
        &[
            ("mount", Type::Strings),
            ("network", Type::String),
            ("security", Type::String),
            ("device", Type::Strings),
        ],
    )?;
    if flags.used("device") {
        return Err(Problem::at(
            "the --device flag is not supported",
            "--device",
        ));
    }
    let network = flags.string("network");
    if let Some(n) = network
        .as_deref()
        .filter(|n| !matches!(*n, "default" | "none" | "host"))
    {
        return Err(Problem::at(
            format!("invalid network mode {n:?}"),
            "--network",
        ));
    }
    let security = flags.string("security");
    if let Some(s) = security
        .as_deref()
        .filter(|s| !matches!(*s, "insecure" | "sandbox"))
    {
        return Err(Problem::at(
            format!("security {s:?} is not valid"),
            "--security",
        ));
    }
    Ok(Kind::Run(RunSpec {
        command: command(node),
        mounts: flags.all("mount").to_vec(),
        network,
        security,
        heredocs: bodies.iter().map(Body::heredoc).collect(),
    }))
}

fn copy(node: &Node, bodies: &[Body], keyword: &str) -> Result<CopySpec, Problem> {
    let args = &node.args;
    if args.len() < 2 {
        return Err(Problem::new(format!(
            "{keyword} requires at least two arguments, but only one was provided. Destination could not be determined"
        )));
    }
    let is_add = keyword == "ADD";
    let mut known = vec![
        ("chown", Type::String),
        ("chmod", Type::String),
        ("link", Type::Bool),
        ("exclude", Type::Strings),
    ];
    if is_add {
        known.extend([
            ("keep-git-dir", Type::Bool),
            ("checksum", Type::String),
            ("unpack", Type::Bool),
        ]);
    } else {
        known.extend([("from", Type::String), ("parents", Type::Bool)]);
    }
    let flags = flags(node, &known)?;
    for unsupported in ["exclude", "parents", "unpack"] {
        if flags.used(unsupported) {
            let flag = format!("--{unsupported}");
            return Err(Problem::at(
                format!("the {flag} flag is not supported"),
                flag,
            ));
        }
    }
    let (sources, dest) = args.split_at(args.len() - 1);
    let dest = &dest[0];
    if is_heredoc(dest) {
        return Err(Problem::at(
            format!("{keyword} cannot accept a heredoc as a destination"),
            dest,
        ));
    }
    let mut spec = CopySpec {
        dest: dest.clone(),
        from: non_empty(&flags, "from"),
        chown: non_empty(&flags, "chown"),
        chmod: non_empty(&flags, "chmod"),
        link: flags.bool("link"),
        checksum: non_empty(&flags, "checksum"),
        keep_git_dir: flags.string("keep-git-dir"),
        ..CopySpec::default()
    };
    for src in sources {
        match heredoc::parse_word(src).ok().flatten() {
            Some(word) => {
                // The body read for that name (the last one, as BuildKit's
                // lookup by name does).
                let body = bodies
                    .iter()
                    .rev()
                    .find(|b| b.word.name == word.name)
                    .map_or("", |b| b.body.as_str());
                spec.heredocs.push(Heredoc {
                    content: content(body, word.chomp),
                    name: word.name,
                    expand: word.expand,
                });
            }
            None => spec.sources.push(src.clone()),
        }
    }
    Ok(spec)
}

fn is_heredoc(word: &str) -> bool {
    matches!(heredoc::parse_word(word), Ok(Some(_)))
}

fn shell(node: &Node) -> Result<Kind, Problem> {
    flags(node, &[])?;
    if node.args.is_empty() {
        return Err(Problem::new("SHELL requires at least one argument"));
    }
    if !node.json {
        return Err(Problem::new(
            "SHELL requires the arguments to be in JSON form",
        ));
    }
    Ok(Kind::Shell(node.args.clone()))
}

/// `ENV`/`LABEL` triples to pairs.
fn key_values(args: &[String], keyword: &str) -> Result<Vec<(String, String)>, Problem> {
    at_least_one(args, keyword)?;
    if !args.len().is_multiple_of(3) {
        return Err(Problem::new(format!(
            "Bad input to {keyword}, too many arguments"
        )));
    }
    args.chunks(3)
        .map(|kv| {
            if kv[0].is_empty() {
                return Err(Problem::new(format!("{keyword} names can not be blank")));
            }
            Ok((kv[0].clone(), kv[1].clone()))
        })
        .collect()
}

/// BuildKit reads no flags for `ARG`.
fn arg(args: &[String]) -> Result<Kind, Problem> {
    at_least_one(args, "ARG")?;
    args.iter()
        .map(|a| match a.split_once('=') {
            Some(("", _)) => Err(Problem::at("ARG names can not be blank", a)),
            Some((k, v)) => Ok((k.to_string(), Some(v.to_string()))),
            None => Ok((a.clone(), None)),
        })
        .collect::<Result<_, _>>()
        .map(Kind::Arg)
}

fn volume(node: &Node) -> Result<Kind, Problem> {
    at_least_one(&node.args, "VOLUME")?;
    flags(node, &[])?;
    node.args
        .iter()
        .map(|v| match v.trim() {
            "" => Err(Problem::new("VOLUME specified can not be an empty string")),
            v => Ok(v.to_string()),
        })
        .collect::<Result<_, _>>()
        .map(Kind::Volume)
}

fn healthcheck(node: &Node) -> Result<Kind, Problem> {
    at_least_one(&node.args, "HEALTHCHECK")?;
    let typ = node.args[0].to_uppercase();
    let rest = &node.args[1..];
    if typ == "NONE" {
        if !rest.is_empty() {
            return Err(Problem::new("HEALTHCHECK NONE takes no arguments"));
        }
        return Ok(Kind::Healthcheck(Healthcheck::None));
    }
    const DURATIONS: [&str; 4] = ["interval", "timeout", "start-period", "start-interval"];
    let mut known: Vec<_> = DURATIONS.iter().map(|d| (*d, Type::String)).collect();
    known.push(("retries", Type::String));
    let flags = flags(node, &known)?;
    if typ != "CMD" {
        return Err(Problem::at(
            format!("Unknown type {typ:?} in HEALTHCHECK (try CMD)"),
            &node.args[0],
        ));
    }
    if rest.is_empty() {
        return Err(Problem::new("Missing command after HEALTHCHECK CMD"));
    }
    let command = if node.json {
        Command::Exec(rest.to_vec())
    } else {
        Command::Shell(rest.join(" "))
    };
    let mut durations = DURATIONS.iter().map(|name| {
        let value = non_empty(&flags, name);
        if let Some(v) = &value {
            let nanos = parse_duration(v).map_err(|e| Problem::at(e, format!("--{name}")))?;
            if nanos != 0 && nanos < 1_000_000 {
                return Err(Problem::at(
                    format!("Interval {name:?} cannot be less than 1ms"),
                    format!("--{name}"),
                ));
            }
        }
        Ok(value)
    });
    let mut next = || durations.next().unwrap_or(Ok(None));
    let (interval, timeout, start_period, start_interval) = (next()?, next()?, next()?, next()?);
    let retries = non_empty(&flags, "retries");
    if let Some(r) = &retries {
        match r.parse::<i64>() {
            Ok(n) if i32::try_from(n).is_err() => {
                return Err(Problem::at(
                    format!("strconv.ParseInt: parsing {r:?}: value out of range"),
                    "--retries",
                ))
            }
            Ok(n) if n < 0 => {
                return Err(Problem::at(
                    format!("--retries cannot be negative ({n})"),
                    "--retries",
                ))
            }
            Ok(_) => {}
            Err(_) => {
                return Err(Problem::at(
                    format!("strconv.ParseInt: parsing {r:?}: invalid syntax"),
                    "--retries",
                ))
            }
        }
    }
    Ok(Kind::Healthcheck(Healthcheck::Check {
        command,
        interval,
        timeout,
        start_period,
        start_interval,
        retries,
    }))
}

fn onbuild(node: &Node, original: &str, bodies: &[Body]) -> Result<Kind, Problem> {
    at_least_one(&node.args, "ONBUILD")?;
    flags(node, &[])?;
    let trigger = node.args[0].trim().to_uppercase();
    match trigger.as_str() {
        "ONBUILD" => {
            return Err(Problem::new(
                "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
            ))
        }
        "MAINTAINER" | "FROM" => {
            return Err(Problem::at(
                format!("{trigger} isn't allowed as an ONBUILD trigger"),
                &node.args[0],
            ))
        }
        _ => {}
    }
    // The trigger's text: the line without `ONBUILD`, then each heredoc's
    // body and terminator, which the child build parses again.
    let text = original.trim_start();
    let mut expression = text
        .get(..7)
        .filter(|k| k.eq_ignore_ascii_case("onbuild"))
        .map_or(text, |_| &text[7..])
        .trim_start()
        .to_string();
    for b in bodies {
        expression.push('\n');
        expression.push_str(&b.body);
        expression.push_str(&b.word.name);
    }
    Ok(Kind::Onbuild(expression))
}
