//! OCI hooks: each stage runs at its point of the lifecycle, in order,
//! with the container state on stdin; a failing hook fails the operation.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use serde_json::json;

const STAGES: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// A hook command that appends `<name> <status> <id>` (both read from the
/// state JSON on stdin) to `log`, and `<name> <pid>` to `log.pid`. It must
/// work with the host's /bin/sh and busybox sh, since startContainer hooks
/// run inside the container.
fn logging_hook(b: &mut Bundle, stage: &str, log: &Path) {
    let script = format!(
        "s=$(cat); \
         st=$(printf '%s\\n' \"$s\" | sed -n 's/.*\"status\" *: *\"\\([a-z]*\\)\".*/\\1/p'); \
         id=$(printf '%s\\n' \"$s\" | sed -n 's/.*\"id\" *: *\"\\([^\"]*\\)\".*/\\1/p'); \
         pid=$(printf '%s\\n' \"$s\" | sed -n 's/.*\"pid\" *: *\\([0-9]*\\).*/\\1/p'); \
         echo \"$0 $st $id\" >> {log}; echo \"$0 ${{pid:-none}}\" >> {log}.pid",
        log = log.display()
    );
    b.add_hook(stage, "/bin/sh", &["sh", "-c", &script, stage]);
}

/// A bundle whose hooks all log to `<bundle>/hooklog/log`, a host dir also
/// bind-mounted at the same path inside the container, so hooks run on
/// either side of pivot_root write the same file.
fn hooked_bundle(rt: &Runtime) -> (Bundle, std::path::PathBuf) {
    let mut b = Bundle::new(rt);
    let dir = b.host_dir("hooklog");
    let log = dir.join("log");
    let dest = dir.to_str().unwrap().to_owned();
    b.add_mount(&dest, "bind", &dest, &["rbind", "rw"]);
    for stage in STAGES {
        logging_hook(&mut b, stage, &log);
    }
    (b, log)
}

fn log_lines(log: &Path) -> Vec<String> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The pid each hook found in its state (`none` when absent), by stage.
fn hook_pids(log: &Path) -> std::collections::HashMap<String, String> {
    log_lines(&log.with_extension("pid"))
        .iter()
        .filter_map(|l| l.split_once(' '))
        .map(|(stage, pid)| (stage.to_owned(), pid.to_owned()))
        .collect()
}

/// The hook log after `create`, after `start` and after `delete`.
fn hook_log_by_phase(rt: &Runtime) -> (String, [Vec<String>; 3]) {
    hook_log_and_pids(rt).0
}

/// [`hook_log_by_phase`], the pid of each hook's state, and the init's
/// host pid.
#[allow(clippy::type_complexity)]
fn hook_log_and_pids(
    rt: &Runtime,
) -> (
    (String, [Vec<String>; 3]),
    std::collections::HashMap<String, String>,
    String,
) {
    let (mut b, log) = hooked_bundle(rt);
    b.set_args(&["sleep", "1000"]);
    rt.create(&b).ok();
    let init_pid = rt.state(b.id())["pid"].to_string();
    let after_create = log_lines(&log);
    rt.start(b.id()).ok();
    assert!(
        wait_until(STATE_TIMEOUT, || log_lines(&log).len() >= 5),
        "{:?}",
        log_lines(&log)
    );
    let after_start = log_lines(&log)[after_create.len()..].to_vec();
    rt.kill(b.id(), "KILL").ok();
    rt.wait_for_status(b.id(), "stopped", STATE_TIMEOUT);
    rt.delete(b.id()).ok();
    let after_delete = log_lines(&log)[after_create.len() + after_start.len()..].to_vec();
    (
        (b.id().to_owned(), [after_create, after_start, after_delete]),
        hook_pids(&log),
        init_pid,
    )
}

#[test]
fn hooks_run_in_order_with_the_state_on_stdin() {
    require_root!();
    let rt = runtime();
    let (id, phases) = hook_log_by_phase(&rt);
    let line = |stage: &str, status: &str| format!("{stage} {status} {id}");
    if !rt.is_berth() {
        // runc (up to 1.5) runs poststart hooks inside `create` (state
        // "created"), before startContainer: a known deviation from the
        // spec, fixed on runc's main branch after 1.5.1. Check only that
        // each hook ran once with the id.
        eprintln!("NOTE: {} hook order: {phases:?}", rt.name());
        let all: Vec<&String> = phases.iter().flatten().collect();
        for stage in STAGES {
            assert_eq!(
                all.iter()
                    .filter(|l| l.starts_with(&format!("{stage} ")))
                    .count(),
                1,
                "{stage}: {all:?}"
            );
        }
        assert!(
            all.iter().all(|l| l.ends_with(&format!(" {id}"))),
            "{all:?}"
        );
        assert_eq!(phases[2], [line("poststop", "stopped")]);
        return;
    }
    // The order and the states the OCI runtime spec prescribes.
    assert_eq!(
        phases,
        [
            vec![
                line("prestart", "creating"),
                line("createRuntime", "creating"),
                line("createContainer", "creating")
            ],
            vec![
                line("startContainer", "created"),
                line("poststart", "running")
            ],
            vec![line("poststop", "stopped")],
        ]
    );
}

