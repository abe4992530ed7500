//! The CRIU gate of the checkpoint tests.

use std::path::Path;

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
