//! `berth serve`'s checkpoint endpoints driven by the real docker CLI
//! (`docker checkpoint create/ls/rm`, `docker start --checkpoint`), which
//! offers them only to a daemon that says it is experimental: served
//! with `berth serve --experimental`, refused as dockerd refuses them
//! without it. The restores need a usable CRIU (failing in CI without
//! one, skipping visibly elsewhere), as engine_checkpoint.rs.

mod common;

use berth_testutil::{output_within, require_root, COMMAND_TIMEOUT};
use common::checkpoint::have_criu;
use common::engine::{name, text, Engine};
use common::lifecycle::wait_for;
use common::serve::Serve;

/// A counter in a child of the container's init: each line is
/// `<its pid> <count>`, ten a second.
const COUNTER: &str = "sh -c 'i=0; while :; do i=$((i+1)); echo $$ $i; sleep 0.1; done' & wait $!";

/// [`COUNTER`] until `/stop` exists, then exit 0.
const STOPPABLE: &str =
    "sh -c 'i=0; while [ ! -e /stop ]; do i=$((i+1)); echo $$ $i; sleep 0.1; done' & wait $!";

fn require_docker() {
    assert!(
        common::have_tool("docker"),
        "the docker CLI is needed (apt-get install docker.io)"
    );
}

/// The log's `(pid, count)` lines, through `docker logs`.
fn counts(s: &Serve, n: &str) -> Vec<(u32, u64)> {
    s.ok(&["logs", n])
        .lines()
        .filter_map(|l| {
            let (p, c) = l.split_once(' ')?;
            Some((p.parse().ok()?, c.parse().ok()?))
        })
        .collect()
}

fn wait_for_count(s: &Serve, n: &str, at_least: u64) -> Vec<(u32, u64)> {
    wait_for(&format!("{n} to count to {at_least}"), || {
        let c = counts(s, n);
        (c.last().is_some_and(|l| l.1 >= at_least)).then_some(c)
    })
}

/// `docker ARGS` must fail with exit 1 (an error from the daemon) and
/// say `words`.
fn refused(s: &Serve, args: &[&str], words: &str) {
    let out = s.docker(args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "docker {args:?}: {err}");
    assert!(err.contains(words), "docker {args:?}: {err}");
}

fn state(s: &Serve, n: &str) -> String {
    s.ok(&["inspect", "-f", "{{.State.Status}}", n])
}

