//! The image crate's error: one variant per failed step, with the path,
//! digest or name a user needs.

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
    /// The registry refused the credentials, or has none to use.
    Unauthenticated,
    /// A registry could not be reached or kept failing.
    Unavailable,
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
    #[error("blob {0} not found in the content store")]
    BlobNotFound(String),
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("size mismatch for {what}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },
    #[error("invalid digest {0:?} (want sha256:<64 hex digits>)")]
    InvalidDigest(String),
    #[error("invalid reference format: {0}")]
    InvalidReference(String),
    #[error("No such image: {0}")]
    NoSuchImage(String),
    #[error("conflict: unable to delete {0} (must be forced) - {1}")]
    Conflict(String, String),
    #[error("unsafe layer entry {entry:?}: {reason}")]
    UnsafeEntry { entry: String, reason: String },
    #[error("layer entry {entry:?}: {reason}")]
    BadEntry { entry: String, reason: String },
    #[error("layer {layer}: {reason}")]
    BadLayer { layer: String, reason: String },
    #[error("unsupported {what}: {value}")]
    Unsupported { what: &'static str, value: String },
    #[error("invalid {what}: {reason}")]
    Invalid { what: String, reason: String },
    #[error("failed to parse {what}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("no manifest in {0} matches platform {1}")]
    NoMatchingPlatform(String, String),
    #[error("failed to mount overlay on {}", target.display())]
    Mount {
        target: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("snapshot {0} already exists")]
    SnapshotExists(String),
    #[error("snapshot {0} not found")]
    SnapshotNotFound(String),
    #[error("failed to {action} {url}")]
    Http {
        action: &'static str,
        url: String,
        #[source]
        source: ureq::Error,
    },
    /// The registry answered with an error (`errors[0]` of its JSON body).
    #[error("{registry}: {action}: {reason}")]
    Registry {
        registry: String,
        action: String,
        reason: String,
    },
    #[error("{registry}: unauthorized: {reason}")]
    Unauthorized { registry: String, reason: String },
    #[error("manifest for {0} not found: manifest unknown")]
    ManifestNotFound(String),
    #[error("credentials file {}: {reason}", path.display())]
    AuthFile { path: PathBuf, reason: String },
}

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn json(what: impl Into<String>, source: serde_json::Error) -> Error {
        Error::Json {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::BlobNotFound(_)
            | Error::NoSuchImage(_)
            | Error::SnapshotNotFound(_)
            | Error::ManifestNotFound(_) => ErrorKind::NotFound,
            Error::Unauthorized { .. } => ErrorKind::Unauthenticated,
            Error::Http { .. } | Error::Registry { .. } => ErrorKind::Unavailable,
            Error::AuthFile { .. } => ErrorKind::Internal,
            Error::SnapshotExists(_) => ErrorKind::AlreadyExists,
            Error::Conflict(..) => ErrorKind::Conflict,
            Error::Io { .. } | Error::Mount { .. } => ErrorKind::Internal,
            _ => ErrorKind::InvalidInput,
        }
    }
}
