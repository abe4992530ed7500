//! `events`: Docker's `docker events` over the engine's event stream:
//! past events with `--since`/`--until` (logs' time forms), then new ones
//! until killed (or until `--until`), one line each.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use berth_engine::EventFilters;
use berth_engine::{Engine, Event, EventsOptions};
use clap::Args;

use crate::format::Template;
use crate::logs::{parse_time, timestamp_nanos};

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Show all events created since timestamp (RFC 3339, unix seconds, or a duration like 10m)
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    pub until: Option<String>,
    /// Filter output based on conditions provided (container, image, event, type, label, scope, ...)
    #[arg(short = 'f', long = "filter")]
    pub filters: Vec<String>,
    /// Format output using a Go template subset ({{.Action}}, {{.Actor.ID}}, {{json .}}) or "json"
    #[arg(long)]
    pub format: Option<String>,
}

pub fn events(root: &Path, a: EventsArgs) -> Result<()> {
    let now = now_nanos();
    let time = |v: &Option<String>| -> Result<Option<i64>> {
        Ok(match v {
            Some(v) => Some(parse_time(v, now)?.clamp(0, i64::MAX as i128) as i64),
            None => None,
        })
    };
    let options = EventsOptions {
        since: time(&a.since)?,
        until: time(&a.until)?,
        filters: EventFilters::parse(&a.filters)?,
    };
    let template = match a.format.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("json") | Some("{{json .}}") => Some(Format::Json),
        Some(f) => Some(Format::Template(Template::parse(f)?)),
    };
    let engine = Engine::open(root)?;
    let mut out = std::io::stdout().lock();
    for e in engine.events(options)? {
        let e = e?;
        let line = match &template {
            None => line(&e),
            Some(Format::Json) => serde_json::to_string(&e)?,
            Some(Format::Template(t)) => t.render(&e.template_fields())?,
        };
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    Ok(())
}

enum Format {
    Json,
    Template(Template),
}

/// The docker CLI's line: `TIME TYPE ACTION ID (k=v, ...)`, attributes
/// sorted by key.
fn line(e: &Event) -> String {
    let mut s = format!(
        "{} {} {} {}",
        timestamp_nanos(i128::from(e.time_nano)),
        e.kind.as_str(),
        e.action,
        e.actor_id
    );
    if !e.attributes.is_empty() {
        let attrs: Vec<String> = e
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        s.push_str(&format!(" ({})", attrs.join(", ")));
    }
    s
}

fn now_nanos() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_engine::EventType;

    #[test]
    fn docker_line() {
        let e = Event {
            time_nano: 1_796_611_800_123_456_789,
            kind: EventType::Container,
            action: "die".into(),
            actor_id: "abc".into(),
            attributes: [("name", "web"), ("exitCode", "3"), ("image", "bb")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        assert_eq!(
            line(&e),
            "2026-12-07T02:50:00.123456789Z container die abc (exitCode=3, image=bb, name=web)"
        );
    }
}
