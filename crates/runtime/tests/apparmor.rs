//! AppArmor profiles (`process.apparmorProfile`, `exec --apparmor`).
//!
//! Which branch runs depends on the kernel: this CI host has no AppArmor,
//! so a profile must be refused with a clear error and nothing left
//! behind; the cgroup v2 guest (scripts/test-in-v2vm.sh, Debian's kernel)
//! runs AppArmor, so there a profile must reach the kernel: a profile that
//! is not loaded fails at create or exec, and `unconfined` is what the
//! program reports in `/proc/self/attr/current`.

mod common;

use std::fs;

use common::*;
use serde_json::json;

fn apparmor_enabled() -> bool {
    fs::read("/sys/module/apparmor/parameters/enabled").is_ok_and(|b| b.first() == Some(&b'Y'))
}

/// A profile name no policy loads.
fn not_loaded(b: &Bundle) -> String {
    format!("berth-test-not-loaded-{}", b.id())
}

/// The refusal needs a host without AppArmor, and berth: runc 1.1 ignores
/// the profile there. Says SKIPPED otherwise.
fn refusal_is_testable(rt: &Runtime) -> bool {
    if apparmor_enabled() {
        skipped("AppArmor is enabled here: the refusal path is tested on hosts without it");
        return false;
    }
    !skip_unless_berth(rt, "runc 1.1 ignores the profile when AppArmor is off")
}

/// Applying a profile needs AppArmor in the kernel. Says SKIPPED otherwise
/// (a failure where `BERTH_REQUIRE_FEATURES` lists `apparmor`: the cgroup
/// v2 guest).
fn apply_is_testable() -> bool {
    if !apparmor_enabled() {
        skipped_for_lack_of(
            "apparmor",
            "no AppArmor on this host: tested in the cgroup v2 guest",
        );
        return false;
    }
    true
}

#[track_caller]
fn assert_nothing_left(rt: &Runtime, b: &Bundle) {
    assert!(
        !rt.root().join(b.id()).exists(),
        "state dir left for {}",
        b.id()
    );
    assert!(
        leftover_cgroups(b).is_empty(),
        "cgroup left: {:?}",
        leftover_cgroups(b)
    );
}

#[test]
fn a_profile_the_host_cannot_apply_is_refused() {
    require_root!();
    let rt = runtime();
    if !refusal_is_testable(&rt) {
        return;
    }
    let mut b = Bundle::new(&rt);
    b.config_mut()["process"]["apparmorProfile"] = json!("berth-default");
    let out = rt.create(&b).failed();
    assert!(
        error_message(&out).contains("AppArmor profile \"berth-default\" requested, but AppArmor is not enabled on this host"),
        "unclear error:\n{out}"
    );
    assert_nothing_left(&rt, &b);
}

#[test]
fn exec_with_a_profile_the_host_cannot_apply_is_refused() {
    require_root!();
    let rt = runtime();
    if !refusal_is_testable(&rt) {
        return;
    }
    let mut b = Bundle::new(&rt);
    b.set_args(&["sleep", "1000"]);
    rt.run_detached(&b).ok();
    let out = rt
        .cmd(&["exec", "--apparmor", "berth-default", b.id(), "true"])
        .failed();
    assert!(
        error_message(&out).contains("AppArmor is not enabled on this host"),
        "unclear error:\n{out}"
    );
    rt.exec(b.id(), &["true"]).ok();
}

#[test]
fn a_profile_that_is_not_loaded_fails_create() {
    require_root!();
    if !apply_is_testable() {
        return;
    }
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let name = not_loaded(&b);
    b.config_mut()["process"]["apparmorProfile"] = json!(name);
    let out = rt.create(&b).failed();
    assert!(
        error_message(&out).contains(&name),
        "error does not name the profile:\n{out}"
    );
    assert_nothing_left(&rt, &b);
}

#[test]
fn the_unconfined_profile_is_applied_to_init_and_exec() {
    require_root!();
    if !apply_is_testable() {
        return;
    }
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.config_mut()["process"]["apparmorProfile"] = json!("unconfined");
    b.set_args(&["sleep", "1000"]);
    rt.run_detached(&b).ok();
    let out = rt.exec(b.id(), &["cat", "/proc/self/attr/current"]).ok();
    assert_eq!(out.stdout.trim(), "unconfined", "{out}");
    // An exec naming a profile that is not loaded reaches AppArmor and fails.
    let name = not_loaded(&b);
    let out = rt
        .cmd(&["exec", "--apparmor", &name, b.id(), "true"])
        .failed();
    assert!(
        error_message(&out).contains(&name),
        "error does not name the profile:\n{out}"
    );
}

