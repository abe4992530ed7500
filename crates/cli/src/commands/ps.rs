//! `ps`: Docker's container list, its filters (`name`, `id`, `status`,
//! `label`, `ancestor`, `exited`, `before`, `since`; and `network`,
//! `health`, `volume`, `publish`, `expose`, `is-task` as they apply while
//! containers have no networks, health checks, volumes or ports),
//! `-n`/`-l`, `-s` and `--format` templates over Docker's row fields.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use berth_engine::{Container, Engine, State};
use serde_json::{json, Value};

use crate::args::PsArgs;
use crate::output::{
    command_column, container_status, created_at, created_since, human_size, nanos, render_rows,
    state_word,
};

/// Docker's default `ps` table.
const DEFAULT_FORMAT: &str =
    "table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}\\t{{.Names}}";

/// The states a `status=` filter accepts (Docker's list).
const STATES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

/// Parsed `--filter`s.
#[derive(Default)]
struct Filters {
    by: BTreeMap<String, Vec<String>>,
}

impl Filters {
    fn parse(raw: &[String]) -> Result<Filters> {
        let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in raw {
            let (k, v) = f.split_once('=').ok_or_else(|| {
                anyhow!("invalid argument \"{f}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)")
            })?;
            let k = k.trim().to_ascii_lowercase();
            if !matches!(
                k.as_str(),
                "name"
                    | "id"
                    | "status"
                    | "label"
                    | "ancestor"
                    | "exited"
                    | "before"
                    | "since"
                    | "network"
                    | "health"
                    | "volume"
                    | "publish"
                    | "expose"
                    | "is-task"
            ) {
                bail!("invalid filter '{k}'");
            }
            if k == "health" && !matches!(v, "none" | "starting" | "healthy" | "unhealthy") {
                bail!("Unrecognised filter value for health: {v}");
            }
            if k == "is-task" && !matches!(v, "true" | "false" | "1" | "0") {
                bail!("invalid filter 'is-task={v}'");
            }
            if k == "status" && !STATES.contains(&v) {
                bail!("invalid filter 'status={v}'");
            }
            if k == "exited" && v.parse::<i32>().is_err() {
                bail!("invalid filter 'exited={v}'");
            }
            by.entry(k).or_default().push(v.to_owned());
        }
        Ok(Filters { by })
    }

    fn get(&self, k: &str) -> &[String] {
        self.by.get(k).map(Vec::as_slice).unwrap_or(&[])
    }

    /// A key with no values matches everything; else any value must match.
    fn any(&self, k: &str, f: impl Fn(&str) -> bool) -> bool {
        let vals = self.get(k);
        vals.is_empty() || vals.iter().any(|v| f(v))
    }
}

/// Docker's `name=` and `id=` filters are regular expressions; berth
/// matches a substring, with `^` and `$` anchoring either end.
fn pattern_match(pattern: &str, text: &str) -> bool {
    let (start, p) = match pattern.strip_prefix('^') {
        Some(p) => (true, p),
        None => (false, pattern),
    };
    let (end, p) = match p.strip_suffix('$') {
        Some(p) => (true, p),
        None => (false, p),
    };
    match (start, end) {
        (true, true) => text == p,
        (true, false) => text.starts_with(p),
        (false, true) => text.ends_with(p),
        (false, false) => text.contains(p),
    }
}

/// `label=key` or `label=key=value`.
fn label_match(c: &Container, want: &str) -> bool {
    match want.split_once('=') {
        Some((k, v)) => c.config.labels.get(k).is_some_and(|x| x == v),
        None => c.config.labels.contains_key(want),
    }
}

/// One row of `ps` with Docker's template fields.
fn row(c: &Container, image: &str, no_trunc: bool, size: Option<(u64, u64)>) -> Value {
    let labels: Vec<String> = c
        .config
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let size = match size {
        Some((rw, 0)) => human_size(rw),
        Some((rw, virt)) => format!("{} (virtual {})", human_size(rw), human_size(virt)),
        None => "0B".into(),
    };
    json!({
        "Command": command_column(c, no_trunc),
        "CreatedAt": created_at(&c.created_at),
        "ID": if no_trunc { c.id.clone() } else { c.id[..12].to_owned() },
        "Image": image,
        "Labels": labels.join(","),
        "LocalVolumes": "0",
        "Mounts": "",
        "Names": c.name,
        "Networks": "none",
        "Ports": "",
        "RunningFor": created_since(&c.created_at),
        "Size": size,
        "State": state_word(c),
        "Status": container_status(c),
    })
}

/// The image as the user named it while that name still means the
/// container's image; else its id (short unless `no_trunc`), as Docker.
fn image_column(engine: &Engine, c: &Container, no_trunc: bool) -> String {
    match engine.find_image(&c.config.image) {
        Some(i) if i.id == c.image_id => c.config.image.clone(),
        _ => {
            let hex = c.image_id.strip_prefix("sha256:").unwrap_or(&c.image_id);
            if no_trunc {
                c.image_id.clone()
            } else {
                hex.chars().take(12).collect()
            }
        }
    }
}

