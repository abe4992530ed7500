//! Checkpoint and restore through the engine (`container checkpoint` /
//! `container restore`), as root, with a real CRIU (built by
//! scripts/build-criu.sh; `.ci/run` puts it first in PATH). Without a
//! usable CRIU the tests fail in CI and skip visibly elsewhere. Each test
//! has its own root, names and cgroup parent.

mod common;

use std::path::Path;
use std::time::Duration;

use berth_testutil::{output_within, require_root, COMMAND_TIMEOUT};
use common::checkpoint::{counts, have_criu, host_get, wait_for_count, COUNTER};
use common::engine::{name, Engine};
use common::lifecycle::wait_for;

#[test]
fn a_counter_survives_checkpoint_and_restore_in_place() {
    require_root!();
    if !have_criu() {
        return;
    }
    let e = Engine::new("berth");
    let n = name("ckcount");
    // `--restart always`: the checkpoint's exit must not restart it.
    e.ok(&[
        "run",
        "-d",
        "--restart",
        "always",
        "--name",
        &n,
        "bb:1",
        "sh",
        "-c",
        COUNTER,
    ]);
    let before = wait_for_count(&e, &n, 5);
    let pid = before[0].0;

    assert_eq!(e.ok(&["container", "checkpoint", &n]), format!("{n}\n"));
    let v = e.inspect(&n);
    assert_eq!(v["State"]["Status"], "exited", "{v}");
    assert_eq!(v["State"]["Checkpointed"], true, "{v}");
    assert_ne!(v["State"]["CheckpointedAt"], "0001-01-01T00:00:00Z", "{v}");
    assert_eq!(v["State"]["Restored"], false, "{v}");
    let at_checkpoint = counts(&e, &n);
    let last = *at_checkpoint.last().unwrap();
    // Not restarted by its policy, not counting.
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(e.inspect(&n)["State"]["Status"], "exited");
    assert_eq!(counts(&e, &n), at_checkpoint);

    assert_eq!(e.ok(&["container", "restore", &n]), format!("{n}\n"));
    let v = e.inspect(&n);
    assert_eq!(v["State"]["Status"], "running", "{v}");
    assert_eq!(v["State"]["Restored"], true, "{v}");
    assert_eq!(v["State"]["Checkpointed"], false, "{v}");
    assert_ne!(v["State"]["RestoredAt"], "0001-01-01T00:00:00Z", "{v}");
    assert!(e.ok(&["ps", "--filter", &format!("name={n}")]).contains(&n));
    // The same log file goes on: the count continues from where it was,
    // in the same process (same pid in the container's namespace).
    let after = wait_for_count(&e, &n, last.1 + 5);
    let resumed = &after[at_checkpoint.len()..];
    assert_eq!(resumed[0].1, last.1 + 1, "{after:?}");
    assert!(after.iter().all(|(p, _)| *p == pid), "{after:?}");
    // The monitor owns it as a started container: exec works, and a
    // stop ends it for good with the exit recorded.
    assert_eq!(e.ok(&["exec", &n, "echo", "hi"]), "hi\n");
    e.ok(&["stop", "-t", "1", &n]);
    let v = e.inspect(&n);
    assert_eq!(v["State"]["Status"], "exited", "{v}");
    assert_eq!(e.ok(&["wait", &n]), format!("{}\n", v["State"]["ExitCode"]));
    // The restored checkpoint is used up (Podman's default).
    let out = e.run(&["container", "restore", &n]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a complete checkpoint for this container cannot be found"),
        "{err}"
    );
}

#[test]
fn leave_running_keeps_it_running_and_restore_onto_it_is_refused() {
    require_root!();
    if !have_criu() {
        return;
    }
    let e = Engine::new("berth");
    let n = name("ckleave");
    e.ok(&["run", "-d", "--name", &n, "bb:1", "sh", "-c", COUNTER]);
    wait_for_count(&e, &n, 3);
    assert_eq!(
        e.ok(&["container", "checkpoint", "--leave-running", &n]),
        format!("{n}\n")
    );
    let v = e.inspect(&n);
    assert_eq!(v["State"]["Status"], "running", "{v}");
    assert_eq!(v["State"]["Checkpointed"], false, "{v}");
    assert_ne!(v["State"]["CheckpointedAt"], "0001-01-01T00:00:00Z", "{v}");
    let now = counts(&e, &n).last().unwrap().1;
    wait_for_count(&e, &n, now + 3);

    let out = e.run(&["container", "restore", &n]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("is running or paused, cannot restore: container state improper"),
        "{err}"
    );
    assert_eq!(e.inspect(&n)["State"]["Status"], "running");

    // Stopped, the --leave-running checkpoint restores (Podman's way).
    e.ok(&["stop", "-t", "1", &n]);
    e.ok(&["container", "restore", &n]);
    assert_eq!(e.inspect(&n)["State"]["Restored"], true);
    let c = counts(&e, &n);
    wait_for_count(&e, &n, c.last().unwrap().1 + 3);
}

