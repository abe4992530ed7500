//! The runtime's error type. Messages that clients match on (containerd's
//! go-runc, Podman, Docker) follow runc's wording: "does not exist",
//! "container with id exists", "container not running", "cannot start a
//! container that has stopped".

use std::io;
use std::path::PathBuf;

/// What kind of failure, so callers branch on kinds rather than strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    AlreadyExists,
    InvalidInput,
    /// The request is valid but the container is in the wrong state for it.
    WrongState,
    Unsupported,
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("container \"{0}\" does not exist")]
    NotExist(String),
    #[error("container with id exists: {0}")]
    Exists(String),
    #[error("invalid container ID format: {0:?} (use letters, digits, '_', '+', '-' and '.', not leading)")]
    InvalidId(String),
    #[error("container not running")]
    NotRunning,
    #[error("cannot start a container that has stopped")]
    StartStopped,
    #[error("cannot start an already running container")]
    StartRunning,
    #[error("cannot {action} container {id}: it is {status}")]
    WrongState {
        id: String,
        action: &'static str,
        status: String,
    },
    #[error("cannot delete container {id} that is not stopped: {status}")]
    DeleteNotStopped { id: String, status: String },
    #[error("{0}")]
    InvalidConfig(String),
    #[error("{0} is not supported")]
    Unsupported(String),
    /// The config asks for a kernel feature this host does not have.
    #[error("{0}")]
    HostLacks(String),
    #[error("failed to {what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to {0}")]
    Sys(String, #[source] io::Error),
    #[error(transparent)]
    Cgroup(#[from] berth_cgroups::Error),
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
    /// A failure reported by the container's init or exec process, already
    /// worded for the user.
    #[error("{0}")]
    Container(String),
    /// CRIU failed (checkpoint, restore): the cause in CRIU's words.
    #[error("{0}")]
    Criu(String),
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotExist(_) => ErrorKind::NotFound,
            Error::Exists(_) => ErrorKind::AlreadyExists,
            Error::InvalidId(_) | Error::InvalidConfig(_) => ErrorKind::InvalidInput,
            Error::NotRunning
            | Error::StartStopped
            | Error::StartRunning
            | Error::WrongState { .. }
            | Error::DeleteNotStopped { .. } => ErrorKind::WrongState,
            Error::Unsupported(_) | Error::HostLacks(_) => ErrorKind::Unsupported,
            _ => ErrorKind::Internal,
        }
    }

    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn sys(what: impl Into<String>, source: impl Into<io::Error>) -> Self {
        Error::Sys(what.into(), source.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Renders an error and its chain of causes on one line, as runc does.
pub fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}
