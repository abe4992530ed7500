//! The engine's error: one variant per failed step, in Docker's words where
//! users know them.

use std::io;
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure, for callers that branch (containerd's errdefs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    AlreadyExists,
    InvalidInput,
    Conflict,
    /// The container's command could not be run (Docker's 126/127).
    Command,
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("container database {}", path.display())]
    Database {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("container database {} has schema version {found}, newer than this berth knows ({known})", path.display())]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(transparent)]
    Image(#[from] berth_image::Error),
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    #[error("Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.")]
    NameInUse { name: String, id: String },
    #[error("Invalid container name ({0}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName(String),
    #[error("multiple containers match {0:?}: use more of the id")]
    Ambiguous(String),
    #[error("invalid {what}: {reason}")]
    Invalid { what: String, reason: String },
    #[error("Conflicting options: {0}")]
    ConflictingOptions(&'static str),
    #[error("unsupported {what}: {value}")]
    Unsupported { what: &'static str, value: String },
    #[error("runtime {name:?} not found{}", if hint.is_empty() { String::new() } else { format!(" ({hint})") })]
    RuntimeNotFound { name: String, hint: String },
    #[error("the container monitor was not found (expected it at {})", .0.display())]
    MonitorNotFound(std::path::PathBuf),
    #[error("failed to run {runtime} {command}")]
    RuntimeSpawn {
        runtime: PathBuf,
        command: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{runtime} {command} failed: {message}")]
    Runtime {
        runtime: String,
        command: &'static str,
        message: String,
    },
    /// The runtime could not start the container's command; Docker exits
    /// 127 when it is missing and 126 when it cannot be executed.
    #[error("{message}")]
    Command { message: String, exit_code: u8 },
    #[error("cannot {action} container {id}: container is {state}")]
    WrongState {
        action: &'static str,
        id: String,
        state: String,
    },
    #[error("cannot remove container \"/{0}\": container is running: stop the container before removing or force remove")]
    RemoveRunning(String),
    #[error("monitor of container {id}: {message}")]
    Monitor { id: String, message: String },
    /// A resource limit Docker's daemon refuses, in its words.
    #[error("{0}")]
    Resources(String),
    #[error("Cannot update container {id}: {message}")]
    UpdateFailed { id: String, message: String },
    /// The container is not in the state the command needs (Docker's words).
    #[error("{0}")]
    StateConflict(String),
    /// What berth does not do (yet), named.
    #[error("{0}")]
    NotSupported(String),
    /// A kernel object of a container's network (netlink, nftables, the
    /// resolver) could not be made.
    #[error("{0}")]
    Network(String),
    /// A volume's files could not be mounted or filled at a start (the
    /// local driver's options, the copy of the image's content).
    #[error("{0}")]
    Volume(String),
    /// A build failed (the builder's one line).
    #[error("{0}")]
    Build(String),
    /// A migration failed: what the destination said, and where the
    /// container is now.
    #[error("{0}")]
    Migration(String),
    #[error("cgroup of container {id}")]
    Cgroup {
        id: String,
        #[source]
        source: berth_cgroups::Error,
    },
    #[error("Container {0} is not running")]
    NotRunning(String),
    #[error("You cannot attach to a stopped container, start it first")]
    AttachStopped,
    #[error("Container {0} is restarting, wait until the container is running")]
    Restarting(String),
    /// An image operation a rule refuses (the image is in use, or not for
    /// the platform asked), in Docker's words.
    #[error("{0}")]
    ImageConflict(String),
    /// A request the engine cannot take as given, in Docker's words.
    #[error("{0}")]
    BadRequest(String),
    #[error("No such network: {0}")]
    NoSuchNetwork(String),
    /// `network rm`'s word for an unknown network.
    #[error("network {0} not found")]
    NetworkNotFound(String),
    #[error("network with name {0} already exists")]
    NetworkExists(String),
    /// Something asked for that does not exist, in Docker's words
    /// (`plugin "x" not found`).
    #[error("{0}")]
    Missing(String),
    #[error(transparent)]
    Ipam(#[from] berth_net::ipam::IpamError),
    #[error(transparent)]
    Netlink(#[from] berth_net::netlink::Error),
    #[error("cannot pull {reference}")]
    Pull {
        reference: String,
        #[source]
        source: Box<berth_image::Error>,
    },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NoSuchContainer(_) | Error::RuntimeNotFound { .. } => ErrorKind::NotFound,
            Error::NoSuchNetwork(_) | Error::NetworkNotFound(_) | Error::Missing(_) => {
                ErrorKind::NotFound
            }
            Error::NetworkExists(_) => ErrorKind::AlreadyExists,
            Error::Ipam(berth_net::ipam::IpamError::AddressInUse) => ErrorKind::Conflict,
            Error::Ipam(_) => ErrorKind::InvalidInput,
            Error::Image(e) if e.kind() == berth_image::ErrorKind::NotFound => ErrorKind::NotFound,
            Error::NameInUse { .. } => ErrorKind::AlreadyExists,
            Error::InvalidName(_)
            | Error::Ambiguous(_)
            | Error::Invalid { .. }
            | Error::Unsupported { .. }
            | Error::NotSupported(_)
            | Error::ConflictingOptions(_)
            | Error::Resources(_)
            | Error::BadRequest(_) => ErrorKind::InvalidInput,
            Error::WrongState { .. }
            | Error::RemoveRunning(_)
            | Error::StateConflict(_)
            | Error::UpdateFailed { .. }
            | Error::ImageConflict(_) => ErrorKind::Conflict,
            Error::NotRunning(_) | Error::AttachStopped | Error::Restarting(_) => {
                ErrorKind::Conflict
            }
            Error::Command { .. } => ErrorKind::Command,
            _ => ErrorKind::Internal,
        }
    }

    /// The registry refused the credentials (dockerd answers 401).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Error::Image(e) if e.kind() == berth_image::ErrorKind::Unauthenticated)
    }

    /// The exit code Docker's CLI uses for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Command { exit_code, .. } => *exit_code,
            // `docker build` fails with 1.
            Error::Build(_) => 1,
            _ => 125,
        }
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }
}