#[test]
fn a_missing_criu_is_one_line_and_the_container_runs_on() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("cknocriu");
    e.ok(&["run", "-d", "--name", &n, "bb:1", "sleep", "1000"]);
    let mut c = e.command(&["container", "checkpoint", &n]);
    // No criu on this PATH (Debian's, which cannot run on this kernel,
    // would be in /usr/sbin).
    c.env("PATH", "/usr/bin:/bin");
    assert!(!Path::new("/usr/bin/criu").exists() && !Path::new("/bin/criu").exists());
    let out = output_within(&mut c, COMMAND_TIMEOUT);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("CRIU"), "{err}");
    let v = e.inspect(&n);
    assert_eq!(v["State"]["Status"], "running", "{v}");
    assert_eq!(v["State"]["Checkpointed"], false, "{v}");
    // Its restart policy and a later stop behave as before.
    e.ok(&["stop", "-t", "1", &n]);
}

#[test]
fn refusals_name_what_is_not_done() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("ckrefuse");
    e.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &n,
        "bb:1",
        "sleep",
        "1000",
    ]);
    // A container that was never checkpointed.
    e.ok(&["stop", "-t", "1", &n]);
    let out = e.run(&["container", "restore", &n]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a complete checkpoint for this container cannot be found"),
        "{err}"
    );
    // Not running: Podman's words.
    let out = e.run(&["container", "checkpoint", &n]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"exited\" is not running, cannot checkpoint"),
        "{err}"
    );
}

#[test]
fn a_restored_none_container_has_its_loopback_up() {
    require_root!();
    if !have_criu() {
        return;
    }
    let e = Engine::new("berth");
    let n = name("cknone");
    // A server bound to 127.0.0.1 (the image's /etc/hello), which CRIU can
    // restore only once `lo` is up again.
    e.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &n,
        "bb:1",
        "httpd",
        "-f",
        "-p",
        "127.0.0.1:7000",
        "-h",
        "/etc",
    ]);
    // Listening (127.0.0.1:7000 is 0100007F:1B58, state 0A) before the
    // dump.
    wait_for("httpd to listen", || {
        let tcp = e.ok(&["exec", &n, "cat", "/proc/net/tcp"]);
        tcp.lines()
            .any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() > 3 && f[1] == "0100007F:1B58" && f[3] == "0A"
            })
            .then_some(())
    });
    e.ok(&["container", "checkpoint", &n]);
    e.ok(&["container", "restore", &n]);
    // CRIU made the namespace empty; the restore hook brought `lo` up.
    let links = e.ok(&["exec", &n, "ip", "-o", "link"]);
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(
        links.starts_with("1: lo: <LOOPBACK,UP,LOWER_UP>"),
        "{links}"
    );
    let addrs = e.ok(&["exec", &n, "ip", "-o", "addr"]);
    assert!(addrs.contains("inet 127.0.0.1/8"), "{addrs}");
    // The restored listener answers on localhost.
    assert_eq!(
        e.ok(&[
            "exec",
            &n,
            "wget",
            "-q",
            "-O",
            "-",
            "http://127.0.0.1:7000/hello"
        ]),
        "hello from berth\n"
    );
}

#[test]
fn a_loopback_connection_on_network_none_survives_with_tcp_established() {
    require_root!();
    if !have_criu() {
        return;
    }
    let e = Engine::new("berth");
    let n = name("cknonetcp");
    // A client streams a count to a server on 127.0.0.1, both inside.
    let script = "nc -l -p 9000 -e sh -c 'while read l; do echo got $l; done' & sleep 0.3; \
        i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done | nc 127.0.0.1 9000";
    e.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &n,
        "bb:1",
        "sh",
        "-c",
        script,
    ]);
    let received = |at_least: u64| {
        wait_for(&format!("the server to receive {at_least}"), || {
            let got: Vec<u64> = e
                .ok(&["logs", &n])
                .lines()
                .filter_map(|l| l.strip_prefix("got ")?.parse().ok())
                .collect();
            (got.last().is_some_and(|l| *l >= at_least)).then_some(got)
        })
    };
    let before = received(3);
    e.ok(&["container", "checkpoint", "--tcp-established", &n]);
    // `lo` is up again (from the restore hook) before CRIU reconnects.
    e.ok(&["container", "restore", &n]);
    let last = *before.last().unwrap();
    let after = received(last + 10);
    assert_eq!(after[0], 1, "{after:?}");
    assert!(
        after.windows(2).all(|w| w[1] == w[0] + 1),
        "a number lost or repeated: {after:?}"
    );
}

