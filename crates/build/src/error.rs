//! The errors of `.dockerignore`, the build context and `COPY`/`ADD`, in
//! Docker's words where Docker has words (BuildKit's for a missing source,
//! the classic builder's for `--chown`).

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Go's `filepath.ErrBadPattern`, with the pattern.
    #[error("syntax error in pattern: {0}")]
    BadPattern(String),
    #[error("illegal exclusion pattern: \"!\"")]
    IllegalExclusion,
    /// A source that does not exist, or that `.dockerignore` excludes
    /// (BuildKit: `"/x": not found`).
    #[error("\"/{0}\": not found")]
    NotFound(String),
    #[error("ADD {0}: downloading from a URL is not supported (berth builds offline; fetch it into the build context)")]
    Url(String),
    #[error("When using {0} with more than one source file, the destination must be a directory and end with a /")]
    DestNotDir(&'static str),
    #[error("cannot copy to non-directory: {0}")]
    CopyToNonDir(String),
    #[error("cannot replace to directory {0} with file")]
    ReplaceDir(String),
    #[error("invalid chown string format: {0}")]
    ChownFormat(String),
    #[error("can't find uid for user {0}: no such user: {0}")]
    NoSuchUser(String),
    #[error("can't find gid for group {0}: no such group: {0}")]
    NoSuchGroup(String),
    #[error("{path}: {reason}")]
    BadArchive { path: String, reason: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("failed to {what} {path}")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn io(
        what: &'static str,
        path: impl Into<String>,
        source: impl Into<io::Error>,
    ) -> Error {
        Error::Io {
            what,
            path: path.into(),
            source: source.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
