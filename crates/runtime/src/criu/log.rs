//! The line of a CRIU log that says why it failed.
//!
//! CRIU logs `(00.012345) Error (criu/files-reg.c:1790): Can't lookup
//! mount=27 for fd=1 path=/tmp/out`, then summaries such as `Dumping
//! FAILED.`: the first error is the cause, so that is the one quoted.

use std::path::Path;

/// Summaries CRIU logs after the error that caused them.
const SUMMARIES: &[&str] = &["Dumping FAILED", "Restoring FAILED", "Pre-dumping FAILED"];

/// Errors CRIU logs and goes on after: raising its own RLIMIT_NOFILE
/// without CAP_SYS_RESOURCE; its probe of tun features (kerndat) where it
/// may not make a tun device (logged by every restore berth's monitor
/// runs, whatever failed after).
const NOT_FATAL: &[&str] = &[
    "rlimit: Can't setup RLIMIT_NOFILE",
    "tun: Unable to create tun",
];

/// The first `Error` line of `text` that caused the failure, without its
/// time stamp and source location.
pub fn error_line(text: &str) -> Option<String> {
    let errors: Vec<String> = text
        .lines()
        .filter_map(message_of_error)
        .filter(|m| !NOT_FATAL.iter().any(|n| m.starts_with(n)))
        .collect();
    errors
        .iter()
        .find(|m| !SUMMARIES.iter().any(|s| m.contains(s)))
        .or(errors.first())
        .cloned()
}

/// Like [`error_line`], falling back to the first `Warn` line (what `criu
/// check --feature` prints when a feature is off).
pub fn warn_or_error_line(text: &str) -> Option<String> {
    error_line(text).or_else(|| {
        text.lines()
            .filter(|l| !l.contains("kdat cache"))
            .find_map(|l| strip(l, "Warn"))
    })
}

/// The cause of a failure from the log file at `path`, if it says one.
pub fn error_in_file(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    error_line(&String::from_utf8_lossy(&bytes))
}

fn message_of_error(line: &str) -> Option<String> {
    strip(line, "Error")
}

/// `(00.1) Error (file.c:12): text` → `text` (also after a task's
/// `1: `); also CRIU's plain `Error: text` form.
fn strip(line: &str, level: &str) -> Option<String> {
    let line = line.trim();
    let rest = match line.strip_prefix('(') {
        Some(r) => r.split_once(')')?.1.trim_start(),
        None => line,
    };
    // A restored task's lines carry its pid: `(00.1)      1: Error ...`.
    let rest = match rest.split_once(':') {
        Some((pid, after)) if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) => {
            after.trim_start()
        }
        _ => rest,
    };
    let rest = rest.strip_prefix(level)?;
    let rest = rest.trim_start();
    let msg = match rest.strip_prefix('(') {
        Some(r) => r.split_once("):")?.1,
        None => rest.strip_prefix(':')?,
    };
    let msg = msg.trim();
    (!msg.is_empty()).then(|| msg.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_the_cause_not_the_summary() {
        let log = "(00.1) Dumping\n\
                   (00.03) Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted\n\
                   (00.186005) Error (criu/files-reg.c:1790): Can't lookup mount=27 for fd=1 path=/tmp/out\n\
                   (00.186014) Error (criu/cr-dump.c:1698): Dump files (pid: 3148) failed with -1\n\
                   (00.245277) Error (criu/cr-dump.c:2128): Dumping FAILED.\n";
        assert_eq!(
            error_line(log).unwrap(),
            "Can't lookup mount=27 for fd=1 path=/tmp/out"
        );
        assert_eq!(
            error_line("(00.2) Error (criu/cr-dump.c:2128): Dumping FAILED.\n").unwrap(),
            "Dumping FAILED."
        );
        assert_eq!(error_line("all fine\n"), None);
        let restore = "(00.009506) Error (criu/tun.c:85): tun: Unable to create tun: Operation not permitted\n\
                       (00.084180)      1: Error (soccr/soccr.c:529): Can't connect inet socket back: Network is unreachable\n\
                       (00.085362) Error (criu/cr-restore.c:2324): Restoring FAILED.\n";
        assert_eq!(
            error_line(restore).unwrap(),
            "Can't connect inet socket back: Network is unreachable"
        );
    }

    #[test]
    fn reads_check_warnings() {
        let out = "Warn  (criu/kerndat.c:1290): Can't keep kdat cache on non-tempfs\n\
                   Warn  (criu/cr-check.c:824): Dirty tracking is OFF. Memory snapshot will not work.\n";
        assert_eq!(
            warn_or_error_line(out).unwrap(),
            "Dirty tracking is OFF. Memory snapshot will not work."
        );
    }
}
