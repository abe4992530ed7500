//! `-t`: `process.terminal` (set by `process.rs`), the console size and
//! Docker's `TERM=xterm`.

use oci_spec::runtime::{Box as ConsoleSize, BoxBuilder};

use crate::model::StdioConfig;

/// `process.consoleSize` of a `-t` container created from a terminal.
pub fn console_size(cfg: &StdioConfig) -> Option<ConsoleSize> {
    let (rows, cols) = cfg.console_size.filter(|_| cfg.tty)?;
    size(rows, cols)
}

pub(crate) fn size(rows: u16, cols: u16) -> Option<ConsoleSize> {
    BoxBuilder::default()
        .height(u64::from(rows))
        .width(u64::from(cols))
        .build()
        .ok()
}

/// The container's env, with `TERM=xterm` for a terminal.
pub fn env(cfg: &StdioConfig, env: &[String]) -> Vec<String> {
    let mut env = env.to_vec();
    if cfg.tty {
        add_term(&mut env);
    }
    env
}

/// Adds `TERM=xterm` unless the env sets TERM (Docker does for every
/// process with a terminal).
pub(crate) fn add_term(env: &mut Vec<String>) {
    if !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
}