/// The state's `pid` is the init's pid as the hook sees it: the host's for
/// hooks run in the runtime's namespaces, the container's (1, in its own
/// pid namespace) for createContainer and startContainer, which run in
/// the container's (runtime-spec, runtime.md "State"). A stopped container
/// has no pid (0 or absent).
#[test]
fn hook_state_pid_is_the_one_the_hook_sees() {
    require_root!();
    let rt = runtime();
    let (_, pids, init_pid) = hook_log_and_pids(&rt);
    let pid = |stage: &str| pids.get(stage).cloned().unwrap_or_default();
    for stage in ["prestart", "createRuntime", "poststart"] {
        assert_eq!(pid(stage), init_pid, "{stage}: {pids:?}");
    }
    for stage in ["createContainer", "startContainer"] {
        assert_eq!(pid(stage), "1", "{stage}: {pids:?}");
    }
    assert!(
        ["0", "none"].contains(&pid("poststop").as_str()),
        "poststop: {pids:?}"
    );
}

#[test]
fn run_runs_every_hook_once() {
    require_root!();
    let rt = runtime();
    let (mut b, log) = hooked_bundle(&rt);
    b.set_args(&["true"]);
    rt.run(&b).ok();
    let mut stages: Vec<String> = log_lines(&log)
        .iter()
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .collect();
    if !rt.is_berth() {
        // runc runs poststart before startContainer (see above).
        stages.sort();
        let mut want = STAGES.map(str::to_owned).to_vec();
        want.sort();
        assert_eq!(stages, want);
        return;
    }
    assert_eq!(stages, STAGES);
}

#[test]
fn hook_args_env_and_timeout_fields_are_honoured() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let out = b.host_dir("out").join("env");
    b.set_args(&["true"]);
    b.config_mut()["hooks"] = json!({
        "createRuntime": [{
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("echo \"$1 $HOOK_VAR\" > {}", out.display()), "sh", "first-arg"],
            "env": ["HOOK_VAR=from-env", "PATH=/usr/bin:/bin"],
            "timeout": 10
        }]
    });
    rt.run(&b).ok();
    assert_eq!(fs::read_to_string(&out).unwrap(), "first-arg from-env\n");
}

#[test]
fn failing_prestart_hook_fails_create_and_leaves_nothing() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_args(&["sleep", "1000"]);
    b.add_hook(
        "prestart",
        "/bin/sh",
        &["sh", "-c", "echo hook-says-no >&2; exit 3"],
    );
    let out = rt.create(&b).failed();
    assert!(
        out.stderr.contains("prestart") || out.stderr.contains("hook"),
        "{out}"
    );
    assert!(
        rt.list_ids().is_empty(),
        "still listed: {:?}",
        rt.list_ids()
    );
    assert!(!rt.root().join(b.id()).exists(), "state dir left");
    assert!(
        leftover_cgroups(&b).is_empty(),
        "cgroup left: {:?}",
        leftover_cgroups(&b)
    );
    // No container process survives in the parent cgroup either.
    assert!(CgroupParent::procs_of(&b.cgroup_parent().path()).is_empty());
}

#[test]
fn failing_create_runtime_hook_fails_create() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_args(&["sleep", "1000"]);
    b.add_hook("createRuntime", "/bin/false", &["false"]);
    rt.create(&b).failed();
    assert!(rt.list_ids().is_empty());
    assert!(
        leftover_cgroups(&b).is_empty(),
        "cgroup left: {:?}",
        leftover_cgroups(&b)
    );
}

/// A failing createRuntime hook fails `create`; the runtime-spec then goes
/// on with the container's destruction and its poststop hooks (lifecycle
/// steps 4, 12 and 13), with the state `stopped`. runc does the same.
#[test]
fn failed_create_still_runs_the_poststop_hooks() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let log = b.host_dir("hooklog").join("log");
    b.set_args(&["sleep", "1000"]);
    b.add_hook("createRuntime", "/bin/false", &["false"]);
    logging_hook(&mut b, "poststop", &log);
    rt.create(&b).failed();
    assert_eq!(
        log_lines(&log),
        [format!("poststop stopped {}", b.id())],
        "poststop hooks after the failed create"
    );
    assert!(!rt.root().join(b.id()).exists(), "state dir left");
}

/// A failing startContainer hook (run by the init, in the container, during
/// `start`): `start` fails and says why, not that the container "has
/// stopped" (it was created when `start` began).
#[test]
fn failing_start_container_hook_fails_start_with_its_cause() {
    require_root!();
    let rt = runtime();
    if skip_unless_berth(&rt, "the wording of start's error") {
        return;
    }
    let mut b = Bundle::new(&rt);
    b.set_args(&["sleep", "1000"]);
    b.add_hook("startContainer", "/bin/false", &["false"]);
    rt.create(&b).ok();
    let out = rt.start(b.id()).failed();
    assert!(
        error_message(&out).contains("init exited before starting its program")
            && error_message(&out).contains("startContainer hook"),
        "{out}"
    );
    rt.delete(b.id()).ok();
    assert!(rt.list_ids().is_empty());
}
