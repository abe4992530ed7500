//! The root gate: privileged tests skip loudly on a laptop and fail in CI.

/// True when the current process runs with effective uid 0.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// True when the environment asks that root tests never skip: `CI` or
/// `BERTH_REQUIRE_ROOT` set to anything but empty, `0` or `false`.
pub fn root_required_by_env() -> bool {
    ["CI", "BERTH_REQUIRE_ROOT"].iter().any(|name| {
        std::env::var(name)
            .map(|v| !matches!(v.trim(), "" | "0" | "false"))
            .unwrap_or(false)
    })
}

/// Decides what a test that needs root does; the logic behind
/// [`require_root!`](crate::require_root).
///
/// Returns `false` when running as root. Otherwise panics if the
/// environment requires root tests, or prints a visible `SKIPPED` line to
/// stderr and returns `true` so the test returns early.
pub fn should_skip_for_root(test: &str) -> bool {
    if is_root() {
        return false;
    }
    if root_required_by_env() {
        panic!(
            "{test} needs root, and CI/BERTH_REQUIRE_ROOT forbids skipping it: run the suite as root"
        );
    }
    crate::skip::skipped("needs root");
    true
}

/// Returns from the calling test unless it runs as root; panics instead
/// when `CI` or `BERTH_REQUIRE_ROOT` is set. Use it as the first line of
/// every privileged test.
#[macro_export]
macro_rules! require_root {
    () => {
        if $crate::should_skip_for_root(&$crate::__test_name(module_path!())) {
            return;
        }
    };
}

/// The running test's name: libtest (and nextest) name the test thread
/// after the test.
#[doc(hidden)]
pub fn __test_name(fallback: &str) -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" => name.to_owned(),
        _ => fallback.to_owned(),
    }
}
