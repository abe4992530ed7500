//! `ps`'s selection: Docker's filters (`name`, `id`, `status`, `label`,
//! `ancestor`, `exited`, `before`, `since`, `network`, `publish` (host
//! ports), `expose` (container ports), `volume` (a volume's name or a
//! mount's destination); and `health`, `is-task` as they apply while
//! containers have no health checks and no swarm),
//! `-a`, `-n`/`-l`.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::model::{Container, State};
use crate::ops::usage::rfc3339_nanos;
use crate::Engine;

/// Docker's `Status` column: `Up 5 minutes`, `Exited (0) 2 hours ago`.
pub fn status_text(c: &Container) -> String {
    let since = |t: &str| {
        berth_image::time::parse_rfc3339(t).map(|s| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            human_duration(now - s)
        })
    };
    match c.state {
        State::Running if c.paused => {
            format!("Up {} (Paused)", since(&c.started_at).unwrap_or_default())
        }
        State::Running => format!("Up {}", since(&c.started_at).unwrap_or_default()),
        State::Starting => "Starting".into(),
        State::Exited => format!(
            "Exited ({}) {} ago",
            c.exit_code,
            since(&c.finished_at).unwrap_or_default()
        ),
        State::Created => "Created".into(),
        State::Restarting => format!(
            "Restarting ({}) {} ago",
            c.exit_code,
            since(&c.finished_at).unwrap_or_default()
        ),
    }
}

/// go-units `HumanDuration`.
pub fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let minutes = secs / 60;
    let hours = (secs as f64 / 3600.0 + 0.5) as i64;
    match () {
        _ if secs < 1 => "Less than a second".into(),
        _ if secs == 1 => "1 second".into(),
        _ if secs < 60 => format!("{secs} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

/// The state word Docker shows and filters on.
pub fn state_word(c: &Container) -> &'static str {
    match c.state {
        State::Starting => "created",
        State::Running if c.paused => "paused",
        s => s.as_str(),
    }
}

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
#[derive(Debug, Clone, Default)]
pub struct ContainerFilters {
    by: BTreeMap<String, Vec<String>>,
}

impl ContainerFilters {
    /// Docker's `--filter K=V` list, checked with its messages.
    pub fn parse(raw: &[String]) -> Result<ContainerFilters> {
        let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in raw {
            let (k, v) = f.split_once('=').ok_or_else(|| {
                Error::BadRequest(format!("invalid argument \"{f}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)"))
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
                return Err(Error::BadRequest(format!("invalid filter '{k}'")));
            }
            if k == "health" && !matches!(v, "none" | "starting" | "healthy" | "unhealthy") {
                return Err(Error::BadRequest(format!(
                    "Unrecognised filter value for health: {v}"
                )));
            }
            if k == "is-task" && !matches!(v, "true" | "false" | "1" | "0") {
                return Err(Error::BadRequest(format!("invalid filter 'is-task={v}'")));
            }
            if k == "status" && !STATES.contains(&v) {
                return Err(Error::BadRequest(format!("invalid filter 'status={v}'")));
            }
            if k == "exited" && v.parse::<i32>().is_err() {
                return Err(Error::BadRequest(format!("invalid filter 'exited={v}'")));
            }
            by.entry(k).or_default().push(v.to_owned());
        }
        Ok(ContainerFilters { by })
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

/// The containers `ps` shows, newest first.
impl Engine {
    /// `ps`'s NETWORKS column: the names of the networks the container
    /// joins (its mode for `none`/`host`/`container:`), comma-separated.
    pub fn networks_column(&self, c: &Container) -> String {
        let names: Vec<String> = self
            .requested_networks(&c.config.networks, &c.config.network_mode)
            .unwrap_or_default()
            .into_iter()
            .map(|(_, r)| r.name)
            .collect();
        if names.is_empty() {
            match c.config.network_mode.as_str() {
                "" => "none".to_owned(),
                mode => mode.to_owned(),
            }
        } else {
            names.join(",")
        }
    }

    /// `ps`: the containers `filters` select, newest first; running ones
    /// only unless `all` (or a filter that implies it); the `last` N
    /// created when `last` > 0.
    pub fn list_containers(
        &self,
        all_states: bool,
        last: i64,
        filters: &ContainerFilters,
    ) -> Result<Vec<Container>> {
        let engine = self;
        let mut all = engine.list()?;
        all.sort_by(|x, y| {
            rfc3339_nanos(&y.created_at)
                .cmp(&rfc3339_nanos(&x.created_at))
                .then(x.id.cmp(&y.id))
        });
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
        let show_all = all_states
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
            && filters.any("network", |n| on_network(engine, c, n))
            && filters.any("publish", |p| {
                let published = engine.db.published_ports(&c.id).unwrap_or_default();
                published
                    .iter()
                    .any(|x| port_match(p, x.host_port, x.protocol.as_str()))
            })
            && filters.any("expose", |p| {
                c.config
                    .expose
                    .iter()
                    .any(|x| port_match(p, x.port, x.protocol.as_str()))
            })
            // No container has a health check, or is a swarm task (for
            // now).
            && filters.any("health", |h| h == "none")
            // moby: a volume's name or any mount's destination
            && filters.any("volume", |v| {
                c.config.mounts.iter().any(|m| {
                    m.destination == v || (m.kind == crate::model::MountKind::Volume && m.name == v)
                })
            })
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
}

/// `network=NAME|ID`: one of the networks the container joins (a stopped
/// one too), or its mode (`none`, `host`).
fn on_network(engine: &Engine, c: &Container, want: &str) -> bool {
    if c.config.network_mode == want {
        return true;
    }
    engine
        .requested_networks(&c.config.networks, &c.config.network_mode)
        .unwrap_or_default()
        .iter()
        .any(|(id, r)| r.name == want || (!want.is_empty() && id.starts_with(want)))
}

/// `publish=`/`expose=` values: `80`, `80/udp`, `8000-8080[/tcp]` (tcp
/// when no protocol is given, as Docker's).
fn port_match(filter: &str, port: u16, protocol: &str) -> bool {
    let (range, proto) = filter.split_once('/').unwrap_or((filter, "tcp"));
    if proto != protocol {
        return false;
    }
    let (lo, hi) = range.split_once('-').unwrap_or((range, range));
    match (lo.parse::<u16>(), hi.parse::<u16>()) {
        (Ok(lo), Ok(hi)) => (lo..=hi).contains(&port),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(pattern_match("web", "my-web-1"));
        assert!(pattern_match("^my", "my-web-1"));
        assert!(!pattern_match("^web", "my-web-1"));
        assert!(pattern_match("^my-web-1$", "my-web-1"));
        assert!(!pattern_match("^my-web$", "my-web-1"));
    }

    #[test]
    fn filters_are_checked_with_dockers_messages() {
        let bad = |f: &str| {
            ContainerFilters::parse(&[f.to_owned()])
                .unwrap_err()
                .to_string()
        };
        assert_eq!(bad("nope=1"), "invalid filter 'nope'");
        assert_eq!(bad("status=sleeping"), "invalid filter 'status=sleeping'");
        assert!(bad("name").contains("bad format of filter"));
        assert!(ContainerFilters::parse(&["Status=running".into()]).is_ok());
    }
}
