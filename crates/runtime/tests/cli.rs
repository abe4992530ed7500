//! The informational commands: `spec`, `--version`, `features`.

mod common;

use std::fs;

use common::*;
use serde_json::{json, Value};

#[test]
fn spec_writes_a_config_that_runs() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::rootfs_only(&rt);
    rt.cmd_in(b.path(), &["spec"]).ok();
    b.reload();
    let c = b.config().clone();
    assert!(
        c["ociVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.")),
        "{c}"
    );
    assert_eq!(c["root"]["path"], "rootfs");
    assert_eq!(c["process"]["terminal"], true);
    assert_eq!(c["process"]["args"], json!(["sh"]));
    let kinds: Vec<&str> = c["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    for k in ["pid", "network", "ipc", "uts", "mount"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }

    // With a terminal-less process (and our cgroup), it runs as is.
    b.set_terminal(false).set_script("echo spec-ok");
    let cg = b.cgroup_path();
    b.config_mut()["linux"]["cgroupsPath"] = json!(cg);
    assert_eq!(rt.run(&b).ok().stdout, "spec-ok\n");
}

#[test]
fn spec_with_bundle_flag_and_no_overwrite() {
    require_root!();
    let rt = runtime();
    let dir = TempDir::new("berth-spec").unwrap();
    rt.cmd(&["spec", "--bundle", dir.path().to_str().unwrap()])
        .ok();
    let first = fs::read_to_string(dir.join("config.json")).unwrap();
    let _: Value = serde_json::from_str(&first).expect("spec output is JSON");
    // A second `spec` refuses to clobber the existing file.
    fs::write(dir.join("config.json"), "keep me").unwrap();
    rt.cmd(&["spec", "--bundle", dir.path().to_str().unwrap()])
        .failed();
    assert_eq!(
        fs::read_to_string(dir.join("config.json")).unwrap(),
        "keep me"
    );
}

#[test]
fn version_mentions_the_spec_version() {
    let rt = runtime();
    let out = rt.cmd(&["--version"]).ok();
    let first = out.stdout.lines().next().unwrap_or_default();
    assert!(first.contains("version"), "{out}");
    assert!(
        out.stdout.lines().any(|l| l.starts_with("spec: 1.")),
        "no `spec: 1.x` line:\n{out}"
    );
}

#[test]
fn features_is_json_with_oci_versions_and_hooks() {
    let rt = runtime();
    let out = rt.cmd(&["features"]).ok();
    let f: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}:\n{out}"));
    let max = f["ociVersionMax"].as_str().expect("ociVersionMax");
    let min = f["ociVersionMin"].as_str().expect("ociVersionMin");
    assert!(max.starts_with("1.") && min.starts_with("1."), "{f}");
    let hooks: Vec<&str> = f["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for h in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        assert!(hooks.contains(&h), "{h} missing from {hooks:?}");
    }
    let namespaces: Vec<&str> = f["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for ns in ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"] {
        assert!(namespaces.contains(&ns), "{ns} missing from {namespaces:?}");
    }
    if rt.is_berth() {
        assert!(
            namespaces.contains(&"time"),
            "berth supports time namespaces: {namespaces:?}"
        );
    }
    assert!(
        f["mountOptions"]
            .as_array()
            .is_some_and(|m| m.iter().any(|o| o == "rbind")),
        "{f}"
    );
}

#[test]
fn help_lists_the_runc_commands() {
    let rt = runtime();
    let out = rt.cmd(&["--help"]).ok();
    for cmd in [
        "create", "start", "state", "kill", "delete", "run", "exec", "list", "ps", "spec",
        "features", "pause", "resume",
    ] {
        assert!(
            out.stdout.lines().any(|l| l.trim_start().starts_with(cmd)),
            "{cmd} missing from --help:\n{out}"
        );
    }
}
