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

pub trait Progress: Sync {
    fn event(&self, blob: &Digest, event: Event);
}

/// Reports nothing (`-q`).
pub struct Quiet;

impl Progress for Quiet {
    fn event(&self, _: &Digest, _: Event) {}
}