#[test]
fn established_connections_are_dumped_and_come_back_closed_with_tcp_close() {
    require_root!();
    if !have_criu() {
        return;
    }
    let e = Engine::new("berth");
    let n = name("cktcpclose");
    // A connection inside the container (on the bridge) and a counter.
    let script = format!(
        "sleep 1000 | nc -l -p 7000 >/dev/null & sleep 0.3; sleep 1000 | nc 127.0.0.1 7000 >/dev/null & {COUNTER}"
    );
    e.ok(&["run", "-d", "--name", &n, "bb:1", "sh", "-c", &script]);
    let before = wait_for_count(&e, &n, 5);
    // Without --tcp-established CRIU refuses: one line, it runs on.
    let out = e.run(&["container", "checkpoint", &n]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("Connected TCP socket"), "{err}");
    assert_eq!(e.inspect(&n)["State"]["Status"], "running");
    // Dumped with them on the bridge, restored closed.
    e.ok(&["container", "checkpoint", "--tcp-established", &n]);
    // Closed: the count goes on, the connection's ends see it closed.
    let last = counts(&e, &n).last().unwrap().1;
    e.ok(&["container", "restore", "--tcp-close", &n]);
    let after = wait_for_count(&e, &n, last + 3);
    assert!(after.iter().all(|(p, _)| *p == before[0].0), "{after:?}");
    let ps = e.ok(&["exec", &n, "ps", "-o", "args"]);
    assert!(!ps.lines().any(|l| l.starts_with("nc ")), "{ps}");
}

#[test]
fn docker_checkpoint_create_ls_rm_and_start_from_one() {
    require_root!();
    if !have_criu() {
        return;
    }
    let e = Engine::new("berth");
    let n = name("ckdocker");
    e.ok(&["run", "-d", "--name", &n, "bb:1", "sh", "-c", COUNTER]);
    wait_for_count(&e, &n, 3);
    assert_eq!(e.ok(&["checkpoint", "ls", &n]), "CHECKPOINT NAME\n");
    // --leave-running first, then one that stops it.
    assert_eq!(
        e.ok(&["checkpoint", "create", "--leave-running", &n, "cp1"]),
        "cp1\n"
    );
    assert_eq!(e.inspect(&n)["State"]["Status"], "running");
    let out = e.run(&["checkpoint", "create", "--leave-running", &n, "cp1"]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "checkpoint with name cp1 already exists for container {n}"
        )),
        "{err}"
    );
    let out = e.run(&["checkpoint", "create", &n, "../x"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Invalid checkpoint ID (../x)"),
        "{out:?}"
    );
    assert_eq!(e.ok(&["checkpoint", "create", &n, "cp2"]), "cp2\n");
    let v = e.inspect(&n);
    assert_eq!(v["State"]["Status"], "exited", "{v}");
    let last = counts(&e, &n).last().unwrap().1;
    assert_eq!(
        e.ok(&["checkpoint", "ls", &n]),
        "CHECKPOINT NAME\ncp1\ncp2\n"
    );
    let out = e.run(&["checkpoint", "create", &n, "cp3"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("Container {n} not running")),
        "{out:?}"
    );

    // start --checkpoint restores it, prints nothing, keeps the checkpoint.
    assert_eq!(e.ok(&["start", "--checkpoint", "cp2", &n]), "");
    assert_eq!(e.inspect(&n)["State"]["Restored"], true);
    let after = wait_for_count(&e, &n, last + 3);
    assert!(
        after.windows(2).all(|w| w[1].1 == w[0].1 + 1),
        "the count skipped or restarted: {after:?}"
    );
    assert_eq!(
        e.ok(&["checkpoint", "ls", &n]),
        "CHECKPOINT NAME\ncp1\ncp2\n"
    );
    // From the --leave-running one, after a stop: back to its count.
    e.ok(&["stop", "-t", "1", &n]);
    let out = e.run(&["start", "--checkpoint", "nope", &n]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("checkpoint nope does not exist for container {n}")),
        "{out:?}"
    );
    e.ok(&["start", "--checkpoint", "cp1", &n]);
    assert_eq!(e.inspect(&n)["State"]["Status"], "running");
    e.ok(&["stop", "-t", "1", &n]);

    e.ok(&["checkpoint", "rm", &n, "cp1"]);
    assert_eq!(e.ok(&["checkpoint", "ls", &n]), "CHECKPOINT NAME\ncp2\n");
    let out = e.run(&["checkpoint", "rm", &n, "cp1"]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("checkpoint cp1 does not exist for container {n}")),
        "{out:?}"
    );
}

