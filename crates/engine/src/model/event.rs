//! Events as Docker's `events.Message`: what happened to which container or
//! image, when, and Docker's filters over them. berth has no daemon to hold
//! them: every process that causes one records it in the database
//! (`store/events.rs`), and `ops/events.rs` reads them back.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::error::{Error, Result};

/// Docker's `events.Type`, the kinds berth records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Container,
    Image,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Container => "container",
            EventType::Image => "image",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<EventType> {
        match s {
            "container" => Some(EventType::Container),
            "image" => Some(EventType::Image),
            _ => None,
        }
    }
}

/// One event (Docker's `events.Message`; berth's scope is always `local`).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Nanoseconds since the epoch.
    pub time_nano: i64,
    pub kind: EventType,
    /// `create`, `start`, `die`, `pull`, `tag`, ...
    pub action: String,
    /// The container id, or the image id (a reference for pull/push).
    pub actor_id: String,
    /// `name`, `image`, the container's labels, `exitCode`, `signal`, ...
    pub attributes: BTreeMap<String, String>,
}

/// Docker's wire form (`GET /events`, `docker events --format json`), in
/// Go's field order.
impl serde::Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        #[allow(non_snake_case)]
        struct Actor<'a> {
            ID: &'a str,
            Attributes: &'a BTreeMap<String, String>,
        }
        #[derive(serde::Serialize)]
        #[allow(non_snake_case)]
        struct Message<'a> {
            Type: &'a str,
            Action: &'a str,
            Actor: Actor<'a>,
            scope: &'a str,
            time: i64,
            timeNano: i64,
        }
        Message {
            Type: self.kind.as_str(),
            Action: &self.action,
            Actor: Actor {
                ID: &self.actor_id,
                Attributes: &self.attributes,
            },
            scope: "local",
            time: self.time_nano.div_euclid(1_000_000_000),
            timeNano: self.time_nano,
        }
        .serialize(s)
    }
}

impl Event {
    /// The fields a Go template sees (`{{.Actor.ID}}`, `{{.TimeNano}}`).
    pub fn template_fields(&self) -> Value {
        json!({
            "Type": self.kind.as_str(),
            "Action": self.action,
            "Actor": {"ID": self.actor_id, "Attributes": self.attributes},
            "Scope": "local",
            "Time": self.time_nano.div_euclid(1_000_000_000),
            "TimeNano": self.time_nano,
        })
    }
}

/// The filter keys Docker's `events` accepts.
const KEYS: &[&str] = &[
    "config",
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
];

/// Docker's `filters.Args` for events: several values of one key match
/// either (labels: all), different keys must all match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilters(BTreeMap<String, Vec<String>>);

impl EventFilters {
    /// `KEY=VALUE` strings (`--filter`); an unknown key is an error.
    pub fn parse(args: &[String]) -> Result<EventFilters> {
        let mut f = EventFilters::default();
        for a in args {
            let (k, v) = a
                .split_once('=')
                .ok_or_else(|| Error::invalid("filter", format!("{a:?} (expected name=value)")))?;
            f.add(k.trim(), v.trim())?;
        }
        Ok(f)
    }

    pub fn add(&mut self, key: &str, value: &str) -> Result<()> {
        let key = key.to_ascii_lowercase();
        if !KEYS.contains(&key.as_str()) {
            return Err(Error::invalid("filter", format!("'{key}'")));
        }
        self.0.entry(key).or_default().push(value.to_owned());
        Ok(())
    }

    fn values(&self, key: &str) -> Option<&[String]> {
        self.0.get(key).map(Vec::as_slice)
    }

    /// Any value equal to one of `sources` (no value: true).
    fn exact(&self, key: &str, sources: &[&str]) -> bool {
        self.values(key)
            .is_none_or(|vs| vs.iter().any(|v| sources.contains(&v.as_str())))
    }

    /// Any value a prefix of one of `sources` (Docker's FuzzyMatch).
    fn fuzzy(&self, key: &str, sources: &[&str]) -> bool {
        self.values(key).is_none_or(|vs| {
            vs.iter().any(|v| {
                sources
                    .iter()
                    .any(|s| !s.is_empty() && s.starts_with(v.as_str()))
            })
        })
    }

