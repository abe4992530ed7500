//! Shared by the integration test files: which runtime to drive, and the
//! assertions that hold for both berth-runtime and runc.
//!
//! Each file does `mod common;`, so not every helper is used by every file.
#![allow(dead_code)]

use std::time::Duration;

pub use berth_testutil::*;

/// How long a container may take to reach a state.
pub const STATE_TIMEOUT: Duration = Duration::from_secs(20);

/// The runtime under test: berth-runtime, or the one named by
/// `BERTH_TEST_RUNTIME` (`runc` validates the suite itself).
pub fn runtime() -> Runtime {
    Runtime::from_env(env!("CARGO_BIN_EXE_berth-runtime"))
}

/// A script for a container init that exits cleanly on SIGTERM. A plain
/// `sleep` as pid 1 ignores TERM (pid 1 has no default signal actions),
/// so kill tests need a handler; `wait` returns as soon as one runs. It
/// prints `ready` once the handler is in place (see [`run_term_aware`]),
/// and [`GOT_TERM`] when the handler runs: a test that sends TERM can tell
/// it from a KILL, which ends the init with no line.
pub const TERM_AWARE_INIT: &str =
    "trap 'echo got TERM; exit 143' TERM; echo ready; sleep 1000 & wait";

/// What [`TERM_AWARE_INIT`] prints when SIGTERM reaches it.
pub const GOT_TERM: &str = "got TERM";

/// `run -d` of `b` with [`TERM_AWARE_INIT`], returning once the TERM
/// handler is installed (a TERM sent earlier would be ignored by pid 1).
pub fn run_term_aware(rt: &Runtime, b: &mut Bundle) {
    b.set_script(TERM_AWARE_INIT);
    let out = rt.run_detached(b).ok();
    assert!(
        wait_until(STATE_TIMEOUT, || out.stdout_now().contains("ready")),
        "init never got ready:\n{out}"
    );
}

/// Asserts the runtime said container `id` does not exist: runc 1.1 prints
/// `container does not exist`, berth `container "<id>" does not exist`.
#[track_caller]
pub fn assert_not_exist(out: &Output, id: &str) {
    assert!(!out.success(), "expected failure:\n{out}");
    let quoted = format!("container \"{id}\" does not exist");
    assert!(
        out.stderr.contains(&quoted) || out.stderr.contains("container does not exist"),
        "expected a 'container does not exist' error:\n{out}"
    );
}

/// The error line a runtime printed: the `msg="..."` of runc's logrus line,
/// or the whole line for berth.
pub fn error_message(out: &Output) -> String {
    let line = out
        .stderr_lines()
        .last()
        .map(|l| l.to_string())
        .unwrap_or_default();
    match line.split_once("msg=\"") {
        Some((_, rest)) => rest.trim_end().trim_end_matches('"').replace("\\\"", "\""),
        None => line,
    }
}

/// Runs `script` in a fresh default bundle with `run` and returns its
/// stdout, asserting success.
pub fn run_script(rt: &Runtime, script: &str) -> String {
    let mut b = Bundle::new(rt);
    b.set_script(script);
    rt.run(&b).ok().stdout
}

/// `cgroupsPath` dirs that still exist for `bundle`'s container.
pub fn leftover_cgroups(bundle: &Bundle) -> Vec<std::path::PathBuf> {
    CgroupParent::dirs_of(&bundle.cgroup_path())
}

/// For behaviour berth documents but the reference runtime here lacks
/// (runc 1.1 on Debian 12): true, with a visible SKIPPED line, when the
/// runtime under test is not berth, so the test returns early.
pub fn skip_unless_berth(rt: &Runtime, why: &str) -> bool {
    if rt.is_berth() {
        return false;
    }
    skipped(&format!("{}: berth-only behaviour: {why}", rt.name()));
    true
}

/// Waits until process `pid` runs `argv` (its /proc cmdline): `start` and
/// `run -d` may return a moment before the container's init has called
/// execve.
#[track_caller]
pub fn wait_for_exec(pid: u32, argv: &[&str]) {
    let want: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
    let cmdline = || std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        wait_until(STATE_TIMEOUT, || cmdline() == want),
        "pid {pid} runs {:?}, not {argv:?}",
        String::from_utf8_lossy(&cmdline())
    );
}
