//! `berth migrate C DEST` between two berth roots on this machine, each
//! with a network namespace of its own standing for a host, as root with
//! a real CRIU. DEST is the other engine's berth as a command line, as
//! `ssh host berth` would be.

mod common;

use berth_testutil::require_root;
use common::checkpoint::{counts, have_criu, host_get, wait_for_count, COUNTER};
use common::engine::{name, Engine};

/// A web server and a counter: `GET /` answers `hello <name>`.
fn service(n: &str) -> String {
    format!(
        "mkdir -p /www && echo hello {n} > /www/index.html && httpd -f -p 8080 -h /www & {COUNTER}"
    )
}

fn get(e: &Engine, ip: &str) -> String {
    let out = e.host_sh(&format!("wget -q -T 5 -O - http://{ip}:8080/"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ip(e: &Engine, n: &str) -> String {
    e.inspect(n)["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn one_line_error(out: &std::process::Output) -> String {
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

#[test]
fn a_running_service_migrates_with_its_processes_address_image_and_volume() {
    require_root!();
    if !have_criu() {
        return;
    }
    let a = Engine::new("berth");
    let b = Engine::new("berth");
    let n = name("migrated");
    let vol = name("migvol");
    let script = format!("echo kept > /data/f; {}", service(&n));
    a.ok(&[
        "run",
        "-d",
        "--name",
        &n,
        "-v",
        &format!("{vol}:/data"),
        "-p",
        "18086:8080",
        "bb:1",
        "sh",
        "-c",
        &script,
    ]);
    let before = wait_for_count(&a, &n, 3);
    let address = ip(&a, &n);
    assert_eq!(get(&a, &address), format!("hello {n}\n"));
    let image = a.inspect(&n)["Image"].clone();
    // b's bb:1 is its own import: another id, so the image is sent.
    assert_ne!(
        b.ok(&["image", "inspect", "--format", "{{.Id}}", "bb:1"])
            .trim(),
        image
    );

    // Published there on another port.
    let id = a.ok(&["migrate", "-p", "18087:8080", &n, &b.command_line()]);
    let id = id.trim();
    let v = b.inspect(&n);
    assert_eq!(v["Id"], id, "{v}");
    assert_eq!(v["State"]["Status"], "running", "{v}");
    assert_eq!(v["State"]["Restored"], true, "{v}");
    assert_eq!(v["Image"], image, "{v}");
    // The same processes go on counting where they stopped.
    let last = counts(&a, &n).last().unwrap().1;
    let after = wait_for_count(&b, &n, last + 3);
    assert_eq!(after[0].1, last + 1, "{after:?}");
    assert!(after.iter().all(|(p, _)| *p == before[0].0), "{after:?}");
    // Its network identity: the same address, answering there.
    assert_eq!(ip(&b, &n), address);
    assert_eq!(get(&b, &address), format!("hello {n}\n"));
    assert_eq!(
        host_get(&b, "http://127.0.0.1:18087/"),
        format!("hello {n}\n")
    );
    // The volume came along with its files.
    assert_eq!(b.ok(&["exec", &n, "cat", "/data/f"]), "kept\n");
    assert_eq!(b.ok(&["volume", "ls", "-q"]).trim(), vol);
    // The source is stopped, its checkpoint gone with it.
    let s = a.inspect(&n);
    assert_eq!(s["State"]["Status"], "exited", "{s}");
    assert_eq!(s["State"]["Checkpointed"], true, "{s}");
    let source_id = s["Id"].as_str().unwrap();
    assert!(!a
        .berth
        .root
        .join("containers")
        .join(source_id)
        .join("checkpoint")
        .exists());

    // Back again: the name is taken there (the stopped source), which is
    // found before anything stops.
    let err = one_line_error(&b.run(&["migrate", &n, &a.command_line()]));
    assert!(
        err.contains(&format!("a container named {n} exists")),
        "{err}"
    );
    assert_eq!(b.inspect(&n)["State"]["Status"], "running");
    assert_eq!(b.inspect(&n)["State"]["Checkpointed"], false);
    // Nor may a volume be there that the move would fill.
    a.ok(&["rm", &n]);
    let err = one_line_error(&b.run(&["migrate", &n, &a.command_line()]));
    assert!(
        err.contains(&format!("volume {vol} exists at the destination")),
        "{err}"
    );
    assert_eq!(b.inspect(&n)["State"]["Checkpointed"], false);
    a.ok(&["volume", "rm", &vol]);
    // Under another name, removing it here: the image is there already.
    let m = name("back");
    let counted = counts(&b, &n).last().unwrap().1;
    b.ok(&["migrate", "--rm", "--name", &m, &n, &a.command_line()]);
    assert_eq!(b.ok(&["ps", "-aq"]), "");
    let back = wait_for_count(&a, &m, counted + 3);
    assert!(back[0].1 > counted, "{back:?}");
    assert!(back.iter().all(|(p, _)| *p == before[0].0), "{back:?}");
    assert_eq!(get(&a, &ip(&a, &m)), format!("hello {n}\n"));
    assert_eq!(a.inspect(&m)["Image"], image);
    assert_eq!(a.ok(&["exec", &m, "cat", "/data/f"]), "kept\n");
}

#[test]
fn a_failed_destination_leaves_the_container_running_here() {
    require_root!();
    if !have_criu() {
        return;
    }
    let a = Engine::new("berth");
    let b = Engine::new("berth");
    let n = name("stays");
    a.ok(&["run", "-d", "--name", &n, "bb:1", "sh", "-c", &service(&n)]);
    let before = wait_for_count(&a, &n, 3);
    let address = ip(&a, &n);

    // Not a berth there: found before the container stops.
    let err = one_line_error(&a.run(&["migrate", &n, "false"]));
    assert!(err.contains("does not run berth"), "{err}");
    assert_eq!(a.inspect(&n)["State"]["Checkpointed"], false);

    // A destination whose restore fails (no CRIU on its PATH): the
    // container is restored here from the same checkpoint.
    let dest = format!("env PATH=/usr/bin:/bin {}", b.command_line());
    let err = one_line_error(&a.run(&["migrate", &n, &dest]));
    assert!(err.contains("the restore at the destination"), "{err}");
    assert!(err.contains(&format!("{n} runs here again")), "{err}");
    let v = a.inspect(&n);
    assert_eq!(v["State"]["Status"], "running", "{v}");
    assert_eq!(v["State"]["Restored"], true, "{v}");
    let last = counts(&a, &n).last().unwrap().1;
    let after = wait_for_count(&a, &n, last + 3);
    assert!(after.iter().all(|(p, _)| *p == before[0].0), "{after:?}");
    assert_eq!(get(&a, &address), format!("hello {n}\n"));
    // Nothing left at the destination.
    assert_eq!(b.ok(&["ps", "-aq"]), "");
    let leftovers: Vec<_> = std::fs::read_dir(b.berth.root.join("containers"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(
        b.mounts_under_root().is_empty(),
        "{:?}",
        b.mounts_under_root()
    );
}

/// The `got N` lines of the container's stderr.
fn got(e: &Engine, n: &str) -> Vec<u64> {
    let out = e.run(&["logs", n]);
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("got ")?.parse().ok())
        .collect()
}

fn wait_for_got(e: &Engine, n: &str, at_least: u64) -> Vec<u64> {
    common::lifecycle::wait_for(&format!("{n} to get {at_least}"), || {
        let g = got(e, n);
        (g.last().is_some_and(|l| *l >= at_least)).then_some(g)
    })
}

#[test]
fn with_tcp_established_a_connection_goes_on_at_the_destination() {
    require_root!();
    if !have_criu() {
        return;
    }
    let a = Engine::new("berth");
    let b = Engine::new("berth");
    let n = name("migtcp");
    // A server and a client over loopback inside the container: both
    // ends move, so the connection can go on. The server logs what it
    // gets on stderr (its stdout is the connection).
    let script = "nc -l -p 9000 -e sh -c 'while read l; do echo got $l; done >&2' & sleep 0.3; \
                  i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done | nc 127.0.0.1 9000";
    a.ok(&["run", "-d", "--name", &n, "bb:1", "sh", "-c", script]);
    wait_for_got(&a, &n, 3);
    a.ok(&["migrate", "--tcp-established", &n, &b.command_line()]);
    let last = *got(&a, &n).last().unwrap();
    let after = wait_for_got(&b, &n, last + 5);
    // The same connection: the count goes on where it stopped, nothing
    // lost, nothing twice.
    let expected: Vec<u64> = (last + 1..=*after.last().unwrap()).collect();
    assert_eq!(after, expected);
}
