//! Swapping berth's table in and out through libnftables.

use std::time::Instant;

use berth_sys::nftables::Context;

use super::ruleset::{render, valid_ifname, Ruleset};

/// What can go wrong with berth's nftables table; one line each.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// libnftables is missing, or a context could not be made.
    #[error("{0}")]
    Library(String),
    /// The kernel or libnftables refused the commands.
    #[error("nftables: {0}")]
    Rejected(String),
    /// A bridge name that is no interface name.
    #[error("nftables: invalid bridge name {0:?}")]
    InvalidBridge(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// The commands that make the table exist (if it did not), so that the
/// `delete` after them cannot fail: libnftables 1.0.6 has no `destroy`.
const RESET: &str = "add table inet berth\ndelete table inet berth\n";

/// Replaces berth's table with `r` in one netlink batch (the old table is
/// deleted and the new one made atomically: a packet sees one or the other,
/// and a refused ruleset leaves the old table as it was). An empty `r`
/// deletes the table (absent already is fine). Works in the calling
/// thread's network namespace.
pub fn apply(r: &Ruleset) -> Result<()> {
    let started = Instant::now();
    let bridges = r
        .networks
        .iter()
        .map(|n| &n.bridge)
        .chain(r.ports.iter().map(|p| &p.bridge));
    if let Some(bad) = bridges.into_iter().find(|b| !valid_ifname(b)) {
        return Err(Error::InvalidBridge(bad.clone()));
    }
    run(&script(r))?;
    tracing::debug!(
        networks = r.networks.len(),
        ports = r.ports.len(),
        elapsed_us = started.elapsed().as_micros() as u64,
        "nftables table inet berth applied"
    );
    Ok(())
}

/// The whole buffer [`apply`] hands libnftables for `r`: make sure the table
/// exists, delete it, and (unless `r` is empty) make it anew.
pub fn script(r: &Ruleset) -> String {
    let mut commands = String::from(RESET);
    if !r.is_empty() {
        commands.push_str(&render(r));
    }
    commands
}

/// Deletes berth's table (absent already is fine).
pub fn delete() -> Result<()> {
    run(RESET).map(drop)
}

/// `list table inet berth` as nft prints it, or `None` when the table does
/// not exist (for tests and diagnostics).
pub fn current() -> Result<Option<String>> {
    let tables = run("list tables inet")?;
    if !tables.lines().any(|l| l.trim() == "table inet berth") {
        return Ok(None);
    }
    run("list table inet berth").map(Some)
}

fn run(commands: &str) -> Result<String> {
    let mut ctx = Context::new().map_err(Error::Library)?;
    ctx.run(commands).map_err(|e| Error::Rejected(one_line(&e)))
}

/// nft's error text on one line: its messages, without the echoed command
/// lines and caret markers under them.
fn one_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.chars().all(|c| matches!(c, '^' | '~' | ' ')))
        .collect();
    let errors: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.find("Error: ").map(|at| &l[at..]))
        .collect();
    if errors.is_empty() {
        lines.join("; ")
    } else {
        errors.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn error_text_on_one_line() {
        let text = "/dev/stdin:3:1-5: Error: Could not process rule: No such file or directory\n\
                    add rule inet berth x drop\n\
                    ^^^^^^^^^^^^^^^^^^^^^^^^^^\n";
        assert_eq!(
            one_line(text),
            "Error: Could not process rule: No such file or directory"
        );
        assert_eq!(one_line("odd\nthing\n"), "odd; thing");
    }
}