/// CVE-2019-16884: a container whose `/proc` is a directory it controls
/// (here a bind mount over the proc mount, with writable fake attribute
/// files) made runc write the profile into a plain file, so the program
/// ran unconfined. berth writes through the host's procfs: the profile
/// still reaches AppArmor (a profile that is not loaded still fails) and
/// the fake files stay empty.
#[test]
fn cve_2019_16884_a_fake_proc_does_not_swallow_the_profile() {
    require_root!();
    if !apply_is_testable() {
        return;
    }
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let fake = b.host_dir("fakeproc");
    let mut files = Vec::new();
    for task in ["self", "thread-self"] {
        for attr in ["attr/exec", "attr/apparmor/exec"] {
            let f = fake.join(task).join(attr);
            fs::create_dir_all(f.parent().unwrap()).unwrap();
            fs::write(&f, "").unwrap();
            files.push(f);
        }
    }
    b.add_mount("/proc", "bind", fake.to_str().unwrap(), &["rbind", "rw"]);
    let name = not_loaded(&b);
    b.config_mut()["process"]["apparmorProfile"] = json!(name);
    let out = rt.create(&b).failed();
    assert!(
        error_message(&out).contains(&name),
        "the profile did not reach AppArmor:\n{out}"
    );
    for f in files {
        assert_eq!(
            fs::read_to_string(&f).unwrap(),
            "",
            "{} was written",
            f.display()
        );
    }
    assert_nothing_left(&rt, &b);
}

/// A profile loaded with `apparmor_parser -r`, unloaded on drop.
struct LoadedProfile {
    name: String,
    file: std::path::PathBuf,
}

impl LoadedProfile {
    fn load(b: &Bundle, rules: &str) -> LoadedProfile {
        let name = format!("berth-test-{}", b.id());
        let file = b.host_dir("apparmor").join("profile");
        fs::write(
            &file,
            format!("profile {name} flags=(attach_disconnected,mediate_deleted) {{\n{rules}\n}}\n"),
        )
        .unwrap();
        let out = output_within(
            std::process::Command::new("apparmor_parser")
                .arg("-r")
                .arg(&file),
            COMMAND_TIMEOUT,
        );
        assert!(
            out.status.success(),
            "apparmor_parser -r {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        LoadedProfile { name, file }
    }
}

impl Drop for LoadedProfile {
    fn drop(&mut self) {
        let _ = try_output_within(
            std::process::Command::new("apparmor_parser")
                .arg("-R")
                .arg(&self.file),
            COMMAND_TIMEOUT,
        );
    }
}

/// A loaded profile confines the container: the program runs under it (in
/// enforce mode) and what it denies is denied, for the init and for exec.
#[test]
fn a_loaded_profile_confines_init_and_exec() {
    require_root!();
    if !apply_is_testable() {
        return;
    }
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    fs::write(b.rootfs().join("berth-denied"), "secret\n").unwrap();
    let profile = LoadedProfile::load(
        &b,
        "  file,\n  capability,\n  network,\n  signal,\n  ptrace,\n  unix,\n  \
         mount,\n  umount,\n  pivot_root,\n  deny /berth-denied r,",
    );
    b.config_mut()["process"]["apparmorProfile"] = json!(profile.name);
    b.set_script(
        "cat /proc/self/attr/current; cat /berth-denied 2>/dev/null || echo denied; \
         echo ready; sleep 1000",
    );
    let out = rt.run_detached(&b).ok();
    assert!(
        wait_until(STATE_TIMEOUT, || out.stdout_now().contains("ready")),
        "never ready:\n{}",
        out.stdout_now()
    );
    assert_eq!(
        out.stdout_now(),
        format!("{} (enforce)\ndenied\nready\n", profile.name)
    );
    let out = rt
        .cmd(&[
            "exec",
            "--apparmor",
            &profile.name,
            b.id(),
            "sh",
            "-c",
            "cat /proc/self/attr/current; cat /berth-denied 2>/dev/null || echo denied",
        ])
        .ok();
    assert_eq!(out.stdout, format!("{} (enforce)\ndenied\n", profile.name));
    rt.delete_force(b.id()).ok();
}
