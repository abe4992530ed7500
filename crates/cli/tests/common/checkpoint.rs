//! What the checkpoint tests share: finding CRIU, and a counter whose
//! log shows whether a restored process went on where it stopped.

use std::path::Path;

use super::engine::Engine;
use super::lifecycle::wait_for;

/// A usable `criu` on PATH (`criu check` passes), or a visible skip
/// (a failure in CI).
pub fn have_criu() -> bool {
    let found = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| Path::new(d).join("criu"))
        .find(|p| p.is_file());
    let why = match &found {
        None => "no criu on PATH (scripts/build-criu.sh builds one)".to_string(),
        Some(p) => match std::process::Command::new(p).arg("check").output() {
            Ok(o) if o.status.success() => return true,
            Ok(o) => format!(
                "`{} check` fails here: {}",
                p.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => format!("cannot run {}: {e}", p.display()),
        },
    };
    if std::env::var_os("CI").is_some() {
        panic!("checkpoint tests need CRIU in CI: {why}");
    }
    berth_testutil::skipped(&why);
    false
}

/// A counter in a child of the container's init: each line is
/// `<its pid> <count>`, ten a second.
pub const COUNTER: &str =
    "sh -c 'i=0; while :; do i=$((i+1)); echo $$ $i; sleep 0.1; done' & wait $!";

/// The log's `(pid, count)` lines.
pub fn counts(e: &Engine, n: &str) -> Vec<(u32, u64)> {
    e.ok(&["logs", n])
        .lines()
        .filter_map(|l| {
            let (p, c) = l.split_once(' ')?;
            Some((p.parse().ok()?, c.parse().ok()?))
        })
        .collect()
}

/// The log once the count reached `at_least`.
pub fn wait_for_count(e: &Engine, n: &str, at_least: u64) -> Vec<(u32, u64)> {
    wait_for(&format!("{n} to count to {at_least}"), || {
        let c = counts(e, n);
        (c.last().is_some_and(|l| l.1 >= at_least)).then_some(c)
    })
}

/// `GET url` from the engine's namespace (its host side), retried while a
/// restored container's ports come up; fails the test if it never answers.
pub fn host_get(e: &Engine, url: &str) -> String {
    let out = e.host_sh(&format!(
        "for i in $(seq 50); do timeout 2 busybox wget -q -O - {url} && exit 0; sleep 0.1; done; exit 1"
    ));
    assert!(
        out.status.success(),
        "{url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