#[test]
fn start_attached_from_a_checkpoint_streams_the_count_to_its_end() {
    require_root!();
    if !have_criu() {
        return;
    }
    let e = Engine::new("berth");
    let n = name("ckattach");
    // Counts to 3, waits for /go (checkpointed there, so the dump cannot
    // race the end), counts on to 30 and exits 3.
    let counter = "sh -c 'i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo $$ $i; \
        if [ $i -eq 3 ]; then while [ ! -e /go ]; do sleep 0.1; done; fi; sleep 0.05; done; \
        exit 3' & wait $!";
    e.ok(&["run", "-d", "--name", &n, "bb:1", "sh", "-c", counter]);
    wait_for_count(&e, &n, 3);
    assert_eq!(e.ok(&["checkpoint", "create", &n, "cp1"]), "cp1\n");
    let out = e.run(&["start", "-a", "--checkpoint", "nope", &n]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("checkpoint nope does not exist for container {n}")),
        "{err}"
    );
    // Attached before the restore: the session gets the restored output
    // until the exit, whose code is the container's.
    let mut start = e.command(&["start", "-a", "--checkpoint", "cp1", &n]);
    let attached = std::thread::spawn(move || output_within(&mut start, COMMAND_TIMEOUT));
    wait_for("the restore", || {
        let v = e.inspect(&n);
        (v["State"]["Restored"] == true && v["State"]["Status"] == "running").then_some(())
    });
    e.ok(&["exec", &n, "touch", "/go"]);
    let out = attached.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let streamed: Vec<(u32, u64)> = stdout
        .lines()
        .filter_map(|l| {
            let (p, c) = l.split_once(' ')?;
            Some((p.parse().ok()?, c.parse().ok()?))
        })
        .collect();
    let before = counts(&e, &n)[0].0;
    let expected: Vec<(u32, u64)> = (4..=30).map(|c| (before, c)).collect();
    assert_eq!(streamed, expected, "{stdout}");
    wait_for("the exit recorded", || {
        let v = e.inspect(&n);
        (v["State"]["Status"] == "exited").then_some(v)
    });
    assert_eq!(e.inspect(&n)["State"]["ExitCode"], 3);
}

#[test]
fn a_restore_from_a_corrupted_checkpoint_is_one_line_and_leaves_it_exited() {
    require_root!();
    if !have_criu() {
        return;
    }
    let e = Engine::new("berth");
    let n = name("ckcorrupt");
    e.ok(&[
        "run", "-d", "--name", &n, "-p", "8080", "bb:1", "sh", "-c", COUNTER,
    ]);
    wait_for_count(&e, &n, 2);
    e.ok(&["container", "checkpoint", &n]);
    let id = common::lifecycle::id_of(&e, &n);
    let images = e.berth.root.join("containers").join(&id).join("checkpoint");
    for entry in std::fs::read_dir(&images).unwrap().flatten() {
        let f = entry.file_name().to_string_lossy().into_owned();
        if f.starts_with("pstree") || f.starts_with("core-") {
            std::fs::write(entry.path(), b"\x01\x02garbage\xff\xff\xff\xff").unwrap();
        }
    }
    let out = e.run(&["container", "restore", &n]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("restore failed: CRIU: "), "{err}");
    let v = e.inspect(&n);
    assert_eq!(v["State"]["Status"], "exited", "{v}");
    assert_eq!(v["State"]["Checkpointed"], true, "{v}");
    assert!(
        v["State"]["Error"].as_str().unwrap().contains("CRIU"),
        "{v}"
    );
    // Nothing left: no runtime state, mount, address or port.
    assert!(!e.berth.root.join("runtime").join(&id).exists());
    assert!(
        e.mounts_under_root().is_empty(),
        "{:?}",
        e.mounts_under_root()
    );
    assert_eq!(e.ok(&["port", &n]), "");
    // It starts afresh (Docker's start), counting from 1.
    e.ok(&["start", &n]);
    let c = wait_for_count(&e, &n, 1);
    assert!(c.iter().any(|(_, count)| *count == 1));
}

#[test]
fn a_restored_container_keeps_its_restart_policy_and_attach() {
    require_root!();
    if !have_criu() {
        return;
    }
    let e = Engine::new("berth");
    let n = name("ckpolicy");
    e.ok(&[
        "run",
        "-d",
        "--restart",
        "on-failure",
        "--name",
        &n,
        "bb:1",
        "sh",
        "-c",
        COUNTER,
    ]);
    let before = wait_for_count(&e, &n, 2);
    e.ok(&["container", "checkpoint", &n]);
    e.ok(&["container", "restore", &n]);
    // attach: the restored output reaches a client.
    let mut attach = e.command(&["attach", "--no-stdin", &n]);
    attach.stdout(std::process::Stdio::piped());
    let mut child = attach.spawn().unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let (pid, count) = line.trim().split_once(' ').unwrap();
    assert_eq!(pid.parse::<u32>().unwrap(), before[0].0, "{line}");
    assert!(count.parse::<u64>().unwrap() > before.last().unwrap().1);
    // The counter ends by a signal: the init's `wait` returns 143, a
    // failure its policy restarts (afresh, not from the checkpoint).
    // (The exec may die with the container it ends: 137.)
    let out = e.run(&["exec", &n, "kill", &before[0].0.to_string()]);
    assert!(matches!(out.status.code(), Some(0 | 137)), "{out:?}");
    wait_for("a restart", || {
        let v = e.inspect(&n);
        (v["RestartCount"] == 1 && v["State"]["Status"] == "running").then_some(())
    });
    assert_eq!(e.inspect(&n)["State"]["Restored"], false);
    let log = counts(&e, &n);
    let restarted = log.iter().rposition(|(_, c)| *c == 1).unwrap();
    assert!(restarted > 0, "{log:?}");
}