    /// Docker's `daemon/events/filter.go` Include.
    pub fn matches(&self, e: &Event) -> bool {
        let attr = |k: &str| e.attributes.get(k).map(String::as_str).unwrap_or("");
        let id_or_name = [e.actor_id.as_str(), attr("name")];
        // `exec_start: sh -c ...`: a bare `exec_start` matches its prefix.
        let event = match self.values("event") {
            Some(vs)
                if vs.iter().any(|v| {
                    matches!(v.as_str(), "exec_create" | "exec_start" | "health_status")
                }) =>
            {
                self.fuzzy("event", &[&e.action])
            }
            _ => self.exact("event", &[&e.action]),
        };
        let image_name = match e.kind {
            EventType::Image => attr("name"),
            EventType::Container => attr("image"),
        };
        let image = self.exact(
            "image",
            &[
                &e.actor_id,
                image_name,
                strip_tag(&e.actor_id),
                strip_tag(image_name),
            ],
        );
        let labels = self.values("label").is_none_or(|vs| {
            vs.iter().all(|v| match v.split_once('=') {
                Some((k, v)) => e.attributes.get(k).is_some_and(|a| a == v),
                None => e.attributes.contains_key(v.as_str()),
            })
        });
        event
            && self.exact("type", &[e.kind.as_str()])
            && self.exact("scope", &["local"])
            && [
                "container",
                "daemon",
                "plugin",
                "volume",
                "network",
                "service",
                "secret",
                "config",
            ]
            .iter()
            .all(|k| self.fuzzy(k, &id_or_name))
            && self.fuzzy("node", &[attr("node.id"), attr("node.name")])
            && image
            && labels
    }
}

/// `busybox:latest` → `busybox` (not a registry's port, not a digest).
fn strip_tag(image: &str) -> &str {
    if image.contains('@') {
        return image;
    }
    let last = image.rfind('/').map_or(0, |i| i + 1);
    match image[last..].rfind(':') {
        Some(i) => &image[..last + i],
        None => image,
    }
}

/// What `berth events` asks for (times in nanoseconds since the epoch).
#[derive(Debug, Clone, Default)]
pub struct EventsOptions {
    /// Past events from this time on (inclusive). Without it and without
    /// `until`, only events from now on.
    pub since: Option<i64>,
    /// Events up to this time (inclusive); the stream ends there. Without
    /// it, the stream follows new events forever.
    pub until: Option<i64>,
    pub filters: EventFilters,
}

/// Now, in nanoseconds since the epoch.
pub fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventType, action: &str, id: &str, attrs: &[(&str, &str)]) -> Event {
        Event {
            time_nano: 1,
            kind,
            action: action.into(),
            actor_id: id.into(),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn f(args: &[&str]) -> EventFilters {
        EventFilters::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn docker_filter_rules() {
        let start = ev(
            EventType::Container,
            "start",
            "abc123",
            &[
                ("name", "web"),
                ("image", "busybox:latest"),
                ("tier", "front"),
            ],
        );
        let pull = ev(
            EventType::Image,
            "pull",
            "busybox:latest",
            &[("name", "busybox:latest")],
        );
        assert!(f(&[]).matches(&start));
        assert!(f(&["container=web"]).matches(&start));
        assert!(f(&["container=abc"]).matches(&start), "an id prefix");
        assert!(!f(&["container=bc"]).matches(&start));
        assert!(!f(&["container=web"]).matches(&pull));
        assert!(
            f(&["event=start", "event=die"]).matches(&start),
            "either value"
        );
        assert!(!f(&["event=die"]).matches(&start));
        assert!(f(&["type=image"]).matches(&pull));
        assert!(!f(&["type=image"]).matches(&start));
        assert!(f(&["image=busybox"]).matches(&start), "tag stripped");
        assert!(f(&["image=busybox"]).matches(&pull));
        assert!(!f(&["image=alpine"]).matches(&start));
        assert!(f(&["label=tier"]).matches(&start));
        assert!(f(&["label=tier=front"]).matches(&start));
        assert!(
            !f(&["label=tier=front", "label=x"]).matches(&start),
            "labels: all"
        );
        assert!(
            !f(&["container=web", "event=die"]).matches(&start),
            "keys: all"
        );
        assert!(f(&["scope=local"]).matches(&start));
        let exec = ev(
            EventType::Container,
            "exec_start: sh -c true",
            "abc123",
            &[],
        );
        assert!(f(&["event=exec_start"]).matches(&exec));
        assert!(EventFilters::parse(&["nope=1".into()]).is_err());
        assert!(EventFilters::parse(&["container".into()]).is_err());
    }

    #[test]
    fn tags_stripped_like_docker() {
        assert_eq!(strip_tag("busybox:latest"), "busybox");
        assert_eq!(strip_tag("localhost:5000/bb"), "localhost:5000/bb");
        assert_eq!(strip_tag("localhost:5000/bb:1"), "localhost:5000/bb");
        assert_eq!(strip_tag("bb@sha256:ab"), "bb@sha256:ab");
    }

    #[test]
    fn docker_message_shape() {
        let mut e = ev(EventType::Container, "die", "abc", &[("exitCode", "3")]);
        e.time_nano = 1_700_000_000_123_456_789;
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"Type":"container","Action":"die","Actor":{"ID":"abc","Attributes":{"exitCode":"3"}},"scope":"local","time":1700000000,"timeNano":1700000000123456789}"#
        );
    }
}
