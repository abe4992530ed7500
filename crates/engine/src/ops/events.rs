//! `events`: the recorded events (`store/events.rs`) read back in order,
//! past ones in a window and new ones as other processes record them; and
//! the events of verbs that change no state of their own.

use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::time::Duration;

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::error::{Error, Result};
use crate::model::event::{now_nanos, Event, EventsOptions};
use crate::model::Container;
use crate::Engine;

/// How long a follower sleeps when no write woke it: the inotify watch on
/// the database's WAL wakes it on every commit, this only bounds a missed
/// wake-up.
const IDLE_POLL: Duration = Duration::from_secs(2);

impl Engine {
    /// Signals the container (`runtime kill`) and records Docker's `kill`
    /// (`signal`: the number) if it was delivered, ordered before the
    /// `die` it may cause.
    pub(crate) fn kill_recorded(&self, c: &Container, signal: &str) -> Result<()> {
        let number = crate::model::validate_signal(signal)
            .ok()
            .and_then(|name| name.parse::<nix::sys::signal::Signal>().ok())
            .map_or_else(|| signal.to_owned(), |s| (s as i32).to_string());
        let runtime = self.runtime_for(c);
        self.db
            .container_event_with(c, "kill", &[("signal", number)], || {
                runtime.kill(&c.id, signal)
            })
    }

    /// `commit`: Docker's container `commit` event, and `tag` when named.
    pub(crate) fn committed_events(
        &self,
        c: &Container,
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

    /// An image event after the change it reports: images live in the
    /// image store, not the database, so the two cannot share a
    /// transaction. The change has happened, so a failure to record it is
    /// logged rather than failing the command.
    pub(crate) fn log_image_event(&self, action: &str, actor: &str, name: &str) {
        if let Err(e) = self.image_event(action, actor, name) {
            tracing::warn!(action, actor, error = %e, "could not record the image event");
        }
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
            cancelled: None,
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
    cancelled: Option<Box<dyn Fn() -> bool + Send + 'a>>,
}

impl<'a> Events<'a> {
    /// Ends the stream once `f` says so, checked whenever the follower
    /// wakes (at least every `IDLE_POLL`): an API client that hung up
    /// frees its thread even when nothing happens.
    pub fn cancel_when(mut self, f: impl Fn() -> bool + Send + 'a) -> Self {
        self.cancelled = Some(Box::new(f));
        self
    }

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
            if self.cancelled.as_ref().is_some_and(|f| f()) {
                return None;
            }
            self.wait();
        }
    }
}
