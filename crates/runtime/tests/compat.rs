//! Behaves like runc: the same bundle run by the runtime under test and by
//! a reference runtime (`BERTH_TEST_REFERENCE`, default `runc`) gives the
//! same view from inside.

mod common;

use common::*;

fn reference() -> Option<Runtime> {
    let name = std::env::var("BERTH_TEST_REFERENCE").unwrap_or_else(|_| "runc".to_owned());
    match Runtime::find(&name) {
        Some(bin) => Some(Runtime::new(bin)),
        None => {
            if root_required_by_env() {
                panic!("reference runtime {name} not installed, and CI asks for every test");
            }
            skipped(&format!("reference runtime {name} not installed"));
            None
        }
    }
}

/// Runs `script` in a default bundle with `rt` and returns its stdout.
fn view(rt: &Runtime, script: &str) -> String {
    let mut b = Bundle::new(rt);
    b.set_script(script);
    let out = rt.run(&b);
    assert!(out.success(), "{} failed:\n{out}", rt.name());
    out.stdout
}

#[track_caller]
fn assert_same_view(script: &str) {
    let Some(reference) = reference() else { return };
    let ours = runtime();
    let want = view(&reference, script);
    let got = view(&ours, script);
    assert_eq!(
        got,
        want,
        "{} and {} differ for {script:?}",
        ours.name(),
        reference.name()
    );
}

#[test]
fn identity_caps_and_rootfs_match_runc() {
    require_root!();
    // Seccomp is part of the line set: runc's default spec has no seccomp
    // profile, so both must show mode 0.
    assert_same_view(
        "hostname; id; ls /; cat /proc/self/status | grep -E '^(Cap|NoNewPrivs|Seccomp)'",
    );
}

#[test]
fn mount_table_matches_runc() {
    require_root!();
    // Mount points and types, in order (options vary with kernel defaults
    // that neither runtime controls, so they are left out).
    assert_same_view("cut -d' ' -f2,3 /proc/self/mounts");
}

#[test]
fn dev_matches_runc() {
    require_root!();
    assert_same_view("ls -la /dev | awk '{print $1, $5, $6, $NF}' | grep -v '^total'");
}

#[test]
fn environment_and_limits_match_runc() {
    require_root!();
    assert_same_view(
        "env | grep -v '^HOSTNAME=' | sort; ulimit -n; umask; cat /proc/self/oom_score_adj",
    );
}

#[test]
fn state_has_runc_fields() {
    require_root!();
    let Some(reference) = reference() else { return };
    let keys = |rt: &Runtime| {
        let mut b = Bundle::new(rt);
        b.set_args(&["sleep", "1000"]);
        rt.create(&b).ok();
        let s = rt.state(b.id());
        let mut k: Vec<String> = s.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let want = keys(&reference);
    let got = keys(&runtime());
    for k in &want {
        assert!(got.contains(k), "state lacks {k:?}: {got:?}");
    }
}