#[test]
fn docker_checkpoint_create_ls_rm_and_start_from_one() {
    require_root!();
    require_docker();
    if !have_criu() {
        return;
    }
    let e = Engine::new("berth");
    let s = Serve::start_with(&e, &["--experimental"]);
    let n = name("apick");
    s.ok(&["run", "-d", "--name", &n, "bb:1", "sh", "-c", COUNTER]);
    let pid = wait_for_count(&s, &n, 3)[0].0;
    assert_eq!(s.ok(&["checkpoint", "ls", &n]), "CHECKPOINT NAME\n");

    // --leave-running (`Exit: false`), then the same name again.
    assert_eq!(
        s.ok(&["checkpoint", "create", "--leave-running", &n, "cp1"]),
        "cp1\n"
    );
    assert_eq!(state(&s, &n), "running\n");
    refused(
        &s,
        &["checkpoint", "create", "--leave-running", &n, "cp1"],
        &format!("checkpoint with name cp1 already exists for container {n}"),
    );
    refused(
        &s,
        &["checkpoint", "create", &n, "../x"],
        "Invalid checkpoint ID (../x)",
    );
    // One that stops it (`Exit: true`): the count stops.
    assert_eq!(s.ok(&["checkpoint", "create", &n, "cp2"]), "cp2\n");
    assert_eq!(state(&s, &n), "exited\n");
    let at_checkpoint = counts(&s, &n);
    let last = at_checkpoint.last().unwrap().1;
    assert_eq!(
        s.ok(&["checkpoint", "ls", &n]),
        "CHECKPOINT NAME\ncp1\ncp2\n"
    );
    refused(
        &s,
        &["checkpoint", "create", &n, "cp3"],
        &format!("Container {n} not running"),
    );

    // start --checkpoint: the count goes on in the same process, the
    // checkpoint stays.
    assert_eq!(s.ok(&["start", "--checkpoint", "cp2", &n]), "");
    assert_eq!(state(&s, &n), "running\n");
    let after = wait_for_count(&s, &n, last + 3);
    assert_eq!(after[at_checkpoint.len()].1, last + 1, "{after:?}");
    assert!(
        after.windows(2).all(|w| w[1].1 == w[0].1 + 1),
        "the count skipped or restarted: {after:?}"
    );
    assert!(after.iter().all(|(p, _)| *p == pid), "{after:?}");
    assert_eq!(
        s.ok(&["checkpoint", "ls", &n]),
        "CHECKPOINT NAME\ncp1\ncp2\n"
    );
    refused(
        &s,
        &["start", "--checkpoint", "cp2", &n],
        "is running or paused, cannot restore",
    );

    // --checkpoint-dir (`dir=`, `CheckpointDir`, `checkpoint-dir=`).
    let dir = e.berth.dir.path().join("ckdir");
    let dir = dir.to_str().unwrap();
    assert_eq!(
        s.ok(&["checkpoint", "create", "--checkpoint-dir", dir, &n, "cp4"]),
        "cp4\n"
    );
    assert!(std::path::Path::new(dir).join("cp4").is_dir());
    assert_eq!(
        s.ok(&["checkpoint", "ls", "--checkpoint-dir", dir, &n]),
        "CHECKPOINT NAME\ncp4\n"
    );
    let last = counts(&s, &n).last().unwrap().1;
    refused(
        &s,
        &["start", "--checkpoint", "cp4", &n],
        &format!("checkpoint cp4 does not exist for container {n}"),
    );
    s.ok(&["start", "--checkpoint", "cp4", "--checkpoint-dir", dir, &n]);
    let after = wait_for_count(&s, &n, last + 3);
    assert!(
        after.windows(2).all(|w| w[1].1 == w[0].1 + 1),
        "the count skipped or restarted: {after:?}"
    );
    s.ok(&["stop", "-t", "1", &n]);
    s.ok(&["checkpoint", "rm", "--checkpoint-dir", dir, &n, "cp4"]);
    assert!(!std::path::Path::new(dir).join("cp4").exists());

    // rm, and its errors.
    s.ok(&["checkpoint", "rm", &n, "cp1"]);
    assert_eq!(s.ok(&["checkpoint", "ls", &n]), "CHECKPOINT NAME\ncp2\n");
    refused(
        &s,
        &["checkpoint", "rm", &n, "cp1"],
        &format!("checkpoint cp1 does not exist for container {n}"),
    );
    refused(
        &s,
        &["checkpoint", "create", "nosuch-ck", "cp1"],
        "No such container: nosuch-ck",
    );
    // What the server did is what `berth` sees.
    assert_eq!(e.ok(&["checkpoint", "ls", &n]), "CHECKPOINT NAME\ncp2\n");
}

#[test]
fn docker_start_attached_from_a_checkpoint_gets_the_restored_output() {
    require_root!();
    require_docker();
    if !have_criu() {
        return;
    }
    let e = Engine::new("berth");
    let s = Serve::start_with(&e, &["--experimental"]);
    let n = name("apickat");
    s.ok(&["run", "-d", "--name", &n, "bb:1", "sh", "-c", STOPPABLE]);
    wait_for_count(&s, &n, 3);
    assert_eq!(s.ok(&["checkpoint", "create", &n, "cp1"]), "cp1\n");
    let last = counts(&s, &n).last().unwrap().1;
    // `start -a` attaches to the exited container, then restores it: the
    // attach gets the restored process's output until it exits.
    let mut start = s.docker_command(&["start", "-a", "--checkpoint", "cp1", &n]);
    let attached = std::thread::spawn(move || output_within(&mut start, COMMAND_TIMEOUT));
    wait_for_count(&s, &n, last + 3);
    s.ok(&["exec", &n, "touch", "/stop"]);
    let out = attached.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let streamed: Vec<u64> = text(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' ')?.1.parse().ok())
        .collect();
    assert_eq!(streamed.first(), Some(&(last + 1)), "{streamed:?}");
    assert!(
        streamed.windows(2).all(|w| w[1] == w[0] + 1),
        "the count skipped or restarted: {streamed:?}"
    );
    assert_eq!(state(&s, &n), "exited\n");
}

