//! Every skip goes through [`skipped`]: a visible `SKIPPED` line and, when
//! `BERTH_SKIP_LEDGER` names a file, one ledger line, so CI can count the
//! skips of a run and fail on any that `.ci/skip-allowlist` does not list.

use std::fs::OpenOptions;
use std::io::Write;

/// The ledger file CI reads after the suite (unset: no ledger).
pub const LEDGER_ENV: &str = "BERTH_SKIP_LEDGER";

/// Records that the running test skips (part of) what it checks, and why:
/// prints `SKIPPED: <test>: <why>` straight to the process's stderr, past
/// libtest's output capture (nextest shows it with `--success-output`),
/// and appends `<binary>::<test>\t<why>` to the ledger. The caller returns
/// or leaves the part out.
pub fn skipped(why: &str) {
    let test = current_test();
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {why}");
    if let Some(path) = std::env::var_os(LEDGER_ENV).filter(|p| !p.is_empty()) {
        let line = ledger_line(&test, why);
        // One write(2) of one line on an O_APPEND file: lines from tests
        // running in parallel processes never interleave.
        let written = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = written {
            panic!(
                "{test} skips ({why}), and the skip ledger {} cannot record it: {e}",
                std::path::Path::new(&path).display()
            );
        }
    }
}

/// The host features a CI pass pins (`BERTH_REQUIRE_FEATURES`, a comma
/// list such as `apparmor,blockdev`): a test that would skip for lack of
/// one of them fails instead.
pub const FEATURES_ENV: &str = "BERTH_REQUIRE_FEATURES";

/// True when `BERTH_REQUIRE_FEATURES` lists `feature`.
pub fn feature_required(feature: &str) -> bool {
    std::env::var(FEATURES_ENV).is_ok_and(|v| v.split(',').any(|f| f.trim() == feature))
}

/// Skips for lack of host feature `feature` ([`skipped`] with `why`), or
/// panics when `BERTH_REQUIRE_FEATURES` says this machine must have it.
pub fn skipped_for_lack_of(feature: &str, why: &str) {
    if feature_required(feature) {
        panic!(
            "{}: {why}, but {FEATURES_ENV} requires `{feature}` on this machine",
            current_test()
        );
    }
    skipped(why);
}

/// `<binary>::<test>`: the test binary's name without cargo's hash
/// (`lifecycle`, `berth_cgroups`) and the running test's name.
pub fn current_test() -> String {
    format!("{}::{}", binary_name(), crate::root::__test_name("?"))
}

fn ledger_line(test: &str, why: &str) -> String {
    let why: String = why
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("{test}\t{why}\n")
}

/// The running executable's file name less the `-<16 hex>` cargo adds.
fn binary_name() -> String {
    let exe = std::env::current_exe().ok();
    let name = exe
        .as_ref()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "?".to_owned());
    match name.rsplit_once('-') {
        Some((stem, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            stem.to_owned()
        }
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ledger_line_is_one_line() {
        assert_eq!(
            ledger_line("lifecycle::t", "no\nblock\tdevice"),
            "lifecycle::t\tno block device\n"
        );
    }
}
