//! What a pull or push reports about each blob as it goes, for the CLI to
//! draw (bars on a terminal, Docker's status lines otherwise). The
//! library draws nothing itself.

use crate::Digest;

/// One step in the life of one blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Queued: `Pulling fs layer` / `Preparing`.
    Waiting { total: u64 },
    /// Already in the local store (pull) or on the registry (push).
    Exists,
    /// Continuing an interrupted download from byte `from`.
    Resuming { from: u64 },
    /// Bytes moved so far.
    Bytes { done: u64, total: u64 },
    /// Fetched and verified: `Download complete`.
    Downloaded,
    /// Unpacked into a snapshot: `Pull complete`.
    Extracted,
    /// Uploaded: `Pushed`.
    Pushed,
    /// Mounted from another repository of the same registry.
    Mounted { from: String },
}

/// Which way blobs move: Docker's words differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Pull,
    Push,
}

impl Event {
    /// Docker's status for the event (`Pull complete`, `Layer already
    /// exists`), or `None` for byte counts (`Downloading`/`Pushing`
    /// with a progress bar).
    pub fn docker_status(&self, direction: Direction) -> Option<String> {
        use Direction::*;
        Some(match (direction, self) {
            (Pull, Event::Waiting { .. }) => "Pulling fs layer".into(),
            (Push, Event::Waiting { .. }) => "Preparing".into(),
            (Pull, Event::Exists) => "Already exists".into(),
            (Push, Event::Exists) => "Layer already exists".into(),
            (_, Event::Resuming { from }) => format!("Resuming from byte {from}"),
            (_, Event::Bytes { .. }) => return None,
            (_, Event::Downloaded) => "Download complete".into(),
            (_, Event::Extracted) => "Pull complete".into(),
            (_, Event::Pushed) => "Pushed".into(),
            (_, Event::Mounted { from }) => format!("Mounted from {from}"),
        })
    }
}

pub trait Progress: Sync {
    fn event(&self, blob: &Digest, event: Event);
}

/// Reports nothing (`-q`).
pub struct Quiet;

impl Progress for Quiet {
    fn event(&self, _: &Digest, _: Event) {}
}
