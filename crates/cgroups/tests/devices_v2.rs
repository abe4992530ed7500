//! Privileged tests of device rules on cgroup v2, where they are an eBPF
//! program attached to the cgroup: a process in the cgroup opens what the
//! rules allow and gets `EPERM` for the rest, a new `apply` replaces the
//! program, and the program goes away with the cgroup.
//!
//! They run only on a pure v2 host (elsewhere they print a visible
//! `SKIPPED` line; `BERTH_REQUIRE_CGROUP=v2` makes that a failure), under a
//! unique parent ([`CgroupParent`]) removed on drop.

use std::fs::File;
use std::io::Write as _;
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_cgroups::{detect_mode, Cgroup, ErrorKind, Mode};
use berth_sys::bpf;
use berth_testutil::{require_root, skipped, CgroupParent};
use oci_spec::runtime::LinuxResources;

/// `false` (after printing `SKIPPED`) unless the host is pure cgroup v2.
fn require_v2(_test: &str) -> bool {
    let mode = detect_mode().expect("detect cgroup mode");
    if mode == Mode::V2 {
        return true;
    }
    if let Ok(want) = std::env::var("BERTH_REQUIRE_CGROUP") {
        assert!(
            !want.trim().eq_ignore_ascii_case("v2"),
            "BERTH_REQUIRE_CGROUP=v2 but this host is {mode:?}"
        );
    }
    skipped(&format!("needs cgroup v2, this host is {mode:?}"));
    false
}

fn resources(json: &str) -> LinuxResources {
    serde_json::from_str(json).expect("resources json")
}

/// Device rules allowing `c major:minor rwm` after a deny-all.
fn allow_only(devices: &[(i64, i64)]) -> LinuxResources {
    let mut rules = vec![serde_json::json!({"allow": false, "access": "rwm"})];
    for (major, minor) in devices {
        rules.push(serde_json::json!({"allow": true, "type": "c", "major": major, "minor": minor, "access": "rwm"}));
    }
    resources(&serde_json::json!({ "devices": rules }).to_string())
}

/// Starts a shell, moves it into `cg`, then lets it open `path` for
/// reading: `Ok` when it could, else its error message.
fn open_in(cg: &Cgroup, path: &str) -> Result<(), String> {
    let mut child = Command::new("sh")
        .args(["-c", r#"read _ && exec head -c 1 "$0""#, path])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    cg.add_process(child.id() as i32).expect("add to cgroup");
    // Only now, inside the cgroup, does it open the device.
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn attached(cg: &Cgroup) -> Vec<u32> {
    let dir = File::open(cg.unified_path().unwrap()).unwrap();
    bpf::prog_query(dir.as_fd()).expect("query device programs")
}

#[test]
fn rules_are_enforced_replaced_and_removed() {
    require_root!();
    if !require_v2("rules_are_enforced_replaced_and_removed") {
        return;
    }
    let parent = CgroupParent::new();
    let cg = Cgroup::resolve(Some(&parent.path_for("c1")), "c1").unwrap();
    cg.create().unwrap();

    // deny everything but /dev/null (1:3)
    cg.apply(&allow_only(&[(1, 3)])).unwrap();
    let first = attached(&cg);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(open_in(&cg, "/dev/null"), Ok(()));
    let e = open_in(&cg, "/dev/zero").unwrap_err();
    assert!(e.contains("Operation not permitted"), "{e}");

    // new rules replace the program: /dev/zero (1:5) too, then /dev/zero
    // alone
    cg.apply(&allow_only(&[(1, 3), (1, 5)])).unwrap();
    let second = attached(&cg);
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(second, first, "a new program replaces the old one");
    assert_eq!(open_in(&cg, "/dev/zero"), Ok(()));
    cg.apply(&allow_only(&[(1, 5)])).unwrap();
    assert_eq!(open_in(&cg, "/dev/zero"), Ok(()));
    let e = open_in(&cg, "/dev/null").unwrap_err();
    assert!(e.contains("Operation not permitted"), "{e}");
    let third = attached(&cg);
    assert_eq!(third.len(), 1, "{third:?}");

    // invalid rules fail before anything changes
    let e = cg
        .apply(&resources(r#"{"devices": [{"allow": true, "type": "p"}]}"#))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert_eq!(attached(&cg), third);

    // the program goes away with the cgroup (freed asynchronously)
    cg.destroy().unwrap();
    let start = Instant::now();
    loop {
        match bpf::prog_get_fd_by_id(third[0]) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => break,
            other => {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "program {} still exists after destroy: {other:?}",
                    third[0]
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

#[test]
fn allow_all_with_a_deny_rule() {
    require_root!();
    if !require_v2("allow_all_with_a_deny_rule") {
        return;
    }
    let parent = CgroupParent::new();
    let cg = Cgroup::resolve(Some(&parent.path_for("c1")), "c1").unwrap();
    cg.create().unwrap();
    cg.apply(&resources(
        r#"{"devices": [{"allow": true, "access": "rwm"},
                        {"allow": false, "type": "c", "major": 1, "minor": 8, "access": "r"}]}"#,
    ))
    .unwrap();
    assert_eq!(open_in(&cg, "/dev/zero"), Ok(()));
    let e = open_in(&cg, "/dev/random").unwrap_err();
    assert!(e.contains("Operation not permitted"), "{e}");
    // no rules: the cgroup keeps its filter
    cg.apply(&resources(r#"{"pids": {"limit": 100}}"#)).unwrap();
    assert_eq!(attached(&cg).len(), 1);
    cg.destroy().unwrap();
}
