//! `ps`: Docker's container list (the engine selects: filters, `-a`,
//! `-n`/`-l`), `-s` and `--format` templates over Docker's row fields.

use std::io::{self, Write};
use std::path::Path;

use anyhow::{bail, Result};
use berth_engine::ops::list::ContainerFilters;
use berth_engine::{Container, Engine};
use serde_json::{json, Value};

use crate::args::PsArgs;
use crate::output::{
    command_column, container_status, created_at, created_since, human_size, render_rows,
    state_word,
};

/// Docker's default `ps` table.
const DEFAULT_FORMAT: &str =
    "table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}\\t{{.Names}}";

/// One row of `ps` with Docker's template fields.
fn row(
    engine: &Engine,
    c: &Container,
    image: &str,
    no_trunc: bool,
    size: Option<(u64, u64)>,
) -> Value {
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
        "LocalVolumes": c.config.mounts.iter().filter(|m| m.driver == "local").count().to_string(),
        "Mounts": mounts_column(c, no_trunc),
        "Names": c.name,
        "Networks": engine.networks_column(c),
        "Ports": engine.ports_column(c),
        "RunningFor": created_since(&c.created_at),
        "Size": size,
        "State": state_word(c),
        "Status": container_status(c),
    })
}

/// The docker CLI's `Mounts` field: each mount's volume name, or its
/// source, cut to 15 characters with an ellipsis unless `no_trunc`.
fn mounts_column(c: &berth_engine::Container, no_trunc: bool) -> String {
    c.config
        .mounts
        .iter()
        .map(|m| {
            let name = if m.name.is_empty() {
                &m.source
            } else {
                &m.name
            };
            if no_trunc || name.chars().count() <= 15 {
                name.clone()
            } else {
                format!("{}…", name.chars().take(14).collect::<String>())
            }
        })
        .collect::<Vec<_>>()
        .join(",")
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

pub fn ps(root: &Path, a: PsArgs) -> Result<()> {
    let engine = Engine::open(root)?;
    let filters = ContainerFilters::parse(&a.more.filters)?;
    let last = if a.more.latest { 1 } else { a.more.last };
    let list = engine.list_containers(a.all, last, &filters)?;
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
            &engine,
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
