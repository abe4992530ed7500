//! berth's local volumes, below the engine: how a volume's content is made
//! and mounted, with no database and no notion of a container. The engine
//! decides *what* (which volume, when, how many containers use it); this
//! crate only knows *how*.
//!
//! - [`copy`]: Docker's copy of an image's content into an empty volume on
//!   first use ([`copy_up`]), read through the container's mounted rootfs
//!   with every path resolved inside it, and [`is_empty`].
//! - [`options`]: the local driver's `--opt type=,device=,o=` (and
//!   `size=`) in moby's words ([`LocalOptions`]).
//! - [`mount`]: mounting such a volume (mount(2), never the `mount`
//!   binary), unmounting it, and whether something is mounted there.
//! - [`size`]: the bytes a volume holds, for `system df` and `volume
//!   prune` ([`dir_size`]).
#![forbid(unsafe_code)]

pub mod copy;
pub mod mount;
mod mountinfo;
pub mod options;
pub mod size;
mod units;

pub use copy::{copy_up, is_empty, CopyStats};
pub use mount::{is_mounted, mount, unmount};
pub use options::LocalOptions;
pub use size::dir_size;

/// What kind of failure, for callers that branch (containerd's errdefs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A path the caller named does not exist.
    NotFound,
    /// The request itself is wrong (options, a source that is not a tree).
    InvalidInput,
    /// The target is not in the state the operation needs (a non-empty
    /// volume for a copy-up).
    Conflict,
    /// The system refused (I/O, mount(2), permissions).
    Internal,
}
