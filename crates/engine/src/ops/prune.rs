//! `container prune` and `system prune`: stopped containers (and, for the
//! system, unused images) removed, with the bytes freed.

use crate::error::Result;
use crate::model::{Container, State};
use crate::ops::images::Digest;
use crate::ops::usage::rfc3339_nanos;
use crate::Engine;

/// Which stopped containers `container prune` takes: `until` (created
/// before it, nanoseconds since the epoch) and `label=K[=V]` /
/// `label!=K[=V]` (`true` for `label=`).
#[derive(Debug, Clone, Default)]
pub struct PruneFilter {
    pub until: Option<i128>,
    pub labels: Vec<(bool, String)>,
}

impl PruneFilter {
    /// `until=`, `label=` and `label!=` pairs (the CLI's `--filter`, the
    /// API's `filters`); any other key is an error.
    pub fn new(pairs: &[(String, String)]) -> Result<PruneFilter> {
        let now = crate::model::event::now_nanos() as i128;
        let mut filter = PruneFilter::default();
        for (k, v) in pairs {
            match k.as_str() {
                "until" => filter.until = Some(crate::model::time::parse_time(v, now)?),
                "label!" => filter.labels.push((false, v.clone())),
                "label" => filter.labels.push((true, v.clone())),
                _ => {
                    return Err(crate::error::Error::BadRequest(format!(
                        "invalid filter '{k}={v}' (prune takes until=, label= and label!=)"
                    )))
                }
            }
        }
        Ok(filter)
    }

    fn matches(&self, c: &Container) -> bool {
        self.matches_labels(&c.config.labels, &c.created_at)
    }

    /// The filter against an object's labels and creation time (RFC
    /// 3339): containers', networks'.
    pub(crate) fn matches_labels(
        &self,
        labels: &std::collections::BTreeMap<String, String>,
        created: &str,
    ) -> bool {
        self.until.is_none_or(|u| rfc3339_nanos(created) < u)
            && self.labels.iter().all(|(want, l)| {
                let has = match l.split_once('=') {
                    Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
                    None => labels.contains_key(l),
                };
                has == *want
            })
    }
}

/// What a prune removed.
#[derive(Debug, Clone, Default)]
pub struct Pruned {
    /// Container ids, newest first.
    pub containers: Vec<String>,
    pub images: Vec<Digest>,
    /// Bytes freed.
    pub bytes: u64,
}

/// Created or exited: what a prune may remove.
pub(crate) fn stopped(c: &Container) -> bool {
    matches!(c.state, State::Created | State::Exited)
}

impl Engine {
    /// `container prune`: removes the stopped containers `filter` takes.
    pub fn prune_containers(&mut self, filter: &PruneFilter) -> Result<Pruned> {
        let mut pruned = Pruned::default();
        let mut list: Vec<Container> = self
            .list()?
            .into_iter()
            .filter(|c| stopped(c) && filter.matches(c))
            .collect();
        list.sort_by_key(|c| std::cmp::Reverse(rfc3339_nanos(&c.created_at)));
        for c in list {
            let size = self.container_size(&c);
            // One that started meanwhile is refused (not forced): kept.
            if self.remove(&c.id, false, false).is_ok() {
                pruned.containers.push(c.id);
                pruned.bytes += size;
            }
        }
        Ok(pruned)
    }

    /// `system prune`: every stopped container, then the dangling images
    /// (every unused one with `all`).
    pub fn prune_system(&mut self, all: bool) -> Result<Pruned> {
        let mut pruned = self.prune_containers(&PruneFilter::default())?;
        let (images, bytes) = self.prune_images(all)?;
        pruned.images = images;
        pruned.bytes += bytes;
        Ok(pruned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_take_until_and_labels() {
        let mut c = Container {
            id: "c".into(),
            name: "c".into(),
            image_id: String::new(),
            config: Default::default(),
            state: State::Exited,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            created_at: "2024-01-01T00:00:05.5Z".into(),
            started_at: String::new(),
            finished_at: String::new(),
            paused: false,
            oom_killed: false,
            checkpoint: Default::default(),
        };
        c.config.labels.insert("team".into(), "a".into());
        let at = |s: &str| rfc3339_nanos(s);
        let keep = |f: PruneFilter| f.matches(&c);
        assert!(keep(PruneFilter::default()));
        assert!(keep(PruneFilter {
            until: Some(at("2024-01-01T00:00:06Z")),
            ..Default::default()
        }));
        assert!(!keep(PruneFilter {
            until: Some(at("2024-01-01T00:00:05.5Z")),
            ..Default::default()
        }));
        assert!(keep(PruneFilter {
            labels: vec![(true, "team".into()), (true, "team=a".into())],
            ..Default::default()
        }));
        assert!(!keep(PruneFilter {
            labels: vec![(true, "team=b".into())],
            ..Default::default()
        }));
        assert!(!keep(PruneFilter {
            labels: vec![(false, "team".into())],
            ..Default::default()
        }));
    }
}
