//! `-i`/`-t`: how the container's stdio is set up.

use serde::{Deserialize, Serialize};

/// `-i`/`-t` as the container was created with.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StdioConfig {
    /// `-t`: the process gets a pseudo-terminal.
    #[serde(default)]
    pub tty: bool,
    /// `-i`: stdin stays open for attach clients.
    #[serde(default)]
    pub open_stdin: bool,
    /// Close the container's stdin when the attached client's stdin ends
    /// (Docker sets it for a foreground `run -i`).
    #[serde(default)]
    pub stdin_once: bool,
    /// The terminal size (rows, cols) at create, for `process.consoleSize`.
    #[serde(default)]
    pub console_size: Option<(u16, u16)>,
}
