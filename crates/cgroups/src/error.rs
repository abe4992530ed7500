//! The crate's one error type and its [`ErrorKind`] classification.

use std::io;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::sys::signal::Signal;

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A cgroup or cgroup file does not exist.
    NotFound,
    /// The path, container id or resource values are invalid (including
    /// values the kernel rejected with `EINVAL`).
    InvalidInput,
    /// This host or this crate cannot do it (controller not mounted or not
    /// enabled, resource not supported yet).
    Unsupported,
    /// Anything else: I/O failures, timeouts, unexpected kernel output.
    Internal,
}

/// Errors of this crate. Each variant is one failed step and names its path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("failed to statfs {path}")]
    Statfs {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to parse {path}: unexpected line {line:?}")]
    Parse { path: PathBuf, line: String },
    #[error("failed to write {value:?} to {path}")]
    Write {
        path: PathBuf,
        value: String,
        #[source]
        source: io::Error,
    },
    #[error("failed to create cgroup {path}")]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to remove cgroup {path}")]
    Remove {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to list child cgroups of {path}")]
    ReadDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("invalid cgroups path {path:?}: it {reason}")]
    InvalidPath { path: String, reason: &'static str },
    #[error("container id {id:?} cannot name a cgroup: it {reason}")]
    InvalidContainerId { id: String, reason: &'static str },
    #[error("invalid linux.resources.{field}: {reason}")]
    InvalidResource { field: &'static str, reason: String },
    /// Something this crate does not do, with a message saying what.
    #[error("{0}")]
    Unsupported(String),
    /// A `linux.resources` field this host cannot honour: its controller is
    /// not mounted or not enabled, the kernel lacks the file, or the cgroup
    /// version has no such knob. Never silently ignored.
    #[error("linux.resources.{field} is not supported: {reason}")]
    ResourceUnsupported { field: String, reason: String },
    #[error("no cgroup filesystem is mounted")]
    NoCgroupFs,
    #[error("no cgroup hierarchy with the {controller} controller is mounted")]
    NoHierarchy { controller: String },
    #[error("the {controller} controller is not enabled for {path}")]
    ControllerNotEnabled { controller: String, path: PathBuf },
    #[error("failed to watch {path} for OOM events")]
    Watch {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("timed out waiting for {path} to read {state:?}")]
    Timeout { path: PathBuf, state: &'static str },
    /// A step of putting the cgroup v2 device filter (an eBPF program) in
    /// place; a program the verifier rejects has its log in `source`.
    #[error("failed to {action} for cgroup {path}")]
    DeviceFilter {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to send {signal} to process {pid}")]
    Signal {
        pid: i32,
        signal: Signal,
        #[source]
        source: Errno,
    },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        let io_kind = |e: &io::Error| match e.kind() {
            io::ErrorKind::NotFound => ErrorKind::NotFound,
            _ if e.raw_os_error() == Some(libc::EINVAL) => ErrorKind::InvalidInput,
            _ => ErrorKind::Internal,
        };
        match self {
            Self::Read { source, .. }
            | Self::Write { source, .. }
            | Self::Remove { source, .. }
            | Self::ReadDir { source, .. }
            | Self::Watch { source, .. } => io_kind(source),
            Self::Statfs { source, .. } | Self::Create { source, .. } => match source.kind() {
                io::ErrorKind::NotFound => ErrorKind::NotFound,
                _ => ErrorKind::Internal,
            },
            Self::InvalidPath { .. }
            | Self::InvalidContainerId { .. }
            | Self::InvalidResource { .. } => ErrorKind::InvalidInput,
            Self::Unsupported(_)
            | Self::ResourceUnsupported { .. }
            | Self::NoCgroupFs
            | Self::NoHierarchy { .. }
            | Self::ControllerNotEnabled { .. } => ErrorKind::Unsupported,
            Self::Signal {
                source: Errno::ESRCH,
                ..
            } => ErrorKind::NotFound,
            Self::DeviceFilter { source, .. } => match source.raw_os_error() {
                // no privilege for bpf(2) (e.g. in a user namespace), or no bpf(2)
                Some(libc::EPERM | libc::ENOSYS) => ErrorKind::Unsupported,
                _ if source.kind() == io::ErrorKind::NotFound => ErrorKind::NotFound,
                _ => ErrorKind::Internal,
            },
            Self::Parse { .. } | Self::Timeout { .. } | Self::Signal { .. } => ErrorKind::Internal,
        }
    }
}