#[test]
fn an_exported_checkpoint_restores_under_a_new_name_in_another_root() {
    require_root!();
    if !have_criu() {
        return;
    }
    // Two roots, each with a network namespace of its own: two hosts.
    let a = Engine::new("berth");
    let b = Engine::new("berth");
    let n = name("ckexport");
    let script = format!("echo moved > /data.txt; rm /etc/hello; {COUNTER}");
    a.ok(&["run", "-d", "--name", &n, "bb:1", "sh", "-c", &script]);
    let before = wait_for_count(&a, &n, 3);
    let file = a.berth.dir.join("export.tar.gz");
    let file = file.to_str().unwrap();
    assert_eq!(
        a.ok(&["container", "checkpoint", "--export", file, &n]),
        format!("{n}\n")
    );
    assert_eq!(a.inspect(&n)["State"]["Checkpointed"], true);
    let last = counts(&a, &n).last().unwrap().1;
    // The same image (same id) on the other side.
    let image = a.berth.dir.join("bb.tar");
    let image = image.to_str().unwrap();
    a.ok(&["save", "-o", image, "bb:1"]);
    b.ok(&["load", "-i", image]);

    let m = name("ckimported");
    let id = b.ok(&["container", "restore", "--import", file, "--name", &m]);
    let v = b.inspect(&m);
    assert_eq!(v["Id"].as_str().unwrap(), id.trim(), "{v}");
    assert_eq!(v["State"]["Status"], "running", "{v}");
    assert_eq!(v["State"]["Restored"], true, "{v}");
    // The count goes on in the same process, in the new log.
    let after = wait_for_count(&b, &m, last + 3);
    assert_eq!(after[0].1, last + 1, "{after:?}");
    assert!(after.iter().all(|(p, _)| *p == before[0].0), "{after:?}");
    // The writable layer came along: a new file and a deletion.
    assert_eq!(b.ok(&["exec", &m, "cat", "/data.txt"]), "moved\n");
    let out = b.run(&["exec", &m, "cat", "/etc/hello"]);
    assert!(!out.status.success(), "{out:?}");

    // A name in use: one line, nothing left behind.
    let out = b.run(&["container", "restore", "--import", file, "--name", &m]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("is already in use"), "{err}");
    assert_eq!(b.ok(&["ps", "-aq"]).lines().count(), 1);
    let leftovers: Vec<_> = std::fs::read_dir(b.berth.root.join("containers"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|f| f.to_string_lossy().starts_with(".import-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A root without the image: named, nothing left.
    let c = Engine::new("berth");
    let out = c.run(&["container", "restore", "--import", file]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("is not in this berth root"), "{err}");
    assert_eq!(c.ok(&["ps", "-aq"]), "");
}

#[test]
fn a_restore_asks_for_the_address_the_checkpoint_had() {
    require_root!();
    if !have_criu() {
        return;
    }
    let e = Engine::new("berth");
    let first = name("ckfirst");
    let n = name("ckaddr");
    e.ok(&["run", "-d", "--name", &first, "bb:1", "sleep", "1000"]);
    e.ok(&["run", "-d", "--name", &n, "bb:1", "sh", "-c", COUNTER]);
    wait_for_count(&e, &n, 2);
    let ip = |c: &str| {
        e.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", c])
            .trim()
            .to_owned()
    };
    let address = ip(&n);
    assert_ne!(address, "");
    e.ok(&["container", "checkpoint", &n]);
    // The lower address is free now: a plain start would take it.
    e.ok(&["rm", "-f", &first]);
    e.ok(&["container", "restore", &n]);
    assert_eq!(ip(&n), address);
    // The restored namespace has it, with its default route.
    let inside = e.ok(&["exec", &n, "ip", "-4", "addr", "show", "eth0"]);
    assert!(inside.contains(&format!("inet {address}/")), "{inside}");
    let routes = e.ok(&["exec", &n, "ip", "route"]);
    assert!(routes.contains("default via"), "{routes}");

    // Taken meanwhile (two new containers take the two free addresses):
    // the restore fails in one line, the container stays exited with its
    // checkpoint.
    e.ok(&["container", "checkpoint", &n]);
    let (t1, t2) = (name("ckthief"), name("ckthief"));
    e.ok(&["run", "-d", "--name", &t1, "bb:1", "sleep", "1000"]);
    e.ok(&["run", "-d", "--name", &t2, "bb:1", "sleep", "1000"]);
    assert!([ip(&t1), ip(&t2)].contains(&address));
    let out = e.run(&["container", "restore", &n]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    let v = e.inspect(&n);
    assert_eq!(v["State"]["Status"], "exited", "{v}");
    assert_eq!(v["State"]["Checkpointed"], true, "{v}");
    // Freed again, it restores.
    e.ok(&["rm", "-f", &t1, &t2]);
    e.ok(&["container", "restore", &n]);
    assert_eq!(ip(&n), address);
}

#[test]
fn an_established_connection_over_the_bridge_survives_with_tcp_established() {
    require_root!();
    if !have_criu() {
        return;
    }
    established_connection_survives(&Engine::new("berth"), None);
}

#[test]
fn an_established_connection_on_a_user_network_survives_with_tcp_established() {
    require_root!();
    if !have_criu() {
        return;
    }
    let e = Engine::new("berth");
    let net = name("cktcpnet");
    e.ok(&["network", "create", &net]);
    established_connection_survives(&e, Some(&net));
}

/// A client streams a count to a server on `network` (the default bridge
/// if None); the server is checkpointed with its connection and restored:
/// the same connection goes on.
fn established_connection_survives(e: &Engine, network: Option<&str>) {
    let (srv, cli) = (name("cksrv"), name("ckcli"));
    let mut run = vec!["run", "-d"];
    if let Some(net) = network {
        run.extend(["--network", net]);
    }
    // The server logs each line it receives on its stderr (`>&2` leaves
    // its fds 1 and 2 on the stderr pipe: the restore must still give
    // stdout and stderr back in their places). The client sends a count.
    let mut server = run.clone();
    server.extend([
        "--name",
        &srv,
        "bb:1",
        "nc",
        "-l",
        "-p",
        "9000",
        "-e",
        "sh",
        "-c",
        "while read l; do echo got $l; done >&2",
    ]);
    e.ok(&server);
    let ip = e.inspect(&srv)["NetworkSettings"]["Networks"]
        .as_object()
        .and_then(|n| n.values().next())
        .and_then(|n| n["IPAddress"].as_str())
        .unwrap()
        .to_owned();
    let send =
        format!("sleep 0.3; i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done | nc {ip} 9000");
    let mut client = run.clone();
    client.extend(["--name", &cli, "bb:1", "sh", "-c", &send]);
    e.ok(&client);
    // Everything the server logged, from its stderr only.
    let received = |at_least: u64| {
        wait_for(&format!("the server to receive {at_least}"), || {
            let out = e.run(&["logs", &srv]);
            assert!(out.stdout.is_empty(), "{out:?}");
            let got: Vec<u64> = String::from_utf8_lossy(&out.stderr)
                .lines()
                .filter_map(|l| l.strip_prefix("got ")?.parse().ok())
                .collect();
            (got.last().is_some_and(|l| *l >= at_least)).then_some(got)
        })
    };
    let before = received(3);
    e.ok(&["container", "checkpoint", "--tcp-established", &srv]);
    assert_eq!(e.inspect(&srv)["State"]["Status"], "exited");
    e.ok(&["container", "restore", &srv]);
    assert_eq!(e.inspect(&srv)["State"]["Restored"], true);
    // The same connection goes on: every number once, in order, past the
    // checkpoint (what the client sent meanwhile is retransmitted).
    let last = *before.last().unwrap();
    let after = received(last + 10);
    assert!(
        after.iter().enumerate().all(|(i, n)| *n == i as u64 + 1),
        "{after:?}"
    );
    assert_eq!(e.inspect(&cli)["State"]["Status"], "running");
}

/// Saves `bb:1` from `a` and loads it into `b`: the same image id on the
/// importing side (each test root makes its own).
fn same_image(a: &Engine, b: &Engine) {
    let image = a.berth.dir.join("bb.tar");
    let image = image.to_str().unwrap();
    if !Path::new(image).exists() {
        a.ok(&["save", "-o", image, "bb:1"]);
    }
    b.ok(&["load", "-i", image]);
}

/// The mount of `v` (inspect) at `destination`.
fn mount_at(v: &serde_json::Value, destination: &str) -> serde_json::Value {
    v["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Destination"] == destination)
        .unwrap_or_else(|| panic!("no mount at {destination}: {v}"))
        .clone()
}

/// One line on stderr, exit 125, containing `what`.
fn fails_with(out: &std::process::Output, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(what), "{err}");
}

#[test]
fn an_export_carries_named_and_anonymous_volumes_with_their_files() {
    require_root!();
    if !have_criu() {
        return;
    }
    let a = Engine::new("berth");
    let b = Engine::new("berth");
    let n = name("ckvols");
    let vol = name("ckvolnamed");
    a.ok(&["volume", "create", "--label", "kept=yes", &vol]);
    let script = format!(
        "echo one > /named/a; mkdir /named/d; echo two > /named/d/b; ln -s d/b /named/l; \
         echo three > /anon/c; {COUNTER}"
    );
    let named = format!("{vol}:/named");
    a.ok(&[
        "run", "-d", "--name", &n, "-v", &named, "-v", "/anon", "bb:1", "sh", "-c", &script,
    ]);
    wait_for_count(&a, &n, 3);
    let anon = mount_at(&a.inspect(&n), "/anon")["Name"]
        .as_str()
        .unwrap()
        .to_owned();
    let file = a.berth.dir.join("export.tar.gz");
    let file = file.to_str().unwrap();
    a.ok(&["container", "checkpoint", "--export", file, &n]);
    let last = counts(&a, &n).last().unwrap().1;
    same_image(&a, &b);

    let m = name("ckvolsin");
    b.ok(&["container", "restore", "--import", file, "--name", &m]);
    assert_eq!(b.inspect(&m)["State"]["Status"], "running");
    wait_for_count(&b, &m, last + 2);
    // The named volume: made here with its label and its files.
    assert_eq!(
        b.ok(&["exec", &m, "cat", "/named/a", "/named/d/b", "/named/l"]),
        "one\ntwo\ntwo\n"
    );
    assert_eq!(b.ok(&["exec", &m, "readlink", "/named/l"]), "d/b\n");
    let v: serde_json::Value = serde_json::from_str(&b.ok(&["volume", "inspect", &vol])).unwrap();
    assert_eq!(v[0]["Labels"]["kept"], "yes", "{v}");
    let mnt = mount_at(&b.inspect(&m), "/named");
    assert_eq!(mnt["Name"], vol.as_str());
    assert!(
        mnt["Source"]
            .as_str()
            .unwrap()
            .starts_with(b.berth.root.to_str().unwrap()),
        "{mnt}"
    );
    // The anonymous one: the new container's own, under a new name.
    assert_eq!(b.ok(&["exec", &m, "cat", "/anon/c"]), "three\n");
    let anon2 = mount_at(&b.inspect(&m), "/anon")["Name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(anon2, anon);
    let v: serde_json::Value = serde_json::from_str(&b.ok(&["volume", "inspect", &anon2])).unwrap();
    assert!(
        v[0]["Labels"]
            .as_object()
            .unwrap()
            .contains_key("com.docker.volume.anonymous"),
        "{v}"
    );

    // Again: the named volume exists now (Podman's refusal), nothing left.
    let volumes = b.ok(&["volume", "ls", "-q"]);
    let out = b.run(&[
        "container",
        "restore",
        "--import",
        file,
        "--name",
        &name("ckvolsagain"),
    ]);
    fails_with(
        &out,
        &format!("volume with name {vol} already exists. Use --ignore-volumes"),
    );
    assert_eq!(b.ok(&["ps", "-aq"]).lines().count(), 1);
    assert_eq!(b.ok(&["volume", "ls", "-q"]), volumes);

    // --ignore-volumes: the existing volume is used as it is, the
    // anonymous one is new and empty. (The import asks for the exported
    // address, which the first holds while it runs.)
    b.ok(&["exec", &m, "sh", "-c", "echo changed > /named/a"]);
    b.ok(&["stop", "-t", "1", &m]);
    let k = name("ckvolsign");
    b.ok(&[
        "container",
        "restore",
        "--import",
        file,
        "--ignore-volumes",
        "--name",
        &k,
    ]);
    assert_eq!(b.ok(&["exec", &k, "cat", "/named/a"]), "changed\n");
    assert_eq!(b.ok(&["exec", &k, "ls", "-A", "/anon"]), "");
    assert_ne!(mount_at(&b.inspect(&k), "/anon")["Name"], anon2.as_str());
}

#[test]
fn an_import_with_a_missing_bind_source_or_a_hostile_volume_leaves_nothing() {
    require_root!();
    if !have_criu() {
        return;
    }
    let a = Engine::new("berth");
    let b = Engine::new("berth");
    let n = name("ckhostile");
    let vol = name("ckhostilevol");
    let bind = a.berth.dir.join("bindsrc");
    std::fs::create_dir_all(&bind).unwrap();
    std::fs::write(bind.join("f"), "bound\n").unwrap();
    let bind_flag = format!("{}:/bind", bind.display());
    let vol_flag = format!("{vol}:/data");

    // A volume whose files are elsewhere: refused before the checkpoint.
    let opt = name("ckoptvol");
    a.ok(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        &opt,
    ]);
    let t = name("cktmpfsvol");
    let opt_flag = format!("{opt}:/t");
    a.ok(&[
        "run", "-d", "--name", &t, "-v", &opt_flag, "bb:1", "sleep", "1000",
    ]);
    let file = a.berth.dir.join("opt.tar.gz");
    let out = a.run(&[
        "container",
        "checkpoint",
        "--export",
        file.to_str().unwrap(),
        &t,
    ]);
    fails_with(&out, &format!("--export of volume {opt} is not supported"));
    assert_eq!(a.inspect(&t)["State"]["Status"], "running");
    assert!(!file.exists());
    a.ok(&["rm", "-f", &t]);

    let script = format!("echo kept > /data/x; {COUNTER}");
    a.ok(&[
        "run", "-d", "--name", &n, "-v", &vol_flag, "-v", &bind_flag, "bb:1", "sh", "-c", &script,
    ]);
    wait_for_count(&a, &n, 3);
    let file = a.berth.dir.join("export.tar.gz");
    let file = file.to_str().unwrap();
    a.ok(&["container", "checkpoint", "--export", file, &n]);
    same_image(&a, &b);

    // The volume's tar rewritten with an entry outside the volume.
    let work = a.berth.dir.join("hostile");
    std::fs::create_dir_all(work.join("x/y")).unwrap();
    let script = format!(
        "set -e; cd {w}; mkdir ex; tar -xzf {file} -C ex; echo escaped > x/escape.txt; \
         cd x/y; tar -cPf ../../ex/volumes/{vol}.tar ../escape.txt; cd ../../ex; \
         tar -czf ../hostile.tar.gz *",
        w = work.display()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let hostile = work.join("hostile.tar.gz");
    let out = b.run(&[
        "container",
        "restore",
        "--import",
        hostile.to_str().unwrap(),
    ]);
    fails_with(&out, &format!("importing volume {vol}"));
    assert_eq!(b.ok(&["ps", "-aq"]), "");
    assert_eq!(b.ok(&["volume", "ls", "-q"]), "");
    let volumes = b.berth.root.join("volumes");
    let escaped: Vec<_> = walk(&volumes)
        .into_iter()
        .filter(|p| p.ends_with("escape.txt"))
        .collect();
    assert!(escaped.is_empty(), "{escaped:?}");

    // A bind source missing on this side: one line, before anything.
    std::fs::remove_dir_all(&bind).unwrap();
    let out = b.run(&["container", "restore", "--import", file]);
    fails_with(
        &out,
        &format!(
            "bind mount source path does not exist on this host: {}",
            bind.display()
        ),
    );
    assert_eq!(b.ok(&["ps", "-aq"]), "");
    assert_eq!(b.ok(&["volume", "ls", "-q"]), "");
    // The same line for a restore in place; the checkpoint stays.
    let out = a.run(&["container", "restore", &n]);
    fails_with(
        &out,
        &format!(
            "bind mount source path does not exist on this host: {}",
            bind.display()
        ),
    );
    let v = a.inspect(&n);
    assert_eq!(v["State"]["Status"], "exited", "{v}");
    assert_eq!(v["State"]["Checkpointed"], true, "{v}");

    // With the source back it imports, the bind's files being the host's.
    std::fs::create_dir_all(&bind).unwrap();
    std::fs::write(bind.join("f"), "here\n").unwrap();
    let m = name("ckhostilein");
    b.ok(&["container", "restore", "--import", file, "--name", &m]);
    assert_eq!(
        b.ok(&["exec", &m, "cat", "/data/x", "/bind/f"]),
        "kept\nhere\n"
    );

    // --ignore-volumes at export: the volume travels empty.
    a.ok(&["container", "restore", &n]);
    let file2 = a.berth.dir.join("novols.tar.gz");
    let file2 = file2.to_str().unwrap();
    a.ok(&[
        "container",
        "checkpoint",
        "--export",
        file2,
        "--ignore-volumes",
        &n,
    ]);
    let c = Engine::new("berth");
    same_image(&a, &c);
    let k = name("ckhostileign");
    c.ok(&["container", "restore", "--import", file2, "--name", &k]);
    assert_eq!(c.ok(&["exec", &k, "ls", "-A", "/data"]), "");
    assert_eq!(c.ok(&["volume", "ls", "-q"]).trim(), vol);
}

/// Every path under `dir` (none if it is missing).
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn publish_at_import_replaces_the_exported_ports() {
    require_root!();
    if !have_criu() {
        return;
    }
    let a = Engine::new("berth");
    let b = Engine::new("berth");
    let n = name("ckpublish");
    a.ok(&[
        "run", "-d", "--name", &n, "-p", "18081:80", "bb:1", "httpd", "-f", "-p", "80", "-h",
        "/etc",
    ]);
    assert_eq!(
        host_get(&a, "http://127.0.0.1:18081/hello"),
        "hello from berth\n"
    );
    let file = a.berth.dir.join("export.tar.gz");
    let file = file.to_str().unwrap();
    a.ok(&["container", "checkpoint", "--export", file, &n]);
    same_image(&a, &b);

    // Without -p: the exported mapping.
    let m = name("ckpubsame");
    b.ok(&["container", "restore", "--import", file, "--name", &m]);
    assert_eq!(
        host_get(&b, "http://127.0.0.1:18081/hello"),
        "hello from berth\n"
    );
    let ports = b.inspect(&m)["NetworkSettings"]["Ports"]["80/tcp"].to_string();
    assert!(ports.contains("\"18081\""), "{ports}");

    // With -p: those replace it (run's syntax, a range too). The first
    // goes (the import asks for the exported address).
    b.ok(&["stop", "-t", "1", &m]);
    let k = name("ckpubnew");
    b.ok(&[
        "container",
        "restore",
        "--import",
        file,
        "--name",
        &k,
        "-p",
        "18090-18091:80",
    ]);
    let ports = b.inspect(&k)["NetworkSettings"]["Ports"]["80/tcp"].to_string();
    assert!(!ports.contains("\"18081\""), "{ports}");
    let port = b.inspect(&k)["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(port == "18090" || port == "18091", "{port}");
    assert_eq!(
        host_get(&b, &format!("http://127.0.0.1:{port}/hello")),
        "hello from berth\n"
    );

    // run -p's own error, nothing left; -p without --import refused.
    let out = b.run(&[
        "container",
        "restore",
        "--import",
        file,
        "--name",
        &name("ckpubbad"),
        "-p",
        "80:99999",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(b.ok(&["ps", "-aq"]).lines().count(), 2);
    let out = b.run(&["container", "restore", "-p", "80:80", &m]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--publish can only be used with --import")
    );
}
