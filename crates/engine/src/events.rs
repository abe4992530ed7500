//! Events as Docker's `events.Message`: what happened to which container or
//! image, when. berth has no daemon to hold them, so every process that
//! causes one (the CLI for create/stop/kill/rm/..., the monitor for
//! start/die/oom/the `--rm` destroy) records it in the database, in the
//! transaction of the change it reports where there is one (`db/events.rs`).
//! [`Engine::events`] reads them back and follows new ones.

use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::Engine;

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
pub struct Filters(BTreeMap<String, Vec<String>>);

impl Filters {
    /// `KEY=VALUE` strings (`--filter`); an unknown key is an error.
    pub fn parse(args: &[String]) -> Result<Filters> {
        let mut f = Filters::default();
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
    pub filters: Filters,
}

pub(crate) fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// How long a follower sleeps when no write woke it: the inotify watch on
/// the database's WAL wakes it on every commit, this only bounds a missed
/// wake-up.
const IDLE_POLL: Duration = Duration::from_secs(2);

impl Engine {
    /// `kill` with Docker's `signal` attribute (the number).
    pub(crate) fn killed_event(&self, c: &crate::Container, signal: &str) -> Result<()> {
        let number = crate::container::validate_signal(signal)
            .ok()
            .and_then(|name| name.parse::<nix::sys::signal::Signal>().ok())
            .map_or_else(|| signal.to_owned(), |s| (s as i32).to_string());
        self.db.container_event(c, "kill", &[("signal", number)])
    }

    /// `commit`: Docker's container `commit` event, and `tag` when named.
    pub(crate) fn committed_events(
        &self,
        c: &crate::Container,
        image: &berth_image::Digest,
        name: Option<&berth_image::reference::Reference>,
        comment: Option<&str>,
    ) -> Result<()> {
        let image = image.to_string();
        let reference = name.map(|n| n.familiar()).unwrap_or_default();
        let attrs = [
            ("comment", comment.unwrap_or("").to_owned()),
            ("imageID", image.clone()),
            ("imageRef", reference.clone()),
        ];
        self.db.container_event(c, "commit", &attrs)?;
        if name.is_some() {
            self.image_event("tag", &image, &reference)?;
        }
        Ok(())
    }

    /// Records an image event as Docker's `LogImageEvent(id, refName,
    /// action)`: `actor` is the image id (`sha256:...`), or the reference
    /// for `pull`/`push`; `name` the reference (or the id); the image's
    /// labels are added when the store still has it.
    pub(crate) fn image_event(&self, action: &str, actor: &str, name: &str) -> Result<()> {
        let mut attrs: BTreeMap<String, String> = self
            .images
            .resolve(actor)
            .and_then(|(id, _)| self.images.config(&id))
            .ok()
            .and_then(|(image, _)| image.config.and_then(|c| c.labels))
            .unwrap_or_default()
            .into_iter()
            .collect();
        attrs.insert("name".into(), name.to_owned());
        self.db.image_event(action, actor, &attrs)
    }

    /// Past events (`since`/`until`) and, without `until` or until it is
    /// reached, new ones as other processes record them, in the order they
    /// were recorded.
    pub fn events(&self, o: EventsOptions) -> Result<Events<'_>> {
        if let (Some(s), Some(u)) = (o.since, o.until) {
            if s > u {
                return Err(Error::invalid(
                    "since/until",
                    "`since` time cannot be after `until` time",
                ));
            }
        }
        let cursor = match (o.since, o.until) {
            (None, None) => self.db.last_event_id()?,
            _ => 0,
        };
        let now = now_nanos();
        // Watch before the first read, so no commit falls in between.
        let wake = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
            .ok()
            .filter(|i| {
                i.add_watch(&self.db.wal_path(), AddWatchFlags::IN_MODIFY)
                    .is_ok()
            });
        Ok(Events {
            engine: self,
            cursor,
            pending: Vec::new().into_iter(),
            past_only: o.until.is_some_and(|u| u < now),
            o,
            wake,
        })
    }
}

/// The stream [`Engine::events`] returns: ends after `until`; otherwise
/// blocks for the next event.
pub struct Events<'a> {
    engine: &'a Engine,
    o: EventsOptions,
    /// The last row read.
    cursor: i64,
    pending: std::vec::IntoIter<Event>,
    past_only: bool,
    wake: Option<Inotify>,
}

impl Events<'_> {
    /// Sleeps until a database write (or `IDLE_POLL`, or `until`).
    fn wait(&self) {
        let mut limit = IDLE_POLL;
        if let Some(u) = self.o.until {
            let left = u.saturating_sub(now_nanos()).max(0) as u64;
            limit = limit.min(Duration::from_nanos(left) + Duration::from_millis(1));
        }
        let Some(inotify) = &self.wake else {
            std::thread::sleep(limit.min(Duration::from_millis(100)));
            return;
        };
        let ms = limit.as_millis().min(u128::from(u16::MAX)) as u16;
        let mut fds = [nix::poll::PollFd::new(
            inotify.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        if matches!(nix::poll::poll(&mut fds, ms), Ok(n) if n > 0) {
            // Drain: any number of writes means one look.
            while inotify.read_events().is_ok_and(|e| !e.is_empty()) {}
        }
    }
}

impl Iterator for Events<'_> {
    type Item = Result<Event>;

    fn next(&mut self) -> Option<Result<Event>> {
        loop {
            for e in self.pending.by_ref() {
                if self.o.until.is_some_and(|u| e.time_nano > u)
                    || self.o.since.is_some_and(|s| e.time_nano < s)
                    || !self.o.filters.matches(&e)
                {
                    continue;
                }
                return Some(Ok(e));
            }
            let (last, batch) = match self.engine.db.events_after(self.cursor, 256) {
                Ok(b) => b,
                Err(e) => return Some(Err(e)),
            };
            if last != self.cursor {
                self.cursor = last;
                self.pending = batch.into_iter();
                continue;
            }
            if self.past_only || self.o.until.is_some_and(|u| now_nanos() > u) {
                return None;
            }
            self.wait();
        }
    }
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

    fn f(args: &[&str]) -> Filters {
        Filters::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
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
        assert!(Filters::parse(&["nope=1".into()]).is_err());
        assert!(Filters::parse(&["container".into()]).is_err());
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