#[test]
fn without_experimental_the_endpoints_are_refused_as_dockerd_refuses_them() {
    require_root!();
    require_docker();
    let e = Engine::new("berth");
    let n = name("apicknx");
    {
        let s = Serve::start(&e);
        assert_eq!(
            s.ok(&["version", "-f", "{{.Server.Experimental}}"]),
            "false\n"
        );
        assert_eq!(s.ok(&["info", "-f", "{{.ExperimentalBuild}}"]), "false\n");
        s.ok(&["create", "--name", &n, "bb:1", "true"]);
        // The docker CLI does not offer them to a daemon that is not
        // experimental...
        let err = s.fails(&["checkpoint", "ls", &n]);
        assert!(
            err.contains("only supported on a Docker daemon with experimental features enabled"),
            "{err}"
        );
        let err = s.fails(&["start", "--checkpoint", "cp1", &n]);
        assert!(
            err.contains("only supported on a Docker daemon with experimental features enabled"),
            "{err}"
        );
        // ...and the server refuses them with dockerd's statuses.
        let (status, body) = s.request(&format!("GET /v1.41/containers/{n}/checkpoints"), "");
        assert_eq!(status, 501, "{body}");
        assert!(body.contains("experimental feature is disabled"), "{body}");
        let (status, body) = s.request(
            &format!("POST /v1.41/containers/{n}/checkpoints"),
            r#"{"CheckpointID":"cp1"}"#,
        );
        assert_eq!(status, 501, "{body}");
        let (status, body) =
            s.request(&format!("DELETE /v1.41/containers/{n}/checkpoints/cp1"), "");
        assert_eq!(status, 501, "{body}");
        let (status, body) = s.request(
            &format!("POST /v1.41/containers/{n}/start?checkpoint=cp1"),
            "",
        );
        assert_eq!(status, 400, "{body}");
        assert!(
            body.contains("checkpoint is only supported in experimental mode"),
            "{body}"
        );
        assert_eq!(state(&s, &n), "created\n");
    }

    // With --experimental: said everywhere the docker CLI reads it, and the
    // refusals that need no CRIU.
    let s = Serve::start_with(&e, &["--experimental"]);
    assert_eq!(
        s.ok(&["version", "-f", "{{.Server.Experimental}}"]),
        "true\n"
    );
    assert_eq!(s.ok(&["info", "-f", "{{.ExperimentalBuild}}"]), "true\n");
    assert_eq!(s.ok(&["checkpoint", "ls", &n]), "CHECKPOINT NAME\n");
    refused(
        &s,
        &["checkpoint", "create", &n, "cp1"],
        &format!("Container {n} not running"),
    );
    refused(
        &s,
        &["checkpoint", "ls", "nosuch-ck"],
        "No such container: nosuch-ck",
    );
    refused(
        &s,
        &["checkpoint", "rm", &n, "cp1"],
        &format!("checkpoint cp1 does not exist for container {n}"),
    );
    refused(
        &s,
        &["start", "--checkpoint", "cp1", &n],
        &format!("checkpoint cp1 does not exist for container {n}"),
    );
    assert_eq!(state(&s, &n), "created\n");
    let (status, body) = s.request(
        &format!("POST /v1.41/containers/{n}/checkpoints"),
        r#"{"CheckpointID":"cp1","CheckpointDir":"relative/dir"}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("is not an absolute path"), "{body}");
    let (status, body) = s.request(&format!("GET /v1.41/containers/{n}/checkpoints"), "");
    assert_eq!((status, body.trim()), (200, "[]"));

    // The other flag the docker CLI unlocks for an experimental daemon
    // (`build --squash`) is refused by name.
    let mut c = s.docker_command(&["build", "--squash", "-t", "sq:1", "-"]);
    c.env("DOCKER_BUILDKIT", "0");
    let out =
        berth_testutil::output_with_input(&mut c, b"FROM bb:1\n", berth_testutil::COMMAND_TIMEOUT);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("build options not supported by berth: squash"),
        "{err}"
    );
}
