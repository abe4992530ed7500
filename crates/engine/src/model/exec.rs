//! `berth exec`'s options.

/// `berth exec`'s flags.
#[derive(Debug, Default, Clone)]
pub struct ExecOptions {
    pub args: Vec<String>,
    /// `-e K=V` (or `-e K`: the caller's value, if set).
    pub env: Vec<String>,
    /// `-u user[:group]` (names from the container's `/etc/passwd` and
    /// `/etc/group`); the container's user when absent.
    pub user: Option<String>,
    /// `-w`; the container's working directory when absent.
    pub workdir: Option<String>,
    pub tty: bool,
    /// The caller's terminal size (rows, cols), with `tty`.
    pub console_size: Option<(u16, u16)>,
    pub privileged: bool,
}