/// Column titles of Docker's `ps` table.
fn title(field: &str) -> String {
    match field {
        "ID" => "CONTAINER ID".into(),
        "RunningFor" => "CREATED".into(),
        "CreatedAt" => "CREATED AT".into(),
        "LocalVolumes" => "LOCAL VOLUMES".into(),
        other => other.to_uppercase(),
    }
}

/// The containers `ps` shows, newest first.
fn select(engine: &Engine, a: &PsArgs, filters: &Filters) -> Result<Vec<Container>> {
    let mut all = engine.list()?;
    all.sort_by(|x, y| {
        nanos(&y.created_at)
            .cmp(&nanos(&x.created_at))
            .then(x.id.cmp(&y.id))
    });
    let last = if a.more.latest { 1 } else { a.more.last };
    let position = |key: &str| -> Result<usize> {
        let c = engine.find(key)?;
        Ok(all.iter().position(|x| x.id == c.id).unwrap_or(0))
    };
    let before = filters
        .get("before")
        .iter()
        .map(|k| position(k))
        .collect::<Result<Vec<_>>>()?;
    let since = filters
        .get("since")
        .iter()
        .map(|k| position(k))
        .collect::<Result<Vec<_>>>()?;
    let show_all = a.all
        || last > 0
        || !before.is_empty()
        || !since.is_empty()
        || !filters.get("status").is_empty();
    let ancestors: Vec<Vec<String>> = filters
        .get("ancestor")
        .iter()
        .filter_map(|name| engine.find_image(name))
        .map(|i| i.chain)
        .collect();
    let chain_of = |image_id: &str| -> Vec<String> {
        engine
            .find_image(image_id)
            .filter(|i| i.id == image_id)
            .map(|i| i.chain)
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for (i, c) in all.iter().enumerate() {
        let running = matches!(
            c.state,
            State::Running | State::Starting | State::Restarting
        );
        if !running && !show_all {
            continue;
        }
        // Newest first: "before X" lists what comes after X.
        if before.iter().any(|&b| i <= b) || since.iter().any(|&s| i >= s) {
            continue;
        }
        let ok = filters.any("name", |p| {
            pattern_match(p.strip_prefix('/').unwrap_or(p), &c.name)
        }) && filters.any("id", |p| pattern_match(p, &c.id))
            && filters.get("label").iter().all(|l| label_match(c, l))
            && filters.any("status", |s| s == state_word(c))
            && filters.any("exited", |code| {
                c.state == State::Exited && code.parse::<i32>().ok() == Some(c.exit_code)
            })
            // Every container is on the "none" network, has no health
            // check, volume or port, and is no swarm task (for now).
            && filters.any("network", |n| n == "none")
            && filters.any("health", |h| h == "none")
            && filters.get("volume").is_empty()
            && filters.get("publish").is_empty()
            && filters.get("expose").is_empty()
            && filters.any("is-task", |t| matches!(t, "false" | "0"))
            && (filters.get("ancestor").is_empty() || {
                // The image or one built on it (its layers start with the
                // ancestor's).
                let chain = chain_of(&c.image_id);
                ancestors
                    .iter()
                    .any(|a| !a.is_empty() && chain.starts_with(a))
            });
        if ok {
            out.push(c.clone());
        }
        if last > 0 && out.len() as i64 >= last {
            break;
        }
    }
    Ok(out)
}

pub fn ps(root: &Path, a: PsArgs) -> Result<()> {
    let engine = Engine::open(root)?;
    let filters = Filters::parse(&a.more.filters)?;
    let list = select(&engine, &a, &filters)?;
    let mut out = io::stdout().lock();
    if a.quiet {
        for c in &list {
            let id = if a.no_trunc { &c.id[..] } else { &c.id[..12] };
            writeln!(out, "{id}")?;
        }
        return Ok(());
    }
    let format = match &a.more.format {
        Some(f) => f.clone(),
        None if a.more.size => format!("{DEFAULT_FORMAT}\\t{{{{.Size}}}}"),
        None => DEFAULT_FORMAT.to_owned(),
    };
    let mut rows = Vec::new();
    for c in &list {
        let size = (a.more.size || format.contains(".Size")).then(|| engine.container_sizes(c));
        rows.push(row(
            c,
            &image_column(&engine, c, a.no_trunc),
            a.no_trunc,
            size,
        ));
    }
    let text = render_rows(&format, &rows, title, &|i, method, arg| match method {
        "Label" => Ok(list[i].config.labels.get(arg).cloned().unwrap_or_default()),
        other => bail!("template: can't evaluate field {other} with an argument"),
    })?;
    write!(out, "{text}")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_sort_as_times() {
        assert!(nanos("2024-01-01T00:00:05.1Z") > nanos("2024-01-01T00:00:05.09Z"));
        assert_eq!(
            nanos("2024-01-01T00:00:05Z") + 120_000_000,
            nanos("2024-01-01T00:00:05.12Z")
        );
    }

    #[test]
    fn patterns() {
        assert!(pattern_match("web", "my-web-1"));
        assert!(pattern_match("^my", "my-web-1"));
        assert!(!pattern_match("^web", "my-web-1"));
        assert!(pattern_match("^my-web-1$", "my-web-1"));
        assert!(!pattern_match("^my-web$", "my-web-1"));
    }
}
